//! `diff(&desired, &actual, &owned)`: the operations that take the kernel's
//! table to the desired one. Pure and deterministic.
//!
//! Order (each group in key order):
//! 1. set timeouts;
//! 2. add and edit services, each followed by the additions and edits of its
//!    destinations (a takeover's first services work before the last are sent);
//! 3. delete destinations;
//! 4. delete services;
//! 5. stop, then start, sync daemons.
//!
//! Only what differs is touched: an unchanged table gives no operation, a
//! changed weight one `EditDest`. Only what is ours ([`Owned`]) is deleted;
//! deleting a service deletes its destinations, so they get no `DelDest`.

use rk_ipvs::{Daemon, IpvsOp, SyncRole};

use crate::table::{ActualTable, DesiredTable, Owned, dest_matches};

/// The operations from `actual` to `desired`, deleting only what `owned` has.
pub fn diff(desired: &DesiredTable, actual: &ActualTable, owned: &Owned) -> Vec<IpvsOp> {
    let mut ops = Vec::new();

    if let Some(t) = desired.timeouts
        && actual.timeouts.is_none_or(|a| !t.satisfied_by(&a))
    {
        ops.push(IpvsOp::SetTimeouts(t.to_timeouts()));
    }

    // Service by service, each followed by its destinations: a new master with 10,000
    // services to install serves the first ones while the rest are still on their way.
    for (key, want) in &desired.services {
        let have = actual.services.get(key);
        match have {
            None if want.hold => continue,
            None => ops.push(IpvsOp::AddService(want.service.clone())),
            Some(have) if have.service != want.service => {
                ops.push(IpvsOp::EditService(want.service.clone()))
            }
            Some(_) => {}
        }
        for (dk, d) in &want.dests {
            match have.and_then(|h| h.dests.get(dk)) {
                None => ops.push(IpvsOp::AddDest {
                    service: *key,
                    dest: *d,
                }),
                Some(h) if !dest_matches(d, &h.dest) => ops.push(IpvsOp::EditDest {
                    service: *key,
                    dest: *d,
                }),
                Some(_) => {}
            }
        }
    }

    for (key, want) in &desired.services {
        let Some(have) = actual.services.get(key) else {
            continue;
        };
        for dk in have.dests.keys() {
            if !want.dests.contains_key(dk) && owned.has_dest(key, dk) {
                ops.push(IpvsOp::DelDest {
                    service: *key,
                    dest: *dk,
                });
            }
        }
    }

    for key in actual.services.keys() {
        if !desired.services.contains_key(key) && owned.has_service(key) {
            ops.push(IpvsOp::DelService(*key));
        }
    }

    daemon_ops(desired, actual, owned, &mut ops);
    ops
}

fn daemon_ops(desired: &DesiredTable, actual: &ActualTable, owned: &Owned, ops: &mut Vec<IpvsOp>) {
    let mut stops = Vec::new();
    let mut starts = Vec::new();
    for role in [SyncRole::Master, SyncRole::Backup] {
        let have = actual.daemons.get(&role);
        let want = match &desired.daemons {
            Some(w) => w.get(&role),
            // Not configured: stop only a daemon we started.
            None if owned.has_daemon(role) => None,
            None => continue,
        };
        match (want, have) {
            (Some(w), Some(h)) if !daemon_matches(w, h) => {
                stops.push(IpvsOp::StopDaemon(role));
                starts.push(IpvsOp::StartDaemon(w.clone()));
            }
            (Some(w), None) => starts.push(IpvsOp::StartDaemon(w.clone())),
            (None, Some(_)) => stops.push(IpvsOp::StopDaemon(role)),
            _ => {}
        }
    }
    ops.extend(stops);
    ops.extend(starts);
}

/// The kernel fills in defaults for the optional settings: compare only
/// what we ask for.
fn daemon_matches(want: &Daemon, have: &Daemon) -> bool {
    want.role == have.role
        && want.mcast_ifn == have.mcast_ifn
        && want.syncid == have.syncid
        && want.sync_maxlen.is_none_or(|v| have.sync_maxlen == Some(v))
        && want.mcast_group.is_none_or(|v| have.mcast_group == Some(v))
        && want.mcast_port.is_none_or(|v| have.mcast_port == Some(v))
        && want.mcast_ttl.is_none_or(|v| have.mcast_ttl == Some(v))
}
