//! The runner itself: boots Debian's kernel, loads the IPVS modules,
//! passes files in, and carries the scenario's exit status out.

use std::time::Duration;

use rk_testkit::vm::{IPVS_MODULES, VmSpec, skip_requested};

#[test]
fn boots_loads_ipvs_and_reports_exit_status() {
    if skip_requested() {
        return;
    }
    let outcome = VmSpec::new()
        .modules(IPVS_MODULES)
        .file("/rk/hello.txt", b"hello from the host\n".to_vec(), 0o644)
        .symlink("/rk/hello-link", "/rk/hello.txt")
        .script(
            "set -e\n\
             cat /rk/hello-link\n\
             head -1 /proc/net/ip_vs\n\
             grep -q '^ip_vs_mh ' /proc/modules\n\
             if grep -q . /dev/null; then exit 1; fi\n\
             ! grep RK-VM-MODULE-FAILED /dev/null\n\
             exit 7\n",
        )
        .timeout(Duration::from_secs(120))
        .run()
        .expect("VM runs");
    assert_eq!(outcome.exit_code, 7, "{}", outcome.serial);
    assert!(
        outcome.serial.contains("hello from the host"),
        "{}",
        outcome.serial
    );
    assert!(
        outcome.serial.contains("IP Virtual Server version"),
        "{}",
        outcome.serial
    );
    assert!(
        !outcome.serial.contains("RK-VM-MODULE-FAILED"),
        "{}",
        outcome.serial
    );
    eprintln!("VM smoke run took {:?}", outcome.elapsed);
}
