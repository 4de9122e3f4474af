//! Level-triggered inputs: after anything changes in the namespace or a tracker reports,
//! each instance is told the current state of its interface, its source address and
//! everything it tracks. The state machine ignores inputs that change nothing, so
//! repeating them is harmless and nothing depends on seeing every event.

use std::time::Instant;

use rk_vrrp_proto::{FaultSource, Input, StateKind, TrackEffect, TrackerId, TrackerState};

use super::Driver;
use crate::spec::TrackSource;

/// The fault source of `unicast_fault_no_peer` with no peers (a tracker id no tracked
/// entry uses).
pub(super) const FAULT_NO_PEER: TrackerId = TrackerId(u32::MAX);

impl Driver {
    /// Whether the instance's interfaces are up: the base interface, and the VMAC when
    /// adverts or VIPs use one.
    fn links_up(&self, i: usize) -> bool {
        let s = &self.insts[i].spec;
        let base = self.link(&s.interface).is_some_and(|l| l.is_up());
        let vmac = match &s.vmac {
            None => true,
            Some(v) => {
                self.insts[i].vmac.is_some() && self.link(&v.name).is_some_and(|l| l.is_up())
            }
        };
        // Without a socket adverts can neither go out nor come in.
        let channel = self.channels.contains_key(&self.channel_key(i));
        base && vmac && channel
    }

    /// The current state of a tracked source.
    fn source_state(&self, source: &TrackSource) -> TrackerState {
        match source {
            TrackSource::Interface(name) => {
                if self.link(name).is_some_and(|l| l.is_up()) {
                    TrackerState::Up
                } else {
                    TrackerState::Down
                }
            }
            TrackSource::Tracker(k) => self
                .trackers
                .get(*k)
                .copied()
                .unwrap_or(TrackerState::Unknown),
        }
    }

    /// Feeds instance `i` the current state of everything it depends on.
    pub(super) fn refresh_inputs(&mut self, i: usize, now: Instant) {
        let up = self.links_up(i);
        let spec = &self.insts[i].spec;
        let family = spec.proto.family;
        let iface_addr = self.interface_address(&spec.interface, family);
        // No source address at all: keepalived enters FAULT ("no IP address"); with
        // `track_src_ip`, a configured source that vanished does the same.
        let src_fault = match spec.proto.src_addr {
            None => iface_addr.is_none(),
            Some(a) => spec.track_src_ip && !self.address_present(a),
        };
        let fault_no_peer = spec.fault_no_peer;
        // Each tracked entry: its whole contribution, the adjustment before the fault so
        // that an instance leaving FAULT comes back with its new priority.
        let trackers: Vec<(TrackerId, TrackEffect)> = spec
            .tracked
            .iter()
            .enumerate()
            .map(|(n, t)| {
                let id = TrackerId(u32::try_from(n).unwrap_or(u32::MAX - 1));
                (id, t.weight.effect(self.source_state(&t.source)))
            })
            .collect();
        let vi = &mut self.insts[i].vi;
        vi.handle(now, Input::InterfaceAddress(iface_addr));
        vi.handle(
            now,
            Input::Fault {
                source: FaultSource::SourceAddress,
                active: src_fault,
            },
        );
        vi.handle(
            now,
            Input::Fault {
                source: FaultSource::Tracker(FAULT_NO_PEER),
                active: fault_no_peer,
            },
        );
        for (tracker, effect) in trackers {
            let delta = match effect {
                TrackEffect::Adjust(d) => d,
                TrackEffect::Fault => 0,
            };
            vi.handle(now, Input::PriorityAdjustment { tracker, delta });
            vi.handle(
                now,
                Input::Fault {
                    source: FaultSource::Tracker(tracker),
                    active: effect == TrackEffect::Fault,
                },
            );
        }
        vi.handle(
            now,
            if up {
                Input::InterfaceUp
            } else {
                Input::InterfaceDown
            },
        );
    }

    /// Whether instance `i` must stay in INIT: an unweighted script it tracks has not
    /// reported yet (keepalived's `num_script_init`: the instance neither advertises nor
    /// takes over until it knows whether the check passes), for it or for any member of its
    /// sync group (`num_member_init`).
    pub(super) fn held(&self, i: usize) -> bool {
        let waits = |m: usize| {
            self.insts[m].spec.tracked.iter().any(|t| {
                t.weight.weight == 0
                    && matches!(t.source, TrackSource::Tracker(_))
                    && self.source_state(&t.source) == TrackerState::Unknown
            })
        };
        match self.sync_groups.iter().find(|g| g.members.contains(&i)) {
            Some(g) => g.members.iter().any(|m| waits(*m)),
            None => waits(i),
        }
    }

    /// Starts the instances still in INIT that nothing holds back, once
    /// `vrrp_startup_delay` has passed.
    pub(super) fn start_ready(&mut self, now: Instant) {
        if self.start_at.is_some() {
            return;
        }
        for i in 0..self.insts.len() {
            if self.insts[i].vi.state() == StateKind::Init && !self.held(i) {
                if self.insts[i].waited {
                    tracing::info!(
                        "({}) tracking scripts have reported: starting",
                        self.insts[i].spec.name
                    );
                }
                let input = if std::mem::take(&mut self.insts[i].resume) {
                    Input::Resume
                } else {
                    Input::Start
                };
                self.insts[i].vi.handle(now, input);
            } else if self.insts[i].vi.state() == StateKind::Init && !self.insts[i].waited {
                self.insts[i].waited = true;
                tracing::info!(
                    "({}) waiting for its tracking scripts' first results before starting",
                    self.insts[i].spec.name
                );
            }
        }
    }

    /// A tracker's new state: every instance is brought up to date, and instances held
    /// back by it may start.
    pub(super) fn on_tracker(&mut self, index: usize, state: TrackerState, now: Instant) {
        let Some(slot) = self.trackers.get_mut(index) else {
            tracing::warn!("state for unknown tracker {index} ignored");
            return;
        };
        if *slot == state {
            return;
        }
        *slot = state;
        for i in 0..self.insts.len() {
            let uses = self.insts[i]
                .spec
                .tracked
                .iter()
                .any(|t| t.source == TrackSource::Tracker(index));
            if uses {
                self.refresh_inputs(i, now);
            }
        }
        self.start_ready(now);
    }
}
