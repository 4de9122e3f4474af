//! Hostile packets on the LAN: a third host floods a master/backup pair with 10 000
//! crafted adverts per second for 3 s — TTL 64, bad checksum, wrong password, wrong VRID,
//! wrong version, truncated, address-count mismatch, half of them with priority 254 (a
//! master that accepted one would yield) and half with priority 0 (a backup that accepted
//! one would take over). Every one must be dropped and counted, with no crash and no
//! state change, and the master's adverts keep going out on time (the backup never
//! takes over). Needs root (`RK_SKIP_NETNS_TESTS=1` skips).

mod vrrp_lab;

use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use rk_testkit::netns::skip_requested;
use rk_vrrp_proto::packet::{TxAuth, TxChecksum};
use rk_vrrp_proto::{Advert, AuthKey, Centisecs, Transmit, Version};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use vrrp_lab::*;

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const VIP: &str = "10.66.0.100";
const RATE: u32 = 10_000;
const SECONDS: u32 = 3;

fn config(prio: u8, json: &std::path::Path) -> String {
    format!(
        "global_defs {{\n    json_dump_file {}\n}}\n\
         vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    priority {prio}\n    \
         advert_int 1\n    authentication {{\n        auth_type PASS\n        auth_pass goodpass\n    }}\n    \
         virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n",
        json.display()
    )
}

/// The kinds of bad packet, each one a rule of the receive checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ttl64,
    BadChecksum,
    WrongPassword,
    WrongVrid,
    WrongVersion,
    Truncated,
    CountMismatch,
}

const KINDS: [Kind; 7] = [
    Kind::Ttl64,
    Kind::BadChecksum,
    Kind::WrongPassword,
    Kind::WrongVrid,
    Kind::WrongVersion,
    Kind::Truncated,
    Kind::CountMismatch,
];

fn packet(kind: Kind, priority: u8, id: u16) -> Vec<u8> {
    let vip: IpAddr = VIP.parse().unwrap();
    let mut t = Transmit {
        advert: Advert {
            version: Version::V2,
            vrid: 51,
            priority,
            interval: Centisecs(100),
            addresses: vec![vip],
        },
        src: "10.66.0.66".parse().unwrap(),
        destinations: vec![IpAddr::V4(GROUP)],
        ttl: 255,
        ip_id: id.max(1),
        auth: TxAuth::Pass(AuthKey::new(b"goodpass")),
        checksum: TxChecksum::Standard,
        unicast: false,
    };
    match kind {
        Kind::Ttl64 => t.ttl = 64,
        Kind::WrongPassword => t.auth = TxAuth::Pass(AuthKey::new(b"badpass!")),
        Kind::WrongVrid => t.advert.vrid = 52,
        Kind::WrongVersion => {
            t.advert.version = Version::V3;
            t.auth = TxAuth::None;
        }
        Kind::CountMismatch => t.advert.addresses.push("10.66.0.101".parse().unwrap()),
        Kind::BadChecksum | Kind::Truncated => {}
    }
    let mut buf = [0u8; 256];
    let n = t.encode(IpAddr::V4(GROUP), &mut buf).expect("encodes");
    let mut p = buf[..n].to_vec();
    match kind {
        // The VRRP checksum sits at bytes 6-7 of the message, after the 20-byte IP header.
        Kind::BadChecksum => p[26] ^= 0x5a,
        // Cut inside the address list; the kernel sets the IP total length to what is sent.
        Kind::Truncated => p.truncate(20 + 10),
        _ => {}
    }
    p
}

/// Sends `RATE` packets per second for `SECONDS` from the attacker's namespace; returns
/// how many of each kind went out.
fn flood(attacker: &Node) -> Vec<(Kind, u64)> {
    attacker
        .ns
        .run_in(|| {
            let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
            s.set_header_included_v4(true).unwrap();
            s.bind_device(Some(b"eth0")).unwrap();
            let dst = SockAddr::from(SocketAddrV4::new(GROUP, 0));
            let packets: Vec<Vec<u8>> = (0..KINDS.len() * 2)
                .map(|i| {
                    let prio = if i % 2 == 0 { 254 } else { 0 };
                    packet(KINDS[i / 2], prio, i as u16)
                })
                .collect();
            let mut sent = vec![0u64; KINDS.len()];
            let start = Instant::now();
            let per_tick = RATE / 100;
            for tick in 0..(SECONDS * 100) {
                for k in 0..per_tick {
                    let i = ((tick * per_tick + k) as usize) % packets.len();
                    // A full socket buffer just drops: the count says what left.
                    if s.send_to(&packets[i], &dst).is_ok() {
                        sent[i / 2] += 1;
                    }
                }
                let next = start + Duration::from_millis(u64::from(tick + 1) * 10);
                if let Some(d) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
            KINDS.iter().copied().zip(sent).collect()
        })
        .expect("setns")
}

#[test]
fn hostile_flood_is_dropped_and_counted() {
    if skip_requested() {
        return;
    }
    let (mut lab, _lan, nodes) = lan(
        "hostile",
        &[
            ("a", &["10.66.0.1/24"]),
            ("b", &["10.66.0.2/24"]),
            ("attacker", &["10.66.0.66/24"]),
        ],
    );
    let (na, nb, attacker) = (&nodes[0], &nodes[1], &nodes[2]);
    let ja = lab.dir().join("a.json");
    let jb = lab.dir().join("b.json");
    let ca = lab.write_file("a.conf", &config(200, &ja)).unwrap();
    let cb = lab.write_file("b.conf", &config(100, &jb)).unwrap();
    let mut a = rk(&mut lab, na, &ca, "a");
    expect_log(
        &a,
        "(VI_1) Entering MASTER STATE",
        1,
        Duration::from_secs(10),
        &[&a],
    );
    let mut b = rk(&mut lab, nb, &cb, "b");
    expect_log(
        &b,
        "(VI_1) Entering BACKUP STATE",
        1,
        Duration::from_secs(10),
        &[&a, &b],
    );
    std::thread::sleep(Duration::from_secs(2));
    let before_a = json_dump(&a, &ja);
    let before_b = json_dump(&b, &jb);

    let sent = flood(attacker);
    let total_sent: u64 = sent.iter().map(|(_, n)| n).sum();
    std::thread::sleep(Duration::from_millis(500));

    assert!(
        a.is_running() && b.is_running(),
        "crashed\n{}",
        logs(&[&a, &b])
    );
    let after_a = json_dump(&a, &ja);
    let after_b = json_dump(&b, &jb);
    let all = [&a, &b];
    // No state change.
    assert_eq!(after_a["instances"][0]["state"], "MASTER", "{}", logs(&all));
    assert_eq!(after_b["instances"][0]["state"], "BACKUP", "{}", logs(&all));
    assert_eq!(a.count("Entering"), 2, "{}", logs(&all));
    assert_eq!(b.count("Entering"), 1, "{}", logs(&all));
    assert!(na.ns.has_addr("eth0", VIP) && !nb.ns.has_addr("eth0", VIP));

    // Counter growth between two dumps, by JSON pointer (absent counters are zero).
    let delta = |after: &serde_json::Value, before: &serde_json::Value, ptr: &str| {
        let get = |v: &serde_json::Value| v.pointer(ptr).and_then(|x| x.as_u64()).unwrap_or(0);
        get(after).saturating_sub(get(before))
    };
    let n = |k: Kind| sent.iter().find(|(x, _)| *x == k).map_or(0, |(_, n)| *n);
    for (after, before, who) in [
        (&after_a, &before_a, "master"),
        (&after_b, &before_b, "backup"),
    ] {
        let rule = |k: &str| delta(after, before, &format!("/instances/0/stats/dropped/{k}"));
        let unknown = delta(after, before, "/unknown_vrid");
        let dropped = delta(after, before, "/instances/0/stats/dropped_total");
        let report = format!(
            "{who}: sent {sent:?}; dropped {:#}; unknown VRID {unknown}",
            after["instances"][0]["stats"]["dropped"]
        );
        eprintln!("{report}");
        // Every packet the kernel delivered is dropped and counted; the kernel may shed a
        // little of a 10 000/s flood when a socket buffer is full, nothing more.
        assert!(
            (dropped + unknown) * 10 >= total_sent * 9 && dropped + unknown <= total_sent,
            "{report}"
        );
        let ok = |got: u64, k: Kind| got * 10 >= n(k) * 8;
        assert!(ok(rule("bad_ttl"), Kind::Ttl64), "TTL 64: {report}");
        assert!(
            ok(rule("bad_checksum"), Kind::BadChecksum),
            "checksum: {report}"
        );
        assert!(
            ok(rule("bad_password"), Kind::WrongPassword),
            "password: {report}"
        );
        assert!(ok(unknown, Kind::WrongVrid), "VRID: {report}");
        assert!(
            ok(rule("version_mismatch"), Kind::WrongVersion),
            "version: {report}"
        );
        assert!(
            ok(rule("truncated"), Kind::Truncated),
            "truncated: {report}"
        );
        assert!(
            ok(rule("address_count_mismatch"), Kind::CountMismatch),
            "count: {report}"
        );
    }
    // The master kept advertising through the flood (one per second), and the backup
    // kept accepting those adverts.
    let sent_adv = delta(&after_a, &before_a, "/instances/0/stats/adverts_sent");
    let got_adv = delta(&after_b, &before_b, "/instances/0/stats/adverts_received");
    assert!(sent_adv >= u64::from(SECONDS), "master sent {sent_adv}");
    assert!(got_adv >= u64::from(SECONDS), "backup accepted {got_adv}");
    a.kill();
    b.kill();
}
