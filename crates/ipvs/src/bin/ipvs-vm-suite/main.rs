//! Checks rk-ipvs against the real kernel, inside the test VM (see
//! `tests/vm.rs`, which builds this statically and boots it with
//! `rk-testkit`). Prints one `RK-CHECK ok|FAIL name` line per check,
//! `RK-FIXTURE name hex` lines with captured kernel replies, and exits 1 if
//! any check failed. It changes the IPVS table, so it refuses to run outside
//! the VM unless told to.

mod checks;
mod fixtures;
mod rules;

use std::process::{Command, ExitCode};

/// Check results.
#[derive(Debug, Default)]
pub struct Suite {
    passed: usize,
    failed: usize,
}

impl Suite {
    /// Record one check.
    pub fn check(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("RK-CHECK ok {name}");
            }
            Err(why) => {
                self.failed += 1;
                println!("RK-CHECK FAIL {name}: {}", why.replace('\n', "\n    "));
            }
        }
    }
}

/// Run a command, return stdout, or an error with its stderr.
pub fn sh(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{args:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn main() -> ExitCode {
    if std::env::var_os("RK_IN_VM").is_none() {
        eprintln!(
            "ipvs-vm-suite flushes the IPVS table; it runs in the test VM (set RK_IN_VM=1 to force)"
        );
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let mut suite = Suite::default();
    rt.block_on(checks::run_all(&mut suite));
    println!("RK-SUITE {} passed, {} failed", suite.passed, suite.failed);
    if suite.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
