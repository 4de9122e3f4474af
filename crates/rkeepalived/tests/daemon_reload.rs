//! SIGHUP as a transaction and restart without losing the VIP, on the host (issue 8): two
//! directors in network namespaces on one bridge, rkeepalived on both, health checkers
//! against servers on a namespace's loopback. The host kernel has no IPVS, so the
//! coordinator runs without a kernel here; the IPVS side of reloads, drains and restarts is
//! tested in the VM (`reload_vm.rs`).
//!
//! Needs root (`RK_SKIP_NETNS_TESTS=1` skips). About 60 s in all, mostly VRRP timers
//! (advert_int 1 s).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rk_testkit::netns::{Lab, Netns, Proc, skip_requested, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_rkeepalived");

/// Master-down timer (3 s + skew) plus start-up, with margin.
const TAKEOVER: Duration = Duration::from_secs(10);
/// A reload's log line, with margin for a loaded CI machine.
const RELOAD: Duration = Duration::from_secs(5);

struct Director {
    ns: Netns,
    conf: PathBuf,
    pid_dir: PathBuf,
    proc: Option<Proc>,
    starts: usize,
}

impl Director {
    fn new(lab: &mut Lab, lan: &Netns, name: &str, addr: &str) -> Director {
        let ns = lab.host(name).expect("host");
        lab.attach(lan, &ns, "eth0", &[addr]).expect("attach");
        let pid_dir = lab.dir().join(name);
        std::fs::create_dir_all(&pid_dir).expect("pid dir");
        Director {
            conf: lab.dir().join(format!("{name}.conf")),
            ns,
            pid_dir,
            proc: None,
            starts: 0,
        }
    }

    fn write(&self, text: &str) {
        std::fs::write(&self.conf, text).expect("write the configuration");
    }

    fn start(&mut self, lab: &mut Lab) {
        self.starts += 1;
        let s = |p: PathBuf| p.to_string_lossy().into_owned();
        let (conf, pid, vpid, cpid) = (
            s(self.conf.clone()),
            s(self.pid_dir.join("main.pid")),
            s(self.pid_dir.join("vrrp.pid")),
            s(self.pid_dir.join("checkers.pid")),
        );
        let label = format!("{}-{}", self.ns.name(), self.starts);
        let argv = [
            BIN, "-n", "-l", "-D", "-G", "-f", &conf, "-p", &pid, "-r", &vpid, "-c", &cpid,
        ];
        self.proc = Some(
            lab.spawn(&self.ns, &label, &argv)
                .expect("start rkeepalived"),
        );
        self.expect("Startup complete", Duration::from_secs(5));
    }

    fn p(&self) -> &Proc {
        self.proc.as_ref().expect("running")
    }

    fn log(&self) -> String {
        self.p().log()
    }

    fn count(&self, needle: &str) -> usize {
        self.p().count(needle)
    }

    fn expect(&self, needle: &str, timeout: Duration) {
        assert!(
            self.p().wait_for(needle, timeout),
            "no '{needle}' within {timeout:?}\n--- {} ---\n{}",
            self.p().label(),
            self.log()
        );
    }

    fn expect_count(&self, needle: &str, n: usize, timeout: Duration) {
        assert!(
            self.p().wait_for_count(needle, n, timeout),
            "'{needle}' not seen {n} times within {timeout:?}\n--- {} ---\n{}",
            self.p().label(),
            self.log()
        );
    }

    /// SIGHUP, then waits for the reload to end (finished or refused).
    fn reload(&self) {
        let (done, refused) = (self.count("Reload finished"), self.count("reload refused"));
        self.p().signal(Signal::SIGHUP).expect("SIGHUP");
        assert!(
            wait_until(RELOAD, || self.count("Reload finished") > done
                || self.count("reload refused") > refused),
            "the reload did not end\n{}",
            self.log()
        );
    }

    fn has_vip(&self, vip: &str) -> bool {
        self.ns.has_addr("eth0", vip)
    }

    fn pid(&self) -> u32 {
        self.p().pid()
    }
}

/// keepalived.conf of a director: VI_1 (VRID 63) at `prio` with `vips`, `extra` appended
/// (more instances, virtual servers).
fn conf(prio: u8, vips: &[&str], extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 63\n    priority {prio}\n    \
         advert_int 1\n    virtual_ipaddress {{\n{}    }}\n}}\n{extra}",
        vips.iter()
            .map(|v| format!("        {v}/24\n"))
            .collect::<String>()
    )
}

/// A virtual server on the VIP with real servers on the loopback (ports `p1` and, if given,
/// `p2`), each with a TCP_CHECK and notify scripts appending to `log`.
fn vs(p1: u16, p2: Option<u16>, notify: &Path, log: &Path, weight2: u32) -> String {
    let n = notify.display();
    let l = log.display();
    let rs = |name: &str, port: u16, weight: u32| {
        format!(
            "    real_server 127.0.0.1 {port} {{\n        weight {weight}\n        \
             notify_up \"{n} {l} {name} up\"\n        notify_down \"{n} {l} {name} down\"\n        \
             TCP_CHECK {{\n            connect_timeout 1\n            retry 0\n        }}\n    }}\n"
        )
    };
    format!(
        "virtual_server 10.63.0.100 80 {{\n    protocol TCP\n    lb_kind NAT\n    delay_loop 1\n{}{}}}\n",
        rs("rs1", p1, 1),
        p2.map(|p| rs("rs2", p, weight2)).unwrap_or_default()
    )
}

fn listener(ns: &Netns) -> TcpListener {
    ns.run_in(|| TcpListener::bind(("127.0.0.1", 0)))
        .expect("enter namespace")
        .expect("bind")
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Resident memory (kB) and open files of a process.
fn resources(pid: u32) -> (u64, usize) {
    (
        rk_testkit::procfs::rss_kib(pid),
        rk_testkit::procfs::open_fds(pid),
    )
}

/// Bad configurations are refused with their place and change nothing; good ones keep
/// VRRP states and checker states, change what changed (VIPs, priority, instances).
#[test]
fn reload_is_a_transaction() {
    if skip_requested() {
        return;
    }
    let mut lab = Lab::new("rld").expect("lab");
    let lan = lab.lan("lan").expect("lan");
    let mut d1 = Director::new(&mut lab, &lan, "d1", "10.63.0.1/24");
    let mut d2 = Director::new(&mut lab, &lan, "d2", "10.63.0.2/24");
    let rs1 = listener(&d1.ns);
    let p1 = rs1.local_addr().expect("addr").port();
    // rs2's port has no listener: its checker fails.
    let p2 = listener(&d1.ns).local_addr().expect("addr").port();
    let notify_log = lab.dir().join("notify.log");
    let notify = lab
        .write_file("notify.sh", "#!/bin/sh\nf=$1\nshift\necho \"$*\" >> $f\n")
        .expect("script");
    std::fs::set_permissions(&notify, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let services = vs(p1, Some(p2), &notify, &notify_log, 1);
    let good = conf(150, &["10.63.0.100"], &services);
    d1.write(&good);
    d2.write(&conf(100, &["10.63.0.100"], ""));
    d1.start(&mut lab);
    d1.expect("(VI_1) Entering MASTER STATE", TAKEOVER);
    d2.start(&mut lab);
    d2.expect("(VI_1) Entering BACKUP STATE", TAKEOVER);
    assert!(
        wait_until(Duration::from_secs(6), || lines(&notify_log)
            == ["rs2 down"]),
        "notify log {:?}\n{}",
        lines(&notify_log),
        d1.log()
    );
    let down_lines = d1.count("is DOWN");

    // An unknown keyword: refused, with its place; nothing changes.
    d1.write(&good.replace("    priority 150\n", "    prority 90\n"));
    d1.reload();
    d1.expect("reload refused", RELOAD);
    let place = format!("{}:4:5", d1.conf.display());
    assert!(d1.log().contains(&place), "no {place} in\n{}", d1.log());
    assert!(
        d1.log().contains("unknown keyword 'prority'"),
        "{}",
        d1.log()
    );
    // A VIP in two instances: refused too.
    let dup = good.clone()
        + "vrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 64\n    \
           virtual_ipaddress {\n        10.63.0.100/24\n    }\n}\n";
    d1.write(&dup);
    d1.reload();
    assert_eq!(d1.count("reload refused"), 2, "{}", d1.log());
    std::thread::sleep(Duration::from_secs(3));
    assert!(d1.has_vip("10.63.0.100"));
    assert_eq!(d1.count("Entering"), 2, "no transition: {}", d1.log());
    assert_eq!(d2.count("Entering MASTER"), 0, "{}", d2.log());
    assert_eq!(lines(&notify_log), ["rs2 down"]);

    // The same configuration, valid: everything kept, checkers carried over (no notify,
    // rs2 still down, rs1 still up).
    d1.write(&good);
    d1.reload();
    d1.expect("VRRP 1 unchanged, 0 changed, 0 added, 0 removed", RELOAD);
    d1.expect(
        "health checkers reloaded: 2 kept, 0 changed, 0 added, 0 removed",
        RELOAD,
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        lines(&notify_log),
        ["rs2 down"],
        "checker state carried over"
    );
    assert_eq!(d1.count("is DOWN"), down_lines);
    assert_eq!(d1.count("Entering"), 2);

    // A second VIP, on both directors (a backup rejects adverts whose VIP list differs,
    // as keepalived 2.2.7 does): added on the master without an election.
    let two = ["10.63.0.100", "10.63.0.101"];
    d2.write(&conf(100, &two, ""));
    d1.write(&conf(150, &two, &services));
    d2.reload();
    d1.reload();
    d1.expect_count("VRRP 0 unchanged, 1 changed", 1, RELOAD);
    assert!(
        wait_until(Duration::from_secs(2), || d1.has_vip("10.63.0.101")),
        "{}",
        d1.log()
    );
    assert!(d1.has_vip("10.63.0.100"));

    // A lower priority goes out with the next advert: the backup preempts. Back up: the
    // first director preempts in its turn.
    d1.write(&conf(90, &two, &services));
    d1.reload();
    d2.expect("(VI_1) Entering MASTER STATE", TAKEOVER);
    d1.expect(
        "(VI_1) Entering BACKUP STATE (higher priority advert received)",
        RELOAD,
    );
    assert!(wait_until(Duration::from_secs(2), || !d1.has_vip("10.63.0.101")));
    d1.write(&conf(150, &two, &services));
    d1.reload();
    d1.expect_count("(VI_1) Entering MASTER STATE", 2, TAKEOVER);
    d2.expect_count("(VI_1) Entering BACKUP STATE", 2, RELOAD);
    assert!(wait_until(Duration::from_secs(2), || d1.has_vip("10.63.0.101")));

    // A new instance starts; removed again, it leaves as at stop.
    let vi2 = "vrrp_instance VI_2 {\n    interface eth0\n    virtual_router_id 64\n    \
               priority 120\n    advert_int 1\n    virtual_ipaddress {\n        \
               10.63.0.110/24\n    }\n}\n";
    d1.write(&conf(150, &two, &format!("{services}{vi2}")));
    d1.reload();
    d1.expect("VRRP 1 unchanged, 0 changed, 1 added, 0 removed", RELOAD);
    d1.expect("(VI_2) Entering MASTER STATE", TAKEOVER);
    assert!(wait_until(Duration::from_secs(2), || d1.has_vip("10.63.0.110")));
    d1.write(&conf(150, &two, &services));
    d1.reload();
    d1.expect("VRRP 1 unchanged, 0 changed, 0 added, 1 removed", RELOAD);
    d1.expect("(VI_2) sent 0 priority", RELOAD);
    assert!(wait_until(Duration::from_secs(2), || !d1.has_vip("10.63.0.110")));
    assert!(d1.has_vip("10.63.0.100") && d1.has_vip("10.63.0.101"));

    // The failing real server removed: its checker goes, nothing else moves.
    let one = vs(p1, None, &notify, &notify_log, 1);
    d1.write(&conf(150, &two, &one));
    d1.reload();
    d1.expect(
        "health checkers reloaded: 1 kept, 0 changed, 0 added, 1 removed",
        RELOAD,
    );
    assert_eq!(lines(&notify_log), ["rs2 down"]);
    assert_eq!(d1.count("(VI_1) Entering"), 4, "{}", d1.log());
    assert_eq!(d2.count("(VI_1) Entering MASTER"), 1, "{}", d2.log());
    drop(rs1);
}

/// A hundred reloads in a row on the master: it never misses an advert (the backup never
/// takes over), and its memory and open files stay flat.
#[test]
fn a_hundred_reloads_keep_the_master_and_stay_flat() {
    if skip_requested() {
        return;
    }
    let mut lab = Lab::new("rl100").expect("lab");
    let lan = lab.lan("lan").expect("lan");
    let mut d1 = Director::new(&mut lab, &lan, "d1", "10.63.0.1/24");
    let mut d2 = Director::new(&mut lab, &lan, "d2", "10.63.0.2/24");
    let rs = listener(&d1.ns);
    let p = rs.local_addr().expect("addr").port();
    let notify = lab
        .write_file("notify.sh", "#!/bin/sh\nexit 0\n")
        .expect("script");
    std::fs::set_permissions(&notify, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let log = lab.dir().join("notify.log");
    let with = |w: u32| conf(150, &["10.63.0.100"], &vs(p, Some(p + 1), &notify, &log, w));
    d1.write(&with(1));
    d2.write(&conf(100, &["10.63.0.100"], ""));
    d1.start(&mut lab);
    d1.expect("(VI_1) Entering MASTER STATE", TAKEOVER);
    d2.start(&mut lab);
    d2.expect("(VI_1) Entering BACKUP STATE", TAKEOVER);
    let t0 = Instant::now();
    let mut first = (0, 0);
    for i in 0..100u32 {
        // A real change each time: the second real server's weight.
        d1.write(&with(1 + i % 2));
        d1.reload();
        if i == 9 {
            first = resources(d1.pid());
        }
    }
    let took = t0.elapsed();
    assert_eq!(d1.count("Reload finished"), 100, "{}", d1.log());
    assert_eq!(d1.count("reload refused"), 0, "{}", d1.log());
    let last = resources(d1.pid());
    eprintln!("100 reloads in {took:?}; after 10: {first:?}, after 100: {last:?} (RSS kB, fds)");
    assert_eq!(last.1, first.1, "open files after 10 and 100 reloads");
    assert!(
        last.0 <= first.0 + 2048,
        "RSS grew from {} kB to {} kB",
        first.0,
        last.0
    );
    // The backup heard every advert: it never went to MASTER.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(d2.count("Entering MASTER"), 0, "{}", d2.log());
    assert_eq!(d1.count("Entering"), 2, "{}", d1.log());
    assert!(d1.has_vip("10.63.0.100"));
}

/// `kill -9` of the master and a new process at once: the VIP never leaves the node and the
/// backup never takes over (the new process resumes the instance instead of releasing it).
#[test]
fn kill_and_restart_keeps_the_vip() {
    if skip_requested() {
        return;
    }
    let mut lab = Lab::new("rsm").expect("lab");
    let lan = lab.lan("lan").expect("lan");
    let mut d1 = Director::new(&mut lab, &lan, "d1", "10.63.0.1/24");
    let mut d2 = Director::new(&mut lab, &lan, "d2", "10.63.0.2/24");
    d1.write(&conf(150, &["10.63.0.100"], ""));
    d2.write(&conf(100, &["10.63.0.100"], ""));
    d1.start(&mut lab);
    d1.expect("(VI_1) Entering MASTER STATE", TAKEOVER);
    d2.start(&mut lab);
    d2.expect("(VI_1) Entering BACKUP STATE", TAKEOVER);
    // Watch the VIP from another thread while the daemon dies and comes back.
    let ns = d1.ns.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watch = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut missing = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if !ns.has_addr("eth0", "10.63.0.100") {
                    missing += 1;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            missing
        })
    };
    if let Some(p) = d1.proc.as_mut() {
        p.kill();
    }
    d1.start(&mut lab);
    d1.expect(
        "its VIPs are still up from this node's previous run",
        RELOAD,
    );
    d1.expect("(VI_1) Entering MASTER STATE", TAKEOVER);
    std::thread::sleep(Duration::from_secs(5));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let missing = watch.join().expect("watcher");
    assert_eq!(
        missing,
        0,
        "the VIP was missing {missing} times
{}",
        d1.log()
    );
    assert_eq!(d2.count("Entering MASTER"), 0, "{}", d2.log());
    assert_eq!(d1.count("removing VIPs"), 0, "{}", d1.log());
}
