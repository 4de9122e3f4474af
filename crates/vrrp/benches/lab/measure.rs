//! The measurements and their report.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rk_netlink::{Event, Monitor};
use rk_testkit::netns::adverts::{self, Gaps};
use rk_testkit::netns::{Lab, Netns, Proc};
use socket2::{Domain, Protocol, Socket, Type};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);
const A: &str = "10.99.0.1";
const B: &str = "10.99.0.2";

/// An implementation under test.
#[derive(Clone, Debug)]
pub enum Impl {
    /// rkeepalived at this path.
    Rk(PathBuf),
    /// keepalived at this path.
    Ka(PathBuf),
}

impl Impl {
    pub fn name(&self) -> &'static str {
        match self {
            Impl::Rk(_) => "rkeepalived",
            Impl::Ka(_) => "keepalived 2.2.7",
        }
    }

    /// Starts the daemon (VRRP only, foreground, console log) in `ns`.
    fn spawn(&self, lab: &mut Lab, ns: &Netns, conf: &Path, tag: &str) -> Proc {
        let dir = lab.dir().to_path_buf();
        let f = |s: &str| {
            dir.join(format!("{tag}.{s}"))
                .to_string_lossy()
                .into_owned()
        };
        let conf = conf.to_string_lossy().into_owned();
        let (bin, extra): (&PathBuf, Vec<String>) = match self {
            Impl::Rk(b) => (b, vec![]),
            Impl::Ka(b) => (b, vec!["-c".into(), f("check.pid")]),
        };
        let bin = bin.to_string_lossy().into_owned();
        let (pid, vpid) = (f("pid"), f("vrrp.pid"));
        let mut argv: Vec<&str> =
            vec![&bin, "-P", "-n", "-l", "-f", &conf, "-p", &pid, "-r", &vpid];
        argv.extend(extra.iter().map(String::as_str));
        lab.spawn(ns, tag, &argv).expect("spawn")
    }

    /// A crash: SIGKILL of every process of the daemon. keepalived's VRRP child goes first:
    /// killing only the parent would make the child leave cleanly (it gets SIGTERM when
    /// its parent dies) with a priority-0 advert — not a crash.
    fn crash(&self, lab: &Lab, p: &mut Proc, tag: &str) {
        for pid in self.pids(lab, p, tag).into_iter().rev() {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        p.kill();
    }

    /// The processes doing the work: rkeepalived is one; keepalived a parent and its VRRP
    /// child (pid in the `-r` file).
    fn pids(&self, lab: &Lab, p: &Proc, tag: &str) -> Vec<u32> {
        let mut v = vec![p.pid()];
        if let Impl::Ka(_) = self {
            let f = lab.dir().join(format!("{tag}.vrrp.pid"));
            if let Some(c) = std::fs::read_to_string(f)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                v.push(c);
            }
        }
        v
    }
}

/// Protocol settings.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    pub name: &'static str,
    body: &'static str,
    /// Advert interval.
    pub advert: Duration,
    v3: bool,
}

impl Mode {
    pub const V2_1S: Mode = Mode {
        name: "VRRPv2 advert_int 1",
        body: "advert_int 1",
        advert: Duration::from_secs(1),
        v3: false,
    };
    pub const V3_100MS: Mode = Mode {
        name: "VRRPv3 advert_int 0.1",
        body: "version 3\n    advert_int 0.1",
        advert: Duration::from_millis(100),
        v3: true,
    };

    /// The protocol's bound for a backup at priority `prio`: 3 × advert + skew.
    pub fn down_interval(&self, prio: u8) -> Duration {
        let skew = if self.v3 {
            self.advert * u32::from(256 - u16::from(prio)) / 256
        } else {
            Duration::from_secs(1) * u32::from(256 - u16::from(prio)) / 256
        };
        self.advert * 3 + skew
    }
}

/// Extra `global_defs` lines for every daemon started (`--rt N`: `vrrp_rt_priority N`,
/// `--nice N`: `vrrp_priority N`).
pub static GLOBAL_EXTRA: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn config(mode: Mode, prio: u8) -> String {
    let rt = GLOBAL_EXTRA.get().cloned().unwrap_or_default();
    format!(
        "global_defs {{\n    vrrp_garp_master_delay 0\n{rt}}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id 51\n    \
         priority {prio}\n    {}\n    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n",
        mode.body
    )
}

struct Topo {
    lab: Lab,
    a: Netns,
    b: Netns,
    client: Netns,
    b_mac: [u8; 6],
}

fn topo(tag: &str) -> Result<Topo, String> {
    let e = |e: rk_testkit::netns::NetnsError| e.to_string();
    let mut lab = Lab::new(tag).map_err(e)?;
    let lan = lab.lan("lan").map_err(e)?;
    let a = lab.host("a").map_err(e)?;
    let b = lab.host("b").map_err(e)?;
    let client = lab.host("c").map_err(e)?;
    lab.attach(&lan, &a, "eth0", &[&format!("{A}/24")])
        .map_err(e)?;
    let pb = lab
        .attach(&lan, &b, "eth0", &[&format!("{B}/24")])
        .map_err(e)?;
    lab.attach(&lan, &client, "eth0", &["10.99.0.200/24"])
        .map_err(e)?;
    let b_mac = parse_mac(pb.mac()).ok_or("bad MAC")?;
    Ok(Topo {
        lab,
        a,
        b,
        client,
        b_mac,
    })
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut m = [0u8; 6];
    let mut it = s.split(':');
    for b in &mut m {
        *b = u8::from_str_radix(it.next()?, 16).ok()?;
    }
    Some(m)
}

/// A watcher thread: "ready" once it listens, then what it saw.
type Watch<T> = (mpsc::Receiver<()>, JoinHandle<Option<T>>);

/// Waits (in `ns`) for the VIP to be added; returns when it was seen.
fn watch_vip(ns: Netns, timeout: Duration) -> Watch<Instant> {
    let (ready_tx, ready) = mpsc::channel();
    let h = std::thread::spawn(move || {
        ns.run_in(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let mut mon = Monitor::start().ok()?;
                let _ = ready_tx.send(());
                tokio::time::timeout(timeout, async {
                    loop {
                        match mon.next().await? {
                            Event::AddressAdded(a) if a.addr == IpAddr::V4(VIP) => {
                                return Some(Instant::now());
                            }
                            _ => {}
                        }
                    }
                })
                .await
                .ok()
                .flatten()
            })
        })
        .ok()
        .flatten()
    });
    (ready, h)
}

/// Watches the LAN from `ns` (a link-layer tap): the last advert from the master (`A`)
/// and the first gratuitous ARP for the VIP from `mac`. Returns (first GARP, last advert
/// before it), both as seen by this tap.
#[allow(clippy::type_complexity)]
fn watch_garp(
    ns: Netns,
    mac: [u8; 6],
    timeout: Duration,
) -> (
    mpsc::Receiver<()>,
    JoinHandle<Option<(Instant, Option<Instant>)>>,
) {
    let (ready_tx, ready) = mpsc::channel();
    let h = std::thread::spawn(move || {
        ns.run_in(move || {
            // ETH_P_ALL: adverts and ARP alike.
            let s = Socket::new(
                Domain::PACKET,
                Type::RAW,
                Some(Protocol::from(i32::from(0x0003u16.to_be()))),
            )
            .ok()?;
            s.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
            let _ = ready_tx.send(());
            let end = Instant::now() + timeout;
            let mut buf = [0u8; 2048];
            let a: Ipv4Addr = A.parse().ok()?;
            let mut last_advert = None;
            while Instant::now() < end {
                let Ok(n) = std::io::Read::read(&mut &s, &mut buf) else {
                    continue;
                };
                let at = Instant::now();
                let f = &buf[..n];
                let vip = VIP.octets();
                if n >= 34 && f[12..14] == [0x08, 0x00] && f[23] == 112 && f[26..30] == a.octets() {
                    last_advert = Some(at);
                } else if n >= 42
                    && f[12..14] == [0x08, 0x06]
                    && f[20..22] == [0, 1]
                    && f[22..28] == mac
                    && f[28..32] == vip
                    && f[38..42] == vip
                {
                    return Some((at, last_advert));
                }
            }
            None
        })
        .ok()
        .flatten()
    });
    (ready, h)
}

/// One failover.
#[derive(Clone, Copy, Debug)]
pub struct Failover {
    /// SIGKILL → VIP added on the backup.
    pub vip: Duration,
    /// SIGKILL → first GARP at the client.
    pub garp: Duration,
    /// The master's last advert (seen at the client) → VIP added on the backup: the
    /// protocol's down interval plus our own latency, whatever the phase of the kill.
    pub since_last_advert: Duration,
}

/// Master A (150) and backup B (100) up and steady; SIGKILL A; time until B holds the VIP
/// and until its first GARP reaches the client.
pub fn failover(imp: &Impl, mode: Mode, n: usize) -> Result<Failover, String> {
    let mut t = topo(&format!("fo{n}"))?;
    let ca = t
        .lab
        .write_file("a.conf", &config(mode, 150))
        .map_err(|e| e.to_string())?;
    let cb = t
        .lab
        .write_file("b.conf", &config(mode, 100))
        .map_err(|e| e.to_string())?;
    let wait = mode.advert * 10 + Duration::from_secs(3);
    let a_ns = t.a.clone();
    let mut a = imp.spawn(&mut t.lab, &a_ns, &ca, "a");
    if !a.wait_for("Entering MASTER STATE", wait) {
        return Err(format!("A never became MASTER:\n{}", a.log()));
    }
    let b_ns = t.b.clone();
    let b = imp.spawn(&mut t.lab, &b_ns, &cb, "b");
    if !b.wait_for("Entering BACKUP STATE", wait) {
        return Err(format!("B never became BACKUP:\n{}", b.log()));
    }
    let (r1, vip) = watch_vip(t.b.clone(), wait * 2);
    let (r2, garp) = watch_garp(t.client.clone(), t.b_mac, wait * 2);
    r1.recv_timeout(Duration::from_secs(5))
        .map_err(|_| "VIP watcher")?;
    r2.recv_timeout(Duration::from_secs(5))
        .map_err(|_| "GARP watcher")?;
    // Settle (the watchers see a few adverts), and a different phase in A's advert cycle
    // for each run.
    std::thread::sleep(mode.advert * 3 + mode.advert * (n as u32 % 7) / 7);
    let t0 = Instant::now();
    imp.crash(&t.lab, &mut a, "a");
    let vip = vip.join().ok().flatten().ok_or("no VIP on B")?;
    let (garp, last_advert) = garp.join().ok().flatten().ok_or("no GARP at the client")?;
    let last_advert = last_advert.ok_or("no advert from A seen")?;
    if b.count("Entering MASTER STATE") != 1 {
        return Err(format!("B state unclear:\n{}", b.log()));
    }
    Ok(Failover {
        vip: vip - t0,
        garp: garp - t0,
        since_last_advert: vip.saturating_duration_since(last_advert),
    })
}

/// Process start → VIP added, alone on the LAN (priority 150, or 255 as address owner).
pub fn start_to_master(imp: &Impl, mode: Mode, owner: bool, n: usize) -> Result<Duration, String> {
    let mut t = topo(&format!("st{n}"))?;
    let conf = config(mode, if owner { 255 } else { 150 });
    let conf = if owner {
        conf.replace("state BACKUP", "state MASTER")
    } else {
        conf
    };
    let c = t
        .lab
        .write_file("a.conf", &conf)
        .map_err(|e| e.to_string())?;
    let (ready, vip) = watch_vip(t.a.clone(), mode.advert * 10 + Duration::from_secs(5));
    ready
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| "watcher")?;
    let a_ns = t.a.clone();
    let t0 = Instant::now();
    let mut a = imp.spawn(&mut t.lab, &a_ns, &c, "a");
    let got = vip.join().ok().flatten().ok_or("never MASTER")?;
    a.kill();
    Ok(got - t0)
}

/// Resource use of one process group.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub rss_kb: u64,
    pub cpu_s_per_hour: f64,
}

/// Steady state.
#[derive(Clone, Copy, Debug)]
pub struct Steady {
    pub master: Usage,
    pub backup: Usage,
}

/// CPU time of every thread of `pid`, in nanoseconds (`schedstat`'s first field: exact,
/// unlike the tick-sampled utime/stime).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Master and backup running for `dur`: RSS at the end, CPU over the period.
pub fn steady(imp: &Impl, mode: Mode, dur: Duration) -> Result<Steady, String> {
    let mut t = topo("steady")?;
    let ca = t
        .lab
        .write_file("a.conf", &config(mode, 150))
        .map_err(|e| e.to_string())?;
    let cb = t
        .lab
        .write_file("b.conf", &config(mode, 100))
        .map_err(|e| e.to_string())?;
    let (a_ns, b_ns) = (t.a.clone(), t.b.clone());
    let a = imp.spawn(&mut t.lab, &a_ns, &ca, "a");
    let wait = mode.advert * 10 + Duration::from_secs(3);
    if !a.wait_for("Entering MASTER STATE", wait) {
        return Err(format!("A never MASTER:\n{}", a.log()));
    }
    let b = imp.spawn(&mut t.lab, &b_ns, &cb, "b");
    if !b.wait_for("Entering BACKUP STATE", wait) {
        return Err(format!("B never BACKUP:\n{}", b.log()));
    }
    std::thread::sleep(Duration::from_secs(2));
    let pa = imp.pids(&t.lab, &a, "a");
    let pb = imp.pids(&t.lab, &b, "b");
    let sum = |p: &[u32], f: fn(u32) -> u64| p.iter().map(|x| f(*x)).sum::<u64>();
    let (a0, b0) = (sum(&pa, cpu_ns), sum(&pb, cpu_ns));
    let t0 = Instant::now();
    std::thread::sleep(dur);
    let secs = t0.elapsed().as_secs_f64();
    let usage = |p: &[u32], before: u64| Usage {
        rss_kb: sum(p, rk_testkit::procfs::rss_kib),
        cpu_s_per_hour: (sum(p, cpu_ns) - before) as f64 / 1e9 / secs * 3600.0,
    };
    Ok(Steady {
        master: usage(&pa, a0),
        backup: usage(&pb, b0),
    })
}

/// Advert intervals seen on the wire.
#[derive(Clone, Debug)]
pub struct Jitter {
    /// |interval − 100 ms| for each pair of consecutive adverts, sorted.
    pub deviations: Vec<Duration>,
}

/// Master at 100 ms with `hogs` busy loops on the machine; the kernel time-stamps the
/// master's adverts as they leave its interface (SO_TIMESTAMPNS on a link-layer socket in
/// its namespace) for `dur`.
pub fn jitter(imp: &Impl, hogs: usize, dur: Duration) -> Result<Jitter, String> {
    let mode = Mode::V3_100MS;
    let mut t = topo("jitter")?;
    let ca = t
        .lab
        .write_file("a.conf", &config(mode, 150))
        .map_err(|e| e.to_string())?;
    let cb = t
        .lab
        .write_file("b.conf", &config(mode, 100))
        .map_err(|e| e.to_string())?;
    let (a_ns, b_ns) = (t.a.clone(), t.b.clone());
    let a = imp.spawn(&mut t.lab, &a_ns, &ca, "a");
    if !a.wait_for("Entering MASTER STATE", Duration::from_secs(5)) {
        return Err(format!("A never MASTER:\n{}", a.log()));
    }
    let b = imp.spawn(&mut t.lab, &b_ns, &cb, "b");
    if !b.wait_for("Entering BACKUP STATE", Duration::from_secs(5)) {
        return Err(format!("B never BACKUP:\n{}", b.log()));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let hog_threads: Vec<_> = (0..hogs)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let src: Ipv4Addr = A.parse().map_err(|_| "addr")?;
    // Captured on the master's own interface: outgoing frames are time-stamped as they are
    // handed to the device, in the sender's context, so the receive path's softirq
    // scheduling under load does not count.
    let stamps =
        t.a.clone()
            .run_in(move || adverts::capture(src, dur))
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    stop.store(true, Ordering::Relaxed);
    for h in hog_threads {
        let _ = h.join();
    }
    let deviations = Gaps::of(&stamps).deviations(Duration::from_millis(100));
    if b.count("Entering MASTER STATE") > 0 {
        return Err(format!("the backup took over during the run:\n{}", b.log()));
    }
    Ok(Jitter { deviations })
}

/// The figures, rendered as Markdown tables.
#[derive(Default)]
pub struct Report {
    failover: Vec<String>,
    start: Vec<String>,
    steady: Vec<String>,
    jitter: Vec<String>,
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

impl Report {
    pub fn failover(&mut self, imp: &Impl, mode: Mode, s: &[Failover]) {
        let mut vip: Vec<Duration> = s.iter().map(|x| x.vip).collect();
        let mut garp: Vec<Duration> = s.iter().map(|x| x.garp).collect();
        let mut after: Vec<Duration> = s.iter().map(|x| x.garp.saturating_sub(x.vip)).collect();
        let mut last: Vec<Duration> = s.iter().map(|x| x.since_last_advert).collect();
        let worst = |v: &[Duration]| v.iter().max().copied().unwrap_or_default();
        let bound = mode.down_interval(100) + Duration::from_millis(5);
        self.failover.push(format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            mode.name,
            imp.name(),
            s.len(),
            ms(median(&mut vip)),
            ms(worst(&vip)),
            ms(median(&mut garp)),
            ms(worst(&garp)),
            ms(median(&mut after)),
            ms(worst(&after)),
            ms(median(&mut last)),
            ms(worst(&last)),
            ms(bound),
        ));
    }

    pub fn start(&mut self, imp: &Impl, mode: Mode, owner: bool, s: &[Duration]) {
        let mut v = s.to_vec();
        let worst = v.iter().max().copied().unwrap_or_default();
        self.start.push(format!(
            "| {} | {} | {} | {} | {} | {} |",
            mode.name,
            if owner { "owner (255)" } else { "150" },
            imp.name(),
            v.len(),
            ms(median(&mut v)),
            ms(worst)
        ));
    }

    pub fn steady(&mut self, imp: &Impl, mode: Mode, s: &Steady) {
        for (role, u) in [("master", s.master), ("backup", s.backup)] {
            self.steady.push(format!(
                "| {} | {} | {role} | {} | {:.1} |",
                mode.name,
                imp.name(),
                u.rss_kb,
                u.cpu_s_per_hour
            ));
        }
    }

    pub fn jitter(&mut self, imp: &Impl, hogs: usize, j: &Jitter) {
        let d = &j.deviations;
        let at = |q: f64| {
            d.get(((d.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or_default()
        };
        self.jitter.push(format!(
            "| {} | {} | {} | {} | {} | {} |",
            imp.name(),
            if hogs == 0 { "idle" } else { "2 busy loops" },
            d.len(),
            ms(at(0.5)),
            ms(at(0.99)),
            ms(d.last().copied().unwrap_or_default())
        ));
    }

    pub fn render(&self) -> String {
        let mut o = String::new();
        if !self.failover.is_empty() {
            let _ = writeln!(
                o,
                "### Failover (SIGKILL of the master)\n\n| mode | implementation | runs | kill → VIP median (ms) | worst | kill → first GARP median (ms) | worst | GARP after VIP median (ms) | worst | last advert → VIP median (ms) | worst | bound 3×adv+skew+5 ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
            );
            for r in &self.failover {
                let _ = writeln!(o, "{r}");
            }
            o.push('\n');
        }
        if !self.start.is_empty() {
            let _ = writeln!(
                o,
                "### Start → MASTER (process start → VIP added, alone)\n\n| mode | priority | implementation | runs | median (ms) | worst (ms) |\n|---|---|---|---|---|---|"
            );
            for r in &self.start {
                let _ = writeln!(o, "{r}");
            }
            o.push('\n');
        }
        if !self.steady.is_empty() {
            let _ = writeln!(
                o,
                "### Steady state\n\n| mode | implementation | role | RSS (kB) | CPU (s per hour) |\n|---|---|---|---|---|"
            );
            for r in &self.steady {
                let _ = writeln!(o, "{r}");
            }
            o.push('\n');
        }
        if !self.jitter.is_empty() {
            let _ = writeln!(
                o,
                "### Advert send jitter at advert_int 0.1 (|interval − 100 ms|, kernel transmit-side timestamps on the master)\n\n| implementation | load | intervals | median (ms) | p99 (ms) | max (ms) |\n|---|---|---|---|---|---|"
            );
            for r in &self.jitter {
                let _ = writeln!(o, "{r}");
            }
        }
        o
    }
}
