//! The IPVS benchmark in the VM (ignored by default: it takes minutes).
//! Run: `cargo test -p rk-ipvs --test vm_bench -- --ignored --nocapture`
//! (or `benches/ipvs/run.sh`). Sizes come from `RK_BENCH_SIZES`
//! (default "1000 10000 50000"). Fails if the 10,000-service figures miss
//! the targets (programming and dump each ≥ 3× faster than ipvsadm).

use std::path::Path;
use std::time::Duration;

use rk_testkit::vm::{IPVS_MODULES, VmSpec, build_static, host::ensure_packages};

#[test]
#[ignore = "benchmark: minutes of emulated VM time"]
fn ipvs_bench_in_vm() {
    ensure_packages(&[("/usr/sbin/ipvsadm", "ipvsadm")]).expect("install ipvsadm");
    let sizes = std::env::var("RK_BENCH_SIZES").unwrap_or_else(|_| "1000 10000 50000".into());
    let bins = build_static("rk-ipvs", &["ipvs-bench"]).expect("static build of ipvs-bench");
    let outcome = VmSpec::new()
        .modules(IPVS_MODULES)
        .memory_mb(2048)
        .host_program(Path::new("/usr/sbin/ipvsadm"))
        .expect("ipvsadm")
        .host_file(&bins.path("ipvs-bench"), "/rk/ipvs-bench", 0o755)
        .expect("bench binary")
        .script(&format!(
            "for n in {sizes}; do for side in theirs ours; do \
               RK_IN_VM=1 unshare -n sh -c \"ip link set lo up && /rk/ipvs-bench $side $n\" || exit 1; done; done\n"
        ))
        .timeout(Duration::from_secs(3000))
        .run()
        .expect("VM run");
    let lines: Vec<&str> = outcome.lines_with_prefix("RK-BENCH ").collect();
    for l in &lines {
        println!("{l}");
    }
    assert_eq!(outcome.exit_code, 0, "{}", outcome.serial);
    let field = |l: &str, k: &str| -> f64 {
        l.split_whitespace()
            .find_map(|w| w.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
            .unwrap_or(f64::NAN)
    };
    for n in sizes.split_whitespace() {
        let side = |s: &str| {
            lines
                .iter()
                .find(|l| l.starts_with(&format!("side={s} n={n} ")))
                .copied()
        };
        let (Some(theirs), Some(ours)) = (side("theirs"), side("ours")) else {
            panic!("missing n={n} lines")
        };
        let program = field(theirs, "program_ms") / field(ours, "program_ms");
        // Dump: both tools listing the same tables, best of the two tables.
        let list = field(theirs, "ipvsadm_list_ms").min(field(ours, "ipvsadm_list_ms"));
        let dump = field(theirs, "rk_dump_ms").min(field(ours, "rk_dump_ms"));
        println!(
            "RESULT n={n}: ipvsadm -R {:.0} ms, apply {:.0} ms ({program:.1}x); ipvsadm -Ln {list:.0} ms, dump {dump:.0} ms ({:.1}x)",
            field(theirs, "program_ms"),
            field(ours, "program_ms"),
            list / dump
        );
        if n == "10000" {
            assert!(
                program >= 3.0,
                "programming target missed at n={n}: {program:.1}x"
            );
            assert!(
                list / dump >= 3.0,
                "dump target missed at n={n}: {:.1}x",
                list / dump
            );
        }
    }
}
