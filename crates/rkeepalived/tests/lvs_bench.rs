//! The LVS benchmark (`benches/lvs/run.sh`), rkeepalived beside keepalived 2.2.7 in one
//! run of the test-bed VM (`benches/lvs/bench.sh` does the measuring):
//! * master death → first successful HTTP response through the VIP, at 1, 1,000 and
//!   10,000 services, for keepalived, rkeepalived (rules follow the VIP) and rkeepalived
//!   with `lvs_rules_everywhere`;
//! * cold start → every rule in the kernel at 10,000 services × 5 real servers, and the
//!   resident memory then;
//! * SIGTERM at 5,000 services × 4: time to exit and services left in the kernel.
//!
//! The VM is emulated (TCG): only ratios within one run mean anything. Sizes:
//! `RK_LVS_BENCH_FAILOVER="1 1000 10000"`, `RK_LVS_BENCH_COLD=10000x5`,
//! `RK_LVS_BENCH_STOP=5000x4`. Ignored by default (about half an hour).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use rk_testkit::lvs_lab::{Daemon, LvsLab, PairConf};
use rk_testkit::vm::{build_static, skip_requested};

/// The static rkeepalived for the VM: `RK_VM_RKEEPALIVED` if set (a binary built
/// earlier), else a fresh static build of this workspace.
fn rkeepalived_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("RK_VM_RKEEPALIVED") {
        return PathBuf::from(p);
    }
    build_static("rkeepalived", &["rkeepalived"])
        .expect("static rkeepalived")
        .path("rkeepalived")
}

const BENCH_SH: &str = include_str!("../../../benches/lvs/bench.sh");

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[test]
#[ignore = "benchmark: benches/lvs/run.sh (about half an hour)"]
fn lvs_benchmark() {
    if skip_requested() {
        return;
    }
    let failover = env_or("RK_LVS_BENCH_FAILOVER", "1 1000 10000");
    let cold = env_or("RK_LVS_BENCH_COLD", "10000x5");
    let stop = env_or("RK_LVS_BENCH_STOP", "5000x4");
    let binary = rkeepalived_binary();
    let mut lab = LvsLab::new().expect("lab tools");
    lab.keepalived()
        .expect("keepalived into the VM")
        .rkeepalived(&binary)
        .expect("rkeepalived into the VM");
    lab.pair_conf("ka", &PairConf::dr(), Daemon::Keepalived);
    lab.pair_conf("rk", &PairConf::dr(), Daemon::Rkeepalived);
    lab.pair_conf(
        "rk-everywhere",
        &PairConf::dr().everywhere(),
        Daemon::Rkeepalived,
    );
    lab.spec()
        .memory_mb(3072)
        .timeout(Duration::from_secs(4 * 3600))
        .file("/rk/bench.sh", BENCH_SH.as_bytes().to_vec(), 0o644);
    lab.step(&format!(
        ". /rk/bench.sh\nBENCH_FAILOVER_SIZES=\"{failover}\"\nCOLD={cold}\nSTOP={stop}\nbench_main\n"
    ));
    let report = lab.run().expect("VM run");
    eprintln!("{}", report.summary());

    // One markdown table per measurement, rows as the figures came.
    let mut rows: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (k, v) in &report.figures {
        if let Some((phase, name)) = k.split_once('/') {
            rows.entry(phase.to_owned())
                .or_default()
                .push((name.to_owned(), v.clone()));
        }
    }
    println!("\n| run | figures |\n|---|---|");
    for (phase, figs) in &rows {
        let f: Vec<String> = figs.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("| {phase} | {} |", f.join(", "));
    }
    let failed = report.failed();
    assert!(
        failed.is_empty(),
        "failed: {failed:#?}\n--- serial ---\n{}",
        report.outcome.serial
    );
}
