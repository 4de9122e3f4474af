//! Counters for metrics and the statistics dump. Shared (`Arc`) and atomic,
//! so a status endpoint reads them while the reconciler runs.

use std::sync::atomic::{AtomicU64, Ordering};

use rk_ipvs::IpvsOp;

/// What the reconciler did since it started.
#[derive(Debug, Default)]
pub struct Counters {
    add_service: AtomicU64,
    edit_service: AtomicU64,
    del_service: AtomicU64,
    add_dest: AtomicU64,
    edit_dest: AtomicU64,
    del_dest: AtomicU64,
    set_timeouts: AtomicU64,
    start_daemon: AtomicU64,
    stop_daemon: AtomicU64,
    flush: AtomicU64,
    repairs: AtomicU64,
    errors: AtomicU64,
    dumps: AtomicU64,
    dump_errors: AtomicU64,
    abandoned_reads: AtomicU64,
    drain_polls: AtomicU64,
    passes: AtomicU64,
    drains_started: AtomicU64,
    drains_ended: AtomicU64,
}

/// A consistent-enough copy of [`Counters`] (each value read once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// `AddService` operations sent.
    pub add_service: u64,
    /// `EditService` operations sent.
    pub edit_service: u64,
    /// `DelService` operations sent.
    pub del_service: u64,
    /// `AddDest` operations sent.
    pub add_dest: u64,
    /// `EditDest` operations sent.
    pub edit_dest: u64,
    /// `DelDest` operations sent.
    pub del_dest: u64,
    /// `SetTimeouts` operations sent.
    pub set_timeouts: u64,
    /// `StartDaemon` operations sent.
    pub start_daemon: u64,
    /// `StopDaemon` operations sent.
    pub stop_daemon: u64,
    /// `Flush` operations sent.
    pub flush: u64,
    /// Operations that repaired drift (also counted by kind).
    pub repairs: u64,
    /// Operations the kernel refused (or whose outcome was lost).
    pub errors: u64,
    /// Reads of the kernel's table.
    pub dumps: u64,
    /// Reads that failed.
    pub dump_errors: u64,
    /// Periodic reads abandoned for a reload or a VRRP state (not in `dumps`).
    pub abandoned_reads: u64,
    /// Reads of the draining services' connection counts only.
    pub drain_polls: u64,
    /// Reconcile passes.
    pub passes: u64,
    /// Drains started.
    pub drains_started: u64,
    /// Drains ended (idle, timed out, cancelled or gone).
    pub drains_ended: u64,
}

impl CounterSnapshot {
    /// Operations sent, all kinds together.
    pub fn ops(&self) -> u64 {
        self.add_service
            + self.edit_service
            + self.del_service
            + self.add_dest
            + self.edit_dest
            + self.del_dest
            + self.set_timeouts
            + self.start_daemon
            + self.stop_daemon
            + self.flush
    }
}

fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    /// All zero.
    pub fn new() -> Counters {
        Counters::default()
    }

    /// Count an operation sent, by kind.
    pub fn op(&self, op: &IpvsOp) {
        let c = match op {
            IpvsOp::AddService(_) => &self.add_service,
            IpvsOp::EditService(_) => &self.edit_service,
            IpvsOp::DelService(_) => &self.del_service,
            IpvsOp::AddDest { .. } => &self.add_dest,
            IpvsOp::EditDest { .. } => &self.edit_dest,
            IpvsOp::DelDest { .. } => &self.del_dest,
            IpvsOp::SetTimeouts(_) => &self.set_timeouts,
            IpvsOp::StartDaemon(_) => &self.start_daemon,
            IpvsOp::StopDaemon(_) => &self.stop_daemon,
            IpvsOp::Flush => &self.flush,
            // The coordinator never zeroes counters.
            IpvsOp::Zero(_) => return,
        };
        bump(c, 1);
    }

    pub(crate) fn repairs(&self, n: u64) {
        bump(&self.repairs, n);
    }

    pub(crate) fn errors(&self, n: u64) {
        bump(&self.errors, n);
    }

    pub(crate) fn dump(&self, ok: bool) {
        bump(&self.dumps, 1);
        if !ok {
            bump(&self.dump_errors, 1);
        }
    }

    pub(crate) fn abandoned(&self) {
        bump(&self.abandoned_reads, 1);
    }

    pub(crate) fn poll(&self) {
        bump(&self.drain_polls, 1);
    }

    pub(crate) fn pass(&self) {
        bump(&self.passes, 1);
    }

    pub(crate) fn drains(&self, started: u64, ended: u64) {
        bump(&self.drains_started, started);
        bump(&self.drains_ended, ended);
    }

    /// Read every counter.
    pub fn snapshot(&self) -> CounterSnapshot {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterSnapshot {
            add_service: r(&self.add_service),
            edit_service: r(&self.edit_service),
            del_service: r(&self.del_service),
            add_dest: r(&self.add_dest),
            edit_dest: r(&self.edit_dest),
            del_dest: r(&self.del_dest),
            set_timeouts: r(&self.set_timeouts),
            start_daemon: r(&self.start_daemon),
            stop_daemon: r(&self.stop_daemon),
            flush: r(&self.flush),
            repairs: r(&self.repairs),
            errors: r(&self.errors),
            dumps: r(&self.dumps),
            dump_errors: r(&self.dump_errors),
            abandoned_reads: r(&self.abandoned_reads),
            drain_polls: r(&self.drain_polls),
            passes: r(&self.passes),
            drains_started: r(&self.drains_started),
            drains_ended: r(&self.drains_ended),
        }
    }
}
