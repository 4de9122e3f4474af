//! Quorum with hysteresis (keepalived `ipwrapper.c` `update_quorum_state`).
//!
//! Quorum is the one piece of LVS state with memory: between `quorum −
//! hysteresis` and `quorum + hysteresis` the state stays what it was. So the
//! pure [`crate::desired()`] takes the previous states and returns the next
//! ones, with an event for each transition (for `quorum_up`/`quorum_down`,
//! the notify FIFO and SMTP alerts, which are the daemon's business).

use std::collections::HashMap;

use crate::ids::VsId;

/// Quorum state of every configured virtual server (`true` = up).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuorumStates {
    states: HashMap<VsId, bool>,
}

impl QuorumStates {
    /// No virtual server evaluated yet (a daemon start).
    pub fn new() -> QuorumStates {
        QuorumStates::default()
    }

    /// The state of `vs`, `None` before its first evaluation.
    pub fn get(&self, vs: &VsId) -> Option<bool> {
        self.states.get(vs).copied()
    }

    pub(crate) fn insert(&mut self, vs: VsId, up: bool) {
        self.states.insert(vs, up);
    }

    /// Number of virtual servers evaluated.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether none was evaluated.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

/// A quorum transition, or keepalived's start-up notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumEvent {
    /// The virtual server.
    pub vs: VsId,
    /// The new state.
    pub up: bool,
    /// First evaluation of this virtual server (daemon start, or a virtual
    /// server a reload added): keepalived's "Starting with quorum up/down".
    pub initial: bool,
    /// Sum of the weights of the live real servers.
    pub weight: u64,
    /// The threshold that was crossed (`quorum ± hysteresis`).
    pub threshold: u64,
    /// Configured quorum.
    pub quorum: u32,
    /// Configured hysteresis.
    pub hysteresis: u32,
}

/// One virtual server's evaluation: its new state and the event, if any.
///
/// * first evaluation: up iff `weight ≥ quorum + hysteresis` (keepalived
///   starts every virtual server down, then re-evaluates once its live real
///   servers are in). Notified when up, or when down with a sorry server
///   (keepalived adds the sorry server then); a start-up without quorum and
///   without sorry server is silent, as in keepalived.
/// * up → down when `weight == 0` or `weight < quorum − hysteresis`;
/// * down → up when `weight ≥ quorum + hysteresis`.
pub(crate) fn evaluate(
    vs: &VsId,
    previous: Option<bool>,
    weight: u64,
    quorum: u32,
    hysteresis: u32,
    has_sorry: bool,
) -> (bool, Option<QuorumEvent>) {
    let q = u64::from(quorum);
    let h = u64::from(hysteresis);
    let event = |up: bool, initial: bool, threshold: u64| QuorumEvent {
        vs: vs.clone(),
        up,
        initial,
        weight,
        threshold,
        quorum,
        hysteresis,
    };
    match previous {
        None => {
            let up = weight >= q + h;
            let ev = (up || has_sorry).then(|| event(up, true, q + h));
            (up, ev)
        }
        Some(false) if weight >= q + h => (true, Some(event(true, false, q + h))),
        Some(true) if weight == 0 || weight < q.saturating_sub(h) => {
            (false, Some(event(false, false, q.saturating_sub(h))))
        }
        Some(up) => (up, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> VsId {
        VsId::Fwmark {
            af: rk_ipvs::Family::Inet,
            mark: 1,
        }
    }

    /// quorum 3, hysteresis 1: up at ≥ 4, down below 2 (or at 0).
    #[test]
    fn hysteresis_boundaries() {
        let steps: &[(u64, bool, bool)] = &[
            // (weight, expected state, transition event expected)
            (5, true, false),
            (3, true, false),
            (2, true, false),
            (1, false, true),
            (2, false, false),
            (3, false, false),
            (4, true, true),
            (2, true, false),
            (0, false, true),
        ];
        let (mut state, first) = evaluate(&id(), None, 5, 3, 1, false);
        assert!(state);
        assert!(first.is_some_and(|e| e.initial && e.up && e.threshold == 4));
        for &(w, want, ev) in &steps[1..] {
            let (next, e) = evaluate(&id(), Some(state), w, 3, 1, false);
            assert_eq!(next, want, "weight {w}");
            assert_eq!(e.is_some(), ev, "event at weight {w}");
            if let Some(e) = e {
                assert_eq!((e.up, e.initial, e.weight), (want, false, w));
                assert_eq!(e.threshold, if want { 4 } else { 2 });
            }
            state = next;
        }
    }

    #[test]
    fn start_down_is_notified_only_with_a_sorry_server() {
        assert_eq!(evaluate(&id(), None, 0, 1, 0, false), (false, None));
        let (up, ev) = evaluate(&id(), None, 0, 1, 0, true);
        assert!(!up);
        assert!(ev.is_some_and(|e| e.initial && !e.up));
        // Between the thresholds at start: down (keepalived starts down).
        assert!(!evaluate(&id(), None, 3, 3, 1, false).0);
    }

    #[test]
    fn zero_weight_always_loses_quorum() {
        // quorum 1, hysteresis 0: threshold 1, and weight 0 is below it anyway;
        // with quorum capped to a total weight the W == 0 rule still applies.
        assert!(!evaluate(&id(), Some(true), 0, 1, 0, false).0);
    }
}
