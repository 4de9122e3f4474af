//! The driver's duties beyond election, each on a LAN of namespaces with the real binary:
//! SIGTERM (priority 0, the backup takes over after the skew time only), VMAC, IPv6
//! neighbour advertisements, interface loss and return (FAULT), an interface that only
//! appears later, a VIP deleted behind our back, and leftovers of an earlier run cleaned up
//! at start. VRRPv3 with 100 ms adverts where the test allows, so each takes a few
//! seconds. Needs root (`RK_SKIP_NETNS_TESTS=1` skips).

mod vrrp_lab;

use std::time::{Duration, Instant};

use rk_testkit::netns::{Proc, skip_requested};
use vrrp_lab::*;

const WAIT: Duration = Duration::from_secs(10);

/// A VRRPv3 instance at 100 ms on eth0 with `vip` and `extra` lines.
fn v3(prio: u8, vip: &str, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    version 3\n    \
         advert_int 0.1\n    priority {prio}\n    {extra}\n    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n"
    )
}

fn pair(
    tag: &str,
    a_conf: &str,
    b_conf: &str,
) -> (rk_testkit::netns::Lab, Node, Node, Node, Proc, Proc) {
    let (mut lab, _lan, mut nodes) = lan(
        tag,
        &[
            ("a", &["10.88.0.1/24", "fd00:88::1/64"]),
            ("b", &["10.88.0.2/24", "fd00:88::2/64"]),
            ("client", &["10.88.0.200/24", "fd00:88::200/64"]),
        ],
    );
    let client = nodes.pop().unwrap();
    let nb = nodes.pop().unwrap();
    let na = nodes.pop().unwrap();
    let ca = lab.write_file("a.conf", a_conf).unwrap();
    let cb = lab.write_file("b.conf", b_conf).unwrap();
    let a = rk(&mut lab, &na, &ca, "a");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a]);
    let b = rk(&mut lab, &nb, &cb, "b");
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 1, WAIT, &[&a, &b]);
    (lab, na, nb, client, a, b)
}

/// SIGTERM: the master sends priority 0 and removes its VIP; the backup takes over after
/// its skew time (609 ms at priority 100 with 1 s adverts), not after the 3.6 s down
/// interval; the stopped daemon exits 0 and removes its pid files.
#[test]
fn sigterm_sends_priority_zero_and_releases_the_vip() {
    if skip_requested() {
        return;
    }
    let vip = "10.88.0.100/24";
    // 1 s adverts: the skew (0.6 s) and the down interval (3.6 s) are far apart.
    let slow = |p| v3(p, vip, "").replace("advert_int 0.1", "advert_int 1");
    let (lab, na, nb, _client, mut a, b) = pair("term", &slow(200), &slow(100));
    expect("VIP on a", Duration::from_secs(2), &[&a, &b], || {
        na.ns.has_addr("eth0", "10.88.0.100")
    });
    let pid_file = lab.dir().join("a.vrrp.pid");
    assert!(pid_file.exists());
    let t0 = Instant::now();
    a.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(
        a.wait_exit(Duration::from_secs(5)).unwrap(),
        Some(0),
        "{}",
        a.log()
    );
    expect_log(
        &b,
        "(VI_1) Entering MASTER STATE (master sent priority 0)",
        1,
        WAIT,
        &[&a, &b],
    );
    let took = t0.elapsed();
    assert!(a.log().contains("(VI_1) sent 0 priority"), "{}", a.log());
    assert!(
        !na.ns.has_addr("eth0", "10.88.0.100"),
        "VIP released\n{}",
        a.log()
    );
    assert!(nb.ns.has_addr("eth0", "10.88.0.100"));
    assert!(!pid_file.exists(), "pid file removed");
    // The reason above already says priority 0 was heard; the time confirms the backup
    // waited its skew (0.6 s) and not the down interval (3.6 s), with room for a busy CI.
    assert!(
        took < Duration::from_millis(2500),
        "took {took:?}\n{}",
        logs(&[&a, &b])
    );
}

/// VMAC: the VIP lives on `vrrp.51` with MAC 00:00:5e:00:01:33 on whichever node is
/// master, so the client's ARP entry never changes; the sysctls are set and logged; the
/// VMAC goes away on stop.
#[test]
fn vmac_pair_keeps_one_mac_for_the_client() {
    if skip_requested() {
        return;
    }
    let vip = "10.88.0.100/24";
    let (_lab, na, nb, client, mut a, b) =
        pair("vmac", &v3(200, vip, "use_vmac"), &v3(100, vip, "use_vmac"));
    const VMAC: &str = "00:00:5e:00:01:33";
    expect("VIP on a's VMAC", Duration::from_secs(2), &[&a, &b], || {
        na.ns.has_addr("vrrp.51", "10.88.0.100")
    });
    assert_eq!(na.ns.mac("vrrp.51").unwrap(), VMAC);
    assert!(
        a.log().contains("net.ipv4.conf.eth0.arp_ignore = 1"),
        "{}",
        a.log()
    );
    assert!(
        a.log().contains("net.ipv4.conf.vrrp.51.accept_local = 1"),
        "{}",
        a.log()
    );
    assert!(!nb.ns.has_addr("vrrp.51", "10.88.0.100"));
    assert!(probe(&client, "10.88.0.100"), "{}", logs(&[&a, &b]));
    assert_eq!(client.ns.neigh("10.88.0.100").as_deref(), Some(VMAC));
    // No IGMP/MLD from the shared MAC: the backup's VMAC has no IPv6 address at all.
    assert!(
        nb.ns.addresses("vrrp.51").is_empty(),
        "{:?}",
        nb.ns.addresses("vrrp.51")
    );

    a.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
    a.wait_exit(Duration::from_secs(5)).unwrap();
    assert!(
        na.ns.addresses("vrrp.51").is_empty() && na.ns.mac("vrrp.51").is_err(),
        "VMAC deleted"
    );
    expect_log(&b, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a, &b]);
    expect("VIP on b's VMAC", Duration::from_secs(2), &[&a, &b], || {
        nb.ns.has_addr("vrrp.51", "10.88.0.100")
    });
    assert!(probe(&client, "10.88.0.100"), "{}", logs(&[&a, &b]));
    assert_eq!(client.ns.neigh("10.88.0.100").as_deref(), Some(VMAC));
}

/// IPv6: the new master announces the VIP with an unsolicited NA (Override), so the
/// client's neighbour entry moves to it without a new solicitation.
#[test]
fn ipv6_neighbour_advertisement_moves_the_client() {
    if skip_requested() {
        return;
    }
    let vip = "fd00:88::100/64";
    let (_lab, na, nb, client, mut a, b) = pair("na", &v3(200, vip, ""), &v3(100, vip, ""));
    expect("VIP on a", Duration::from_secs(2), &[&a, &b], || {
        na.ns.has_addr("eth0", "fd00:88::100")
    });
    assert!(probe(&client, "fd00:88::100"), "{}", logs(&[&a, &b]));
    assert_eq!(
        client.ns.neigh("fd00:88::100").as_deref(),
        Some(na.mac.as_str())
    );
    a.kill();
    expect_log(&b, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a, &b]);
    expect(
        "client neighbour entry → b",
        Duration::from_secs(2),
        &[&a, &b],
        || client.ns.neigh("fd00:88::100").as_deref() == Some(nb.mac.as_str()),
    );
}

/// Losing the interface (carrier down): FAULT with priority 0 and the VIP released; the
/// backup takes over; carrier back: BACKUP, then the higher priority preempts again.
#[test]
fn carrier_loss_is_a_fault() {
    if skip_requested() {
        return;
    }
    let (mut lab, _lan, nodes) = lan(
        "fault",
        &[("a", &["10.88.0.1/24"]), ("b", &["10.88.0.2/24"])],
    );
    let (na, nb) = (&nodes[0], &nodes[1]);
    let vip = "10.88.0.100/24";
    let ca = lab.write_file("a.conf", &v3(200, vip, "")).unwrap();
    let cb = lab.write_file("b.conf", &v3(100, vip, "")).unwrap();
    let a = rk(&mut lab, na, &ca, "a");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a]);
    let b = rk(&mut lab, nb, &cb, "b");
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 1, WAIT, &[&a, &b]);
    // Carrier loss from a's side: its eth0 goes down.
    na.ns.cmd(&["ip", "link", "set", "eth0", "down"]).unwrap();
    expect_log(&a, "(VI_1) Entering FAULT STATE", 1, WAIT, &[&a, &b]);
    assert!(!na.ns.has_addr("eth0", "10.88.0.100"), "{}", a.log());
    expect_log(&b, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a, &b]);
    na.ns.cmd(&["ip", "link", "set", "eth0", "up"]).unwrap();
    expect_log(
        &a,
        "(VI_1) Entering BACKUP STATE (fault cleared)",
        1,
        WAIT,
        &[&a, &b],
    );
    expect_log(&a, "(VI_1) Entering MASTER STATE", 2, WAIT, &[&a, &b]);
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 2, WAIT, &[&a, &b]);
    expect("VIP back on a", Duration::from_secs(2), &[&a, &b], || {
        na.ns.has_addr("eth0", "10.88.0.100")
    });
}

/// An instance whose interface does not exist waits in FAULT and starts when it appears.
#[test]
fn missing_interface_waits_in_fault() {
    if skip_requested() {
        return;
    }
    let (mut lab, _lan, nodes) = lan("late", &[("a", &["10.88.0.1/24"])]);
    let na = &nodes[0];
    let conf = v3(200, "10.88.1.100/24 dev late0", "").replace("interface eth0", "interface late0");
    let c = lab.write_file("a.conf", &conf).unwrap();
    let a = rk(&mut lab, na, &c, "a");
    expect_log(&a, "(VI_1) Entering FAULT STATE", 1, WAIT, &[&a]);
    // A veth pair inside the namespace: late0 with an address, its peer up.
    na.ns
        .cmd(&[
            "ip", "link", "add", "late0", "type", "veth", "peer", "name", "late1",
        ])
        .unwrap();
    na.ns
        .cmd(&["ip", "addr", "add", "10.88.1.1/24", "dev", "late0"])
        .unwrap();
    na.ns.cmd(&["ip", "link", "set", "late1", "up"]).unwrap();
    na.ns.cmd(&["ip", "link", "set", "late0", "up"]).unwrap();
    expect_log(
        &a,
        "(VI_1) Entering BACKUP STATE (fault cleared)",
        1,
        WAIT,
        &[&a],
    );
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a]);
    expect("VIP on late0", Duration::from_secs(2), &[&a], || {
        na.ns.has_addr("late0", "10.88.1.100")
    });
}

/// A VIP deleted behind the master's back: it gives up at once with priority 0 (the backup
/// takes over), then — still the higher priority — preempts back and re-adds the VIP.
#[test]
fn vip_deleted_behind_our_back() {
    if skip_requested() {
        return;
    }
    let vip = "10.88.0.100/24";
    let (_lab, na, nb, _client, a, b) = pair("lost", &v3(200, vip, ""), &v3(100, vip, ""));
    expect("VIP on a", Duration::from_secs(2), &[&a, &b], || {
        na.ns.has_addr("eth0", "10.88.0.100")
    });
    na.ns
        .cmd(&["ip", "addr", "del", vip, "dev", "eth0"])
        .unwrap();
    expect_log(
        &a,
        "(VI_1) Entering BACKUP STATE (VIPs deleted externally)",
        1,
        WAIT,
        &[&a, &b],
    );
    expect_log(
        &b,
        "(VI_1) Entering MASTER STATE (master sent priority 0)",
        1,
        WAIT,
        &[&a, &b],
    );
    expect_log(&a, "(VI_1) Entering MASTER STATE", 2, WAIT, &[&a, &b]);
    expect(
        "VIP back on a only",
        Duration::from_secs(2),
        &[&a, &b],
        || na.ns.has_addr("eth0", "10.88.0.100") && !nb.ns.has_addr("eth0", "10.88.0.100"),
    );
}

/// Start-up clean-up: a VIP of this configuration left on a backup by a crash, and a VIP of
/// an earlier configuration (it carries our "proto keepalived" marker), are removed; an
/// address someone else added is not touched.
#[test]
fn leftovers_of_a_crash_are_removed_at_start() {
    if skip_requested() {
        return;
    }
    let (mut lab, _lan, nodes) = lan(
        "leftover",
        &[("a", &["10.88.0.1/24"]), ("b", &["10.88.0.2/24"])],
    );
    let (na, nb) = (&nodes[0], &nodes[1]);
    let vip = "10.88.0.100/24";
    // An earlier run on b, alone, with an older configuration: MASTER, then killed.
    let old = lab
        .write_file(
            "old.conf",
            &v3(100, &format!("{vip}\n        10.88.0.150/24"), ""),
        )
        .unwrap();
    let mut crashed = rk(&mut lab, nb, &old, "b-old");
    expect_log(
        &crashed,
        "(VI_1) Entering MASTER STATE",
        1,
        WAIT,
        &[&crashed],
    );
    expect("old VIPs on b", Duration::from_secs(2), &[&crashed], || {
        nb.ns.has_addr("eth0", "10.88.0.100") && nb.ns.has_addr("eth0", "10.88.0.150")
    });
    crashed.kill();
    // Not ours: no marker, not configured.
    nb.ns
        .cmd(&["ip", "addr", "add", "10.88.0.151/24", "dev", "eth0"])
        .unwrap();

    let ca = lab.write_file("a.conf", &v3(200, vip, "")).unwrap();
    let cb = lab.write_file("b.conf", &v3(100, vip, "")).unwrap();
    let a = rk(&mut lab, na, &ca, "a");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a]);
    let b = rk(&mut lab, nb, &cb, "b");
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 1, WAIT, &[&a, &b]);
    expect(
        "leftovers removed",
        Duration::from_secs(2),
        &[&a, &b],
        || !nb.ns.has_addr("eth0", "10.88.0.100") && !nb.ns.has_addr("eth0", "10.88.0.150"),
    );
    assert!(
        nb.ns.has_addr("eth0", "10.88.0.151"),
        "a foreign address stays"
    );
    assert!(
        b.log().contains("10.88.0.150/24 left by an earlier run"),
        "{}",
        b.log()
    );
}

/// IPv6 on a VMAC: the VIP lives on `vrrp.51` with MAC 00:00:5e:00:02:33, adverts go out
/// from the VMAC with the parent's link-local address and come in through the link-layer
/// socket; after a failover the new master's neighbour advertisements point the client at
/// the same virtual MAC.
#[test]
fn ipv6_vmac_pair() {
    if skip_requested() {
        return;
    }
    let vip = "fd00:88::100/64";
    let (_lab, na, nb, client, mut a, b) = pair(
        "vmac6",
        &v3(200, vip, "use_vmac"),
        &v3(100, vip, "use_vmac"),
    );
    const VMAC6: &str = "00:00:5e:00:02:33";
    expect("VIP on a's VMAC", Duration::from_secs(2), &[&a, &b], || {
        na.ns.has_addr("vrrp.51", "fd00:88::100")
    });
    assert_eq!(na.ns.mac("vrrp.51").unwrap(), VMAC6);
    // The backup accepts the master's adverts (else it would have taken over by now).
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(b.count("Entering MASTER STATE"), 0, "{}", logs(&[&a, &b]));
    // A stale entry with a wrong MAC: the new master's NA must correct it.
    client
        .ns
        .cmd(&[
            "ip",
            "-6",
            "neigh",
            "replace",
            "fd00:88::100",
            "lladdr",
            "02:00:00:00:00:99",
            "dev",
            "eth0",
            "nud",
            "stale",
        ])
        .unwrap();
    a.kill();
    expect_log(&b, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a, &b]);
    expect("VIP on b's VMAC", Duration::from_secs(2), &[&a, &b], || {
        nb.ns.has_addr("vrrp.51", "fd00:88::100")
    });
    expect(
        "client neighbour entry → the virtual MAC",
        Duration::from_secs(2),
        &[&a, &b],
        || client.ns.neigh("fd00:88::100").as_deref() == Some(VMAC6),
    );
}

/// `vrrp_startup_delay`: the instances stay in INIT (no election, no VIP) for the delay,
/// then start as usual.
#[test]
fn startup_delay_holds_instances_in_init() {
    if skip_requested() {
        return;
    }
    let (mut lab, _lan, nodes) = lan("delay", &[("a", &["10.88.0.1/24"])]);
    let na = &nodes[0];
    let conf = format!(
        "global_defs {{\n    vrrp_startup_delay 5\n}}\n{}",
        v3(200, "10.88.0.100/24", "")
    );
    let c = lab.write_file("a.conf", &conf).unwrap();
    let a = rk(&mut lab, na, &c, "a");
    expect_log(&a, "Startup complete", 1, WAIT, &[&a]);
    // The delay is long so that a loaded machine noticing the log line late still looks
    // inside it.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(a.count("Entering"), 0, "{}", a.log());
    assert!(!na.ns.has_addr("eth0", "10.88.0.100"));
    expect_log(&a, "(VI_1) Entering BACKUP STATE (init)", 1, WAIT, &[&a]);
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a]);
}

/// A sync group moves together: both members of the master's group go MASTER together; a
/// fault of one member (its tracked interface down) takes the other to FAULT too, so the
/// backup takes over both; the fault clearing brings both back.
#[test]
fn sync_group_members_move_together() {
    if skip_requested() {
        return;
    }
    let (mut lab, _lan, nodes) = lan(
        "sync",
        &[("a", &["10.88.0.1/24"]), ("b", &["10.88.0.2/24"])],
    );
    let (na, nb) = (&nodes[0], &nodes[1]);
    // A second link on a, for VI_2 to track.
    na.ns
        .cmd(&[
            "ip", "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
        ])
        .unwrap();
    na.ns.cmd(&["ip", "link", "set", "trk1", "up"]).unwrap();
    na.ns.cmd(&["ip", "link", "set", "trk0", "up"]).unwrap();
    let conf = |prio: u8, track: &str| {
        format!(
            "vrrp_sync_group G {{\n    group {{\n        VI_1\n        VI_2\n    }}\n}}\n{}{}",
            v3(prio, "10.88.0.101/24", ""),
            v3(prio, "10.88.0.102/24", track)
                .replace("VI_1", "VI_2")
                .replace("virtual_router_id 51", "virtual_router_id 52")
        )
    };
    let ca = lab
        .write_file(
            "a.conf",
            &conf(200, "track_interface {\n        trk0\n    }"),
        )
        .unwrap();
    let cb = lab.write_file("b.conf", &conf(100, "")).unwrap();
    let a = rk(&mut lab, na, &ca, "a");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a]);
    expect_log(&a, "(VI_2) Entering MASTER STATE", 1, WAIT, &[&a]);
    let b = rk(&mut lab, nb, &cb, "b");
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 1, WAIT, &[&a, &b]);
    expect_log(&b, "(VI_2) Entering BACKUP STATE", 1, WAIT, &[&a, &b]);

    na.ns.cmd(&["ip", "link", "set", "trk1", "down"]).unwrap();
    expect_log(&a, "(VI_2) Entering FAULT STATE", 1, WAIT, &[&a, &b]);
    expect_log(&a, "(VI_1) Entering FAULT STATE", 1, WAIT, &[&a, &b]);
    expect_log(&b, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a, &b]);
    expect_log(&b, "(VI_2) Entering MASTER STATE", 1, WAIT, &[&a, &b]);
    expect(
        "b holds both VIPs",
        Duration::from_secs(2),
        &[&a, &b],
        || nb.ns.has_addr("eth0", "10.88.0.101") && nb.ns.has_addr("eth0", "10.88.0.102"),
    );

    na.ns.cmd(&["ip", "link", "set", "trk1", "up"]).unwrap();
    expect_log(&a, "(VI_1) Entering MASTER STATE", 2, WAIT, &[&a, &b]);
    expect_log(&a, "(VI_2) Entering MASTER STATE", 2, WAIT, &[&a, &b]);
    expect(
        "a holds both VIPs again",
        Duration::from_secs(2),
        &[&a, &b],
        || {
            na.ns.has_addr("eth0", "10.88.0.101")
                && na.ns.has_addr("eth0", "10.88.0.102")
                && !nb.ns.has_addr("eth0", "10.88.0.101")
                && !nb.ns.has_addr("eth0", "10.88.0.102")
        },
    );
}
