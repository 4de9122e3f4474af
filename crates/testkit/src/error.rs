//! Errors of the test bed.

use std::path::PathBuf;

/// Why a VM could not be prepared or run.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A host command failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and stderr.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The kernel package or a module is not where it should be.
    #[error("kernel: {0}")]
    Kernel(String),
    /// The VM ran longer than allowed and was killed.
    #[error("VM timed out after {seconds} s; serial output so far:\n{serial}")]
    Timeout {
        /// The limit.
        seconds: u64,
        /// What the console printed.
        serial: String,
    },
    /// The VM stopped without printing the exit marker (kernel panic, init died).
    #[error("VM stopped without an exit marker; serial output:\n{serial}")]
    NoExitMarker {
        /// What the console printed.
        serial: String,
    },
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> VmError {
    let path = path.into();
    move |source| VmError::Io { path, source }
}
