//! Errors of the netlink layer.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Why a netlink or sysctl operation failed.
#[derive(Debug, Error)]
pub enum Error {
    /// The netlink socket could not be opened or configured.
    #[error("cannot open a netlink socket: {0}")]
    Socket(#[source] io::Error),
    /// The kernel refused a request (an `NLMSG_ERROR` with an errno).
    #[error("{op}: {source}")]
    Kernel {
        /// What we asked, e.g. `add address 10.0.0.1/24 on eth0 (index 2)`.
        op: String,
        /// The errno the kernel answered.
        #[source]
        source: io::Error,
    },
    /// The connection task stopped before answering (the runtime is shutting down).
    #[error("{op}: the netlink connection closed")]
    ConnectionClosed {
        /// What we asked.
        op: String,
    },
    /// The kernel answered something we cannot read.
    #[error("{op}: unexpected reply: {detail}")]
    UnexpectedReply {
        /// What we asked.
        op: String,
        /// What came back.
        detail: String,
    },
    /// No interface has this name.
    #[error("no interface named {0}")]
    NoSuchLink(String),
    /// A `/proc/sys` file could not be read or written.
    #[error("sysctl {path}: {source}")]
    Sysctl {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// An interface with the VMAC's name exists but is not a macvlan of the expected
    /// parent with the expected MAC, so we neither reuse nor delete it.
    #[error("interface {name} exists and is not our VMAC: {detail}")]
    VmacConflict {
        /// The interface name.
        name: String,
        /// What differs.
        detail: String,
    },
}

impl Error {
    /// The kernel's errno for [`Error::Kernel`].
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    pub(crate) fn from_rtnetlink(op: impl Into<String>, e: rtnetlink::Error) -> Self {
        let op = op.into();
        match e {
            rtnetlink::Error::NetlinkError(m) => match m.code {
                Some(code) => Error::Kernel {
                    op,
                    source: io::Error::from_raw_os_error(-code.get()),
                },
                None => Error::UnexpectedReply {
                    op,
                    detail: "an acknowledgement where data was expected".into(),
                },
            },
            rtnetlink::Error::RequestFailed => Error::ConnectionClosed { op },
            other => Error::UnexpectedReply {
                op,
                detail: other.to_string(),
            },
        }
    }
}

/// Result of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
