//! Checker throughput and memory, as a plain bench binary (`harness = false`).
//!
//! ```text
//! cargo bench -p rk-checkers --bench checkers            # all
//! taskset -c 0 target/release/deps/checkers-* --secs 5   # pinned, as in BENCHMARKS-checkers.md
//! ... --only tcp --tcp-sizes 20000,25000 --ports 2048     # parts: probes,tcp,http,memory
//! ```
//!
//! - **Probe throughput**: the checker side runs on a current-thread runtime on the calling
//!   thread (pin the process with `taskset -c 0`); the local TCP and HTTP servers run on
//!   their own thread, moved to CPU 1 when there is one, so the figure is the checker's
//!   (512 listeners of each kind).
//!   Many probes run concurrently, as thousands of checkers would.
//! - **Runner throughput**: distinct checkers (no deduplication possible) with a short
//!   `delay_loop`, driven by the real runner; reports sustained probes per second and the
//!   share of one core the checker thread used.
//! - **Memory per idle checker**: resident set growth after configuring 100,000 checkers
//!   whose first run is an hour away, divided by their number (allocator overhead included).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rk_checkers::probe::{
    ConnOpts, HttpProtocol, HttpSpec, PreparedProbe, ProbeSpec, TcpSpec, UrlSpec,
};
use rk_checkers::{CheckerId, CheckerSpec, RealServerId, Runner, RunnerOptions, Timing};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn pin(cpu: usize) -> bool {
    let mut set = nix::sched::CpuSet::new();
    set.set(cpu).is_ok()
        && nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).is_ok()
}

/// CPUs online (not the affinity mask, which `taskset` narrows).
fn cpus() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| s.trim().rsplit(['-', ',']).next()?.parse::<usize>().ok())
        .map_or(1, |last| last + 1)
}

/// Listeners of each kind. Many, so that no (client port, server port) pair comes back
/// while the previous connection on it is still in TIME_WAIT at the server (it closes
/// first): with 32 ports, 20,000 checks/s reused pairs within seconds and some connects
/// were refused.
const PORTS: usize = 512;

/// Starts `ports` TCP listeners that accept and close, and `ports` HTTP servers, on their
/// own thread; returns their addresses.
fn servers(ports: usize) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if cpus() > 1 {
            pin(1);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut tcp = vec![];
            let mut http = vec![];
            for _ in 0..ports {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tcp.push(l.local_addr().unwrap());
                tokio::spawn(async move {
                    while let Ok((s, _)) = l.accept().await {
                        drop(s);
                    }
                });
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                http.push(l.local_addr().unwrap());
                tokio::spawn(async move {
                    while let Ok((mut s, _)) = l.accept().await {
                        tokio::spawn(async move {
                            let mut buf = [0u8; 1024];
                            let mut n = 0;
                            while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") && n < buf.len() {
                                match s.read(&mut buf[n..]).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(k) => n += k,
                                }
                            }
                            let _ = s
                                .write_all(
                                    b"HTTP/1.0 200 OK\r\nContent-Length: 13\r\n\r\nhello, world\n",
                                )
                                .await;
                        });
                    }
                });
            }
            tx.send((tcp, http)).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

/// MD5 of the servers' body, "hello, world\n": every check reads and hashes the body.
const BODY_MD5: [u8; 16] = [
    0x22, 0xc3, 0x68, 0x3b, 0x09, 0x41, 0x36, 0xc3, 0x39, 0x83, 0x91, 0xae, 0x71, 0xb2, 0x0f, 0x04,
];

fn http_spec(addr: SocketAddr, timeout_ms: u64) -> HttpSpec {
    HttpSpec {
        conn: ConnOpts::new(addr).with_timeout(Duration::from_millis(timeout_ms)),
        tls: None,
        protocol: HttpProtocol::V10,
        virtualhost: None,
        urls: vec![UrlSpec {
            digest: Some(BODY_MD5),
            ..UrlSpec::new("/")
        }],
        fast_recovery: false,
    }
}

/// Runs `concurrency` loops of the probes for `secs`; returns (ok, failed) per second.
async fn hammer(probes: Vec<PreparedProbe>, concurrency: usize, secs: f64) -> (f64, f64) {
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let probes = Arc::new(probes);
    let mut tasks = vec![];
    for i in 0..concurrency {
        let (ok, bad, probes) = (ok.clone(), bad.clone(), probes.clone());
        tasks.push(tokio::spawn(async move {
            let mut k = i;
            while Instant::now() < deadline {
                let p = &probes[k % probes.len()];
                k += concurrency;
                match p.run(0).await.result {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(_) => bad.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let t0 = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    let dt = t0.elapsed().as_secs_f64();
    (
        ok.load(Ordering::Relaxed) as f64 / dt,
        bad.load(Ordering::Relaxed) as f64 / dt,
    )
}

/// CPU time (user + system) of the calling thread, from `/proc/thread-self/stat` (clock
/// ticks of 10 ms: fine over a window of seconds).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the command name.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Sustained probes per second of the runner and the share of one core its thread used.
async fn runner_rate(
    targets: &[SocketAddr],
    checkers: usize,
    delay_loop: Duration,
    secs: u64,
    http: bool,
) -> (f64, f64) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let runner = Runner::spawn(RunnerOptions { seed: Some(9) }, tx);
    let specs: Vec<CheckerSpec> = (0..checkers)
        .map(|i| {
            // A distinct timeout per checker makes every probe distinct: no deduplication.
            let timeout = 2000 + i as u64;
            let addr = targets[i % targets.len()];
            let probe = if http {
                ProbeSpec::Http(http_spec(addr, timeout))
            } else {
                ProbeSpec::Tcp(TcpSpec {
                    conn: ConnOpts::new(addr).with_timeout(Duration::from_millis(timeout)),
                })
            };
            let timing = Timing {
                delay_loop,
                delay_before_retry: delay_loop,
                retry: 1,
                warmup: delay_loop,
                alpha: false,
            };
            CheckerSpec {
                id: CheckerId(i as u64),
                real_server: RealServerId(i as u64),
                timing,
                probe,
            }
        })
        .collect();
    runner.apply(specs).await.unwrap();
    // Let the warmup spread the first runs, then measure.
    tokio::time::sleep(Duration::from_secs(1) + delay_loop).await;
    let a = runner.snapshot().await.unwrap().stats.probes_started;
    let t0 = Instant::now();
    // The runner, its probes and this function share the calling thread (current-thread
    // runtime), so this thread's CPU time is the checker side's.
    let cpu0 = thread_cpu();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let b = runner.snapshot().await.unwrap().stats.probes_started;
    let wall = t0.elapsed().as_secs_f64();
    let rate = (b - a) as f64 / wall;
    let cpu = (thread_cpu() - cpu0).as_secs_f64() / wall;
    let snap = runner.snapshot().await.unwrap();
    let failures: u64 = snap.checkers.iter().map(|c| c.failures).sum();
    let sample = snap.checkers.iter().find_map(|c| c.last_error.clone());
    // The last probe latency of every checker: a period runs from each result, so slow
    // connects (a SYN dropped and resent after 1 s) lower the rate without any CPU cost.
    let mut lat: Vec<Duration> = snap
        .checkers
        .iter()
        .filter_map(|c| c.last_latency)
        .collect();
    lat.sort();
    let at = |q: usize| {
        lat.get(lat.len().saturating_sub(1) * q / 100)
            .copied()
            .unwrap_or_default()
    };
    let slow = lat
        .iter()
        .filter(|l| **l >= Duration::from_millis(500))
        .count();
    runner.shutdown().await;
    println!(
        "    last probe latency p50 {:.2} ms, p99 {:.2} ms, max {:.0} ms; {slow} of {} at 500 ms or more",
        at(50).as_secs_f64() * 1000.0,
        at(99).as_secs_f64() * 1000.0,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        lat.len()
    );
    if failures > 0 {
        println!("    ({failures} failed runs, e.g. {sample:?})");
    }
    (rate, cpu)
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn idle_memory(n: usize, http: bool) -> f64 {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::spawn(RunnerOptions { seed: Some(1) }, tx);
    let hour = Duration::from_secs(3600);
    let before = rss_kib();
    let specs: Vec<CheckerSpec> = (0..n)
        .map(|i| {
            let addr: SocketAddr = SocketAddr::new(
                [127, 0, (i >> 8) as u8, i as u8].into(),
                80 + (i >> 16) as u16,
            );
            let probe = if http {
                ProbeSpec::Http(http_spec(addr, 5000))
            } else {
                ProbeSpec::Tcp(TcpSpec {
                    conn: ConnOpts::new(addr),
                })
            };
            let timing = Timing {
                delay_loop: hour,
                delay_before_retry: hour,
                retry: 1,
                warmup: hour,
                alpha: false,
            };
            CheckerSpec {
                id: CheckerId(i as u64),
                real_server: RealServerId(i as u64),
                timing,
                probe,
            }
        })
        .collect();
    runner.apply(specs).await.unwrap();
    let after = rss_kib();
    let stats = runner.snapshot().await.unwrap().stats;
    assert_eq!(stats.probes, n);
    runner.shutdown().await;
    (after.saturating_sub(before) as f64 * 1024.0) / n as f64
}

/// `--NAME VALUE` from the command line.
fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1)?.parse().ok())
}

/// A comma-separated list argument.
fn list(args: &[String], name: &str, default: &str) -> Vec<String> {
    arg::<String>(args, name)
        .unwrap_or_else(|| default.to_string())
        .split(',')
        .map(str::to_string)
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = arg(&args, "--secs").unwrap_or(3);
    let ports: usize = arg(&args, "--ports").unwrap_or(PORTS);
    // Parts: probes, tcp, http, memory.
    let only = list(&args, "--only", "probes,tcp,http,memory");
    let sizes = |name, default| -> Vec<usize> {
        list(&args, name, default)
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    let tcp_sizes = sizes("--tcp-sizes", "20000,30000,40000");
    let http_sizes = sizes("--http-sizes", "5000,10000,20000");
    let (tcp, http) = servers(ports);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "checker thread on CPU {:?}, servers on their own thread ({ports} listeners of each kind); {} CPUs",
        nix::sched::sched_getcpu().ok(),
        cpus()
    );
    let part = |p: &str| only.iter().any(|o| o == p);
    rt.block_on(async {
        if part("probes") {
            let tcp_probes: Vec<_> = tcp
                .iter()
                .map(|a| PreparedProbe::new(&ProbeSpec::Tcp(TcpSpec { conn: ConnOpts::new(*a) })).unwrap())
                .collect();
            let (ok, bad) = hammer(tcp_probes, 256, secs as f64).await;
            println!("TCP_CHECK probes:  {ok:>9.0} checks/s ({bad:.0}/s failed), 256 in flight");
            let http_probes: Vec<_> =
                http.iter().map(|a| PreparedProbe::new(&ProbeSpec::Http(http_spec(*a, 5000))).unwrap()).collect();
            let (ok, bad) = hammer(http_probes, 256, secs as f64).await;
            println!("HTTP_GET probes:   {ok:>9.0} checks/s ({bad:.0}/s failed), 256 in flight, MD5 of the body");
        }
        if part("tcp") {
            for &n in &tcp_sizes {
                let (rate, cpu) = runner_rate(&tcp, n, Duration::from_millis(1000), secs, false).await;
                println!(
                    "runner, {n} TCP checkers at delay_loop 1 s: {rate:>9.0} checks/s sustained, checker thread {:.0}% of a core ({:.1} µs of CPU per check)",
                    cpu * 100.0,
                    cpu * 1e6 / rate
                );
            }
        }
        if part("http") {
            for &n in &http_sizes {
                let (rate, cpu) = runner_rate(&http, n, Duration::from_millis(1000), secs, true).await;
                println!(
                    "runner, {n} HTTP checkers at delay_loop 1 s: {rate:>9.0} checks/s sustained, checker thread {:.0}% of a core ({:.1} µs of CPU per check)",
                    cpu * 100.0,
                    cpu * 1e6 / rate
                );
            }
        }
        if part("memory") {
            for (kind, http) in [("TCP_CHECK", false), ("HTTP_GET", true)] {
                let per = idle_memory(100_000, http).await;
                println!("memory per idle {kind} checker: {per:>6.0} bytes (100,000 configured)");
            }
        }
    });
}
