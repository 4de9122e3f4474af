//! rk-netlink against the real kernel, inside a network namespace of its own (needs root;
//! `RK_SKIP_NETNS_TESTS=1` skips). Each test builds its own lab, so they run in parallel.

use std::net::IpAddr;
use std::time::Duration;

use rk_netlink::addr::{IFA_F_NODAD, IFA_F_NOPREFIXROUTE};
use rk_netlink::{
    AddOutcome, AddressSpec, DelOutcome, Event, Monitor, Netlink, Scope, VmacSpec, sysctl,
    virtual_mac,
};
use rk_testkit::netns::{Lab, Netns, skip_requested};

fn lab(tag: &str) -> (Lab, Netns) {
    let mut lab = Lab::new(tag).expect("lab");
    let lan = lab.lan("lan").expect("lan");
    let h = lab.host("h").expect("host");
    lab.attach(&lan, &h, "eth0", &["10.9.0.1/24", "fd00::1/64"])
        .expect("attach");
    (lab, h)
}

/// Runs an async body on a current-thread runtime inside `ns`.
fn in_ns<T: Send>(ns: &Netns, f: impl AsyncFnOnce() -> T + Send) -> T {
    ns.run_in(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f())
    })
    .expect("setns")
}

#[test]
fn addresses_with_label_scope_flags_and_proto() {
    if skip_requested() {
        return;
    }
    let (_lab, h) = lab("nladdr");
    in_ns(&h, async || {
        let nl = Netlink::connect().unwrap();
        let eth0 = nl.link_by_name("eth0").await.unwrap().expect("eth0");
        assert!(eth0.is_up());
        assert_eq!(eth0.mtu, Some(1500));
        assert_eq!(eth0.kind.as_deref(), Some("veth"));
        assert!(nl.link_by_name("nope0").await.unwrap().is_none());
        assert_eq!(
            nl.link_by_index(eth0.index).await.unwrap().map(|l| l.name),
            Some("eth0".to_string())
        );

        let mut vip = AddressSpec::new(eth0.index, "10.9.0.99".parse().unwrap(), 24);
        vip.label = Some("eth0:0".into());
        vip.proto = Some(18);
        assert_eq!(nl.add_address(&vip).await.unwrap(), AddOutcome::Added);
        assert_eq!(
            nl.add_address(&vip).await.unwrap(),
            AddOutcome::AlreadyPresent
        );
        let mut v6 = AddressSpec::new(eth0.index, "fd00::99".parse().unwrap(), 64);
        v6.flags = IFA_F_NODAD | IFA_F_NOPREFIXROUTE;
        v6.scope = Scope::Global;
        v6.preferred_lft = Some(0);
        nl.add_address(&v6).await.unwrap();

        let addrs = nl.addresses(Some(eth0.index)).await.unwrap();
        let a = addrs
            .iter()
            .find(|a| a.addr == vip.addr)
            .expect("vip listed");
        assert_eq!(a.label.as_deref(), Some("eth0:0"));
        assert_eq!(a.prefix_len, 24);
        assert!(a.is_secondary(), "second address of the subnet");
        assert_eq!(a.proto, Some(18));
        let b = addrs.iter().find(|a| a.addr == v6.addr).expect("v6 listed");
        assert_ne!(b.flags & IFA_F_NODAD, 0);
        assert_ne!(b.flags & IFA_F_NOPREFIXROUTE, 0);

        assert_eq!(nl.del_address(&vip).await.unwrap(), DelOutcome::Removed);
        assert_eq!(nl.del_address(&vip).await.unwrap(), DelOutcome::NotPresent);
        assert_eq!(nl.del_address(&v6).await.unwrap(), DelOutcome::Removed);
        let left: Vec<IpAddr> = nl
            .addresses(Some(eth0.index))
            .await
            .unwrap()
            .iter()
            .map(|a| a.addr)
            .collect();
        assert!(!left.contains(&vip.addr) && !left.contains(&v6.addr));
        // An address on a missing interface: the kernel's error comes back typed.
        let bad = AddressSpec::new(9999, "10.9.0.98".parse().unwrap(), 24);
        let e = nl.add_address(&bad).await.unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");
        assert!(e.to_string().contains("10.9.0.98/24"), "{e}");
    });
    // The kernel shows the label as `ip` would: check from outside too.
    assert!(!h.has_addr("eth0", "10.9.0.99"));
}

#[test]
fn monitor_reports_links_and_addresses() {
    if skip_requested() {
        return;
    }
    let (_lab, h) = lab("nlmon");
    let hn = h.clone();
    in_ns(&h, async move || {
        let mut mon = Monitor::start().unwrap();
        let nl = Netlink::connect().unwrap();
        let eth0 = nl.link_by_name("eth0").await.unwrap().unwrap();
        let vip = AddressSpec::new(eth0.index, "10.9.0.77".parse().unwrap(), 32);
        nl.add_address(&vip).await.unwrap();
        let added = next_matching(
            &mut mon,
            |e| matches!(e, Event::AddressAdded(a) if a.addr == vip.addr),
        )
        .await;
        assert!(added, "address added event");
        // Deleted behind our back, by `ip`.
        let (ok, out) = hn.try_cmd(&["ip", "addr", "del", "10.9.0.77/32", "dev", "eth0"]);
        assert!(ok, "{out}");
        let removed = next_matching(&mut mon, |e| {
            matches!(e, Event::AddressRemoved(a) if a.addr == vip.addr && a.ifindex == eth0.index)
        })
        .await;
        assert!(removed, "address removed event");
        nl.set_link_up(eth0.index, false).await.unwrap();
        let down = next_matching(
            &mut mon,
            |e| matches!(e, Event::LinkChanged(l) if l.name == "eth0" && !l.admin_up),
        )
        .await;
        assert!(down, "link down event");
        nl.set_link_up(eth0.index, true).await.unwrap();
        let up = next_matching(
            &mut mon,
            |e| matches!(e, Event::LinkChanged(l) if l.name == "eth0" && l.is_up()),
        )
        .await;
        assert!(up, "link up event (with carrier)");
    });
}

async fn next_matching(mon: &mut Monitor, f: impl Fn(&Event) -> bool) -> bool {
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = mon.next().await {
            if f(&e) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false)
}

#[test]
fn vmac_is_a_private_macvlan_with_the_rfc_mac_and_sysctls() {
    if skip_requested() {
        return;
    }
    let (_lab, h) = lab("nlvmac");
    let hn = h.clone();
    in_ns(&h, async move || {
        let nl = Netlink::connect().unwrap();
        let eth0 = nl.link_by_name("eth0").await.unwrap().unwrap();
        let spec = VmacSpec {
            name: "vrrp.33".into(),
            parent: eth0.clone(),
            mac: virtual_mac(false, 33),
        };
        let before = sysctl::read(&sysctl::ipv4_conf("eth0", "arp_ignore")).unwrap();
        let vmac = nl.ensure_vmac(&spec).await.unwrap();
        assert!(vmac.created);
        assert_eq!(vmac.link.mac_string().as_deref(), Some("00:00:5e:00:01:21"));
        assert_eq!(vmac.link.kind.as_deref(), Some("macvlan"));
        assert_eq!(
            vmac.link.macvlan_mode,
            Some(rk_netlink::MacvlanMode::Private)
        );
        assert_eq!(vmac.link.parent, Some(eth0.index));
        assert!(vmac.link.admin_up);
        let rd = |i: &str, k: &str| sysctl::read(&sysctl::ipv4_conf(i, k)).unwrap();
        assert_eq!(rd("eth0", "arp_ignore"), "1");
        assert_eq!(rd("eth0", "arp_filter"), "1");
        assert_eq!(rd("eth0", "arp_announce"), "2");
        assert_eq!(rd("vrrp.33", "arp_ignore"), "1");
        assert_eq!(rd("vrrp.33", "accept_local"), "1");
        assert_eq!(rd("vrrp.33", "rp_filter"), "0");
        // No IPv6 link-local on the VMAC: it must not send from the shared MAC.
        assert!(
            !hn.addresses("vrrp.33")
                .iter()
                .any(|a| a.cidr.starts_with("fe80")),
            "{:?}",
            hn.addresses("vrrp.33")
        );
        // A second run finds it and reuses it.
        let again = nl.ensure_vmac(&spec).await.unwrap();
        assert!(!again.created);
        // Another MAC under the same name is not ours.
        let other = VmacSpec {
            mac: virtual_mac(false, 34),
            ..spec.clone()
        };
        assert!(matches!(
            nl.ensure_vmac(&other).await,
            Err(rk_netlink::Error::VmacConflict { .. })
        ));
        drop(again);
        nl.remove_vmac(vmac).await.unwrap();
        assert!(nl.link_by_name("vrrp.33").await.unwrap().is_none());
        assert_eq!(rd("eth0", "arp_ignore"), before, "restored");
    });
}

/// `ip -d route show table T` in `ns`.
fn routes_in(ns: &Netns, table: &str, family: &str) -> String {
    ns.cmd(&["ip", family, "-d", "route", "show", "table", table])
        .unwrap_or_default()
}

#[test]
fn routes_and_rules_are_added_and_removed_for_real() {
    use rk_netlink::{
        IpFamily, NexthopSpec, Prefix, Range, RouteSpec, RouteType, RuleAction, RuleSpec,
    };
    if skip_requested() {
        return;
    }
    let (mut lab, h) = lab("nlroute");
    // A second link for multipath.
    let lan2 = lab.lan("lan2").expect("lan2");
    lab.attach(&lan2, &h, "eth1", &["10.8.0.1/24"])
        .expect("attach");
    let pfx = |s: &str| {
        let (a, l) = s.split_once('/').unwrap();
        Prefix {
            addr: a.parse().unwrap(),
            len: l.parse().unwrap(),
        }
    };
    let (gw_route, mp, bh, v6, rule, rule6) = in_ns(&h, async || {
        let nl = Netlink::connect().unwrap();
        let eth0 = nl.link_by_name("eth0").await.unwrap().expect("eth0").index;
        let eth1 = nl.link_by_name("eth1").await.unwrap().expect("eth1").index;

        let mut gw_route = RouteSpec::new(IpFamily::V4, Some(pfx("10.50.0.0/16")));
        gw_route.via = Some("10.9.0.254".parse().unwrap());
        gw_route.oif = Some(eth0);
        gw_route.table = 1000;
        gw_route.metric = Some(5);
        gw_route.src = Some("10.9.0.1".parse().unwrap());
        gw_route.metrics = vec![
            rk_netlink::MetricSpec {
                metric: rk_netlink::Metric::Mtu(1400),
                lock: true,
            },
            rk_netlink::MetricSpec {
                metric: rk_netlink::Metric::InitCwnd(20),
                lock: false,
            },
        ];
        assert_eq!(nl.add_route(&gw_route).await.unwrap(), AddOutcome::Added);
        assert_eq!(
            nl.add_route(&gw_route).await.unwrap(),
            AddOutcome::AlreadyPresent
        );

        let mut mp = RouteSpec::new(IpFamily::V4, None);
        mp.table = 100;
        mp.nexthops = vec![
            NexthopSpec {
                via: Some("10.9.0.253".parse().unwrap()),
                oif: Some(eth0),
                weight: 1,
                onlink: false,
            },
            NexthopSpec {
                via: Some("10.8.0.253".parse().unwrap()),
                oif: Some(eth1),
                weight: 3,
                onlink: false,
            },
        ];
        assert_eq!(nl.add_route(&mp).await.unwrap(), AddOutcome::Added);

        let mut bh = RouteSpec::new(IpFamily::V4, Some(pfx("192.0.2.0/24")));
        bh.kind = RouteType::Blackhole;
        assert_eq!(nl.add_route(&bh).await.unwrap(), AddOutcome::Added);

        let mut v6 = RouteSpec::new(IpFamily::V6, Some(pfx("fd50::/48")));
        v6.via = Some("fd00::fe".parse().unwrap());
        v6.oif = Some(eth0);
        assert_eq!(nl.add_route(&v6).await.unwrap(), AddOutcome::Added);

        let mut rule = RuleSpec::new(IpFamily::V4, RuleAction::Table(1000));
        rule.from = Some(pfx("10.9.0.0/24"));
        rule.priority = Some(1234);
        rule.fwmark = Some(7);
        rule.fwmask = Some(0xff);
        rule.dport = Some(Range { start: 80, end: 90 });
        rule.ipproto = Some(6);
        rule.iif = Some("eth0".into());
        assert_eq!(nl.add_rule(&rule).await.unwrap(), AddOutcome::Added);
        assert_eq!(
            nl.add_rule(&rule).await.unwrap(),
            AddOutcome::AlreadyPresent
        );
        let mut rule6 = RuleSpec::new(IpFamily::V6, RuleAction::Blackhole);
        rule6.to = Some(pfx("fd66::/16"));
        rule6.priority = Some(50);
        rule6.invert = true;
        assert_eq!(nl.add_rule(&rule6).await.unwrap(), AddOutcome::Added);
        (gw_route, mp, bh, v6, rule, rule6)
    });

    let t1000 = routes_in(&h, "1000", "-4");
    assert!(
        t1000.contains("10.50.0.0/16 via 10.9.0.254 dev eth0 proto keepalived")
            && t1000.contains("metric 5")
            && t1000.contains("src 10.9.0.1")
            && t1000.contains("mtu lock 1400")
            && t1000.contains("initcwnd 20"),
        "{t1000}"
    );
    let t100 = routes_in(&h, "100", "-4");
    assert!(t100.contains("default proto keepalived"), "{t100}");
    assert!(
        t100.contains("nexthop via 10.9.0.253 dev eth0 weight 1"),
        "{t100}"
    );
    assert!(
        t100.contains("nexthop via 10.8.0.253 dev eth1 weight 3"),
        "{t100}"
    );
    let main = routes_in(&h, "main", "-4");
    assert!(
        main.contains("blackhole 192.0.2.0/24 proto keepalived"),
        "{main}"
    );
    let main6 = routes_in(&h, "main", "-6");
    assert!(
        main6.contains("fd50::/48 via fd00::fe dev eth0 proto keepalived"),
        "{main6}"
    );
    let rules = h.cmd(&["ip", "-4", "rule", "show"]).unwrap();
    assert!(
        rules.contains(
            "1234:\tfrom 10.9.0.0/24 fwmark 0x7/0xff iif eth0 ipproto tcp dport 80-90 lookup 1000 proto keepalived"
        ),
        "{rules}"
    );
    let rules6 = h.cmd(&["ip", "-6", "rule", "show"]).unwrap();
    assert!(
        rules6.contains("50:\tnot from all to fd66::/16 blackhole proto keepalived"),
        "{rules6}"
    );

    // A route of the same destination that is not ours survives our removal.
    h.cmd(&[
        "ip",
        "route",
        "append",
        "10.50.0.0/16",
        "via",
        "10.9.0.253",
        "table",
        "1000",
        "metric",
        "5",
    ])
    .expect("foreign route");

    in_ns(&h, async || {
        let nl = Netlink::connect().unwrap();
        for r in [&gw_route, &mp, &bh, &v6] {
            assert_eq!(nl.del_route(r).await.unwrap(), DelOutcome::Removed, "{r}");
            assert_eq!(
                nl.del_route(r).await.unwrap(),
                DelOutcome::NotPresent,
                "{r}"
            );
        }
        for r in [&rule, &rule6] {
            assert_eq!(nl.del_rule(r).await.unwrap(), DelOutcome::Removed, "{r}");
            assert_eq!(nl.del_rule(r).await.unwrap(), DelOutcome::NotPresent, "{r}");
        }
    });
    let t1000 = routes_in(&h, "1000", "-4");
    assert!(!t1000.contains("keepalived"), "{t1000}");
    assert!(t1000.contains("10.50.0.0/16 via 10.9.0.253"), "{t1000}");
    assert!(!routes_in(&h, "100", "-4").contains("default"));
    assert!(!routes_in(&h, "main", "-4").contains("blackhole"));
    assert!(!routes_in(&h, "main", "-6").contains("fd50::"));
    assert!(
        !h.cmd(&["ip", "-4", "rule", "show"])
            .unwrap()
            .contains("1234:")
    );
    assert!(
        !h.cmd(&["ip", "-6", "rule", "show"])
            .unwrap()
            .contains("50:")
    );
}

#[test]
fn route_monitor_reports_removals_of_our_routes_and_rules_only() {
    use rk_netlink::{
        IpFamily, Prefix, RouteEvent, RouteKey, RouteMonitor, RouteSpec, RuleAction, RuleKey,
        RuleSpec,
    };
    if skip_requested() {
        return;
    }
    let (_lab, h) = lab("nlroutemon");
    let foreign = [
        "ip",
        "route",
        "add",
        "10.61.0.0/16",
        "dev",
        "eth0",
        "table",
        "100",
    ];
    h.cmd(&foreign).expect("foreign route");
    in_ns(&h, async || {
        let nl = Netlink::connect().unwrap();
        let eth0 = nl.link_by_name("eth0").await.unwrap().expect("eth0").index;
        let mut route = RouteSpec::new(
            IpFamily::V4,
            Some(Prefix {
                addr: "10.60.0.0".parse().unwrap(),
                len: 16,
            }),
        );
        route.via = Some("10.9.0.254".parse().unwrap());
        route.oif = Some(eth0);
        route.table = 100;
        route.metric = Some(3);
        nl.add_route(&route).await.unwrap();
        let mut rule = RuleSpec::new(IpFamily::V6, RuleAction::Table(100));
        rule.priority = Some(777);
        rule.fwmark = Some(5);
        rule.iif = Some("eth0".into());
        nl.add_rule(&rule).await.unwrap();

        let mut mon = RouteMonitor::start().unwrap();
        // Behind our back, with iproute2: the foreign route first (not reported), then ours.
        let ns = h.clone();
        std::thread::spawn(move || {
            ns.cmd(&["ip", "route", "del", "10.61.0.0/16", "table", "100"])
                .unwrap();
            ns.cmd(&[
                "ip",
                "route",
                "del",
                "10.60.0.0/16",
                "table",
                "100",
                "metric",
                "3",
            ])
            .unwrap();
            ns.cmd(&["ip", "-6", "rule", "del", "priority", "777"])
                .unwrap();
        });
        let next = async |mon: &mut RouteMonitor| {
            tokio::time::timeout(Duration::from_secs(5), mon.next())
                .await
                .expect("an event in time")
                .expect("monitor alive")
        };
        match next(&mut mon).await {
            RouteEvent::RouteRemoved(k) => assert!(k.matches(&RouteKey::of(&route)), "{k:?}"),
            other => panic!("{other:?}"),
        }
        match next(&mut mon).await {
            RouteEvent::RuleRemoved(k) => assert_eq!(k, RuleKey::of(&rule)),
            other => panic!("{other:?}"),
        }
    });
}
