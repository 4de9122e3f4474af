//! `virtual_routes` / `virtual_rules` mapping: names, next hops, refusals.

use rk_config::{LoadOptions, load_str};
use rk_netlink::{AddMode, IpFamily, Metric, MetricSpec, Range, RouteType, RuleAction, Scope};
use rk_vrrp_proto::TrackWeight;

use crate::from_config::{FromConfigError, RtNames, plan_with_names};
use crate::spec::{InstanceSpec, TrackSource};

fn names() -> RtNames {
    let mut n = RtNames::default();
    n.add_tables("100 isp1\n200 isp2\n");
    n
}

fn conf(routes: &str, rules: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {{
        10.0.0.100/24
    }}
    virtual_routes {{
{routes}
    }}
    virtual_rules {{
{rules}
    }}
}}
"
    )
}

fn try_map(routes: &str, rules: &str) -> Result<(InstanceSpec, Vec<String>), FromConfigError> {
    let cfg = match load_str("test.conf", &conf(routes, rules), &LoadOptions::for_tests()) {
        Ok(l) => l.config,
        Err(e) => panic!("{}", e.render()),
    };
    let (p, w) = plan_with_names(&cfg, &names())?;
    Ok((p.instances.into_iter().next().expect("an instance"), w))
}

fn map(routes: &str, rules: &str) -> (InstanceSpec, Vec<String>) {
    try_map(routes, rules).expect("maps")
}

fn refused(routes: &str, rules: &str) -> String {
    match try_map(routes, rules) {
        Ok((s, _)) => panic!("accepted: {:?} {:?}", s.routes, s.rules),
        Err(e) => e.to_string(),
    }
}

#[test]
fn routes_with_table_names_gateways_and_types() {
    let (s, w) = map(
        "        10.1.0.0/16 via 10.0.0.254 dev eth0 table isp1 metric 5 src 10.0.0.100
        default via 10.0.0.1 table 200 proto static no_track
        blackhole 192.0.2.0/24 table main
        2001:db8::/32 dev eth1 table 1000 scope link onlink
        10.2.0.0/16 dev eth0 tos 0x10 append",
        "",
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(s.routes.len(), 5);
    let r = &s.routes[0];
    assert_eq!(r.route.family, IpFamily::V4);
    assert_eq!(r.route.table, 100);
    assert_eq!(r.route.metric, Some(5));
    assert_eq!(r.route.via, Some("10.0.0.254".parse().unwrap()));
    assert_eq!(r.route.src, Some("10.0.0.100".parse().unwrap()));
    assert_eq!(r.route.protocol, 18, "ours unless told");
    assert_eq!(r.dev.as_deref(), Some("eth0"));
    assert_eq!(r.route.oif, None, "resolved at run time");
    assert_eq!(
        r.resolve(|n| (n == "eth0").then_some(7)).unwrap().oif,
        Some(7)
    );
    assert_eq!(r.resolve(|_| None), Err("eth0".to_string()));
    let d = &s.routes[1];
    assert_eq!(d.route.dst, None);
    assert_eq!(d.route.table, 200);
    assert_eq!(d.route.protocol, 4);
    let b = &s.routes[2];
    assert_eq!(b.route.kind, RouteType::Blackhole);
    assert_eq!(b.route.table, 254);
    let v6 = &s.routes[3];
    assert_eq!(v6.route.family, IpFamily::V6);
    assert_eq!(v6.route.table, 1000);
    assert_eq!(v6.route.scope, Some(Scope::Link));
    assert!(v6.route.onlink);
    let t = &s.routes[4];
    assert_eq!(t.route.tos, 0x10);
    assert_eq!(t.route.mode, AddMode::Append);
    // The route's interfaces count as tracked interfaces (FAULT while down), once each.
    let devs: Vec<_> = s
        .tracked
        .iter()
        .filter_map(|t| match &t.source {
            TrackSource::Interface(n) => Some((n.as_str(), t.weight)),
            TrackSource::Tracker(_) => None,
        })
        .collect();
    assert_eq!(
        devs,
        vec![
            ("eth0", TrackWeight::new(0, false)),
            ("eth1", TrackWeight::new(0, false))
        ]
    );
}

#[test]
fn a_route_without_dev_is_not_tracked_and_says_so() {
    let (s, w) = map(
        "        10.1.0.0/16 via 10.0.0.254
        10.2.0.0/16 via 10.0.0.254 no_track
        blackhole 10.3.0.0/16",
        "",
    );
    assert_eq!(s.routes.len(), 3);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("virtual route 10.1.0.0/16 via 10.0.0.254 has no dev"),
        "{w:?}"
    );
}

#[test]
fn untracked_routes_do_not_track_their_interface() {
    let (s, _) = map("        10.1.0.0/16 dev eth3 no_track", "");
    assert!(s.routes[0].no_track);
    assert!(
        !s.tracked
            .iter()
            .any(|t| t.source == TrackSource::Interface("eth3".into())),
        "{:?}",
        s.tracked
    );
}

#[test]
fn route_metrics_with_locks() {
    let (s, _) = map(
        "        10.1.0.0/16 via 10.0.0.254 dev eth0 mtu lock 1400 advmss 1360 initcwnd 10 congctl bbr",
        "",
    );
    let m = &s.routes[0].route.metrics;
    assert_eq!(
        m,
        &vec![
            MetricSpec {
                metric: Metric::Mtu(1400),
                lock: true
            },
            MetricSpec {
                metric: Metric::Advmss(1360),
                lock: false
            },
            MetricSpec {
                metric: Metric::InitCwnd(10),
                lock: false
            },
            MetricSpec {
                metric: Metric::CongCtl("bbr".into()),
                lock: false
            },
        ]
    );
}

#[test]
fn multipath_next_hops_keep_weights_and_devices() {
    let (s, _) = map(
        "        10.8.0.0/16 table isp2 nexthop via 10.0.0.1 dev eth0 weight 2 nexthop via 10.0.1.1 dev eth1 onlink",
        "",
    );
    let r = &s.routes[0];
    assert_eq!(r.route.nexthops.len(), 2);
    assert_eq!(r.route.nexthops[0].weight, 2);
    assert_eq!(r.route.nexthops[1].weight, 1);
    assert!(r.route.nexthops[1].onlink);
    assert_eq!(
        r.nexthop_devs,
        vec![Some("eth0".to_string()), Some("eth1".to_string())]
    );
    let resolved = r
        .resolve(|n| match n {
            "eth0" => Some(2),
            "eth1" => Some(3),
            _ => None,
        })
        .unwrap();
    assert_eq!(resolved.nexthops[0].oif, Some(2));
    assert_eq!(resolved.nexthops[1].oif, Some(3));
    assert_eq!(resolved.table, 200);
}

#[test]
fn unsupported_route_options_refuse_the_configuration() {
    let e = refused("        10.1.0.0/16 via 10.0.0.254 rtt 300ms", "");
    assert!(e.contains("vrrp_instance VI_1"), "{e}");
    assert!(e.contains("virtual_routes line 11 (10.1.0.0/16)"), "{e}");
    assert!(e.contains("'rtt 300ms' is not supported"), "{e}");
    let e = refused("        10.1.0.0/16 via 10.0.0.254 mtu lock big", "");
    assert!(
        e.contains("'mtu lock big' has a value rkeepalived cannot read"),
        "{e}"
    );
    let e = refused("        10.1.0.0/16 via 10.0.0.254 expires 100", "");
    assert!(e.contains("'expires 100' is not supported"), "{e}");
    let e = refused("        10.1.0.0/16 encap mpls 100 via 10.0.0.254", "");
    assert!(e.contains("'encap mpls 100 via 10.0.0.254'"), "{e}");
    let e = refused("        10.1.0.0/16 via 10.0.0.254 table nosuch", "");
    assert!(e.contains("unknown routing table 'nosuch'"), "{e}");
    let e = refused("        10.1.0.0/16 via 10.0.0.254 proto nosuch", "");
    assert!(e.contains("unknown protocol 'nosuch'"), "{e}");
    let e = refused("        10.1.0.0/16 dev eth0 proto static", "");
    assert!(e.contains("protocol 4 on a tracked route"), "{e}");
    let e = refused(
        "",
        "        from 10.0.0.0/24 table 100 priority 5 protocol static",
    );
    assert!(e.contains("protocol 4 on a tracked rule"), "{e}");
    let (s, _) = map(
        "        10.1.0.0/16 dev eth0 proto static no_track",
        "        from 10.0.0.0/24 table 100 priority 5 protocol static no_track",
    );
    assert_eq!(
        (s.routes[0].route.protocol, s.rules[0].rule.protocol),
        (4, 4)
    );
    let e = refused("        blackhole 10.1.0.0/16 via 10.0.0.254", "");
    assert!(e.contains("takes no gateway"), "{e}");
    let e = refused("        10.1.0.0/16 dev eth0 tos high", "");
    assert!(e.contains("'tos high'"), "{e}");
}

#[test]
fn rules_with_selectors_and_actions() {
    let (s, w) = map(
        "",
        "        from 10.0.0.0/24 table isp1 priority 100
        not to 10.9.0.0/16 lookup 1000 priority 101 fwmark 0x10/0xff iif eth0 oif eth1
        from all ipproto tcp sport 1000-2000 dport 80 uidrange 100-200 table main priority 102 tos 0x8
        from 10.0.0.0/8 goto 200 priority 103
        from 10.0.0.5 blackhole priority 104
        from 10.0.0.6 prohibit priority 105
        from 10.0.0.7 type unreachable priority 106
        from 10.0.0.8 nop priority 107
        from all l3mdev priority 108
        from all table isp2 suppress_prefixlength 0 priority 109
        from 2001:db8::/32 table 300 priority 110",
    );
    assert!(w.is_empty(), "{w:?}");
    let r: Vec<_> = s.rules.iter().map(|r| &r.rule).collect();
    assert_eq!(r[0].action, RuleAction::Table(100));
    assert_eq!(r[0].priority, Some(100));
    assert_eq!(r[0].from.unwrap().len, 24);
    assert!(r[1].invert);
    assert_eq!(r[1].action, RuleAction::Table(1000));
    assert_eq!((r[1].fwmark, r[1].fwmask), (Some(0x10), Some(0xff)));
    assert_eq!(r[1].iif.as_deref(), Some("eth0"));
    assert_eq!(r[1].oif.as_deref(), Some("eth1"));
    assert_eq!(r[2].ipproto, Some(6));
    assert_eq!(
        r[2].sport,
        Some(Range {
            start: 1000,
            end: 2000
        })
    );
    assert_eq!(r[2].dport, Some(Range { start: 80, end: 80 }));
    assert_eq!(
        r[2].uid,
        Some(Range {
            start: 100,
            end: 200
        })
    );
    assert_eq!(r[2].tos, 8);
    assert_eq!(r[2].action, RuleAction::Table(254));
    assert_eq!(r[3].action, RuleAction::Goto(200));
    assert_eq!(r[4].action, RuleAction::Blackhole);
    assert_eq!(r[5].action, RuleAction::Prohibit);
    assert_eq!(r[6].action, RuleAction::Unreachable);
    assert_eq!(r[7].action, RuleAction::Nop);
    assert_eq!(r[8].action, RuleAction::L3mdev);
    assert_eq!(r[9].suppress_prefixlen, Some(0));
    assert_eq!(r[10].family, IpFamily::V6);
    assert!(r.iter().all(|r| r.protocol == 18));
    // iif/oif of a tracked rule are tracked interfaces.
    for dev in ["eth0", "eth1"] {
        assert!(
            s.tracked
                .iter()
                .any(|t| t.source == TrackSource::Interface(dev.into())),
            "{dev}"
        );
    }
}

#[test]
fn rules_without_preference_get_keepalived_s_numbers() {
    let (s, w) = map(
        "",
        "        from 10.0.0.0/24 table 100
        from 10.0.1.0/24 table 100
        from 2001:db8::/32 table 100",
    );
    let prefs: Vec<_> = s.rules.iter().map(|r| r.rule.priority).collect();
    assert_eq!(prefs, vec![Some(16384), Some(16383), Some(16384)]);
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].contains("has no preference; using 16384"), "{w:?}");
}

#[test]
fn bad_rules_refuse_the_configuration() {
    let e = refused("", "        from 10.0.0.0/24 priority 5");
    assert!(
        e.contains("vrrp_instance VI_1: virtual_rules line 14 (from 10.0.0.0/24): no action"),
        "{e}"
    );
    let e = refused(
        "",
        "        from 10.0.0.0/24 table 100 blackhole priority 5",
    );
    assert!(e.contains("more than one of"), "{e}");
    let e = refused("", "        from 10.0.0.0/24 goto 5 priority 5");
    assert!(e.contains("not below its goto target"), "{e}");
    let e = refused("", "        from 10.0.0.0/24 goto 5");
    assert!(e.contains("goto needs a preference"), "{e}");
    let e = refused(
        "",
        "        from 10.0.0.0/24 table 100 realms foo priority 5",
    );
    assert!(e.contains("'realms foo'"), "{e}");
    let e = refused("", "        from 10.0.0.0/24 table nosuch priority 5");
    assert!(e.contains("unknown routing table 'nosuch'"), "{e}");
    let e = refused(
        "",
        "        from 10.0.0.0/24 blackhole suppress_prefixlength 0 priority 5",
    );
    assert!(e.contains("need a table action"), "{e}");
    let e = refused(
        "",
        "        from 10.0.0.0/24 table 100 ipproto nosuch priority 5",
    );
    assert!(e.contains("'ipproto nosuch'"), "{e}");
}

#[test]
fn no_warning_says_routes_are_ignored() {
    let (_, w) = map(
        "        10.1.0.0/16 dev eth0",
        "        from 10.0.0.0/24 table 100 priority 5",
    );
    assert!(!w.iter().any(|w| w.contains("not supported")), "{w:?}");
}

fn try_statics(text: &str) -> Result<(crate::spec::StaticPlan, Vec<String>), FromConfigError> {
    let cfg = match load_str("test.conf", text, &LoadOptions::for_tests()) {
        Ok(l) => l.config,
        Err(e) => panic!("{}", e.render()),
    };
    let (p, w) = plan_with_names(&cfg, &names())?;
    Ok((p.statics, w))
}

#[test]
fn statics_are_mapped_like_an_instance_s() {
    let (s, w) = try_statics(
        "global_defs {
    default_interface eth7
}
static_ipaddress {
    192.168.50.1/24
    192.168.51.1/24 dev eth1 scope link
    fd50::1/64 dev eth1
}
static_routes {
    10.50.0.0/16 via 192.168.50.254 dev eth7 table isp1
}
static_rules {
    from 192.168.50.0/24 table isp1 priority 50
    from 192.168.51.0/24 table isp2
}
",
    )
    .expect("maps");
    assert_eq!(s.addresses.len(), 3);
    assert_eq!(s.addresses[0].dev, "eth7", "default_interface");
    assert_eq!(s.addresses[1].dev, "eth1");
    assert_eq!(s.addresses[1].scope, Scope::Link);
    // A static IPv6 address is an ordinary one: DAD on, preferred forever.
    assert_eq!(s.addresses[2].flags, 0);
    assert_eq!(s.addresses[2].preferred_lft, None);
    assert_eq!(s.routes[0].route.table, 100);
    assert_eq!(s.routes[0].dev.as_deref(), Some("eth7"));
    assert_eq!(s.rules[0].rule.action, RuleAction::Table(100));
    assert_eq!(s.rules[1].rule.priority, Some(16384));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("static_rules line 14 (from 192.168.51.0/24) has no preference"),
        "{w:?}"
    );
}

#[test]
fn bad_statics_refuse_the_configuration_naming_the_block() {
    let e = try_statics("static_routes {\n    10.50.0.0/16 via 10.0.0.1 rtt 3\n}\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "static_routes line 2 (10.50.0.0/16): option 'rtt 3' is not supported by rkeepalived"
    );
    let e = try_statics("static_rules {\n    from 10.0.0.0/8 priority 3\n}\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("static_rules line 2 (from 10.0.0.0/8): no action"),
        "{e}"
    );
}
