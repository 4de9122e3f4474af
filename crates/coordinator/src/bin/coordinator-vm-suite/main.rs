//! Checks rk-coordinator against the real kernel, inside the test VM (see
//! `tests/vm.rs`, which builds this statically and boots it with
//! `rk-testkit`). Prints `RK-CHECK ok|FAIL name` per check and
//! `RK-FIGURE name value` per measurement, and exits 1 if a check failed.
//! It rewrites the IPVS table and creates namespaces, so it refuses to run
//! outside the VM unless told to.

mod drain;
mod functional;
mod preempt;
mod scale;
mod util;

use std::process::ExitCode;

/// Check results.
#[derive(Debug, Default)]
pub struct Suite {
    passed: usize,
    failed: usize,
}

impl Suite {
    /// Record one check.
    pub fn check(&mut self, name: &str, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("RK-CHECK ok {name}");
                true
            }
            Err(why) => {
                self.failed += 1;
                println!("RK-CHECK FAIL {name}: {}", why.replace('\n', "\n    "));
                false
            }
        }
    }

    /// Record a measurement.
    pub fn figure(&self, name: &str, value: impl std::fmt::Display) {
        println!("RK-FIGURE {name} {value}");
    }
}

fn main() -> ExitCode {
    if std::env::var_os("RK_IN_VM").is_none() {
        eprintln!(
            "coordinator-vm-suite rewrites the IPVS table; it runs in the test VM (set RK_IN_VM=1 to force)"
        );
        return ExitCode::from(2);
    }
    // The reconciler's own log lines (drift repairs, refusals) on the console.
    tracing_subscriber::fmt()
        .with_env_filter(std::env::var("RK_LOG").unwrap_or_else(|_| "rk_coordinator=info".into()))
        .with_target(false)
        .without_time()
        .init();
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
    rt.block_on(async {
        functional::run(&mut suite).await;
        drain::run(&mut suite).await;
        preempt::run(&mut suite).await;
        scale::run(&mut suite).await;
    });
    println!("RK-SUITE {} passed, {} failed", suite.passed, suite.failed);
    if suite.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
