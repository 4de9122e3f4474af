//! Helpers: commands, reading the kernel's table, comparing it with ours.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rk_config::{Config, LoadOptions, load_str};
use rk_coordinator::{ActualTable, DesiredTable};
use rk_ipvs::{IpvsHandle, ServiceKey};

pub const IPVSADM: &str = "/usr/sbin/ipvsadm";
pub const IP: &str = "/usr/sbin/ip";

/// Run a command, return stdout, or an error with its stderr.
pub fn sh(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{args:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `ipvsadm -Ln` with runs of blanks squeezed, one entry per line.
pub fn ipvsadm_lines() -> Result<Vec<String>, String> {
    Ok(sh(&[IPVSADM, "-Ln"])?
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect())
}

/// Fail unless `ipvsadm -Ln` has a line starting with each of `lines`
/// (blank-squeezed) and none starting with one of `absent`.
pub fn ipvsadm_has(lines: &[&str], absent: &[&str]) -> Result<(), String> {
    let got = ipvsadm_lines()?;
    for want in lines {
        if !got.iter().any(|l| l.starts_with(want)) {
            return Err(format!("ipvsadm -Ln lacks {want:?}:\n{}", got.join("\n")));
        }
    }
    for bad in absent {
        if got.iter().any(|l| l.starts_with(bad)) {
            return Err(format!(
                "ipvsadm -Ln still has {bad:?}:\n{}",
                got.join("\n")
            ));
        }
    }
    Ok(())
}

/// The kernel's table through a handle of our own.
pub async fn kernel(h: &mut IpvsHandle) -> Result<ActualTable, String> {
    let mut t = ActualTable::from_dump(h.dump().await.map_err(|e| e.to_string())?);
    t.daemons = h
        .daemons()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|d| (d.role, d))
        .collect();
    t.timeouts = Some(h.timeouts().await.map_err(|e| e.to_string())?);
    Ok(t)
}

/// The kernel has exactly the desired (non-held) services, with exactly
/// their settings and destinations, plus the `foreign` services.
pub fn matches(
    desired: &DesiredTable,
    kernel: &ActualTable,
    foreign: &[ServiceKey],
) -> Result<(), String> {
    let mut errs = Vec::new();
    for (key, want) in &desired.services {
        let Some(have) = kernel.services.get(key) else {
            errs.push(format!("service {key} missing"));
            continue;
        };
        if have.service != want.service {
            errs.push(format!(
                "service {key}: kernel {:?}, wanted {:?}",
                have.service, want.service
            ));
        }
        for (dk, d) in &want.dests {
            match have.dests.get(dk) {
                None => errs.push(format!("{key}: destination {dk} missing")),
                Some(h) if h.dest != *d => errs.push(format!(
                    "{key}: destination {dk}: kernel {:?}, wanted {d:?}",
                    h.dest
                )),
                Some(_) => {}
            }
        }
        for dk in have.dests.keys() {
            if !want.dests.contains_key(dk) {
                errs.push(format!("{key}: extra destination {dk}"));
            }
        }
    }
    for key in kernel.services.keys() {
        if !desired.services.contains_key(key) && !foreign.contains(key) {
            errs.push(format!("extra service {key}"));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("\n"))
    }
}

/// Load configuration text (as the daemon would, without host checks).
pub fn config(text: &str) -> Result<Arc<Config>, String> {
    load_str("vm.conf", text, &LoadOptions::for_tests())
        .map(|l| Arc::new(l.config))
        .map_err(|e| e.render())
}

/// Read the kernel's table every 50 ms until `cond` holds or `limit`
/// passes; the time it took.
pub async fn wait_for(
    h: &mut IpvsHandle,
    limit: Duration,
    cond: impl Fn(&ActualTable) -> bool,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        if cond(&kernel(h).await?) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            return Err(format!("not within {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Milliseconds with one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}
