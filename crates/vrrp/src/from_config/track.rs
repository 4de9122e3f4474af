//! What each instance tracks, with the weights keepalived's rules leave it
//! (`vrrp.c` `vrrp_complete_instance` and `sync_group_tracking_init`):
//!
//! * An **address owner** (priority 255) never changes priority: weighted
//!   `track_interface` and `track_script` entries are dropped, a `track_file` with the
//!   default weight 1 becomes unweighted (any other weight is dropped).
//! * A **sync group member** without `sync_group_tracking_weight` (or the deprecated
//!   `global_tracking`) must not float its priority either: weighted interfaces become
//!   unweighted, weighted scripts are dropped, files as for owners. `track_process`
//!   weights are kept, as keepalived keeps them.
//! * A **sync group's own** `track_*` entries apply to every member with their weights,
//!   unless a member is an owner: then they count unweighted.
//!
//! Each change is reported as a warning, in keepalived's words.

use rk_config::model::{Config, SyncGroup, Tracking, VrrpInstance};
use rk_vrrp_proto::{TrackWeight, TrackerState};

use crate::spec::{TrackSource, Tracked, TrackerKind, TrackerSpec};

/// The trackers instances use, each once.
#[derive(Debug, Default)]
pub(super) struct Registry {
    pub trackers: Vec<TrackerSpec>,
}

impl Registry {
    fn index(&mut self, name: &str, kind: TrackerKind, initial: TrackerState) -> usize {
        if let Some(i) = self
            .trackers
            .iter()
            .position(|t| t.kind == kind && t.name == name)
        {
            return i;
        }
        self.trackers.push(TrackerSpec {
            name: name.to_string(),
            kind,
            initial,
        });
        self.trackers.len() - 1
    }
}

/// Why weights are restricted for an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Restriction {
    /// Free to float.
    None,
    /// Sync group member without `sync_group_tracking_weight`.
    SyncGroup,
    /// Address owner.
    Owner,
}

impl Restriction {
    fn why(self) -> &'static str {
        match self {
            Restriction::SyncGroup => "SYNC group",
            Restriction::Owner | Restriction::None => "address owner",
        }
    }
}

/// The instance's own trackers, then its sync group's.
pub(super) fn tracked(
    cfg: &Config,
    vi: &VrrpInstance,
    group: Option<&SyncGroup>,
    reg: &mut Registry,
    warnings: &mut Vec<String>,
) -> Vec<Tracked> {
    let restriction = match group {
        Some(g) if !g.sync_group_tracking_weight && !g.global_tracking => Restriction::SyncGroup,
        _ if vi.is_owner() => Restriction::Owner,
        _ => Restriction::None,
    };
    let mut out = Vec::new();
    let name = &vi.name;
    let mut warn = |w: String| warnings.push(format!("({name}) {w}"));
    own(cfg, &vi.tracking, restriction, reg, &mut out, &mut warn);
    if let Some(g) = group {
        let has_owner = cfg
            .vrrp_instances
            .iter()
            .any(|o| g.instances.contains(&o.name) && o.is_owner());
        let mut from_group = Vec::new();
        own(
            cfg,
            &g.tracking,
            Restriction::None,
            reg,
            &mut from_group,
            &mut |_| {},
        );
        for mut t in from_group {
            if has_owner && t.weight.weight != 0 {
                warn(format!(
                    "sync group {}: cannot have weighted {} with a member having priority 255 - clearing weight",
                    g.name,
                    describe(&t.source, reg)
                ));
                t.weight.weight = 0;
            }
            // keepalived: the group's weight wins unless the instance's entry is unweighted.
            match out.iter_mut().find(|o| o.source == t.source) {
                Some(o) => {
                    warn(format!(
                        "{} is tracked by the instance and by sync group {}; remove one",
                        describe(&t.source, reg),
                        g.name
                    ));
                    if o.weight.weight != 0 {
                        o.weight = t.weight;
                    }
                }
                None => out.push(t),
            }
        }
    }
    out
}

fn describe(s: &TrackSource, reg: &Registry) -> String {
    match s {
        TrackSource::Interface(n) => format!("track_interface {n}"),
        TrackSource::Tracker(i) => {
            let t = &reg.trackers[*i];
            format!("{} {}", t.kind.keyword(), t.name)
        }
    }
}

/// One `Tracking` block (an instance's or a group's) under `restriction`.
fn own(
    cfg: &Config,
    tracking: &Tracking,
    restriction: Restriction,
    reg: &mut Registry,
    out: &mut Vec<Tracked>,
    warn: &mut dyn FnMut(String),
) {
    let why = restriction.why();
    for t in &tracking.interfaces {
        let mut weight = TrackWeight::new(t.weight, t.reverse);
        if restriction != Restriction::None && t.weight != 0 {
            match restriction {
                Restriction::SyncGroup => {
                    warn(format!(
                        "ignoring weight of tracked interface {} due to {why}",
                        t.name
                    ));
                    weight.weight = 0;
                }
                _ => {
                    warn(format!(
                        "ignoring tracked interface {} due to {why}",
                        t.name
                    ));
                    continue;
                }
            }
        }
        out.push(Tracked {
            source: TrackSource::Interface(t.name.clone()),
            weight,
        });
    }
    for r in &tracking.scripts {
        let Some(s) = cfg.vrrp_scripts.iter().find(|s| s.name == r.name) else {
            warn(format!("track script {} not found, ignoring", r.name));
            continue;
        };
        let weight = TrackWeight::new(r.weight.unwrap_or(s.weight), r.reverse.unwrap_or(s.reverse));
        if restriction != Restriction::None && weight.weight != 0 {
            warn(format!(
                "ignoring tracked script {} with weights due to {why}",
                r.name
            ));
            continue;
        }
        let initial = if s.init_fail {
            TrackerState::Down
        } else {
            TrackerState::Unknown
        };
        out.push(Tracked {
            source: TrackSource::Tracker(reg.index(&r.name, TrackerKind::Script, initial)),
            weight,
        });
    }
    for r in &tracking.files {
        let Some(f) = cfg.track_files.iter().find(|f| f.name == r.name) else {
            warn(format!("track file {} not found, ignoring", r.name));
            continue;
        };
        let mut weight =
            TrackWeight::new(r.weight.unwrap_or(f.weight), r.reverse.unwrap_or(f.reverse));
        if restriction != Restriction::None && weight.weight != 0 {
            if weight.weight == 1 {
                warn(format!(
                    "ignoring weight from tracked file {} due to {why}; specify weight 0",
                    r.name
                ));
                weight.weight = 0;
            } else {
                warn(format!(
                    "ignoring tracked file {} with weight {} due to {why}",
                    r.name, weight.weight
                ));
                continue;
            }
        }
        out.push(Tracked {
            source: TrackSource::Tracker(reg.index(
                &r.name,
                TrackerKind::File,
                TrackerState::Value(0),
            )),
            weight,
        });
    }
    for r in &tracking.processes {
        let Some(p) = cfg.track_processes.iter().find(|p| p.name == r.name) else {
            warn(format!("track process {} not found, ignoring", r.name));
            continue;
        };
        let weight = TrackWeight::new(r.weight.unwrap_or(p.weight), r.reverse.unwrap_or(p.reverse));
        out.push(Tracked {
            source: TrackSource::Tracker(reg.index(
                &r.name,
                TrackerKind::Process,
                TrackerState::Down,
            )),
            weight,
        });
    }
    for r in &tracking.bfds {
        warn(format!(
            "track_bfd {}: BFD is not supported, ignored",
            r.name
        ));
    }
}
