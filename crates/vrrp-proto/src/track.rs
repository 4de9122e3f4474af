//! How a tracker's state becomes a priority adjustment or a fault: keepalived's rules from
//! `vrrp_track.c` (`process_script_update_priority`, `initialise_*_tracking_priorities`,
//! `process_update_track_process_status`) and `track_file.c`
//! (`process_update_vrrp_track_file_status`), as pure functions.
//!
//! The driver evaluates them level-triggered: whenever a tracker's state changes it hands
//! the instance the tracker's whole current contribution ([`crate::Input::PriorityAdjustment`]
//! and [`crate::Input::Fault`] for the same [`crate::TrackerId`]), never a difference, so no
//! sequence of updates can leak weight (keepalived issue #2720 saw weights of 667 from
//! adjustments applied twice).

/// A tracker's state as the tracked instance sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackerState {
    /// No result yet (a `vrrp_script` that has not finished its first run).
    Unknown,
    /// Up: the interface is up, the script succeeded (after `rise`), the process has its
    /// quorum.
    Up,
    /// Down: the opposite.
    Down,
    /// The integer a `track_file` holds (0 when the file is missing or unreadable).
    Value(i64),
}

/// A tracker's weight as one instance uses it (`weight N [reverse]`, possibly overridden in
/// the instance's `track_*` block).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TrackWeight {
    /// 0: FAULT while down; +N: add N while up; −N: subtract N while down.
    pub weight: i32,
    /// `reverse`: the direction of the adjustment is reversed (keepalived's
    /// `weight_multiplier` of −1); with weight 0, FAULT while *up*.
    pub reverse: bool,
}

/// What a tracker does to an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackEffect {
    /// Adds this much to the base priority (0: nothing).
    Adjust(i32),
    /// Holds the instance in FAULT.
    Fault,
}

/// A weighted `track_file` value at or below this is a FAULT (keepalived clamps the
/// product to -254..=253 and treats -254 as "down").
pub const FILE_FAULT: i64 = -254;
/// The largest adjustment one tracked file can make.
pub const FILE_MAX: i64 = 253;

impl TrackWeight {
    /// An unweighted tracker (FAULT while down).
    pub const UNWEIGHTED: TrackWeight = TrackWeight {
        weight: 0,
        reverse: false,
    };

    /// A weight.
    pub fn new(weight: i32, reverse: bool) -> Self {
        TrackWeight { weight, reverse }
    }

    fn multiplier(self) -> i32 {
        if self.reverse { -1 } else { 1 }
    }

    /// The effect of `state` through this weight.
    ///
    /// * Interfaces, scripts, processes (up/down): weight 0 is FAULT while down (while up
    ///   with `reverse`); a positive weight adds `weight × m` while up, a negative one adds
    ///   `weight × m` while down, m being −1 with `reverse` (keepalived's
    ///   `weight_multiplier`: `weight 10 reverse` subtracts 10 while up).
    /// * A script with no result yet contributes nothing (keepalived only adjusts the
    ///   priority once a script has exited; an unweighted one holds the instance back
    ///   instead, which the driver does).
    /// * Files: see [`TrackWeight::file_effect`].
    pub fn effect(self, state: TrackerState) -> TrackEffect {
        match state {
            TrackerState::Unknown => TrackEffect::Adjust(0),
            TrackerState::Up => self.up_down(true),
            TrackerState::Down => self.up_down(false),
            TrackerState::Value(v) => self.file_effect(v),
        }
    }

    fn up_down(self, up: bool) -> TrackEffect {
        if self.weight == 0 {
            // `script_ok != (multiplier == 1)` → down_instance.
            return if up == self.reverse {
                TrackEffect::Fault
            } else {
                TrackEffect::Adjust(0)
            };
        }
        if (self.weight > 0) == up {
            TrackEffect::Adjust(self.weight * self.multiplier())
        } else {
            TrackEffect::Adjust(0)
        }
    }

    /// keepalived's `track_file` rule: with weight 0, a non-zero value is a FAULT (a zero
    /// one with `reverse`); otherwise `value × weight × m` is added, clamped to
    /// -254..=253, and -254 (anything at or below it) is a FAULT.
    pub fn file_effect(self, value: i64) -> TrackEffect {
        if self.weight == 0 {
            return if (value != 0) != self.reverse {
                TrackEffect::Fault
            } else {
                TrackEffect::Adjust(0)
            };
        }
        let product = value
            .saturating_mul(i64::from(self.weight))
            .saturating_mul(i64::from(self.multiplier()));
        if product <= FILE_FAULT {
            TrackEffect::Fault
        } else {
            // Clamped to -253..=253: fits an i32.
            TrackEffect::Adjust(i32::try_from(product.min(FILE_MAX)).unwrap_or(0))
        }
    }
}

/// A sync group's state, derived from its members' (keepalived keeps `sgroup->state`,
/// moved by `vrrp_sync_master` / `_backup` / `_fault`; with every member moved together
/// the two agree once the members have settled):
/// * any member in FAULT: FAULT;
/// * every member stopped: STOP;
/// * any member not started yet: no state (`None`);
/// * every member MASTER: MASTER;
/// * otherwise BACKUP.
pub fn group_state(
    members: impl IntoIterator<Item = crate::StateKind>,
) -> Option<crate::StateKind> {
    use crate::StateKind as S;
    let (mut n, mut fault, mut stopped, mut init, mut master) = (0, false, 0, false, 0);
    for s in members {
        n += 1;
        match s {
            S::Fault => fault = true,
            S::Stopped => stopped += 1,
            S::Init => init = true,
            S::Master => master += 1,
            S::Backup => {}
        }
    }
    if n == 0 {
        return None;
    }
    Some(if fault {
        S::Fault
    } else if stopped == n {
        S::Stopped
    } else if init {
        return None;
    } else if master == n {
        S::Master
    } else {
        S::Backup
    })
}

#[cfg(test)]
mod tests {
    use super::TrackEffect::{Adjust, Fault};
    use super::TrackerState::{Down, Unknown, Up, Value};
    use super::*;
    use crate::StateKind as S;

    fn w(weight: i32, reverse: bool) -> TrackWeight {
        TrackWeight::new(weight, reverse)
    }

    /// keepalived vrrp_track.c: unweighted → FAULT while down; +N while up; −N while down;
    /// `reverse` flips the direction (weight 0: FAULT while up).
    #[test]
    fn up_down_rules() {
        let cases = [
            (w(0, false), Up, Adjust(0)),
            (w(0, false), Down, Fault),
            (w(0, true), Up, Fault),
            (w(0, true), Down, Adjust(0)),
            (w(10, false), Up, Adjust(10)),
            (w(10, false), Down, Adjust(0)),
            (w(-60, false), Up, Adjust(0)),
            (w(-60, false), Down, Adjust(-60)),
            (w(10, true), Up, Adjust(-10)),
            (w(10, true), Down, Adjust(0)),
            (w(-60, true), Up, Adjust(0)),
            (w(-60, true), Down, Adjust(60)),
        ];
        for (weight, state, want) in cases {
            assert_eq!(weight.effect(state), want, "{weight:?} {state:?}");
        }
    }

    /// A script that has not reported yet changes nothing, whatever its weight.
    #[test]
    fn unknown_contributes_nothing() {
        for weight in [w(0, false), w(5, false), w(-5, true)] {
            assert_eq!(weight.effect(Unknown), Adjust(0));
        }
    }

    /// keepalived track_file.c: weight 0 → non-zero is FAULT; value × weight, ≤ -254 FAULT,
    /// capped at 253.
    #[test]
    fn file_rules() {
        let cases = [
            (w(0, false), 0, Adjust(0)),
            (w(0, false), 1, Fault),
            (w(0, false), -3, Fault),
            (w(0, true), 0, Fault),
            (w(0, true), 7, Adjust(0)),
            (w(1, false), 0, Adjust(0)),
            (w(1, false), 20, Adjust(20)),
            (w(1, false), -20, Adjust(-20)),
            (w(1, false), -253, Adjust(-253)),
            (w(1, false), -254, Fault),
            (w(1, false), -100_000, Fault),
            (w(1, false), 100_000, Adjust(253)),
            (w(2, false), -127, Fault),
            (w(2, false), -126, Adjust(-252)),
            (w(-2, false), 10, Adjust(-20)),
            (w(3, true), 10, Adjust(-30)),
            (w(10, false), i64::MAX, Adjust(253)),
            (w(10, false), i64::MIN, Fault),
        ];
        for (weight, value, want) in cases {
            assert_eq!(weight.file_effect(value), want, "{weight:?} {value}");
            assert_eq!(weight.effect(Value(value)), want);
        }
    }

    #[test]
    fn group_state_from_members() {
        assert_eq!(group_state([S::Master, S::Master]), Some(S::Master));
        assert_eq!(group_state([S::Master, S::Backup]), Some(S::Backup));
        assert_eq!(group_state([S::Backup, S::Backup]), Some(S::Backup));
        assert_eq!(group_state([S::Master, S::Fault]), Some(S::Fault));
        assert_eq!(group_state([S::Init, S::Fault]), Some(S::Fault));
        assert_eq!(group_state([S::Init, S::Backup]), None);
        assert_eq!(group_state([S::Stopped, S::Stopped]), Some(S::Stopped));
        assert_eq!(group_state([S::Stopped, S::Backup]), Some(S::Backup));
        assert_eq!(group_state([]), None);
    }
}
