//! `MISC_CHECK` (`check_misc.c`, `notify.c` `system_call_script`): run a script, judge its
//! exit status.
//!
//! - The command is executed directly, without a shell, in its own process group, with
//!   stdin/stdout/stderr on /dev/null and `IFS`, `LD_PRELOAD`, `LD_LIBRARY_PATH` removed, as
//!   keepalived does. A shell (`/bin/sh -c`) is used only where keepalived uses one: a
//!   "script" that is a redirection test (`</dev/tcp/…`), or a file the kernel will not
//!   execute (ENOEXEC: a script without `#!`).
//! - Exit 0 is up; otherwise down — except with `misc_dynamic`, where exit 1 is down and
//!   2..=255 is up with the real server's weight set to `exit − 2`.
//! - At `misc_timeout` the whole process group gets SIGTERM, then SIGKILL 2 s later if it is
//!   still there, and the run counts as a failure. A script that dies of our SIGTERM gets its
//!   group SIGKILLed too, so no child survives. The child is always waited for: no zombies.

use std::io;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::{DynamicWeight, ProbeError, ProbeSuccess, SpecError};

/// Grace between SIGTERM and SIGKILL (keepalived's 2 s).
pub const TERM_GRACE: Duration = Duration::from_secs(2);

/// A `MISC_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MiscSpec {
    /// The command and its arguments (see [`split_command`] for `misc_path` text).
    pub argv: Vec<String>,
    /// `misc_timeout` (keepalived's default is the virtual server's `delay_loop`).
    pub timeout: Duration,
    /// `misc_dynamic`.
    pub dynamic: bool,
    /// `user`: uid and gid to run as.
    pub user: Option<(u32, u32)>,
}

/// Splits `misc_path` text into arguments like a shell would word-split it: blanks separate,
/// single quotes are literal, double quotes allow `\"` and `\\`, a backslash outside quotes
/// escapes the next character. No expansion of any kind happens.
pub fn split_command(s: &str) -> Result<Vec<String>, SpecError> {
    let mut args = vec![];
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    args.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => {
                            return Err(SpecError::Command(format!("unterminated quote in {s:?}")));
                        }
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => {
                                return Err(SpecError::Command(format!(
                                    "unterminated quote in {s:?}"
                                )));
                            }
                        },
                        Some(c) => cur.push(c),
                        None => {
                            return Err(SpecError::Command(format!("unterminated quote in {s:?}")));
                        }
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        args.push(cur);
    }
    if args.is_empty() {
        return Err(SpecError::Command("empty command".into()));
    }
    Ok(args)
}

/// keepalived's `cmd_str`: arguments single-quoted for `/bin/sh -c`, except a leading
/// redirection.
fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 && (a.starts_with('<') || a.starts_with('>')) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A MISC spec ready to spawn.
#[derive(Debug)]
pub struct PreparedMisc {
    spec: MiscSpec,
    /// keepalived runs a leading `<`/`>` "script" through the shell.
    via_shell: bool,
}

impl PreparedMisc {
    pub(crate) fn new(spec: &MiscSpec) -> Result<Self, SpecError> {
        let Some(first) = spec.argv.first() else {
            return Err(SpecError::Command("empty command".into()));
        };
        let via_shell = first.starts_with('<') || first.starts_with('>');
        Ok(PreparedMisc {
            spec: spec.clone(),
            via_shell,
        })
    }

    fn command(&self, shell: bool) -> Command {
        let mut cmd = if shell {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(shell_line(&self.spec.argv));
            c
        } else {
            let mut c = Command::new(&self.spec.argv[0]);
            c.args(&self.spec.argv[1..]);
            c
        };
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .env_remove("IFS")
            .env_remove("LD_PRELOAD")
            .env_remove("LD_LIBRARY_PATH");
        if let Some((uid, gid)) = self.spec.user {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn spawn(&self) -> io::Result<Child> {
        match self.command(self.via_shell).spawn() {
            Err(e) if !self.via_shell && e.raw_os_error() == Some(libc::ENOEXEC) => {
                self.command(true).spawn()
            }
            other => other,
        }
    }

    pub(crate) async fn probe(&self) -> Result<ProbeSuccess, ProbeError> {
        let mut child = self.spawn().map_err(|e| ProbeError::Spawn(e.to_string()))?;
        let Some(pid) = child.id() else {
            return Err(ProbeError::Spawn(
                "child exited before it could be tracked".into(),
            ));
        };
        // The child leads its own group: its pid is the group id.
        let group = Pid::from_raw(pid as i32);
        let mut guard = GroupGuard(Some(group));
        let result = match tokio::time::timeout(self.spec.timeout, child.wait()).await {
            Ok(Ok(status)) => self.judge(status),
            Ok(Err(e)) => Err(ProbeError::Spawn(format!("wait: {e}"))),
            Err(_) => {
                terminate(&mut child, group).await;
                Err(ProbeError::ScriptTimeout(self.spec.timeout))
            }
        };
        guard.0 = None;
        result
    }

    fn judge(&self, status: ExitStatus) -> Result<ProbeSuccess, ProbeError> {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(0), _) => Ok(ProbeSuccess {
                weight: self.spec.dynamic.then_some(DynamicWeight::Configured),
            }),
            (Some(c @ 2..=255), _) if self.spec.dynamic => Ok(ProbeSuccess {
                weight: Some(DynamicWeight::Absolute(c as u32 - 2)),
            }),
            (Some(c), _) => Err(ProbeError::ExitStatus(c)),
            (None, Some(sig)) => Err(ProbeError::Signal(sig)),
            (None, None) => Err(ProbeError::Spawn("unknown exit status".into())),
        }
    }
}

/// Kills the script's group if the run is abandoned (the runner aborted it): tokio reaps
/// the dropped child in the background, so no zombie is left either.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(g) = self.0 {
            let _ = killpg(g, Signal::SIGKILL);
        }
    }
}

/// SIGTERM the group, SIGKILL it after [`TERM_GRACE`], and reap the child.
async fn terminate(child: &mut Child, group: Pid) {
    let _ = killpg(group, Signal::SIGTERM);
    if tokio::time::timeout(TERM_GRACE, child.wait())
        .await
        .is_err()
    {
        let _ = killpg(group, Signal::SIGKILL);
        // SIGKILL cannot be ignored; keep trying in case the child was stopped oddly.
        while tokio::time::timeout(TERM_GRACE, child.wait())
            .await
            .is_err()
        {
            let _ = killpg(group, Signal::SIGKILL);
        }
    } else {
        // The leader died of SIGTERM; make sure nothing it started lives on.
        let _ = killpg(group, Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_like_a_shell_without_expansion() {
        assert_eq!(
            split_command("/bin/check a b").unwrap(),
            vec!["/bin/check", "a", "b"]
        );
        assert_eq!(
            split_command(r#"/x 'a b' "c \"d\"" e\ f"#).unwrap(),
            vec!["/x", "a b", "c \"d\"", "e f"]
        );
        assert_eq!(
            split_command("/x $HOME *").unwrap(),
            vec!["/x", "$HOME", "*"]
        );
        assert!(split_command("/x 'open").is_err());
        assert!(split_command("   ").is_err());
    }

    #[test]
    fn shell_line_quotes_like_cmd_str() {
        let argv = vec!["</dev/tcp/127.0.0.1/80".to_string()];
        assert_eq!(shell_line(&argv), "</dev/tcp/127.0.0.1/80");
        let argv = vec!["/a b".to_string(), "it's".to_string()];
        assert_eq!(shell_line(&argv), r"'/a b' 'it'\''s'");
    }
}
