//! Running one script the way every script of the daemon runs (tracking scripts, notify
//! scripts, FIFO readers, start-up and shut-down scripts):
//!
//! * **no shell**: the program is executed with its arguments as written; only a file the
//!   kernel refuses to execute (`ENOEXEC`: no `#!` line) goes through `/bin/sh FILE ARGS`,
//!   as `execvp(3)` and keepalived do;
//! * **checked first, every time** ([`crate::security`]): with `enable_script_security`, a
//!   script that runs as root but that a non-root user could modify is refused, at
//!   execution time rather than only at start-up;
//! * in a **process group of its own**, so a timeout kills the script and everything it
//!   started ([`kill_group`]); stdin, stdout and stderr on `/dev/null`; `IFS`,
//!   `LD_PRELOAD`, `LD_LIBRARY_PATH` removed from the environment;
//! * as the user (and group) resolved by [`crate::users`]; supplementary groups are
//!   dropped;
//! * **always reaped**: no zombies. [`run`] waits for the child however it ends.

use std::io;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use thiserror::Error;
use tokio::process::{Child, Command};

use crate::security::{Refusal, Security};
use crate::users::RunAs;

/// A script to run: program, arguments, user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Who it runs as; `None`: as the daemon.
    pub run_as: Option<RunAs>,
}

impl Script {
    /// The command line, for logs.
    pub fn display(&self) -> String {
        self.argv.join(" ")
    }
}

/// Why a script did not run.
#[derive(Debug, Error)]
pub enum ExecError {
    /// The command line is empty.
    #[error("empty command")]
    Empty,
    /// The security check refused it.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The program could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// `argv[0]`.
        program: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Waiting for it failed (should not happen: the child is ours).
    #[error("waiting for {program}: {source}")]
    Wait {
        /// `argv[0]`.
        program: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// How a script ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal (not by us).
    Signalled(i32),
    /// Still running at its timeout: its process group was killed.
    TimedOut,
}

impl Outcome {
    /// Exit status 0.
    pub fn success(self) -> bool {
        self == Outcome::Exited(0)
    }

    fn of(status: ExitStatus) -> Outcome {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(c), _) => Outcome::Exited(c),
            (None, Some(s)) => Outcome::Signalled(s),
            (None, None) => Outcome::Exited(-1),
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Exited(0) => f.write_str("succeeded"),
            Outcome::Exited(c) => write!(f, "exited with status {c}"),
            Outcome::Signalled(s) => write!(f, "killed by signal {s}"),
            Outcome::TimedOut => f.write_str("timed out"),
        }
    }
}

fn command(script: &Script, shell: bool) -> Command {
    let mut cmd = if shell {
        let mut c = Command::new("/bin/sh");
        c.args(&script.argv);
        c
    } else {
        let mut c = Command::new(&script.argv[0]);
        c.args(&script.argv[1..]);
        c
    };
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env_remove("IFS")
        .env_remove("LD_PRELOAD")
        .env_remove("LD_LIBRARY_PATH")
        // A dropped handle must not leave a running child behind unreaped: we always wait,
        // but if the task is cancelled tokio's orphan reaper takes it.
        .kill_on_drop(false);
    if let Some((uid, gid)) = script.run_as {
        // std drops the supplementary groups when root sets a uid.
        cmd.uid(uid).gid(gid);
    }
    cmd
}

/// Checks `script` against `security` and starts it. The caller must wait for the child
/// (or use [`run`]).
pub fn spawn(script: &Script, security: &Security) -> Result<Child, ExecError> {
    let Some(program) = script.argv.first() else {
        return Err(ExecError::Empty);
    };
    security.check(program, script.run_as)?;
    let spawn_err = |source| ExecError::Spawn {
        program: program.clone(),
        source,
    };
    match command(script, false).spawn() {
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOEXEC) => {
            command(script, true).spawn().map_err(spawn_err)
        }
        other => other.map_err(spawn_err),
    }
}

/// Runs `script` to its end or to `timeout`: then its process group gets SIGTERM and,
/// `grace` later, SIGKILL. Returns once the script is reaped.
pub async fn run(
    script: &Script,
    security: &Security,
    timeout: Duration,
    grace: Duration,
) -> Result<Outcome, ExecError> {
    let done = run_or_cancel(script, security, timeout, grace, std::future::pending()).await?;
    // `pending` never completes: the script always ran to an outcome.
    Ok(done.unwrap_or(Outcome::TimedOut))
}

/// [`run`], unless `cancel` completes first: then the script's process group is killed as
/// at a timeout and `None` is returned once it is reaped (daemon stop).
pub async fn run_or_cancel(
    script: &Script,
    security: &Security,
    timeout: Duration,
    grace: Duration,
    cancel: impl std::future::Future<Output = ()>,
) -> Result<Option<Outcome>, ExecError> {
    let mut child = spawn(script, security)?;
    let wait_err = |source| ExecError::Wait {
        program: script.argv[0].clone(),
        source,
    };
    tokio::select! {
        r = tokio::time::timeout(timeout, child.wait()) => match r {
            Ok(status) => status.map(|s| Some(Outcome::of(s))).map_err(wait_err),
            Err(_) => {
                kill_group(&mut child, grace).await.map_err(wait_err)?;
                Ok(Some(Outcome::TimedOut))
            }
        },
        () = cancel => {
            kill_group(&mut child, grace).await.map_err(wait_err)?;
            Ok(None)
        }
    }
}

/// SIGTERM to the child's process group, SIGKILL to the group after `grace` (also when
/// the leader has exited, for members that ignored SIGTERM); returns the leader's status
/// once reaped.
pub async fn kill_group(child: &mut Child, grace: Duration) -> io::Result<ExitStatus> {
    let group = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .map(Pid::from_raw);
    let Some(group) = group else {
        // Already reaped.
        return child.wait().await;
    };
    let _ = killpg(group, Signal::SIGTERM);
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(s) => {
            // Members that survived SIGTERM. The group id stays reserved while any member
            // lives, so this cannot hit a stranger; ESRCH when none is left.
            let _ = killpg(group, Signal::SIGKILL);
            s
        }
        Err(_) => {
            let _ = killpg(group, Signal::SIGKILL);
            child.wait().await
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::time::Instant;

    use super::*;

    fn script(argv: &[&str]) -> Script {
        Script {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            run_as: None,
        }
    }

    fn open() -> Security {
        Security::new(false)
    }

    #[tokio::test]
    async fn exit_statuses() {
        let s = open();
        let t = Duration::from_secs(5);
        let g = Duration::from_millis(100);
        assert_eq!(
            run(&script(&["/bin/true"]), &s, t, g).await.unwrap(),
            Outcome::Exited(0)
        );
        assert_eq!(
            run(&script(&["/bin/sh", "-c", "exit 3"]), &s, t, g)
                .await
                .unwrap(),
            Outcome::Exited(3)
        );
        assert_eq!(
            run(&script(&["/bin/sh", "-c", "kill -USR1 $$"]), &s, t, g)
                .await
                .unwrap(),
            Outcome::Signalled(10)
        );
        assert!(matches!(
            run(&script(&["/nonexistent/x"]), &s, t, g).await,
            Err(ExecError::Spawn { .. })
        ));
        assert!(matches!(
            run(&script(&[]), &s, t, g).await,
            Err(ExecError::Empty)
        ));
    }

    /// No shell: `$HOME` and `;` reach the program as written.
    #[tokio::test]
    async fn arguments_are_not_shell_words() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let printer = dir.path().join("p.sh");
        std::fs::write(
            &printer,
            format!("#!/bin/sh\nprintf '%s|' \"$@\" > {}\n", out.display()),
        )
        .unwrap();
        std::fs::set_permissions(&printer, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = printer.to_str().unwrap();
        let r = run(
            &script(&[p, "$HOME", "a;b", "c d"]),
            &open(),
            Duration::from_secs(5),
            Duration::from_millis(100),
        )
        .await
        .unwrap();
        assert!(r.success());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "$HOME|a;b|c d|");
    }

    /// A file without `#!` runs through /bin/sh, as execvp(3) does.
    #[tokio::test]
    async fn no_shebang_goes_through_sh() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let f = dir.path().join("plain");
        std::fs::write(&f, format!("echo \"$1\" > {}\n", out.display())).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        let r = run(
            &script(&[f.to_str().unwrap(), "hello"]),
            &open(),
            Duration::from_secs(5),
            Duration::from_millis(100),
        )
        .await
        .unwrap();
        assert!(r.success());
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
    }

    /// A hanging script is killed at its timeout with everything it started, even a child
    /// that ignores SIGTERM; nothing is left running or unreaped.
    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("pid");
        let line = format!(
            "trap '' TERM; sleep 30 & echo $! > {}; wait",
            mark.display()
        );
        let t0 = Instant::now();
        let r = run(
            &script(&["/bin/sh", "-c", &line]),
            &open(),
            Duration::from_millis(300),
            Duration::from_millis(200),
        )
        .await
        .unwrap();
        assert_eq!(r, Outcome::TimedOut);
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        let pid: i32 = std::fs::read_to_string(&mark)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            nix::sys::signal::kill(Pid::from_raw(pid), None).is_err()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z "))
        });
        assert!(gone, "sleep {pid} survived");
    }
}
