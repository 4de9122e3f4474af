//! The whole daemon on the host: VRRP, health checkers against real servers listening on
//! the loopback of a network namespace, notify scripts, signals and files. The host kernel
//! has no IPVS (LAB-FACTS.md): the daemon must say so and keep everything else working.
//! (The IPVS side proper is tested in the VM: `lvs_e2e.rs`.)
//!
//! Needs root (`RK_SKIP_NETNS_TESTS=1` skips). Each test has its own lab; together they
//! take about 20 s, mostly VRRP's start-up (advert_int 1 s) and 1 s check periods.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rk_testkit::netns::{Lab, Netns, Proc, skip_requested, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_rkeepalived");

/// Master-down timer (3 s + skew) plus start-up, with margin.
const TAKEOVER: Duration = Duration::from_secs(10);
/// A checker with delay_loop 1, retry 0, connect_timeout 1 decides within ~2 s.
const CHECK: Duration = Duration::from_secs(6);

/// A TCP server on 127.0.0.1 inside a namespace, which can be stopped and started again
/// on the same port.
struct Backend {
    ns: Netns,
    port: u16,
    listener: Option<TcpListener>,
}

impl Backend {
    fn start(ns: &Netns) -> Backend {
        let l = listen(ns, 0);
        let port = l.local_addr().expect("local addr").port();
        Backend {
            ns: ns.clone(),
            port,
            listener: Some(l),
        }
    }

    fn stop(&mut self) {
        self.listener = None;
    }

    fn restart(&mut self) {
        self.listener = Some(listen(&self.ns, self.port));
    }
}

fn listen(ns: &Netns, port: u16) -> TcpListener {
    ns.run_in(|| TcpListener::bind(("127.0.0.1", port)))
        .expect("enter namespace")
        .expect("bind on the namespace's loopback")
}

/// A notify script that appends its arguments to `log`.
fn notify_script(lab: &Lab, log: &Path) -> PathBuf {
    let p = lab
        .write_file(
            "notify.sh",
            &format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
        )
        .expect("script");
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    p
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits until `log` holds `want` exactly (scripts run one after the other, so nothing
/// else may come in between).
fn expect_lines(log: &Path, want: &[&str], timeout: Duration, daemon: &Proc) {
    let ok = wait_until(timeout, || lines(log).len() >= want.len());
    let got = lines(log);
    assert!(
        ok && got == want,
        "notify log\n got: {got:?}\nwant: {want:?}\n--- daemon log ---\n{}",
        daemon.log()
    );
}

fn expect_log(daemon: &Proc, needle: &str, timeout: Duration) {
    assert!(
        daemon.wait_for(needle, timeout),
        "no '{needle}' in the log within {timeout:?}\n--- daemon log ---\n{}",
        daemon.log()
    );
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Whether this kernel has IPVS (not on the build hosts; the test holds either way).
fn kernel_has_ipvs() -> bool {
    Path::new("/proc/net/ip_vs").exists()
}

struct Files {
    pid: PathBuf,
    vrrp_pid: PathBuf,
    checkers_pid: PathBuf,
}

fn start(lab: &mut Lab, ns: &Netns, conf: &Path, extra: &[&str]) -> (Proc, Files) {
    let dir = lab.dir().to_path_buf();
    let files = Files {
        pid: dir.join("main.pid"),
        vrrp_pid: dir.join("vrrp.pid"),
        checkers_pid: dir.join("checkers.pid"),
    };
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let (conf, pid, vpid, cpid) = (
        s(conf),
        s(&files.pid),
        s(&files.vrrp_pid),
        s(&files.checkers_pid),
    );
    let mut argv = vec![
        BIN, "-n", "-l", "-D", "-G", "-f", &conf, "-p", &pid, "-r", &vpid, "-c", &cpid,
    ];
    argv.extend_from_slice(extra);
    let p = lab
        .spawn(ns, "rkeepalived", &argv)
        .expect("start rkeepalived");
    (p, files)
}

/// Stops the daemon with SIGTERM and returns how long it took to exit.
fn stop(daemon: &mut Proc) -> Duration {
    let t = Instant::now();
    daemon.signal(Signal::SIGTERM).expect("SIGTERM");
    let code = daemon.wait_exit(Duration::from_secs(10));
    assert!(
        matches!(code, Ok(Some(0))),
        "exit {code:?}\n--- daemon log ---\n{}",
        daemon.log()
    );
    t.elapsed()
}

/// Both sides in one process, as keepalived runs by default: VRRP becomes MASTER although
/// the kernel has no IPVS (and although a second instance's interface is missing);
/// real servers going down and up run their notify scripts and the quorum scripts, in
/// order; SIGUSR1 and SIGUSR2 write keepalived's files; SIGTERM leaves nothing of ours
/// and runs the `omega` notifies.
#[test]
fn vrrp_checkers_notifies_dumps_and_stop() {
    if skip_requested() {
        return;
    }
    let mut lab = Lab::new("dlvs").expect("lab");
    let lan = lab.lan("lan").expect("lan");
    let dir = lab.host("dir").expect("host");
    lab.attach(&lan, &dir, "eth0", &["10.61.0.1/24"])
        .expect("attach");
    let mut rs1 = Backend::start(&dir);
    let rs2 = Backend::start(&dir);
    let d = lab.dir().to_path_buf();
    let log = d.join("notify.log");
    let n = notify_script(&lab, &log);
    let n = n.display();
    let conf = lab
        .write_file(
            "k.conf",
            &format!(
                r#"
global_defs {{
    state_dump_file {d}/state.data
    stats_dump_file {d}/state.stats
    json_dump_file {d}/state.json
    rs_init_notifies
}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 61
    priority 150
    advert_int 1
    virtual_ipaddress {{
        10.61.0.100/24
    }}
}}
vrrp_instance VI_2 {{
    interface rkmissing0
    virtual_router_id 62
    priority 100
    advert_int 1
    virtual_ipaddress {{
        10.62.0.100/24
    }}
}}
virtual_server 10.61.0.100 80 {{
    protocol TCP
    lb_algo rr
    lb_kind NAT
    delay_loop 1
    quorum 2
    omega
    quorum_up "{n} quorum_up"
    quorum_down "{n} quorum_down"
    real_server 127.0.0.1 {p1} {{
        notify_up "{n} rs1 up"
        notify_down "{n} rs1 down"
        TCP_CHECK {{
            connect_timeout 1
            retry 0
        }}
    }}
    real_server 127.0.0.1 {p2} {{
        notify_up "{n} rs2 up"
        notify_down "{n} rs2 down"
        TCP_CHECK {{
            connect_timeout 1
            retry 0
        }}
    }}
}}
"#,
                d = d.display(),
                p1 = rs1.port,
                p2 = rs2.port,
            ),
        )
        .expect("config");
    let (mut daemon, files) = start(&mut lab, &dir, &conf, &[]);

    expect_log(&daemon, "Startup complete", Duration::from_secs(5));
    if kernel_has_ipvs() {
        expect_log(&daemon, "IPVS: available, rules follow the VIP", CHECK);
    } else {
        expect_log(
            &daemon,
            "IPVS is not available: the kernel has no IPVS",
            CHECK,
        );
    }
    for f in [&files.pid, &files.vrrp_pid, &files.checkers_pid] {
        assert_eq!(
            read(f).trim(),
            daemon.pid().to_string(),
            "{} holds our pid",
            f.display()
        );
    }
    // rs_init_notifies: notify_up of each real server alive at start; then keepalived's
    // "Starting with quorum up" runs quorum_up.
    let start = ["rs1 up", "rs2 up", "quorum_up"];
    expect_lines(&log, &start, CHECK, &daemon);
    expect_log(&daemon, "(VI_1) Entering MASTER STATE", TAKEOVER);
    expect_log(
        &daemon,
        "(VI_2) Entering FAULT STATE",
        Duration::from_secs(1),
    );
    assert!(
        wait_until(Duration::from_secs(2), || dir
            .has_addr("eth0", "10.61.0.100")),
        "the VIP is on eth0\n{}",
        daemon.log()
    );

    // A real server dies: its notify_down, then the quorum it took along.
    rs1.stop();
    expect_lines(
        &log,
        &[&start[..], &["rs1 down", "quorum_down"]].concat(),
        CHECK,
        &daemon,
    );
    expect_log(
        &daemon,
        &format!(
            "real server 127.0.0.1:{} of TCP 10.61.0.100:80 is DOWN: TCP_CHECK",
            rs1.port
        ),
        Duration::from_secs(1),
    );

    // SIGUSR1 while it is down: the dumps show it.
    daemon.signal(Signal::SIGUSR1).expect("SIGUSR1");
    let check_data = d.join("state_check.data");
    assert!(
        wait_until(Duration::from_secs(3), || check_data.exists()),
        "{}",
        daemon.log()
    );
    let data = read(&d.join("state.data"));
    for want in [
        "VRRP Instance = VI_1",
        "State = MASTER",
        "Virtual IP = 10.61.0.100/24 dev eth0 (held)",
        "VRRP Instance = VI_2",
        "State = FAULT",
    ] {
        assert!(data.contains(want), "'{want}' in the VRRP dump:\n{data}");
    }
    let check = read(&check_data);
    let rs_block = |port: u16| {
        let start = check
            .find(&format!("Real server 127.0.0.1:{port}"))
            .unwrap_or_else(|| panic!("real server {port} in the dump:\n{check}"));
        check[start..]
            .lines()
            .nth(1)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    assert!(
        check.contains("Virtual server TCP 10.61.0.100:80"),
        "{check}"
    );
    assert!(
        check.contains("Quorum = down (quorum 2, hysteresis 0)"),
        "{check}"
    );
    assert!(check.contains("rules follow the VIP"), "{check}");
    assert!(
        check.contains("1 configured, 1 wanted on this node"),
        "the VIP's master wants the service:\n{check}"
    );
    assert_eq!(rs_block(rs1.port), "Health = down", "{check}");
    assert_eq!(rs_block(rs2.port), "Health = up", "{check}");
    assert!(check.contains("TCP_CHECK 127.0.0.1"), "{check}");

    // SIGUSR2: VRRP statistics, then ours.
    daemon.signal(Signal::SIGUSR2).expect("SIGUSR2");
    let stats = d.join("state.stats");
    assert!(wait_until(Duration::from_secs(3), || stats.exists()));
    let stats = read(&stats);
    assert!(stats.contains("VRRP Instance: VI_1"), "{stats}");
    assert!(stats.contains("Health checkers:"), "{stats}");

    // SIGHUP with the same file: a reload that keeps every state (rs1 stays down, no
    // notify runs again: the sequence below goes on from where it was).
    daemon.signal(Signal::SIGHUP).expect("SIGHUP");
    expect_log(
        &daemon,
        "health checkers reloaded: 2 kept, 0 changed, 0 added, 0 removed",
        Duration::from_secs(5),
    );
    expect_log(&daemon, "Reload finished", Duration::from_secs(5));

    // It comes back: notify_up, then quorum regained.
    rs1.restart();
    expect_lines(
        &log,
        &[
            &start[..],
            &["rs1 down", "quorum_down", "rs1 up", "quorum_up"],
        ]
        .concat(),
        CHECK,
        &daemon,
    );
    assert!(daemon.is_running());

    // SIGTERM: omega's notify_down for each live real server, then quorum_down; priority
    // 0, the VIP gone, the pid files gone, quickly.
    let took = stop(&mut daemon);
    assert!(
        took < Duration::from_secs(3),
        "stop took {took:?}\n{}",
        daemon.log()
    );
    assert_eq!(
        lines(&log),
        [
            &start[..],
            &[
                "rs1 down",
                "quorum_down",
                "rs1 up",
                "quorum_up",
                "rs1 down",
                "rs2 down",
                "quorum_down",
            ],
        ]
        .concat(),
        "{}",
        daemon.log()
    );
    let out = daemon.log();
    assert!(out.contains("(VI_1) sent 0 priority"), "{out}");
    assert!(!dir.has_addr("eth0", "10.61.0.100"), "VIP removed\n{out}");
    for f in [&files.pid, &files.vrrp_pid, &files.checkers_pid] {
        assert!(!f.exists(), "{} removed", f.display());
    }
}

/// `-C`: only the checkers and IPVS (no VRRP: no vrrp.pid, no VIP, rules everywhere);
/// a real server is up only while every checker of it is; `ha_suspend` follows the
/// virtual server's address; `startup_script` and `shutdown_script` frame it all.
#[test]
fn check_only_mode() {
    if skip_requested() {
        return;
    }
    let mut lab = Lab::new("dchk").expect("lab");
    let dir = lab.host("dir").expect("host");
    let mut rs = Backend::start(&dir);
    let d = lab.dir().to_path_buf();
    let log = d.join("notify.log");
    let n = notify_script(&lab, &log);
    let conf = lab
        .write_file(
            "k.conf",
            &format!(
                r#"
global_defs {{
    state_dump_file {d}/state.data
    startup_script "{n} startup"
    shutdown_script "{n} shutdown"
}}
SSL {{
    certificate {d}/no-such-client.pem
}}
vrrp_instance VI_1 {{
    interface lo
    virtual_router_id 71
    virtual_ipaddress {{
        10.71.0.100
    }}
}}
virtual_server 10.71.0.100 80 {{
    protocol TCP
    delay_loop 1
    real_server 127.0.0.1 {p} {{
        notify_up "{n} up"
        notify_down "{n} down"
        MISC_CHECK {{
            misc_path "/bin/bash -c 'exec 3<>/dev/tcp/127.0.0.1/{p}'"
        }}
        TCP_CHECK {{
            connect_timeout 1
            retry 0
        }}
    }}
}}
virtual_server 10.71.0.200 80 {{
    protocol TCP
    delay_loop 1
    ha_suspend
    real_server 127.0.0.1 {p} {{
        notify_up "{n} hs up"
        notify_down "{n} hs down"
        TCP_CHECK {{
            connect_timeout 1
            retry 0
        }}
    }}
}}
"#,
                d = d.display(),
                n = n.display(),
                p = rs.port,
            ),
        )
        .expect("config");
    let (mut daemon, files) = start(&mut lab, &dir, &conf, &["-C"]);
    expect_log(&daemon, "Startup complete", Duration::from_secs(5));
    // An unreadable client certificate is said, and checks go on without it.
    expect_log(&daemon, "SSL client certificate: ", Duration::from_secs(1));
    assert!(files.pid.exists() && files.checkers_pid.exists());
    assert!(!files.vrrp_pid.exists(), "no VRRP side: no vrrp.pid");
    // The second virtual server's address is not here: ha_suspend keeps its checker
    // from running, so only the first one notices.
    rs.stop();
    expect_lines(&log, &["startup", "down"], CHECK, &daemon);
    rs.restart();
    expect_lines(&log, &["startup", "down", "up"], CHECK, &daemon);
    rs.stop();
    expect_lines(&log, &["startup", "down", "up", "down"], CHECK, &daemon);
    // Its address arrives: the checker resumes (afresh, up) and finds the server down.
    dir.cmd(&["ip", "addr", "add", "10.71.0.200/32", "dev", "lo"])
        .expect("add the address");
    expect_log(
        &daemon,
        "virtual server TCP 10.71.0.200:80: its address is on this node: checkers resume",
        Duration::from_secs(2),
    );
    expect_lines(
        &log,
        &["startup", "down", "up", "down", "hs down"],
        CHECK,
        &daemon,
    );
    dir.cmd(&["ip", "addr", "del", "10.71.0.200/32", "dev", "lo"])
        .expect("remove the address");
    expect_log(
        &daemon,
        "checkers suspended (ha_suspend)",
        Duration::from_secs(2),
    );
    rs.restart();
    let six = ["startup", "down", "up", "down", "hs down", "up"];
    expect_lines(&log, &six, CHECK, &daemon);
    daemon.signal(Signal::SIGUSR1).expect("SIGUSR1");
    let check_data = d.join("state_check.data");
    assert!(wait_until(Duration::from_secs(3), || check_data.exists()));
    let check = read(&check_data);
    assert!(check.contains("rules on every node"), "{check}");
    assert!(check.contains(": suspended (ha_suspend)"), "{check}");
    assert!(
        check.contains("1 configured, 1 wanted on this node"),
        "{check}"
    );
    assert!(!d.join("state.data").exists(), "no VRRP dump without VRRP");
    // Suspended again: its checker does not see the server's return (two periods).
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(lines(&log), six, "{}", daemon.log());
    stop(&mut daemon);
    assert_eq!(
        lines(&log).last().map(String::as_str),
        Some("shutdown"),
        "shutdown_script ran last"
    );
    let out = daemon.log();
    assert!(
        !out.contains("VRRP socket") && !out.contains("Entering"),
        "-C runs no VRRP:\n{out}"
    );
}
