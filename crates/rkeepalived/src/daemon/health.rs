//! Real-server health from checker events: a real server is up only while every one of its
//! checkers is up (keepalived's `num_failed_checkers == 0`), and its weight follows the
//! dynamic weights its checkers report. Pure: the caller feeds events and acts on the
//! changes (log line, notify script, coordinator input).

use rustc_hash::FxHashMap as HashMap;

use rk_checkers::probe::DynamicWeight;
use rk_checkers::{CheckerEvent, CheckerId, EventKind, RealServerId};
use rk_coordinator::RsHealth;

use super::checks::Mapping;

/// One checker as its real server sees it.
#[derive(Clone, Copy, Debug)]
struct CheckerState {
    up: bool,
    weight: Option<DynamicWeight>,
}

/// A real server's checkers by id, in id order. Most real servers have one or two: a
/// sorted vector is a tenth of a `BTreeMap`'s node (it counts with 50,000 real servers).
#[derive(Clone, Debug, Default)]
struct Checkers(Vec<(CheckerId, CheckerState)>);

impl Checkers {
    fn insert(&mut self, id: CheckerId, state: CheckerState) {
        match self.0.binary_search_by_key(&id, |(i, _)| *i) {
            Ok(at) => self.0[at].1 = state,
            Err(at) => self.0.insert(at, (id, state)),
        }
    }

    fn remove(&mut self, id: &CheckerId) {
        if let Ok(at) = self.0.binary_search_by_key(id, |(i, _)| *i) {
            self.0.remove(at);
        }
    }

    fn get(&self, id: &CheckerId) -> Option<&CheckerState> {
        let at = self.0.binary_search_by_key(id, |(i, _)| *i).ok()?;
        Some(&self.0[at].1)
    }

    fn get_mut(&mut self, id: &CheckerId) -> Option<&mut CheckerState> {
        let at = self.0.binary_search_by_key(id, |(i, _)| *i).ok()?;
        Some(&mut self.0[at].1)
    }

    fn values(&self) -> impl Iterator<Item = &CheckerState> {
        self.0.iter().map(|(_, c)| c)
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

#[derive(Clone, Debug)]
struct RsState {
    checkers: Checkers,
    /// The configured weight, base of FILE_CHECK offsets.
    configured: u32,
    /// What the checkers say now.
    health: RsHealth,
}

impl RsState {
    fn compute(&self) -> RsHealth {
        let up = self.checkers.values().all(|c| c.up);
        let mut absolute = None;
        let mut offset: i64 = 0;
        let mut dynamic = false;
        for c in self.checkers.values() {
            match c.weight {
                None | Some(DynamicWeight::Configured) => {}
                Some(DynamicWeight::Absolute(w)) => {
                    absolute = Some(i64::from(w));
                    dynamic = true;
                }
                Some(DynamicWeight::Offset(o)) => {
                    offset = offset.saturating_add(o);
                    dynamic = true;
                }
            }
        }
        let weight = dynamic.then(|| {
            absolute
                .unwrap_or(i64::from(self.configured))
                .saturating_add(offset)
        });
        RsHealth { up, weight }
    }
}

/// What one event did to its real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The real server.
    pub rs: RealServerId,
    /// Its health before the event.
    pub before: RsHealth,
    /// And after.
    pub after: RsHealth,
    /// Checkers of it that are down now.
    pub failing: usize,
    /// Its checkers.
    pub total: usize,
}

impl Outcome {
    /// The real server went up or down.
    pub fn up_changed(&self) -> bool {
        self.before.up != self.after.up
    }

    /// Something the coordinator must hear changed.
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

/// Health of every real server that has checkers.
#[derive(Debug, Default)]
pub struct Aggregator {
    rs: HashMap<RealServerId, RsState>,
    owner: HashMap<CheckerId, RealServerId>,
}

impl Aggregator {
    /// Start-up state for `mapping`, with the configured weights from `weights`: every
    /// checker up unless `alpha`, as keepalived starts them.
    pub fn new(mapping: &Mapping, weight_of: impl Fn(RealServerId) -> u32) -> Aggregator {
        let mut a = Aggregator::default();
        a.owner.reserve(mapping.checkers.len());
        a.rs.reserve(mapping.real_servers.len());
        for (id, c) in &mapping.checkers {
            a.owner.insert(*id, c.rs);
            let st = a.rs.entry(c.rs).or_insert_with(|| RsState {
                checkers: Checkers::default(),
                configured: weight_of(c.rs),
                health: RsHealth::UP,
            });
            st.checkers.insert(
                *id,
                CheckerState {
                    up: !c.alpha,
                    weight: None,
                },
            );
        }
        for st in a.rs.values_mut() {
            st.checkers.0.shrink_to_fit();
            st.health = st.compute();
        }
        a
    }

    /// The health of `rs` (up for a real server without checkers).
    #[cfg(test)]
    pub fn health(&self, rs: RealServerId) -> RsHealth {
        self.rs.get(&rs).map_or(RsHealth::UP, |s| s.health)
    }

    /// Forgets a checker that cannot run (the runner refused its spec): its real server
    /// is judged by the others, as keepalived runs it after skipping the checker.
    pub fn remove(&mut self, checker: CheckerId) {
        let Some(rs) = self.owner.remove(&checker) else {
            return;
        };
        if let Some(st) = self.rs.get_mut(&rs) {
            st.checkers.remove(&checker);
            st.health = st.compute();
        }
    }

    /// A reload: the aggregator of `mapping`, where checkers the old one had (same id, as
    /// the runner carries their state over) keep what they said. Returns what changed for
    /// real servers both had (a failing checker removed brings its real server up, a
    /// changed weight moves it); new real servers start as at start-up.
    pub fn reload(
        &mut self,
        mapping: &Mapping,
        weight_of: impl Fn(RealServerId) -> u32,
    ) -> Vec<Outcome> {
        let mut next = Aggregator::new(mapping, weight_of);
        for (id, rs) in &next.owner {
            let old = self
                .owner
                .get(id)
                .and_then(|r| self.rs.get(r))
                .and_then(|st| st.checkers.get(id));
            if let (Some(old), Some(st)) = (old, next.rs.get_mut(rs)) {
                st.checkers.insert(*id, *old);
            }
        }
        let mut out = Vec::new();
        for (rs, st) in &mut next.rs {
            st.health = st.compute();
            if let Some(before) = self.rs.get(rs).map(|o| o.health)
                && before != st.health
            {
                out.push(Outcome {
                    rs: *rs,
                    before,
                    after: st.health,
                    failing: st.checkers.values().filter(|c| !c.up).count(),
                    total: st.checkers.len(),
                });
            }
        }
        *self = next;
        out.sort_by_key(|o| o.rs.0);
        out
    }

    /// Takes one checker event; `None` for a checker this mapping does not have (removed
    /// by a reload while its event was on the way).
    pub fn on_event(&mut self, ev: &CheckerEvent) -> Option<Outcome> {
        let rs = *self.owner.get(&ev.checker)?;
        let st = self.rs.get_mut(&rs)?;
        let c = st.checkers.get_mut(&ev.checker)?;
        match ev.kind {
            EventKind::Up => c.up = true,
            EventKind::Down => {
                c.up = false;
                // The runner resets a dynamic weight silently when its checker goes down.
                c.weight = None;
            }
            EventKind::Weight(w) => c.weight = Some(w),
        }
        let before = st.health;
        st.health = st.compute();
        Some(Outcome {
            rs,
            before,
            after: st.health,
            failing: st.checkers.values().filter(|c| !c.up).count(),
            total: st.checkers.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::checks::CheckerEntry;

    fn mapping(checkers: &[(u64, u64, bool)]) -> Mapping {
        let mut m = Mapping::default();
        for &(c, rs, alpha) in checkers {
            m.checkers.insert(
                CheckerId(c),
                CheckerEntry {
                    rs: RealServerId(rs),
                    kind: "TCP_CHECK",
                    alpha,
                    target: String::new(),
                    log_all_failures: false,
                },
            );
        }
        m
    }

    fn ev(c: u64, rs: u64, kind: EventKind) -> CheckerEvent {
        CheckerEvent {
            checker: CheckerId(c),
            real_server: RealServerId(rs),
            kind,
            reason: None,
            latency: None,
        }
    }

    #[test]
    fn up_only_while_every_checker_is_up() {
        let m = mapping(&[(1, 10, false), (2, 10, false)]);
        let mut a = Aggregator::new(&m, |_| 5);
        assert_eq!(a.health(RealServerId(10)), RsHealth::UP);
        let o = a.on_event(&ev(1, 10, EventKind::Down)).unwrap();
        assert!(o.up_changed() && !o.after.up);
        assert_eq!((o.failing, o.total), (1, 2));
        // The second checker failing too changes nothing the coordinator sees.
        let o = a.on_event(&ev(2, 10, EventKind::Down)).unwrap();
        assert!(!o.changed());
        assert_eq!(o.failing, 2);
        // One back: still down.
        let o = a.on_event(&ev(1, 10, EventKind::Up)).unwrap();
        assert!(!o.changed() && !o.after.up);
        let o = a.on_event(&ev(2, 10, EventKind::Up)).unwrap();
        assert!(o.up_changed() && o.after.up);
        assert!(
            a.on_event(&ev(99, 10, EventKind::Up)).is_none(),
            "unknown checker"
        );
    }

    #[test]
    fn alpha_starts_down() {
        let m = mapping(&[(1, 10, true), (2, 11, false)]);
        let mut a = Aggregator::new(&m, |_| 1);
        assert!(!a.health(RealServerId(10)).up);
        assert!(a.health(RealServerId(11)).up);
        assert!(a.health(RealServerId(12)).up, "no checkers: up");
        assert!(a.on_event(&ev(1, 10, EventKind::Up)).unwrap().up_changed());
    }

    #[test]
    fn reload_keeps_what_checkers_said() {
        let m = mapping(&[(1, 10, false), (2, 10, false), (3, 11, false)]);
        let mut a = Aggregator::new(&m, |_| 5);
        a.on_event(&ev(2, 10, EventKind::Down)).unwrap();
        a.on_event(&ev(3, 11, EventKind::Down)).unwrap();
        // Same checkers: nothing changes, the down ones stay down.
        assert!(a.reload(&m, |_| 5).is_empty());
        assert!(!a.health(RealServerId(10)).up);
        assert!(!a.health(RealServerId(11)).up);
        // Checker 2 removed: real server 10 is up again; 11 keeps its failing checker;
        // a new real server 12 starts up (its checker 4 is new).
        let m2 = mapping(&[(1, 10, false), (3, 11, false), (4, 12, false)]);
        let out = a.reload(&m2, |_| 5);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].rs, RealServerId(10));
        assert!(out[0].up_changed() && out[0].after.up);
        assert!(!a.health(RealServerId(11)).up);
        assert!(a.health(RealServerId(12)).up);
        // Events of the removed checker are not taken any more.
        assert!(a.on_event(&ev(2, 10, EventKind::Up)).is_none());
    }

    #[test]
    fn dynamic_weights() {
        let m = mapping(&[(1, 10, false), (2, 10, false)]);
        let mut a = Aggregator::new(&m, |_| 5);
        // MISC misc_dynamic: exit 12 → weight 10.
        let o = a
            .on_event(&ev(1, 10, EventKind::Weight(DynamicWeight::Absolute(10))))
            .unwrap();
        assert_eq!(o.after.weight, Some(10));
        assert!(o.changed() && !o.up_changed());
        // FILE_CHECK offset adds to it.
        let o = a
            .on_event(&ev(2, 10, EventKind::Weight(DynamicWeight::Offset(-3))))
            .unwrap();
        assert_eq!(o.after.weight, Some(7));
        // Down resets the MISC weight: configured 5 + offset.
        let o = a.on_event(&ev(1, 10, EventKind::Down)).unwrap();
        assert_eq!(
            o.after,
            RsHealth {
                up: false,
                weight: Some(2)
            }
        );
        let o = a
            .on_event(&ev(2, 10, EventKind::Weight(DynamicWeight::Configured)))
            .unwrap();
        assert_eq!(o.after.weight, None, "back to the configured weight");
    }
}
