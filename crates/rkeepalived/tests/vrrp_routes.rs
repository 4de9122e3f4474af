//! `virtual_routes` and `virtual_rules` follow MASTER, checked in the kernel's tables of
//! two directors on a LAN of namespaces (`ip -j route` / `ip -j rule`): the master has
//! them and the backup none; after the master stops the backup has them and the old
//! master none; a master preempting takes them back from the backup; a reload changing a
//! master's routes applies the difference. VRRPv3 at 100 ms. Needs root
//! (`RK_SKIP_NETNS_TESTS=1` skips).

mod vrrp_lab;

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;
use rk_testkit::netns::{Lab, Netns, Proc, skip_requested};
use serde_json::Value;
use vrrp_lab::*;

const WAIT: Duration = Duration::from_secs(10);

const ROUTES: &str = "
        10.77.0.0/16 via 10.88.0.254 dev eth0 table 100 metric 7
        blackhole 192.0.2.0/24 table 100
        default via 10.88.0.253 dev eth0 table 101 src 10.88.0.100
        fd77::/48 via fd00:88::fe dev eth0 table 100";

const RULES: &str = "
        from 10.88.0.100/32 table 100 priority 1000
        to 10.77.0.0/16 fwmark 7 table 101 priority 1001
        from fd00:88::/64 table 100 priority 1002";

fn conf(prio: u8, routes: &str, rules: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    version 3
    advert_int 0.1
    priority {prio}
    virtual_ipaddress {{
        10.88.0.100/24
    }}
    virtual_routes {{{routes}
    }}
    virtual_rules {{{rules}
    }}
}}
"
    )
}

fn ip_json(node: &Node, args: &[&str]) -> Vec<Value> {
    let mut argv = vec!["ip", "-j"];
    argv.extend_from_slice(args);
    let out = node.ns.cmd(&argv).unwrap_or_default();
    serde_json::from_str::<Vec<Value>>(&out).unwrap_or_default()
}

/// Our routes (`proto keepalived`) in tables 100 and 101, both families, as
/// "table dst" strings, sorted.
fn our_routes(node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    for fam in ["-4", "-6"] {
        for table in ["100", "101"] {
            for r in ip_json(node, &[fam, "route", "show", "table", table]) {
                if r["protocol"] == "keepalived" {
                    let kind = r["type"]
                        .as_str()
                        .map(|t| format!("{t} "))
                        .unwrap_or_default();
                    let via = r["gateway"]
                        .as_str()
                        .map(|g| format!(" via {g}"))
                        .unwrap_or_default();
                    let src = r["prefsrc"]
                        .as_str()
                        .map(|g| format!(" src {g}"))
                        .unwrap_or_default();
                    out.push(format!(
                        "{table} {kind}{}{via}{src}",
                        r["dst"].as_str().unwrap_or("?")
                    ));
                }
            }
        }
    }
    out.sort();
    out
}

/// Our rules (`proto keepalived`) as their priorities, both families, sorted.
fn our_rules(node: &Node) -> Vec<u64> {
    let mut out: Vec<u64> = ["-4", "-6"]
        .iter()
        .flat_map(|fam| ip_json(node, &[fam, "rule", "show"]))
        .filter(|r| r["protocol"] == "keepalived")
        .filter_map(|r| r["priority"].as_u64())
        .collect();
    out.sort();
    out
}

fn all_routes() -> Vec<String> {
    let mut v = vec![
        "100 10.77.0.0/16 via 10.88.0.254".to_string(),
        "100 blackhole 192.0.2.0/24".to_string(),
        "101 default via 10.88.0.253 src 10.88.0.100".to_string(),
        "100 fd77::/48 via fd00:88::fe".to_string(),
    ];
    v.sort();
    v
}

fn holds_all(node: &Node) -> bool {
    our_routes(node) == all_routes() && our_rules(node) == vec![1000, 1001, 1002]
}

fn holds_none(node: &Node) -> bool {
    our_routes(node).is_empty() && our_rules(node).is_empty()
}

fn state(what: &str, a: &Node, b: &Node, procs: &[&Proc]) -> String {
    format!(
        "{what}\na: {:?} {:?}\nb: {:?} {:?}\n{}",
        our_routes(a),
        our_rules(a),
        our_routes(b),
        our_rules(b),
        logs(procs)
    )
}

fn expect_tables(what: &str, a: &Node, b: &Node, procs: &[&Proc], cond: impl Fn() -> bool) {
    assert!(
        rk_testkit::netns::wait_until(Duration::from_secs(5), cond),
        "{}",
        state(what, a, b, procs)
    );
}

/// Two directors on one LAN configured with `routes` and `rules`: a (priority 200) is
/// MASTER, b (100) BACKUP, both running.
struct Pair {
    lab: Lab,
    _lan: Netns,
    na: Node,
    nb: Node,
    ca: PathBuf,
    a: Proc,
    b: Proc,
}

fn pair(tag: &str, routes: &str, rules: &str) -> Pair {
    let (mut lab, lan, mut nodes) = lan(
        tag,
        &[
            ("a", &["10.88.0.1/24", "fd00:88::1/64"]),
            ("b", &["10.88.0.2/24", "fd00:88::2/64"]),
        ],
    );
    let nb = nodes.pop().unwrap();
    let na = nodes.pop().unwrap();
    let ca = lab.write_file("a.conf", &conf(200, routes, rules)).unwrap();
    let cb = lab.write_file("b.conf", &conf(100, routes, rules)).unwrap();
    let a = rk(&mut lab, &na, &ca, "a");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a]);
    let b = rk(&mut lab, &nb, &cb, "b");
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 1, WAIT, &[&a, &b]);
    Pair {
        lab,
        _lan: lan,
        na,
        nb,
        ca,
        a,
        b,
    }
}

#[test]
fn routes_and_rules_follow_master() {
    if skip_requested() {
        return;
    }
    let Pair {
        mut lab,
        _lan,
        na,
        nb,
        ca,
        mut a,
        b,
    } = pair("vroutes", ROUTES, RULES);
    expect_tables(
        "a master holds them all, b none",
        &na,
        &nb,
        &[&a, &b],
        || holds_all(&na) && holds_none(&nb),
    );
    assert!(!a.log().contains("not supported"), "{}", a.log());

    // The master stops: the backup takes them over, the old master keeps none.
    a.signal(Signal::SIGTERM).unwrap();
    assert_eq!(a.wait_exit(WAIT).unwrap(), Some(0), "{}", a.log());
    expect_log(&b, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a, &b]);
    expect_tables(
        "b took them over after a stopped",
        &na,
        &nb,
        &[&a, &b],
        || holds_all(&nb) && holds_none(&na),
    );

    // a comes back with the higher priority and preempts: b releases them (MASTER to
    // BACKUP), a has them again.
    let a = rk(&mut lab, &na, &ca, "a2");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a, &b]);
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 2, WAIT, &[&a, &b]);
    expect_tables(
        "a preempted and holds them, b none",
        &na,
        &nb,
        &[&a, &b],
        || holds_all(&na) && holds_none(&nb),
    );

    // A reload of the master drops one route and one rule and adds others.
    let routes2 = "
        10.77.0.0/16 via 10.88.0.254 dev eth0 table 100 metric 7
        blackhole 192.0.2.0/24 table 100
        default via 10.88.0.253 dev eth0 table 101 src 10.88.0.100
        unreachable 198.51.100.0/24 table 101";
    let rules2 = "
        from 10.88.0.100/32 table 100 priority 1000
        to 10.77.0.0/16 fwmark 7 table 101 priority 1001
        from 10.88.0.0/24 table 101 priority 1003";
    std::fs::write(&ca, conf(200, routes2, rules2)).unwrap();
    a.signal(Signal::SIGHUP).unwrap();
    let want: Vec<String> = {
        let mut v = vec![
            "100 10.77.0.0/16 via 10.88.0.254".to_string(),
            "100 blackhole 192.0.2.0/24".to_string(),
            "101 default via 10.88.0.253 src 10.88.0.100".to_string(),
            "101 unreachable 198.51.100.0/24".to_string(),
        ];
        v.sort();
        v
    };
    expect_tables(
        "the reload applied the difference",
        &na,
        &nb,
        &[&a, &b],
        || our_routes(&na) == want && our_rules(&na) == vec![1000, 1001, 1003],
    );
    assert!(
        holds_none(&nb),
        "{}",
        state("b untouched", &na, &nb, &[&a, &b])
    );
    // Our own removals (release, reload) never look like deletions behind our back.
    for p in [&a, &b] {
        assert!(!p.log().contains("behind our back"), "{}", logs(&[&a, &b]));
    }
}

/// keepalived 2.2.7 (`netlink_route_filter`, `netlink_rule_filter`): a tracked route (one
/// that names its `dev`) or rule of a MASTER deleted behind its back makes it send
/// priority 0 and go BACKUP, so the peer takes over; here the old master has the higher
/// priority, takes over again after its down timer and puts everything back. A
/// `no_track` route deleted changes nothing.
#[test]
fn a_route_or_rule_deleted_behind_the_master_s_back_hands_over() {
    if skip_requested() {
        return;
    }
    let routes = format!("{ROUTES}\n        10.55.0.0/16 dev eth0 table 101 no_track");
    let Pair {
        lab: _lab,
        _lan,
        na,
        nb,
        ca: _,
        a,
        b,
    } = pair("vroutetrk", &routes, RULES);
    let with_untracked = || {
        let mut v = all_routes();
        v.push("101 10.55.0.0/16".to_string());
        v.sort();
        v
    };
    expect_tables("a holds them", &na, &nb, &[&a, &b], || {
        our_routes(&na) == with_untracked() && holds_none(&nb)
    });

    // no_track: deleted, nothing happens (1 s = 10 adverts).
    na.ns
        .cmd(&["ip", "route", "del", "10.55.0.0/16", "table", "101"])
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(a.count("behind our back"), 0, "{}", logs(&[&a, &b]));
    assert_eq!(a.count("Entering BACKUP STATE"), 1, "{}", logs(&[&a, &b]));
    assert_eq!(b.count("Entering MASTER STATE"), 0, "{}", logs(&[&a, &b]));

    // A tracked route: a hands over, then takes back and re-adds everything.
    na.ns
        .cmd(&[
            "ip",
            "route",
            "del",
            "10.77.0.0/16",
            "table",
            "100",
            "metric",
            "7",
        ])
        .unwrap();
    expect_log(
        &a,
        "(VI_1) virtual route 10.77.0.0/16 via 10.88.0.254 table 100 metric 7 dev eth0 was deleted behind our back; leaving MASTER",
        1,
        WAIT,
        &[&a, &b],
    );
    expect_log(&b, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a, &b]);
    expect_log(&a, "(VI_1) Entering MASTER STATE", 2, WAIT, &[&a, &b]);
    expect_tables("a took back and re-added", &na, &nb, &[&a, &b], || {
        our_routes(&na) == with_untracked() && holds_none(&nb)
    });

    // A tracked rule: the same.
    na.ns
        .cmd(&["ip", "-4", "rule", "del", "priority", "1001"])
        .unwrap();
    expect_log(
        &a,
        "(VI_1) virtual rule priority 1001 from all to 10.77.0.0/16 fwmark 0x7 lookup 101 was deleted behind our back; leaving MASTER",
        1,
        WAIT,
        &[&a, &b],
    );
    expect_log(&b, "(VI_1) Entering MASTER STATE", 2, WAIT, &[&a, &b]);
    expect_log(&a, "(VI_1) Entering MASTER STATE", 3, WAIT, &[&a, &b]);
    expect_tables(
        "a took back and re-added the rule",
        &na,
        &nb,
        &[&a, &b],
        || our_rules(&na) == vec![1000, 1001, 1002] && holds_none(&nb),
    );
}

/// A route that cannot be added (its gateway is unreachable) is logged with the instance
/// and counted; the instance stays MASTER with its VIP and its other routes.
#[test]
fn a_refused_route_is_logged_and_the_rest_still_goes_in() {
    if skip_requested() {
        return;
    }
    let (mut lab, _lan, mut nodes) = lan("vroutebad", &[("a", &["10.88.0.1/24"])]);
    let na = nodes.pop().unwrap();
    let routes = "
        10.66.0.0/16 via 10.99.0.1 dev eth0 table 100
        10.77.0.0/16 via 10.88.0.254 dev eth0 table 100";
    let ca = lab.write_file("a.conf", &conf(200, routes, "")).unwrap();
    let a = rk(&mut lab, &na, &ca, "a");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a]);
    expect_log(&a, "(VI_1) add route 10.66.0.0/16", 1, WAIT, &[&a]);
    expect(
        "the good route is in",
        Duration::from_secs(5),
        &[&a],
        || our_routes(&na) == vec!["100 10.77.0.0/16 via 10.88.0.254".to_string()],
    );
    assert!(na.ns.has_addr("eth0", "10.88.0.100"), "{}", a.log());
}

/// `static_ipaddress`, `static_routes`, `static_rules`: installed at start on a node whose
/// instance stays BACKUP, a tracked static route deleted behind our back is put back, a
/// reload removes the one no longer configured and adds the new one, and a stop removes
/// them all.
#[test]
fn statics_are_installed_whatever_the_state_and_removed_at_stop() {
    if skip_requested() {
        return;
    }
    let (mut lab, _lan, mut nodes) = lan(
        "vstatics",
        &[
            ("a", &["10.88.0.1/24", "fd00:88::1/64"]),
            ("b", &["10.88.0.2/24", "fd00:88::2/64"]),
        ],
    );
    let nb = nodes.pop().unwrap();
    let na = nodes.pop().unwrap();
    let statics = |routes: &str| {
        format!(
            "static_ipaddress {{\n    192.168.77.2/24 dev eth0\n}}\n\
             static_routes {{{routes}\n}}\n\
             static_rules {{\n    from 192.168.77.0/24 table 100 priority 900\n}}\n"
        )
    };
    let first = "\n    10.77.0.0/16 via 10.88.0.254 dev eth0 table 100\n    10.78.0.0/16 via 10.88.0.254 dev eth0 table 101";
    let ca = lab.write_file("a.conf", &conf(200, "", "")).unwrap();
    let cb = lab
        .write_file(
            "b.conf",
            &format!("{}{}", statics(first), conf(100, "", "")),
        )
        .unwrap();
    let a = rk(&mut lab, &na, &ca, "a");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a]);
    let mut b = rk(&mut lab, &nb, &cb, "b");
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 1, WAIT, &[&a, &b]);
    let want = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    expect_tables("b (BACKUP) has its statics", &na, &nb, &[&a, &b], || {
        our_routes(&nb)
            == want(&[
                "100 10.77.0.0/16 via 10.88.0.254",
                "101 10.78.0.0/16 via 10.88.0.254",
            ])
            && our_rules(&nb) == vec![900]
            && nb.ns.has_addr("eth0", "192.168.77.2")
    });
    assert!(
        holds_none(&na),
        "{}",
        state("a has none", &na, &nb, &[&a, &b])
    );

    // Deleted behind our back: put back.
    nb.ns
        .cmd(&["ip", "route", "del", "10.77.0.0/16", "table", "100"])
        .unwrap();
    expect_log(
        &b,
        "Restoring deleted static route 10.77.0.0/16 via 10.88.0.254 table 100 dev eth0",
        1,
        WAIT,
        &[&a, &b],
    );
    expect_tables("the static route is back", &na, &nb, &[&a, &b], || {
        our_routes(&nb).contains(&"100 10.77.0.0/16 via 10.88.0.254".to_string())
    });

    // A reload: 10.78/16 goes, 10.79/16 comes.
    let second = "\n    10.77.0.0/16 via 10.88.0.254 dev eth0 table 100\n    10.79.0.0/16 via 10.88.0.254 dev eth0 table 101";
    std::fs::write(&cb, format!("{}{}", statics(second), conf(100, "", ""))).unwrap();
    b.signal(Signal::SIGHUP).unwrap();
    expect_tables(
        "the reload applied the statics' difference",
        &na,
        &nb,
        &[&a, &b],
        || {
            our_routes(&nb)
                == want(&[
                    "100 10.77.0.0/16 via 10.88.0.254",
                    "101 10.79.0.0/16 via 10.88.0.254",
                ])
        },
    );
    assert_eq!(b.count("Restoring deleted static route"), 1, "{}", b.log());

    // Stop: all gone.
    b.signal(Signal::SIGTERM).unwrap();
    assert_eq!(b.wait_exit(WAIT).unwrap(), Some(0), "{}", b.log());
    assert!(
        holds_none(&nb),
        "{}",
        state("b stopped", &na, &nb, &[&a, &b])
    );
    assert!(!nb.ns.has_addr("eth0", "192.168.77.2"), "{}", b.log());
}

/// kill -9 of the master: the backup takes the routes and rules over; the killed node's
/// kernel still has its own (nobody removed them). When it starts again it resumes with
/// its VIPs, hears the new master, releases everything (the leftovers included), then
/// preempts with its higher priority and puts them back while the other releases.
#[test]
fn a_killed_master_s_leftovers_are_released_when_it_comes_back() {
    if skip_requested() {
        return;
    }
    let Pair {
        mut lab,
        _lan,
        na,
        nb,
        ca,
        mut a,
        b,
    } = pair("vroutekill", ROUTES, RULES);
    expect_tables("a holds them", &na, &nb, &[&a, &b], || {
        holds_all(&na) && holds_none(&nb)
    });

    a.kill();
    expect_log(&b, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a, &b]);
    expect_tables(
        "b took them over; a's kernel keeps its own",
        &na,
        &nb,
        &[&a, &b],
        || holds_all(&nb) && holds_all(&na),
    );

    let a = rk(&mut lab, &na, &ca, "a2");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a, &b]);
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 2, WAIT, &[&a, &b]);
    expect_tables("a is master again, b released", &na, &nb, &[&a, &b], || {
        holds_all(&na) && holds_none(&nb)
    });
    assert!(
        a.log().contains("(VI_1) removing virtual routes."),
        "the leftovers were released before a took over again\n{}",
        a.log()
    );
}
