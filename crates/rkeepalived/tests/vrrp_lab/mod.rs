//! Shared pieces of the VRRP namespace tests: the seed's LAN, starting rkeepalived and
//! keepalived in a namespace, waiting on their logs, reading the JSON dump.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rk_testkit::netns::{Lab, Netns, Proc, wait_until};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_rkeepalived");

/// keepalived from Debian's package: the interop peer.
pub const KEEPALIVED: &str = "/usr/sbin/keepalived";

/// A "host" on the LAN.
#[derive(Clone, Debug)]
pub struct Node {
    pub ns: Netns,
    pub mac: String,
    pub addr: String,
}

/// A LAN with `hosts` (name, CIDR, optional extra CIDR) plus a client, all on `eth0`.
pub fn lan(tag: &str, hosts: &[(&str, &[&str])]) -> (Lab, Netns, Vec<Node>) {
    let mut lab = Lab::new(tag).expect("lab");
    let lan = lab.lan("lan").expect("lan");
    let mut nodes = Vec::new();
    for (name, addrs) in hosts {
        let ns = lab.host(name).expect("host");
        let port = lab.attach(&lan, &ns, "eth0", addrs).expect("attach");
        nodes.push(Node {
            ns,
            mac: port.mac().to_string(),
            addr: addrs
                .first()
                .and_then(|a| a.split('/').next())
                .unwrap_or_default()
                .to_string(),
        });
    }
    (lab, lan, nodes)
}

/// The seed's directors and a client: 172.16.15.130/16, .131/16, .200/16.
pub fn seed_lan(tag: &str) -> (Lab, Node, Node, Node) {
    let (lab, _lan, mut n) = lan(
        tag,
        &[
            ("n130", &["172.16.15.130/16"]),
            ("n131", &["172.16.15.131/16"]),
            ("client", &["172.16.15.200/16"]),
        ],
    );
    let client = n.pop().expect("client");
    let n131 = n.pop().expect("n131");
    let n130 = n.pop().expect("n130");
    (lab, n130, n131, client)
}

/// A seed configuration file, verbatim (the lead's copies of `shared/seed-configs`).
pub fn seed_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../config/tests/fixtures/seed")
        .join(name)
}

/// A shipped example configuration (`conf/`).
pub fn conf_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../conf")
        .join(rel)
}

/// Starts `rkeepalived -P -n -l -D -f CONF` in `node`'s namespace with pid files of its
/// own in the lab's directory.
pub fn rk(lab: &mut Lab, node: &Node, conf: &Path, tag: &str) -> Proc {
    let dir = lab.dir().to_path_buf();
    let pid = dir.join(format!("{tag}.pid"));
    let vpid = dir.join(format!("{tag}.vrrp.pid"));
    let conf = conf.to_string_lossy().into_owned();
    lab.spawn(
        &node.ns,
        tag,
        &[
            BIN,
            "-P",
            "-n",
            "-l",
            "-D",
            "-f",
            &conf,
            "-p",
            &pid.to_string_lossy(),
            "-r",
            &vpid.to_string_lossy(),
        ],
    )
    .expect("start rkeepalived")
}

/// Starts Debian's `keepalived -P -n -l -D -f CONF` in `node`'s namespace with pid files
/// of its own.
pub fn ka(lab: &mut Lab, node: &Node, conf: &Path, tag: &str) -> Proc {
    let dir = lab.dir().to_path_buf();
    let p = |s: &str| {
        dir.join(format!("{tag}.{s}"))
            .to_string_lossy()
            .into_owned()
    };
    let conf = conf.to_string_lossy().into_owned();
    lab.spawn(
        &node.ns,
        tag,
        &[
            KEEPALIVED,
            "-P",
            "-n",
            "-l",
            "-D",
            "-f",
            &conf,
            "-p",
            &p("pid"),
            "-r",
            &p("vrrp.pid"),
            "-c",
            &p("check.pid"),
        ],
    )
    .expect("start keepalived")
}

/// Every process's log, for failure messages.
pub fn logs(procs: &[&Proc]) -> String {
    procs
        .iter()
        .map(|p| format!("===== {} =====\n{}", p.label(), p.log()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until `p`'s log has `n` lines containing `needle`, or fails with every log.
pub fn expect_log(p: &Proc, needle: &str, n: usize, timeout: Duration, all: &[&Proc]) {
    if !p.wait_for_count(needle, n, timeout) {
        panic!(
            "{}: no {n}× {needle:?} within {timeout:?}\n{}",
            p.label(),
            logs(all)
        );
    }
}

/// Waits until `cond` holds, or fails with `what` and every log.
pub fn expect(what: &str, timeout: Duration, all: &[&Proc], cond: impl FnMut() -> bool) {
    if !wait_until(timeout, cond) {
        panic!("{what} (waited {timeout:?})\n{}", logs(all));
    }
}

/// Sends signal number `sig` (real-time signals included) to `p`.
pub fn signal(p: &Proc, sig: i32) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(p.pid().to_string())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{sig} {}", p.pid());
}

/// Asks rkeepalived for its JSON dump (SIGRTMIN+2 = 36) and reads it from `path`.
pub fn json_dump(p: &Proc, path: &Path) -> serde_json::Value {
    let _ = std::fs::remove_file(path);
    signal(p, 36);
    assert!(
        wait_until(Duration::from_secs(5), || path.exists()),
        "no JSON dump at {}\n{}",
        path.display(),
        p.log()
    );
    let text = std::fs::read_to_string(path).expect("read dump");
    serde_json::from_str(&text).expect("JSON dump parses")
}

/// Whether `ip` answers from the client (a TCP connection attempt to port 9: a refusal
/// is an answer). It also makes the client resolve `ip`, so its ARP cache gets an entry
/// that gratuitous ARPs then update.
pub fn probe(client: &Node, ip: &str) -> bool {
    let addr: std::net::IpAddr = ip.parse().expect("an address");
    client
        .ns
        .run_in(move || {
            match std::net::TcpStream::connect_timeout(
                &std::net::SocketAddr::new(addr, 9),
                Duration::from_secs(1),
            ) {
                Ok(_) => true,
                Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
            }
        })
        .unwrap_or(false)
}
