//! The rkeepalived binary: keepalived's command line on top of the rkeepalived crates.

mod cli;
mod config_test;
mod daemon;

use std::process::ExitCode;

// jemalloc: memory stays flat over reloads without costing reload time (daemon/memory.rs).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    // keepalived's `-T`/`--genhash` must come first and takes genhash's own options.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if matches!(
        args.get(1).and_then(|a| a.to_str()),
        Some("-T" | "--genhash")
    ) {
        return genhash(args.into_iter().skip(2));
    }
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
    if let Some(Command::Genhash(g)) = &cli.command {
        return genhash(g.args.iter().map(Into::into));
    }
    if let Some(log) = &cli.config_test {
        return config_test::run(&cli, log);
    }
    daemon::run(&cli)
}

/// `rkeepalived genhash ARGS` / `rkeepalived -T ARGS`: keepalived's genhash.
fn genhash(args: impl Iterator<Item = std::ffi::OsString>) -> ExitCode {
    rk_checkers::genhash::main_with_args(std::iter::once("genhash".into()).chain(args))
}
