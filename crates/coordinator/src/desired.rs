//! `desired = f(config, ownership, health)`: the IPVS table this node should
//! have. Pure: no I/O, no clock, no tokio.
//!
//! keepalived's LVS semantics (`check/ipwrapper.c`), level-triggered:
//! * a real server without checkers is always up; one with checkers is up
//!   until they say otherwise, unless one of them is `alpha` (then down until
//!   they pass);
//! * a live real server is in with its weight (a dynamic weight replaces the
//!   configured one); a down one is out, or in at weight 0 with
//!   `inhibit_on_failure`;
//! * quorum (sum of live weights) with hysteresis, see [`crate::quorum`];
//!   without quorum and with a `sorry_server`, every real server is out (in at
//!   weight 0 with `inhibit_on_failure`) and the sorry server is in at weight 1;
//!   with quorum, a `sorry_server_inhibit` sorry server stays in at weight 0;
//!   without a sorry server quorum only produces events;
//! * `virtual_server group` is one service per address of each range entry
//!   and per fwmark entry, all with the same destinations;
//! * rules follow the VIP (or everywhere), see [`crate::RulesMode`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;

use rk_config::Config;
use rk_config::model::{RealServer, VirtualServer, VsKey};
use rk_ipvs::{Daemon, DestKey, ServiceKey, SyncRole};

use crate::expand::{self, SORRY_WEIGHT, real_weight};
use crate::ids::{RsId, VsId};
use crate::inputs::{Health, InstanceRole, Ownership, Policy, RulesMode};
use crate::quorum::{QuorumEvent, QuorumStates, evaluate};
use crate::table::{ConfiguredService, DesiredService, DesiredTable, WantedTimeouts};

/// Everything the desired table depends on.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// VRRP states.
    pub ownership: &'a Ownership,
    /// Real-server health.
    pub health: &'a Health,
    /// Our keywords.
    pub policy: &'a Policy,
}

/// The result of [`desired()`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// The table to converge to.
    pub table: DesiredTable,
    /// Quorum states to pass to the next call.
    pub quorum: QuorumStates,
    /// Quorum transitions (and start-up notices), in configuration order.
    pub events: Vec<QuorumEvent>,
    /// Parts of the configuration that could not be honoured (the rest is).
    pub problems: Vec<Problem>,
}

/// Something in the configuration the coordinator had to skip or guess.
/// Configuration validation should make these impossible; they are reported
/// rather than trusted away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A `virtual_server group` names a group that does not exist.
    UnknownGroup {
        /// The virtual server.
        vs: VsId,
        /// The missing group.
        group: String,
    },
    /// A group range entry expands to more than [`crate::MAX_RANGE`]
    /// addresses; the entry is skipped.
    RangeTooLarge {
        /// The virtual server.
        vs: VsId,
        /// First address.
        first: IpAddr,
        /// Last address.
        last: IpAddr,
    },
    /// Two virtual servers make the same IPVS service; the first one in the
    /// configuration keeps it, the second does not get it.
    DuplicateService {
        /// The service.
        key: ServiceKey,
        /// Who has it.
        first: VsId,
        /// Who does not get it.
        second: VsId,
    },
    /// An explicit binding names an instance that does not exist; the
    /// virtual server is installed unconditionally.
    UnknownInstance {
        /// The virtual server.
        vs: VsId,
        /// The missing instance.
        instance: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::UnknownGroup { vs, group } => {
                write!(f, "virtual server {vs}: no virtual_server_group {group}")
            }
            Problem::RangeTooLarge { vs, first, last } => write!(
                f,
                "virtual server {vs}: range {first}-{last} is more than {} addresses; skipped",
                crate::MAX_RANGE
            ),
            Problem::DuplicateService { key, first, second } => write!(
                f,
                "service {key} is made by both {first} and {second}; {first} keeps it"
            ),
            Problem::UnknownInstance { vs, instance } => write!(
                f,
                "virtual server {vs} follows vrrp_instance {instance}, which does not exist; installed unconditionally"
            ),
        }
    }
}

/// Whether a virtual server's services are installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presence {
    Install,
    /// Instance state unknown: keep what the kernel has.
    Hold,
    Absent,
}

/// Compute the desired table. `previous` are the quorum states the last call
/// returned (empty at start-up); virtual servers not in `previous` get their
/// first evaluation.
pub fn desired(inputs: &Inputs<'_>, previous: &QuorumStates) -> Desired {
    let cfg = inputs.config;
    let vips = vip_index(cfg);
    let mut out = Desired {
        table: DesiredTable {
            timeouts: timeouts(cfg),
            daemons: daemons(cfg, inputs.ownership),
            ..DesiredTable::default()
        },
        quorum: QuorumStates::new(),
        events: Vec::new(),
        problems: Vec::new(),
    };
    for vs in &cfg.virtual_servers {
        one_vs(inputs, vs, &vips, previous, &mut out);
    }
    out
}

fn one_vs(
    inputs: &Inputs<'_>,
    vs: &VirtualServer,
    vips: &HashMap<IpAddr, Vec<&str>>,
    previous: &QuorumStates,
    out: &mut Desired,
) {
    let id = VsId::of(vs);
    let presence = presence(inputs, vs, &id, vips, &mut out.problems);

    // Health, live weight, quorum.
    let mut live_weight: u64 = 0;
    let states: Vec<(&RealServer, bool, u32)> = vs
        .real_servers
        .iter()
        .map(|rs| {
            let (alive, weight) = rs_state(inputs.health, &id, rs);
            if alive {
                live_weight += u64::from(weight);
            }
            (rs, alive, weight)
        })
        .collect();
    let (quorum_up, event) = evaluate(
        &id,
        previous.get(&id),
        live_weight,
        vs.quorum,
        vs.hysteresis,
        vs.sorry_server.is_some(),
    );
    out.quorum.insert(id.clone(), quorum_up);
    out.events.extend(event);

    // Destinations, identical for every service of this virtual server.
    let sorry_active = vs.sorry_server.is_some() && !quorum_up;
    let mut dests = BTreeMap::new();
    let mut configured_dests = BTreeSet::new();
    for &(rs, alive, weight) in &states {
        let key = DestKey {
            addr: rs.addr,
            port: rs.port,
        };
        configured_dests.insert(key);
        let inhibit = rs.inhibit_on_failure;
        let w = if sorry_active || !alive {
            inhibit.then_some(0)
        } else {
            Some(weight)
        };
        if let Some(w) = w {
            dests.insert(key, expand::rs_dest(rs, w));
        }
    }
    if let Some(s) = &vs.sorry_server {
        let d = expand::sorry_dest(s, if sorry_active { SORRY_WEIGHT } else { 0 });
        configured_dests.insert(d.key);
        if sorry_active {
            // A sorry server that is also a real server takes its place.
            dests.insert(d.key, d);
        } else if s.inhibit {
            dests.entry(d.key).or_insert(d);
        }
    }

    let (keys, problems) = expand::service_keys(vs, inputs.config);
    out.problems.extend(problems);
    let drain_timeout = inputs.policy.drain_timeout_of(&id);
    for key in keys {
        if let Some(c) = out.table.configured.get(&key) {
            out.problems.push(Problem::DuplicateService {
                key,
                first: c.origin.clone(),
                second: id.clone(),
            });
            continue;
        }
        out.table.configured.insert(
            key,
            ConfiguredService {
                origin: id.clone(),
                drain_timeout,
                dests: configured_dests.clone(),
            },
        );
        if presence != Presence::Absent {
            out.table.services.insert(
                key,
                DesiredService {
                    service: expand::service(vs, key),
                    dests: dests.clone(),
                    hold: presence == Presence::Hold,
                    origin: id.clone(),
                },
            );
        }
    }
}

/// Whether a real server is alive, and its effective weight.
fn rs_state(health: &Health, vs: &VsId, rs: &RealServer) -> (bool, u32) {
    let configured = rs.weight.min(i32::MAX as u32);
    if rs.checkers.is_empty() {
        return (true, configured);
    }
    let id = RsId {
        vs: vs.clone(),
        addr: rs.addr,
        port: rs.port,
    };
    match health.get(&id) {
        Some(h) => (h.up, h.weight.map(real_weight).unwrap_or(configured)),
        // Not decided yet: keepalived starts a checker up unless it is alpha.
        None => (!rs.checkers.iter().any(|c| c.timing.alpha), configured),
    }
}

/// Where each address is a VIP (`virtual_ipaddress` or excluded).
fn vip_index(cfg: &Config) -> HashMap<IpAddr, Vec<&str>> {
    let mut map: HashMap<IpAddr, Vec<&str>> = HashMap::new();
    for inst in &cfg.vrrp_instances {
        for a in inst.all_addresses() {
            let owners = map.entry(a.addr()).or_default();
            if !owners.contains(&inst.name.as_str()) {
                owners.push(&inst.name);
            }
        }
    }
    map
}

fn presence(
    inputs: &Inputs<'_>,
    vs: &VirtualServer,
    id: &VsId,
    vips: &HashMap<IpAddr, Vec<&str>>,
    problems: &mut Vec<Problem>,
) -> Presence {
    if inputs.policy.rules == RulesMode::Everywhere {
        return Presence::Install;
    }
    let cfg = inputs.config;
    let owners: Vec<&str> = match inputs.policy.track_instance.get(id) {
        Some(name) if cfg.instance(name).is_some() => vec![name.as_str()],
        Some(name) => {
            problems.push(Problem::UnknownInstance {
                vs: id.clone(),
                instance: name.clone(),
            });
            return Presence::Install;
        }
        None => match &vs.key {
            VsKey::Addr { addr, .. } => match vips.get(addr) {
                Some(o) => o.clone(),
                None => return Presence::Install,
            },
            // fwmark and group services follow an instance only when told to.
            VsKey::Fwmark { .. } | VsKey::Group { .. } => return Presence::Install,
        },
    };
    // Installed if any owner's sync set is all MASTER; held while one could
    // still be; absent once each set has a member known not to be MASTER.
    let mut best = Presence::Absent;
    for owner in owners {
        match set_presence(inputs.ownership, &follow_set(cfg, owner)) {
            Presence::Install => return Presence::Install,
            Presence::Hold => best = Presence::Hold,
            Presence::Absent => {}
        }
    }
    best
}

/// The instances a binding to `instance` waits for: the instance, or every
/// instance of its sync group (they change state together; a NAT service
/// also needs the group's inside gateway VIP).
fn follow_set<'a>(cfg: &'a Config, instance: &'a str) -> Vec<&'a str> {
    let group_name = cfg.instance(instance).and_then(|i| i.sync_group.as_deref());
    let group = cfg.sync_groups.iter().find(|g| match group_name {
        Some(n) => g.name == n,
        None => g.instances.iter().any(|i| i == instance),
    });
    match group {
        Some(g) if !g.instances.is_empty() => g.instances.iter().map(String::as_str).collect(),
        _ => vec![instance],
    }
}

fn set_presence(ownership: &Ownership, set: &[&str]) -> Presence {
    if set.iter().any(|i| {
        matches!(
            ownership.role(i),
            Some(InstanceRole::Backup | InstanceRole::Fault)
        )
    }) {
        Presence::Absent
    } else if set.iter().all(|i| ownership.is_master(i)) {
        Presence::Install
    } else {
        Presence::Hold
    }
}

/// `lvs_timeouts`, in whole seconds.
fn timeouts(cfg: &Config) -> Option<WantedTimeouts> {
    let t = &cfg.global.lvs_timeouts;
    let secs =
        |d: Option<std::time::Duration>| d.map(|d| d.as_secs().min(u64::from(u32::MAX)) as u32);
    let w = WantedTimeouts {
        tcp: secs(t.tcp),
        tcp_fin: secs(t.tcpfin),
        udp: secs(t.udp),
    };
    (w != WantedTimeouts::default()).then_some(w)
}

/// `lvs_sync_daemon`: with an instance, master while it is MASTER and backup
/// otherwise (keepalived `vrrp_state_become_master` / `leave_master`);
/// without one, both.
fn daemons(cfg: &Config, ownership: &Ownership) -> Option<BTreeMap<SyncRole, Daemon>> {
    let sd = cfg.global.lvs_sync_daemon.as_ref()?;
    let syncid = sd
        .id
        .or_else(|| {
            sd.instance
                .as_deref()
                .and_then(|i| cfg.instance(i))
                .map(|i| i.vrid)
        })
        .map(u32::from)
        .unwrap_or(0);
    let make = |role| Daemon {
        role,
        mcast_ifn: sd.interface.clone(),
        syncid,
        sync_maxlen: sd.maxlen,
        mcast_group: sd.group,
        mcast_port: sd.port,
        mcast_ttl: sd.ttl,
    };
    let roles: &[SyncRole] = match &sd.instance {
        Some(i) if ownership.is_master(i) => &[SyncRole::Master],
        Some(_) => &[SyncRole::Backup],
        None => &[SyncRole::Master, SyncRole::Backup],
    };
    Some(roles.iter().map(|&r| (r, make(r))).collect())
}
