//! The reload benchmark (`benches/reload/run.sh`, issue 8): keepalived 2.2.7 and rkeepalived
//! side by side in one run of the test-bed VM (`benches/reload/bench.sh` measures):
//!
//! * reload at 2,300 virtual servers × 16 real servers (each with a TCP_CHECK) with 1% of
//!   the real servers' weights changed, and at 5,000 × 4 with 10% changed: time from the
//!   SIGHUP to the last IPVS request (both counted on an `nlmon` capture), requests against
//!   changes, worst advert lateness on the master's interface during the reload;
//! * SIGTERM at 10,000 services × 4: time to exit and services left.
//!
//! The VM is emulated (TCG): only ratios within one run mean anything. Runs:
//! `RK_RELOAD_BENCH_RUNS="s2300:2300:16:368:reload s5000:5000:4:2000:reload s10k:10000:4:0:stop"`,
//! `RK_RELOAD_BENCH_DAEMONS="rkeepalived keepalived"` (a sixth field, `:rkeepalived` or
//! `:rkeepalived+keepalived`, chooses the daemons of one run); `RK_VM_RKEEPALIVED` and
//! `RK_VM_NLMON` name static binaries built earlier. Ignored by default (keepalived 2.2.7
//! takes minutes per reload at 2,300 × 16).

use std::path::PathBuf;
use std::time::Duration;

use rk_testkit::lvs_lab::LvsLab;
use rk_testkit::vm::{build_static, skip_requested};

const BENCH_SH: &str = include_str!("../../../benches/reload/bench.sh");

const DEFAULT_RUNS: &str = "s2300:2300:16:368:reload s5000:5000:4:2000:reload s10k:10000:4:0:stop";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The static rkeepalived: `RK_VM_RKEEPALIVED` if set, else a fresh static build.
fn rkeepalived_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("RK_VM_RKEEPALIVED") {
        return PathBuf::from(p);
    }
    build_static("rkeepalived", &["rkeepalived"])
        .expect("static rkeepalived")
        .path("rkeepalived")
}

/// A configuration both daemons read (`rk_testkit::confgen::reload_bench_conf`).
use rk_testkit::confgen::reload_bench_conf as bench_conf;

#[test]
#[ignore = "benchmark: benches/reload/run.sh (keepalived 2.2.7 takes minutes per reload)"]
fn reload_benchmark() {
    if skip_requested() {
        return;
    }
    let runs = env_or("RK_RELOAD_BENCH_RUNS", DEFAULT_RUNS);
    let daemons = env_or("RK_RELOAD_BENCH_DAEMONS", "rkeepalived keepalived");
    let binary = rkeepalived_binary();
    let nlmon = match std::env::var_os("RK_VM_NLMON") {
        Some(p) => PathBuf::from(p),
        None => build_static("rk-testkit", &["rk-nlmon"])
            .expect("static rk-nlmon")
            .path("rk-nlmon"),
    };
    let mut lab = LvsLab::new().expect("lab tools");
    lab.keepalived()
        .expect("keepalived into the VM")
        .rkeepalived(&binary)
        .expect("rkeepalived into the VM");
    let spec = lab.spec();
    spec.modules(&["nlmon"])
        .memory_mb(3072)
        .timeout(Duration::from_secs(6 * 3600))
        .host_file(&nlmon, "/rk/rk-nlmon", 0o755)
        .expect("rk-nlmon into the VM")
        .file("/rk/bench.sh", BENCH_SH.as_bytes().to_vec(), 0o644);
    for run in runs.split_whitespace() {
        let f: Vec<&str> = run.split(':').collect();
        let (name, services, reals, changes, kind) = match f.as_slice() {
            [n, s, r, c, k] | [n, s, r, c, k, _] => (
                *n,
                s.parse::<usize>().expect("services"),
                r.parse::<usize>().expect("reals"),
                c.parse::<usize>().expect("changes"),
                *k,
            ),
            _ => panic!(
                "RK_RELOAD_BENCH_RUNS entry {run}: NAME:SERVICES:REALS:CHANGES:KIND[:DAEMON+DAEMON]"
            ),
        };
        let checks = kind == "reload";
        let every = (services * reals).checked_div(changes).unwrap_or(0);
        spec.file(
            &format!("/rk/conf/bench/{name}-a.conf"),
            bench_conf(services, reals, checks, |_| false).into_bytes(),
            0o644,
        );
        spec.file(
            &format!("/rk/conf/bench/{name}-b.conf"),
            bench_conf(services, reals, checks, |n| every > 0 && n % every == 0).into_bytes(),
            0o644,
        );
    }
    lab.step(&format!(
        ". /rk/bench.sh\nBENCH_RUNS=\"{runs}\"\nBENCH_DAEMONS=\"{daemons}\"\nbench_main\n"
    ));
    let report = lab.run().expect("VM run");
    eprintln!("{}", report.summary());
    println!("\n| run | figure | value |\n|---|---|---|");
    for (k, v) in &report.figures {
        let (phase, name) = k.split_once('/').unwrap_or((k, ""));
        println!("| {phase} | {name} | {v} |");
    }
    assert!(
        report.failed().is_empty(),
        "failed checks: {:#?}\n--- serial ---\n{}",
        report.failed(),
        report.outcome.serial
    );
}

/// The same reloads natively on the host (no IPVS there: the coordinator plans against
/// its model and sends nothing, so this is the parse, validate, VRRP, checker and plan
/// part of a reload, which the VM's emulation inflates ten-fold). rkeepalived only: the
/// host kernel has no IPVS for keepalived's checker process. Sizes as the VM runs.
#[test]
#[ignore = "benchmark: benches/reload/run.sh --host"]
fn reload_benchmark_host() {
    use rk_testkit::netns::adverts::{self, Gaps};
    use rk_testkit::netns::{Lab, wait_until};
    // The director's first address: the source of its adverts.
    const MASTER: std::net::Ipv4Addr = std::net::Ipv4Addr::new(10, 0, 0, 2);
    // How long each size reloads under the advert tap (one advert a second), and the pause
    // between the end of one reload and the next signal (0: back to back).
    let advert_window = Duration::from_secs(
        env_or("RK_RELOAD_BENCH_SECONDS", "12")
            .parse()
            .expect("RK_RELOAD_BENCH_SECONDS"),
    );
    let pause = Duration::from_millis(
        env_or("RK_RELOAD_BENCH_PAUSE_MS", "0")
            .parse()
            .expect("RK_RELOAD_BENCH_PAUSE_MS"),
    );
    if rk_testkit::netns::skip_requested() {
        return;
    }
    let runs = env_or("RK_RELOAD_BENCH_RUNS", DEFAULT_RUNS);
    let mut lab = Lab::new("rlb").expect("lab");
    let lan = lab.lan("lan").expect("lan");
    let dir = lab.host("dir").expect("host");
    // web1's address and a listener on it: the TCP_CHECKs pass, as in the VM.
    lab.attach(&lan, &dir, "eth0", &["10.0.0.2/24", "10.0.0.11/24"])
        .expect("attach");
    let _web1 = dir
        .run_in(|| std::net::TcpListener::bind(("10.0.0.11", 80)))
        .expect("enter namespace")
        .expect("listen on 10.0.0.11:80");
    println!("\n| run | reload (daemon's log) |\n|---|---|");
    for run in runs.split_whitespace() {
        let f: Vec<&str> = run.split(':').collect();
        let [name, services, reals, changes, "reload"] = f.as_slice() else {
            continue;
        };
        let (services, reals, changes): (usize, usize, usize) = (
            services.parse().expect("services"),
            reals.parse().expect("reals"),
            changes.parse().expect("changes"),
        );
        let every = (services * reals).checked_div(changes).unwrap_or(1);
        let a = bench_conf(services, reals, true, |_| false);
        let b = bench_conf(services, reals, true, |n| n % every == 0);
        let (conf, mut d) = start_on_host(&mut lab, &dir, name, &a, &["-G"]);
        // Reload (alternating b and a, `pause` apart) for advert_window while a tap times
        // the master's adverts: every advert falls into some reload.
        // As in the VM: the first round of 36,800 checks has run by then.
        std::thread::sleep(Duration::from_secs(5));
        let tap = {
            let ns = dir.clone();
            std::thread::spawn(move || {
                ns.run_in(|| adverts::capture_on("eth0", MASTER, advert_window))
                    .expect("namespace")
                    .expect("advert tap")
            })
        };
        let start = std::time::Instant::now();
        let mut reloads = 0;
        while start.elapsed() < advert_window {
            std::fs::write(&conf, if reloads % 2 == 0 { &b } else { &a }).expect("write");
            d.signal(nix::sys::signal::Signal::SIGHUP).expect("SIGHUP");
            assert!(
                wait_until(Duration::from_secs(60), || d.count("Reload finished")
                    > reloads),
                "{}",
                d.log()
            );
            reloads += 1;
            std::thread::sleep(pause);
        }
        let stamps = tap.join().expect("advert tap thread");
        let gaps = Gaps::of(&stamps);
        let late = gaps.worst().saturating_sub(Duration::from_secs(1));
        for l in d
            .log()
            .lines()
            .filter(|l| l.contains("Reload finished"))
            .take(6)
        {
            let said = l.split("Reload finished").nth(1).unwrap_or("");
            println!("| {name} {services}x{reals}, {changes} changed | Reload finished{said} |");
        }
        let log = d.log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("Reload finished"))
            .collect();
        let mut read = step_ms(&lines, "read and validated in ");
        let mut ipvs = step_ms(&lines, "IPVS applied by ");
        println!(
            "| {name} all | {} reloads: read and validated {}; IPVS applied by {} |",
            lines.len(),
            spread(&mut read),
            spread(&mut ipvs),
        );
        println!(
            "| {name} adverts | {reloads} reloads, {pause:?} apart, in {:.1?}: {} adverts, worst gap \
             {:.1?} (worst advert late {:.2} ms, {} of {} gaps off by more than 1 ms), median \
             gap {:.1?} |",
            start.elapsed(),
            stamps.len(),
            gaps.worst(),
            late.as_secs_f64() * 1000.0,
            gaps.deviations(Duration::from_secs(1))
                .iter()
                .filter(|d| **d > Duration::from_millis(1))
                .count(),
            gaps.len(),
            gaps.percentile(50),
        );
        d.signal(nix::sys::signal::Signal::SIGTERM)
            .expect("SIGTERM");
        let _ = d.wait_exit(Duration::from_secs(30));
    }
}

/// Memory over many reloads, natively (`benches/reload/run.sh --memory`): the daemon
/// reloads back to back between two configurations that differ in a few weights, and its
/// RSS and open files are read after reload 10 and then every 10% of the run, each time
/// after a pause of 1.5 s (the daemon hands memory back 1 s after the last reload).
/// `RK_RELOAD_MEMORY="SERVICES:REALS:CHECKS:RELOADS"` (CHECKS 1 = a TCP_CHECK on each real
/// server); default `1000:3:0:1000`, `reload_vm`'s size. Fails when RSS at the end exceeds
/// RSS after reload 10 by more than 4 MiB, or when a file descriptor is left open.
#[test]
#[ignore = "benchmark: benches/reload/run.sh --memory"]
fn reload_memory_host() {
    use rk_testkit::netns::{Lab, wait_until};
    if rk_testkit::netns::skip_requested() {
        return;
    }
    let spec = env_or("RK_RELOAD_MEMORY", "1000:3:0:1000");
    let f: Vec<usize> = spec
        .split(':')
        .map(|v| {
            v.parse()
                .expect("RK_RELOAD_MEMORY: SERVICES:REALS:CHECKS:RELOADS")
        })
        .collect();
    let [services, reals, checks, reloads] = f[..] else {
        panic!("RK_RELOAD_MEMORY: SERVICES:REALS:CHECKS:RELOADS");
    };
    let mut lab = Lab::new("rlm").expect("lab");
    let lan = lab.lan("lan").expect("lan");
    let dir = lab.host("dir").expect("host");
    lab.attach(&lan, &dir, "eth0", &["10.0.0.2/24"])
        .expect("attach");
    let a = bench_conf(services, reals, checks == 1, |_| false);
    let b = bench_conf(services, reals, checks == 1, |n| n % 97 == 0);
    let (conf, mut d) = start_on_host(&mut lab, &dir, "m", &a, &[]);
    let daemon = d.pid();
    let resources = |pid| {
        (
            rk_testkit::procfs::rss_kib(pid),
            rk_testkit::procfs::open_fds(pid),
        )
    };
    let mut seen = Vec::new();
    let every = (reloads / 10).max(1);
    for i in 1..=reloads {
        std::fs::write(&conf, if i % 2 == 1 { &b } else { &a }).expect("write");
        d.signal(nix::sys::signal::Signal::SIGHUP).expect("SIGHUP");
        assert!(
            wait_until(Duration::from_secs(60), || d.count("Reload finished") >= i),
            "{}",
            d.log()
        );
        if i == 10 || i % every == 0 {
            std::thread::sleep(Duration::from_millis(1500));
            seen.push((i, resources(daemon)));
        }
    }
    println!("\n| {services} x {reals}, checks {checks} | RSS | open files |\n|---|---|---|");
    for (i, (rss, fds)) in &seen {
        println!("| after reload {i} | {rss} kB | {fds} |");
    }
    d.signal(nix::sys::signal::Signal::SIGTERM)
        .expect("SIGTERM");
    let _ = d.wait_exit(Duration::from_secs(30));
    let (first, last) = (seen[0].1, seen[seen.len() - 1].1);
    assert!(
        last.0 <= first.0 + 4096 && last.1 == first.1,
        "not flat: {first:?} -> {last:?} (RSS kB, open files)"
    );
}

/// Writes `text` as `NAME.conf` in the lab's directory and starts rkeepalived on it in `ns`
/// (`-n -l`, plus `extra`); returns the file (a reload rewrites it) and the daemon, once it
/// has said "Startup complete".
fn start_on_host(
    lab: &mut rk_testkit::netns::Lab,
    ns: &rk_testkit::netns::Netns,
    name: &str,
    text: &str,
    extra: &[&str],
) -> (std::path::PathBuf, rk_testkit::netns::Proc) {
    let conf = lab.dir().join(format!("{name}.conf"));
    std::fs::write(&conf, text).expect("write");
    let c = conf.to_string_lossy().into_owned();
    let p = lab
        .dir()
        .join(format!("{name}.pid"))
        .to_string_lossy()
        .into_owned();
    let mut argv = vec![env!("CARGO_BIN_EXE_rkeepalived"), "-n", "-l"];
    argv.extend_from_slice(extra);
    argv.extend_from_slice(&["-f", &c, "-p", &p]);
    let d = lab.spawn(ns, name, &argv).expect("start");
    assert!(
        d.wait_for("Startup complete", Duration::from_secs(60)),
        "{}",
        d.log()
    );
    (conf, d)
}

/// The milliseconds after `key` in each of `lines` ("... IPVS applied by 67.3ms, ...").
fn step_ms(lines: &[&str], key: &str) -> Vec<f64> {
    lines
        .iter()
        .filter_map(|l| {
            let rest = &l[l.find(key)? + key.len()..];
            let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
            let v: f64 = rest[..end].parse().ok()?;
            // Durations print as ms below a second, else as s.
            Some(if rest[end..].starts_with("ms") {
                v
            } else {
                v * 1000.0
            })
        })
        .collect()
}

/// "min / median / max ms" of `v`.
fn spread(v: &mut [f64]) -> String {
    v.sort_by(f64::total_cmp);
    match (v.first(), v.get(v.len() / 2), v.last()) {
        (Some(a), Some(m), Some(z)) => format!("{a:.1} / {m:.1} / {z:.1} ms (min / median / max)"),
        _ => "-".into(),
    }
}

#[test]
fn step_times_are_read_from_the_reload_line() {
    let l = "Reload finished in 1.1s (read and validated in 515.7ms, VRRP by 523.2ms, \
             IPVS applied by 1.2s, checkers mapped by 780.6ms): VRRP 1 unchanged";
    assert_eq!(step_ms(&[l], "read and validated in "), vec![515.7]);
    assert_eq!(step_ms(&[l], "IPVS applied by "), vec![1200.0]);
    assert_eq!(
        spread(&mut [3.0, 1.0, 2.0]),
        "1.0 / 2.0 / 3.0 ms (min / median / max)"
    );
}

#[test]
fn bench_configurations_change_what_they_say() {
    use rk_config::{LoadOptions, load_str};
    let a = bench_conf(50, 16, true, |_| false);
    let b = bench_conf(50, 16, true, |n| n % 100 == 0);
    let load = |t: &str| {
        load_str("b.conf", t, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{}", e.render()))
            .config
    };
    let (a, b) = (load(&a), load(&b));
    assert_eq!(a.virtual_servers.len(), 50);
    let weights = |c: &rk_config::Config| -> Vec<u32> {
        c.virtual_servers
            .iter()
            .flat_map(|v| v.real_servers.iter().map(|r| r.weight))
            .collect()
    };
    let changed = weights(&a)
        .iter()
        .zip(weights(&b))
        .filter(|(x, y)| **x != *y)
        .count();
    // 800 real servers, 1% changed.
    assert_eq!(changed, 8);
    assert!(b.virtual_servers[0].real_servers[0].checkers.len() == 1);
}
