//! Run shell steps in the LVS lab, to explore or debug it:
//! `cargo run -p rk-testkit --example lvs_shell -- STEPS.sh [--keepalived] [--rkeepalived BIN] [--file HOST_PATH:GUEST_PATH]...`
//! boots the VM with the topology up and `lab.sh` / `phases.sh` loaded, runs STEPS.sh,
//! and prints the console (checks, figures, whatever the steps echo).

use std::path::PathBuf;

use rk_testkit::lvs_lab::LvsLab;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(steps) = args.next() else {
        eprintln!(
            "usage: lvs_shell STEPS.sh [--keepalived] [--rkeepalived BIN] [--file HOST:GUEST]..."
        );
        std::process::exit(2);
    };
    let mut lab = LvsLab::new()?;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--keepalived" => {
                lab.keepalived()?;
            }
            "--rkeepalived" => {
                let bin = args.next().ok_or("--rkeepalived needs a path")?;
                lab.rkeepalived(&PathBuf::from(bin))?;
            }
            "--file" => {
                let spec = args.next().ok_or("--file needs HOST_PATH:GUEST_PATH")?;
                let (host, guest) = spec.split_once(':').ok_or("--file HOST_PATH:GUEST_PATH")?;
                lab.spec().host_file(&PathBuf::from(host), guest, 0o644)?;
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    lab.step(&std::fs::read_to_string(&steps)?);
    let report = lab.run()?;
    let serial = &report.outcome.serial;
    // From the end of the kernel's boot on.
    let start = serial.find("RK-VM-BOOTED").unwrap_or(0);
    println!("{}", &serial[start..]);
    println!("{}", report.summary());
    Ok(())
}
