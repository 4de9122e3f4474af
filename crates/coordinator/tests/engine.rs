//! The engine: drain before delete, drift-repair classification, results,
//! adoption at restart, shutdown. Kernel answers are synthetic here; the VM
//! suite (`tests/vm.rs`) runs the same paths against the real kernel.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rk_config::model::FlushOnStop;
use rk_coordinator::{
    ActualTable, DrainEnd, DrainKey, Engine, InstanceRole, IpvsOp, Observation, Policy, RsHealth,
    RsId,
};
use rk_ipvs::{
    Destination, DestinationEntry, Forward, IpvsError, OpErrorKind, Service, SyncRole, Timeouts,
};

const TWO_RS: &str = r#"
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_kind DR
    real_server 198.51.100.1 80 { weight 2 }
    real_server 198.51.100.2 80 {
        weight 3
        TCP_CHECK { }
    }
}
virtual_server 192.0.2.20 80 {
    protocol TCP
    lb_kind DR
    real_server 198.51.100.5 80 { }
}
"#;

fn one_rs() -> String {
    TWO_RS.replace(
        "    real_server 198.51.100.2 80 {\n        weight 3\n        TCP_CHECK { }\n    }\n",
        "",
    )
}

fn drain_policy(secs: u64) -> Policy {
    Policy {
        drain_timeout: Duration::from_secs(secs),
        ..Policy::default()
    }
}

fn ok(n: usize) -> Vec<Result<(), IpvsError>> {
    (0..n).map(|_| Ok(())).collect()
}

/// An engine whose kernel table has converged to `text`, plus that table.
fn converged(text: &str, policy: Policy, now: Instant) -> (Engine, ActualTable) {
    let mut e = Engine::new(Arc::new(load(text)), policy);
    let empty = ActualTable {
        timeouts: Some(Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        }),
        ..ActualTable::default()
    };
    let plan = e.plan(now, Some((empty.clone(), Observation::First)));
    assert!(
        plan.repair.iter().all(|r| !r),
        "nothing is a repair at first"
    );
    let rec = e.record(&plan.ops, &ok(plan.ops.len()));
    assert_eq!(rec.applied, plan.ops.len());
    let kernel = kernel_after(&empty, &plan.ops);
    assert_eq!(e.actual(), &kernel, "the model follows what was applied");
    (e, kernel)
}

fn with_conns(mut t: ActualTable, addr: &str, active: u32) -> ActualTable {
    for s in t.services.values_mut() {
        if let Some(d) = s.dests.get_mut(&dk(addr, 80)) {
            d.active_conns = active;
        }
    }
    t
}

fn dest(addr: &str, weight: u32) -> Destination {
    Destination {
        weight,
        ..Destination::new(ip(addr), 80, Forward::DirectRoute)
    }
}

#[test]
fn removed_real_server_drains_until_idle() {
    let t0 = Instant::now();
    let (mut e, kernel) = converged(TWO_RS, drain_policy(60), t0);
    let key = tcp("192.0.2.10", 80);
    e.set_config(Arc::new(load(&one_rs())), drain_policy(60));
    let busy = with_conns(kernel, "198.51.100.2", 3);
    let plan = e.plan(t0, Some((busy.clone(), Observation::Periodic)));
    assert_eq!(
        plan.drains_started,
        vec![DrainKey::Dest(key, dk("198.51.100.2", 80))]
    );
    assert_eq!(
        plan.ops,
        vec![IpvsOp::EditDest {
            service: key,
            dest: dest("198.51.100.2", 0)
        }]
    );
    assert_eq!(plan.repair, vec![false], "a reload's change is no repair");
    e.record(&plan.ops, &ok(1));
    let busy = kernel_after(&busy, &plan.ops);
    // Still busy, before the deadline: nothing to do.
    let plan = e.plan(
        t0 + Duration::from_secs(30),
        Some((busy.clone(), Observation::Periodic)),
    );
    assert_eq!(plan.ops, vec![]);
    assert_eq!(e.drains().len(), 1);
    // Idle: deleted.
    let idle = with_conns(busy, "198.51.100.2", 0);
    let plan = e.plan(
        t0 + Duration::from_secs(31),
        Some((idle, Observation::Periodic)),
    );
    assert_eq!(
        plan.ops,
        vec![IpvsOp::DelDest {
            service: key,
            dest: dk("198.51.100.2", 80)
        }]
    );
    assert_eq!(
        plan.drains_ended,
        vec![(DrainKey::Dest(key, dk("198.51.100.2", 80)), DrainEnd::Idle)]
    );
    assert_eq!(plan.repair, vec![false]);
    assert!(e.drains().is_empty());
}

/// A reload pass planned on the model (no read) must not take the model's
/// zero connection counts for an idle destination.
#[test]
fn drain_ends_idle_only_on_fresh_counts() {
    let t0 = Instant::now();
    let (mut e, kernel) = converged(TWO_RS, drain_policy(60), t0);
    e.set_config(Arc::new(load(&one_rs())), drain_policy(60));
    let plan = e.plan(t0, None);
    assert_eq!(
        plan.ops,
        vec![IpvsOp::EditDest {
            service: tcp("192.0.2.10", 80),
            dest: dest("198.51.100.2", 0)
        }],
        "held at weight 0 until the kernel says it is idle"
    );
    e.record(&plan.ops, &ok(1));
    let read = kernel_after(&kernel, &plan.ops);
    let plan = e.plan(t0, Some((read, Observation::Periodic)));
    assert_eq!(kinds(&plan.ops), ["DelDest"]);
    assert_eq!(plan.drains_ended[0].1, DrainEnd::Idle);
}

/// Between full reads, reading only the draining service's destinations is
/// enough to end its drain, and only its drain.
#[test]
fn drain_poll_reads_only_draining_services() {
    let t0 = Instant::now();
    let (mut e, kernel) = converged(TWO_RS, drain_policy(60), t0);
    let key = tcp("192.0.2.10", 80);
    e.set_config(Arc::new(load(&one_rs())), drain_policy(60));
    let plan = e.plan(t0, None);
    e.record(&plan.ops, &ok(plan.ops.len()));
    assert_eq!(
        e.draining_services().into_iter().collect::<Vec<_>>(),
        vec![key]
    );
    let entry = |active| DestinationEntry {
        dest: dest("198.51.100.2", 0),
        active_conns: active,
        inactive_conns: 0,
        persistent_conns: 0,
        stats: None,
        stats64: None,
    };
    e.observe_counts(key, &[entry(2)]);
    assert_eq!(e.plan(t0, None).ops, vec![], "still busy");
    // Counts of another service do not count for this one.
    e.observe_counts(tcp("192.0.2.20", 80), &[]);
    assert_eq!(e.plan(t0, None).ops, vec![], "no fresh count for it");
    e.observe_counts(key, &[entry(0)]);
    let plan = e.plan(t0, None);
    assert_eq!(kinds(&plan.ops), ["DelDest"]);
    assert_eq!(plan.drains_ended[0].1, DrainEnd::Idle);
    let _ = kernel;
}

#[test]
fn drain_times_out() {
    let t0 = Instant::now();
    let (mut e, kernel) = converged(TWO_RS, drain_policy(60), t0);
    e.set_config(Arc::new(load(&one_rs())), drain_policy(60));
    let busy = with_conns(kernel, "198.51.100.2", 3);
    let plan = e.plan(t0, Some((busy.clone(), Observation::Periodic)));
    e.record(&plan.ops, &ok(plan.ops.len()));
    let busy = kernel_after(&busy, &plan.ops);
    let plan = e.plan(
        t0 + Duration::from_secs(60),
        Some((busy, Observation::Periodic)),
    );
    assert_eq!(kinds(&plan.ops), ["DelDest"]);
    assert_eq!(plan.drains_ended[0].1, DrainEnd::TimedOut);
}

#[test]
fn no_drain_without_connections_or_timeout() {
    for (policy, conns) in [(drain_policy(60), 0), (drain_policy(0), 5)] {
        let t0 = Instant::now();
        let (mut e, kernel) = converged(TWO_RS, policy.clone(), t0);
        e.set_config(Arc::new(load(&one_rs())), policy.clone());
        let plan = e.plan(
            t0,
            Some((
                with_conns(kernel, "198.51.100.2", conns),
                Observation::Periodic,
            )),
        );
        assert_eq!(
            plan.ops,
            vec![IpvsOp::DelDest {
                service: tcp("192.0.2.10", 80),
                dest: dk("198.51.100.2", 80)
            }],
            "timeout {:?}, {conns} connections",
            policy.drain_timeout
        );
    }
}

#[test]
fn reload_that_brings_it_back_cancels_the_drain() {
    let t0 = Instant::now();
    let (mut e, kernel) = converged(TWO_RS, drain_policy(60), t0);
    e.set_config(Arc::new(load(&one_rs())), drain_policy(60));
    let busy = with_conns(kernel, "198.51.100.2", 3);
    let plan = e.plan(t0, Some((busy.clone(), Observation::Periodic)));
    e.record(&plan.ops, &ok(plan.ops.len()));
    e.set_config(Arc::new(load(TWO_RS)), drain_policy(60));
    let plan = e.plan(t0 + Duration::from_secs(1), None);
    assert_eq!(
        plan.ops,
        vec![IpvsOp::EditDest {
            service: tcp("192.0.2.10", 80),
            dest: dest("198.51.100.2", 3)
        }]
    );
    assert!(e.drains().is_empty());
}

#[test]
fn removed_virtual_server_drains_then_goes() {
    let t0 = Instant::now();
    let (mut e, kernel) = converged(TWO_RS, drain_policy(60), t0);
    let without = TWO_RS
        .split("virtual_server 192.0.2.20 80")
        .next()
        .expect("text")
        .to_string();
    e.set_config(Arc::new(load(&without)), drain_policy(60));
    let key = tcp("192.0.2.20", 80);
    let busy = with_conns(kernel, "198.51.100.5", 1);
    let plan = e.plan(t0, Some((busy.clone(), Observation::Periodic)));
    assert_eq!(plan.drains_started, vec![DrainKey::Service(key)]);
    assert_eq!(
        plan.ops,
        vec![IpvsOp::EditDest {
            service: key,
            dest: dest("198.51.100.5", 0)
        }]
    );
    e.record(&plan.ops, &ok(1));
    let idle = with_conns(kernel_after(&busy, &plan.ops), "198.51.100.5", 0);
    let plan = e.plan(
        t0 + Duration::from_secs(2),
        Some((idle, Observation::Periodic)),
    );
    assert_eq!(plan.ops, vec![IpvsOp::DelService(key)]);
}

#[test]
fn draining_service_back_with_other_servers_drains_only_the_lost_one() {
    let t0 = Instant::now();
    let (mut e, kernel) = converged(TWO_RS, drain_policy(60), t0);
    let key = tcp("192.0.2.20", 80);
    let without = TWO_RS
        .split("virtual_server 192.0.2.20 80")
        .next()
        .expect("text")
        .to_string();
    e.set_config(Arc::new(load(&without)), drain_policy(60));
    let busy = with_conns(kernel, "198.51.100.5", 1);
    let plan = e.plan(t0, Some((busy.clone(), Observation::Periodic)));
    e.record(&plan.ops, &ok(plan.ops.len()));
    let busy = kernel_after(&busy, &plan.ops);
    e.set_config(
        Arc::new(load(&TWO_RS.replace("198.51.100.5", "198.51.100.6"))),
        drain_policy(60),
    );
    let plan = e.plan(t0, Some((busy, Observation::Periodic)));
    assert_eq!(
        plan.ops,
        vec![IpvsOp::AddDest {
            service: key,
            dest: dest("198.51.100.6", 1)
        }],
        "the service stays, the old server keeps draining at weight 0"
    );
    assert!(
        e.drains()
            .contains(&DrainKey::Dest(key, dk("198.51.100.5", 80)))
    );
    assert!(!e.drains().contains(&DrainKey::Service(key)));
}

#[test]
fn a_real_server_going_down_is_deleted_at_once_even_with_drain() {
    let t0 = Instant::now();
    let (mut e, kernel) = converged(TWO_RS, drain_policy(60), t0);
    let cfg = Arc::clone(e.config());
    let vs = &cfg.virtual_servers[0];
    e.set_health(RsId::of(vs, &vs.real_servers[1]), Some(RsHealth::DOWN));
    let plan = e.plan(
        t0,
        Some((with_conns(kernel, "198.51.100.2", 9), Observation::Periodic)),
    );
    assert_eq!(kinds(&plan.ops), ["DelDest"]);
    assert!(plan.drains_started.is_empty());
}

#[test]
fn drift_is_classified_as_repair() {
    let t0 = Instant::now();
    let (mut e, kernel) = converged(TWO_RS, Policy::default(), t0);
    let key = tcp("192.0.2.10", 80);
    // Someone runs `ipvsadm -d` on one destination while a checker changes
    // another's weight: one repair, one ordinary change.
    let mut drifted = kernel.clone();
    drifted
        .services
        .get_mut(&key)
        .expect("service")
        .dests
        .remove(&dk("198.51.100.1", 80));
    let cfg = Arc::clone(e.config());
    let vs = &cfg.virtual_servers[0];
    e.set_health(
        RsId::of(vs, &vs.real_servers[1]),
        Some(RsHealth {
            up: true,
            weight: Some(7),
        }),
    );
    let plan = e.plan(t0, Some((drifted, Observation::Periodic)));
    assert_eq!(kinds(&plan.ops), ["AddDest", "EditDest"]);
    assert_eq!(plan.repair, vec![true, false]);
    // After an error the read is not drift: nothing counts as a repair.
    let mut drifted = kernel.clone();
    drifted.services.remove(&key);
    let plan = e.plan(t0, Some((drifted, Observation::AfterError)));
    assert!(!plan.ops.is_empty());
    assert!(plan.repair.iter().all(|r| !r));
}

#[test]
fn results_update_the_model_only_when_applied() {
    let t0 = Instant::now();
    let mut e = Engine::new(Arc::new(load(TWO_RS)), Policy::default());
    let plan = e.plan(t0, Some((ActualTable::default(), Observation::First)));
    // Each service comes with its destinations: find the two additions.
    let adds: Vec<usize> = kinds(&plan.ops)
        .iter()
        .enumerate()
        .filter(|(_, k)| **k == "AddService")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(adds.len(), 2, "{:?}", kinds(&plan.ops));
    let mut results = ok(plan.ops.len());
    results[adds[0]] = Err(IpvsError::Op {
        op: plan.ops[adds[0]].to_string(),
        kind: OpErrorKind::Exists,
    });
    results[adds[1]] = Err(IpvsError::Op {
        op: plan.ops[adds[1]].to_string(),
        kind: OpErrorKind::SchedulerMissing("wlc".into()),
    });
    let rec = e.record(&plan.ops, &results);
    assert_eq!(rec.applied, plan.ops.len() - 1, "EEXIST on add is success");
    assert_eq!(rec.failed.len(), 1);
    assert!(rec.need_dump);
    assert!(e.owned().has_service(&tcp("192.0.2.10", 80)));
    assert!(!e.owned().has_service(&tcp("192.0.2.20", 80)));
    assert!(!e.actual().services.contains_key(&tcp("192.0.2.20", 80)));
}

#[test]
fn restart_adopts_what_the_configuration_describes() {
    let t0 = Instant::now();
    let text = format!(
        "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {{ 192.0.2.10 }}\n}}\n{TWO_RS}"
    );
    let (_, kernel) = converged(&text, Policy::default(), t0);
    // The kernel as a crashed predecessor left it (while MASTER, rules in),
    // plus a foreign service.
    let (old_master, _) = {
        let mut e = Engine::new(Arc::new(load(&text)), Policy::default());
        e.set_role("VI_1", Some(InstanceRole::Master));
        let plan = e.plan(t0, Some((kernel.clone(), Observation::First)));
        let k = kernel_after(&kernel, &plan.ops);
        (k, plan)
    };
    let mut left = old_master.clone();
    let foreign = Service::new(tcp("203.0.113.7", 25), "rr");
    left.apply(&IpvsOp::AddService(foreign.clone()));

    // New process, VRRP state not settled yet: nothing added or removed.
    let mut e = Engine::new(Arc::new(load(&text)), Policy::default());
    let plan = e.plan(t0, Some((left.clone(), Observation::First)));
    assert_eq!(plan.ops, vec![], "held while the instance is unknown");
    assert!(e.owned().has_service(&tcp("192.0.2.10", 80)));
    assert!(!e.owned().has_service(&foreign.key));
    // It turns out BACKUP: our leftover goes, the foreign service stays.
    e.set_role("VI_1", Some(InstanceRole::Backup));
    let plan = e.plan(t0, None);
    assert_eq!(plan.ops, vec![IpvsOp::DelService(tcp("192.0.2.10", 80))]);
    e.record(&plan.ops, &ok(1));
    // Shutdown: only what is ours.
    let ops = e.shutdown_ops(FlushOnStop::No);
    assert_eq!(ops, vec![IpvsOp::DelService(tcp("192.0.2.20", 80))]);
    assert_eq!(e.shutdown_ops(FlushOnStop::All), vec![IpvsOp::Flush]);
}

/// A leftover the new configuration no longer describes is foreign, unless
/// the daemon hands in what the previous run owned.
#[test]
fn claimed_leftovers_are_removed() {
    let t0 = Instant::now();
    let (_, kernel) = converged(TWO_RS, Policy::default(), t0);
    let smaller = TWO_RS
        .split("virtual_server 192.0.2.20 80")
        .next()
        .expect("text")
        .to_string();
    let mut e = Engine::new(Arc::new(load(&smaller)), Policy::default());
    let plan = e.plan(t0, Some((kernel.clone(), Observation::First)));
    assert_eq!(plan.ops, vec![], "not ours: left alone");
    let mut e = Engine::new(Arc::new(load(&smaller)), Policy::default());
    e.owned_mut().claim_service(tcp("192.0.2.20", 80));
    let plan = e.plan(t0, Some((kernel, Observation::First)));
    assert_eq!(plan.ops, vec![IpvsOp::DelService(tcp("192.0.2.20", 80))]);
}

#[test]
fn shutdown_stops_our_daemons_and_restores_timeouts() {
    let t0 = Instant::now();
    let text = format!(
        "global_defs {{\n lvs_sync_daemon eth0\n lvs_timeouts tcp 7200 udp 60\n}}\n{TWO_RS}"
    );
    let (e, _) = converged(&text, Policy::default(), t0);
    let ops = e.shutdown_ops(FlushOnStop::No);
    assert_eq!(
        ops,
        vec![
            IpvsOp::DelService(tcp("192.0.2.10", 80)),
            IpvsOp::DelService(tcp("192.0.2.20", 80)),
            IpvsOp::StopDaemon(SyncRole::Master),
            IpvsOp::StopDaemon(SyncRole::Backup),
            IpvsOp::SetTimeouts(Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }),
        ]
    );
}

#[test]
fn inputs_that_change_nothing_do_not_recompute() {
    let t0 = Instant::now();
    let (mut e, _) = converged(TWO_RS, Policy::default(), t0);
    let cfg = Arc::clone(e.config());
    let vs = &cfg.virtual_servers[0];
    let rs = RsId::of(vs, &vs.real_servers[1]);
    e.set_health(rs.clone(), Some(RsHealth::UP));
    assert!(e.is_dirty());
    let plan = e.plan(t0, None);
    assert_eq!(plan.ops, vec![], "up is what it already was");
    e.set_health(rs, Some(RsHealth::UP));
    e.set_role("VI_9", None);
    assert!(!e.is_dirty());
}
