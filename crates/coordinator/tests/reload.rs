//! Reloads through the engine at scale, and ownership across a restart through the record
//! (issue 8). Kernel answers are synthetic; `tests/vm.rs` and the daemon's VM test run the
//! same paths against the real kernel.

mod common;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use common::*;
use rk_coordinator::{ActualTable, Engine, IpvsOp, Observation, Owned, Policy, RsHealth, RsId};
use rk_ipvs::{IpvsError, Service};

/// `n` services on 192.0.2.1, ports 10000.., three real servers each; `weight_of(i, r)`
/// gives real server `r`'s weight in service `i`.
fn services(n: usize, weight_of: impl Fn(usize, usize) -> u32) -> String {
    let mut t = String::new();
    for i in 0..n {
        let _ = writeln!(
            t,
            "virtual_server 192.0.2.1 {} {{\n protocol TCP\n lb_kind DR",
            10000 + i
        );
        for r in 0..3 {
            let _ = writeln!(
                t,
                " real_server 198.51.100.{} {} {{ weight {} }}",
                r + 1,
                10000 + i,
                weight_of(i, r)
            );
        }
        t.push_str("}\n");
    }
    t
}

fn ok(n: usize) -> Vec<Result<(), IpvsError>> {
    (0..n).map(|_| Ok(())).collect()
}

/// An engine converged on `text` and the kernel table it made.
fn converged(text: &str, now: Instant) -> (Engine, ActualTable) {
    let mut e = Engine::new(Arc::new(load(text)), Policy::default());
    let plan = e.plan(now, Some((ActualTable::default(), Observation::First)));
    e.record(&plan.ops, &ok(plan.ops.len()));
    let k = kernel_after(&ActualTable::default(), &plan.ops);
    (e, k)
}

#[test]
fn one_weight_changed_in_a_thousand_services_is_one_edit() {
    let t0 = Instant::now();
    let (mut e, kernel) = converged(&services(1000, |_, _| 1), t0);
    assert_eq!(kernel.services.len(), 1000);

    // The same configuration again: nothing at all.
    e.set_config(Arc::new(load(&services(1000, |_, _| 1))), Policy::default());
    let plan = e.plan(t0, None);
    assert!(plan.recomputed);
    assert_eq!(plan.ops, vec![]);

    let changed = services(1000, |i, r| if (i, r) == (500, 1) { 5 } else { 1 });
    e.set_config(Arc::new(load(&changed)), Policy::default());
    let plan = e.plan(t0, None);
    assert_eq!(kinds(&plan.ops), vec!["EditDest"]);
    match &plan.ops[0] {
        IpvsOp::EditDest { service, dest } => {
            assert_eq!(*service, tcp("192.0.2.1", 10500));
            assert_eq!(dest.key, dk("198.51.100.2", 10500));
            assert_eq!(dest.weight, 5);
        }
        op => panic!("{op:?}"),
    }
    // Against a fresh read of the kernel too (a periodic read right after the reload).
    e.record(&plan.ops, &ok(1));
    let after = kernel_after(&kernel, &plan.ops);
    let plan = e.plan(t0, Some((after, Observation::Periodic)));
    assert_eq!(plan.ops, vec![]);
}

#[test]
fn one_percent_of_the_real_servers_changed_gives_that_many_edits() {
    let t0 = Instant::now();
    let (mut e, _) = converged(&services(200, |_, _| 1), t0);
    // 6 of 600 real servers.
    let changed = services(200, |i, r| if i % 34 == 0 && r == 2 { 7 } else { 1 });
    e.set_config(Arc::new(load(&changed)), Policy::default());
    let plan = e.plan(t0, None);
    assert_eq!(plan.ops.len(), 6);
    assert!(
        plan.ops
            .iter()
            .all(|o| matches!(o, IpvsOp::EditDest { .. }))
    );
}

#[test]
fn changed_service_settings_are_edited_in_place() {
    let t0 = Instant::now();
    let text = services(3, |_, _| 1);
    let (mut e, _) = converged(&text, t0);
    let wrr = text.replacen(" lb_kind DR", " lb_kind DR\n lb_algo wrr", 1);
    e.set_config(Arc::new(load(&wrr)), Policy::default());
    let plan = e.plan(t0, None);
    assert_eq!(kinds(&plan.ops), vec!["EditService"]);
    if let IpvsOp::EditService(s) = &plan.ops[0] {
        assert_eq!(s.key, tcp("192.0.2.1", 10000));
        assert_eq!(s.scheduler, "wrr");
    }
}

#[test]
fn health_carries_over_a_reload() {
    let t0 = Instant::now();
    let text = "virtual_server 192.0.2.1 80 {\n protocol TCP\n lb_kind DR\n \
                real_server 198.51.100.1 80 { TCP_CHECK { } }\n \
                real_server 198.51.100.2 80 { TCP_CHECK { } }\n}\n";
    let (mut e, _) = converged(text, t0);
    let cfg = load(text);
    let vs = &cfg.virtual_servers[0];
    let down = RsId::of(vs, &vs.real_servers[1]);
    e.set_health(down.clone(), Some(RsHealth::DOWN));
    let plan = e.plan(t0, None);
    assert_eq!(kinds(&plan.ops), vec!["DelDest"]);
    e.record(&plan.ops, &ok(1));
    // Reload with another real server added: the down one stays out, nothing else moves.
    let more = text.replace(
        " real_server 198.51.100.2 80",
        " real_server 198.51.100.3 80 { }\n real_server 198.51.100.2 80",
    );
    e.set_config(Arc::new(load(&more)), Policy::default());
    let plan = e.plan(t0, None);
    assert_eq!(kinds(&plan.ops), vec!["AddDest"]);
    assert_eq!(e.health().get(&down), Some(RsHealth::DOWN));
}

#[test]
fn a_restart_removes_the_leftovers_its_record_claims_and_nothing_else() {
    let t0 = Instant::now();
    let old = services(4, |_, _| 1);
    let (e, mut kernel) = converged(&old, t0);
    // A foreign service, and a destination added by hand to one of ours.
    let foreign = Service::new(tcp("203.0.113.7", 25), "rr");
    kernel.apply(&IpvsOp::AddService(foreign.clone()));
    let by_hand =
        rk_ipvs::Destination::new(ip("198.51.100.9"), 10000, rk_ipvs::Forward::DirectRoute);
    kernel.apply(&IpvsOp::AddDest {
        service: tcp("192.0.2.1", 10000),
        dest: by_hand,
    });
    let record = e.ownership_record().to_record();

    // The new configuration drops service 10003 and real server .3 of service 10000.
    let new =
        services(3, |_, _| 1).replacen(" real_server 198.51.100.3 10000 { weight 1 }\n", "", 1);
    // Without the record: leftovers are foreign, nothing is removed.
    let mut fresh = Engine::new(Arc::new(load(&new)), Policy::default());
    let plan = fresh.plan(t0, Some((kernel.clone(), Observation::First)));
    assert_eq!(plan.ops, vec![]);

    // With it: exactly the leftovers go.
    let mut e2 = Engine::new(Arc::new(load(&new)), Policy::default());
    e2.owned_mut()
        .claim_all(&Owned::from_record(&record).expect("own record"));
    let plan = e2.plan(t0, Some((kernel.clone(), Observation::First)));
    assert_eq!(
        plan.ops,
        vec![
            IpvsOp::DelDest {
                service: tcp("192.0.2.1", 10000),
                dest: dk("198.51.100.3", 10000)
            },
            IpvsOp::DelService(tcp("192.0.2.1", 10003)),
        ]
    );
    e2.record(&plan.ops, &ok(2));
    // The next record no longer has them, and never had the foreign objects.
    let rec = e2.ownership_record();
    assert!(!rec.has_service(&tcp("192.0.2.1", 10003)));
    assert!(!rec.has_dest(&tcp("192.0.2.1", 10000), &dk("198.51.100.3", 10000)));
    assert!(!rec.has_service(&foreign.key));
    assert!(!rec.has_dest(&tcp("192.0.2.1", 10000), &by_hand.key));
    assert!(rec.has_dest(&tcp("192.0.2.1", 10001), &dk("198.51.100.3", 10001)));
}

#[test]
fn the_record_keeps_real_servers_that_are_down() {
    let t0 = Instant::now();
    let text = "virtual_server 192.0.2.1 80 {\n protocol TCP\n lb_kind DR\n \
                real_server 198.51.100.1 80 { TCP_CHECK { } }\n}\n";
    let (mut e, _) = converged(text, t0);
    let cfg = load(text);
    let vs = &cfg.virtual_servers[0];
    e.set_health(RsId::of(vs, &vs.real_servers[0]), Some(RsHealth::DOWN));
    let plan = e.plan(t0, None);
    e.record(&plan.ops, &ok(plan.ops.len()));
    assert!(
        !e.owned()
            .has_dest(&tcp("192.0.2.1", 80), &dk("198.51.100.1", 80))
    );
    // Down now, but ours if it comes back before the next record is written.
    assert!(
        e.ownership_record()
            .has_dest(&tcp("192.0.2.1", 80), &dk("198.51.100.1", 80))
    );
}
