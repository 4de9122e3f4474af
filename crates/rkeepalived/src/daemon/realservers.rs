//! The checker runner and what its events do: each checker transition is folded into its
//! real server's health ([`super::health`]); a real server going up or down is logged with
//! the checker and the reason, runs its `notify_up` / `notify_down`, and is reported to the
//! coordinator (as is a dynamic weight change). `ha_suspend` ([`super::suspend`])
//! suspends checkers in the runner while their virtual server's address is absent; they
//! carry on from where they were when it comes back, as keepalived's do.
//!
//! A reload ([`RealServers::reload`]) hands the runner the new specs: checkers keep their
//! state by identity (see [`super::checks`]), new ones start as at start-up, and only real
//! servers whose health the new configuration changes are reported.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use rk_checkers::probe::tls::ClientIdentity;
use rk_checkers::{CheckerEvent, CheckerId, EventKind, Runner, RunnerHandle, RunnerOptions};
use rk_config::Config;
use rk_coordinator::{Input, VsId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::checks::Mapping;
use super::health::{Aggregator, Outcome};
use super::lvs::LvsInput;
use super::notices;
use super::notify::Notifier;
use super::suspend;

/// The running checkers.
#[derive(Debug)]
pub struct RealServers {
    runner: RunnerHandle,
    task: JoinHandle<()>,
    suspend_task: Option<JoinHandle<()>>,
    /// Where `ha_suspend` followers send the suspended set (one follower at a time).
    suspend_tx: mpsc::UnboundedSender<BTreeSet<usize>>,
    reload_tx: mpsc::UnboundedSender<Reload>,
}

/// A reload for the follower task.
#[derive(Debug)]
struct Reload {
    cfg: Arc<Config>,
    mapping: Arc<Mapping>,
    done: oneshot::Sender<()>,
}

impl RealServers {
    /// Starts every checker of `mapping` (those of `ha_suspend` virtual servers once their
    /// address is known to be here) and the task that follows their events.
    pub async fn start(
        cfg: Arc<Config>,
        mapping: Arc<Mapping>,
        lvs: LvsInput,
        notifier: Notifier,
    ) -> RealServers {
        let (tx, rx) = mpsc::unbounded_channel();
        let runner = Runner::spawn(RunnerOptions::default(), tx);
        let (watched, problems) = suspend::watched(&cfg);
        for p in problems {
            tracing::warn!("{p}");
        }
        // Until the addresses are read, every ha_suspend virtual server is suspended (as
        // keepalived's checkers wait for its first netlink dump).
        let suspended: BTreeSet<usize> = watched.iter().map(|w| w.vs).collect();
        let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
        let suspend_task =
            (!watched.is_empty()).then(|| tokio::spawn(suspend::follow(watched, ctl_tx.clone())));
        configure(&runner, &cfg, &mapping, &suspended, true).await;
        let mut skipped = Vec::new();
        match runner.apply(mapping.specs.clone()).await {
            Ok(report) => {
                for (id, e) in &report.errors {
                    tracing::error!(
                        "{} cannot run ({e}); the real server runs without it",
                        describe(&mapping, *id)
                    );
                    skipped.push(*id);
                }
                tracing::info!(
                    "health checkers started: {} checkers for {} real servers",
                    report.added,
                    mapping.real_servers.len()
                );
            }
            Err(e) => tracing::error!("cannot start the health checkers: {e}"),
        }
        let mut agg = Aggregator::new(&mapping, |rs| {
            mapping
                .real_servers
                .get(&rs)
                .map_or(1, |e| cfg.virtual_servers[e.vs].real_servers[e.rs].weight)
        });
        for id in &skipped {
            agg.remove(*id);
        }
        let follower = Follower {
            agg,
            cfg,
            mapping,
            lvs,
            notifier,
            runner: runner.clone(),
            suspended,
        };
        let (reload_tx, reload_rx) = mpsc::unbounded_channel();
        RealServers {
            runner,
            task: tokio::spawn(follower.run(rx, ctl_rx, reload_rx)),
            suspend_task,
            suspend_tx: ctl_tx,
            reload_tx,
        }
    }

    /// A reload: the runner gets the new checkers, the follower the new mapping; returns
    /// once both have them.
    pub async fn reload(&mut self, cfg: Arc<Config>, mapping: Arc<Mapping>) {
        if let Some(t) = self.suspend_task.take() {
            t.abort();
        }
        let (watched, problems) = suspend::watched(&cfg);
        for p in problems {
            tracing::warn!("{p}");
        }
        self.suspend_task = (!watched.is_empty())
            .then(|| tokio::spawn(suspend::follow(watched, self.suspend_tx.clone())));
        let (done, rx) = oneshot::channel();
        if self.reload_tx.send(Reload { cfg, mapping, done }).is_ok() {
            let _ = rx.await;
        }
    }

    /// The runner, for the state dump (`RunnerHandle::snapshot`).
    pub fn runner(&self) -> RunnerHandle {
        self.runner.clone()
    }

    /// Stops every probe (a MISC script in flight is killed with its process group) and
    /// the event task.
    pub async fn stop(self) {
        if let Some(t) = &self.suspend_task {
            t.abort();
        }
        self.runner.shutdown().await;
        // The runner's end closed the event channel: the task ends with the events left.
        let _ = self.task.await;
    }
}

/// The runner's inputs besides the specs: suspended checkers, `log_all_failures`, and (with
/// `tls`) the `SSL { }` block's client certificate. Before the first apply, so probes are
/// built once.
async fn configure(
    runner: &RunnerHandle,
    cfg: &Config,
    mapping: &Mapping,
    suspended: &BTreeSet<usize>,
    tls: bool,
) {
    let log_all = mapping
        .checkers
        .iter()
        .filter(|(_, c)| c.log_all_failures)
        .map(|(id, _)| *id);
    let _ = runner.set_log_all_failures(log_all).await;
    let _ = runner
        .set_suspended(suspended_checkers(mapping, suspended))
        .await;
    if !tls {
        return;
    }
    let Some(ssl) = &cfg.ssl else {
        let _ = runner.set_tls_client(None).await;
        return;
    };
    match (&ssl.certificate, &ssl.key) {
        (Some(cert), key) => {
            match ClientIdentity::load(
                Path::new(cert),
                key.as_deref().map(Path::new),
                ssl.password.as_deref(),
            ) {
                Ok(id) => {
                    if let Ok(report) = runner.set_tls_client(Some(id)).await {
                        for (c, e) in report.errors {
                            tracing::error!("{}: {e}", describe(mapping, c));
                        }
                    }
                }
                Err(e) => tracing::error!(
                    "SSL client certificate: {e}; SSL_GET checks connect without one"
                ),
            }
        }
        (None, Some(_)) => {
            tracing::warn!("SSL: a key without a certificate is unused");
        }
        (None, None) => {}
    }
}

/// The checkers of the suspended virtual servers.
fn suspended_checkers(mapping: &Mapping, suspended: &BTreeSet<usize>) -> Vec<CheckerId> {
    mapping
        .real_servers
        .values()
        .filter(|e| suspended.contains(&e.vs))
        .flat_map(|e| e.checkers.iter().copied())
        .collect()
}

/// `TCP_CHECK 10.0.0.2:80 of real server 10.0.0.2:80 of TCP 10.0.0.1:80`.
fn describe(mapping: &Mapping, id: CheckerId) -> String {
    mapping
        .checkers
        .get(&id)
        .and_then(|c| Some((c, mapping.real_servers.get(&c.rs)?)))
        .map(|(c, r)| format!("{} {} of real server {}", c.kind, c.target, r.id))
        .unwrap_or_else(|| format!("checker {}", id.0))
}

struct Follower {
    agg: Aggregator,
    cfg: Arc<Config>,
    mapping: Arc<Mapping>,
    lvs: LvsInput,
    notifier: Notifier,
    runner: RunnerHandle,
    /// `ha_suspend` virtual servers whose checkers are out of the runner.
    suspended: BTreeSet<usize>,
}

impl Follower {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<CheckerEvent>,
        mut ctl: mpsc::UnboundedReceiver<BTreeSet<usize>>,
        mut reloads: mpsc::UnboundedReceiver<Reload>,
    ) {
        loop {
            tokio::select! {
                // A reload, then a suspension change first: events after them belong to
                // the new mapping and set.
                biased;
                Some(r) = reloads.recv() => self.reload(r).await,
                Some(set) = ctl.recv() => self.suspend(set).await,
                ev = rx.recv() => match ev {
                    Some(ev) => self.event(&ev).await,
                    None => return,
                },
            }
        }
    }

    async fn event(&mut self, ev: &CheckerEvent) {
        let Some(o) = self.agg.on_event(ev) else {
            return;
        };
        let (kind, target) = self
            .mapping
            .checkers
            .get(&ev.checker)
            .map_or(("checker", String::new()), |c| (c.kind, c.target.clone()));
        let why = match (&ev.kind, &ev.reason) {
            (EventKind::Down, Some(r)) => format!("{kind} {target} failed: {r}"),
            (EventKind::Down, None) => format!("{kind} {target} failed"),
            (EventKind::Up, _) => format!("{kind} {target} succeeded"),
            (EventKind::Weight(w), _) => format!("{kind} {target} set weight {w:?}"),
        };
        let checker_changed = matches!(ev.kind, EventKind::Up | EventKind::Down);
        self.act(&o, &why, checker_changed).await;
    }

    /// A reload: new specs to the runner, the aggregator re-keyed, real servers whose
    /// health the new configuration changed reported.
    async fn reload(&mut self, r: Reload) {
        let old_cfg = std::mem::replace(&mut self.cfg, r.cfg);
        // Suspension carries over by virtual server; a newly watched one is suspended
        // until its follower has read the addresses (as at start).
        let old_index: std::collections::HashMap<VsId, usize> = old_cfg
            .virtual_servers
            .iter()
            .enumerate()
            .map(|(i, vs)| (VsId::of(vs), i))
            .collect();
        let (watched, _) = suspend::watched(&self.cfg);
        self.suspended = watched
            .iter()
            .filter(|w| {
                old_index
                    .get(&VsId::of(&self.cfg.virtual_servers[w.vs]))
                    .is_none_or(|o| self.suspended.contains(o))
            })
            .map(|w| w.vs)
            .collect();
        let tls = old_cfg.ssl != self.cfg.ssl;
        configure(&self.runner, &self.cfg, &r.mapping, &self.suspended, tls).await;
        let mut skipped = Vec::new();
        match self.runner.apply(r.mapping.specs.clone()).await {
            Ok(report) => {
                for (id, e) in &report.errors {
                    tracing::error!(
                        "{} cannot run ({e}); the real server runs without it",
                        describe(&r.mapping, *id)
                    );
                    skipped.push(*id);
                }
                tracing::info!(
                    "health checkers reloaded: {} kept, {} changed, {} added, {} removed",
                    report.kept,
                    report.changed,
                    report.added,
                    report.removed
                );
            }
            Err(e) => tracing::error!("cannot reload the health checkers: {e}"),
        }
        let cfg = self.cfg.clone();
        let weights = r.mapping.clone();
        let outcomes = self.agg.reload(&r.mapping, |rs| {
            weights
                .real_servers
                .get(&rs)
                .map_or(1, |e| cfg.virtual_servers[e.vs].real_servers[e.rs].weight)
        });
        for id in &skipped {
            self.agg.remove(*id);
        }
        self.mapping = r.mapping;
        for o in outcomes {
            self.act(&o, "the configuration changed", true).await;
        }
        let _ = r.done.send(());
    }

    /// `ha_suspend`: the runner suspends or resumes the checkers of virtual servers whose
    /// address went or came.
    async fn suspend(&mut self, set: BTreeSet<usize>) {
        if set == self.suspended {
            return;
        }
        for vs in set.symmetric_difference(&self.suspended) {
            let now_suspended = set.contains(vs);
            let id = VsId::of(&self.cfg.virtual_servers[*vs]);
            tracing::info!(
                "virtual server {id}: its address is {} this node: checkers {} (ha_suspend)",
                if now_suspended { "not on" } else { "on" },
                if now_suspended { "suspended" } else { "resume" }
            );
        }
        self.suspended = set;
        let ids = suspended_checkers(&self.mapping, &self.suspended);
        if let Err(e) = self.runner.set_suspended(ids).await {
            tracing::error!("ha_suspend: {e}");
        }
    }

    /// The log line, notify script and coordinator input of one outcome.
    async fn act(&self, o: &Outcome, why: &str, checker_changed: bool) {
        let Some(entry) = self.mapping.real_servers.get(&o.rs) else {
            return;
        };
        let rs = &self.cfg.virtual_servers[entry.vs].real_servers[entry.rs];
        let id = &entry.id;
        if o.up_changed() {
            let (state, name, script) = if o.after.up {
                ("UP", "notify_up", &rs.notify_up)
            } else {
                ("DOWN", "notify_down", &rs.notify_down)
            };
            if o.after.up {
                tracing::info!("real server {id} is {state}: {why}");
            } else {
                tracing::warn!("real server {id} is {state}: {why}");
            }
            if let Some(s) = script {
                self.notifier
                    .script(format!("{name} of real server {id}"), s, &self.cfg.global);
            }
        } else if o.before.weight != o.after.weight {
            let w = o
                .after
                .weight
                .map_or_else(|| format!("{} (configured)", rs.weight), |w| w.to_string());
            tracing::info!("real server {id}: weight {w} ({why})");
        } else if checker_changed {
            tracing::info!(
                "real server {id} stays {}: {why} ({} of {} checkers failing)",
                if o.after.up { "UP" } else { "DOWN" },
                o.failing,
                o.total
            );
        }
        let vs = &self.cfg.virtual_servers[entry.vs];
        notices::real_server(vs, rs, o.after.up, why, o.up_changed(), checker_changed);
        // After the notify is queued: its script runs before any quorum script this
        // change causes.
        if o.changed() {
            self.lvs
                .send(Input::Health {
                    rs: entry.id.clone(),
                    health: Some(o.after),
                })
                .await;
        }
    }
}
