//! `desired()`: keepalived's LVS semantics and rules-follow-VIP, table-driven.

mod common;

use std::collections::BTreeSet;

use common::*;
use rk_coordinator::{
    Health, Inputs, InstanceRole, Ownership, Policy, Problem, QuorumStates, RsHealth, RsId,
    RulesMode, VsId, desired,
};
use rk_ipvs::{
    Family, Forward, Persistence, Protocol, ServiceFlags, ServiceKey, SyncRole, TunnelFlags,
    TunnelType,
};

#[test]
fn service_settings_and_forwarding() {
    let cfg = load(
        r#"
virtual_server 192.0.2.10 80 {
    lb_algo sh
    lb_kind DR
    protocol TCP
    persistence_timeout 300
    persistence_granularity 255.255.255.0
    sh-port
    sh-fallback
    real_server 198.51.100.1 80 { weight 3 }
    real_server 198.51.100.2 80 {
        weight 0
        uthreshold 100
        lthreshold 10
    }
}
virtual_server 2001:db8::10 53 {
    lb_algo rr
    lb_kind NAT
    protocol UDP
    ops
    real_server 2001:db8:1::1 5353 { weight 2 }
    real_server 2001:db8:1::2 { }
}
virtual_server 192.0.2.11 3868 {
    lb_algo wlc
    lb_kind TUN type gue port 6080 csum
    protocol SCTP
    persistence_timeout
    persistence_engine sip
    real_server 198.51.100.3 3868 { }
    real_server 198.51.100.4 3868 { lvs_method TUN type gre csum }
}
virtual_server fwmark 42 {
    lb_algo mh
    lb_kind DR
    ip_family inet6
    mh-port
    flag-3
    real_server 2001:db8:1::5 { weight 4 }
}
"#,
    );
    let d = run_default(&cfg);
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let t = &d.table;
    assert_eq!(t.services.len(), 4);

    let s = &t.services[&tcp("192.0.2.10", 80)];
    assert_eq!(s.service.scheduler, "sh");
    assert_eq!(s.service.flags, ServiceFlags::SCHED1 | ServiceFlags::SCHED2);
    assert_eq!(
        s.service.persistence,
        Some(Persistence {
            timeout: 300,
            prefix_len: 24
        })
    );
    assert_eq!(s.service.pe_name, None);
    assert!(!s.hold);
    assert_eq!(
        weights(t, &tcp("192.0.2.10", 80)),
        wmap(&[("198.51.100.1:80", 3), ("198.51.100.2:80", 0)])
    );
    let d2 = &s.dests[&dk("198.51.100.2", 80)];
    assert_eq!(d2.forward, Forward::DirectRoute);
    assert_eq!((d2.upper_threshold, d2.lower_threshold), (100, 10));

    let udp6 = ServiceKey::Tuple {
        proto: Protocol::Udp,
        addr: ip("2001:db8::10"),
        port: 53,
    };
    let s = &t.services[&udp6];
    assert_eq!(s.service.flags, ServiceFlags::ONE_PACKET);
    assert_eq!(s.service.persistence, None);
    // A NAT real server without a port takes the service's.
    assert_eq!(
        weights(t, &udp6),
        wmap(&[("[2001:db8:1::1]:5353", 2), ("[2001:db8:1::2]:53", 1)])
    );
    assert!(s.dests.values().all(|d| d.forward == Forward::Masq));

    let sctp = ServiceKey::Tuple {
        proto: Protocol::Sctp,
        addr: ip("192.0.2.11"),
        port: 3868,
    };
    let s = &t.services[&sctp];
    assert_eq!(
        s.service.persistence,
        Some(Persistence {
            timeout: 360,
            prefix_len: 32
        }),
        "a bare persistence_timeout is 360 s"
    );
    assert_eq!(s.service.pe_name.as_deref(), Some("sip"));
    assert_eq!(
        s.dests[&dk("198.51.100.3", 3868)].forward,
        Forward::Tunnel {
            tun_type: TunnelType::Gue,
            port: 6080,
            flags: TunnelFlags::CSUM
        }
    );
    assert_eq!(
        s.dests[&dk("198.51.100.4", 3868)].forward,
        Forward::Tunnel {
            tun_type: TunnelType::Gre,
            port: 0,
            flags: TunnelFlags::CSUM
        }
    );

    let fwm = ServiceKey::Fwmark {
        af: Family::Inet6,
        mark: 42,
    };
    let s = &t.services[&fwm];
    assert_eq!(s.service.flags, ServiceFlags::SCHED2 | ServiceFlags::SCHED3);
    // fwmark DR real servers have port 0.
    assert_eq!(weights(t, &fwm), wmap(&[("[2001:db8:1::5]:0", 4)]));
}

/// One real server per row; what it becomes.
#[test]
fn real_server_health_rules() {
    struct Row {
        name: &'static str,
        checker: bool,
        alpha: bool,
        inhibit: bool,
        health: Option<RsHealth>,
        want: Option<u32>,
    }
    let up = Some(RsHealth::UP);
    let down = Some(RsHealth::DOWN);
    let dynw = |w| {
        Some(RsHealth {
            up: true,
            weight: Some(w),
        })
    };
    #[rustfmt::skip]
    let rows = [
        Row { name: "no checker is always up", checker: false, alpha: false, inhibit: false, health: down, want: Some(5) },
        Row { name: "no checker, alpha: still up", checker: false, alpha: true, inhibit: false, health: None, want: Some(5) },
        Row { name: "undecided non-alpha starts up", checker: true, alpha: false, inhibit: false, health: None, want: Some(5) },
        Row { name: "undecided alpha starts down", checker: true, alpha: true, inhibit: false, health: None, want: None },
        Row { name: "undecided alpha with inhibit: weight 0", checker: true, alpha: true, inhibit: true, health: None, want: Some(0) },
        Row { name: "up", checker: true, alpha: true, inhibit: false, health: up, want: Some(5) },
        Row { name: "down: out", checker: true, alpha: false, inhibit: false, health: down, want: None },
        Row { name: "down with inhibit: weight 0", checker: true, alpha: false, inhibit: true, health: down, want: Some(0) },
        Row { name: "dynamic weight", checker: true, alpha: false, inhibit: false, health: dynw(7), want: Some(7) },
        Row { name: "negative dynamic weight is 0", checker: true, alpha: false, inhibit: false, health: dynw(-3), want: Some(0) },
        Row { name: "huge dynamic weight is capped", checker: true, alpha: false, inhibit: false, health: dynw(1 << 40), want: Some(i32::MAX as u32) },
        Row { name: "down ignores dynamic weight", checker: true, alpha: false, inhibit: true,
              health: Some(RsHealth { up: false, weight: Some(9) }), want: Some(0) },
    ];
    let mut text = String::new();
    for (i, r) in rows.iter().enumerate() {
        text += &format!(
            "virtual_server 192.0.2.{} 80 {{\n protocol TCP\n lb_kind DR\n{}{} real_server 198.51.100.1 80 {{\n  weight 5\n{}  }}\n}}\n",
            i + 1,
            if r.alpha { " alpha\n" } else { "" },
            if r.inhibit {
                " inhibit_on_failure\n"
            } else {
                ""
            },
            if r.checker {
                "  TCP_CHECK { connect_timeout 3 }\n"
            } else {
                ""
            },
        );
    }
    let cfg = load(&text);
    let mut health = Health::new();
    for (vs, r) in cfg.virtual_servers.iter().zip(&rows) {
        if let Some(h) = r.health {
            health.set(RsId::of(vs, &vs.real_servers[0]), h);
        }
    }
    let d = run(&cfg, &Ownership::new(), &health, &Policy::default());
    for (i, r) in rows.iter().enumerate() {
        let key = tcp(&format!("192.0.2.{}", i + 1), 80);
        let got = d.table.services[&key]
            .dests
            .get(&dk("198.51.100.1", 80))
            .map(|x| x.weight);
        assert_eq!(got, r.want, "{}", r.name);
    }
}

const QUORUM_CONF: &str = r#"
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_kind DR
    quorum 3
    hysteresis 1
    %SORRY%
    real_server 198.51.100.1 80 {
        %INHIBIT%
        TCP_CHECK { }
    }
    real_server 198.51.100.2 80 {
        %INHIBIT%
        TCP_CHECK { }
    }
    real_server 198.51.100.3 80 {
        %INHIBIT%
        TCP_CHECK { }
    }
    real_server 198.51.100.4 80 {
        %INHIBIT%
        TCP_CHECK { }
    }
    real_server 198.51.100.5 80 {
        %INHIBIT%
        TCP_CHECK { }
    }
}
"#;

/// quorum 3, hysteresis 1, five real servers of weight 1: the first `alive`
/// are up. Up at ≥ 4, down below 2 (or at 0).
#[test]
fn quorum_hysteresis_and_sorry_server() {
    // (alive real servers, quorum up after this step, transition event)
    let steps: &[(usize, bool, bool)] = &[
        (5, true, false),
        (3, true, false),
        (2, true, false),
        (1, false, true),
        (2, false, false),
        (3, false, false),
        (4, true, true),
        (2, true, false),
        (0, false, true),
        (5, true, true),
    ];
    // (sorry line, inhibit line)
    let variants = [
        ("", ""),
        ("sorry_server 10.9.9.9 80", ""),
        (
            "sorry_server 10.9.9.9 80\n sorry_server_inhibit",
            "inhibit_on_failure",
        ),
        ("", "inhibit_on_failure"),
    ];
    for (sorry, inhibit) in variants {
        let cfg = load(
            &QUORUM_CONF
                .replace("%SORRY%", sorry)
                .replace("%INHIBIT%", inhibit),
        );
        let vs = &cfg.virtual_servers[0];
        let key = tcp("192.0.2.10", 80);
        let mut quorum = QuorumStates::new();
        for (n, &(alive, up, transition)) in steps.iter().enumerate() {
            let mut health = Health::new();
            for (i, rs) in vs.real_servers.iter().enumerate() {
                let h = if i < alive {
                    RsHealth::UP
                } else {
                    RsHealth::DOWN
                };
                health.set(RsId::of(vs, rs), h);
            }
            let d = desired(
                &Inputs {
                    config: &cfg,
                    ownership: &Ownership::new(),
                    health: &health,
                    policy: &Policy::default(),
                },
                &quorum,
            );
            let ctx = format!("sorry={sorry:?} inhibit={inhibit:?} step {n} alive {alive}");
            assert_eq!(d.quorum.get(&VsId::of(vs)), Some(up), "{ctx}");
            let transitions: Vec<_> = d.events.iter().filter(|e| !e.initial).collect();
            assert_eq!(transitions.len(), usize::from(transition), "{ctx}");
            if n == 0 {
                assert!(d.events[0].initial && d.events[0].up, "{ctx}");
            }
            quorum = d.quorum;

            let has_sorry = !sorry.is_empty();
            let inhibited = !inhibit.is_empty();
            let sorry_active = has_sorry && !up;
            let mut want = Vec::new();
            for i in 0..5 {
                let rs = format!("198.51.100.{}:80", i + 1);
                let w = if sorry_active || i >= alive {
                    inhibited.then_some(0)
                } else {
                    Some(1)
                };
                if let Some(w) = w {
                    want.push((rs, w));
                }
            }
            if sorry_active {
                want.push(("10.9.9.9:80".into(), 1));
            } else if has_sorry && inhibited {
                // sorry_server_inhibit: kept at weight 0 while quorum is up.
                want.push(("10.9.9.9:80".into(), 0));
            }
            let want: std::collections::BTreeMap<String, u32> = want.into_iter().collect();
            assert_eq!(weights(&d.table, &key), want, "{ctx}");
        }
    }
}

#[test]
fn alpha_start_without_quorum_brings_the_sorry_server_in() {
    let cfg = load(
        r#"
virtual_server 192.0.2.10 80 {
    protocol TCP
    alpha
    sorry_server 10.9.9.9 8080
    real_server 198.51.100.1 80 { TCP_CHECK { } }
}
"#,
    );
    let d = run_default(&cfg);
    assert_eq!(
        weights(&d.table, &tcp("192.0.2.10", 80)),
        wmap(&[("10.9.9.9:8080", 1)])
    );
    assert_eq!(d.events.len(), 1);
    assert!(d.events[0].initial && !d.events[0].up);
    // Without a sorry server, a start without quorum is silent (keepalived).
    let cfg = load(
        "virtual_server 192.0.2.10 80 {\n protocol TCP\n alpha\n real_server 198.51.100.1 80 { TCP_CHECK { } }\n}\n",
    );
    let d = run_default(&cfg);
    assert!(d.events.is_empty());
    assert!(d.table.services[&tcp("192.0.2.10", 80)].dests.is_empty());
}

#[test]
fn virtual_server_group_expands_ranges_and_fwmarks() {
    let cfg = load(
        r#"
virtual_server_group WEB {
    10.0.0.254-10.0.1.1 80
    10.0.2.5 8080
    10.0.3.0/31 443
    fwmark 7
}
virtual_server_group WEB6 {
    2001:db8::1-3 443
    fwmark 8 inet6
}
virtual_server_group HUGE {
    10.8.0.0/15 80
    10.9.9.9 80
}
virtual_server group WEB {
    protocol TCP
    lb_kind NAT
    real_server 10.1.0.1 80 { weight 2 }
    real_server 10.1.0.2 80 { weight 3 }
}
virtual_server group WEB6 {
    protocol TCP
    lb_kind DR
    real_server 2001:db8:1::1 443 { }
}
virtual_server group HUGE {
    protocol UDP
    lb_kind NAT
    real_server 10.1.0.9 80 { }
}
"#,
    );
    let d = run_default(&cfg);
    let want: BTreeSet<ServiceKey> = [
        tcp("10.0.0.254", 80),
        tcp("10.0.0.255", 80),
        tcp("10.0.1.0", 80),
        tcp("10.0.1.1", 80),
        tcp("10.0.2.5", 8080),
        tcp("10.0.3.0", 443),
        tcp("10.0.3.1", 443),
        ServiceKey::Fwmark {
            af: Family::Inet,
            mark: 7,
        },
        tcp("2001:db8::1", 443),
        tcp("2001:db8::2", 443),
        tcp("2001:db8::3", 443),
        ServiceKey::Fwmark {
            af: Family::Inet6,
            mark: 8,
        },
        ServiceKey::Tuple {
            proto: Protocol::Udp,
            addr: ip("10.9.9.9"),
            port: 80,
        },
    ]
    .into_iter()
    .collect();
    let got: BTreeSet<ServiceKey> = d.table.services.keys().copied().collect();
    assert_eq!(got, want);
    // Every service of a group has the group's real servers.
    for key in got.iter().filter(|k| k.family() == Family::Inet) {
        if let ServiceKey::Tuple {
            proto: Protocol::Udp,
            ..
        } = key
        {
            continue;
        }
        assert_eq!(
            weights(&d.table, key),
            wmap(&[("10.1.0.1:80", 2), ("10.1.0.2:80", 3)]),
            "{key}"
        );
    }
    assert_eq!(
        d.problems,
        vec![Problem::RangeTooLarge {
            vs: VsId::Group {
                proto: Protocol::Udp,
                name: "HUGE".into()
            },
            first: ip("10.8.0.0"),
            last: ip("10.9.255.255"),
        }]
    );
}

#[test]
fn two_virtual_servers_making_one_service_first_keeps_it() {
    let cfg = load(
        r#"
virtual_server 10.0.0.2 80 {
    protocol TCP
    real_server 10.1.0.1 80 { }
}
virtual_server_group G {
    10.0.0.1-3 80
}
virtual_server group G {
    protocol TCP
    real_server 10.1.0.2 80 { }
}
"#,
    );
    let d = run_default(&cfg);
    assert_eq!(d.table.services.len(), 3);
    assert_eq!(
        weights(&d.table, &tcp("10.0.0.2", 80)),
        wmap(&[("10.1.0.1:80", 1)])
    );
    assert!(matches!(
        &d.problems[..],
        [Problem::DuplicateService { key, .. }] if *key == tcp("10.0.0.2", 80)
    ));
}

const VIP_CONF: &str = r#"
global_defs {
    lvs_sync_daemon eth0 VI_3 id 9
    lvs_timeouts tcp 7200 tcpfin 120
}
vrrp_sync_group G {
    group {
        VI_1
        VI_2
    }
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress { 192.0.2.10/24 }
}
vrrp_instance VI_2 {
    interface eth1
    virtual_router_id 2
    virtual_ipaddress { 10.0.0.1/24 }
}
vrrp_instance VI_3 {
    interface eth0
    virtual_router_id 3
    virtual_ipaddress { 192.0.2.20/24 }
    virtual_ipaddress_excluded { 192.0.2.21 }
}
virtual_server 192.0.2.10 80 {
    protocol TCP
    real_server 10.0.0.11 80 { }
}
virtual_server 192.0.2.20 80 {
    protocol TCP
    real_server 10.0.0.12 80 { }
}
virtual_server 192.0.2.21 80 {
    protocol TCP
    real_server 10.0.0.13 80 { }
}
virtual_server 192.0.2.99 80 {
    protocol TCP
    real_server 10.0.0.14 80 { }
}
virtual_server fwmark 5 {
    lb_kind DR
    real_server 10.0.0.15 80 { }
}
virtual_server_group GR {
    192.0.2.30 80
}
virtual_server group GR {
    protocol TCP
    real_server 10.0.0.16 80 { }
}
"#;

/// Rules follow the VIP: which services are installed (`I`), held (`H`,
/// kept if present) or absent (`-`) for each combination of states.
#[test]
fn rules_follow_the_vip() {
    use InstanceRole::{Backup as B, Fault as F, Master as M};
    let cfg = load(VIP_CONF);
    let fwm5 = ServiceKey::Fwmark {
        af: Family::Inet,
        mark: 5,
    };
    let order = [
        tcp("192.0.2.10", 80),
        tcp("192.0.2.20", 80),
        tcp("192.0.2.21", 80),
        tcp("192.0.2.99", 80),
        fwm5,
        tcp("192.0.2.30", 80),
    ];
    let fwm_vs = VsId::Fwmark {
        af: Family::Inet,
        mark: 5,
    };
    let gr_vs = VsId::Group {
        proto: Protocol::Tcp,
        name: "GR".into(),
    };
    let tracked = Policy {
        track_instance: [(fwm_vs.clone(), "VI_3".into()), (gr_vs, "VI_1".into())]
            .into_iter()
            .collect(),
        ..Policy::default()
    };
    let everywhere = Policy {
        rules: RulesMode::Everywhere,
        ..Policy::default()
    };
    type States = &'static [(&'static str, InstanceRole)];
    #[rustfmt::skip]
    let rows: &[(&str, States, &Policy, &str)] = &[
        // columns: .10 (sync group G), .20 (VI_3), .21 (VI_3 excluded), .99, fwmark 5, group GR
        ("nothing known: VIP services held", &[], &Policy::default(), "HHHIII"),
        ("group all master, VI_3 backup", &[("VI_1", M), ("VI_2", M), ("VI_3", B)], &Policy::default(), "I--III"),
        ("group half master", &[("VI_1", M), ("VI_2", B), ("VI_3", M)], &Policy::default(), "-IIIII"),
        ("group half unknown", &[("VI_1", M), ("VI_3", F)], &Policy::default(), "H--III"),
        ("fault is not master", &[("VI_1", F), ("VI_2", M), ("VI_3", F)], &Policy::default(), "---III"),
        ("tracked fwmark and group, backup", &[("VI_1", B), ("VI_2", B), ("VI_3", B)], &tracked, "---I--"),
        ("tracked fwmark and group, master", &[("VI_1", M), ("VI_2", M), ("VI_3", M)], &tracked, "IIIIII"),
        ("tracked group follows VI_1's sync group", &[("VI_1", M), ("VI_2", B), ("VI_3", M)], &tracked, "-IIII-"),
        ("everywhere: all, backup", &[("VI_1", B), ("VI_2", B), ("VI_3", B)], &everywhere, "IIIIII"),
        ("everywhere: all, unknown", &[], &everywhere, "IIIIII"),
    ];
    for (name, states, policy, want) in rows {
        let mut own = Ownership::new();
        for (i, r) in *states {
            own.set(*i, *r);
        }
        let d = run(&cfg, &own, &Health::new(), policy);
        let got: String = order
            .iter()
            .map(|k| match d.table.services.get(k) {
                None => '-',
                Some(s) if s.hold => 'H',
                Some(_) => 'I',
            })
            .collect();
        assert_eq!(&got, want, "{name}");
        // Whatever is installed, everything stays configured (adoption, drains).
        assert_eq!(d.table.configured.len(), order.len(), "{name}");
        assert!(d.problems.is_empty(), "{name}: {:?}", d.problems);
    }
}

#[test]
fn sync_daemon_follows_its_instance_and_timeouts() {
    let cfg = load(VIP_CONF);
    let roles = |own: &Ownership| -> Vec<(SyncRole, u32, String)> {
        run(&cfg, own, &Health::new(), &Policy::default())
            .table
            .daemons
            .expect("managed")
            .into_values()
            .map(|d| (d.role, d.syncid, d.mcast_ifn))
            .collect()
    };
    assert_eq!(
        roles(&Ownership::new()),
        vec![(SyncRole::Backup, 9, "eth0".into())]
    );
    assert_eq!(
        roles(&Ownership::new().with("VI_3", InstanceRole::Master)),
        vec![(SyncRole::Master, 9, "eth0".into())]
    );
    assert_eq!(
        roles(&Ownership::new().with("VI_3", InstanceRole::Fault)),
        vec![(SyncRole::Backup, 9, "eth0".into())]
    );
    let t = run_default(&cfg).table.timeouts.expect("timeouts");
    assert_eq!((t.tcp, t.tcp_fin, t.udp), (Some(7200), Some(120), None));

    // Without an instance both run; the id defaults to the instance's VRID, else 0.
    let cfg = load("global_defs {\n lvs_sync_daemon eth1\n}\n");
    let d = run_default(&cfg).table;
    let got: Vec<(SyncRole, u32)> = d
        .daemons
        .expect("managed")
        .into_values()
        .map(|d| (d.role, d.syncid))
        .collect();
    assert_eq!(got, vec![(SyncRole::Master, 0), (SyncRole::Backup, 0)]);
    assert_eq!(d.timeouts, None);
    let cfg = load(&VIP_CONF.replace("VI_3 id 9", "VI_3"));
    assert_eq!(
        roles(&Ownership::new())[0].1,
        9,
        "sanity: the original still says 9"
    );
    let d = run_default(&cfg).table;
    assert_eq!(d.daemons.expect("managed")[&SyncRole::Backup].syncid, 3);
    // No lvs_sync_daemon: daemons are not ours to manage.
    assert_eq!(run_default(&load("")).table.daemons, None);
}

#[test]
fn binding_to_a_missing_instance_installs_and_says_so() {
    let cfg = load(VIP_CONF);
    let vs = VsId::Addr {
        proto: Protocol::Tcp,
        addr: ip("192.0.2.99"),
        port: 80,
    };
    let policy = Policy {
        track_instance: [(vs.clone(), "VI_9".into())].into_iter().collect(),
        ..Policy::default()
    };
    let own = Ownership::new()
        .with("VI_1", InstanceRole::Backup)
        .with("VI_2", InstanceRole::Backup)
        .with("VI_3", InstanceRole::Backup);
    let d = run(&cfg, &own, &Health::new(), &policy);
    assert!(d.table.services.contains_key(&tcp("192.0.2.99", 80)));
    assert_eq!(
        d.problems,
        vec![Problem::UnknownInstance {
            vs,
            instance: "VI_9".into()
        }]
    );
}

#[test]
fn configured_keys_cover_down_servers_and_the_sorry_server() {
    let cfg = load(
        r#"
virtual_server 192.0.2.10 80 {
    protocol TCP
    sorry_server 10.9.9.9 80
    real_server 198.51.100.1 80 { TCP_CHECK { } }
    real_server 198.51.100.2 80 { TCP_CHECK { } }
}
"#,
    );
    let vs = &cfg.virtual_servers[0];
    let mut health = Health::new();
    health.set(RsId::of(vs, &vs.real_servers[1]), RsHealth::DOWN);
    let d = run(&cfg, &Ownership::new(), &health, &Policy::default());
    let key = tcp("192.0.2.10", 80);
    assert_eq!(weights(&d.table, &key), wmap(&[("198.51.100.1:80", 1)]));
    let c = &d.table.configured[&key];
    assert_eq!(
        c.dests,
        [
            dk("198.51.100.1", 80),
            dk("198.51.100.2", 80),
            dk("10.9.9.9", 80)
        ]
        .into_iter()
        .collect()
    );
}
