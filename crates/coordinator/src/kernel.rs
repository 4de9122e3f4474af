//! What the reconciler needs of the kernel's IPVS, as a trait: [`IpvsHandle`] in
//! production; tests put a fake behind it (a dump that takes seconds, as 36,800
//! destinations do in an emulated VM, without a kernel with IPVS on the build hosts).

use std::future::Future;

use rk_ipvs::{
    Daemon, DestinationEntry, DumpedService, IpvsError, IpvsHandle, IpvsOp, ServiceKey, Timeouts,
};

/// The kernel's IPVS table as the [`Reconciler`](crate::Reconciler) uses it. The
/// methods are those of [`IpvsHandle`], which see. The reconciler drops a read under way
/// (a stop, or a reload that goes first): an implementation must then still answer the
/// next call correctly.
pub trait IpvsKernel: Send {
    /// Apply operations in order; one result per operation.
    fn apply(&mut self, ops: &[IpvsOp]) -> impl Future<Output = Vec<Result<(), IpvsError>>> + Send;

    /// Every service with its destinations.
    fn dump(&mut self) -> impl Future<Output = Result<Vec<DumpedService>, IpvsError>> + Send;

    /// The destinations of one service (the drain polls).
    fn destinations(
        &mut self,
        key: &ServiceKey,
    ) -> impl Future<Output = Result<Vec<DestinationEntry>, IpvsError>> + Send;

    /// Running sync daemons.
    fn daemons(&mut self) -> impl Future<Output = Result<Vec<Daemon>, IpvsError>> + Send;

    /// Connection timeouts.
    fn timeouts(&mut self) -> impl Future<Output = Result<Timeouts, IpvsError>> + Send;
}

impl IpvsKernel for IpvsHandle {
    fn apply(&mut self, ops: &[IpvsOp]) -> impl Future<Output = Vec<Result<(), IpvsError>>> + Send {
        IpvsHandle::apply(self, ops)
    }

    fn dump(&mut self) -> impl Future<Output = Result<Vec<DumpedService>, IpvsError>> + Send {
        IpvsHandle::dump(self)
    }

    fn destinations(
        &mut self,
        key: &ServiceKey,
    ) -> impl Future<Output = Result<Vec<DestinationEntry>, IpvsError>> + Send {
        IpvsHandle::destinations(self, key)
    }

    fn daemons(&mut self) -> impl Future<Output = Result<Vec<Daemon>, IpvsError>> + Send {
        IpvsHandle::daemons(self)
    }

    fn timeouts(&mut self) -> impl Future<Output = Result<Timeouts, IpvsError>> + Send {
        IpvsHandle::timeouts(self)
    }
}
