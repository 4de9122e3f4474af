//! keepalived's checker process beside our runner on the same N TCP_CHECKs, in one boot of
//! the rk-testkit VM (Debian's kernel with IPVS, keepalived 2.2.7 copied in with its
//! libraries). Run: `benches/checkers/run.sh` (=
//! `cargo test -p rk-checkers --test vm_lab -- --ignored --nocapture`). Sizes come from
//! `RK_CHECKERS_VM_SIZES` (default "500 3000"), the measuring window from
//! `RK_CHECKERS_VM_SECS` (default 15 s), the order of the sides from `RK_CHECKERS_VM_SIDES`
//! (default "ours keepalived keepalived ours": each twice, in an order that cancels a
//! steady drift of the host's load; `raw` adds the probes without the runner). The in-VM program is `benches/vm_lab.rs`; the
//! figures are in `BENCHMARKS-checkers.md`.
//!
//! Ignored by default: minutes of emulated VM time. The VM runs under software
//! emulation (TCG), so only the ratios between the two sides of one run mean anything.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rk_testkit::vm::{IPVS_MODULES, VmSpec, host::ensure_packages, skip_requested};
use rk_testkit::workspace_root;

/// Builds `benches/vm_lab.rs` statically (as `rk_testkit::vm::build_static` does for
/// binaries, in the same `target/vm` directory) and returns the executable's path.
fn build_lab() -> PathBuf {
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "x86_64-unknown-linux-gnu",
            "-p",
            "rk-checkers",
            "--bench",
            "vm_lab",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--target-dir")
        .arg(root.join("target").join("vm"))
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "static build of the vm_lab bench failed"
    );
    // The artifact line of the bench target carries `"executable":"PATH"`.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"name\":\"vm_lab\"") && l.contains("\"executable\":\""))
        .find_map(|l| {
            let rest = l.split("\"executable\":\"").nth(1)?;
            Some(PathBuf::from(rest.split('"').next()?))
        })
        .expect("the vm_lab executable in cargo's output")
}

/// The VM scenario (two vCPUs): for each size, one listener process on CPU 1, then our
/// runner, then keepalived's checker process, each alone on CPU 0 with the listeners,
/// each measured over `secs` after 8 s of warm-up.
fn scenario(sizes: &str, sides: &str, secs: u32) -> String {
    format!(
        r#"set -u
BASE=1100; WARM=8; SECS={secs}
# Both checkers open N connections a second to loopback: room for TIME_WAIT, and the
# ephemeral ports kept clear of the listeners' (1100 and up).
sysctl -w net.ipv4.ip_local_port_range="10000 65000" >/dev/null
sysctl -w net.ipv4.tcp_tw_reuse=1 >/dev/null
ulimit -n 262144 || ulimit -n 65536
echo "RK-INFO cpus=$(nproc) mem_kib=$(awk '/MemTotal/{{print $2}}' /proc/meminfo)"
# CPU 0: the checker under test; CPU 1: the listeners and the measuring.
LAB="taskset -c 1 /rk/vm-lab"
for N in {sizes}; do
  $LAB conf $BASE $N > /tmp/ka.conf
  $LAB serve $BASE $N /tmp/count & SRV=$!
  sleep 2
  kill -0 $SRV || {{ echo "RK-ERROR the listeners did not start (n=$N)"; exit 1; }}
  for side in {sides}; do
    case $side in
    keepalived)
      rm -f /run/ka.pid /run/kac.pid
      taskset -c 0 /usr/sbin/keepalived -C -n -G -f /tmp/ka.conf -p /run/ka.pid -c /run/kac.pid & KA=$!
      i=0; while [ ! -s /run/kac.pid ] && [ $i -lt 300 ]; do usleep 100000; i=$((i+1)); done
      $LAB window /tmp/count $WARM $SECS "side=keepalived n=$N" \
        server=$SRV checker=$(cat /run/kac.pid) parent=$KA
      kill $KA; wait $KA
      ;;
    raw)
      taskset -c 0 /rk/vm-lab raw $BASE $N 1000 & RAW=$!
      $LAB window /tmp/count $WARM $SECS "side=raw n=$N" server=$SRV checker=$RAW
      kill $RAW; wait $RAW
      ;;
    ours)
      taskset -c 0 /rk/vm-lab ours $BASE $N & OURS=$!
      $LAB window /tmp/count $WARM $SECS "side=ours n=$N" server=$SRV checker=$OURS
      kill $OURS; wait $OURS
      ;;
    esac
    sleep 3
  done
  kill -0 $SRV || {{ echo "RK-ERROR the listeners died (n=$N)"; exit 1; }}
  kill $SRV; wait $SRV
done
exit 0
"#
    )
}

fn field(line: &str, key: &str) -> f64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
        .unwrap_or(f64::NAN)
}

#[test]
#[ignore = "benchmark: minutes of emulated VM time"]
fn keepalived_and_our_runner_on_the_same_tcp_checks() {
    if skip_requested() {
        return;
    }
    ensure_packages(&[("/usr/sbin/keepalived", "keepalived")]).expect("install keepalived");
    let sizes = std::env::var("RK_CHECKERS_VM_SIZES").unwrap_or_else(|_| "500 3000".into());
    let secs: u32 = std::env::var("RK_CHECKERS_VM_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let sides = std::env::var("RK_CHECKERS_VM_SIDES")
        .unwrap_or_else(|_| "ours keepalived keepalived ours".into());
    let lab = build_lab();
    let outcome = VmSpec::new()
        .modules(IPVS_MODULES)
        .memory_mb(2048)
        .cpus(2)
        .host_program(Path::new("/usr/sbin/keepalived"))
        .expect("keepalived into the VM")
        .host_file(&lab, "/rk/vm-lab", 0o755)
        .expect("lab program into the VM")
        .script(&scenario(&sizes, &sides, secs))
        .timeout(Duration::from_secs(1800))
        .run()
        .expect("VM run");
    eprintln!("VM run took {:?}", outcome.elapsed);
    for l in outcome
        .serial
        .lines()
        .filter(|l| l.contains("RK-OURS ") || l.contains("RK-RAW "))
    {
        println!("{l}");
    }
    for l in outcome.lines_with_prefix("RK-INFO ") {
        println!("{l}");
    }
    let figures: Vec<&str> = outcome.lines_with_prefix("RK-FIGURE ").collect();
    for f in &figures {
        println!("{f}");
    }
    assert_eq!(outcome.exit_code, 0, "{}", outcome.serial);
    for n in sizes.split_whitespace() {
        // Every figure of one side at one size (a side may run several times).
        let runs = |s: &str| -> Vec<&str> {
            figures
                .iter()
                .filter(|l| l.contains(&format!("side={s} n={n} ")))
                .copied()
                .collect()
        };
        for s in sides.split_whitespace() {
            assert!(
                !runs(s).is_empty(),
                "no {s} figure for n={n}:\n{}",
                outcome.serial
            );
        }
        let mean = |s: &str, key: &str| {
            let v: Vec<f64> = runs(s).iter().map(|l| field(l, key)).collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        let (ka, ours) = ("keepalived", "ours");
        if runs(ka).is_empty() || runs(ours).is_empty() {
            continue;
        }
        let rate = |s| mean(s, "checks_per_s");
        let cpu = |s| mean(s, "checker_cpu_pct");
        let rss = |s| mean(s, "checker_rss_kib");
        println!(
            "RESULT n={n} (means of {} / {} runs): checks/s keepalived {:.0}, ours {:.0} (offered {n}, ratio {:.2}); \
             checker CPU {:.1}% vs {:.1}% (CPU per check: keepalived/ours = {:.2}); \
             checker RSS {:.0} KiB vs {:.0} KiB (keepalived's parent {:.0} KiB)",
            runs(ka).len(),
            runs(ours).len(),
            rate(ka),
            rate(ours),
            rate(ours) / rate(ka),
            cpu(ka),
            cpu(ours),
            (cpu(ka) / rate(ka)) / (cpu(ours) / rate(ours)),
            rss(ka),
            rss(ours),
            mean(ka, "parent_rss_kib"),
        );
        // The lab works when both sides check (not a performance target).
        assert!(rate(ka) > 0.0 && rate(ours) > 0.0);
    }
}
