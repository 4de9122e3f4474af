//! Running a host command for its output, shared by the namespace and VM test beds.

use std::process::Command;

/// A command that could not start or exited unsuccessfully.
pub(crate) struct Failed {
    /// The command line.
    pub command: String,
    /// Why: the start error, or the exit status and stderr.
    pub detail: String,
}

/// Runs `cmd`; its stdout, or what went wrong with its stderr.
pub(crate) fn stdout_of(cmd: &mut Command) -> Result<String, Failed> {
    let command = format!("{cmd:?}");
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            return Err(Failed {
                command,
                detail: e.to_string(),
            });
        }
    };
    if !out.status.success() {
        return Err(Failed {
            command,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
