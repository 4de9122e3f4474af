//! A process started in a namespace, with its output in a log file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{Netns, NetnsError, wait_until};

/// A running (or finished) process of a lab. Dropping it does not stop it: the [`super::Lab`]
/// kills what is left when it drops.
#[derive(Debug)]
pub struct Proc {
    label: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    pub(super) fn spawn(
        ns: &Netns,
        label: &str,
        argv: &[&str],
        log: &Path,
    ) -> Result<Proc, NetnsError> {
        let io = |what: String| move |source| NetnsError::Io { what, source };
        let out = fs::File::create(log).map_err(io(format!("create {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(io(format!("dup {}", log.display())))?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(io(format!("start {argv:?}")))?;
        Ok(Proc {
            label: label.to_string(),
            child,
            log: log.to_path_buf(),
        })
    }

    /// Process id (`ip netns exec` execs the program, so this is the program's pid).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The label given at spawn.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Everything the process wrote so far (stdout and stderr interleaved).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Path of the log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Number of log lines containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits until the log has at least `n` lines containing `needle`.
    pub fn wait_for_count(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        wait_until(timeout, || self.count(needle) >= n)
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_for_count(needle, 1, timeout)
    }

    /// Sends `sig`.
    pub fn signal(&self, sig: Signal) -> Result<(), NetnsError> {
        let pid = i32::try_from(self.pid()).map_err(|_| NetnsError::Io {
            what: "pid".into(),
            source: std::io::Error::other("pid out of range"),
        })?;
        kill(Pid::from_raw(pid), sig).map_err(|e| NetnsError::Io {
            what: format!("kill -{sig} {}", self.label),
            source: e.into(),
        })
    }

    /// SIGKILL, then reaps it.
    pub fn kill(&mut self) {
        let _ = self.signal(Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// Whether it still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `timeout` for it to exit; its exit code (`None` if killed by a signal),
    /// or `Err` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<Option<i32>, NetnsError> {
        let mut status = None;
        wait_until(timeout, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        match status {
            Some(s) => Ok(s.code()),
            None => Err(NetnsError::Io {
                what: format!("wait for {}", self.label),
                source: std::io::Error::new(std::io::ErrorKind::TimedOut, "still running"),
            }),
        }
    }
}
