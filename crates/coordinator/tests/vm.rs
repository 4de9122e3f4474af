//! rk-coordinator against the real kernel: builds `coordinator-vm-suite`
//! statically, boots the rk-testkit VM once (Debian's kernel with IPVS,
//! `ipvsadm`, iproute2's `ip` for namespaces) and reports each of its checks
//! and measurements here. Needs root and apt (CI has both);
//! `RK_SKIP_VM_TESTS=1` skips it on a laptop.

use std::path::Path;
use std::time::Duration;

use rk_testkit::vm::{IPVS_MODULES, VmSpec, build_static, host::ensure_packages, skip_requested};

#[test]
fn coordinator_suite_in_vm() {
    if skip_requested() {
        return;
    }
    ensure_packages(&[
        ("/usr/sbin/ipvsadm", "ipvsadm"),
        ("/usr/sbin/ip", "iproute2"),
    ])
    .expect("install ipvsadm and iproute2");
    let bins = build_static("rk-coordinator", &["coordinator-vm-suite"])
        .expect("static build of coordinator-vm-suite");
    let outcome = VmSpec::new()
        .modules(IPVS_MODULES)
        .memory_mb(2048)
        .host_program(Path::new("/usr/sbin/ipvsadm"))
        .expect("ipvsadm into the VM")
        .host_program(Path::new("/usr/sbin/ip"))
        .expect("ip into the VM")
        .host_file(
            &bins.path("coordinator-vm-suite"),
            "/rk/coordinator-vm-suite",
            0o755,
        )
        .expect("suite into the VM")
        .script("RK_IN_VM=1 /rk/coordinator-vm-suite\n")
        .timeout(Duration::from_secs(900))
        .run()
        .expect("VM run");
    eprintln!("VM run took {:?}", outcome.elapsed);

    let checks: Vec<&str> = outcome.lines_with_prefix("RK-CHECK ").collect();
    for c in &checks {
        eprintln!("{c}");
    }
    for f in outcome.lines_with_prefix("RK-FIGURE ") {
        eprintln!("figure: {f}");
    }
    let failed: Vec<&&str> = checks.iter().filter(|c| !c.starts_with("ok ")).collect();
    assert!(
        failed.is_empty(),
        "failed checks: {failed:#?}\n--- serial ---\n{}",
        outcome.serial
    );
    assert!(
        checks.len() >= 13,
        "only {} checks ran:\n{}",
        checks.len(),
        outcome.serial
    );
    assert_eq!(outcome.exit_code, 0, "{}", outcome.serial);
}
