//! The VRRP lab benchmark: rkeepalived and keepalived 2.2.7 side by side in the same
//! namespace topology (two directors and a client on one bridge), measuring
//!
//! * failover: SIGKILL of the master → VIP added on the backup (netlink event in the
//!   backup's namespace) and → first gratuitous ARP from the backup seen in the client's
//!   namespace (link-layer socket), for VRRPv2 `advert_int 1` and VRRPv3 `advert_int 0.1`;
//! * first GARP after the VIP is added;
//! * start → MASTER (process start → VIP added), for a non-owner (down timer) and an owner;
//! * RSS and CPU per hour at steady state (master and backup);
//! * advert send jitter at `advert_int 0.1` while busy loops keep both cores at 100 %
//!   (kernel timestamps of the frames leaving the master, so the measuring side's own
//!   scheduling does not count).
//!
//! Needs root, namespaces, keepalived, and a release build of rkeepalived:
//! `benches/vrrp/run.sh` builds and runs it. Not a unit benchmark: `cargo bench` without
//! the lab flag only prints how to run it.

mod measure;

use std::path::PathBuf;
use std::time::Duration;

use measure::{Impl, Mode, Report};

fn usage() -> ! {
    eprintln!(
        "usage: vrrp-lab --lab [--runs N] [--steady SECS] [--jitter SECS] [--only failover|start|steady|jitter] [--rt PRIO] [--nice N]\n\
         env: RKEEPALIVED_BIN (default target/release/rkeepalived), KEEPALIVED_BIN (/usr/sbin/keepalived)\n\
         run it with benches/vrrp/run.sh (needs root)"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--lab") {
        // `cargo bench` / `cargo test --benches` land here: this is a lab, not a unit bench.
        println!("vrrp-lab: a namespace lab benchmark; run benches/vrrp/run.sh (needs root)");
        return;
    }
    let mut runs = 10usize;
    let mut steady = 60u64;
    let mut jitter = 30u64;
    let mut only: Option<String> = None;
    let mut extra = String::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let num = |it: &mut std::slice::Iter<String>| -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage())
        };
        match a.as_str() {
            "--lab" | "--bench" => {}
            "--runs" => runs = usize::try_from(num(&mut it)).unwrap_or(10),
            "--steady" => steady = num(&mut it),
            "--jitter" => jitter = num(&mut it),
            "--only" => only = it.next().cloned(),
            "--rt" => extra.push_str(&format!("    vrrp_rt_priority {}\n", num(&mut it))),
            "--nice" => {
                let n: i64 = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage());
                extra.push_str(&format!("    vrrp_priority {n}\n"));
            }
            _ => usage(),
        }
    }
    let _ = measure::GLOBAL_EXTRA.set(extra);
    let root = rk_testkit::workspace_root();
    let rk_bin = std::env::var_os("RKEEPALIVED_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/rkeepalived"));
    let ka_bin = std::env::var_os("KEEPALIVED_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/keepalived"));
    for b in [&rk_bin, &ka_bin] {
        if !b.exists() {
            eprintln!("vrrp-lab: {} not found", b.display());
            std::process::exit(1);
        }
    }
    let impls = [Impl::Rk(rk_bin), Impl::Ka(ka_bin)];
    let modes = [Mode::V2_1S, Mode::V3_100MS];
    let want = |s: &str| only.as_deref().is_none_or(|o| o == s);
    let mut report = Report::default();

    if want("failover") {
        for mode in modes {
            for imp in &impls {
                eprintln!("failover: {} {} × {runs}", imp.name(), mode.name);
                let samples: Vec<_> = (0..runs)
                    .filter_map(|n| match measure::failover(imp, mode, n) {
                        Ok(s) => Some(s),
                        Err(e) => {
                            eprintln!("  run {n}: {e}");
                            None
                        }
                    })
                    .collect();
                report.failover(imp, mode, &samples);
            }
        }
    }
    if want("start") {
        for mode in modes {
            for owner in [false, true] {
                for imp in &impls {
                    eprintln!("start: {} {} owner={owner} × {runs}", imp.name(), mode.name);
                    let samples: Vec<Duration> = (0..runs)
                        .filter_map(|n| measure::start_to_master(imp, mode, owner, n).ok())
                        .collect();
                    report.start(imp, mode, owner, &samples);
                }
            }
        }
    }
    if want("steady") {
        for mode in modes {
            for imp in &impls {
                eprintln!("steady: {} {} for {steady} s", imp.name(), mode.name);
                match measure::steady(imp, mode, Duration::from_secs(steady)) {
                    Ok(s) => report.steady(imp, mode, &s),
                    Err(e) => eprintln!("  {e}"),
                }
            }
        }
    }
    if want("jitter") {
        for imp in &impls {
            for hogs in [0usize, 2] {
                eprintln!("jitter: {} hogs={hogs} for {jitter} s", imp.name());
                match measure::jitter(imp, hogs, Duration::from_secs(jitter)) {
                    Ok(s) => report.jitter(imp, hogs, &s),
                    Err(e) => eprintln!("  {e}"),
                }
            }
        }
    }
    print!("{}", report.render());
}
