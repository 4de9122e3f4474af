//! The seed's two setups, run for real: rkeepalived processes in network namespaces whose
//! `eth0` carries the seed's addresses, on one bridge, with a client watching ARP.
//! Needs root (`RK_SKIP_NETNS_TESTS=1` skips). Each test has its own lab, so they run in
//! parallel; advert_int is the seed's 1 s, so each takes about 15-20 s.

mod vrrp_lab;

use std::time::Duration;

use rk_testkit::netns::skip_requested;
use vrrp_lab::*;

const VIP: &str = "172.16.15.99";
/// Down timer at advert_int 1 is 3 s + skew (< 1 s), start-up included: 10 s is > 2×.
const TAKEOVER: Duration = Duration::from_secs(10);

fn has_vip_labelled(n: &Node, label: &str) -> bool {
    n.ns.addresses("eth0")
        .iter()
        .any(|a| a.cidr == format!("{VIP}/16") && a.label.as_deref() == Some(label))
}

/// Master/backup with the seed files verbatim: node130 becomes MASTER with the VIP
/// labelled eth0:0; SIGKILL → node131 takes it; node130 back → it preempts and node131
/// drops the VIP. The client's ARP entry follows every change.
#[test]
fn seed_master_backup_failover_and_preemption() {
    if skip_requested() {
        return;
    }
    let (mut lab, n130, n131, client) = seed_lan("seedmb");
    let c130 = seed_file("master-backup.node130.conf");
    let c131 = seed_file("master-backup.node131.conf");
    // node130 first: started together, whichever process starts 16 ms earlier wins the
    // first election (the skews of priorities 100 and 96 differ by 16 ms), which is VRRP,
    // not what this test is about.
    let mut a = rk(&mut lab, &n130, &c130, "n130");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, TAKEOVER, &[&a]);
    let b = rk(&mut lab, &n131, &c131, "n131");
    let all = |a: &rk_testkit::netns::Proc| logs(&[a, &b]);
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 1, TAKEOVER, &[&a, &b]);
    expect(
        "node130 holds the VIP as eth0:0",
        Duration::from_secs(2),
        &[&a, &b],
        || has_vip_labelled(&n130, "eth0:0"),
    );
    assert!(
        !n131.ns.has_addr("eth0", VIP),
        "backup holds no VIP\n{}",
        all(&a)
    );
    assert!(probe(&client, VIP), "VIP answers\n{}", all(&a));
    assert_eq!(client.ns.neigh(VIP).as_deref(), Some(n130.mac.as_str()));

    // node130 dies without a word.
    a.kill();
    expect_log(&b, "(VI_1) Entering MASTER STATE", 1, TAKEOVER, &[&a, &b]);
    expect(
        "node131 holds the VIP as eth0:0",
        Duration::from_secs(2),
        &[&a, &b],
        || has_vip_labelled(&n131, "eth0:0"),
    );
    // Gratuitous ARP, not a new resolution: no probe here.
    expect(
        "client ARP → node131",
        Duration::from_secs(2),
        &[&a, &b],
        || client.ns.neigh(VIP).as_deref() == Some(n131.mac.as_str()),
    );
    // The dead node's kernel still holds the address: restarting cleans it up first.
    assert!(n130.ns.has_addr("eth0", VIP));

    // node130 returns and preempts (priority 100 > 96).
    let a2 = rk(&mut lab, &n130, &c130, "n130-again");
    expect_log(
        &a2,
        "(VI_1) Entering BACKUP STATE (init)",
        1,
        TAKEOVER,
        &[&a2, &b],
    );
    expect_log(&a2, "(VI_1) Entering MASTER STATE", 1, TAKEOVER, &[&a2, &b]);
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 2, TAKEOVER, &[&a2, &b]);
    expect(
        "node131 dropped the VIP",
        Duration::from_secs(2),
        &[&a2, &b],
        || !n131.ns.has_addr("eth0", VIP),
    );
    assert!(has_vip_labelled(&n130, "eth0:0"), "{}", logs(&[&a2, &b]));
    expect(
        "client ARP → node130",
        Duration::from_secs(2),
        &[&a2, &b],
        || client.ns.neigh(VIP).as_deref() == Some(n130.mac.as_str()),
    );
    assert!(
        a2.log().contains("Preempt") || a2.log().contains("preempting"),
        "{}",
        a2.log()
    );
}

/// `nopreempt`: a modified copy of the seed files. keepalived documents nopreempt for
/// nodes that start as BACKUP, and it acts on the node that would preempt — the returning
/// higher-priority node130 — so both copies carry it and node130's `state MASTER`
/// becomes `state BACKUP` (with `state MASTER` keepalived 2.2.7 clears nopreempt).
/// node131, master after node130's death, keeps the VIP when node130 returns.
#[test]
fn seed_nopreempt_keeps_the_vip_on_node131() {
    if skip_requested() {
        return;
    }
    let (mut lab, n130, n131, client) = seed_lan("seednp");
    let nopreempt = |text: String| text.replace("advert_int 1", "advert_int 1\n    nopreempt");
    let t130 = std::fs::read_to_string(seed_file("master-backup.node130.conf"))
        .expect("seed")
        .replace("state MASTER", "state BACKUP");
    let t131 = std::fs::read_to_string(seed_file("master-backup.node131.conf")).expect("seed");
    let c130 = lab.write_file("node130.conf", &nopreempt(t130)).unwrap();
    let c131 = lab.write_file("node131.conf", &nopreempt(t131)).unwrap();
    // node130 first: with nopreempt, whoever is master first stays master.
    let mut a = rk(&mut lab, &n130, &c130, "n130");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, TAKEOVER, &[&a]);
    let b = rk(&mut lab, &n131, &c131, "n131");
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 1, TAKEOVER, &[&a, &b]);
    assert!(probe(&client, VIP), "VIP answers\n{}", logs(&[&a, &b]));
    assert_eq!(client.ns.neigh(VIP).as_deref(), Some(n130.mac.as_str()));
    a.kill();
    expect_log(&b, "(VI_1) Entering MASTER STATE", 1, TAKEOVER, &[&a, &b]);
    expect(
        "node131 has the VIP",
        Duration::from_secs(2),
        &[&a, &b],
        || has_vip_labelled(&n131, "eth0:0"),
    );
    expect(
        "client ARP → node131",
        Duration::from_secs(2),
        &[&a, &b],
        || client.ns.neigh(VIP).as_deref() == Some(n131.mac.as_str()),
    );

    let a2 = rk(&mut lab, &n130, &c130, "n130-again");
    expect_log(
        &a2,
        "(VI_1) Entering BACKUP STATE (init)",
        1,
        TAKEOVER,
        &[&a2, &b],
    );
    // Longer than node130's down timer (3 × 1 s + 0.6 s) twice over: it stays BACKUP.
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(a2.count("Entering MASTER STATE"), 0, "{}", logs(&[&a2, &b]));
    assert_eq!(b.count("Entering BACKUP STATE"), 1, "{}", logs(&[&a2, &b]));
    assert!(has_vip_labelled(&n131, "eth0:0"), "{}", logs(&[&a2, &b]));
    assert!(
        !n130.ns.has_addr("eth0", VIP),
        "leftover VIP removed at start"
    );
    assert_eq!(client.ns.neigh(VIP).as_deref(), Some(n131.mac.as_str()));
}

/// Master/master (the lead's corrected copies with one VIP per instance): each node is
/// master of one instance; kill one → the other holds both VIPs; bring it back → each
/// returns to its own.
#[test]
fn master_master_pair() {
    if skip_requested() {
        return;
    }
    const VIP2: &str = "172.16.15.100";
    let (mut lab, n130, n131, client) = seed_lan("seedmm");
    let c130 = conf_file("master-master/node130.conf");
    let c131 = conf_file("master-master/node131.conf");
    // node130 first (alone it becomes master of both), then node131 takes VI_2 back.
    let a = rk(&mut lab, &n130, &c130, "n130");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, TAKEOVER, &[&a]);
    expect_log(&a, "(VI_2) Entering MASTER STATE", 1, TAKEOVER, &[&a]);
    let mut b = rk(&mut lab, &n131, &c131, "n131");
    expect_log(&b, "(VI_2) Entering MASTER STATE", 1, TAKEOVER, &[&a, &b]);
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 1, TAKEOVER, &[&a, &b]);
    expect_log(&a, "(VI_2) Entering BACKUP STATE", 2, TAKEOVER, &[&a, &b]);
    expect(
        "each node holds its own VIP",
        Duration::from_secs(2),
        &[&a, &b],
        || {
            n130.ns.has_addr("eth0", VIP)
                && !n130.ns.has_addr("eth0", VIP2)
                && n131.ns.has_addr("eth0", VIP2)
                && !n131.ns.has_addr("eth0", VIP)
        },
    );
    assert!(probe(&client, VIP) && probe(&client, VIP2));
    assert_eq!(client.ns.neigh(VIP).as_deref(), Some(n130.mac.as_str()));
    assert_eq!(client.ns.neigh(VIP2).as_deref(), Some(n131.mac.as_str()));

    b.kill();
    expect_log(&a, "(VI_2) Entering MASTER STATE", 2, TAKEOVER, &[&a, &b]);
    expect(
        "node130 holds both VIPs",
        Duration::from_secs(2),
        &[&a, &b],
        || n130.ns.has_addr("eth0", VIP) && n130.ns.has_addr("eth0", VIP2),
    );
    expect(
        "client ARP → node130 for both",
        Duration::from_secs(2),
        &[&a, &b],
        || client.ns.neigh(VIP2).as_deref() == Some(n130.mac.as_str()),
    );

    let b2 = rk(&mut lab, &n131, &c131, "n131-again");
    expect_log(&b2, "(VI_2) Entering MASTER STATE", 1, TAKEOVER, &[&a, &b2]);
    expect_log(&a, "(VI_2) Entering BACKUP STATE", 3, TAKEOVER, &[&a, &b2]);
    expect(
        "each node back to its own VIP",
        Duration::from_secs(2),
        &[&a, &b2],
        || {
            n130.ns.has_addr("eth0", VIP)
                && !n130.ns.has_addr("eth0", VIP2)
                && n131.ns.has_addr("eth0", VIP2)
                && !n131.ns.has_addr("eth0", VIP)
        },
    );
    expect(
        "client ARP → node131 for VIP2",
        Duration::from_secs(2),
        &[&a, &b2],
        || client.ns.neigh(VIP2).as_deref() == Some(n131.mac.as_str()),
    );
    assert_eq!(
        a.count("(VI_1) Entering BACKUP STATE"),
        1,
        "VI_1 never moved"
    );
}
