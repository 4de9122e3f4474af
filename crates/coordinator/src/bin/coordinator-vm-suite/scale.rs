//! 10,000 services × 4 destinations: cold install, a periodic pass, and the
//! clean shutdown, timed against `ipvsadm -C` on the same table in the same
//! run (the VM is emulated: the ratio is what carries over).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rk_coordinator::{ActualTable, Engine, Observation, Policy, Reconciler, ReconcilerOptions};
use rk_ipvs::{IpvsHandle, Protocol, ServiceKey};

use crate::Suite;
use crate::util::{IPVSADM, config, kernel, ms, sh};

const SERVICES: usize = 10_000;
const DESTS: usize = 4;

fn conf() -> String {
    let mut t = String::with_capacity(SERVICES * 220);
    for i in 0..SERVICES {
        let _ = write!(
            t,
            "virtual_server 10.100.{}.{} 80 {{\n protocol TCP\n lb_algo rr\n lb_kind DR\n",
            i / 256,
            i % 256
        );
        for d in 1..=DESTS {
            let _ = writeln!(t, " real_server 198.51.100.{d} 80 {{ }}");
        }
        t.push_str("}\n");
    }
    t
}

pub async fn run(suite: &mut Suite) {
    let r = scenario(suite).await;
    suite.check(
        "10,000 services x 4: installed, a periodic pass sends nothing, shutdown removes only ours",
        r,
    );
}

async fn reconciler(cfg: &std::sync::Arc<rk_config::Config>) -> Result<Reconciler, String> {
    let ipvs = IpvsHandle::connect().await.map_err(|e| e.to_string())?;
    let opts = ReconcilerOptions {
        period: Duration::from_secs(3600),
        ..ReconcilerOptions::default()
    };
    Reconciler::start(ipvs, Engine::new(cfg.clone(), Policy::default()), opts)
        .await
        .map_err(|e| e.to_string())
}

async fn scenario(suite: &Suite) -> Result<(), String> {
    let mut probe = IpvsHandle::connect().await.map_err(|e| e.to_string())?;
    let foreign = ServiceKey::Tuple {
        proto: Protocol::Tcp,
        addr: "203.0.113.2".parse().map_err(|_| "addr")?,
        port: 25,
    };
    sh(&[IPVSADM, "-A", "-t", "203.0.113.2:25", "-s", "rr"])?;

    let text = conf();
    let t = Instant::now();
    let cfg = config(&text)?;
    suite.figure("config_load_10k_ms", ms(t.elapsed()));
    drop(text);

    // The pure part of the install (desired table and diff from empty).
    let mut e = Engine::new(cfg.clone(), Policy::default());
    let t = Instant::now();
    let plan = e.plan(
        std::time::Instant::now(),
        Some((ActualTable::default(), Observation::First)),
    );
    suite.figure("plan_10k_x4_ms", ms(t.elapsed()));
    drop((e, plan));

    let mut r = reconciler(&cfg).await?;
    let t = Instant::now();
    let rep = r.reconcile().await.map_err(|e| e.to_string())?;
    suite.figure("install_10k_x4_ms", ms(t.elapsed()));
    if rep.ops != SERVICES * (1 + DESTS) || rep.failed != 0 {
        return Err(format!("install: {rep:?}"));
    }
    let t = Instant::now();
    let k = kernel(&mut probe).await?;
    suite.figure("dump_10k_x4_ms", ms(t.elapsed()));
    if k.services.len() != SERVICES + 1 || k.dest_count() != SERVICES * DESTS {
        return Err(format!(
            "kernel has {} services, {} destinations",
            k.services.len(),
            k.dest_count()
        ));
    }
    r.request_read();
    let t = Instant::now();
    let rep = r.reconcile().await.map_err(|e| e.to_string())?;
    suite.figure("periodic_pass_10k_x4_ms", ms(t.elapsed()));
    if rep.ops != 0 || !rep.read {
        return Err(format!("periodic pass: {rep:?}"));
    }

    let report = r.shutdown().await;
    suite.figure("shutdown_10k_x4_ms", ms(report.elapsed));
    if report.ops != SERVICES || report.failed != 0 {
        return Err(format!("shutdown: {report:?}"));
    }
    let k = kernel(&mut probe).await?;
    if k.services.keys().copied().collect::<Vec<_>>() != [foreign] {
        return Err(format!("after shutdown: {} services", k.services.len()));
    }

    // The same table again, removed by `ipvsadm -C` this time.
    let mut again = reconciler(&cfg).await?;
    let rep = again.reconcile().await.map_err(|e| e.to_string())?;
    if rep.failed != 0 {
        return Err(format!("reinstall: {rep:?}"));
    }
    drop(again);
    let t = Instant::now();
    sh(&[IPVSADM, "-C"])?;
    let clear = t.elapsed();
    suite.figure("ipvsadm_C_10k_x4_ms", ms(clear));
    suite.figure(
        "shutdown_over_ipvsadm_C",
        format!(
            "{:.2}",
            report.elapsed.as_secs_f64() / clear.as_secs_f64().max(1e-6)
        ),
    );
    let k = kernel(&mut probe).await?;
    if !k.services.is_empty() {
        return Err("ipvsadm -C left services".into());
    }
    Ok(())
}
