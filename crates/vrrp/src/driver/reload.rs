//! Reload (keepalived `clear_diff_vrrp`, `restore_vrrp_state`, `vrrp_exist`): a new plan
//! replaces the running one without stopping the thread. Instances are matched by identity,
//! not by name; a matched instance keeps its state, counters, AH sequence and advert
//! schedule ([`rk_vrrp_proto::Instance::reconfigure`]); an instance no longer configured
//! leaves as at stop (priority 0 from a MASTER, VIPs released, VMAC deleted); a new one
//! starts as at start-up. The work is a few netlink calls at most: adverts are not held up.

use std::collections::HashSet;
use std::time::Instant;

use rk_vrrp_proto::{Delivery, Family, FaultSource, Input, Instance, ReloadError, TrackerId};

use super::{Driver, Inst};
use crate::error::Error;
use crate::spec::{InstanceSpec, Plan};
use crate::status::InstanceStats;

/// What a reload did, by instance name (the new name for a renamed instance).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Matched and unchanged: nothing happened to them.
    pub unchanged: Vec<String>,
    /// Matched with a changed configuration: reconfigured in place.
    pub changed: Vec<String>,
    /// New: started.
    pub added: Vec<String>,
    /// No longer configured: stopped.
    pub removed: Vec<String>,
}

/// What makes two instances the same virtual router for a reload: keepalived's
/// `vrrp_exist` compares VRID, family, interface, unicast (with its source address),
/// VMAC and multicast group. A name change alone keeps the instance.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Identity<'a> {
    vrid: u8,
    family: Family,
    interface: &'a str,
    vmac: Option<&'a str>,
    unicast_src: Option<Option<std::net::IpAddr>>,
    group: Option<std::net::IpAddr>,
}

fn identity(s: &InstanceSpec) -> Identity<'_> {
    let (unicast_src, group) = match &s.proto.delivery {
        Delivery::Unicast { .. } => (Some(s.proto.src_addr), None),
        Delivery::Multicast { group } => (None, Some(*group)),
    };
    Identity {
        vrid: s.proto.vrid,
        family: s.proto.family,
        interface: &s.interface,
        vmac: s.vmac.as_ref().map(|v| v.name.as_str()),
        unicast_src,
        group,
    }
}

fn new_inst(spec: InstanceSpec) -> Result<Inst, Error> {
    let vi = Instance::new(spec.proto.clone()).map_err(|source| Error::Instance {
        instance: spec.name.clone(),
        source,
    })?;
    Ok(Inst {
        spec,
        vi,
        stats: InstanceStats::default(),
        vmac: None,
        last_drop_log: None,
        drops_unlogged: 0,
        waited: false,
        resume: false,
    })
}

impl Driver {
    /// Replaces the running plan with `plan`. Nothing changes when an instance of `plan`
    /// is refused by the state machine.
    pub(super) async fn reload(&mut self, plan: Plan) -> Result<ReloadReport, Error> {
        for s in &plan.instances {
            s.proto.validate().map_err(|source| Error::Instance {
                instance: s.name.clone(),
                source,
            })?;
        }
        let now = Instant::now();
        let mut report = ReloadReport::default();
        let mut old: Vec<Option<Inst>> = std::mem::take(&mut self.insts)
            .into_iter()
            .map(Some)
            .collect();
        // For each new instance, the old index it came from.
        let mut from_old: Vec<Option<usize>> = Vec::with_capacity(plan.instances.len());
        // New instances with the number of VIPs they keep once the reload's own removals
        // are carried out (the specs of VIPs being removed stay until then: removing one
        // needs its interface).
        let mut insts: Vec<Inst> = Vec::with_capacity(plan.instances.len());
        let mut vip_counts = Vec::with_capacity(plan.instances.len());
        // Matched instances whose routes or rules changed: (new index, old routes, old
        // rules), applied once the new plan is in place.
        let mut route_changes = Vec::new();
        for spec in plan.instances {
            let matched = old.iter().position(|o| {
                o.as_ref()
                    .is_some_and(|o| identity(&o.spec) == identity(&spec))
            });
            let Some(j) = matched else {
                report.added.push(spec.name.clone());
                vip_counts.push(spec.vips.len());
                insts.push(new_inst(spec)?);
                from_old.push(None);
                continue;
            };
            let Some(mut inst) = old[j].take() else {
                continue;
            };
            match inst.vi.reconfigure(now, spec.proto.clone()) {
                Ok(()) => {}
                Err(ReloadError::IdentityChanged) => {
                    // Another version of the protocol: another virtual router.
                    old[j] = Some(inst);
                    report.added.push(spec.name.clone());
                    vip_counts.push(spec.vips.len());
                    insts.push(new_inst(spec)?);
                    from_old.push(None);
                    continue;
                }
                // Validated above; kept as an error rather than trusted away.
                Err(ReloadError::Config(source)) => {
                    return Err(Error::Instance {
                        instance: spec.name.clone(),
                        source,
                    });
                }
            }
            if inst.spec.name != spec.name {
                tracing::info!("({}) is now called {}", inst.spec.name, spec.name);
            }
            // Trackers the instance no longer has stop counting (their ids are positions).
            for n in spec.tracked.len()..inst.spec.tracked.len() {
                let tracker = TrackerId(u32::try_from(n).unwrap_or(u32::MAX - 1));
                inst.vi
                    .handle(now, Input::PriorityAdjustment { tracker, delta: 0 });
                inst.vi.handle(
                    now,
                    Input::Fault {
                        source: FaultSource::Tracker(tracker),
                        active: false,
                    },
                );
            }
            if inst.spec == spec {
                report.unchanged.push(spec.name.clone());
            } else {
                report.changed.push(spec.name.clone());
            }
            let retired: Vec<_> = inst
                .spec
                .vips
                .iter()
                .filter(|v| !spec.vips.iter().any(|n| n.addr == v.addr))
                .cloned()
                .collect();
            vip_counts.push(spec.vips.len());
            if inst.spec.routes != spec.routes || inst.spec.rules != spec.rules {
                route_changes.push((
                    insts.len(),
                    std::mem::take(&mut inst.spec.routes),
                    std::mem::take(&mut inst.spec.rules),
                ));
            }
            inst.spec = spec;
            inst.spec.vips.extend(retired);
            insts.push(inst);
            from_old.push(Some(j));
        }
        // Instances no longer configured leave as at stop, from the end of the list so the
        // indexes of the sync groups (new plan) never see them.
        let gone: Vec<Inst> = old.into_iter().flatten().collect();
        let first_gone = insts.len();
        for mut inst in gone {
            report.removed.push(inst.spec.name.clone());
            inst.vi.handle(now, Input::Shutdown);
            insts.push(inst);
        }

        self.want_master = self
            .want_master
            .iter()
            .filter_map(|o| from_old.iter().position(|f| *f == Some(*o)))
            .collect();
        let old_groups = std::mem::replace(&mut self.sync_groups, plan.sync_groups);
        let old_states = std::mem::take(&mut self.group_states);
        self.group_states = self
            .sync_groups
            .iter()
            .map(|g| {
                old_groups
                    .iter()
                    .position(|o| o.name == g.name)
                    .and_then(|p| old_states.get(p).copied().flatten())
            })
            .collect();
        let old_trackers = std::mem::replace(&mut self.tracker_specs, plan.trackers);
        let old_states = std::mem::take(&mut self.trackers);
        self.trackers = self
            .tracker_specs
            .iter()
            .map(|t| {
                old_trackers
                    .iter()
                    .position(|o| o.name == t.name && o.kind == t.kind)
                    .and_then(|p| old_states.get(p).copied())
                    .unwrap_or(t.initial)
            })
            .collect();
        let old_statics = std::mem::replace(&mut self.statics, plan.statics);
        self.garp_interval = plan.garp_interval;
        self.gna_interval = plan.gna_interval;
        self.log_unknown_vrids = plan.log_unknown_vrids;
        self.insts = insts;

        // The removals (and GARPs for added VIPs) first, with every address still known.
        self.run_actions().await;
        for (i, old_routes, old_rules) in route_changes {
            self.reload_routes(i, &old_routes, &old_rules).await;
        }
        if old_statics != self.statics {
            self.reload_statics(old_statics).await;
        }
        for (inst, n) in self.insts.iter_mut().zip(&vip_counts) {
            inst.spec.vips.truncate(*n);
        }
        for mut inst in self.insts.split_off(first_gone) {
            if let Some(v) = inst.vmac.take()
                && let Err(e) = self.nl.remove_vmac(v).await
            {
                tracing::warn!("({}) cannot remove its VMAC: {e}", inst.spec.name);
            }
        }
        self.all_vips = self
            .insts
            .iter()
            .flat_map(|i| i.spec.vips.iter().map(|v| v.addr))
            .collect::<HashSet<_>>();
        self.refresh_route_monitor();
        self.setup_vmacs().await;
        self.refresh_channels().await;
        for i in 0..self.insts.len() {
            self.refresh_inputs(i, now);
        }
        // New instances start now (or when `vrrp_startup_delay` ends).
        self.start_ready(now);
        self.run_actions().await;
        tracing::info!(
            "VRRP reload: {} instances unchanged, {} changed, {} added, {} removed",
            report.unchanged.len(),
            report.changed.len(),
            report.added.len(),
            report.removed.len()
        );
        Ok(report)
    }
}
