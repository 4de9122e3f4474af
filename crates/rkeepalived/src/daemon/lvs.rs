//! The LVS side's coordinator task: takes VRRP states and real-server health, keeps the
//! kernel's IPVS table as the coordinator wants it, runs `quorum_up` / `quorum_down` on
//! quorum transitions, answers the state dump, and removes our rules at stop (with the
//! `omega` notifies).
//!
//! Without IPVS (a kernel without `ip_vs`, as on the build hosts) the same engine runs
//! without a kernel behind it: quorum, notify scripts and the state dump work, and
//! nothing is sent anywhere. The log says so once at start.
//!
//! What is ours outlives the process through the ownership record (`rk-coordinator`'s
//! `record.rs`): claimed at start, written after the first pass and after each reload's,
//! written at a stop that keeps the rules, removed at a stop that removes them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rk_checkers::runner::Snapshot;
use rk_config::Config;
use rk_config::model::{RealServer, VirtualServer};
use rk_coordinator::{
    CounterSnapshot, Engine, Health, Input, Interrupt, Owned, Policy, Preempt, Problem,
    QuorumEvent, Reconciler, ReconcilerOptions, RsId, RulesMode, VsId,
};
use rk_ipvs::{IpvsError, IpvsHandle};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::check_dump;
use super::checks::Mapping;
use super::notices;
use super::notify::{self, Job, Notifier};

/// Depth of the input queue: a burst of health changes waits here while a pass applies.
const QUEUE: usize = 4096;

/// Passes cheaper than a quarter of this start at once.
const MIN_GATHER: Duration = Duration::from_millis(1);

/// The longest inputs are gathered before a pass.
const MAX_GATHER: Duration = Duration::from_millis(200);

/// A stop: keep the rules, and whom to tell when done.
type Stop = (bool, Option<oneshot::Sender<()>>);

/// What a burst of commands held.
#[derive(Clone, Copy, Debug, Default)]
struct Taken {
    /// Real-server health changes: may wait to be gathered.
    health: bool,
    /// VRRP states, configuration, a read request: act now.
    urgent: bool,
}

/// The coordinator's settings from our keywords. `vrrp_runs`: a VRRP side runs in this
/// process and reports instance states; without one (`-C`) nothing would ever report
/// ownership, so every virtual server is installed (keepalived's behaviour).
pub fn policy(cfg: &Config, vrrp_runs: bool) -> Policy {
    Policy {
        rules: if cfg.global.lvs_rules_everywhere || !vrrp_runs {
            RulesMode::Everywhere
        } else {
            RulesMode::FollowVip
        },
        track_instance: cfg
            .virtual_servers
            .iter()
            .filter_map(|vs| Some((VsId::of(vs), vs.track_instance.clone()?)))
            .collect(),
        drain_timeout: cfg.global.lvs_drain_timeout,
        vs_drain_timeout: cfg
            .virtual_servers
            .iter()
            .filter_map(|vs| Some((VsId::of(vs), vs.drain_timeout?)))
            .collect(),
    }
}

/// Connects to the kernel's IPVS. Like keepalived, loads `ip_vs` with `modprobe` when the
/// family is missing, then tries once more.
pub async fn connect() -> Result<IpvsHandle, IpvsError> {
    match IpvsHandle::connect().await {
        Err(IpvsError::NotAvailable) => {
            let loaded = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::process::Command::new("modprobe")
                    .arg("ip_vs")
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status(),
            )
            .await;
            match loaded {
                Ok(Ok(s)) if s.success() => IpvsHandle::connect().await,
                _ => Err(IpvsError::NotAvailable),
            }
        }
        other => other,
    }
}

enum Cmd {
    Input(Input),
    Dump {
        checkers: Option<Snapshot>,
        reply: oneshot::Sender<String>,
    },
    Counters(oneshot::Sender<Option<CounterSnapshot>>),
    /// A reload: the new configuration and its policy; answered after the pass that
    /// applies it.
    Reload {
        config: Arc<Config>,
        policy: Policy,
        reply: oneshot::Sender<Applied>,
    },
    /// The reloaded configuration's checker mapping (for dumps). It follows its
    /// [`Cmd::Reload`]: mapping 36,800 checkers takes tens of milliseconds, and the IPVS
    /// change need not wait for it.
    Mapping(Arc<Mapping>),
    Stop {
        keep_rules: bool,
        reply: oneshot::Sender<()>,
    },
}

/// Sends inputs to the coordinator task. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LvsInput {
    tx: mpsc::Sender<Cmd>,
    preempt: Option<Preempt>,
}

impl LvsInput {
    /// Queues an input (waits while the queue is full). A VRRP state makes a periodic
    /// table read under way give way: a new MASTER gets its rules at once.
    pub async fn send(&self, input: Input) {
        let preempts = input.preempts();
        // A closed queue means the task stopped: nothing left to tell.
        let _ = self.tx.send(Cmd::Input(input)).await;
        // After the send: the pass that follows the abandon must find the input.
        if preempts && let Some(p) = &self.preempt {
            p.raise();
        }
    }
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cmd::Input(_) => "Input",
            Cmd::Dump { .. } => "Dump",
            Cmd::Counters(_) => "Counters",
            Cmd::Reload { .. } => "Reload",
            Cmd::Mapping(_) => "Mapping",
            Cmd::Stop { .. } => "Stop",
        })
    }
}

/// Reads the coordinator task's state. Cheap to clone; its answers wait behind the
/// inputs already queued.
#[derive(Clone, Debug)]
pub struct LvsReader {
    tx: mpsc::Sender<Cmd>,
}

impl LvsReader {
    /// The checker/IPVS state dump (keepalived's `/tmp/keepalived_check.data`).
    pub async fn dump(&self, checkers: Option<Snapshot>) -> Option<String> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Cmd::Dump { checkers, reply }).await.ok()?;
        rx.await.ok()
    }

    /// The coordinator's counters (`None` without IPVS).
    pub async fn counters(&self) -> Option<CounterSnapshot> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Cmd::Counters(reply)).await.ok()?;
        rx.await.ok().flatten()
    }
}

/// What the pass that applied a reload did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// IPVS operations sent (0 without IPVS).
    pub ops: u64,
    /// How long the pass took.
    pub took: Duration,
}

/// The running coordinator task.
#[derive(Debug)]
pub struct Lvs {
    tx: mpsc::Sender<Cmd>,
    task: JoinHandle<()>,
    /// Ends the coordinator's running pass at a stop (with a kernel).
    interrupt: Option<Interrupt>,
    /// Makes a periodic table read give way to a reload or a VRRP state (with a kernel).
    preempt: Option<Preempt>,
}

enum Backend {
    /// The kernel's table, through the reconciler.
    Kernel(Box<Reconciler>),
    /// No IPVS: the engine alone, for quorum and the dump.
    Model(Box<Engine>),
}

impl Backend {
    fn engine(&self) -> &Engine {
        match self {
            Backend::Kernel(r) => r.engine(),
            Backend::Model(e) => e,
        }
    }

    fn engine_mut(&mut self) -> &mut Engine {
        match self {
            Backend::Kernel(r) => r.engine_mut(),
            Backend::Model(e) => e,
        }
    }
}

struct Task {
    backend: Backend,
    notifier: Notifier,
    mapping: Arc<Mapping>,
    /// Virtual servers by identity, into `config.virtual_servers`.
    vs_index: HashMap<VsId, usize>,
    /// What the dump says about IPVS.
    ipvs_state: String,
    last_problems: Vec<Problem>,
    /// Where the ownership record lives (`None`: not kept).
    record: Option<PathBuf>,
    /// The record must be written after the next pass (start, reload).
    record_due: bool,
    /// Reloads waiting for the pass that applies them.
    reloads: Vec<oneshot::Sender<Applied>>,
    /// Operations sent before the last pass (counter), for [`Applied::ops`].
    ops_sent: u64,
}

impl Lvs {
    /// Starts the task. `ipvs`: the kernel's IPVS, or why there is none. `record`: the
    /// ownership record's file; a predecessor's record found there is claimed.
    pub async fn start(
        config: Arc<Config>,
        policy: Policy,
        ipvs: Result<IpvsHandle, String>,
        notifier: Notifier,
        mapping: Arc<Mapping>,
        record: Option<PathBuf>,
    ) -> Lvs {
        let mode = match policy.rules {
            RulesMode::FollowVip => "rules follow the VIP",
            RulesMode::Everywhere => "rules on every node",
        };
        let mut engine = Engine::new(config.clone(), policy);
        if ipvs.is_ok()
            && let Some(path) = &record
            && let Some(previous) = read_record(path).await
        {
            engine.owned_mut().claim_all(&previous);
        }
        let mut opts = ReconcilerOptions::from_config(&config);
        opts.period = config.global.lvs_reconcile_interval;
        let (backend, ipvs_state) = match ipvs {
            Ok(handle) => match Reconciler::start(handle, engine.clone(), opts).await {
                Ok(r) => {
                    tracing::info!("IPVS: available, {mode}");
                    (Backend::Kernel(Box::new(r)), format!("available, {mode}"))
                }
                Err(e) => {
                    tracing::error!(
                        "IPVS: {e}; no IPVS rules are installed, health checks and notify scripts still run"
                    );
                    (
                        Backend::Model(Box::new(engine)),
                        format!("not used: {e}; {mode}"),
                    )
                }
            },
            Err(why) => {
                tracing::error!(
                    "IPVS is not available: {why}; no IPVS rules are installed, health checks and notify scripts still run"
                );
                (
                    Backend::Model(Box::new(engine)),
                    format!("not available: {why}; {mode}"),
                )
            }
        };
        let vs_index = config
            .virtual_servers
            .iter()
            .enumerate()
            .map(|(i, vs)| (VsId::of(vs), i))
            .collect();
        let (interrupt, preempt) = match &backend {
            Backend::Kernel(r) => (Some(r.interrupt()), Some(r.preempt())),
            Backend::Model(_) => (None, None),
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = Task {
            backend,
            notifier,
            mapping,
            vs_index,
            ipvs_state,
            last_problems: Vec::new(),
            record,
            record_due: true,
            reloads: Vec::new(),
            ops_sent: 0,
        };
        Lvs {
            tx,
            task: tokio::spawn(task.run(rx)),
            interrupt,
            preempt,
        }
    }

    /// A sender for inputs.
    pub fn input(&self) -> LvsInput {
        LvsInput {
            tx: self.tx.clone(),
            preempt: self.preempt.clone(),
        }
    }

    /// A handle for the state dump and the counters.
    pub fn reader(&self) -> LvsReader {
        LvsReader {
            tx: self.tx.clone(),
        }
    }

    /// A reload: takes the new configuration and waits for the pass that applies it.
    pub async fn reload(&self, config: Arc<Config>, policy: Policy) -> Option<Applied> {
        let (reply, rx) = oneshot::channel();
        let cmd = Cmd::Reload {
            config,
            policy,
            reply,
        };
        self.tx.send(cmd).await.ok()?;
        // Queued: a periodic table read under way gives way to it.
        if let Some(p) = &self.preempt {
            p.raise();
        }
        rx.await.ok()
    }

    /// The checker mapping of the configuration last reloaded.
    pub async fn set_mapping(&self, mapping: Arc<Mapping>) {
        let _ = self.tx.send(Cmd::Mapping(mapping)).await;
    }

    /// The stop is coming: a pass under way (a table read takes seconds at 10,000
    /// services in an emulated VM) ends at its next chunk instead of delaying it. For good:
    /// only a stop follows.
    pub fn interrupt(&self) {
        if let Some(i) = &self.interrupt {
            i.raise();
        }
    }

    /// Stops: `omega` notifies, then our rules removed unless `keep_rules`. Returns when
    /// both are done.
    pub async fn stop(self, keep_rules: bool) {
        self.interrupt();
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Cmd::Stop { keep_rules, reply }).await.is_ok() {
            let _ = rx.await;
        }
        let _ = self.task.await;
    }
}

impl Task {
    fn config(&self) -> Arc<Config> {
        self.backend.engine().config().clone()
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let mut last_pass = self.timed_pass(true).await.unwrap_or_default();
        self.after_pass(last_pass).await;
        // The first pass sent the whole table in one batch: what it freed goes back to
        // the system. (After a reload, serve.rs does once reloads pause.)
        super::memory::release();
        loop {
            let wake = match &self.backend {
                Backend::Kernel(r) => r.next_wakeup(),
                // Nothing to read back without a kernel: wait for inputs only.
                Backend::Model(_) => Instant::now() + Duration::from_secs(3600),
            };
            let woke = tokio::select! {
                // Commands first: a stop must not wait for a periodic read that is due.
                biased;
                cmd = rx.recv() => {
                    let mut taken = match self.take(cmd, &mut rx) {
                        Ok(t) => t,
                        Err(stop) => return self.finish(stop).await,
                    };
                    // Health changes that arrive while a pass is being planned are taken
                    // together: with 10,000 services a pass costs milliseconds, and a
                    // mass failure sends hundreds of them a second. Gathering for a few
                    // times the last pass's cost bounds the share of time spent
                    // planning, and costs nothing when passes are cheap. A VRRP state
                    // change is never held back: a new master's rules go in at once.
                    let window = (last_pass * 4).min(MAX_GATHER);
                    if taken.health && !taken.urgent && window >= MIN_GATHER {
                        let until = Instant::now() + window;
                        while !taken.urgent {
                            tokio::select! {
                                cmd = rx.recv() => match self.take(cmd, &mut rx) {
                                    Ok(t) => taken.urgent |= t.urgent,
                                    Err(stop) => return self.finish(stop).await,
                                },
                                _ = tokio::time::sleep_until(until) => break,
                            }
                        }
                    }
                    false
                }
                _ = tokio::time::sleep_until(wake) => true,
            };
            // Only passes that did something tell what a pass costs.
            if let Some(t) = self.timed_pass(woke).await {
                last_pass = t;
                self.after_pass(t).await;
            }
        }
    }

    /// Takes `first` and every command already queued; `Err` when one of them stops.
    fn take(&mut self, first: Option<Cmd>, rx: &mut mpsc::Receiver<Cmd>) -> Result<Taken, Stop> {
        let mut taken = Taken::default();
        let mut next = first;
        loop {
            match next {
                // Every sender gone: the daemon is gone without a word.
                None => return Err((false, None)),
                Some(Cmd::Stop { keep_rules, reply }) => return Err((keep_rules, Some(reply))),
                Some(c) => {
                    match &c {
                        Cmd::Input(Input::Health { .. }) => taken.health = true,
                        Cmd::Input(_) | Cmd::Reload { .. } => taken.urgent = true,
                        _ => {}
                    }
                    self.accept(c);
                }
            }
            match rx.try_recv() {
                Ok(c) => next = Some(c),
                Err(_) => return Ok(taken),
            }
        }
    }

    async fn finish(self, (keep_rules, reply): Stop) {
        self.stop(keep_rules, reply).await;
    }

    /// Answers the reloads the pass applied, and writes the ownership record when due.
    async fn after_pass(&mut self, took: Duration) {
        let ops_before = self.ops_sent;
        self.ops_sent = self.counters().map_or(0, |c| c.ops());
        for r in self.reloads.drain(..) {
            let _ = r.send(Applied {
                ops: self.ops_sent - ops_before,
                took,
            });
        }
        if !std::mem::take(&mut self.record_due) {
            return;
        }
        if let (Backend::Kernel(r), Some(path)) = (&self.backend, &self.record) {
            write_record(path, r.engine().ownership_record()).await;
        }
    }

    fn counters(&self) -> Option<CounterSnapshot> {
        match &self.backend {
            Backend::Kernel(r) => Some(r.counters().snapshot()),
            Backend::Model(_) => None,
        }
    }

    /// A pass and what it cost; `None` when there was nothing to do.
    async fn timed_pass(&mut self, woke: bool) -> Option<Duration> {
        let t = Instant::now();
        self.pass(woke).await.then(|| t.elapsed())
    }

    fn accept(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Input(Input::Instance { name, role }) => {
                self.backend.engine_mut().set_role(&name, role)
            }
            Cmd::Input(Input::Health { rs, health }) => {
                self.backend.engine_mut().set_health(rs, health)
            }
            Cmd::Input(Input::Config { config, policy }) => {
                self.backend.engine_mut().set_config(config, policy)
            }
            Cmd::Input(Input::Reconcile) => {
                if let Backend::Kernel(r) = &mut self.backend {
                    r.request_read();
                }
            }
            // Only `run` takes a stop.
            Cmd::Input(Input::Shutdown { .. }) | Cmd::Stop { .. } => {}
            Cmd::Dump { checkers, reply } => {
                let text = check_dump::render(
                    self.backend.engine(),
                    &self.ipvs_state,
                    &self.mapping,
                    checkers.as_ref(),
                );
                let _ = reply.send(text);
            }
            Cmd::Counters(reply) => {
                let _ = reply.send(self.counters());
            }
            Cmd::Mapping(mapping) => self.mapping = mapping,
            Cmd::Reload {
                config,
                policy,
                reply,
            } => {
                self.vs_index = config
                    .virtual_servers
                    .iter()
                    .enumerate()
                    .map(|(i, vs)| (VsId::of(vs), i))
                    .collect();
                self.backend.engine_mut().set_config(config, policy);
                self.record_due = true;
                self.reloads.push(reply);
            }
        }
    }

    /// One pass when something changed or (with a kernel) a read is due; whether it ran.
    async fn pass(&mut self, woke: bool) -> bool {
        let events = match &mut self.backend {
            Backend::Kernel(r) => {
                if !woke && !r.engine().is_dirty() {
                    return false;
                }
                match r.reconcile().await {
                    Ok(report) => report.events,
                    Err(e) => {
                        tracing::error!("IPVS reconcile: {e}; retrying at the next period");
                        Vec::new()
                    }
                }
            }
            Backend::Model(e) => {
                if !e.is_dirty() {
                    return false;
                }
                let plan = e.plan(std::time::Instant::now(), None);
                if plan.recomputed && plan.problems != self.last_problems {
                    for p in &plan.problems {
                        tracing::warn!("IPVS configuration: {p}");
                    }
                    self.last_problems = plan.problems;
                }
                // The reconciler logs transitions itself; without it, say them here.
                for e in plan.events.iter().filter(|e| !e.initial) {
                    tracing::info!(
                        "virtual server {}: {} (weight {} against {}, quorum {} hysteresis {})",
                        e.vs,
                        if e.up { "gained quorum" } else { "lost quorum" },
                        e.weight,
                        e.threshold,
                        e.quorum,
                        e.hysteresis
                    );
                }
                plan.events
            }
        };
        for e in events {
            self.quorum_notify(&e);
        }
        true
    }

    /// `quorum_up` / `quorum_down`, also for keepalived's start-up notices ("Starting with
    /// quorum up" runs `quorum_up`).
    fn quorum_notify(&self, e: &QuorumEvent) {
        let cfg = self.config();
        let Some(vs) = self.vs_index.get(&e.vs).map(|i| &cfg.virtual_servers[*i]) else {
            return;
        };
        let (name, script) = if e.up {
            ("quorum_up", &vs.quorum_up)
        } else {
            ("quorum_down", &vs.quorum_down)
        };
        if let Some(s) = script {
            self.notifier
                .script(format!("{name} of virtual server {}", e.vs), s, &cfg.global);
        }
        notices::quorum(vs, e);
    }

    async fn stop(self, keep_rules: bool, reply: Option<oneshot::Sender<()>>) {
        let cfg = self.config();
        let jobs = omega_jobs(&cfg, self.backend.engine().health());
        let scripts = notify::run_within(jobs, notify::STOP_TIMEOUT);
        let rules = async {
            match self.backend {
                Backend::Kernel(r) if !keep_rules => {
                    let report = r.shutdown().await;
                    // Nothing of ours is left for a successor to claim.
                    if let Some(path) = &self.record
                        && report.failed == 0
                        && let Err(e) = tokio::fs::remove_file(path).await
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!("cannot remove {}: {e}", path.display());
                    }
                }
                Backend::Kernel(r) => {
                    if let Some(path) = &self.record {
                        write_record(path, r.engine().ownership_record()).await;
                    }
                    tracing::info!("IPVS: stopping, rules kept for the next start");
                }
                Backend::Model(_) => {}
            }
        };
        tokio::join!(scripts, rules);
        if let Some(r) = reply {
            let _ = r.send(());
        }
    }
}

/// Whether `rs` is alive for the coordinator: no checkers, or what they said, or (before
/// they said anything) up unless one of them is `alpha`.
pub fn alive(health: &Health, vs: &VirtualServer, rs: &RealServer) -> bool {
    if rs.checkers.is_empty() {
        return true;
    }
    match health.get(&RsId::of(vs, rs)) {
        Some(h) => h.up,
        None => !rs.checkers.iter().any(|c| c.timing.alpha),
    }
}

/// keepalived's `omega` at stop: `notify_down` of every alive real server, then
/// `quorum_down`, for each virtual server with `omega`.
fn omega_jobs(cfg: &Config, health: &Health) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut push = |what: String, s: &rk_config::model::Script| match Job::new(what, s, &cfg.global)
    {
        Ok(j) => jobs.push(j),
        Err(e) => tracing::error!("{e}"),
    };
    for vs in cfg.virtual_servers.iter().filter(|v| v.omega) {
        let id = VsId::of(vs);
        for rs in &vs.real_servers {
            if let Some(s) = &rs.notify_down
                && alive(health, vs, rs)
            {
                push(
                    format!("notify_down of real server {} (omega)", RsId::of(vs, rs)),
                    s,
                );
            }
        }
        if let Some(s) = &vs.quorum_down {
            push(format!("quorum_down of virtual server {id} (omega)"), s);
        }
    }
    jobs
}

/// `rs_init_notifies`: `notify_up` of every real server alive at start.
pub fn init_notifies(cfg: &Config, notifier: &Notifier) {
    if !cfg.global.rs_init_notifies {
        return;
    }
    let health = Health::new();
    for vs in &cfg.virtual_servers {
        for rs in &vs.real_servers {
            if let Some(s) = &rs.notify_up
                && alive(&health, vs, rs)
            {
                notifier.script(
                    format!("notify_up of real server {} (start)", RsId::of(vs, rs)),
                    s,
                    &cfg.global,
                );
            }
        }
    }
}

/// Reads a predecessor's ownership record; `None` when there is none or it cannot be
/// read (said in the log: its leftovers then stay, as foreign objects do).
async fn read_record(path: &Path) -> Option<Owned> {
    let text = match tokio::fs::read_to_string(path).await {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(
                "IPVS ownership record {}: {e}; nothing claimed",
                path.display()
            );
            return None;
        }
    };
    match Owned::from_record(&text) {
        Ok(o) => {
            tracing::info!(
                "IPVS: the previous run's record {} claims {} services and {} destinations as ours",
                path.display(),
                o.service_count(),
                o.dest_count()
            );
            Some(o)
        }
        Err(e) => {
            tracing::warn!(
                "IPVS ownership record {}: {e}; nothing claimed",
                path.display()
            );
            None
        }
    }
}

/// Writes the ownership record next to its final name and renames it, so a crash while
/// writing leaves the previous record whole.
async fn write_record(path: &Path, owned: Owned) {
    let path = path.to_path_buf();
    let result = tokio::task::spawn_blocking(move || {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, owned.to_record())?;
        std::fs::rename(&tmp, &path)
    })
    .await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("cannot write the IPVS ownership record: {e}"),
        Err(e) => tracing::warn!("cannot write the IPVS ownership record: {e}"),
    }
}
