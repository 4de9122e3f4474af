//! Errors of the driver.

use std::io;

use thiserror::Error;

/// Why the VRRP side could not start or stopped.
#[derive(Debug, Error)]
pub enum Error {
    /// A netlink operation failed where nothing can go on without it.
    #[error("netlink: {0}")]
    Netlink(#[from] rk_netlink::Error),
    /// A socket or thread could not be set up.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The state machine refused an instance's configuration.
    #[error("vrrp_instance {instance}: {source}")]
    Instance {
        /// The instance.
        instance: String,
        /// Why.
        #[source]
        source: rk_vrrp_proto::ConfigError,
    },
    /// The VRRP thread is gone (it stopped, or panicked: see the log).
    #[error("the VRRP thread is not running")]
    Stopped,
}

pub(crate) fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}
