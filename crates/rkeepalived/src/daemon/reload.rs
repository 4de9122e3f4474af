//! SIGHUP: the reload as a transaction.
//!
//! 1. Parse and validate the configuration file again (on a blocking thread: the VRRP
//!    thread, the checkers and the coordinator go on meanwhile), then build everything that
//!    can be refused: the VRRP plan and each instance's protocol configuration.
//! 2. Anything refused: nothing changes — VIPs, IPVS rules, VRRP states and checker states
//!    stay as they are — and the log says why, with `file:line:column` for configuration
//!    errors.
//! 3. Otherwise apply, each side diffing against what runs: VRRP instances matched by
//!    identity keep their state and advert schedule ([`rk_vrrp::Vrrp::reload`]); checkers
//!    keep their state by identity ([`super::realservers::RealServers::reload`]); the
//!    coordinator computes the new desired IPVS table and sends only the differences, a
//!    removed real server or virtual server draining first when a drain timeout is set
//!    ([`super::lvs::Lvs::reload`]).
//!
//! keepalived 2.2.7 re-reads the file in each of its processes and, in its checker
//! process, compares every checker with every other (`migrate_checkers`): seconds to
//! minutes at a few thousand virtual servers, during which its VRRP process stops
//! advertising while it parses. A configuration with errors is logged and loaded anyway.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rk_config::{Config, LoadOptions, load_file};

use super::checks;
use super::lvs::{self, Applied};
use super::serve::{LvsSide, VrrpSide, resync, start_lvs, start_vrrp};
use super::{SideFlags, Sides as Running};

/// Where the configuration comes from, and how the command line chooses the sides.
#[derive(Debug, Clone)]
pub struct Source {
    /// `-f`.
    pub path: PathBuf,
    /// `--lenient`, `-i`.
    pub options: LoadOptions,
    /// `-P`, `-C`, `--all`.
    pub flags: SideFlags,
}

/// The running sides a reload changes.
pub struct Sides<'a> {
    /// VRRP, if it runs.
    pub vrrp: &'a mut Option<VrrpSide>,
    /// Checkers and IPVS, if they run.
    pub lvs: &'a mut Option<LvsSide>,
    /// To start VRRP if the new configuration is the first to need it.
    pub vrrp_options: &'a rk_vrrp::Options,
    /// The IPVS ownership record (to start the LVS side).
    pub ipvs_record: &'a Path,
}

/// Reloads; returns the new configuration once applied, `None` when it was refused (the
/// running one stays, untouched).
pub async fn run(source: &Source, sides: Sides<'_>) -> Option<Arc<Config>> {
    let t0 = Instant::now();
    tracing::info!("Reloading configuration {}", source.path.display());
    let (path, options) = (source.path.clone(), source.options.clone());
    let loaded = match tokio::task::spawn_blocking(move || load_file(&path, &options)).await {
        Ok(Ok(l)) => l,
        Ok(Err(rejected)) => {
            for line in rejected.render().lines().filter(|l| !l.trim().is_empty()) {
                tracing::error!("{line}");
            }
            tracing::error!(
                "reload refused: {} has errors; the running configuration is unchanged",
                source.path.display()
            );
            return None;
        }
        Err(e) => {
            tracing::error!("reload refused: the configuration reader failed ({e})");
            return None;
        }
    };
    for line in loaded.render_warnings().lines() {
        if !line.trim().is_empty() {
            tracing::warn!("{line}");
        }
    }
    let cfg = Arc::new(loaded.config);
    super::limits::raise_open_files(&cfg);
    let want = source.flags.choose(&cfg);
    let plan = if want.vrrp || sides.vrrp.is_some() {
        match vrrp_plan(&cfg) {
            Ok(p) => Some(p),
            Err(why) => {
                tracing::error!("reload refused: {why}; the running configuration is unchanged");
                return None;
            }
        }
    } else {
        None
    };
    let validated = t0.elapsed();
    let mut steps = Steps::default();

    // Apply. Nothing below can be refused: what could was checked above.
    let mut vrrp_said = String::from("no VRRP");
    if let Some(plan) = plan {
        match sides.vrrp {
            Some(v) => match v.vrrp.reload(plan.clone()).await {
                Ok(r) => {
                    vrrp_said = format!(
                        "VRRP {} unchanged, {} changed, {} added, {} removed",
                        r.unchanged.len(),
                        r.changed.len(),
                        r.added.len(),
                        r.removed.len()
                    );
                    let forget = v.settler.reload(&plan, &r.added, Instant::now());
                    v.plan = plan;
                    if let Some(l) = sides.lvs.as_ref() {
                        for name in forget {
                            l.input
                                .send(rk_coordinator::Input::Instance { name, role: None })
                                .await;
                        }
                    }
                }
                Err(e) => {
                    vrrp_said = format!("VRRP not reloaded: {e}");
                    tracing::error!("{vrrp_said}");
                }
            },
            None if want.vrrp && !plan.instances.is_empty() => {
                match start_vrrp(plan, sides.vrrp_options.clone()) {
                    Ok(v) => {
                        vrrp_said = "VRRP started".into();
                        *sides.vrrp = Some(v);
                    }
                    Err(e) => {
                        vrrp_said = format!("VRRP cannot start: {e}");
                        tracing::error!("{vrrp_said}");
                    }
                }
            }
            None => {}
        }
    }
    steps.vrrp = t0.elapsed();
    let mut lvs_said = String::from("no virtual servers");
    match sides.lvs {
        Some(l) => {
            // The IPVS change does not depend on the checkers: the coordinator keys health
            // by real-server identity, which a reload keeps. So the checker mapping (tens
            // of milliseconds at 36,800 checkers) runs on another core while the
            // coordinator plans and sends.
            let policy = lvs::policy(&cfg, sides.vrrp.is_some());
            let mut ids = std::mem::take(&mut l.ids);
            let for_map = cfg.clone();
            let mapped = tokio::task::spawn_blocking(move || {
                let m = checks::map(&for_map, &mut ids);
                (m, ids, t0.elapsed())
            });
            let applied = l.lvs.reload(cfg.clone(), policy).await.unwrap_or_default();
            steps.ipvs = t0.elapsed();
            match mapped.await {
                Ok((m, ids, at)) => {
                    l.ids = ids;
                    steps.mapped = at;
                    let mapping = Arc::new(m);
                    for p in &mapping.problems {
                        tracing::error!("{p}");
                    }
                    l.lvs.set_mapping(mapping.clone()).await;
                    l.real_servers.reload(cfg.clone(), mapping).await;
                }
                // The mapping panicked: the checkers keep running as they were, and the
                // next reload maps afresh (new numbers, their state restarts).
                Err(e) => {
                    tracing::error!("checker mapping failed ({e}); health checkers not reloaded")
                }
            }
            let Applied { ops, took } = applied;
            lvs_said = format!("IPVS {ops} operations in {took:.1?}");
        }
        None if want.checkers && !cfg.virtual_servers.is_empty() => {
            *sides.lvs = Some(start_lvs(&cfg, sides.vrrp.is_some(), sides.ipvs_record).await);
            lvs_said = "health checkers and IPVS started".into();
        }
        None => {}
    }
    if let (Some(v), Some(l)) = (sides.vrrp.as_mut(), sides.lvs.as_ref()) {
        // Renamed and new instances, in the coordinator's terms.
        resync(v, &l.input).await;
    }
    tracing::info!(
        "Reload finished in {:.1?} (read and validated in {validated:.1?}, VRRP by {:.1?}, \
         IPVS applied by {:.1?}, checkers mapped by {:.1?}): {vrrp_said}; {lvs_said}",
        t0.elapsed(),
        steps.vrrp,
        steps.ipvs,
        steps.mapped,
    );
    Some(cfg)
}

/// When each step of a reload ended, from the signal (for the log line).
#[derive(Debug, Default)]
struct Steps {
    vrrp: Duration,
    ipvs: Duration,
    mapped: Duration,
}

/// The VRRP plan of `cfg`, with every instance accepted by the state machine.
fn vrrp_plan(cfg: &Config) -> Result<rk_vrrp::Plan, String> {
    let (plan, unsupported) = rk_vrrp::from_config::plan(cfg).map_err(|e| e.to_string())?;
    for w in unsupported {
        tracing::warn!("{w}");
    }
    for s in &plan.instances {
        s.proto
            .validate()
            .map_err(|e| format!("vrrp_instance {}: {e}", s.name))?;
    }
    Ok(plan)
}

impl SideFlags {
    /// keepalived's choice of sides for `cfg` (see [`Running::choose`]).
    pub fn choose(&self, cfg: &Config) -> Running {
        if self.vrrp || self.check {
            return Running {
                vrrp: self.vrrp,
                checkers: self.check,
            };
        }
        Running {
            vrrp: self.all || cfg.has_vrrp(),
            checkers: self.all || cfg.has_checkers(),
        }
    }
}
