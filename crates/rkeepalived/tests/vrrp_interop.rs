//! rkeepalived against Debian's keepalived 2.2.7 on one LAN, both ways round: the
//! higher-priority node starts first and becomes MASTER, the other joins as BACKUP and
//! stays there (they agree on the master), then the master is killed and the backup takes
//! over. For VRRPv2 + PASS, VRRPv2 + AH, VRRPv3 IPv4, VRRPv3 IPv6 and unicast peers.
//! Needs root and keepalived (`RK_SKIP_NETNS_TESTS=1` skips). Both directions of a mode run
//! at once in labs of their own.

mod vrrp_lab;

use std::path::PathBuf;
use std::time::Duration;

use rk_testkit::netns::{Proc, skip_requested};
use vrrp_lab::*;

#[derive(Clone, Copy, Debug)]
struct Mode {
    name: &'static str,
    /// The instance body besides interface, VRID, priority and VIP.
    body: &'static str,
    /// Advert interval in seconds (for the waits).
    advert: f64,
    ipv6: bool,
    unicast: bool,
}

const V2_PASS: Mode = Mode {
    name: "v2pass",
    body: "advert_int 1\n    authentication {\n        auth_type PASS\n        auth_pass s3cr3t!!\n    }",
    advert: 1.0,
    ipv6: false,
    unicast: false,
};
const V2_AH: Mode = Mode {
    name: "v2ah",
    body: "advert_int 1\n    authentication {\n        auth_type AH\n        auth_pass ahpass\n    }",
    advert: 1.0,
    ipv6: false,
    unicast: false,
};
const V3_V4: Mode = Mode {
    name: "v3v4",
    body: "version 3\n    advert_int 0.1",
    advert: 0.1,
    ipv6: false,
    unicast: false,
};
const V3_V6: Mode = Mode {
    name: "v3v6",
    body: "version 3\n    advert_int 0.1",
    advert: 0.1,
    ipv6: true,
    unicast: false,
};
const UNICAST: Mode = Mode {
    name: "ucast",
    body: "advert_int 1\n    authentication {\n        auth_type PASS\n        auth_pass unicast1\n    }",
    advert: 1.0,
    ipv6: false,
    unicast: true,
};

fn config(mode: Mode, prio: u8, me: &str, peer: &str, json: Option<&PathBuf>) -> String {
    let vip = if mode.ipv6 {
        "fd00:77::100/64"
    } else {
        "10.77.0.100/24"
    };
    let unicast = if mode.unicast {
        format!("unicast_src_ip {me}\n    unicast_peer {{\n        {peer}\n    }}")
    } else {
        String::new()
    };
    let json = json
        .map(|p| format!("    json_dump_file {}\n", p.display()))
        .unwrap_or_default();
    format!(
        "global_defs {{\n    router_id {me}\n    vrrp_garp_master_delay 0\n{json}}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    \
         priority {prio}\n    {}\n    {unicast}\n    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n",
        mode.body
    )
}

fn start(
    lab: &mut rk_testkit::netns::Lab,
    rk_side: bool,
    node: &Node,
    conf: &std::path::Path,
    tag: &str,
) -> Proc {
    if rk_side {
        rk(lab, node, conf, tag)
    } else {
        ka(lab, node, conf, tag)
    }
}

/// One direction: `rk_master` says whether rkeepalived is the higher-priority node.
fn scenario(mode: Mode, rk_master: bool) {
    let tag = format!("{}{}", mode.name, if rk_master { "rk" } else { "ka" });
    let (a_addrs, b_addrs): (&[&str], &[&str]) = if mode.ipv6 {
        (&["fd00:77::1/64"], &["fd00:77::2/64"])
    } else {
        (&["10.77.0.1/24"], &["10.77.0.2/24"])
    };
    let (mut lab, _lan, nodes) = lan(&tag, &[("a", a_addrs), ("b", b_addrs)]);
    let (na, nb) = (&nodes[0], &nodes[1]);
    let json = lab.dir().join("rk.json");
    let rk_json = Some(&json);
    let ca = lab
        .write_file(
            "a.conf",
            &config(mode, 150, &na.addr, &nb.addr, rk_json.filter(|_| rk_master)),
        )
        .unwrap();
    let cb = lab
        .write_file(
            "b.conf",
            &config(
                mode,
                100,
                &nb.addr,
                &na.addr,
                rk_json.filter(|_| !rk_master),
            ),
        )
        .unwrap();
    let vip = if mode.ipv6 {
        "fd00:77::100"
    } else {
        "10.77.0.100"
    };
    // Down timer (3 adverts + skew) plus start-up, with a margin of more than 2×.
    let takeover = Duration::from_secs_f64(mode.advert * 8.0 + 4.0);

    let mut a = start(
        &mut lab,
        rk_master,
        na,
        &ca,
        if rk_master { "a-rk" } else { "a-ka" },
    );
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, takeover, &[&a]);
    let b = start(
        &mut lab,
        !rk_master,
        nb,
        &cb,
        if rk_master { "b-ka" } else { "b-rk" },
    );
    expect_log(&b, "(VI_1) Entering BACKUP STATE", 1, takeover, &[&a, &b]);
    // Longer than the backup's down timer: it must have accepted the master's adverts.
    std::thread::sleep(Duration::from_secs_f64(mode.advert * 5.0 + 0.5));
    let all = [&a, &b];
    assert_eq!(
        b.count("Entering MASTER STATE"),
        0,
        "backup took over\n{}",
        logs(&all)
    );
    assert_eq!(
        a.count("Entering BACKUP STATE"),
        1,
        "master yielded\n{}",
        logs(&all)
    );
    expect(
        "VIP on the master only",
        Duration::from_secs(2),
        &all,
        || na.ns.has_addr("eth0", vip) && !nb.ns.has_addr("eth0", vip),
    );
    let rk_proc = if rk_master { &a } else { &b };
    let dump = json_dump(rk_proc, &json);
    let st = &dump["instances"][0]["stats"];
    if !rk_master {
        // Every advert from keepalived was accepted.
        assert!(
            st["adverts_received"].as_u64().unwrap_or(0) >= 3,
            "{dump:#}\n{}",
            logs(&all)
        );
        assert_eq!(
            st["dropped_total"].as_u64(),
            Some(0),
            "{dump:#}\n{}",
            logs(&all)
        );
    } else {
        assert!(st["adverts_sent"].as_u64().unwrap_or(0) >= 3, "{dump:#}");
    }

    a.kill();
    expect_log(&b, "(VI_1) Entering MASTER STATE", 1, takeover, &[&a, &b]);
    expect(
        "VIP moved to the backup",
        Duration::from_secs(2),
        &[&a, &b],
        || nb.ns.has_addr("eth0", vip),
    );
}

fn both_ways(mode: Mode) {
    if skip_requested() {
        return;
    }
    std::thread::scope(|s| {
        let t1 = s.spawn(|| scenario(mode, true));
        let t2 = s.spawn(|| scenario(mode, false));
        let r1 = t1.join();
        let r2 = t2.join();
        if let Err(p) = r1 {
            std::panic::resume_unwind(p);
        }
        if let Err(p) = r2 {
            std::panic::resume_unwind(p);
        }
    });
}

#[test]
fn interop_v2_pass() {
    both_ways(V2_PASS);
}

#[test]
fn interop_v2_ah() {
    both_ways(V2_AH);
}

#[test]
fn interop_v3_ipv4() {
    both_ways(V3_V4);
}

#[test]
fn interop_v3_ipv6() {
    both_ways(V3_V6);
}

#[test]
fn interop_unicast_peers() {
    both_ways(UNICAST);
}
