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
        .script(&format!("RK_IN_VM=1 /rk/ipvs-bench {sizes}\n"))
        .timeout(Duration::from_secs(3000))
        .run()
        .expect("VM run");
    let lines: Vec<&str> = outcome.lines_with_prefix("RK-BENCH ").collect();
    for l in &lines {
        println!("{l}");
    }
    assert_eq!(outcome.exit_code, 0, "{}", outcome.serial);
    for l in lines.iter().filter(|l| l.starts_with("n=10000 ")) {
        let field = |k: &str| -> f64 {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
                .unwrap_or(0.0)
        };
        assert!(
            field("apply_speedup") >= 3.0,
            "programming target missed: {l}"
        );
        assert!(field("dump_speedup") >= 3.0, "dump target missed: {l}");
    }
}
