//! End to end in the LVS lab (rk_testkit::lvs_lab): a client, two directors and three
//! web servers in network namespaces of the test-bed VM (Debian's kernel, real IPVS).
//!
//! `rkeepalived_lvs_lab` boots the VM once and runs, against rkeepalived: LVS-DR (rules
//! follow the VIP), LVS-DR with inhibit_on_failure / quorum / sorry server, LVS-NAT with
//! a sync group, master/master, and LVS-DR with `lvs_rules_everywhere` side by side with
//! keepalived 2.2.7 on the same scenario (the failover figures of both are printed).
//! `keepalived_lvs_lab` (ignored: the harness's own check) runs every scenario against
//! keepalived 2.2.7 alone.
//!
//! Needs root and apt (CI has both); `RK_SKIP_VM_TESTS=1` skips it. `RK_VM_ECHO=1` shows
//! the VM's console while it runs.

use std::path::PathBuf;
use std::time::Duration;

use rk_testkit::lvs_lab::{Daemon, LabReport, LvsLab, Phase, Scenario};
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

const SCENARIOS: [Scenario; 4] = [
    Scenario::Dr,
    Scenario::Features,
    Scenario::Nat,
    Scenario::MasterMaster,
];

fn report(report: &LabReport, phases: &[Phase], min_checks_per_phase: usize) {
    eprintln!("{}", report.summary());
    // On failure: the console, then each failing phase's director logs (daemon lines with
    // the lab's checks, requests and diagnostics in between), then the failed checks.
    assert!(report.failed().is_empty(), "{}", report.explain());
    // Every phase ran to its end (a phase that stopped early reports fewer checks).
    for p in phases {
        let n = report.phase_checks(&p.name()).count();
        assert!(
            n >= min_checks_per_phase,
            "phase {} ran only {n} checks\n--- serial ---\n{}",
            p.name(),
            report.outcome.serial
        );
    }
    assert_eq!(report.outcome.exit_code, 0, "{}", report.outcome.serial);
}

#[test]
fn rkeepalived_lvs_lab() {
    if skip_requested() {
        return;
    }
    let binary = rkeepalived_binary();
    let mut lab = LvsLab::new().expect("lab tools");
    lab.keepalived()
        .expect("keepalived into the VM")
        .rkeepalived(&binary)
        .expect("rkeepalived into the VM");
    let mut phases: Vec<Phase> = SCENARIOS
        .iter()
        .map(|s| Phase::new(*s, Daemon::Rkeepalived))
        .collect();
    // keepalived's mode, by both daemons, for the comparison.
    phases.push(Phase::new(Scenario::Dr, Daemon::Rkeepalived).everywhere());
    phases.push(Phase::new(Scenario::Dr, Daemon::Keepalived));
    for p in &phases {
        lab.phase(p);
    }
    lab.spec().timeout(Duration::from_secs(1200));
    let r = lab.run().expect("VM run");
    report(&r, &phases, 8);
}

/// Not in CI: a flake chaser. `RK_LVS_REPEAT` (default 4) rounds of the master/master phase
/// then the `lvs_rules_everywhere` LVS-DR phase (the pair in which `rr_over_three` once
/// failed), all in one VM boot.
#[test]
#[ignore = "chases a flake: the rules-everywhere DR phase again and again (about 4 minutes)"]
fn rkeepalived_lvs_lab_repeat() {
    if skip_requested() {
        return;
    }
    let rounds: usize = std::env::var("RK_LVS_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let binary = rkeepalived_binary();
    let mut lab = LvsLab::new().expect("lab tools");
    lab.rkeepalived(&binary).expect("rkeepalived into the VM");
    // Every phase's logs and a diagnosis after each rotation, failed or not (printed below).
    lab.step("LOGS_ALWAYS=1");
    let mut phases = Vec::new();
    for _ in 0..rounds {
        phases.push(Phase::new(Scenario::MasterMaster, Daemon::Rkeepalived));
        phases.push(Phase::new(Scenario::Dr, Daemon::Rkeepalived).everywhere());
    }
    for p in &phases {
        lab.phase(p);
    }
    lab.spec()
        .timeout(Duration::from_secs(120 + 90 * rounds as u64));
    let r = lab.run().expect("VM run");
    for (phase, line) in &r.logs {
        eprintln!("{phase} {line}");
    }
    report(&r, &phases, 8);
}

#[test]
#[ignore = "the harness against keepalived 2.2.7 alone (every scenario, about 5 minutes)"]
fn keepalived_lvs_lab() {
    if skip_requested() {
        return;
    }
    let mut lab = LvsLab::new().expect("lab tools");
    lab.keepalived().expect("keepalived into the VM");
    let phases: Vec<Phase> = SCENARIOS
        .iter()
        .map(|s| Phase::new(*s, Daemon::Keepalived))
        .collect();
    for p in &phases {
        lab.phase(p);
    }
    let r = lab.run().expect("VM run");
    report(&r, &phases, 8);
}
