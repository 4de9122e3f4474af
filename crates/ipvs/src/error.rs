//! Typed errors. Operation errors name the operation that caused them.

use std::io;

/// A reply that does not make a valid object (outside input, so never a panic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A required attribute is absent.
    #[error("missing attribute {0}")]
    Missing(&'static str),
    /// An address family other than IPv4/IPv6.
    #[error("unknown address family {0}")]
    UnknownFamily(u16),
    /// A forwarding method number this crate does not know.
    #[error("unknown forwarding method {0}")]
    UnknownForward(u32),
    /// A sync daemon state other than master/backup.
    #[error("unknown sync daemon state {0}")]
    UnknownDaemonState(u32),
}

/// Why the kernel refused one operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpErrorKind {
    /// The service, destination or daemon already exists (`EEXIST`).
    #[error("already exists")]
    Exists,
    /// The service the operation addresses does not exist (`ESRCH`).
    #[error("no such service")]
    ServiceNotFound,
    /// The destination does not exist (`ENOENT` on a destination command).
    #[error("no such destination")]
    DestNotFound,
    /// The scheduler's module `ip_vs_<name>` is not available (`ENOENT` on a service command).
    #[error("scheduler module ip_vs_{0} not available")]
    SchedulerMissing(String),
    /// The persistence engine's module `ip_vs_pe_<name>` is not available.
    #[error("scheduler ip_vs_{scheduler} or persistence engine ip_vs_pe_{pe} not available")]
    SchedulerOrPeMissing {
        /// Requested scheduler.
        scheduler: String,
        /// Requested persistence engine.
        pe: String,
    },
    /// The sync daemon to stop is not running (`ESRCH` on `DEL_DAEMON`).
    #[error("sync daemon not running")]
    DaemonNotRunning,
    /// Not allowed: needs `CAP_NET_ADMIN` (`EPERM`).
    #[error("permission denied (needs CAP_NET_ADMIN)")]
    Permission,
    /// The kernel rejected the arguments (`EINVAL`), with its extended-ack text if any.
    #[error("invalid argument{}", .0.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Invalid(Option<String>),
    /// A value outside what the kernel accepts, e.g. a weight above `i32::MAX` (`ERANGE`).
    #[error("value out of range")]
    OutOfRange,
    /// Address family not supported (`EAFNOSUPPORT`).
    #[error("address family not supported")]
    FamilyNotSupported,
    /// Any other errno.
    #[error("{}", io::Error::from_raw_os_error(*.0))]
    Errno(i32),
}

/// Errors of the IPVS handle.
#[derive(Debug, thiserror::Error)]
pub enum IpvsError {
    /// The kernel has no `IPVS` generic-netlink family.
    #[error("IPVS not available: load ip_vs (generic netlink family \"IPVS\" not found)")]
    NotAvailable,
    /// The kernel refused an operation.
    #[error("{op}: {kind}")]
    Op {
        /// The operation, e.g. `add service TCP 10.0.0.1:80`.
        op: String,
        /// Why.
        kind: OpErrorKind,
    },
    /// The socket failed while performing `op`.
    #[error("{op}: netlink socket: {source}")]
    Io {
        /// What was being done.
        op: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The outcome of `op` is unknown: its reply was lost (receive buffer
    /// overrun) or never came. Re-dump to learn the kernel's state.
    #[error("{op}: outcome unknown: {reason}")]
    Unknown {
        /// The operation.
        op: String,
        /// Why it is unknown.
        reason: String,
    },
    /// A reply could not be decoded.
    #[error("{op}: malformed reply: {reason}")]
    Decode {
        /// The request whose reply was malformed.
        op: String,
        /// Decoder message.
        reason: String,
    },
}

impl IpvsError {
    /// The kernel's refusal, if this is one.
    pub fn kind(&self) -> Option<&OpErrorKind> {
        match self {
            IpvsError::Op { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// Whether the kernel already is in the state the operation asked for:
    /// an add that found the object there, a delete that found it gone.
    /// keepalived counts those as success (`ipvswrapper.c` `ipvs_talk`).
    pub fn is_already_done(&self, op: &crate::IpvsOp) -> bool {
        use crate::IpvsOp::*;
        matches!(
            (op, self.kind()),
            (
                AddService(_) | AddDest { .. } | StartDaemon(_),
                Some(OpErrorKind::Exists)
            ) | (DelService(_), Some(OpErrorKind::ServiceNotFound))
                | (DelDest { .. }, Some(OpErrorKind::DestNotFound))
                | (StopDaemon(_), Some(OpErrorKind::DaemonNotRunning))
        )
    }
}
