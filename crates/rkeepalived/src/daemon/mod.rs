//! The daemon: `rkeepalived [-P|-C] -n -l -f CONF`, VRRP and the health checkers with
//! IPVS in one process.
//!
//! Which sides run is keepalived's rule ([`Sides`]): by default whatever the configuration
//! has (VRRP for `vrrp_instance` and static addresses, checkers and IPVS for
//! `virtual_server`), `-P` only VRRP, `-C` only the checkers and IPVS, `--all` both.
//!
//! The main thread loads the configuration, detaches, writes the pid files
//! (`/run/keepalived.pid`, plus `/run/vrrp.pid` and `/run/checkers.pid` for the sides that
//! run; `-p`, `-r`, `-c` move them) and runs [`serve::serve`]: the VRRP thread of its own,
//! and a tokio runtime for the checkers, the coordinator, notify scripts and signals.
//! SIGTERM/SIGINT stop cleanly (priority-0 adverts, VIPs removed, our IPVS rules removed
//! unless `-I` or `lvs_keep_rules_on_stop`), SIGUSR1 writes the state dumps, SIGUSR2 the
//! statistics, SIGRTMIN+2 the VRRP JSON, SIGHUP reloads the configuration as a
//! transaction ([`reload`]).
//!
//! What is ours across a restart: VIPs carry the `IFA_PROTO` 18 marker (`rk-vrrp`); IPVS
//! objects are listed in the ownership record, a file next to the main pid file with the
//! extension `.ipvs` (`/run/keepalived.ipvs` by default; `rk-coordinator`'s `record.rs`).

mod check_dump;
mod checks;
mod dump;
mod fifo;
mod health;
mod limits;
mod logging;
mod lvs;
mod memory;
mod notices;
mod notify;
mod outlets;
mod ownership;
mod pidfile;
mod realservers;
mod reload;
mod serve;
mod suspend;
mod track;
mod users;
mod vrrp_notify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use rk_config::{Config, load_file};

use crate::cli::Cli;
use crate::config_test::{EXIT_CONFIG_REFUSED, load_options};

/// keepalived's exit status for an initialisation failure.
const EXIT_INIT_FAILED: u8 = 2;
/// Default pid file of the main process (keepalived's).
const DEFAULT_PID: &str = "/run/keepalived.pid";
/// Default pid file of the VRRP process (keepalived's).
const DEFAULT_VRRP_PID: &str = "/run/vrrp.pid";
/// Default pid file of the checker process (keepalived's).
const DEFAULT_CHECKERS_PID: &str = "/run/checkers.pid";

/// Which sides of keepalived this process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sides {
    /// VRRP (keepalived's VRRP child).
    pub vrrp: bool,
    /// Health checkers and IPVS (keepalived's checker child).
    pub checkers: bool,
}

/// The command-line flags that choose the sides, kept for reloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SideFlags {
    /// `-P`.
    pub vrrp: bool,
    /// `-C`.
    pub check: bool,
    /// `--all`.
    pub all: bool,
}

impl Sides {
    /// keepalived's choice: `-P` and `-C` pick sides; without either, a side runs when
    /// the configuration has something for it, or with `--all`.
    pub fn choose(cli: &Cli, cfg: &Config) -> Sides {
        side_flags(cli).choose(cfg)
    }

    /// The syslog ident, as keepalived's processes name themselves.
    fn ident(self) -> &'static str {
        match (self.vrrp, self.checkers) {
            (true, false) => "Keepalived_vrrp",
            (false, true) => "Keepalived_healthcheckers",
            _ => "Keepalived",
        }
    }

    fn describe(self) -> &'static str {
        match (self.vrrp, self.checkers) {
            (true, true) => "VRRP, health checkers and IPVS",
            (true, false) => "VRRP",
            (false, true) => "health checkers and IPVS",
            (false, false) => "nothing configured",
        }
    }
}

fn side_flags(cli: &Cli) -> SideFlags {
    SideFlags {
        vrrp: cli.vrrp,
        check: cli.check,
        all: cli.all,
    }
}

/// Runs the daemon until it is stopped.
pub fn run(cli: &Cli) -> ExitCode {
    // A small long-running daemon gains nothing from 2 MB pages: with the allocator asking
    // for them, they made up two thirds of our resident memory (BENCHMARKS-vrrp.md).
    let _ = nix::sys::prctl::set_thp_disable(true);
    let loaded = match load_file(&cli.use_file, &load_options(cli)) {
        Ok(l) => l,
        Err(rejected) => {
            eprint!("{}", rejected.render());
            eprintln!("{}: configuration refused", cli.use_file.display());
            return ExitCode::from(EXIT_CONFIG_REFUSED);
        }
    };
    let warnings = loaded.render_warnings();
    // The files' text and line tables only served the warnings: not kept for the daemon's
    // life (at 10,000 virtual servers they are megabytes).
    let rk_config::Loaded {
        config,
        sources,
        diagnostics,
    } = loaded;
    drop((sources, diagnostics));
    let cfg = Arc::new(config);
    let sides = Sides::choose(cli, &cfg);
    // Pid file names are resolved now: detaching moves us to /.
    let cwd = std::env::current_dir().unwrap_or_default();
    let pid_file = |given: &Option<PathBuf>, default: &str| {
        cwd.join(given.clone().unwrap_or_else(|| PathBuf::from(default)))
    };
    let mut pid_files = vec![pid_file(&cli.pid, DEFAULT_PID)];
    if sides.vrrp {
        pid_files.push(pid_file(&cli.vrrp_pid, DEFAULT_VRRP_PID));
    }
    if sides.checkers {
        pid_files.push(pid_file(&cli.checkers_pid, DEFAULT_CHECKERS_PID));
    }
    if !cli.dont_fork
        && let Err(e) = nix::unistd::daemon(false, false)
    {
        eprintln!("rkeepalived: cannot detach: {e}");
        return ExitCode::from(EXIT_INIT_FAILED);
    }
    logging::init(cli, sides.ident());
    tracing::info!(
        "Starting rkeepalived {} ({}), configuration {}",
        env!("CARGO_PKG_VERSION"),
        sides.describe(),
        cli.use_file.display()
    );
    for line in warnings.lines().filter(|l| !l.trim().is_empty()) {
        tracing::warn!("{line}");
    }
    limits::raise_open_files(&cfg);
    if cli.namespace.is_some() {
        tracing::warn!("-s/--namespace is not supported yet; running in the current namespace");
    }
    let plan = if sides.vrrp {
        match rk_vrrp::from_config::plan(&cfg) {
            Ok((plan, unsupported)) => {
                for w in unsupported {
                    tracing::warn!("{w}");
                }
                Some(plan)
            }
            Err(e) => {
                tracing::error!("{e}");
                return ExitCode::from(EXIT_CONFIG_REFUSED);
            }
        }
    } else {
        None
    };
    let pids = match pidfile::PidFiles::create(&pid_files) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    let setup = serve::Setup {
        dont_release_ipvs: cli.dont_release_ipvs,
        source: reload::Source {
            path: cwd.join(&cli.use_file),
            options: load_options(cli),
            flags: side_flags(cli),
        },
        ipvs_record: pid_files[0].with_extension("ipvs"),
        config: cfg,
        sides,
        plan,
        vrrp_options: rk_vrrp::Options {
            release_vips: !cli.dont_release_vrrp,
            address_monitoring: cli.address_monitoring,
            event_sink: None,
        },
    };
    let code = serve::serve(setup);
    drop(pids);
    tracing::info!("Stopped rkeepalived");
    code
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use rk_config::{LoadOptions, load_str};

    use super::*;

    #[test]
    fn sides_as_keepalived_chooses_them() {
        let both = load_str(
            "t.conf",
            "vrrp_instance VI_1 {\n interface lo\n virtual_router_id 1\n virtual_ipaddress { 10.1.1.1 }\n}\n\
             virtual_server 10.1.1.1 80 {\n protocol TCP\n real_server 127.0.0.1 80 {\n }\n}\n",
            &LoadOptions::for_tests(),
        )
        .unwrap()
        .config;
        let vrrp_only = Config {
            virtual_servers: Vec::new(),
            ..both.clone()
        };
        let cli = |args: &[&str]| {
            Cli::parse_from(std::iter::once("rkeepalived").chain(args.iter().copied()))
        };
        let s = |vrrp, checkers| Sides { vrrp, checkers };
        assert_eq!(Sides::choose(&cli(&[]), &both), s(true, true));
        assert_eq!(Sides::choose(&cli(&["-P"]), &both), s(true, false));
        assert_eq!(Sides::choose(&cli(&["-C"]), &both), s(false, true));
        assert_eq!(Sides::choose(&cli(&["-P", "-C"]), &both), s(true, true));
        assert_eq!(Sides::choose(&cli(&[]), &vrrp_only), s(true, false));
        assert_eq!(Sides::choose(&cli(&["-C"]), &vrrp_only), s(false, true));
        assert_eq!(
            Sides::choose(&cli(&[]), &Config::default()),
            s(false, false)
        );
        assert_eq!(
            Sides::choose(&cli(&["--all"]), &Config::default()),
            s(true, true)
        );
        assert_eq!(s(true, false).ident(), "Keepalived_vrrp");
        assert_eq!(s(false, true).ident(), "Keepalived_healthcheckers");
        assert_eq!(s(true, true).ident(), "Keepalived");
    }
}
