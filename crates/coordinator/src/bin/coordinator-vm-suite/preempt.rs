//! A reload during a periodic table read, against the real kernel (issue 8): the read is
//! abandoned, the reload goes out at once, and the read right after it completes. And
//! the handle under it: a dump dropped half-way leaves its socket usable (the kernel runs
//! one dump per socket and refuses the next with `EBUSY` until the first is read out).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use rk_coordinator::{Counters, Engine, Input, Policy, Reconciler, ReconcilerOptions};
use rk_ipvs::IpvsHandle;
use tokio::sync::mpsc;

use crate::Suite;
use crate::util::{IPVSADM, config, kernel, ms, sh};

const SERVICES: usize = 1_000;
const DESTS: usize = 16;
const PERIOD: Duration = Duration::from_secs(3600);

/// `SERVICES` × `DESTS`; the first ten services' first destination has weight `w`.
fn conf(w: u32) -> String {
    let mut t = String::with_capacity(SERVICES * (80 + DESTS * 40));
    for i in 0..SERVICES {
        let _ = write!(
            t,
            "virtual_server 10.101.{}.{} 80 {{\n protocol TCP\n lb_algo wrr\n lb_kind DR\n",
            i / 256,
            i % 256
        );
        for d in 1..=DESTS {
            let weight = if i < 10 && d == 1 { w } else { 1 };
            let _ = writeln!(t, " real_server 198.51.100.{d} 80 {{ weight {weight} }}");
        }
        t.push_str("}\n");
    }
    t
}

pub async fn run(suite: &mut Suite) {
    let r = abandoned_dumps(suite).await;
    suite.check(
        "a dump dropped half-way leaves the handle's socket usable",
        r,
    );
    let r = reload_preempts(suite).await;
    suite.check(
        "a reload during a periodic read is sent at once; the read after it completes",
        r,
    );
    let _ = sh(&[IPVSADM, "-C"]);
}

/// Installs the table with `ipvsadm` (restore), so this check does not depend on the
/// reconciler.
fn install() -> Result<(), String> {
    sh(&[IPVSADM, "-C"])?;
    let mut rules = String::new();
    for i in 0..SERVICES {
        let vip = format!("10.101.{}.{}:80", i / 256, i % 256);
        let _ = writeln!(rules, "-A -t {vip} -s wrr");
        for d in 1..=DESTS {
            let _ = writeln!(rules, "-a -t {vip} -r 198.51.100.{d}:80 -g -w 1");
        }
    }
    let path = "/tmp/rk-preempt.rules";
    std::fs::write(path, rules).map_err(|e| format!("{path}: {e}"))?;
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", &format!("{IPVSADM} -R < {path}")])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "ipvsadm -R: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

async fn abandoned_dumps(suite: &Suite) -> Result<(), String> {
    install()?;
    let mut h = IpvsHandle::connect().await.map_err(|e| e.to_string())?;
    let t = Instant::now();
    let whole = h.dump().await.map_err(|e| e.to_string())?;
    let full = t.elapsed();
    suite.figure("dump_1k_x16_ms", ms(full));
    if whole.len() != SERVICES {
        return Err(format!("{} services dumped", whole.len()));
    }
    let key = whole[SERVICES / 2].service.service.key;
    // Cut at several points of the destination dumps; each time the next dump on the
    // same handle, a destination dump first, must work.
    for pct in [10u32, 30, 50] {
        let cut = full * pct / 100;
        if tokio::time::timeout(cut, h.dump()).await.is_ok() {
            return Err(format!("the dump ended before {cut:?}: no cut made"));
        }
        let dests = h
            .destinations(&key)
            .await
            .map_err(|e| format!("destinations after a dump cut at {pct}%: {e}"))?;
        if dests.len() != DESTS {
            return Err(format!("{} destinations after a cut", dests.len()));
        }
        let again = kernel(&mut h)
            .await
            .map_err(|e| format!("dump after a dump cut at {pct}%: {e}"))?;
        if again.services.len() != SERVICES || again.dest_count() != SERVICES * DESTS {
            return Err(format!(
                "after a cut at {pct}%: {} services, {} destinations",
                again.services.len(),
                again.dest_count()
            ));
        }
    }
    Ok(())
}

async fn until(
    what: &str,
    limit: Duration,
    counters: &Counters,
    cond: impl Fn(&rk_coordinator::CounterSnapshot) -> bool,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let c = counters.snapshot();
        if cond(&c) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            return Err(format!("{what}: not within {limit:?}: {c:?}"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn reload_preempts(suite: &Suite) -> Result<(), String> {
    sh(&[IPVSADM, "-C"])?;
    let cfg = config(&conf(1))?;
    let ipvs = IpvsHandle::connect().await.map_err(|e| e.to_string())?;
    let opts = ReconcilerOptions {
        period: PERIOD,
        ..ReconcilerOptions::default()
    };
    let r = Reconciler::start(ipvs, Engine::new(cfg, Policy::default()), opts)
        .await
        .map_err(|e| e.to_string())?;
    let counters = r.counters();
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(r.run(rx, None));
    until("install", Duration::from_secs(60), &counters, |c| {
        c.add_dest == (SERVICES * DESTS) as u64
    })
    .await?;
    // A read now, as a periodic one (the period is an hour: install times vary).
    let passes = counters.snapshot().passes;
    tx.send(Input::Reconcile)
        .await
        .map_err(|_| "reconciler gone")?;
    until("read pass", Duration::from_secs(10), &counters, |c| {
        c.passes > passes
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = counters.snapshot();
    if before.dumps != 1 {
        return Err(format!("the periodic read ended within 100 ms: {before:?}"));
    }
    let reload = config(&conf(5))?;
    tx.send(Input::Config {
        config: reload,
        policy: Policy::default(),
    })
    .await
    .map_err(|_| "reconciler gone")?;
    let took = until("reload sent", Duration::from_secs(60), &counters, |c| {
        c.edit_dest == before.edit_dest + 10
    })
    .await?;
    suite.figure("reload_during_read_1k_x16_ms", ms(took));
    let c = counters.snapshot();
    if c.abandoned_reads != 1 || c.dumps != 1 {
        return Err(format!("the read was not abandoned: {c:?}"));
    }
    // The read right after the reload runs to its end, and works (`EBUSY` would fail it).
    let read = until("read after", Duration::from_secs(60), &counters, |c| {
        c.dumps >= 2
    })
    .await?;
    suite.figure("read_after_reload_1k_x16_ms", ms(read));
    let c = counters.snapshot();
    if c.dump_errors != 0 || c.errors != 0 || c.abandoned_reads != 1 {
        return Err(format!("after the reload: {c:?}"));
    }
    let _ = tx.send(Input::Shutdown { keep_rules: false }).await;
    let report = task.await.map_err(|e| e.to_string())?;
    if report.as_ref().is_none_or(|r| r.failed != 0) {
        return Err(format!("shutdown: {report:?}"));
    }
    Ok(())
}
