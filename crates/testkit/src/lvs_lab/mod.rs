//! The LVS lab: a director pair in front of three web servers, inside the test-bed VM.
//!
//! One VM, one network namespace per host (`client`, `dir1`, `dir2`, `web1`-`web3`,
//! `sorry`), two bridges: `br0` the outside LAN 10.0.0.0/24 (client, directors, and the
//! web servers in LVS-DR mode, which carry the VIPs on `lo` with `arp_ignore=1`,
//! `arp_announce=2`) and `br1` the inside LAN 192.168.10.0/24 (LVS-NAT: the web servers'
//! default route is the directors' gateway VIP 192.168.10.1). Web servers are busybox
//! `httpd` serving a page that names the server; the client is busybox `wget`. The
//! directors run keepalived 2.2.7 (copied with its libraries) or rkeepalived (a static
//! build) on configurations from [`conf`], which double as the shipped examples.
//!
//! The shell side lives in `lab.sh` (topology, web servers, client, IPVS and VIP queries,
//! daemons, measured failover) and `phases.sh` (one function per end-to-end scenario);
//! both are readable on their own and go into the VM as `/rk/lab.sh` and `/rk/phases.sh`.
//! Checks print `RK-CHECK ok|FAIL phase/name: detail`, measurements
//! `RK-FIGURE phase/name value`; [`LabReport`] collects them.
//!
//! ```no_run
//! use rk_testkit::lvs_lab::{Daemon, LvsLab, Phase, Scenario};
//! # fn main() -> Result<(), rk_testkit::VmError> {
//! let mut lab = LvsLab::new()?;
//! lab.keepalived()?;                                   // /usr/sbin/keepalived + its libraries
//! lab.phase(&Phase::new(Scenario::Dr, Daemon::Keepalived));
//! let report = lab.run()?;                             // boots, runs, powers off
//! assert!(report.failed().is_empty(), "{}", report.summary());
//! # Ok(()) }
//! ```

pub mod conf;

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

pub use conf::{CheckTimers, Daemon, Director, Layout, Method, PairConf};

use crate::error::VmError;
use crate::vm::host::ensure_packages;
use crate::vm::{IPVS_MODULES, VmOutcome, VmSpec};

/// The shell library: topology, web servers, client, queries, daemons, failover.
pub const LAB_SH: &str = include_str!("lab.sh");
/// The end-to-end scenarios, one shell function per [`Scenario`].
pub const PHASES_SH: &str = include_str!("phases.sh");
/// The guided tour of `scripts/demo`.
pub const DEMO_SH: &str = include_str!("demo.sh");

/// The demo prints what comes between these two lines.
pub const DEMO_BEGIN: &str = "RK-DEMO-BEGIN";
/// See [`DEMO_BEGIN`].
pub const DEMO_END: &str = "RK-DEMO-END";

/// How `phase_logs` (lab.sh) marks each line of a director's log.
const LOG_PREFIX: &str = "RK-LOG ";

/// Where rkeepalived goes in the VM (`lab.sh` starts it from there).
pub const GUEST_RKEEPALIVED: &str = "/rk/rkeepalived";

/// The daemons' default reconcile period (`lvs_reconcile_interval`), in seconds: the
/// drift-repair check allows twice that.
pub const RECONCILE_PERIOD_S: u32 = 5;

/// An end-to-end scenario (a function of `phases.sh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// LVS-DR: rr spread, backup without rules, a web server leaving and returning,
    /// drift repair (rkeepalived), the SIGUSR1 dump, master death, SIGTERM.
    Dr,
    /// LVS-DR with `inhibit_on_failure` (weight 0) and quorum with a sorry server.
    Features,
    /// LVS-NAT with a sync group: both VIPs move together, rr spread, master death.
    Nat,
    /// Master/master: one VIP and its virtual server per director; one dies.
    MasterMaster,
}

impl Scenario {
    /// The configuration the scenario runs.
    pub fn pair(self) -> PairConf {
        match self {
            Scenario::Dr => PairConf::dr(),
            Scenario::Features => PairConf::features(),
            Scenario::Nat => PairConf::nat(),
            Scenario::MasterMaster => PairConf::master_master(),
        }
    }

    fn function(self) -> &'static str {
        match self {
            Scenario::Dr => "phase_dr",
            Scenario::Features => "phase_features",
            Scenario::Nat => "phase_nat",
            Scenario::MasterMaster => "phase_master_master",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Scenario::Dr => "dr",
            Scenario::Features => "features",
            Scenario::Nat => "nat",
            Scenario::MasterMaster => "master-master",
        }
    }
}

/// One scenario run by one daemon in one rules mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    /// What runs.
    pub scenario: Scenario,
    /// Who runs the directors.
    pub daemon: Daemon,
    /// `lvs_rules_everywhere` (always the case for keepalived).
    pub rules_everywhere: bool,
}

impl Phase {
    /// The scenario with rules following the VIP (rkeepalived's default).
    pub fn new(scenario: Scenario, daemon: Daemon) -> Phase {
        Phase {
            scenario,
            daemon,
            rules_everywhere: daemon == Daemon::Keepalived,
        }
    }

    /// The same with `lvs_rules_everywhere`.
    pub fn everywhere(self) -> Phase {
        Phase {
            rules_everywhere: true,
            ..self
        }
    }

    /// `rk-dr`, `rk-dr-everywhere`, `ka-nat`, …
    pub fn name(&self) -> String {
        let mut n = format!("{}-{}", self.daemon.tag(), self.scenario.tag());
        if self.rules_everywhere && self.daemon == Daemon::Rkeepalived {
            n.push_str("-everywhere");
        }
        n
    }

    /// The configuration the phase runs.
    pub fn pair(&self) -> PairConf {
        let pair = self.scenario.pair();
        if self.rules_everywhere {
            pair.everywhere()
        } else {
            pair
        }
    }
}

/// A VM with the lab's tools and topology, to which phases and shell steps are added.
#[derive(Debug, Clone)]
pub struct LvsLab {
    spec: VmSpec,
    steps: String,
}

impl LvsLab {
    /// The VM with the IPVS modules, iproute2's `ip`, `ipvsadm` (installed with apt when
    /// missing), the shell library and the topology; 1 GiB, 2 CPUs, 15 minutes.
    pub fn new() -> Result<LvsLab, VmError> {
        ensure_packages(&[
            ("/usr/sbin/ipvsadm", "ipvsadm"),
            ("/usr/sbin/ip", "iproute2"),
        ])?;
        let mut spec = VmSpec::new();
        spec.modules(IPVS_MODULES)
            .memory_mb(1024)
            .cpus(2)
            .timeout(Duration::from_secs(900))
            .host_program(Path::new("/usr/sbin/ip"))?
            .host_program(Path::new("/usr/sbin/ipvsadm"))?
            .file("/rk/lab.sh", LAB_SH.as_bytes().to_vec(), 0o644)
            .file("/rk/phases.sh", PHASES_SH.as_bytes().to_vec(), 0o644);
        Ok(LvsLab {
            spec,
            steps: String::new(),
        })
    }

    /// Debian's keepalived (installed with apt when missing) with its shared libraries.
    pub fn keepalived(&mut self) -> Result<&mut Self, VmError> {
        ensure_packages(&[("/usr/sbin/keepalived", "keepalived")])?;
        self.spec.host_program(Path::new("/usr/sbin/keepalived"))?;
        Ok(self)
    }

    /// A (static) rkeepalived binary, as [`GUEST_RKEEPALIVED`].
    pub fn rkeepalived(&mut self, binary: &Path) -> Result<&mut Self, VmError> {
        self.spec.host_file(binary, GUEST_RKEEPALIVED, 0o755)?;
        Ok(self)
    }

    /// The VM being built, for memory, CPUs, timeout or extra files.
    pub fn spec(&mut self) -> &mut VmSpec {
        &mut self.spec
    }

    /// Put both directors' configurations for `daemon` into `/rk/conf/NAME/` and return
    /// that directory.
    pub fn pair_conf(&mut self, name: &str, pair: &PairConf, daemon: Daemon) -> String {
        let dir = format!("/rk/conf/{name}");
        for d in [Director::Dir1, Director::Dir2] {
            self.spec.file(
                &format!("{dir}/{}.conf", d.name()),
                pair.render(d, daemon).into_bytes(),
                0o644,
            );
        }
        dir
    }

    /// Run a scenario (its checks and figures carry the phase's name).
    pub fn phase(&mut self, phase: &Phase) -> &mut Self {
        let name = phase.name();
        let conf = self.pair_conf(&name, &phase.pair(), phase.daemon);
        let t = phase.pair().timers;
        // Twice the bounds: the VM is emulated and shares two cores. rkeepalived logs each
        // IPVS operation (a few dozen lines per phase). A phase that failed a check prints
        // both directors' logs of the phase (`RK-LOG` lines, see [`LabReport::explain`]).
        let _ = write!(
            self.steps,
            "\nPHASE={name}\nDAEMON={daemon}\nCONF={conf}\nEVERYWHERE={every}\n\
             LEAVE_CS={leave}\nRETURN_CS={ret}\nRECONCILE_CS={rec}\n\
             RK_LOG_FILTER=info,rk_coordinator=debug\n\
             echo \"== phase $PHASE\"\nnote \"phase $PHASE begins\"\n_f0=$FAILS\n\
             _tp=$(cs)\n{func}\nfigure wall_s $(secs $(($(cs) - _tp)))\n\
             [ $FAILS = $_f0 ] && [ \"${{LOGS_ALWAYS:-0}}\" = 0 ] || {{ phase_logs; LOGGED=1; }}\n",
            daemon = phase.daemon.name(),
            every = u8::from(phase.rules_everywhere),
            leave = 2 * 100 * t.leave_bound(),
            ret = 2 * 100 * t.return_bound(),
            rec = 2 * 100 * RECONCILE_PERIOD_S,
            func = phase.scenario.function(),
        );
        self
    }

    /// The guided tour (`demo.sh`) on the LVS-DR pair of `conf/lvs-dr/`, run by `daemon`
    /// (which must have been added). Its output lies between [`DEMO_BEGIN`] and
    /// [`DEMO_END`].
    pub fn demo(&mut self, daemon: Daemon) -> &mut Self {
        let pair = PairConf::dr();
        let conf = self.pair_conf("demo", &pair, daemon);
        self.spec
            .file("/rk/demo.sh", DEMO_SH.as_bytes().to_vec(), 0o644);
        let t = pair.timers;
        let _ = write!(
            self.steps,
            "\nPHASE=demo\nDAEMON={}\nCONF={conf}\nLEAVE_CS={}\nRETURN_CS={}\n. /rk/demo.sh\ndemo\n",
            daemon.name(),
            2 * 100 * t.leave_bound(),
            2 * 100 * t.return_bound(),
        );
        self
    }

    /// Append shell to the scenario (runs after the topology and earlier steps, with
    /// `lab.sh` and `phases.sh` loaded).
    pub fn step(&mut self, sh: &str) -> &mut Self {
        self.steps.push_str(sh);
        if !sh.ends_with('\n') {
            self.steps.push('\n');
        }
        self
    }

    /// The whole scenario script.
    pub fn script(&self) -> String {
        format!(
            ". /rk/lab.sh\n. /rk/phases.sh\n\
             # The kernel's messages would interleave with ours on the console.\n\
             dmesg -n 1\n\
             lab_topology\n{}\n\
             echo \"RK-LAB-FAILS=$FAILS\"\n\
             # Failing phases printed their own logs; a failing step prints the ends of all.\n\
             [ $FAILS = 0 ] || [ \"${{LOGGED:-0}}\" = 1 ] || lab_logs\n\
             [ $FAILS = 0 ]\n",
            self.steps
        )
    }

    /// Boot, run every phase and step, power off.
    pub fn run(&mut self) -> Result<LabReport, VmError> {
        let script = self.script();
        let outcome = self.spec.script(&script).run()?;
        Ok(LabReport::from_outcome(outcome))
    }
}

/// One `RK-CHECK` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// It passed.
    pub ok: bool,
    /// `phase/name`.
    pub name: String,
    /// What it saw.
    pub detail: String,
}

/// The checks and figures of a lab run.
#[derive(Debug, Clone)]
pub struct LabReport {
    /// The VM's output and exit status.
    pub outcome: VmOutcome,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Every `RK-FIGURE` as (`phase/name`, value).
    pub figures: Vec<(String, String)>,
    /// The directors' log lines that phases with a failed check printed (`RK-LOG PHASE
    /// NODE| line`), as (phase, `NODE| line`).
    pub logs: Vec<(String, String)>,
}

impl LabReport {
    /// Parse the serial output.
    pub fn from_outcome(outcome: VmOutcome) -> LabReport {
        let checks = outcome
            .lines_with_prefix("RK-CHECK ")
            .filter_map(|l| {
                let (status, rest) = l.split_once(' ')?;
                let (name, detail) = rest.split_once(": ").unwrap_or((rest, ""));
                Some(Check {
                    ok: status == "ok",
                    name: name.trim().to_owned(),
                    detail: detail.trim().to_owned(),
                })
            })
            .collect();
        let figures = outcome
            .lines_with_prefix("RK-FIGURE ")
            .filter_map(|l| {
                let (k, v) = l.split_once(' ')?;
                Some((k.to_owned(), v.trim().to_owned()))
            })
            .collect();
        let logs = outcome
            .lines_with_prefix(LOG_PREFIX)
            .filter_map(|l| {
                let (phase, line) = l.split_once(' ')?;
                Some((phase.to_owned(), line.to_owned()))
            })
            .collect();
        LabReport {
            outcome,
            checks,
            figures,
            logs,
        }
    }

    /// For a failed run: the console without the log lines, then each failing phase's
    /// directors' logs (the daemons' lines with the lab's `@@` notes in between: checks,
    /// requests, diagnostics), then the failed checks.
    pub fn explain(&self) -> String {
        let mut s = String::from("--- serial (phase logs left out) ---\n");
        for l in self.outcome.serial.lines() {
            if !l.starts_with(LOG_PREFIX) {
                s.push_str(l);
                s.push('\n');
            }
        }
        let failed = self.failed();
        let mut phases: Vec<&str> = failed
            .iter()
            .filter_map(|c| c.name.split_once('/').map(|(p, _)| p))
            .collect();
        phases.dedup();
        for p in phases {
            let _ = writeln!(s, "--- {p}: the directors' logs ---");
            for (_, line) in self.logs.iter().filter(|(lp, _)| lp == p) {
                let _ = writeln!(s, "{line}");
            }
        }
        s.push_str("--- failed checks ---\n");
        for c in failed {
            let _ = writeln!(s, "FAIL {}: {}", c.name, c.detail);
        }
        s
    }

    /// The checks that failed.
    pub fn failed(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.ok).collect()
    }

    /// The checks of one phase.
    pub fn phase_checks<'a>(&'a self, phase: &str) -> impl Iterator<Item = &'a Check> + 'a {
        let prefix = format!("{phase}/");
        self.checks
            .iter()
            .filter(move |c| c.name.starts_with(&prefix))
    }

    /// A figure's value.
    pub fn figure(&self, name: &str) -> Option<&str> {
        self.figures
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every check and figure, one per line, then the run's wall time.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for c in &self.checks {
            let _ = writeln!(
                s,
                "{} {}: {}",
                if c.ok { "ok  " } else { "FAIL" },
                c.name,
                c.detail
            );
        }
        for (k, v) in &self.figures {
            let _ = writeln!(s, "figure {k} = {v}");
        }
        let _ = writeln!(
            s,
            "VM run {:.0} s, exit status {}",
            self.outcome.elapsed.as_secs_f64(),
            self.outcome.exit_code
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_names_and_modes() {
        let p = Phase::new(Scenario::Dr, Daemon::Rkeepalived);
        assert_eq!(p.name(), "rk-dr");
        assert!(!p.pair().rules_everywhere);
        assert_eq!(p.everywhere().name(), "rk-dr-everywhere");
        let k = Phase::new(Scenario::Nat, Daemon::Keepalived);
        assert_eq!(k.name(), "ka-nat");
        assert!(k.rules_everywhere, "keepalived always installs everywhere");
    }

    #[test]
    fn report_parses_checks_and_figures() {
        let outcome = VmOutcome {
            serial: "boot\nRK-CHECK ok rk-dr/a: seen x\nRK-CHECK FAIL rk-dr/b: no\n\
                     RK-FIGURE rk-dr/failover_http_s 1.20\nRK-VM-EXIT=1\n"
                .into(),
            exit_code: 1,
            elapsed: Duration::from_secs(3),
        };
        let r = LabReport::from_outcome(outcome);
        assert_eq!(r.checks.len(), 2);
        assert_eq!(r.failed().len(), 1);
        assert_eq!(r.failed()[0].name, "rk-dr/b");
        assert_eq!(r.phase_checks("rk-dr").count(), 2);
        assert_eq!(r.figure("rk-dr/failover_http_s"), Some("1.20"));
    }

    #[test]
    fn explain_shows_the_failing_phase_logs() {
        let outcome = VmOutcome {
            serial: "RK-CHECK ok rk-nat/a: fine\nRK-LOG rk-nat dir1| nat line\n\
                     RK-CHECK FAIL rk-dr/b: web1 web1\nRK-LOG rk-dr dir1| 12:00 INFO start\n\
                     RK-LOG rk-dr dir2| @@ FAIL b: web1 web1\nRK-VM-EXIT=1\n"
                .into(),
            exit_code: 1,
            elapsed: Duration::from_secs(3),
        };
        let r = LabReport::from_outcome(outcome);
        assert_eq!(r.logs.len(), 3);
        let e = r.explain();
        assert!(e.contains("--- rk-dr: the directors' logs ---\ndir1| 12:00 INFO start\ndir2| @@ FAIL b: web1 web1\n"), "{e}");
        assert!(!e.contains("nat line"), "{e}");
        assert!(!e.contains("RK-LOG"), "{e}");
        assert!(
            e.ends_with("--- failed checks ---\nFAIL rk-dr/b: web1 web1\n"),
            "{e}"
        );
    }

    #[test]
    fn shell_is_valid_for_sh_n() {
        // `sh -n` parses without running: catches a broken edit of the shell library.
        for (name, text) in [
            ("lab.sh", LAB_SH),
            ("phases.sh", PHASES_SH),
            ("demo.sh", DEMO_SH),
        ] {
            let out = std::process::Command::new("sh")
                .arg("-n")
                .arg("-c")
                .arg(text)
                .output();
            if let Ok(out) = out {
                assert!(
                    out.status.success(),
                    "{name}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}
