//! Dry run: the IPVS operations rkeepalived would send for a configuration
//! on a node whose kernel table is empty. Needs no IPVS (no kernel access).
//!
//! ```text
//! cargo run -p rk-coordinator --example plan -- keepalived.conf [--master VI_1]... [--everywhere] [--down IP:PORT]...
//! ```
//!
//! Instances not named with `--master` are BACKUP. `--down` marks a real
//! server down in every virtual server that has it.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use rk_config::{LoadOptions, load_file};
use rk_coordinator::{
    ActualTable, Engine, InstanceRole, IpvsOp, Observation, Policy, RsHealth, RsId, RulesMode,
};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: plan CONFIG [--master INSTANCE]... [--everywhere] [--down IP:PORT]...");
        return ExitCode::from(2);
    };
    let mut masters = Vec::new();
    let mut down = Vec::new();
    let mut policy = Policy::default();
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--master", Some(v)) => masters.push(v),
            ("--down", Some(v)) => down.push(v),
            ("--everywhere", next) => {
                policy.rules = RulesMode::Everywhere;
                if let Some(n) = next {
                    eprintln!("unexpected {n}");
                    return ExitCode::from(2);
                }
            }
            (other, _) => {
                eprintln!("unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    let opts = LoadOptions {
        check_host: false,
        ..LoadOptions::default()
    };
    let loaded = match load_file(path.as_ref(), &opts) {
        Ok(l) => l,
        Err(e) => {
            eprint!("{}", e.render());
            return ExitCode::FAILURE;
        }
    };
    let config = Arc::new(loaded.config);
    let mut engine = Engine::new(Arc::clone(&config), policy);
    for inst in &config.vrrp_instances {
        let role = if masters.contains(&inst.name) {
            InstanceRole::Master
        } else {
            InstanceRole::Backup
        };
        engine.set_role(&inst.name, Some(role));
    }
    for vs in &config.virtual_servers {
        for rs in &vs.real_servers {
            let id = RsId::of(vs, rs);
            let text = format!("{}:{}", rs.addr, rs.port);
            if down.contains(&text) {
                engine.set_health(id, Some(RsHealth::DOWN));
            }
        }
    }
    let plan = engine.plan(
        Instant::now(),
        Some((ActualTable::default(), Observation::First)),
    );
    for p in &plan.problems {
        eprintln!("warning: {p}");
    }
    for e in &plan.events {
        eprintln!(
            "quorum: {} {} (weight {})",
            e.vs,
            if e.up { "up" } else { "down" },
            e.weight
        );
    }
    for op in &plan.ops {
        match op {
            IpvsOp::AddDest { dest, .. } | IpvsOp::EditDest { dest, .. } => {
                println!("{op}: weight {} {:?}", dest.weight, dest.forward)
            }
            _ => println!("{op}"),
        }
    }
    ExitCode::SUCCESS
}
