//! Typed errors of the reconciler. Refused operations are not errors of the
//! pass: they are counted, logged and retried after a fresh read.

use rk_ipvs::IpvsError;

/// What stops a reconcile pass.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// Reading the kernel's table (services, destinations, daemons or
    /// timeouts) failed; the pass did nothing and the next one reads again.
    #[error("reading the IPVS table: {0}")]
    Read(#[source] IpvsError),
    /// `lvs_flush` at start failed.
    #[error("lvs_flush at start: {0}")]
    Flush(#[source] IpvsError),
}
