//! The rkeepalived binary: keepalived's command line on top of the rkeepalived crates.

mod cli;
mod config_test;
mod daemon;

use std::process::ExitCode;

use clap::Parser;

// The configuration front end allocates many small strings; mimalloc halves what
// glibc's malloc costs there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        println!(
            "rkeepalived {} (keepalived.conf compatible with keepalived 2.2.7)",
            env!("CARGO_PKG_VERSION")
        );
        return ExitCode::SUCCESS;
    }
    if let Some(name) = &cli.signum {
        return match cli::signum(name) {
            Some(n) => {
                println!("{n}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!(
                    "rkeepalived: unknown signal function '{name}' (STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON)"
                );
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Genhash(_)) = &cli.command {
        eprintln!("rkeepalived genhash: not yet supported in this build");
        return ExitCode::from(2);
    }
    if let Some(log) = &cli.config_test {
        return config_test::run(&cli, log);
    }
    if let Some(code) = daemon::run(&cli) {
        return code;
    }
    eprintln!(
        "rkeepalived: running the daemon is not yet supported in this build; \
         use -t to check a configuration"
    );
    ExitCode::from(2)
}
