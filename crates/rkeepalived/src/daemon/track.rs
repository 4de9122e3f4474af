//! The trackers of the VRRP plan (`vrrp_script`, `track_file`, `vrrp_track_process`) run
//! as tasks on the daemon's runtime ([`rk_track`]), never on the VRRP thread: a script
//! that hangs holds only its own task, and the VRRP thread keeps its advert schedule.
//! Their states reach the VRRP thread through [`rk_vrrp::Trackers`].
//!
//! Files are read and processes counted *before* the VRRP thread starts, so instances
//! start with the right priority (keepalived does the same at start-up); scripts start
//! unknown (`init_fail`: down) and unweighted ones hold their instances in INIT until
//! their first result.

use std::sync::Arc;

use rk_config::Config;
use rk_track::file::{FileTracker, FileWatcher};
use rk_track::process::{ProcessTracker, ProcessWatcher};
use rk_track::script::ScriptTracker;
use rk_track::security::Security;
use rk_vrrp::{Plan, TrackerKind};
use rk_vrrp_proto::TrackerState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Trackers ready to run: their initial states are in the plan.
#[derive(Debug, Default)]
pub struct Prepared {
    scripts: Vec<(usize, ScriptTracker)>,
    files: Option<(Vec<usize>, FileWatcher)>,
    processes: Option<(Vec<usize>, ProcessWatcher)>,
}

/// Builds the runners of `plan`'s trackers from `cfg`, reading every file and counting
/// every process now to fill in `plan.trackers[..].initial` (inside the runtime).
pub fn prepare(cfg: &Config, plan: &mut Plan) -> Prepared {
    let mut p = Prepared::default();
    let (mut file_idx, mut files) = (Vec::new(), Vec::new());
    let (mut proc_idx, mut procs) = (Vec::new(), Vec::new());
    for (i, t) in plan.trackers.iter().enumerate() {
        match t.kind {
            TrackerKind::Script => {
                let Some(s) = cfg.vrrp_scripts.iter().find(|s| s.name == t.name) else {
                    continue;
                };
                match ScriptTracker::from_config(s, &cfg.global) {
                    Ok(r) => p.scripts.push((i, r)),
                    // Never runs: counts as failing, so an instance is not held forever.
                    Err(e) => tracing::error!("{e}; the script counts as failed"),
                }
            }
            TrackerKind::File => {
                if let Some(f) = cfg.track_files.iter().find(|f| f.name == t.name) {
                    file_idx.push(i);
                    files.push(FileTracker::from_config(f));
                }
            }
            TrackerKind::Process => {
                if let Some(pr) = cfg.track_processes.iter().find(|pr| pr.name == t.name) {
                    proc_idx.push(i);
                    procs.push(ProcessTracker::from_config(pr));
                }
            }
        }
    }
    // A script that cannot run at all (its user is missing) is down from the start.
    for (i, t) in plan.trackers.iter_mut().enumerate() {
        if t.kind == TrackerKind::Script && !p.scripts.iter().any(|(k, _)| *k == i) {
            t.initial = TrackerState::Down;
        }
    }
    if !files.is_empty() {
        match FileWatcher::start(files) {
            Ok(w) => {
                for (k, v) in file_idx.iter().zip(w.values()) {
                    plan.trackers[*k].initial = TrackerState::Value(*v);
                }
                p.files = Some((file_idx, w));
            }
            Err(e) => tracing::error!("track_file: cannot watch files: {e}; their values stay 0"),
        }
    }
    if !procs.is_empty() {
        let w = ProcessWatcher::new(procs);
        for (k, s) in proc_idx.iter().zip(w.states()) {
            plan.trackers[*k].initial = s;
        }
        p.processes = Some((proc_idx, w));
    }
    p
}

/// The running trackers.
#[derive(Debug)]
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Prepared {
    /// Starts every runner; states go to `to`.
    pub fn start(self, to: rk_vrrp::Trackers, security: Arc<Security>) -> Running {
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for (i, s) in self.scripts {
            let to = to.clone();
            let report = move |state| {
                to.set(i, state);
            };
            tasks.push(tokio::spawn(s.run(
                security.clone(),
                report,
                stop_rx.clone(),
            )));
        }
        if let Some((idx, w)) = self.files {
            // Their current values, for a VRRP thread that has older ones (a reload).
            for (i, v) in idx.iter().zip(w.values()) {
                to.set(*i, TrackerState::Value(*v));
            }
            let to = to.clone();
            let report = move |k: usize, state| {
                if let Some(i) = idx.get(k) {
                    to.set(*i, state);
                }
            };
            tasks.push(tokio::spawn(w.run(report, stop_rx.clone())));
        }
        if let Some((idx, w)) = self.processes {
            for (i, st) in idx.iter().zip(w.states()) {
                to.set(*i, st);
            }
            let report = move |k: usize, state| {
                if let Some(i) = idx.get(k) {
                    to.set(*i, state);
                }
            };
            tasks.push(tokio::spawn(w.run(report, stop_rx.clone())));
        }
        Running { stop, tasks }
    }
}

impl Running {
    /// Stops every tracker; a script then running is killed with its process group and
    /// reaped before this returns.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
