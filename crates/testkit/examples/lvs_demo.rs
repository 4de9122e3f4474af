//! The guided tour behind `scripts/demo`: the LVS lab in the test-bed VM, with a director
//! pair running rkeepalived (or keepalived 2.2.7 with `--keepalived`), shown live.
//!
//! `cargo run -p rk-testkit --example lvs_demo -- RKEEPALIVED_BINARY`
//! `cargo run -p rk-testkit --example lvs_demo -- --keepalived`
//!
//! The binary must run in the VM: a static build (scripts/demo makes one).

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rk_testkit::lvs_lab::{DEMO_BEGIN, DEMO_END, Daemon, LvsLab};

fn main() {
    if let Err(e) = run() {
        eprintln!("demo: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args_os()
        .nth(1)
        .ok_or("usage: lvs_demo RKEEPALIVED_BINARY | --keepalived")?;
    let mut lab = LvsLab::new()?;
    let daemon = if arg == "--keepalived" {
        lab.keepalived()?;
        Daemon::Keepalived
    } else {
        lab.rkeepalived(&PathBuf::from(arg))?;
        Daemon::Rkeepalived
    };
    lab.demo(daemon);
    // Only the tour: not the kernel's boot, not the lab's own markers.
    let showing = AtomicBool::new(false);
    let out = Mutex::new(std::io::stdout());
    lab.spec()
        .timeout(Duration::from_secs(600))
        .on_serial_line(move |line| {
            if line.contains(DEMO_BEGIN) {
                showing.store(true, Ordering::Relaxed);
            } else if line.contains(DEMO_END) {
                showing.store(false, Ordering::Relaxed);
            } else if showing.load(Ordering::Relaxed) && !line.starts_with("RK-") {
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        });
    eprintln!("=== Booting the VM (software emulation: the tour takes about a minute)");
    let report = lab.run()?;
    if !report.outcome.serial.contains(DEMO_END) {
        let tail: Vec<&str> = report.outcome.serial.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "the tour did not finish; the VM's last lines:\n{}",
            tail.join("\n")
        )
        .into());
    }
    Ok(())
}
