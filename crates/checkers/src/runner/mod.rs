//! The checker runner: one tokio task that owns every probe, runs each distinct probe once
//! per due time, feeds the results to the shared state machines ([`state`]) and sends
//! transition events to the coordinator.
//!
//! ```no_run
//! # async fn demo() {
//! use rk_checkers::runner::{Runner, RunnerOptions};
//! let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
//! let runner = Runner::spawn(RunnerOptions::default(), events_tx);
//! let specs = vec![/* CheckerSpec built from the configuration */];
//! let report = runner.apply(specs).await.expect("runner alive");
//! assert!(report.errors.is_empty());
//! while let Some(ev) = events.recv().await {
//!     println!("{:?} {:?} {:?}", ev.real_server, ev.checker, ev.kind);
//! }
//! # }
//! ```
//!
//! Events go out on an unbounded channel: a slow consumer must never delay probes. Their
//! number is bounded by the number of results (at most one event per checker and result).
//!
//! Besides the specs, three inputs come from the caller, each declarative and kept by
//! checker id across [`RunnerHandle::apply`] calls:
//! - [`RunnerHandle::set_suspended`]: keepalived's `ha_suspend` (checkers of a virtual
//!   server whose address is not configured locally);
//! - [`RunnerHandle::set_log_all_failures`]: `log_all_failures` / `checker_log_all_failures`;
//! - [`RunnerHandle::set_tls_client`]: the top-level `SSL { }` block's client certificate.

pub mod state;
pub mod watch;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinSet};

use crate::event::{CheckerEvent, CheckerStatus, RunnerStats};
use crate::fsm::SplitMix;
use crate::probe::tls::ClientIdentity;
use crate::probe::{ProbeError, ProbeReport};
use crate::spec::{CheckerId, CheckerSpec};
pub use state::{ApplyReport, GroupId, State, SuspendReport, TlsReport};

/// Runner settings.
#[derive(Debug, Clone, Default)]
pub struct RunnerOptions {
    /// Seed for the warmup jitter (random when unset; fixed seeds make tests repeatable).
    pub seed: Option<u64>,
}

/// Everything [`RunnerHandle::snapshot`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// One entry per configured checker, sorted by id.
    pub checkers: Vec<CheckerStatus>,
    /// Runner-wide figures.
    pub stats: RunnerStats,
}

/// The runner task has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the checker runner has stopped")]
pub struct RunnerGone;

enum Command {
    Apply(Vec<CheckerSpec>, oneshot::Sender<ApplyReport>),
    Suspend(HashSet<CheckerId>, oneshot::Sender<SuspendReport>),
    LogAll(HashSet<CheckerId>, oneshot::Sender<()>),
    TlsClient(Option<ClientIdentity>, oneshot::Sender<TlsReport>),
    Snapshot(oneshot::Sender<Snapshot>),
    Shutdown(oneshot::Sender<()>),
}

/// Starts runners.
#[derive(Debug)]
pub struct Runner;

impl Runner {
    /// Spawns the runner task on the current tokio runtime. It starts with no checker; call
    /// [`RunnerHandle::apply`]. It stops when every handle is dropped or on
    /// [`RunnerHandle::shutdown`], aborting probes in flight (an aborted MISC run kills its
    /// script's process group).
    pub fn spawn(opts: RunnerOptions, events: mpsc::UnboundedSender<CheckerEvent>) -> RunnerHandle {
        let (tx, rx) = mpsc::unbounded_channel();
        let jitter = match opts.seed {
            Some(s) => SplitMix::seeded(s),
            None => SplitMix::from_entropy(),
        };
        let state = State::new(Box::new(jitter));
        tokio::spawn(drive(state, rx, events));
        RunnerHandle { tx }
    }
}

/// Controls a running [`Runner`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RunnerHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl RunnerHandle {
    /// Replaces the configured checkers with `specs`, carrying state over by
    /// [`crate::spec::CheckerId`] (see [`State::apply`]).
    pub async fn apply(&self, specs: Vec<CheckerSpec>) -> Result<ApplyReport, RunnerGone> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Apply(specs, tx))
            .map_err(|_| RunnerGone)?;
        rx.await.map_err(|_| RunnerGone)
    }

    /// keepalived's `ha_suspend`: makes exactly `ids` the suspended checkers, configured
    /// or not (ids configured later start suspended). A suspended checker probes nothing
    /// and reports nothing; when resumed it goes on from the state it had, at its next
    /// `delay_loop` tick, as keepalived's disabled checker threads do (see
    /// [`state`]'s docs). FILE_CHECKs are never suspended, as in keepalived. Pass every checker of each `ha_suspend` virtual server whose
    /// address is not configured locally; call again whenever that changes.
    pub async fn set_suspended(
        &self,
        ids: impl IntoIterator<Item = CheckerId>,
    ) -> Result<SuspendReport, RunnerGone> {
        let ids = ids.into_iter().collect();
        self.call(|tx| Command::Suspend(ids, tx)).await
    }

    /// keepalived's `log_all_failures`: makes exactly `ids` the checkers whose every failed
    /// attempt is logged at INFO while they are up (not only the one that brings them
    /// down). With the global `checker_log_all_failures`, pass every checker id.
    pub async fn set_log_all_failures(
        &self,
        ids: impl IntoIterator<Item = CheckerId>,
    ) -> Result<(), RunnerGone> {
        let ids = ids.into_iter().collect();
        self.call(|tx| Command::LogAll(ids, tx)).await
    }

    /// The client certificate every SSL_GET presents when a server asks for one
    /// (keepalived's top-level `SSL { certificate; key }`, loaded with
    /// [`ClientIdentity::load`]); `None` for none. Existing SSL_GET probes are rebuilt when
    /// it changes; call it before [`RunnerHandle::apply`] so new probes are built once.
    pub async fn set_tls_client(
        &self,
        client: Option<ClientIdentity>,
    ) -> Result<TlsReport, RunnerGone> {
        self.call(|tx| Command::TlsClient(client, tx)).await
    }

    async fn call<T>(
        &self,
        cmd: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, RunnerGone> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(cmd(tx)).map_err(|_| RunnerGone)?;
        rx.await.map_err(|_| RunnerGone)
    }

    /// Status of every checker, for metrics.
    pub async fn snapshot(&self) -> Result<Snapshot, RunnerGone> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Snapshot(tx))
            .map_err(|_| RunnerGone)?;
        rx.await.map_err(|_| RunnerGone)
    }

    /// Stops the runner and waits until it has stopped.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

struct Driver {
    state: State,
    events: mpsc::UnboundedSender<CheckerEvent>,
    tasks: JoinSet<(GroupId, usize, ProbeReport)>,
    task_of: HashMap<tokio::task::Id, (GroupId, usize)>,
    running: HashMap<(GroupId, usize), AbortHandle>,
    watcher: Option<watch::Watcher>,
}

impl Driver {
    fn start(&mut self, starts: Vec<state::StartProbe>) {
        for s in starts {
            let probe = s.probe;
            let (group, url) = (s.group, s.url);
            let handle = self
                .tasks
                .spawn(async move { (group, url, probe.run(url).await) });
            self.task_of.insert(handle.id(), (group, url));
            self.running.insert((group, url), handle);
        }
    }

    fn send(&self, events: Vec<CheckerEvent>) {
        for e in events {
            // A closed receiver means the coordinator is gone; probes go on until shutdown.
            let _ = self.events.send(e);
        }
    }

    fn apply(&mut self, specs: Vec<CheckerSpec>) -> ApplyReport {
        let out = self.state.apply(Instant::now(), specs);
        for g in &out.removed_groups {
            self.running.retain(|(group, _), h| {
                if group == g {
                    h.abort();
                }
                group != g
            });
        }
        if let Some(w) = &mut self.watcher {
            for p in &out.unwatch {
                w.unwatch(p);
            }
            for (_, p) in &out.watch {
                if let Err(e) = w.watch(p) {
                    tracing::warn!(path = %p.display(), error = %e, "cannot watch tracked file; it is read once");
                }
            }
        }
        self.start(out.start);
        self.send(out.events);
        out.report
    }

    /// A command other than shutdown.
    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Apply(specs, reply) => {
                let _ = reply.send(self.apply(specs));
            }
            Command::Suspend(ids, reply) => {
                let report = self.state.set_suspended(ids);
                if report.newly_suspended + report.resumed > 0 {
                    tracing::info!(
                        suspended = report.newly_suspended,
                        resumed = report.resumed,
                        "ha_suspend: {} health checkers suspended, {} activated",
                        report.newly_suspended,
                        report.resumed
                    );
                }
                let _ = reply.send(report);
            }
            Command::LogAll(ids, reply) => {
                self.state.set_log_all_failures(ids);
                let _ = reply.send(());
            }
            Command::TlsClient(client, reply) => {
                let _ = reply.send(self.state.set_tls_client(client));
            }
            Command::Snapshot(reply) => {
                let (checkers, stats) = self.state.snapshot();
                let _ = reply.send(Snapshot { checkers, stats });
            }
            // The loop handles shutdown itself (it awaits the probes' end) and never
            // passes it here.
            Command::Shutdown(_) => {}
        }
    }

    /// A probe task ended: its report, a panic, or its abort (a removed group).
    fn joined(
        &mut self,
        res: Result<(tokio::task::Id, (GroupId, usize, ProbeReport)), tokio::task::JoinError>,
    ) {
        match res {
            Ok((id, (_, _, report))) => self.finished(id, Ok(report)),
            Err(e) if e.is_cancelled() => {
                self.task_of.remove(&e.id());
            }
            Err(e) => {
                let id = e.id();
                self.finished(id, Err(format!("probe task failed: {e}")));
            }
        }
    }

    fn finished(&mut self, id: tokio::task::Id, result: Result<ProbeReport, String>) {
        let Some((group, url)) = self.task_of.remove(&id) else {
            return;
        };
        self.running.remove(&(group, url));
        let report = result.unwrap_or_else(|msg| ProbeReport {
            started: Instant::now(),
            latency: Default::default(),
            result: Err(ProbeError::Setup(msg)),
        });
        // The next run is timed from when the probe finished, as keepalived's epilog does,
        // not from when this loop got to its result: under load that wait would stretch
        // every period.
        let done = (report.started + report.latency).min(Instant::now());
        let events = self.state.on_report(done, group, url, report);
        self.send(events);
        let again: Vec<_> = self.state.retrigger(group).into_iter().collect();
        self.start(again);
    }
}

async fn changed(w: &mut Option<watch::Watcher>) -> Vec<std::path::PathBuf> {
    match w {
        Some(w) => w.changed().await,
        None => std::future::pending().await,
    }
}

async fn drive(
    state: State,
    mut rx: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<CheckerEvent>,
) {
    let watcher = match watch::Watcher::new() {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "inotify unavailable: FILE_CHECK files are read once");
            None
        }
    };
    let mut d = Driver {
        state,
        events,
        tasks: JoinSet::new(),
        task_of: HashMap::new(),
        running: HashMap::new(),
        watcher,
    };
    // One timer, reset only when the earliest due time changes. Due machines are started
    // at the top of every turn, not only when this timer wins the select: a timer future
    // rebuilt every turn, racing a steady stream of results, fired only when tokio's time
    // driver happened to turn, so starts came late and in bursts (measured: at 12,000
    // checks/s offered the runner fell to 7,500/s with probes waiting 200 ms to be
    // polled, while a plain probe loop kept up).
    let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(86_400);
    let mut timer = std::pin::pin!(tokio::time::sleep_until(far()));
    let mut armed = None;
    loop {
        let starts = d.state.fire(Instant::now());
        d.start(starts);
        let next = d.state.next_timer();
        if next != armed {
            armed = next;
            let at = next.map_or_else(far, tokio::time::Instant::from_std);
            timer.as_mut().reset(at);
        }
        tokio::select! {
            cmd = rx.recv() => match cmd {
                None => break,
                Some(Command::Shutdown(reply)) => {
                    d.tasks.shutdown().await;
                    let _ = reply.send(());
                    return;
                }
                Some(cmd) => d.command(cmd),
            },
            Some(res) = d.tasks.join_next_with_id(), if !d.tasks.is_empty() => {
                d.joined(res);
                // Every other probe that has finished too, without another turn.
                while let Some(res) = d.tasks.try_join_next_with_id() {
                    d.joined(res);
                }
            }
            paths = changed(&mut d.watcher) => {
                for p in paths {
                    for g in d.state.file_groups(&p) {
                        let start: Vec<_> = d.state.trigger(g).into_iter().collect();
                        d.start(start);
                    }
                }
            },
            // Due machines start at the top of the loop.
            () = &mut timer, if armed.is_some() => {}
        }
    }
    d.tasks.shutdown().await;
}
