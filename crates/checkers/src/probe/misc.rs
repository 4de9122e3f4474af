//! `MISC_CHECK` (`check_misc.c`, `notify.c` `system_call_script`): run a script, judge its
//! exit status.
//!
//! - The script runs through rk-track's executor ([`rk_track::exec`]), as every script of
//!   the daemon does: without a shell, in its own process group, with stdin/stdout/stderr
//!   on /dev/null and `IFS`, `LD_PRELOAD`, `LD_LIBRARY_PATH` removed, as keepalived does. A
//!   shell is used only where keepalived uses one: a "script" that is a redirection test
//!   (`</dev/tcp/…`, run as `/bin/sh -c`), or a file the kernel will not execute (ENOEXEC:
//!   a script without `#!`).
//! - **Script security** ([`rk_track::security`]): with `enable_script_security`
//!   ([`MiscSpec::security`]), a script that would run as root while a non-root user could
//!   modify it (the file or any directory on its path) is refused, checked before **every**
//!   run, so a permission changed later is caught at the next run. A refused run is a
//!   failed check ([`ProbeError::Refused`], naming the path and why) and is logged at error
//!   level each time the refusal changes. (keepalived drops such a checker at start-up, so
//!   its real server stays up unchecked; here it counts as down, as a refused `vrrp_script`
//!   does.) Without `enable_script_security` the finding is logged once as a warning.
//! - Exit 0 is up; otherwise down — except with `misc_dynamic`, where exit 1 is down and
//!   2..=255 is up with the real server's weight set to `exit − 2`.
//! - At `misc_timeout` the whole process group gets SIGTERM, then SIGKILL 2 s later if it is
//!   still there, and the run counts as a failure ([`rk_track::exec::kill_group`]). The
//!   child is always waited for: no zombies.

use std::process::ExitStatus;
use std::sync::Mutex;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use rk_track::exec::{self, ExecError, Script};
use rk_track::security::{Refusal, Security};

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
    /// `user`: uid and gid to run as (`None`: as the daemon).
    pub user: Option<(u32, u32)>,
    /// `enable_script_security`: refuse the script when it would run as root and a non-root
    /// user could modify it (checked before every run).
    pub security: bool,
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
    /// What runs: the command, or `/bin/sh -c LINE` for a leading `<`/`>` "script" (as
    /// keepalived runs it).
    script: Script,
    security: Security,
    /// The last refusal logged, so a refusal that persists is logged once, and the end
    /// of it too.
    refused: Mutex<Option<String>>,
}

impl PreparedMisc {
    pub(crate) fn new(spec: &MiscSpec) -> Result<Self, SpecError> {
        let Some(first) = spec.argv.first() else {
            return Err(SpecError::Command("empty command".into()));
        };
        let argv = if first.starts_with('<') || first.starts_with('>') {
            vec!["/bin/sh".into(), "-c".into(), shell_line(&spec.argv)]
        } else {
            spec.argv.clone()
        };
        Ok(PreparedMisc {
            spec: spec.clone(),
            script: Script {
                argv,
                run_as: spec.user,
            },
            security: Security::new(spec.security),
            refused: Mutex::new(None),
        })
    }

    pub(crate) async fn probe(&self) -> Result<ProbeSuccess, ProbeError> {
        let mut child = match exec::spawn(&self.script, &self.security) {
            Ok(c) => {
                self.note_refusal(None);
                c
            }
            Err(ExecError::Refused(r @ (Refusal::Insecure { .. } | Refusal::WrongType { .. }))) => {
                let why = r.to_string();
                self.note_refusal(Some(&why));
                return Err(ProbeError::Refused(why));
            }
            Err(e) => return Err(ProbeError::Spawn(e.to_string())),
        };
        let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) else {
            return Err(ProbeError::Spawn(
                "child exited before it could be tracked".into(),
            ));
        };
        // The child leads its own group: its pid is the group id.
        let mut guard = GroupGuard(Some(Pid::from_raw(pid)));
        let result = match tokio::time::timeout(self.spec.timeout, child.wait()).await {
            Ok(Ok(status)) => self.judge(status),
            Ok(Err(e)) => Err(ProbeError::Spawn(format!("wait: {e}"))),
            Err(_) => match exec::kill_group(&mut child, TERM_GRACE).await {
                Ok(_) => Err(ProbeError::ScriptTimeout(self.spec.timeout)),
                Err(e) => Err(ProbeError::Spawn(format!("wait: {e}"))),
            },
        };
        guard.0 = None;
        result
    }

    /// Logs a refusal when it starts or changes, and its end.
    fn note_refusal(&self, why: Option<&str>) {
        let mut last = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_deref() == why {
            return;
        }
        match why {
            Some(w) => {
                tracing::error!("MISC_CHECK {}: {w}; the check fails", self.script.display())
            }
            None => tracing::info!(
                "MISC_CHECK {}: no longer refused by enable_script_security",
                self.script.display()
            ),
        }
        *last = why.map(str::to_string);
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
