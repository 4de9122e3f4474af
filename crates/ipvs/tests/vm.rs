//! rk-ipvs against the real kernel: builds `ipvs-vm-suite` statically, boots
//! the rk-testkit VM (Debian's kernel, IPVS modules, `ipvsadm`), runs the
//! suite there and reports each of its checks here. Needs root and apt (CI
//! has both); `RK_SKIP_VM_TESTS=1` skips it on a laptop.
//!
//! `RK_UPDATE_FIXTURES=1` also writes the kernel replies the suite captured
//! into `tests/fixtures/`, which `tests/codec_fixtures.rs` checks without a VM.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rk_testkit::vm::{IPVS_MODULES, VmSpec, build_static, host::ensure_packages, skip_requested};

#[test]
fn ipvs_suite_in_vm() {
    if skip_requested() {
        return;
    }
    ensure_packages(&[("/usr/sbin/ipvsadm", "ipvsadm")]).expect("install ipvsadm");
    let bins = build_static("rk-ipvs", &["ipvs-vm-suite"]).expect("static build of ipvs-vm-suite");
    let outcome = VmSpec::new()
        .modules(IPVS_MODULES)
        .host_program(Path::new("/usr/sbin/ipvsadm"))
        .expect("ipvsadm into the VM")
        .host_file(&bins.path("ipvs-vm-suite"), "/rk/ipvs-vm-suite", 0o755)
        .expect("suite into the VM")
        .script("RK_IN_VM=1 /rk/ipvs-vm-suite\n")
        .timeout(Duration::from_secs(240))
        .run()
        .expect("VM run");
    eprintln!("VM run took {:?}", outcome.elapsed);

    let checks: Vec<&str> = outcome.lines_with_prefix("RK-CHECK ").collect();
    for c in &checks {
        eprintln!("{c}");
    }
    if std::env::var_os("RK_UPDATE_FIXTURES").is_some() {
        write_fixtures(outcome.lines_with_prefix("RK-FIXTURE "));
    }
    let failed: Vec<&&str> = checks.iter().filter(|c| !c.starts_with("ok ")).collect();
    assert!(
        failed.is_empty(),
        "failed checks: {failed:#?}\n--- serial ---\n{}",
        outcome.serial
    );
    assert!(
        checks.len() >= 11,
        "only {} checks ran:\n{}",
        checks.len(),
        outcome.serial
    );
    assert_eq!(outcome.exit_code, 0, "{}", outcome.serial);
}

fn write_fixtures<'a>(lines: impl Iterator<Item = &'a str>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::create_dir_all(&dir).expect("fixtures dir");
    for line in lines {
        let Some((name, hex)) = line.split_once(' ') else {
            continue;
        };
        std::fs::write(dir.join(format!("{name}.hex")), format!("{hex}\n")).expect("write fixture");
    }
}
