//! How long `rk_config::load_file` takes on large generated configurations, measured in
//! the process (no start-up cost), with the daemon's allocator.
//!
//! `cargo bench -p rk-config --bench load [-- RUNS] [SxR ...]` (default 11 runs of each of
//! 2300x16, 5000x4 and 10000x4; run it under `flock /work/.bench.lock` on a shared
//! machine). Prints, per configuration, the median and best wall time, the CPU time (both
//! threads) per load, and the median peak RSS growth during one load. Wall time only
//! means something on an idle machine with two free cores; CPU time less so.
//!
//! Each run starts with the allocator's free pages handed back (jemalloc's purge), as the
//! daemon does after a reload, so every load touches fresh memory as a reload does: on a
//! machine that clears pages slowly, memory touched is time.
#![allow(unsafe_code)]

use std::time::{Duration, Instant};

use rk_config::{LoadOptions, load_file};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's purge of every arena (as `rkeepalived`'s `daemon/memory.rs`).
fn purge() {
    const PURGE_ALL: &[u8] = b"arena.4096.purge\0";
    // SAFETY: a NUL-terminated name; the control reads and writes no values.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_ALL.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

/// The reload benchmark's configuration, every real server at weight 1.
fn bench_conf(services: usize, reals: usize) -> String {
    rk_testkit::confgen::reload_bench_conf(services, reals, true, |_| false)
}

/// User + system CPU time of the whole process so far (threads that ended included).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold blanks.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|w| w.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15, in USER_HZ (100 per second on Linux).
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn median<T: Copy + Ord>(v: &mut [T]) -> T {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(11)
        .max(1);
    let mut cases: Vec<(usize, usize)> = args
        .iter()
        .filter_map(|a| a.split_once('x'))
        .filter_map(|(s, r)| Some((s.parse().ok()?, r.parse().ok()?)))
        .collect();
    if cases.is_empty() {
        cases = vec![(2300, 16), (5000, 4), (10_000, 4)];
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let opts = LoadOptions {
        check_host: false,
        ..LoadOptions::for_tests()
    };
    for (services, reals) in cases {
        let path = dir.path().join(format!("{services}x{reals}.conf"));
        let text = bench_conf(services, reals);
        let lines = text.lines().count();
        std::fs::write(&path, text).expect("write the configuration");
        let mut walls = Vec::with_capacity(runs);
        let mut peaks = Vec::with_capacity(runs);
        let mut cpu = Duration::ZERO;
        for run in 0..runs + 1 {
            purge();
            // Resets the peak RSS to the current RSS (Linux ≥ 4.0), so VmHWM is this load's.
            let _ = std::fs::write("/proc/self/clear_refs", "5");
            let rss0 = status_kib("VmRSS:");
            let cpu0 = cpu_time();
            let t0 = Instant::now();
            let loaded = load_file(&path, &opts);
            let wall = t0.elapsed();
            if run > 0 {
                cpu += cpu_time().saturating_sub(cpu0);
            }
            let peak = status_kib("VmHWM:").saturating_sub(rss0);
            match loaded {
                Ok(l) => assert_eq!(l.config.virtual_servers.len(), services),
                Err(e) => panic!("{}", e.render()),
            }
            walls.push(wall);
            peaks.push(peak);
        }
        // The first run warms the file cache and the keyword tables.
        walls.remove(0);
        peaks.remove(0);
        let best = walls.iter().min().copied().unwrap_or(Duration::ZERO);
        println!(
            "load_file {services:>5} VS x {reals:>2} RS ({lines} lines): median {:6.1} ms, best {:6.1} ms, CPU {:6.1} ms, peak RSS +{:.1} MiB ({runs} runs)",
            median(&mut walls).as_secs_f64() * 1e3,
            best.as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 1e3 / runs as f64,
            median(&mut peaks) as f64 / 1024.0,
        );
    }
}
