//! The running daemon: the VRRP thread, the checker/IPVS side on a tokio runtime, and the
//! main task that follows VRRP states and signals.
//!
//! ```text
//!   VRRP thread (rk-vrrp, own runtime, SCHED_RR)
//!     │ broadcast VrrpEvent                      ┌──────────────────────────────┐
//!     ▼                                          │ checker runner (rk-checkers) │
//!   main task: signals, Settler ─Input::Instance─┐  └──────────┬───────────────────┘
//!                                                │             │ CheckerEvent (unbounded)
//!                                                │             ▼
//!                                                │  real-server follower (health, log,
//!                                                │  notify_up/down) ─Input::Health─┐
//!                                                ▼                                  ▼
//!                                   coordinator task (rk-coordinator + rk-ipvs): IPVS,
//!                                   quorum_up/down, dump, omega and rule removal at stop
//!   notify queue task: scripts one after the other, in transition order
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rk_config::Config;
use rk_coordinator::Input;
use rk_vrrp::{Plan, Vrrp, VrrpEvent};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::checks::{self, Ids};
use super::dump::{self, Files, Kind};
use super::lvs::{self, Lvs, LvsInput};
use super::notices::Notices;
use super::notify::{self, Job, Notifier};
use super::ownership::{Settler, parse_state};
use super::realservers::RealServers;
use super::reload::{self, Source};
use super::{EXIT_INIT_FAILED, Sides};

/// Everything the running daemon needs, decided before it detached.
#[derive(Debug)]
pub struct Setup {
    /// The configuration.
    pub config: Arc<Config>,
    /// Which sides run.
    pub sides: Sides,
    /// The VRRP plan (when VRRP runs).
    pub plan: Option<Plan>,
    /// VRRP options from the command line.
    pub vrrp_options: rk_vrrp::Options,
    /// `-I`: leave our IPVS rules at stop (as does `lvs_keep_rules_on_stop`).
    pub dont_release_ipvs: bool,
    /// Where SIGHUP reads the configuration from.
    pub source: Source,
    /// The IPVS ownership record's file.
    pub ipvs_record: std::path::PathBuf,
}

/// Runs until SIGTERM/SIGINT, then stops cleanly.
pub fn serve(setup: Setup) -> ExitCode {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("rk-lvs")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot build the runtime: {e}");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    rt.block_on(run(setup))
}

struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
    usr1: Signal,
    usr2: Signal,
    json: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
            json: signal(SignalKind::from_raw(nix::libc::SIGRTMIN() + 2))?,
        })
    }
}

/// The VRRP side while it runs.
pub(super) struct VrrpSide {
    pub(super) vrrp: Vrrp,
    pub(super) plan: Plan,
    pub(super) events: broadcast::Receiver<VrrpEvent>,
    pub(super) settler: Settler,
}

/// The checker/IPVS side while it runs.
pub(super) struct LvsSide {
    pub(super) lvs: Lvs,
    pub(super) input: LvsInput,
    pub(super) real_servers: RealServers,
    pub(super) notify_task: tokio::task::JoinHandle<()>,
    /// Checker and real-server numbers, kept so a reload maps unchanged ones to the same.
    pub(super) ids: Ids,
}

async fn run(setup: Setup) -> ExitCode {
    let mut setup = setup;
    // Signal handlers first: a SIGTERM during start-up must not kill us half-way.
    let mut sig = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot install signal handlers: {e}");
            return ExitCode::from(EXIT_INIT_FAILED);
        }
    };
    let mut config = setup.config.clone();
    let mut files = Files::from_config(&config.global);
    // FIFOs, mail and script security first: every script from here on runs under them.
    let mut notices = Notices::start(&config, &mut setup.vrrp_options);
    let g = &config.global;
    if let Some(s) = &g.startup_script {
        // keepalived's parent runs it before starting its children, and waits.
        script_within("startup_script", s, g, g.startup_script_timeout).await;
    }
    notices.prepare_trackers(&config, setup.plan.as_mut());
    let mut vrrp = match setup.plan {
        Some(plan) => match start_vrrp(plan, setup.vrrp_options.clone()) {
            Ok(v) => {
                notices.vrrp_started(&v.vrrp);
                Some(v)
            }
            Err(e) if setup.sides.checkers => {
                tracing::error!(
                    "cannot start VRRP: {e}; health checks run on, virtual servers that follow a VRRP instance are held as they are"
                );
                None
            }
            Err(e) => {
                tracing::error!("cannot start VRRP: {e}");
                return ExitCode::from(EXIT_INIT_FAILED);
            }
        },
        None => None,
    };
    let mut lvs = if setup.sides.checkers {
        Some(start_lvs(&config, setup.sides.vrrp, &setup.ipvs_record).await)
    } else {
        None
    };
    if let (Some(v), Some(l)) = (&mut vrrp, &lvs) {
        resync(v, &l.input).await;
    }
    if !setup.sides.vrrp && !setup.sides.checkers {
        tracing::warn!("the configuration has neither VRRP instances nor virtual servers: idle");
    }
    tracing::info!("Startup complete");
    // The configuration's load is over: what it freed goes back to the system.
    super::memory::release();
    let mut failed = false;
    // When to hand back what the last reload freed (see `RELEASE_AFTER`).
    let mut release_at = None;
    loop {
        let settle_at = vrrp.as_ref().and_then(|v| v.settler.next_deadline());
        tokio::select! {
            _ = sig.term.recv() => break,
            _ = sig.int.recv() => break,
            _ = sig.hup.recv() => {
                let sides = reload::Sides {
                    vrrp: &mut vrrp,
                    lvs: &mut lvs,
                    vrrp_options: &setup.vrrp_options,
                    ipvs_record: &setup.ipvs_record,
                };
                // The old configuration goes here (this was its last reference); what the
                // reload freed goes back to the system once reloads pause.
                if let Some(new) = reload::run(&setup.source, sides).await {
                    config = new;
                    files = Files::from_config(&config.global);
                    let v = vrrp.as_ref().map(|v| (&v.vrrp, &v.plan));
                    notices.after_reload(&config, v).await;
                }
                // Refused reloads allocate too (the whole new configuration was read).
                release_at = Some(std::time::Instant::now() + super::memory::RELEASE_AFTER);
            }
            _ = sleep_until(release_at) => {
                release_at = None;
                super::memory::release();
            }
            _ = sig.usr1.recv() => write_data(&files, vrrp.as_ref(), lvs.as_ref()).await,
            _ = sig.usr2.recv() => write_stats(&files, vrrp.as_ref(), lvs.as_ref()).await,
            _ = sig.json.recv() => match &vrrp {
                Some(v) => {
                    if let Some(t) = dump::vrrp_text(&v.vrrp, &v.plan, Kind::Json).await {
                        files.write(Kind::Json, &t);
                    }
                }
                None => tracing::info!("no VRRP side: no JSON dump"),
            },
            from = from_vrrp(vrrp.as_mut()) => match from {
                FromVrrp::Event(ev) => {
                    if let (Some(v), Some(l)) = (&mut vrrp, &lvs) {
                        match ev {
                            Ok(VrrpEvent::StateChange { instance, to, reason, .. }) => {
                                let now = std::time::Instant::now();
                                if let Some(role) =
                                    v.settler.observe(&instance, to, Some(reason), now)
                                {
                                    report(&l.input, instance, role).await;
                                }
                            }
                            // Groups, priorities: the coordinator follows instances only.
                            Ok(_) => {}
                            // Missed events: the current states tell the rest.
                            Err(RecvError::Lagged(_)) => resync(v, &l.input).await,
                            Err(RecvError::Closed) => {}
                        }
                    }
                }
                FromVrrp::Stopped => {
                    tracing::error!("the VRRP thread stopped unexpectedly");
                    failed = true;
                    break;
                }
            },
            _ = sleep_until(settle_at) => {
                if let (Some(v), Some(l)) = (&mut vrrp, &lvs) {
                    for (name, role) in v.settler.tick(std::time::Instant::now()) {
                        report(&l.input, name, role).await;
                    }
                }
            }
        }
    }
    tracing::info!("Stopping");
    let start = std::time::Instant::now();
    // Tracking scripts killed first: no tracker moves an instance during the shutdown.
    notices.stop_trackers().await;
    let stop_lvs = async {
        if let Some(l) = lvs.take() {
            // The coordinator leaves the pass it may be in while the probes stop.
            l.lvs.interrupt();
            // Probes first: nothing may change the state omega reports.
            l.real_servers.stop().await;
            // Queued notifies that have not started are dropped, as keepalived kills its
            // scripts at stop; omega's run below.
            l.notify_task.abort();
            l.lvs
                .stop(setup.dont_release_ipvs || config.global.lvs_keep_rules_on_stop)
                .await;
        }
    };
    let stop_vrrp = async {
        if let Some(v) = vrrp.take() {
            // Priority-0 adverts and VIP removal on the VRRP thread; this thread waits.
            let _ = tokio::task::spawn_blocking(move || v.vrrp.stop()).await;
        }
    };
    tokio::join!(stop_lvs, stop_vrrp);
    // The STOP notices (notify_stop within 1 s), as keepalived's VRRP child at its end.
    notices.finish().await;
    let took = start.elapsed();
    if took > STOP_TARGET {
        tracing::warn!("stopping took {took:?}");
    } else {
        tracing::info!("stopped in {took:?}");
    }
    let g = &config.global;
    if let Some(s) = &g.shutdown_script {
        script_within("shutdown_script", s, g, g.shutdown_script_timeout).await;
    }
    notices.close().await;
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `startup_script` / `shutdown_script`: run and waited for, killed at `timeout`.
async fn script_within(
    what: &str,
    script: &rk_config::model::Script,
    global: &rk_config::model::GlobalDefs,
    timeout: Duration,
) {
    match Job::new(what.to_string(), script, global) {
        Ok(job) => notify::run_within(vec![job], timeout).await,
        Err(e) => tracing::error!("{e}"),
    }
}

pub(super) fn start_vrrp(
    plan: Plan,
    options: rk_vrrp::Options,
) -> Result<VrrpSide, rk_vrrp::Error> {
    let started = std::time::Instant::now();
    // `start` waits for the VRRP thread to be up (a few milliseconds).
    let vrrp = tokio::task::block_in_place(|| rk_vrrp::start(plan.clone(), options))?;
    let events = vrrp.subscribe();
    let settler = Settler::new(&plan, started);
    Ok(VrrpSide {
        vrrp,
        plan,
        events,
        settler,
    })
}

pub(super) async fn start_lvs(
    cfg: &Arc<Config>,
    vrrp_runs: bool,
    record: &std::path::Path,
) -> LvsSide {
    let (notifier, notify_task) = Notifier::spawn();
    let mut ids = Ids::new();
    let mapping = Arc::new(checks::map(cfg, &mut ids));
    for p in &mapping.problems {
        tracing::error!("{p}");
    }
    // keepalived's order: the real servers' start-up notifies, then the quorum ones (the
    // coordinator's first pass).
    lvs::init_notifies(cfg, &notifier);
    let ipvs = lvs::connect().await.map_err(|e| match e {
        rk_ipvs::IpvsError::NotAvailable => {
            "the kernel has no IPVS (generic netlink family \"IPVS\" not found; modprobe ip_vs did not help)".to_string()
        }
        e => e.to_string(),
    });
    let policy = lvs::policy(cfg, vrrp_runs);
    let lvs = Lvs::start(
        cfg.clone(),
        policy,
        ipvs,
        notifier.clone(),
        mapping.clone(),
        Some(record.to_path_buf()),
    )
    .await;
    let input = lvs.input();
    let real_servers = RealServers::start(cfg.clone(), mapping, input.clone(), notifier).await;
    LvsSide {
        lvs,
        input,
        real_servers,
        notify_task,
        ids,
    }
}

/// Reads the current VRRP states (start-up, or after missed events).
pub(super) async fn resync(v: &mut VrrpSide, input: &LvsInput) {
    // Events already queued are older than the snapshot: drop them.
    while v.events.try_recv().is_ok() {}
    let status = match v.vrrp.status().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot read the VRRP status: {e}");
            return;
        }
    };
    let now = std::time::Instant::now();
    for i in status.instances {
        let Some(state) = parse_state(&i.state) else {
            continue;
        };
        if let Some(role) = v.settler.observe(&i.name, state, None, now) {
            report(input, i.name, role).await;
        }
    }
}

pub(super) async fn report(input: &LvsInput, name: String, role: rk_coordinator::InstanceRole) {
    tracing::debug!("coordinator: instance {name} is {role:?}");
    input
        .send(Input::Instance {
            name,
            role: Some(role),
        })
        .await;
}

enum FromVrrp {
    Event(Result<VrrpEvent, RecvError>),
    Stopped,
}

/// The next state change, or the VRRP thread's end; never, without VRRP.
async fn from_vrrp(v: Option<&mut VrrpSide>) -> FromVrrp {
    match v {
        Some(v) => tokio::select! {
            ev = v.events.recv() => FromVrrp::Event(ev),
            () = v.vrrp.stopped() => FromVrrp::Stopped,
        },
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending().await,
    }
}

async fn write_data(files: &Files, vrrp: Option<&VrrpSide>, lvs: Option<&LvsSide>) {
    if let Some(v) = vrrp
        && let Some(t) = dump::vrrp_text(&v.vrrp, &v.plan, Kind::Data).await
    {
        files.write(Kind::Data, &t);
    }
    if let Some(l) = lvs {
        // The coordinator answers after the inputs already queued (a mass failure can
        // queue thousands): the main task does not wait for it, signals keep working.
        let (runner, reader, files) = (l.real_servers.runner(), l.lvs.reader(), files.clone());
        tokio::spawn(async move {
            let checkers = runner.snapshot().await.ok();
            match reader.dump(checkers).await {
                Some(t) => files.write(Kind::CheckData, &t),
                None => tracing::error!("the coordinator task is gone: no checker dump"),
            }
        });
    }
}

async fn write_stats(files: &Files, vrrp: Option<&VrrpSide>, lvs: Option<&LvsSide>) {
    let mut text = String::new();
    if let Some(v) = vrrp
        && let Some(t) = dump::vrrp_text(&v.vrrp, &v.plan, Kind::Stats).await
    {
        text.push_str(&t);
    }
    let Some(l) = lvs else {
        files.write(Kind::Stats, &text);
        return;
    };
    let (runner, reader, files) = (l.real_servers.runner(), l.lvs.reader(), files.clone());
    tokio::spawn(async move {
        let checkers = runner.snapshot().await.ok();
        let counters = reader.counters().await;
        text.push_str(&dump::lvs_stats(counters, checkers.as_ref()));
        files.write(Kind::Stats, &text);
    });
}

/// How long a stop may take before the log says so (issue 7: under a second at 10,000
/// services).
const STOP_TARGET: Duration = Duration::from_secs(1);
