//! The apply loop: read the kernel's table, plan with the [`Engine`], send
//! the operations in batches, trust the kernel. The table is read again
//! after any refused operation and periodically, so drift (a destination
//! deleted with `ipvsadm -d`) is repaired within one period.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rk_config::Config;
use rk_config::model::FlushOnStop;
use rk_ipvs::{IpvsHandle, IpvsOp};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::counters::Counters;
use crate::desired::Problem;
use crate::drain::DrainEnd;
use crate::engine::{Engine, Observation, Plan};
use crate::error::CoordinatorError;
use crate::ids::RsId;
use crate::inputs::{InstanceRole, Policy, RsHealth};
use crate::kernel::IpvsKernel;
use crate::quorum::QuorumEvent;
use crate::table::ActualTable;

/// Operations sent between two looks at [`Interrupt`]: small enough that a stop does not
/// wait for a whole first pass (60,000 operations at 10,000 services × 5), large enough
/// to keep the kernel's batches full.
const SEND_CHUNK: usize = 4096;

/// A flag a pass can wait on while it reads the table.
#[derive(Clone, Debug, Default)]
struct Flag(Arc<(AtomicBool, Notify)>);

impl Flag {
    fn raise(&self) {
        self.0.0.store(true, Ordering::SeqCst);
        self.0.1.notify_waiters();
    }

    /// Lowers it; whether it was raised.
    fn lower(&self) -> bool {
        self.0.0.swap(false, Ordering::SeqCst)
    }

    fn is_raised(&self) -> bool {
        self.0.0.load(Ordering::SeqCst)
    }

    /// Returns once it is raised.
    async fn raised(&self) {
        loop {
            let notified = self.0.1.notified();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }
}

/// Ends a pass early, for a stop that must not wait for it: raised, a pass abandons the
/// table read it is waiting for and sends no more chunks of its plan (what was sent is
/// recorded, so a shutdown still knows everything that is ours). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Interrupt(Flag);

impl Interrupt {
    /// Not raised.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Raise it (for good: the reconciler is about to be shut down).
    pub fn raise(&self) {
        self.0.raise();
    }

    /// Whether it was raised.
    pub fn is_raised(&self) -> bool {
        self.0.is_raised()
    }
}

/// Makes a *periodic* table read under way give way to a change that must go out at once:
/// a reload, or a VRRP state (a new MASTER needs its rules now). At 2,300 services × 16
/// destinations the read takes over 3 s in an emulated VM, and a reload that came during it
/// waited for it. Raised, the read is abandoned and its pass ends; the next pass plans the
/// change against the model and sends it, and the table is read right after that (see
/// `Reconciler::reconcile` for the bound that keeps drift repair from starving).
///
/// Raise it *after* queuing the input, so that the pass following the abandon finds the
/// input. Unlike [`Interrupt`] it is re-armable: the reconciler lowers it when it abandons
/// a read and when a pass starts (inputs are taken before a pass, so what raised it before
/// then is in that pass). [`Reconciler::run`] raises it itself. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Preempt(Flag);

impl Preempt {
    /// Not raised.
    pub fn new() -> Preempt {
        Preempt::default()
    }

    /// Raise it: a preempting input ([`Input::preempts`]) was just queued.
    pub fn raise(&self) {
        self.0.raise();
    }

    /// Whether it is raised (not yet taken by a pass).
    pub fn is_raised(&self) -> bool {
        self.0.is_raised()
    }
}

/// Default reconcile period: how long drift can last (issue 7 asks ≤ 10 s).
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(5);

/// How often the connection counts of draining services are read (one
/// destination dump per draining service, not the whole table).
pub const DEFAULT_DRAIN_POLL: Duration = Duration::from_secs(1);

/// Reconciler settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcilerOptions {
    /// Read the kernel's table this often and repair what drifted.
    pub period: Duration,
    /// Read the connection counts of draining services this often.
    pub drain_poll: Duration,
    /// `lvs_flush`: flush the whole table before the first pass.
    pub flush_on_start: bool,
    /// `lvs_flush_on_stop`.
    pub flush_on_stop: FlushOnStop,
}

impl Default for ReconcilerOptions {
    fn default() -> Self {
        ReconcilerOptions {
            period: DEFAULT_PERIOD,
            drain_poll: DEFAULT_DRAIN_POLL,
            flush_on_start: false,
            flush_on_stop: FlushOnStop::No,
        }
    }
}

impl ReconcilerOptions {
    /// Defaults with `lvs_flush` and `lvs_flush_on_stop` from `config`.
    pub fn from_config(config: &Config) -> ReconcilerOptions {
        ReconcilerOptions {
            flush_on_start: config.global.lvs_flush,
            flush_on_stop: config.global.lvs_flush_on_stop,
            ..ReconcilerOptions::default()
        }
    }
}

/// What one [`Reconciler::reconcile`] call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    /// The kernel's table was read.
    pub read: bool,
    /// A periodic read gave way to a preempting input ([`Preempt`]): the pass ended
    /// there, and the next one sends the change and then reads.
    pub abandoned: bool,
    /// Operations sent (retries after a refusal included).
    pub ops: usize,
    /// Of those, drift repairs.
    pub repairs: usize,
    /// Operations refused.
    pub failed: usize,
    /// Quorum transitions.
    pub events: Vec<QuorumEvent>,
}

/// What [`Reconciler::shutdown`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Operations sent.
    pub ops: usize,
    /// Operations refused.
    pub failed: usize,
    /// Time from the call to the kernel's last answer.
    pub elapsed: Duration,
}

/// An input for [`Reconciler::run`].
#[derive(Clone, Debug)]
pub enum Input {
    /// A reload.
    Config {
        /// The new configuration.
        config: Arc<Config>,
        /// Its policy.
        policy: Policy,
    },
    /// A VRRP instance changed state (`None`: unknown).
    Instance {
        /// Instance name.
        name: String,
        /// Its state.
        role: Option<InstanceRole>,
    },
    /// A real server's health changed (`None`: undecided).
    Health {
        /// The real server.
        rs: RsId,
        /// Its health.
        health: Option<RsHealth>,
    },
    /// Read the kernel's table and reconcile now.
    Reconcile,
    /// Stop: remove everything ours, unless `keep_rules` (a restart that
    /// will adopt them).
    Shutdown {
        /// Leave the kernel's table as it is.
        keep_rules: bool,
    },
}

impl Input {
    /// Whether this input makes a periodic table read under way give way ([`Preempt`]):
    /// a reload or a VRRP state. Health changes come in storms and can wait for a read;
    /// a read request is one; a stop has its own [`Interrupt`].
    pub fn preempts(&self) -> bool {
        matches!(self, Input::Config { .. } | Input::Instance { .. })
    }
}

/// How a table read ended.
enum Read {
    Done(Result<ActualTable, CoordinatorError>),
    /// The stop's [`Interrupt`].
    Interrupted,
    /// Gave way to a [`Preempt`] after this long.
    Abandoned(Duration),
}

/// The async reconciler: the single user of the kernel's IPVS table ([`IpvsHandle`], or
/// a fake in tests).
#[derive(Debug)]
pub struct Reconciler<K = IpvsHandle> {
    ipvs: K,
    engine: Engine,
    opts: ReconcilerOptions,
    counters: Arc<Counters>,
    /// When the table is read next; `None` = at the next pass.
    next_read: Option<Instant>,
    /// When the draining services' counts are read next.
    next_poll: Option<Instant>,
    observed: bool,
    /// The last pass left a due read for the next one (see `reconcile`).
    read_deferred: bool,
    /// The last pass abandoned its read for a preempting input (see `reconcile`).
    abandoned: bool,
    last_errors: HashSet<String>,
    last_problems: Vec<Problem>,
    interrupt: Interrupt,
    preempt: Preempt,
}

impl<K: IpvsKernel> Reconciler<K> {
    /// A reconciler over `ipvs` for `engine`'s inputs. With
    /// `flush_on_start` (`lvs_flush`) the whole table is flushed first.
    pub async fn start(
        mut ipvs: K,
        engine: Engine,
        opts: ReconcilerOptions,
    ) -> Result<Reconciler<K>, CoordinatorError> {
        let counters = Arc::new(Counters::new());
        if opts.flush_on_start {
            counters.op(&IpvsOp::Flush);
            ipvs.apply(std::slice::from_ref(&IpvsOp::Flush))
                .await
                .pop()
                .unwrap_or(Ok(()))
                .map_err(CoordinatorError::Flush)?;
            tracing::info!("IPVS: flushed the whole table (lvs_flush)");
        }
        Ok(Reconciler {
            ipvs,
            engine,
            opts,
            counters,
            next_read: None,
            next_poll: None,
            observed: false,
            read_deferred: false,
            abandoned: false,
            last_errors: HashSet::new(),
            last_problems: Vec::new(),
            interrupt: Interrupt::new(),
            preempt: Preempt::new(),
        })
    }

    /// What ends a running pass early (for a stop); raising it is for good.
    pub fn interrupt(&self) -> Interrupt {
        self.interrupt.clone()
    }

    /// What makes a periodic read under way give way to a reload or a VRRP state, for
    /// whoever queues those inputs (see [`Preempt`]).
    pub fn preempt(&self) -> Preempt {
        self.preempt.clone()
    }

    /// The state and inputs.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Change inputs; the next [`reconcile`](Reconciler::reconcile) acts on them.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The counters (shared; read them at any time).
    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// The options.
    pub fn options(&self) -> &ReconcilerOptions {
        &self.opts
    }

    /// Read the kernel's table at the next pass.
    pub fn request_read(&mut self) {
        self.next_read = None;
    }

    /// When the next pass is due even without new input: the next periodic
    /// read or drain deadline.
    pub fn next_wakeup(&self) -> Instant {
        let now = Instant::now();
        let mut at = self.next_read.unwrap_or(now);
        if !self.engine.drains().is_empty() {
            at = at.min(self.next_poll.unwrap_or(now));
        }
        match self.engine.drains().next_deadline() {
            Some(d) => at.min(Instant::from_std(d)),
            None => at,
        }
    }

    /// One pass: read the table if due, plan, send. After a refusal, read
    /// again and send what is still needed once more; what still fails is
    /// retried at the next periodic read.
    pub async fn reconcile(&mut self) -> Result<PassReport, CoordinatorError> {
        let now = Instant::now();
        self.counters.pass();
        // Inputs are taken before a pass: whatever raised it so far is in this one.
        self.preempt.0.lower();
        let mut report = PassReport::default();
        // A changed input (a reload, a VRRP state, health) goes out first, planned against
        // the model, once the table has been read before: the read takes seconds at 36,800
        // destinations in an emulated VM and would hold the change up (a reload's 368
        // weight changes waited 5.6 s for it). The due read comes in the very next pass
        // (`next_wakeup` is now).
        //
        // Likewise a reload or VRRP state that arrives *while* a periodic read is under way
        // ([`Preempt`]) abandons it: this pass ends, the next plans the change against the
        // model and sends it without reading (the abandoned read, put off once more), and
        // the one after reads.
        //
        // No starvation of drift repair: a due read is put off — deferred, or abandoned
        // and then deferred by the pass that sends the change — at most once. The read
        // after a put-off (`read_deferred`) is neither deferred nor abandoned, whatever
        // arrives, so between two complete reads there is at most one abandoned-or-deferred
        // read, and a complete read at most two passes after one was due. The first read
        // and the read after a refusal are never abandoned.
        let read_due = self.next_read.is_none_or(|t| now >= t);
        let after_abandon = std::mem::take(&mut self.abandoned);
        let put_off_last = self.read_deferred;
        let defer =
            read_due && self.observed && !put_off_last && (after_abandon || self.engine.is_dirty());
        self.read_deferred = defer;
        let fresh = if read_due && !defer {
            self.schedule_read(now);
            let kind = if self.observed {
                Observation::Periodic
            } else {
                Observation::First
            };
            let may_abandon = kind == Observation::Periodic && !put_off_last;
            let table = match self.read_unless_interrupted(may_abandon).await {
                Read::Done(t) => t,
                Read::Interrupted => return Ok(report),
                Read::Abandoned(spent) => {
                    self.next_read = None;
                    self.abandoned = true;
                    self.counters.abandoned();
                    tracing::info!(
                        "IPVS: periodic table read abandoned after {spent:?} for a reload or \
                         VRRP change, which goes first; reading again right after it"
                    );
                    report.abandoned = true;
                    return Ok(report);
                }
            };
            report.read = true;
            Some((table?, kind))
        } else {
            if !self.engine.drains().is_empty() && self.next_poll.is_none_or(|t| now >= t) {
                self.poll_drains().await;
            }
            None
        };
        // A stop raised while the table was read: planning against it (two diffs of the
        // whole table, a second in an emulated VM at 20,000 destinations) would only delay
        // the stop.
        if self.interrupt.is_raised() {
            return Ok(report);
        }
        let plan = self.engine.plan(now.into_std(), fresh);
        self.observed |= report.read;
        let mut errors_now = HashSet::new();
        let need_read = self.send(plan, &mut report, &mut errors_now).await;
        if need_read && !self.interrupt.is_raised() {
            let Read::Done(table) = self.read_unless_interrupted(false).await else {
                return Ok(report);
            };
            let table = table?;
            report.read = true;
            let retry = self
                .engine
                .plan(now.into_std(), Some((table, Observation::AfterError)));
            self.send(retry, &mut report, &mut errors_now).await;
        }
        self.last_errors = errors_now;
        if !self.engine.drains().is_empty() && self.next_poll.is_none_or(|t| now >= t) {
            self.next_poll = Some(now + self.opts.drain_poll);
        }
        Ok(report)
    }

    fn schedule_read(&mut self, now: Instant) {
        self.next_read = Some(now + self.opts.period);
    }

    /// [`Self::read`], abandoned when the interrupt is raised, or (`may_abandon`) the
    /// preempt: a dump of 50,000 destinations takes seconds in an emulated VM. Safe to
    /// abandon at any await of it: the service dump has a socket of its own, closed with
    /// it; a destination or daemon dump cut short on the handle's socket is read to its end
    /// before that socket's next request (the kernel would refuse a second dump there with
    /// `EBUSY`); other replies left there are skipped by sequence number.
    async fn read_unless_interrupted(&mut self, may_abandon: bool) -> Read {
        let interrupt = self.interrupt.0.clone();
        let preempt = self.preempt.0.clone();
        let start = Instant::now();
        tokio::select! {
            biased;
            () = interrupt.raised() => Read::Interrupted,
            () = preempt.raised(), if may_abandon => {
                preempt.lower();
                Read::Abandoned(start.elapsed())
            }
            t = self.read() => Read::Done(t),
        }
    }

    async fn read(&mut self) -> Result<ActualTable, CoordinatorError> {
        let result = async {
            let mut table = ActualTable::from_dump(self.ipvs.dump().await?);
            table.daemons = self
                .ipvs
                .daemons()
                .await?
                .into_iter()
                .map(|d| (d.role, d))
                .collect();
            table.timeouts = Some(self.ipvs.timeouts().await?);
            Ok(table)
        }
        .await;
        self.counters.dump(result.is_ok());
        result.map_err(CoordinatorError::Read)
    }

    /// Read the connection counts of the draining services only.
    async fn poll_drains(&mut self) {
        for key in self.engine.draining_services() {
            match self.ipvs.destinations(&key).await {
                Ok(dests) => self.engine.observe_counts(key, &dests),
                // Gone or unreadable: the next full read sees what happened.
                Err(e) => tracing::debug!("reading the connections of {key}: {e}"),
            }
        }
        self.counters.poll();
    }

    /// Send a plan; log it; returns whether the table must be read again.
    async fn send(
        &mut self,
        plan: Plan,
        report: &mut PassReport,
        errors_now: &mut HashSet<String>,
    ) -> bool {
        self.log_plan(&plan);
        report.events.extend(plan.events);
        if plan.ops.is_empty() {
            return false;
        }
        // In chunks, so that a raised interrupt stops the pass within one of them; what
        // was sent is recorded either way.
        let mut results = Vec::with_capacity(plan.ops.len());
        for chunk in plan.ops.chunks(SEND_CHUNK) {
            results.extend(self.ipvs.apply(chunk).await);
            if self.interrupt.is_raised() {
                break;
            }
        }
        let sent = &plan.ops[..results.len().min(plan.ops.len())];
        if sent.len() < plan.ops.len() {
            tracing::info!(
                "IPVS: pass interrupted by the stop after {} of {} operations",
                sent.len(),
                plan.ops.len()
            );
        }
        for op in sent {
            self.counters.op(op);
        }
        let rec = self.engine.record(sent, &results);
        let repairs = plan.repair.iter().take(sent.len()).filter(|r| **r).count();
        self.counters.repairs(repairs as u64);
        self.counters.errors(rec.failed.len() as u64);
        for (op, repair) in sent.iter().zip(&plan.repair) {
            if *repair {
                tracing::warn!(op = %op, "IPVS drift repaired: {op}");
            } else {
                tracing::debug!(op = %op, "IPVS: {op}");
            }
        }
        for (_, msg) in &rec.failed {
            // The same refusal every period would flood the log: say it once
            // while it lasts; the counter keeps counting.
            if self.last_errors.contains(msg) || errors_now.contains(msg) {
                tracing::debug!("IPVS operation refused again: {msg}");
            } else {
                tracing::warn!("IPVS operation refused: {msg}");
            }
            errors_now.insert(msg.clone());
        }
        tracing::info!(
            ops = sent.len(),
            repairs,
            failed = rec.failed.len(),
            "IPVS: {} operations applied, {} drift repairs, {} refused",
            rec.applied,
            repairs,
            rec.failed.len()
        );
        report.ops += sent.len();
        report.repairs += repairs;
        report.failed += rec.failed.len();
        rec.need_dump
    }

    fn log_plan(&mut self, plan: &Plan) {
        for e in &plan.events {
            let what = match (e.up, e.initial) {
                (true, true) => "starting with quorum up",
                (false, true) => "starting with quorum down",
                (true, false) => "gained quorum",
                (false, false) => "lost quorum",
            };
            // Start-up notices come once per virtual server (10,000 lines at
            // scale): debug; transitions are what an operator looks for.
            if e.initial {
                tracing::debug!(vs = %e.vs, "virtual server {}: {what}", e.vs);
            } else {
                tracing::info!(
                    vs = %e.vs,
                    "virtual server {}: {what} (weight {} against {}, quorum {} hysteresis {})",
                    e.vs,
                    e.weight,
                    e.threshold,
                    e.quorum,
                    e.hysteresis
                );
            }
        }
        // Problems come with every recomputation (every health change):
        // say them when they change.
        if plan.recomputed && plan.problems != self.last_problems {
            for p in &plan.problems {
                tracing::warn!("IPVS configuration: {p}");
            }
            self.last_problems = plan.problems.clone();
        }
        for k in &plan.drains_started {
            tracing::info!("draining {k}: weight 0 until its connections end");
        }
        for (k, end) in &plan.drains_ended {
            match end {
                DrainEnd::Idle => tracing::info!("drained {k}: no connection left, deleting"),
                DrainEnd::TimedOut => {
                    tracing::info!("drain of {k} timed out: deleting with its connections")
                }
                DrainEnd::Cancelled => tracing::info!("drain of {k} cancelled: configured again"),
                DrainEnd::Gone => tracing::debug!("drain of {k} ended: gone"),
            }
        }
        self.counters.drains(
            plan.drains_started.len() as u64,
            plan.drains_ended.len() as u64,
        );
    }

    /// Remove everything ours (see [`Engine::shutdown_ops`]) in batches and
    /// report how long the kernel took.
    pub async fn shutdown(mut self) -> ShutdownReport {
        let start = Instant::now();
        let ops = self.engine.shutdown_ops(self.opts.flush_on_stop);
        let results = self.ipvs.apply(&ops).await;
        for op in &ops {
            self.counters.op(op);
        }
        let rec = self.engine.record(&ops, &results);
        self.counters.errors(rec.failed.len() as u64);
        for (_, msg) in &rec.failed {
            tracing::warn!("IPVS at shutdown: {msg}");
        }
        let elapsed = start.elapsed();
        tracing::info!(
            "IPVS: removed our rules ({} operations, {} refused) in {elapsed:?}",
            ops.len(),
            rec.failed.len()
        );
        ShutdownReport {
            ops: ops.len(),
            failed: rec.failed.len(),
            elapsed,
        }
    }

    /// Apply one input to the engine; `Some(keep_rules)` for a shutdown.
    fn accept(&mut self, input: Input) -> Option<bool> {
        match input {
            Input::Config { config, policy } => self.engine.set_config(config, policy),
            Input::Instance { name, role } => self.engine.set_role(&name, role),
            Input::Health { rs, health } => self.engine.set_health(rs, health),
            Input::Reconcile => self.request_read(),
            Input::Shutdown { keep_rules } => return Some(keep_rules),
        }
        None
    }

    /// [`Self::reconcile`], taking the inputs that arrive meanwhile into `held` (at most
    /// a queue's worth) and raising the preempt for a reload or VRRP state among them.
    async fn reconcile_watching(
        &mut self,
        inputs: &mut mpsc::Receiver<Input>,
        held: &mut Vec<Input>,
    ) -> Result<PassReport, CoordinatorError> {
        let preempt = self.preempt.clone();
        let hold = inputs.max_capacity();
        let mut open = true;
        let pass = self.reconcile();
        tokio::pin!(pass);
        loop {
            tokio::select! {
                // Inputs first: the pass would use up the task's budget every time, and
                // a receive without budget finds nothing.
                biased;
                msg = inputs.recv(), if open && held.len() < hold => match msg {
                    Some(input) => {
                        if input.preempts() {
                            preempt.raise();
                        }
                        held.push(input);
                    }
                    None => {
                        // Every sender gone: a stop, after this pass.
                        held.push(Input::Shutdown { keep_rules: false });
                        open = false;
                    }
                },
                report = &mut pass => return report,
            }
        }
    }

    /// Drive the reconciler until a shutdown input (or until every sender is
    /// dropped, which counts as a shutdown that removes our rules). Inputs
    /// that arrive together are taken together: one pass per burst. A reload or
    /// VRRP state that arrives during a periodic read preempts it ([`Preempt`]).
    /// Quorum events go to `events` if given. Returns the shutdown report, `None`
    /// when the rules were kept.
    pub async fn run(
        mut self,
        mut inputs: mpsc::Receiver<Input>,
        events: Option<mpsc::UnboundedSender<QuorumEvent>>,
    ) -> Option<ShutdownReport> {
        let mut held = Vec::new();
        loop {
            match self.reconcile_watching(&mut inputs, &mut held).await {
                Ok(report) => {
                    if let Some(tx) = &events {
                        for e in report.events {
                            // A closed receiver only means nobody listens.
                            let _ = tx.send(e);
                        }
                    }
                }
                Err(e) => tracing::error!("IPVS reconcile: {e}; retrying at the next period"),
            }
            let mut stop = None;
            let took = !held.is_empty();
            for input in held.drain(..) {
                stop = self.accept(input);
                if stop.is_some() {
                    break;
                }
            }
            let wake = self.next_wakeup();
            if stop.is_none() && !took {
                stop = tokio::select! {
                    msg = inputs.recv() => match msg {
                        None => Some(false),
                        Some(first) => self.accept(first),
                    },
                    _ = tokio::time::sleep_until(wake) => None,
                };
            }
            while stop.is_none() {
                match inputs.try_recv() {
                    Ok(more) => stop = self.accept(more),
                    Err(_) => break,
                }
            }
            match stop {
                Some(true) => {
                    tracing::info!("IPVS: stopping, rules kept for the next start");
                    return None;
                }
                Some(false) => return Some(self.shutdown().await),
                None => {}
            }
        }
    }
}
