//! The reconciler's state and decisions, without I/O: what to send, what a
//! result means, what is a drift repair. [`crate::Reconciler`] wraps it with
//! the netlink calls; tests drive it directly with synthetic kernel results.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Instant;

use rk_config::Config;
use rk_config::model::FlushOnStop;
use rk_ipvs::{DestinationEntry, IpvsError, IpvsOp, ServiceKey, Timeouts};

use crate::desired::{Desired, Inputs, Problem, desired};
use crate::diff::diff;
use crate::drain::{CountsRead, DrainBook, DrainEnd, DrainKey};
use crate::ids::{RsId, VsId};
use crate::inputs::{Health, InstanceRole, Ownership, Policy, RsHealth};
use crate::quorum::{QuorumEvent, QuorumStates};
use crate::table::{ActualTable, DesiredTable, Owned};

/// Why the kernel's table was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    /// The first read: the model was empty, nothing is a repair.
    First,
    /// The periodic read: anything that differs from the model is drift.
    Periodic,
    /// A read after a failed operation: the model is known to be off.
    AfterError,
}

/// What one pass decided.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Operations to send, in order.
    pub ops: Vec<IpvsOp>,
    /// For each operation, whether it repairs drift (the kernel changed
    /// behind our back since we last made it match).
    pub repair: Vec<bool>,
    /// Quorum transitions since the last pass.
    pub events: Vec<QuorumEvent>,
    /// The desired table was recomputed (an input changed).
    pub recomputed: bool,
    /// Configuration problems found by the recomputation.
    pub problems: Vec<Problem>,
    /// Drains that started.
    pub drains_started: Vec<DrainKey>,
    /// Drains that ended, and how.
    pub drains_ended: Vec<(DrainKey, DrainEnd)>,
}

/// What the results of a batch mean.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Operations that took effect (or were already in effect).
    pub applied: usize,
    /// Failed operations: index into the batch and the error text.
    pub failed: Vec<(usize, String)>,
    /// The model may be off: read the kernel's table again.
    pub need_dump: bool,
}

/// The coordinator's state: inputs, the desired table, the model of the
/// kernel's table, what is ours, what drains.
#[derive(Clone, Debug)]
pub struct Engine {
    config: Arc<Config>,
    policy: Policy,
    ownership: Ownership,
    health: Health,
    quorum: QuorumStates,
    desired: DesiredTable,
    /// The desired table before the last configuration change, until the
    /// next recomputation starts the drains it implies.
    before_reload: Option<DesiredTable>,
    dirty: bool,
    actual: ActualTable,
    observed: bool,
    owned: Owned,
    drains: DrainBook,
    /// Services whose connection counts were read since the last plan.
    counts_read: BTreeSet<ServiceKey>,
    original_timeouts: Option<Timeouts>,
}

impl Engine {
    /// A coordinator for `config` with nothing known about VRRP or health.
    pub fn new(config: Arc<Config>, policy: Policy) -> Engine {
        Engine {
            config,
            policy,
            ownership: Ownership::new(),
            health: Health::new(),
            quorum: QuorumStates::new(),
            desired: DesiredTable::default(),
            before_reload: None,
            dirty: true,
            actual: ActualTable::default(),
            observed: false,
            owned: Owned::new(),
            drains: DrainBook::new(),
            counts_read: BTreeSet::new(),
            original_timeouts: None,
        }
    }

    /// A reload: new configuration and policy. Health of real servers the
    /// new configuration still has carries over (by identity), as does the
    /// quorum state of the virtual servers it keeps.
    pub fn set_config(&mut self, config: Arc<Config>, policy: Policy) {
        let mut keep = rustc_hash::FxHashSet::default();
        keep.reserve(self.health.len());
        keep.extend(
            config
                .virtual_servers
                .iter()
                .flat_map(|vs| vs.real_servers.iter().map(move |rs| RsId::of(vs, rs))),
        );
        self.health.retain(|id| keep.contains(id));
        self.config = config;
        self.policy = policy;
        if self.before_reload.is_none() {
            self.before_reload = Some(self.desired.clone());
        }
        self.dirty = true;
    }

    /// Replace every instance state.
    pub fn set_ownership(&mut self, ownership: Ownership) {
        if ownership != self.ownership {
            self.ownership = ownership;
            self.dirty = true;
        }
    }

    /// One instance changed state (`None`: unknown again).
    pub fn set_role(&mut self, instance: &str, role: Option<InstanceRole>) {
        if self.ownership.role(instance) != role {
            match role {
                Some(r) => self.ownership.set(instance, r),
                None => self.ownership.forget(instance),
            }
            self.dirty = true;
        }
    }

    /// One real server's health changed (`None`: undecided again).
    pub fn set_health(&mut self, rs: RsId, health: Option<RsHealth>) {
        if self.health.get(&rs) != health {
            match health {
                Some(h) => self.health.set(rs, h),
                None => self.health.remove(&rs),
            }
            self.dirty = true;
        }
    }

    /// Whether an input changed since the last plan.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// VRRP states as last reported.
    pub fn ownership(&self) -> &Ownership {
        &self.ownership
    }

    /// Health as last reported.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Quorum states.
    pub fn quorum(&self) -> &QuorumStates {
        &self.quorum
    }

    /// The desired table as last computed.
    pub fn desired(&self) -> &DesiredTable {
        &self.desired
    }

    /// The model of the kernel's table.
    pub fn actual(&self) -> &ActualTable {
        &self.actual
    }

    /// What is ours.
    pub fn owned(&self) -> &Owned {
        &self.owned
    }

    /// Drains in progress.
    pub fn drains(&self) -> &DrainBook {
        &self.drains
    }

    /// The services whose connection counts drains wait for: reading just
    /// these (one destination dump each) between full reads lets a drain
    /// end soon after its last connection without dumping the whole table.
    pub fn draining_services(&self) -> BTreeSet<ServiceKey> {
        self.drains.services()
    }

    /// Take the connection counts of one service's destinations, just read
    /// from the kernel, into the model. Only counts: settings that drifted
    /// are left for the next full read to see (and repair).
    pub fn observe_counts(&mut self, service: ServiceKey, dests: &[DestinationEntry]) {
        let Some(s) = self.actual.services.get_mut(&service) else {
            return;
        };
        for e in dests {
            if let Some(d) = s.dests.get_mut(&e.dest.key) {
                d.active_conns = e.active_conns;
                d.inactive_conns = e.inactive_conns;
            }
        }
        self.counts_read.insert(service);
    }

    /// What to write down as ours for the next process (see `record.rs`): what we own
    /// that the kernel still has (as last read or changed), plus everything the
    /// configuration describes, installed or not: a real server that is down now is still
    /// ours if it comes back before the next record. Sync daemons while configured.
    pub fn ownership_record(&self) -> Owned {
        let mut rec = Owned::new();
        for (key, a) in &self.actual.services {
            if !self.owned.has_service(key) {
                continue;
            }
            rec.claim_service(*key);
            for d in self.owned.dests_of(key) {
                if a.dests.contains_key(d) {
                    rec.claim_dest(*key, *d);
                }
            }
        }
        for (key, c) in &self.desired.configured {
            rec.claim_service(*key);
            for d in &c.dests {
                rec.claim_dest(*key, *d);
            }
        }
        if self.desired.daemons.is_some() {
            for role in self.owned.daemons() {
                rec.claim_daemon(role);
            }
        }
        rec
    }

    /// Mark objects as ours from outside (e.g. a persisted list from the
    /// previous run, so its leftovers can be removed).
    pub fn owned_mut(&mut self) -> &mut Owned {
        &mut self.owned
    }

    /// Plan a pass. `fresh` is the kernel's table if it was just read (with
    /// its daemons and timeouts), else the model is used.
    pub fn plan(&mut self, now: Instant, fresh: Option<(ActualTable, Observation)>) -> Plan {
        let mut plan = Plan::default();
        if self.dirty {
            self.recompute(now, &mut plan);
        }
        let (fresh_table, kind) = match fresh {
            Some((t, k)) => (Some(t), Some(k)),
            None => (None, None),
        };
        if let Some(t) = &fresh_table
            && self.original_timeouts.is_none()
        {
            self.original_timeouts = t.timeouts;
        }
        let current = fresh_table.as_ref().unwrap_or(&self.actual);
        self.owned.adopt(&self.desired, current);
        let read = match kind {
            Some(_) => CountsRead::All,
            None => CountsRead::Services(&self.counts_read),
        };
        let (effective, ended) =
            self.drains
                .overlay(&self.desired, current, &self.owned, now, read);
        let ops = diff(&effective, current, &self.owned);
        plan.repair = if kind == Some(Observation::Periodic) && self.observed {
            // What the model says is left to do; anything beyond is drift.
            let expected: HashSet<IpvsOp> = diff(&effective, &self.actual, &self.owned)
                .into_iter()
                .collect();
            ops.iter().map(|op| !expected.contains(op)).collect()
        } else {
            vec![false; ops.len()]
        };
        plan.drains_ended = ended;
        drop(effective);
        if let Some(t) = fresh_table {
            self.actual = t;
            self.observed = true;
        }
        self.counts_read.clear();
        plan.ops = ops;
        plan
    }

    fn recompute(&mut self, now: Instant, plan: &mut Plan) {
        let inputs = Inputs {
            config: &self.config,
            ownership: &self.ownership,
            health: &self.health,
            policy: &self.policy,
        };
        let Desired {
            table,
            quorum,
            events,
            problems,
        } = desired(&inputs, &self.quorum);
        if let Some(old) = self.before_reload.take() {
            let (started, _cancelled) =
                self.drains
                    .config_changed(&old, &table, &self.actual, &self.owned, now);
            plan.drains_started = started;
        }
        self.desired = table;
        self.quorum = quorum;
        plan.recomputed = true;
        plan.events = events;
        plan.problems = problems;
        self.dirty = false;
    }

    /// Take a batch's results into the model: what succeeded (or was
    /// already done) is applied to the model and to what is ours.
    pub fn record(&mut self, ops: &[IpvsOp], results: &[Result<(), IpvsError>]) -> Recorded {
        let mut rec = Recorded::default();
        for (i, (op, result)) in ops.iter().zip(results).enumerate() {
            match result {
                Ok(()) => {}
                Err(e) if e.is_already_done(op) => {}
                Err(e) => {
                    // E.g. an edit of a destination deleted behind our back
                    // (keepalived then adds it): the next dump shows the
                    // truth and the next diff adds it.
                    rec.failed.push((i, e.to_string()));
                    rec.need_dump = true;
                    continue;
                }
            }
            rec.applied += 1;
            self.actual.apply(op);
            self.owned.record(op);
        }
        // `apply` answers once per operation; a short answer is a bug there,
        // but an unanswered operation's effect is unknown: read the kernel.
        if results.len() < ops.len() {
            rec.need_dump = true;
        }
        rec
    }

    /// The operations that remove everything ours, for a clean stop:
    /// `lvs_flush_on_stop` flushes the whole table; otherwise each service
    /// of ours is deleted (the kernel deletes its destinations with it).
    /// Sync daemons we run are stopped and the connection timeouts we
    /// changed are restored, as keepalived does.
    pub fn shutdown_ops(&self, flush_on_stop: FlushOnStop) -> Vec<IpvsOp> {
        let mut ops: Vec<IpvsOp> = match flush_on_stop {
            FlushOnStop::All => vec![IpvsOp::Flush],
            FlushOnStop::No | FlushOnStop::VirtualServers => self
                .owned
                .services()
                .map(|k| IpvsOp::DelService(*k))
                .collect(),
        };
        ops.extend(
            self.owned
                .daemons()
                .filter(|r| self.actual.daemons.contains_key(r))
                .map(IpvsOp::StopDaemon),
        );
        if let (Some(orig), Some(_)) = (self.original_timeouts, self.desired.timeouts)
            && self.actual.timeouts != Some(orig)
        {
            ops.push(IpvsOp::SetTimeouts(orig));
        }
        ops
    }

    /// The virtual servers of the configuration, for status output.
    pub fn virtual_servers(&self) -> impl Iterator<Item = VsId> + '_ {
        self.config.virtual_servers.iter().map(VsId::of)
    }
}
