//! Running the VRRP side: `rkeepalived -P -n -l -f CONF` (or no `-P` with a configuration
//! that has VRRP and no virtual servers).
//!
//! The main thread loads the configuration, writes the pid files, starts the VRRP thread
//! (`rk_vrrp::start`) and then only waits for signals: SIGTERM/SIGINT stop cleanly
//! (priority-0 adverts, VIPs removed), SIGUSR2 writes the statistics file, SIGRTMIN+2 the
//! JSON dump, SIGUSR1 the state dump; SIGHUP (reload) is not supported yet and is logged.

mod dump;
mod logging;
mod pidfile;

use std::path::PathBuf;
use std::process::ExitCode;

use rk_config::load_file;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::Cli;
use crate::config_test::{EXIT_CONFIG_REFUSED, load_options};

/// keepalived's exit status for an initialisation failure.
const EXIT_INIT_FAILED: u8 = 2;
/// Default pid file of the main process (keepalived's).
const DEFAULT_PID: &str = "/run/keepalived.pid";
/// Default pid file of the VRRP process (keepalived's).
const DEFAULT_VRRP_PID: &str = "/run/vrrp.pid";

/// Runs the VRRP side when the command line and configuration call for it; `None` when
/// they call for something this build does not run yet (the checker side).
pub fn run(cli: &Cli) -> Option<ExitCode> {
    if cli.check && !cli.vrrp {
        return None;
    }
    // A small long-running daemon gains nothing from 2 MB pages: with the allocator asking
    // for them, they made up two thirds of our resident memory (BENCHMARKS-vrrp.md).
    let _ = nix::sys::prctl::set_thp_disable(true);
    let loaded = match load_file(&cli.use_file, &load_options(cli)) {
        Ok(l) => l,
        Err(rejected) => {
            eprint!("{}", rejected.render());
            eprintln!("{}: configuration refused", cli.use_file.display());
            return Some(ExitCode::from(EXIT_CONFIG_REFUSED));
        }
    };
    let cfg = &loaded.config;
    if !cli.vrrp && (cfg.has_checkers() || !cfg.has_vrrp()) {
        return None;
    }
    // Pid file names are resolved now: detaching moves us to /.
    let cwd = std::env::current_dir().unwrap_or_default();
    let pid_files = [
        cli.pid
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PID)),
        cli.vrrp_pid
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_VRRP_PID)),
    ]
    .map(|p| cwd.join(p));
    if !cli.dont_fork
        && let Err(e) = nix::unistd::daemon(false, false)
    {
        eprintln!("rkeepalived: cannot detach: {e}");
        return Some(ExitCode::from(EXIT_INIT_FAILED));
    }
    logging::init(cli);
    tracing::info!(
        "Starting rkeepalived {} (VRRP), configuration {}",
        env!("CARGO_PKG_VERSION"),
        cli.use_file.display()
    );
    let warnings = loaded.render_warnings();
    for line in warnings.lines().filter(|l| !l.trim().is_empty()) {
        tracing::warn!("{line}");
    }
    if cli.namespace.is_some() {
        tracing::warn!("-s/--namespace is not supported yet; running in the current namespace");
    }
    let (plan, unsupported) = match rk_vrrp::from_config::plan(cfg) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return Some(ExitCode::from(EXIT_CONFIG_REFUSED));
        }
    };
    for w in unsupported {
        tracing::warn!("{w}");
    }
    let pids = match pidfile::PidFiles::create(&pid_files) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return Some(ExitCode::from(EXIT_INIT_FAILED));
        }
    };
    let options = rk_vrrp::Options {
        release_vips: !cli.dont_release_vrrp,
        address_monitoring: cli.address_monitoring,
    };
    let files = dump::Files::from_config(&cfg.global);
    let code = serve(plan, options, files);
    drop(pids);
    tracing::info!("Stopped rkeepalived");
    Some(code)
}

fn serve(plan: rk_vrrp::Plan, options: rk_vrrp::Options, files: dump::Files) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot build the main runtime: {e}");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    rt.block_on(async move {
        // Signal handlers first: a SIGTERM during start-up must not kill us half-way.
        let handlers = (|| {
            Ok::<_, std::io::Error>((
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
                signal(SignalKind::hangup())?,
                signal(SignalKind::user_defined1())?,
                signal(SignalKind::user_defined2())?,
                signal(SignalKind::from_raw(libc_sigrtmin() + 2))?,
            ))
        })();
        let (mut term, mut int, mut hup, mut usr1, mut usr2, mut json) = match handlers {
            Ok(h) => h,
            Err(e) => {
                tracing::error!("cannot install signal handlers: {e}");
                return ExitCode::from(EXIT_INIT_FAILED);
            }
        };
        let mut vrrp = match rk_vrrp::start(plan, options) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!("cannot start VRRP: {e}");
                return ExitCode::from(EXIT_INIT_FAILED);
            }
        };
        tracing::info!("Startup complete");
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => tracing::warn!("reload (SIGHUP) is not supported yet; restart to apply a new configuration"),
                _ = usr1.recv() => files.write(&vrrp, dump::Kind::Data).await,
                _ = usr2.recv() => files.write(&vrrp, dump::Kind::Stats).await,
                _ = json.recv() => files.write(&vrrp, dump::Kind::Json).await,
                () = vrrp.stopped() => {
                    tracing::error!("the VRRP thread stopped unexpectedly");
                    return ExitCode::FAILURE;
                }
            }
        }
        tracing::info!("Stopping");
        // Blocks this thread for the few milliseconds the goodbye takes; nothing else
        // runs here.
        vrrp.stop();
        ExitCode::SUCCESS
    })
}

/// SIGRTMIN as glibc reports it (34: glibc keeps two real-time signals for itself).
fn libc_sigrtmin() -> i32 {
    nix::libc::SIGRTMIN()
}
