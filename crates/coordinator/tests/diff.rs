//! `diff()`: minimal, ordered, and never deleting what is not ours.

mod common;

use common::*;
use rk_coordinator::{
    ActualDest, ActualService, ActualTable, Health, InstanceRole, Owned, Ownership, Policy,
    RsHealth, RsId, diff,
};
use rk_ipvs::{Daemon, Destination, Forward, IpvsOp, Service, SyncRole, Timeouts};

const CONF: &str = r#"
global_defs {
    lvs_timeouts tcp 7200
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress { 192.0.2.10/24 }
}
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_algo rr
    lb_kind DR
    real_server 198.51.100.1 80 {
        weight 1
        TCP_CHECK { }
    }
    real_server 198.51.100.2 80 {
        weight 2
        TCP_CHECK { }
    }
}
virtual_server 192.0.2.20 443 {
    protocol TCP
    lb_algo wlc
    lb_kind NAT
    real_server 10.0.0.1 8443 {
        inhibit_on_failure
        TCP_CHECK { }
    }
    real_server 10.0.0.2 8443 { }
}
"#;

struct World {
    cfg: rk_config::Config,
    own: Ownership,
    health: Health,
    policy: Policy,
}

impl World {
    fn new(text: &str) -> World {
        World {
            cfg: load(text),
            own: Ownership::new().with("VI_1", InstanceRole::Master),
            health: Health::new(),
            policy: Policy::default(),
        }
    }

    fn desired(&self) -> rk_coordinator::DesiredTable {
        run(&self.cfg, &self.own, &self.health, &self.policy).table
    }

    fn rs(&self, vs: usize, rs: usize) -> RsId {
        let v = &self.cfg.virtual_servers[vs];
        RsId::of(v, &v.real_servers[rs])
    }

    /// The kernel after converging from empty, every object ours.
    fn converged(&self) -> (ActualTable, Owned) {
        let d = self.desired();
        let start = ActualTable {
            timeouts: Some(Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            }),
            ..ActualTable::default()
        };
        let ops = diff(&d, &start, &Owned::new());
        let mut owned = Owned::new();
        for op in &ops {
            owned.record(op);
        }
        (kernel_after(&start, &ops), owned)
    }
}

#[test]
fn from_empty_adds_in_order() {
    let w = World::new(CONF);
    let d = w.desired();
    let start = ActualTable {
        timeouts: Some(Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300,
        }),
        ..ActualTable::default()
    };
    let ops = diff(&d, &start, &Owned::new());
    assert_eq!(
        kinds(&ops),
        [
            "SetTimeouts",
            "AddService",
            "AddDest",
            "AddDest",
            "AddService",
            "AddDest",
            "AddDest"
        ]
    );
    // Each service right before its own destinations.
    for (i, op) in ops.iter().enumerate() {
        if let IpvsOp::AddDest { service, .. } = op {
            let owner = ops[..i].iter().rev().find_map(|o| match o {
                IpvsOp::AddService(s) => Some(s.key),
                _ => None,
            });
            assert_eq!(owner, Some(*service), "{ops:#?}");
        }
    }
    assert_eq!(
        ops[0],
        IpvsOp::SetTimeouts(Timeouts {
            tcp: 7200,
            tcp_fin: 0,
            udp: 0
        }),
        "only the configured timeout is set; 0 leaves the others"
    );
    // Deterministic: same inputs, same list.
    assert_eq!(ops, diff(&w.desired(), &start, &Owned::new()));
}

#[test]
fn unchanged_gives_no_operation() {
    let w = World::new(CONF);
    let (kernel, owned) = w.converged();
    assert_eq!(diff(&w.desired(), &kernel, &owned), vec![]);
    // Also with connection counts in the kernel's table.
    let mut busy = kernel.clone();
    for s in busy.services.values_mut() {
        for d in s.dests.values_mut() {
            d.active_conns = 12;
            d.inactive_conns = 3;
        }
    }
    assert_eq!(diff(&w.desired(), &busy, &owned), vec![]);
}

#[test]
fn single_changes_give_single_operations() {
    let key80 = tcp("192.0.2.10", 80);
    let key443 = tcp("192.0.2.20", 443);
    // (name, change to apply to the world, expected operations)
    type Change = fn(&mut World);
    let rows: Vec<(&str, Change, Vec<IpvsOp>)> = vec![
        (
            "dynamic weight change: one EditDest",
            |w| {
                let rs = w.rs(0, 1);
                w.health.set(
                    rs,
                    RsHealth {
                        up: true,
                        weight: Some(9),
                    },
                );
            },
            vec![IpvsOp::EditDest {
                service: key80,
                dest: Destination {
                    weight: 9,
                    ..Destination::new(ip("198.51.100.2"), 80, Forward::DirectRoute)
                },
            }],
        ),
        (
            "real server down: one DelDest",
            |w| {
                let rs = w.rs(0, 0);
                w.health.set(rs, RsHealth::DOWN);
            },
            vec![IpvsOp::DelDest {
                service: key80,
                dest: dk("198.51.100.1", 80),
            }],
        ),
        (
            "inhibited real server down: one EditDest to weight 0",
            |w| {
                let rs = w.rs(1, 0);
                w.health.set(rs, RsHealth::DOWN);
            },
            vec![IpvsOp::EditDest {
                service: key443,
                dest: Destination {
                    weight: 0,
                    ..Destination::new(ip("10.0.0.1"), 8443, Forward::Masq)
                },
            }],
        ),
        (
            "VRRP leaves MASTER: one DelService, no DelDest",
            |w| w.own.set("VI_1", InstanceRole::Backup),
            vec![IpvsOp::DelService(key80)],
        ),
        (
            "instance state forgotten: held, nothing changes",
            |w| w.own.forget("VI_1"),
            vec![],
        ),
        (
            "scheduler change: one EditService",
            |w| w.cfg.virtual_servers[1].scheduler = "lc".into(),
            vec![IpvsOp::EditService(Service::new(key443, "lc"))],
        ),
    ];
    for (name, change, want) in rows {
        let mut w = World::new(CONF);
        let (kernel, owned) = w.converged();
        change(&mut w);
        assert_eq!(diff(&w.desired(), &kernel, &owned), want, "{name}");
    }
}

#[test]
fn foreign_objects_are_left_alone() {
    let w = World::new(CONF);
    let (mut kernel, owned) = w.converged();
    // A service someone else made, and a destination added by hand to ours.
    let foreign = tcp("203.0.113.1", 25);
    kernel.services.insert(
        foreign,
        ActualService {
            service: Service::new(foreign, "rr"),
            dests: [(
                dk("10.0.0.9", 25),
                ActualDest::new(Destination::new(ip("10.0.0.9"), 25, Forward::Masq)),
            )]
            .into_iter()
            .collect(),
        },
    );
    let by_hand = Destination::new(ip("198.51.100.77"), 80, Forward::DirectRoute);
    kernel
        .services
        .get_mut(&tcp("192.0.2.10", 80))
        .expect("ours")
        .dests
        .insert(by_hand.key, ActualDest::new(by_hand));
    assert_eq!(diff(&w.desired(), &kernel, &owned), vec![]);
    // Even when this node gives up the VIP, only our service goes.
    let mut w2 = World::new(CONF);
    w2.own.set("VI_1", InstanceRole::Fault);
    assert_eq!(
        diff(&w2.desired(), &kernel, &owned),
        vec![IpvsOp::DelService(tcp("192.0.2.10", 80))]
    );
    // A destination we created and no longer want is deleted; one we never
    // owned is not, even when unwanted.
    let mut owned2 = owned.clone();
    owned2.record(&IpvsOp::AddDest {
        service: tcp("192.0.2.10", 80),
        dest: by_hand,
    });
    assert_eq!(
        diff(&w.desired(), &kernel, &owned2),
        vec![IpvsOp::DelDest {
            service: tcp("192.0.2.10", 80),
            dest: by_hand.key
        }]
    );
    assert_eq!(diff(&w.desired(), &kernel, &Owned::new()), vec![]);
}

#[test]
fn everything_at_once_keeps_the_group_order() {
    let w = World::new(CONF);
    let (mut kernel, mut owned) = w.converged();
    // Our leftover service, a changed weight, a missing destination, an extra
    // destination of ours, drifted timeouts.
    let stale = tcp("192.0.2.30", 80);
    kernel.services.insert(
        stale,
        ActualService {
            service: Service::new(stale, "rr"),
            dests: Default::default(),
        },
    );
    owned.record(&IpvsOp::AddService(Service::new(stale, "rr")));
    let s80 = kernel
        .services
        .get_mut(&tcp("192.0.2.10", 80))
        .expect("service");
    s80.dests.remove(&dk("198.51.100.1", 80));
    if let Some(d) = s80.dests.get_mut(&dk("198.51.100.2", 80)) {
        d.dest.weight = 5;
    }
    let extra = Destination::new(ip("198.51.100.3"), 80, Forward::DirectRoute);
    s80.dests.insert(extra.key, ActualDest::new(extra));
    owned.record(&IpvsOp::AddDest {
        service: tcp("192.0.2.10", 80),
        dest: extra,
    });
    kernel.timeouts = Some(Timeouts {
        tcp: 60,
        tcp_fin: 120,
        udp: 300,
    });
    kernel
        .services
        .get_mut(&tcp("192.0.2.20", 443))
        .expect("service")
        .service
        .scheduler = "rr".into();
    let ops = diff(&w.desired(), &kernel, &owned);
    assert_eq!(
        kinds(&ops),
        [
            "SetTimeouts",
            // 192.0.2.10:80 keeps its service, gets its missing destination and its weight,
            "AddDest",
            "EditDest",
            // then 192.0.2.20:443 its scheduler; deletions last.
            "EditService",
            "DelDest",
            "DelService"
        ]
    );
}

#[test]
fn held_services_are_kept_but_not_added() {
    let mut w = World::new(CONF);
    w.own.forget("VI_1");
    let d = w.desired();
    assert!(d.services[&tcp("192.0.2.10", 80)].hold);
    // Absent: not added (the unrelated service is).
    let ops = diff(&d, &ActualTable::default(), &Owned::new());
    assert!(
        !ops.iter()
            .any(|op| matches!(op, IpvsOp::AddService(s) if s.key == tcp("192.0.2.10", 80)))
    );
    // Present with a destination missing and one down: kept in order.
    let mut w2 = World::new(CONF);
    let (mut kernel, owned) = w2.converged();
    w2.own.forget("VI_1");
    let rs = w2.rs(0, 0);
    w2.health.set(rs, RsHealth::DOWN);
    kernel
        .services
        .get_mut(&tcp("192.0.2.10", 80))
        .expect("service")
        .dests
        .remove(&dk("198.51.100.2", 80));
    assert_eq!(
        diff(&w2.desired(), &kernel, &owned),
        vec![
            IpvsOp::AddDest {
                service: tcp("192.0.2.10", 80),
                dest: Destination {
                    weight: 2,
                    ..Destination::new(ip("198.51.100.2"), 80, Forward::DirectRoute)
                }
            },
            IpvsOp::DelDest {
                service: tcp("192.0.2.10", 80),
                dest: dk("198.51.100.1", 80)
            }
        ]
    );
}

#[test]
fn local_forwarding_reported_by_the_kernel_matches() {
    let w = World::new(CONF);
    let (mut kernel, owned) = w.converged();
    for s in kernel.services.values_mut() {
        for d in s.dests.values_mut() {
            d.dest.forward = Forward::Local;
        }
    }
    assert_eq!(diff(&w.desired(), &kernel, &owned), vec![]);
}

#[test]
fn sync_daemons() {
    let conf = CONF.replace(
        "lvs_timeouts tcp 7200",
        "lvs_timeouts tcp 7200\n    lvs_sync_daemon eth0 VI_1",
    );
    let mut w = World::new(&conf);
    let (kernel, owned) = w.converged();
    let master = Daemon::new(SyncRole::Master, "eth0", 1);
    assert_eq!(kernel.daemons.get(&SyncRole::Master), Some(&master));
    assert_eq!(diff(&w.desired(), &kernel, &owned), vec![]);
    // The kernel fills in defaults: still a match.
    let mut filled = kernel.clone();
    if let Some(d) = filled.daemons.get_mut(&SyncRole::Master) {
        d.sync_maxlen = Some(1472);
        d.mcast_port = Some(8848);
    }
    assert_eq!(diff(&w.desired(), &filled, &owned), vec![]);
    // Leaving MASTER: stop the master, then start the backup.
    w.own.set("VI_1", InstanceRole::Backup);
    let ops = diff(&w.desired(), &kernel, &owned);
    assert_eq!(
        ops[ops.len() - 2..],
        [
            IpvsOp::StopDaemon(SyncRole::Master),
            IpvsOp::StartDaemon(Daemon::new(SyncRole::Backup, "eth0", 1))
        ]
    );
    // A different interface: restart.
    let mut other = kernel.clone();
    other
        .daemons
        .insert(SyncRole::Master, Daemon::new(SyncRole::Master, "eth9", 1));
    w.own.set("VI_1", InstanceRole::Master);
    assert_eq!(
        diff(&w.desired(), &other, &owned),
        vec![
            IpvsOp::StopDaemon(SyncRole::Master),
            IpvsOp::StartDaemon(master.clone())
        ]
    );
    // Not configured: a daemon someone else runs is left alone, ours is stopped.
    let plain = World::new(CONF);
    assert_eq!(diff(&plain.desired(), &kernel, &Owned::new()), vec![]);
    let mut ours = Owned::new();
    ours.record(&IpvsOp::StartDaemon(master));
    let ops = diff(&plain.desired(), &kernel, &ours);
    assert_eq!(ops.last(), Some(&IpvsOp::StopDaemon(SyncRole::Master)));
}
