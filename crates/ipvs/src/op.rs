//! Operations: what `apply` sends, one request each.

use std::fmt;

use crate::codec::{DaemonAttr, IpvsAttr, IpvsCmd, IpvsMessage};
use crate::error::OpErrorKind;
use crate::model::{Daemon, DestKey, Destination, Service, ServiceKey, SyncRole, Timeouts};

/// One change to the IPVS table. The coordinator computes a list of these
/// from a diff; [`crate::IpvsHandle::apply`] sends them in batches.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IpvsOp {
    /// Add a virtual service.
    AddService(Service),
    /// Change a virtual service in place (scheduler, flags, persistence); connections stay.
    EditService(Service),
    /// Delete a virtual service with all its destinations.
    DelService(ServiceKey),
    /// Add a destination to a service.
    AddDest {
        /// The service.
        service: ServiceKey,
        /// The destination.
        dest: Destination,
    },
    /// Change a destination in place (weight, thresholds, forwarding).
    EditDest {
        /// The service.
        service: ServiceKey,
        /// The destination's new settings.
        dest: Destination,
    },
    /// Delete a destination.
    DelDest {
        /// The service.
        service: ServiceKey,
        /// Which destination.
        dest: DestKey,
    },
    /// Set connection timeouts (0 leaves one unchanged).
    SetTimeouts(Timeouts),
    /// Start a sync daemon.
    StartDaemon(Daemon),
    /// Stop a sync daemon.
    StopDaemon(SyncRole),
    /// Zero the counters of one service, or of all.
    Zero(Option<ServiceKey>),
    /// Delete every service and destination.
    Flush,
}

impl IpvsOp {
    /// The request message.
    pub fn to_message(&self) -> IpvsMessage {
        match self {
            IpvsOp::AddService(s) => {
                IpvsMessage::new(IpvsCmd::NewService, vec![IpvsAttr::Service(s.to_attrs())])
            }
            IpvsOp::EditService(s) => {
                IpvsMessage::new(IpvsCmd::SetService, vec![IpvsAttr::Service(s.to_attrs())])
            }
            IpvsOp::DelService(k) => {
                IpvsMessage::new(IpvsCmd::DelService, vec![IpvsAttr::Service(k.to_attrs())])
            }
            IpvsOp::AddDest { service, dest } => IpvsMessage::new(
                IpvsCmd::NewDest,
                vec![
                    IpvsAttr::Service(service.to_attrs()),
                    IpvsAttr::Dest(dest.to_attrs()),
                ],
            ),
            IpvsOp::EditDest { service, dest } => IpvsMessage::new(
                IpvsCmd::SetDest,
                vec![
                    IpvsAttr::Service(service.to_attrs()),
                    IpvsAttr::Dest(dest.to_attrs()),
                ],
            ),
            IpvsOp::DelDest { service, dest } => IpvsMessage::new(
                IpvsCmd::DelDest,
                vec![
                    IpvsAttr::Service(service.to_attrs()),
                    IpvsAttr::Dest(dest.to_attrs()),
                ],
            ),
            IpvsOp::SetTimeouts(t) => IpvsMessage::new(IpvsCmd::SetConfig, t.to_attrs()),
            IpvsOp::StartDaemon(d) => {
                IpvsMessage::new(IpvsCmd::NewDaemon, vec![IpvsAttr::Daemon(d.to_attrs())])
            }
            IpvsOp::StopDaemon(role) => IpvsMessage::new(
                IpvsCmd::DelDaemon,
                vec![IpvsAttr::Daemon(vec![DaemonAttr::State(role.state())])],
            ),
            IpvsOp::Zero(Some(k)) => {
                IpvsMessage::new(IpvsCmd::Zero, vec![IpvsAttr::Service(k.to_attrs())])
            }
            IpvsOp::Zero(None) => IpvsMessage::new(IpvsCmd::Zero, vec![]),
            IpvsOp::Flush => IpvsMessage::new(IpvsCmd::Flush, vec![]),
        }
    }

    /// Turn the errno the kernel answered this operation with into a typed
    /// reason. The same errno means different things per command (`ENOENT`
    /// is a missing scheduler module on a service command and a missing
    /// destination on a destination command), so the operation decides.
    pub fn classify(&self, errno: i32, extack: Option<String>) -> OpErrorKind {
        use IpvsOp::*;
        const EPERM: i32 = 1;
        const ENOENT: i32 = 2;
        const ESRCH: i32 = 3;
        const EEXIST: i32 = 17;
        const EINVAL: i32 = 22;
        const ERANGE: i32 = 34;
        const EAFNOSUPPORT: i32 = 97;
        match (self, errno) {
            (_, EPERM) => OpErrorKind::Permission,
            (_, EEXIST) => OpErrorKind::Exists,
            (_, EINVAL) => OpErrorKind::Invalid(extack),
            (_, ERANGE) => OpErrorKind::OutOfRange,
            (_, EAFNOSUPPORT) => OpErrorKind::FamilyNotSupported,
            (AddService(s) | EditService(s), ENOENT) => match &s.pe_name {
                Some(pe) => OpErrorKind::SchedulerOrPeMissing {
                    scheduler: s.scheduler.clone(),
                    pe: pe.clone(),
                },
                None => OpErrorKind::SchedulerMissing(s.scheduler.clone()),
            },
            (AddDest { .. } | EditDest { .. } | DelDest { .. }, ENOENT) => {
                OpErrorKind::DestNotFound
            }
            (StopDaemon(_), ESRCH) => OpErrorKind::DaemonNotRunning,
            (_, ESRCH) => OpErrorKind::ServiceNotFound,
            (_, errno) => OpErrorKind::Errno(errno),
        }
    }
}

impl fmt::Display for IpvsOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpvsOp::AddService(s) => write!(f, "add service {} ({})", s.key, s.scheduler),
            IpvsOp::EditService(s) => write!(f, "edit service {} ({})", s.key, s.scheduler),
            IpvsOp::DelService(k) => write!(f, "delete service {k}"),
            IpvsOp::AddDest { service, dest } => {
                write!(f, "add destination {} to {service}", dest.key)
            }
            IpvsOp::EditDest { service, dest } => {
                write!(f, "edit destination {} of {service}", dest.key)
            }
            IpvsOp::DelDest { service, dest } => {
                write!(f, "delete destination {dest} from {service}")
            }
            IpvsOp::SetTimeouts(t) => write!(
                f,
                "set timeouts tcp {} tcpfin {} udp {}",
                t.tcp, t.tcp_fin, t.udp
            ),
            IpvsOp::StartDaemon(d) => write!(
                f,
                "start sync daemon {} on {} syncid {}",
                d.role, d.mcast_ifn, d.syncid
            ),
            IpvsOp::StopDaemon(role) => write!(f, "stop sync daemon {role}"),
            IpvsOp::Zero(Some(k)) => write!(f, "zero counters of {k}"),
            IpvsOp::Zero(None) => f.write_str("zero all counters"),
            IpvsOp::Flush => f.write_str("flush"),
        }
    }
}
