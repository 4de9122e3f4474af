//! Drain before delete (rkeepalived's extension, issue 8): a destination a
//! reload removes from the configuration, or every destination of a service
//! a reload removes, first goes to weight 0, and is deleted once its active
//! connections reach 0 or its drain timeout passes. keepalived deletes at
//! once and cuts the connections; a drain timeout of 0 does the same.
//!
//! Only removal *from the configuration* drains. A real server that goes
//! down is deleted at once (or inhibited), as in keepalived, and a service
//! this node stops holding because its VRRP instance left MASTER is deleted
//! at once (its VIP, and so its traffic, has moved). Pure: the clock is an
//! argument.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Instant;

use rk_ipvs::{DestKey, ServiceKey};

use crate::ids::VsId;
use crate::table::{ActualTable, DesiredService, DesiredTable, Owned};

/// What drains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DrainKey {
    /// A whole service (with every destination of ours in it).
    Service(ServiceKey),
    /// One destination of a service.
    Dest(ServiceKey, DestKey),
}

impl fmt::Display for DrainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DrainKey::Service(s) => write!(f, "service {s}"),
            DrainKey::Dest(s, d) => write!(f, "destination {d} of {s}"),
        }
    }
}

/// How a drain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainEnd {
    /// No active connection left: deleted now.
    Idle,
    /// The timeout passed: deleted with its connections.
    TimedOut,
    /// The configuration describes it again: kept.
    Cancelled,
    /// It is gone from the kernel (or was never ours): nothing to do.
    Gone,
}

/// Whose connection counts in the table given to [`DrainBook::overlay`]
/// were just read from the kernel. Only those can end a drain for lack of
/// connections: the model's counts for what we added are zeros.
#[derive(Clone, Copy, Debug)]
pub enum CountsRead<'a> {
    /// The whole table was read.
    All,
    /// Only these services' destinations were read (the drain poll).
    Services(&'a BTreeSet<ServiceKey>),
}

impl CountsRead<'_> {
    fn covers(&self, s: &ServiceKey) -> bool {
        match self {
            CountsRead::All => true,
            CountsRead::Services(set) => set.contains(s),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Drain {
    deadline: Instant,
    origin: VsId,
}

/// The destinations and services being drained.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainBook {
    entries: BTreeMap<DrainKey, Drain>,
}

impl DrainBook {
    /// Nothing draining.
    pub fn new() -> DrainBook {
        DrainBook::default()
    }

    /// Number of drains in progress.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing drains.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `key` is draining.
    pub fn contains(&self, key: &DrainKey) -> bool {
        self.entries.contains_key(key)
    }

    /// The services whose connection counts the drains wait for.
    pub fn services(&self) -> BTreeSet<ServiceKey> {
        self.entries.keys().map(key_service).collect()
    }

    /// The earliest drain deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries.values().map(|d| d.deadline).min()
    }

    /// A reload replaced the configuration `old` by `new`. Start draining
    /// what `old` described, `new` does not, and the kernel has as ours
    /// (with the timeout `new` gives the service, or `old`'s if `new` dropped
    /// the service); cancel drains of what `new` describes again. Returns the
    /// drains started and the drains cancelled.
    pub fn config_changed(
        &mut self,
        old: &DesiredTable,
        new: &DesiredTable,
        actual: &ActualTable,
        owned: &Owned,
        now: Instant,
    ) -> (Vec<DrainKey>, Vec<DrainKey>) {
        let mut started = Vec::new();
        let mut cancelled = Vec::new();
        // Cancel first: a service described again keeps its destinations
        // that are still described; the others drain on their own.
        let keys: Vec<DrainKey> = self.entries.keys().copied().collect();
        for key in keys {
            let back = match key {
                DrainKey::Service(s) => new.configured.contains_key(&s),
                DrainKey::Dest(s, d) => {
                    new.configured.get(&s).is_some_and(|c| c.dests.contains(&d))
                }
            };
            if !back {
                continue;
            }
            let Some(drain) = self.entries.remove(&key) else {
                continue;
            };
            cancelled.push(key);
            // A service described again, with fewer destinations: those
            // it lost keep draining, with the service's deadline.
            if let DrainKey::Service(s) = key
                && let (Some(a), Some(c)) = (actual.services.get(&s), new.configured.get(&s))
            {
                for d in a.dests.keys() {
                    if owned.has_dest(&s, d) && !c.dests.contains(d) {
                        self.entries.insert(DrainKey::Dest(s, *d), drain.clone());
                        started.push(DrainKey::Dest(s, *d));
                    }
                }
            }
        }
        for (s, old_c) in &old.configured {
            let Some(a) = actual.services.get(s) else {
                continue;
            };
            if !owned.has_service(s) {
                continue;
            }
            match new.configured.get(s) {
                None => {
                    if old_c.drain_timeout.is_zero() {
                        continue;
                    }
                    let key = DrainKey::Service(*s);
                    self.entries.entry(key).or_insert_with(|| {
                        started.push(key);
                        Drain {
                            deadline: now + old_c.drain_timeout,
                            origin: old_c.origin.clone(),
                        }
                    });
                }
                Some(new_c) => {
                    if new_c.drain_timeout.is_zero() {
                        continue;
                    }
                    for d in old_c.dests.difference(&new_c.dests) {
                        if !a.dests.contains_key(d) || !owned.has_dest(s, d) {
                            continue;
                        }
                        let key = DrainKey::Dest(*s, *d);
                        self.entries.entry(key).or_insert_with(|| {
                            started.push(key);
                            Drain {
                                deadline: now + new_c.drain_timeout,
                                origin: new_c.origin.clone(),
                            }
                        });
                    }
                }
            }
        }
        (started, cancelled)
    }

    /// The table to converge to: `desired` plus, for each drain still in
    /// progress, the destination (or the service with its destinations of
    /// ours) at weight 0. Drains that ended are removed and returned.
    pub fn overlay<'a>(
        &mut self,
        desired: &'a DesiredTable,
        actual: &ActualTable,
        owned: &Owned,
        now: Instant,
        read: CountsRead<'_>,
    ) -> (Cow<'a, DesiredTable>, Vec<(DrainKey, DrainEnd)>) {
        if self.entries.is_empty() {
            return (Cow::Borrowed(desired), Vec::new());
        }
        let mut table = desired.clone();
        let mut ended = Vec::new();
        self.entries.retain(|key, drain| {
            let end = progress(key, drain, &mut table, desired, actual, owned, now, read);
            if let Some(e) = end {
                ended.push((*key, e));
            }
            end.is_none()
        });
        (Cow::Owned(table), ended)
    }
}

fn key_service(key: &DrainKey) -> ServiceKey {
    match key {
        DrainKey::Service(s) | DrainKey::Dest(s, _) => *s,
    }
}

/// Advance one drain: `None` while it goes on (and `table` then holds it at
/// weight 0), or how it ended.
#[allow(clippy::too_many_arguments)]
fn progress(
    key: &DrainKey,
    drain: &Drain,
    table: &mut DesiredTable,
    desired: &DesiredTable,
    actual: &ActualTable,
    owned: &Owned,
    now: Instant,
    read: CountsRead<'_>,
) -> Option<DrainEnd> {
    match *key {
        DrainKey::Dest(s, d) => {
            if desired
                .services
                .get(&s)
                .is_some_and(|x| x.dests.contains_key(&d))
            {
                return Some(DrainEnd::Cancelled);
            }
            let Some(have) = actual.services.get(&s).and_then(|a| a.dests.get(&d)) else {
                return Some(DrainEnd::Gone);
            };
            // A service this node no longer installs is deleted whole.
            let Some(want) = table.services.get_mut(&s) else {
                return Some(DrainEnd::Gone);
            };
            if !owned.has_dest(&s, &d) {
                return Some(DrainEnd::Gone);
            }
            if read.covers(&s) && have.active_conns == 0 {
                return Some(DrainEnd::Idle);
            }
            if now >= drain.deadline {
                return Some(DrainEnd::TimedOut);
            }
            want.dests.insert(
                d,
                rk_ipvs::Destination {
                    weight: 0,
                    ..have.dest
                },
            );
            None
        }
        DrainKey::Service(s) => {
            if desired.services.contains_key(&s) {
                return Some(DrainEnd::Cancelled);
            }
            let Some(a) = actual.services.get(&s) else {
                return Some(DrainEnd::Gone);
            };
            if !owned.has_service(&s) {
                return Some(DrainEnd::Gone);
            }
            if read.covers(&s) && a.dests.values().all(|d| d.active_conns == 0) {
                return Some(DrainEnd::Idle);
            }
            if now >= drain.deadline {
                return Some(DrainEnd::TimedOut);
            }
            let dests = a
                .dests
                .iter()
                .filter(|(k, _)| owned.has_dest(&s, k))
                .map(|(k, d)| {
                    (
                        *k,
                        rk_ipvs::Destination {
                            weight: 0,
                            ..d.dest
                        },
                    )
                })
                .collect();
            table.services.insert(
                s,
                DesiredService {
                    service: a.service.clone(),
                    dests,
                    hold: false,
                    origin: drain.origin.clone(),
                },
            );
            None
        }
    }
}
