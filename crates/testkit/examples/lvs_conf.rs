//! Write every director configuration the LVS lab runs into a folder, to read them or
//! to check them with `rkeepalived -t` / `keepalived -t`:
//! `cargo run -p rk-testkit --example lvs_conf -- OUT_DIR`
//! gives `OUT_DIR/<phase>/dir1.conf` and `dir2.conf` for every scenario, daemon and mode.

use std::path::PathBuf;

use rk_testkit::lvs_lab::{Daemon, Director, Phase, Scenario};

fn main() -> std::io::Result<()> {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: lvs_conf OUT_DIR");
        std::process::exit(2);
    };
    let scenarios = [
        Scenario::Dr,
        Scenario::Features,
        Scenario::Nat,
        Scenario::MasterMaster,
    ];
    for scenario in scenarios {
        for phase in [
            Phase::new(scenario, Daemon::Rkeepalived),
            Phase::new(scenario, Daemon::Rkeepalived).everywhere(),
            Phase::new(scenario, Daemon::Keepalived),
        ] {
            let dir = out.join(phase.name());
            std::fs::create_dir_all(&dir)?;
            for d in [Director::Dir1, Director::Dir2] {
                let path = dir.join(format!("{}.conf", d.name()));
                std::fs::write(&path, phase.pair().render(d, phase.daemon))?;
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}
