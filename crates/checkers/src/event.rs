//! What the checkers report: transition events for the coordinator, status for metrics.

use std::time::Duration;

use crate::probe::{DynamicWeight, ProbeError};
use crate::spec::{CheckerId, RealServerId};

/// The kind of change a checker reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The checker passes: count the real server as alive as far as this checker goes.
    Up,
    /// The checker fails: the real server is not alive (keepalived's `num_failed_checkers`).
    Down,
    /// The checker asks for another weight (MISC `misc_dynamic`, FILE_CHECK). Sent before
    /// the `Up` it may accompany; a `Down` resets it to [`DynamicWeight::Configured`] silently.
    Weight(DynamicWeight),
}

/// One transition of one checker, as the coordinator consumes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckerEvent {
    /// Which checker.
    pub checker: CheckerId,
    /// Its real server.
    pub real_server: RealServerId,
    /// What changed.
    pub kind: EventKind,
    /// The failure behind a `Down`.
    pub reason: Option<ProbeError>,
    /// Latency of the probe that caused the change (none for changes made at reload).
    pub latency: Option<Duration>,
}

/// Counters and last result of one checker, for metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckerStatus {
    /// Which checker.
    pub checker: CheckerId,
    /// Its real server.
    pub real_server: RealServerId,
    /// keepalived's checker type name.
    pub kind: &'static str,
    /// State as last reported to the coordinator.
    pub up: bool,
    /// Whether a verdict has been reached.
    pub has_run: bool,
    /// Probe results received (shared probes count once per subscriber).
    pub runs: u64,
    /// Failed results among them.
    pub failures: u64,
    /// Up/down changes reported.
    pub transitions: u64,
    /// Latency of the last probe.
    pub last_latency: Option<Duration>,
    /// Error of the last failed probe.
    pub last_error: Option<ProbeError>,
    /// Checkers sharing the same probe runs (1 when not shared).
    pub shared_by: usize,
    /// Suspended (`ha_suspend`): frozen, nothing reported.
    pub suspended: bool,
}

/// Runner-wide figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunnerStats {
    /// Configured checkers.
    pub checkers: usize,
    /// Distinct probes (deduplication groups).
    pub probes: usize,
    /// Distinct state machines.
    pub state_machines: usize,
    /// Probe runs started since the runner began.
    pub probes_started: u64,
    /// Configured checkers that are suspended (`ha_suspend`).
    pub suspended: usize,
}
