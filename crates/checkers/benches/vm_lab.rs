//! The in-VM half of the keepalived comparison (`benches/checkers/run.sh`, driven by
//! `tests/vm_lab.rs`): keepalived 2.2.7's checker process and our runner run the same N
//! TCP_CHECKs at `delay_loop 1` against local listeners, one after the other in the same
//! VM boot; a separate process serves the listeners and counts connections, so both sides
//! are measured the same way (server-side) and neither pays for the other's listeners.
//!
//! Modes (the VM scenario calls them; run natively with no mode it prints this usage):
//! - `conf BASE N`: keepalived's configuration for N real servers, each with a TCP_CHECK of
//!   `127.0.0.1:BASE+i` (`delay_loop 1`, keepalived's defaults otherwise);
//! - `serve BASE N FILE`: N listeners that accept and close; the running total of accepted
//!   connections goes to FILE every 100 ms;
//! - `ours BASE N`: our runner with the same N checkers (keepalived's defaults: retry 1,
//!   `delay_before_retry 1`, `warmup` = `delay_loop`, `connect_timeout 5`), until killed;
//! - `raw BASE N PERIOD_MS`: the same probes in a plain loop per checker, without the
//!   runner (diagnostics: the runner's own cost is the difference);
//! - `window FILE WARM SECS LABEL ROLE=PID...`: waits WARM seconds, then measures over SECS
//!   the accept rate (checks/s), each process's CPU share and, at the end, its RSS; prints
//!   one `RK-FIGURE` line.
//!
//! Emulated VM: only ratios within one run mean anything.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rk_checkers::probe::{ConnOpts, ProbeSpec, TcpSpec};
use rk_checkers::{CheckerId, CheckerSpec, RealServerId, Runner, RunnerOptions, Timing};

const USAGE: &str = "vm_lab conf BASE N | serve BASE N FILE | ours BASE N | \
                     raw BASE N PERIOD_MS | window FILE WARM SECS LABEL ROLE=PID...";

type Error = Box<dyn std::error::Error>;

fn num<T: std::str::FromStr>(args: &[String], i: usize) -> Result<T, Error> {
    let s = args
        .get(i)
        .ok_or_else(|| format!("argument {i} missing; {USAGE}"))?;
    s.parse()
        .map_err(|_| format!("argument {i} ({s}) is not a number").into())
}

/// The real server of checker `i`: an address nothing answers at (IPVS only stores it).
fn real_server(i: usize) -> String {
    format!("10.201.{}.{}", i / 250, i % 250 + 1)
}

fn conf(base: u16, n: usize) -> String {
    let mut s = String::from(
        "global_defs {\n    router_id vm_lab\n}\n\nvirtual_server 10.200.0.1 80 {\n    \
         delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n",
    );
    for i in 0..n {
        s += &format!(
            "    real_server {} 80 {{\n        weight 1\n        TCP_CHECK {{\n            \
             connect_ip 127.0.0.1\n            connect_port {}\n        }}\n    }}\n",
            real_server(i),
            usize::from(base) + i
        );
    }
    s + "}\n"
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn serve(base: u16, n: usize, file: &str) -> Result<(), Error> {
    let accepted = Arc::new(AtomicU64::new(0));
    runtime()?.block_on(async {
        for i in 0..n {
            let port = u16::try_from(usize::from(base) + i)?;
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.set_reuseaddr(true)?;
            sock.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
            let l = sock.listen(1024)?;
            let accepted = accepted.clone();
            tokio::spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    accepted.fetch_add(1, Ordering::Relaxed);
                    drop(s);
                }
            });
        }
        let tmp = format!("{file}.tmp");
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            std::fs::write(&tmp, accepted.load(Ordering::Relaxed).to_string())?;
            std::fs::rename(&tmp, file)?;
        }
    })
}

fn ours(base: u16, n: usize) -> Result<(), Error> {
    let second = Duration::from_secs(1);
    let specs: Vec<CheckerSpec> = (0..n)
        .map(|i| {
            let port = u16::try_from(usize::from(base) + i)?;
            let dst = SocketAddr::from(([127, 0, 0, 1], port));
            Ok(CheckerSpec {
                id: CheckerId(i as u64),
                real_server: RealServerId(i as u64),
                timing: Timing {
                    delay_loop: second,
                    delay_before_retry: second,
                    retry: 1,
                    warmup: second,
                    alpha: false,
                },
                probe: ProbeSpec::Tcp(TcpSpec {
                    conn: ConnOpts::new(dst).with_timeout(second * 5),
                }),
            })
        })
        .collect::<Result<_, Error>>()?;
    runtime()?.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let runner = Runner::spawn(RunnerOptions::default(), tx);
        let report = runner.apply(specs).await?;
        if !report.errors.is_empty() {
            return Err(format!("rejected specs: {:?}", report.errors).into());
        }
        // Drain events (there should be none while every listener answers).
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        // Every 5 s, what the runner saw: failures and probe latency.
        let mut last = (0u64, 0u64);
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let snap = runner.snapshot().await?;
            let failures: u64 = snap.checkers.iter().map(|c| c.failures).sum();
            let lat: Vec<f64> = snap
                .checkers
                .iter()
                .filter_map(|c| Some(c.last_latency?.as_secs_f64() * 1000.0))
                .collect();
            let mean = lat.iter().sum::<f64>() / lat.len().max(1) as f64;
            let max = lat.iter().copied().fold(0.0, f64::max);
            let sample = snap.checkers.iter().find_map(|c| c.last_error.clone());
            eprintln!(
                "RK-OURS probes_started={} failures={} mean_latency_ms={mean:.1} max_latency_ms={max:.1} down={} error={sample:?}",
                snap.stats.probes_started - last.0,
                failures - last.1,
                snap.checkers.iter().filter(|c| !c.up).count(),
            );
            last = (snap.stats.probes_started, failures);
        }
    })
}

/// (CPU ticks used, RSS in KiB) of `pid`.
fn proc_usage(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime, stime: fields 14 and 15, i.e. 11 and 12 after the command name.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    (ticks, rk_testkit::procfs::rss_kib(pid))
}

fn count(file: &str) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn window(args: &[String]) -> Result<(), Error> {
    let file = args.get(2).ok_or(USAGE)?;
    let warm: f64 = num(args, 3)?;
    let secs: f64 = num(args, 4)?;
    let label = args.get(5).ok_or(USAGE)?;
    let mut procs = vec![];
    for a in &args[6..] {
        let (role, pid) = a
            .split_once('=')
            .ok_or_else(|| format!("{a}: not ROLE=PID"))?;
        procs.push((role.to_string(), pid.parse::<u32>()?));
    }
    std::thread::sleep(Duration::from_secs_f64(warm));
    // The counter file is rewritten every 100 ms: read it right after it changes (or
    // after a second, if nothing is being accepted).
    let fresh = |file: &str| {
        let c = count(file);
        let give_up = Instant::now() + Duration::from_secs(1);
        loop {
            std::thread::sleep(Duration::from_millis(5));
            let d = count(file);
            if d != c || Instant::now() > give_up {
                return (d, Instant::now());
            }
        }
    };
    let (c0, t0) = fresh(file);
    let u0: Vec<u64> = procs.iter().map(|(_, p)| proc_usage(*p).0).collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (c1, t1) = fresh(file);
    let wall = (t1 - t0).as_secs_f64();
    let mut line = format!(
        "RK-FIGURE {label} checks_per_s={:.0}",
        (c1 - c0) as f64 / wall
    );
    for ((role, pid), before) in procs.iter().zip(u0) {
        let (ticks, rss) = proc_usage(*pid);
        // Clock ticks are 10 ms.
        let cpu = (ticks.saturating_sub(before)) as f64 / 100.0 / wall * 100.0;
        line += &format!(" {role}_cpu_pct={cpu:.1} {role}_rss_kib={rss}");
    }
    println!("{line}");
    Ok(())
}

/// The same probes without the runner: each in its own task, probe then sleep one
/// period, as a lower bound for the runner's overhead. Prints probe latency every 5 s.
fn raw(base: u16, n: usize, period_ms: u64) -> Result<(), Error> {
    use rk_checkers::probe::PreparedProbe;
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    runtime()?.block_on(async {
        for i in 0..n {
            let port = u16::try_from(usize::from(base) + i)?;
            let dst = SocketAddr::from(([127, 0, 0, 1], port));
            let probe = PreparedProbe::new(&ProbeSpec::Tcp(TcpSpec {
                conn: ConnOpts::new(dst),
            }))?;
            let latencies = latencies.clone();
            // Spread the first runs over one period, as warmup does.
            let offset = Duration::from_millis(period_ms).mul_f64(i as f64 / n as f64);
            tokio::spawn(async move {
                tokio::time::sleep(offset).await;
                loop {
                    let r = probe.run(0).await;
                    if let Ok(mut l) = latencies.lock() {
                        l.push(r.latency.as_secs_f64() * 1000.0);
                    }
                    tokio::time::sleep(Duration::from_millis(period_ms)).await;
                }
            });
        }
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let mut l = latencies
                .lock()
                .map(|mut l| std::mem::take(&mut *l))
                .unwrap_or_default();
            l.sort_by(f64::total_cmp);
            let at = |q: usize| l.get(l.len() * q / 100).copied().unwrap_or(0.0);
            eprintln!(
                "RK-RAW done={} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
                l.len(),
                at(50),
                at(99),
                l.last().copied().unwrap_or(0.0)
            );
        }
    })
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("conf") => print!("{}", conf(num(&args, 2)?, num(&args, 3)?)),
        Some("serve") => serve(num(&args, 2)?, num(&args, 3)?, args.get(4).ok_or(USAGE)?)?,
        Some("ours") => ours(num(&args, 2)?, num(&args, 3)?)?,
        Some("window") => window(&args)?,
        Some("raw") => raw(num(&args, 2)?, num(&args, 3)?, num(&args, 4)?)?,
        // `cargo bench` runs every bench target with `--bench`: nothing to do natively.
        _ => println!("{USAGE}\n(run in the VM by benches/checkers/run.sh)"),
    }
    Ok(())
}
