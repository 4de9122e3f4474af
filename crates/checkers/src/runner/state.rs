//! The runner's bookkeeping, without tokio: which probes exist, which state machines share
//! them, which checkers subscribe, when each machine is due, and what to tell the
//! coordinator after each result. The async driver (`runner/mod.rs`) only starts the probes
//! this module asks for and feeds their reports back.
//!
//! # Deduplication rule
//!
//! - A **group** is one distinct [`ProbeSpec`] (same type, target, binding, timeout and
//!   parameters). A probe run belongs to its group and its result goes to every state
//!   machine waiting on it.
//! - Within a group, a **state machine** is shared by all checkers with the same
//!   [`FsmConfig`] (timing, retry, alpha): given the same results their machines would move
//!   in lock-step, so one machine with N subscribers is exactly equivalent, and the group
//!   runs once per period however many virtual servers use the real server (keepalived
//!   issues #2111, #1495, #2358).
//! - Checkers with the same probe but different timing keep their own machines (their
//!   retry and period semantics differ); they still share runs: a machine that becomes due
//!   while its group's probe for the same URL is in flight waits for that run instead of
//!   starting another.
//! - Each checker remembers what was last reported for it; after every result its machine's
//!   state is compared with that and an event is sent on a difference. This is
//!   level-triggered, so a checker joining an existing machine (at a reload) is told the
//!   machine's state at once if it differs from its own.
//!
//! # Suspension (`ha_suspend`)
//!
//! A suspended checker (see [`State::set_suspended`]) is frozen: nothing is reported for
//! it, and what was last reported stays. A machine all of whose checkers are suspended
//! starts no probe: when it falls due it only moves its due time one `delay_loop` on,
//! which is keepalived's disabled checker thread re-arming itself (`tcp_connect_thread`
//! and its siblings), so on resume it probes at its next tick with its up/down state,
//! retry count and URL position unchanged. A result that arrives for such a machine
//! (a probe in flight when the suspension came) is dropped. A machine shared with
//! checkers that are not suspended runs on for them; a suspended checker of it picks up
//! the machine's state at the first result after its resume. FILE_CHECK is never
//! suspended: keepalived's `check_file.c` ignores `ha_suspend`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::event::{CheckerEvent, CheckerStatus, EventKind, RunnerStats};
use crate::fsm::{CheckerFsm, FsmConfig, Jitter, Outcome, Transition};
use crate::probe::tls::ClientIdentity;
use crate::probe::{
    DynamicWeight, FileSpec, PreparedProbe, ProbeError, ProbeReport, ProbeSpec, SpecError,
};
use crate::spec::{CheckerId, CheckerSpec, RealServerId};

/// Index of a probe group.
pub type GroupId = u64;
type CohortId = u64;

/// What decides a machine's state.
#[derive(Debug, Clone)]
enum Engine {
    /// keepalived's retry logic.
    Fsm(CheckerFsm),
    /// FILE_CHECK: the last result is the state.
    Direct { up: bool, has_run: bool },
}

impl Engine {
    fn is_up(&self) -> bool {
        match self {
            Engine::Fsm(f) => f.is_up(),
            Engine::Direct { up, .. } => *up,
        }
    }
    fn has_run(&self) -> bool {
        match self {
            Engine::Fsm(f) => f.has_run(),
            Engine::Direct { has_run, .. } => *has_run,
        }
    }
}

/// One state machine and its subscribers.
#[derive(Debug)]
struct Cohort {
    group: GroupId,
    cfg: Option<FsmConfig>,
    engine: Engine,
    subs: Vec<CheckerId>,
    weight: Option<DynamicWeight>,
    /// Timer generation: a heap entry with another generation is stale.
    epoch: u64,
    /// Waiting for a probe result.
    pending: bool,
    runs: u64,
    failures: u64,
    last_latency: Option<Duration>,
    last_error: Option<ProbeError>,
}

#[derive(Debug)]
struct Group {
    prepared: PreparedProbe,
    cohorts: Vec<CohortId>,
    /// URL index → machines waiting for the run in flight.
    inflight: HashMap<usize, Vec<CohortId>>,
    /// A tracked file changed while it was being read: read it again afterwards.
    dirty: bool,
}

#[derive(Debug)]
struct Sub {
    real_server: RealServerId,
    group: GroupId,
    cohort: CohortId,
    reported_up: bool,
    reported_weight: Option<DynamicWeight>,
    transitions: u64,
    /// `ha_suspend`: frozen, nothing reported (see the module docs).
    suspended: bool,
    /// `log_all_failures`: every failed attempt while up is logged.
    log_all_failures: bool,
}

/// A probe run the driver must start.
#[derive(Debug, Clone)]
pub struct StartProbe {
    /// Its group.
    pub group: GroupId,
    /// The URL to fetch (HTTP), else 0.
    pub url: usize,
    /// The probe.
    pub probe: PreparedProbe,
}

/// The result of [`State::apply`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Checkers that did not exist.
    pub added: usize,
    /// Checkers kept unchanged.
    pub kept: usize,
    /// Checkers whose timing or probe changed (state carried over when the probe is equal).
    pub changed: usize,
    /// Checkers removed.
    pub removed: usize,
    /// Specs rejected (the checker is absent until a valid spec comes).
    pub errors: Vec<(CheckerId, SpecError)>,
}

/// Everything the driver must do after an apply.
#[derive(Debug, Default)]
pub struct ApplyOutcome {
    /// Summary for the caller.
    pub report: ApplyReport,
    /// Events for the coordinator.
    pub events: Vec<CheckerEvent>,
    /// Probe runs to start now (first reads of tracked files).
    pub start: Vec<StartProbe>,
    /// Groups that no longer exist: abort their runs.
    pub removed_groups: Vec<GroupId>,
    /// Tracked files to watch (new FILE_CHECK groups).
    pub watch: Vec<(GroupId, std::path::PathBuf)>,
    /// Tracked files no longer watched.
    pub unwatch: Vec<std::path::PathBuf>,
}

/// The runner's state.
pub struct State {
    groups: HashMap<GroupId, Group>,
    by_spec: HashMap<ProbeSpec, GroupId>,
    cohorts: HashMap<CohortId, Cohort>,
    subs: HashMap<CheckerId, Sub>,
    timers: BinaryHeap<Reverse<(Instant, CohortId, u64)>>,
    next_id: u64,
    probes_started: u64,
    jitter: Box<dyn Jitter + Send>,
    /// Checkers to suspend, configured or not (see [`State::set_suspended`]).
    suspended: HashSet<CheckerId>,
    /// Checkers that log every failure (see [`State::set_log_all_failures`]).
    log_all: HashSet<CheckerId>,
    /// The client certificate SSL_GET presents (see [`State::set_tls_client`]).
    tls_client: Option<ClientIdentity>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("groups", &self.groups.len())
            .field("cohorts", &self.cohorts.len())
            .field("checkers", &self.subs.len())
            .finish_non_exhaustive()
    }
}

impl State {
    /// An empty state drawing warmup delays from `jitter`.
    pub fn new(jitter: Box<dyn Jitter + Send>) -> Self {
        State {
            groups: HashMap::new(),
            by_spec: HashMap::new(),
            cohorts: HashMap::new(),
            subs: HashMap::new(),
            timers: BinaryHeap::new(),
            next_id: 1,
            probes_started: 0,
            jitter,
            suspended: HashSet::new(),
            log_all: HashSet::new(),
            tls_client: None,
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn arm(&mut self, cid: CohortId, now: Instant) {
        if let Some(c) = self.cohorts.get_mut(&cid)
            && let Engine::Fsm(f) = &c.engine
        {
            c.epoch += 1;
            self.timers.push(Reverse((f.next_run(now), cid, c.epoch)));
        }
    }

    fn detach(&mut self, id: CheckerId) -> Option<Sub> {
        let sub = self.subs.remove(&id)?;
        if let Some(c) = self.cohorts.get_mut(&sub.cohort) {
            c.subs.retain(|s| *s != id);
        }
        Some(sub)
    }

    /// Makes the configured set of checkers equal to `specs`, carrying state over by
    /// checker identity: an unchanged checker keeps everything; one whose probe is equal
    /// but whose timing changed keeps its up/down state (keepalived's `migrate_checkers`);
    /// one whose probe changed starts afresh but keeps what was reported for it, so the
    /// coordinator hears of a change only when the new probe disagrees.
    pub fn apply(&mut self, now: Instant, specs: Vec<CheckerSpec>) -> ApplyOutcome {
        let mut out = ApplyOutcome::default();
        let wanted: HashSet<CheckerId> = specs.iter().map(|s| s.id).collect();
        let stale: Vec<CheckerId> = self
            .subs
            .keys()
            .filter(|id| !wanted.contains(id))
            .copied()
            .collect();
        for id in stale {
            self.detach(id);
            out.report.removed += 1;
        }
        let mut seen = HashSet::new();
        for spec in specs {
            if !seen.insert(spec.id) {
                out.report.errors.push((
                    spec.id,
                    SpecError::Command(format!("duplicate checker id {}", spec.id.0)),
                ));
                continue;
            }
            self.upsert(now, spec, &mut out);
        }
        self.collect_garbage(&mut out);
        out
    }

    fn upsert(&mut self, now: Instant, spec: CheckerSpec, out: &mut ApplyOutcome) {
        let is_file = matches!(spec.probe, ProbeSpec::File(_));
        let cfg = (!is_file).then(|| spec.fsm_config());
        let mut carried = None;
        let mut migrate_from = None;
        if let Some(s) = self.subs.get_mut(&spec.id) {
            let same_probe = self
                .groups
                .get(&s.group)
                .is_some_and(|g| g.prepared.spec() == &spec.probe);
            let cohort = self.cohorts.get(&s.cohort);
            if same_probe && cohort.is_some_and(|c| c.cfg == cfg) {
                s.real_server = spec.real_server;
                out.report.kept += 1;
                return;
            }
            if same_probe && let Some(Engine::Fsm(f)) = cohort.map(|c| &c.engine) {
                migrate_from = Some(f.clone());
            }
            carried = self
                .detach(spec.id)
                .map(|s| (s.reported_up, s.reported_weight, s.transitions));
            out.report.changed += 1;
        } else {
            out.report.added += 1;
        }

        let mut new_group = false;
        let gid = match self.by_spec.get(&spec.probe) {
            Some(g) => *g,
            None => match PreparedProbe::with_client(&spec.probe, self.tls_client.as_ref()) {
                Err(e) => {
                    out.report.errors.push((spec.id, e));
                    return;
                }
                Ok(prepared) => {
                    let gid = self.id();
                    if let ProbeSpec::File(f) = &spec.probe {
                        out.watch.push((gid, f.path.clone()));
                    }
                    let group = Group {
                        prepared,
                        cohorts: vec![],
                        inflight: HashMap::new(),
                        dirty: false,
                    };
                    self.groups.insert(gid, group);
                    self.by_spec.insert(spec.probe.clone(), gid);
                    new_group = true;
                    gid
                }
            },
        };

        let existing = self.groups[&gid]
            .cohorts
            .iter()
            .copied()
            .find(|c| self.cohorts[c].cfg == cfg);
        let cid = match existing {
            Some(c) => c,
            None => {
                let engine = match (cfg, migrate_from) {
                    (None, _) => Engine::Direct {
                        up: true,
                        has_run: false,
                    },
                    (Some(cfg), Some(old)) => Engine::Fsm(CheckerFsm::migrated(cfg, &old, now)),
                    (Some(cfg), None) => Engine::Fsm(CheckerFsm::new(cfg, now, &mut *self.jitter)),
                };
                let cid = self.id();
                let cohort = Cohort {
                    group: gid,
                    cfg,
                    engine,
                    subs: vec![],
                    weight: None,
                    epoch: 0,
                    pending: false,
                    runs: 0,
                    failures: 0,
                    last_latency: None,
                    last_error: None,
                };
                self.cohorts.insert(cid, cohort);
                if let Some(g) = self.groups.get_mut(&gid) {
                    g.cohorts.push(cid);
                }
                self.arm(cid, now);
                cid
            }
        };
        if is_file && new_group {
            // A tracked file is read at once; its machine waits on that read.
            out.start.extend(self.trigger(gid));
        }

        let (reported_up, reported_weight, transitions) =
            carried.unwrap_or((is_file || !spec.timing.alpha, None, 0));
        let mut sub = Sub {
            real_server: spec.real_server,
            group: gid,
            cohort: cid,
            reported_up,
            reported_weight,
            transitions,
            suspended: !is_file && self.suspended.contains(&spec.id),
            log_all_failures: self.log_all.contains(&spec.id),
        };
        if let Some(cohort) = self.cohorts.get_mut(&cid) {
            cohort.subs.push(spec.id);
            sync(spec.id, &mut sub, cohort, None, &mut out.events);
        }
        self.subs.insert(spec.id, sub);
    }

    fn collect_garbage(&mut self, out: &mut ApplyOutcome) {
        let empty: Vec<CohortId> = self
            .cohorts
            .iter()
            .filter(|(_, c)| c.subs.is_empty())
            .map(|(id, _)| *id)
            .collect();
        for cid in empty {
            let Some(c) = self.cohorts.remove(&cid) else {
                continue;
            };
            let Some(g) = self.groups.get_mut(&c.group) else {
                continue;
            };
            g.cohorts.retain(|x| *x != cid);
            for waiters in g.inflight.values_mut() {
                waiters.retain(|x| *x != cid);
            }
            if g.cohorts.is_empty() {
                let gid = c.group;
                if let Some(g) = self.groups.remove(&gid) {
                    self.by_spec.remove(g.prepared.spec());
                    if let ProbeSpec::File(f) = g.prepared.spec() {
                        out.unwatch.push(f.path.clone());
                    }
                }
                out.removed_groups.push(gid);
                out.start.retain(|s| s.group != gid);
                out.watch.retain(|(g, _)| *g != gid);
            }
        }
    }

    /// When the earliest machine is due.
    pub fn next_timer(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Pops the machines due at `now` and returns the probe runs to start: one per group
    /// and URL, however many machines are due on it.
    pub fn fire(&mut self, now: Instant) -> Vec<StartProbe> {
        let mut start = vec![];
        while let Some(Reverse((due, cid, epoch))) = self.timers.peek().copied() {
            if due > now {
                break;
            }
            self.timers.pop();
            let Some(c) = self.cohorts.get_mut(&cid) else {
                continue;
            };
            if c.epoch != epoch || c.pending {
                continue;
            }
            // The set is empty unless ha_suspend is in use: skip the lookups then.
            let suspended = !self.suspended.is_empty() && all_suspended(&self.subs, c);
            let Engine::Fsm(f) = &mut c.engine else {
                continue;
            };
            if suspended {
                // keepalived's disabled checker: no probe, the next tick one delay_loop on.
                f.on_suspended(now);
                c.epoch += 1;
                self.timers.push(Reverse((f.next_run(now), cid, c.epoch)));
                continue;
            }
            let url = f.current_url();
            c.pending = true;
            let Some(g) = self.groups.get_mut(&c.group) else {
                continue;
            };
            match g.inflight.get_mut(&url) {
                Some(waiters) => waiters.push(cid),
                None => {
                    g.inflight.insert(url, vec![cid]);
                    self.probes_started += 1;
                    start.push(StartProbe {
                        group: c.group,
                        url,
                        probe: g.prepared.clone(),
                    });
                }
            }
        }
        start
    }

    /// A tracked file changed: re-read it unless a read is already under way.
    pub fn trigger(&mut self, group: GroupId) -> Option<StartProbe> {
        let g = self.groups.get_mut(&group)?;
        if g.inflight.contains_key(&0) {
            g.dirty = true;
            return None;
        }
        g.inflight.insert(0, g.cohorts.clone());
        for cid in &g.cohorts {
            if let Some(c) = self.cohorts.get_mut(cid) {
                c.pending = true;
            }
        }
        self.probes_started += 1;
        Some(StartProbe {
            group,
            url: 0,
            probe: g.prepared.clone(),
        })
    }

    /// After a report: the re-read of a tracked file that changed during the last read.
    pub fn retrigger(&mut self, group: GroupId) -> Option<StartProbe> {
        let g = self.groups.get_mut(&group)?;
        if !std::mem::take(&mut g.dirty) {
            return None;
        }
        self.trigger(group)
    }

    /// The FILE_CHECK groups whose file is `changed` (a path reported by the watcher).
    pub fn file_groups(&self, changed: &Path) -> Vec<GroupId> {
        self.groups
            .iter()
            .filter(|(_, g)| matches!(g.prepared.spec(), ProbeSpec::File(FileSpec { path, .. }) if super::watch::same_file(path, changed)))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Feeds a probe report to every machine waiting on it; returns the events to send.
    pub fn on_report(
        &mut self,
        now: Instant,
        group: GroupId,
        url: usize,
        report: ProbeReport,
    ) -> Vec<CheckerEvent> {
        let mut events = vec![];
        let Some(g) = self.groups.get_mut(&group) else {
            return events;
        };
        let waiters = g.inflight.remove(&url).unwrap_or_default();
        for cid in waiters {
            let Some(c) = self.cohorts.get_mut(&cid) else {
                continue;
            };
            c.pending = false;
            if !self.suspended.is_empty()
                && all_suspended(&self.subs, c)
                && let Engine::Fsm(f) = &mut c.engine
            {
                // Started before the suspension: dropped, the machine stays as it was.
                f.on_suspended(now);
                self.arm(cid, now);
                continue;
            }
            if let (Err(e @ ProbeError::Setup(_)), Engine::Fsm(f)) = (&report.result, &mut c.engine)
            {
                // Not a verdict on the real server (see CheckerFsm::on_skipped).
                tracing::warn!(group, error = %e, "probe could not run; rescheduling");
                f.on_skipped(now);
                c.last_error = Some(e.clone());
                self.arm(cid, now);
                continue;
            }
            c.runs += 1;
            c.last_latency = Some(report.latency);
            let success = report.result.is_ok();
            let outcome = Outcome {
                success,
                started: report.started,
            };
            // keepalived logs a failed attempt under log_all_failures only while the
            // checker is up (TCP, UDP, PING) or also before its first verdict (the rest).
            let kind = self.groups.get(&group).map(|g| g.prepared.spec());
            let logs_failure = !success
                && c.cfg.is_some()
                && (c.engine.is_up()
                    || (!c.engine.has_run()
                        && !matches!(
                            kind,
                            Some(ProbeSpec::Tcp(_) | ProbeSpec::Udp(_) | ProbeSpec::Ping(_))
                        )));
            let transition = if let Engine::Fsm(f) = &mut c.engine {
                f.on_result(now, outcome)
            } else {
                let changed = c.engine.is_up() != success;
                c.engine = Engine::Direct {
                    up: success,
                    has_run: true,
                };
                changed.then_some(if success {
                    Transition::Up
                } else {
                    Transition::Down
                })
            };
            match &report.result {
                Ok(ok) => {
                    if let Some(w) = ok.weight {
                        c.weight = Some(w);
                    }
                }
                Err(e) => {
                    c.failures += 1;
                    c.last_error = Some(e.clone());
                }
            }
            if !c.engine.is_up() {
                c.weight = None;
            }
            if let Some(t) = transition {
                tracing::debug!(group, ?t, result = ?report.result, "checker state change");
            }
            if logs_failure && let (Err(e), Some(spec)) = (&report.result, kind) {
                log_failure(&self.subs, c, spec, e, transition);
            }
            let reason = report.result.as_ref().err();
            for id in c.subs.clone() {
                if let Some(sub) = self.subs.get_mut(&id) {
                    let before = events.len();
                    sync(id, sub, c, reason, &mut events);
                    for e in &mut events[before..] {
                        e.latency = Some(report.latency);
                    }
                }
            }
            self.arm(cid, now);
        }
        events
    }

    /// Status of every checker and runner-wide figures.
    pub fn snapshot(&self) -> (Vec<CheckerStatus>, RunnerStats) {
        let mut list: Vec<CheckerStatus> = self
            .subs
            .iter()
            .filter_map(|(id, s)| {
                let c = self.cohorts.get(&s.cohort)?;
                let g = self.groups.get(&s.group)?;
                Some(CheckerStatus {
                    checker: *id,
                    real_server: s.real_server,
                    kind: g.prepared.spec().kind(),
                    up: s.reported_up,
                    has_run: c.engine.has_run(),
                    runs: c.runs,
                    failures: c.failures,
                    transitions: s.transitions,
                    last_latency: c.last_latency,
                    last_error: c.last_error.clone(),
                    shared_by: g
                        .cohorts
                        .iter()
                        .filter_map(|x| self.cohorts.get(x))
                        .map(|x| x.subs.len())
                        .sum(),
                    suspended: s.suspended,
                })
            })
            .collect();
        list.sort_by_key(|s| s.checker);
        let stats = RunnerStats {
            checkers: self.subs.len(),
            probes: self.groups.len(),
            state_machines: self.cohorts.len(),
            probes_started: self.probes_started,
            suspended: self.subs.values().filter(|s| s.suspended).count(),
        };
        (list, stats)
    }
}

/// Tells the coordinator whatever differs between what was reported for `id` and its
/// machine's state. Before the machine's first verdict the checker keeps its start state.
fn sync(
    id: CheckerId,
    sub: &mut Sub,
    c: &Cohort,
    reason: Option<&ProbeError>,
    events: &mut Vec<CheckerEvent>,
) {
    if !c.engine.has_run() || (sub.suspended && c.cfg.is_some()) {
        return;
    }
    let up = c.engine.is_up();
    let mut push = |kind| {
        events.push(CheckerEvent {
            checker: id,
            real_server: sub.real_server,
            kind,
            reason: None,
            latency: None,
        });
    };
    if up {
        // No dynamic weight, "back to the configured weight" and an offset of 0 are the
        // same thing: no event between them.
        let norm = |w: Option<DynamicWeight>| match w {
            None | Some(DynamicWeight::Offset(0)) => DynamicWeight::Configured,
            Some(w) => w,
        };
        let w = norm(c.weight);
        if norm(sub.reported_weight) != w {
            sub.reported_weight = Some(w);
            push(EventKind::Weight(w));
        }
        if !sub.reported_up {
            sub.reported_up = true;
            sub.transitions += 1;
            push(EventKind::Up);
        }
    } else {
        sub.reported_weight = None;
        if sub.reported_up {
            sub.reported_up = false;
            sub.transitions += 1;
            events.push(CheckerEvent {
                checker: id,
                real_server: sub.real_server,
                kind: EventKind::Down,
                reason: reason.cloned(),
                latency: None,
            });
        }
    }
}

#[path = "settings.rs"]
mod settings;
pub use settings::{SuspendReport, TlsReport};
use settings::{all_suspended, log_failure};

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
