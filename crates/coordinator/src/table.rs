//! The three tables the coordinator compares: what we want, what the kernel
//! has, and which of the kernel's objects are ours.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rk_ipvs::{
    Daemon, DestKey, Destination, DumpedService, Forward, IpvsOp, Service, ServiceKey, SyncRole,
    Timeouts,
};

use crate::ids::VsId;

/// The IPVS table this node should have.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredTable {
    /// Services to install, with their destinations.
    pub services: BTreeMap<ServiceKey, DesiredService>,
    /// Every service key the configuration describes, installed here or not
    /// (BACKUP nodes in rules-follow-VIP mode), with every destination key it
    /// describes (down ones and the sorry server included). This is what a
    /// restart adopts, and what tells a destination *removed from the
    /// configuration* (drained) from one that is merely down (deleted).
    pub configured: BTreeMap<ServiceKey, ConfiguredService>,
    /// Connection timeouts to enforce (`lvs_timeouts`), `None` when unset.
    pub timeouts: Option<WantedTimeouts>,
    /// Sync daemons (`lvs_sync_daemon`): `None` leaves the kernel's daemons
    /// alone; `Some` makes both roles ours, running exactly these.
    pub daemons: Option<BTreeMap<SyncRole, Daemon>>,
}

/// One service to install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredService {
    /// Service settings.
    pub service: Service,
    /// Destinations with their weights.
    pub dests: BTreeMap<DestKey, Destination>,
    /// The VRRP instance this service follows is in an unknown state: keep
    /// the service if the kernel has it (and keep its destinations in
    /// order), but do not add it.
    pub hold: bool,
    /// The configured virtual server it comes from.
    pub origin: VsId,
}

/// A service the configuration describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfiguredService {
    /// The configured virtual server it comes from.
    pub origin: VsId,
    /// How long its destinations (or itself) drain when a reload removes them.
    pub drain_timeout: Duration,
    /// Every destination the configuration gives it.
    pub dests: BTreeSet<DestKey>,
}

/// `lvs_timeouts`: each `Some` is enforced, each `None` left as the kernel has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct WantedTimeouts {
    /// TCP established, seconds.
    pub tcp: Option<u32>,
    /// TCP after FIN, seconds.
    pub tcp_fin: Option<u32>,
    /// UDP, seconds.
    pub udp: Option<u32>,
}

impl WantedTimeouts {
    /// Whether `actual` has every value we want.
    pub fn satisfied_by(&self, actual: &Timeouts) -> bool {
        self.tcp.is_none_or(|v| v == actual.tcp)
            && self.tcp_fin.is_none_or(|v| v == actual.tcp_fin)
            && self.udp.is_none_or(|v| v == actual.udp)
    }

    /// The `SET_CONFIG` values (0 leaves a value unchanged).
    pub fn to_timeouts(self) -> Timeouts {
        Timeouts {
            tcp: self.tcp.unwrap_or(0),
            tcp_fin: self.tcp_fin.unwrap_or(0),
            udp: self.udp.unwrap_or(0),
        }
    }
}

/// The kernel's table as last dumped, updated with every operation that
/// succeeded since (the model the reconciler diffs against between dumps).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActualTable {
    /// Services with their destinations.
    pub services: BTreeMap<ServiceKey, ActualService>,
    /// Running sync daemons.
    pub daemons: BTreeMap<SyncRole, Daemon>,
    /// Connection timeouts, when read.
    pub timeouts: Option<Timeouts>,
}

/// A service in the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActualService {
    /// Settings.
    pub service: Service,
    /// Destinations.
    pub dests: BTreeMap<DestKey, ActualDest>,
}

/// A destination in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActualDest {
    /// Settings.
    pub dest: Destination,
    /// Active connections (what a drain waits for).
    pub active_conns: u32,
    /// Inactive connections.
    pub inactive_conns: u32,
}

impl ActualDest {
    /// A destination without connections.
    pub fn new(dest: Destination) -> ActualDest {
        ActualDest {
            dest,
            active_conns: 0,
            inactive_conns: 0,
        }
    }
}

impl ActualTable {
    /// The table of a dump (daemons and timeouts left empty).
    pub fn from_dump(dump: Vec<DumpedService>) -> ActualTable {
        let services = dump
            .into_iter()
            .map(|d| {
                let dests = d
                    .dests
                    .into_iter()
                    .map(|e| {
                        (
                            e.dest.key,
                            ActualDest {
                                dest: e.dest,
                                active_conns: e.active_conns,
                                inactive_conns: e.inactive_conns,
                            },
                        )
                    })
                    .collect();
                (
                    d.service.service.key,
                    ActualService {
                        service: d.service.service,
                        dests,
                    },
                )
            })
            .collect();
        ActualTable {
            services,
            daemons: BTreeMap::new(),
            timeouts: None,
        }
    }

    /// Number of destinations over all services.
    pub fn dest_count(&self) -> usize {
        self.services.values().map(|s| s.dests.len()).sum()
    }

    /// Update the model with an operation the kernel accepted (or answered
    /// "already done"). Connection counts of new destinations start at 0.
    pub fn apply(&mut self, op: &IpvsOp) {
        match op {
            IpvsOp::AddService(s) => {
                self.services.entry(s.key).or_insert_with(|| ActualService {
                    service: s.clone(),
                    dests: BTreeMap::new(),
                });
            }
            IpvsOp::EditService(s) => {
                if let Some(a) = self.services.get_mut(&s.key) {
                    a.service = s.clone();
                }
            }
            IpvsOp::DelService(k) => {
                self.services.remove(k);
            }
            IpvsOp::AddDest { service, dest } => {
                if let Some(a) = self.services.get_mut(service) {
                    a.dests
                        .entry(dest.key)
                        .or_insert_with(|| ActualDest::new(*dest));
                }
            }
            IpvsOp::EditDest { service, dest } => {
                if let Some(d) = self
                    .services
                    .get_mut(service)
                    .and_then(|a| a.dests.get_mut(&dest.key))
                {
                    d.dest = *dest;
                }
            }
            IpvsOp::DelDest { service, dest } => {
                if let Some(a) = self.services.get_mut(service) {
                    a.dests.remove(dest);
                }
            }
            IpvsOp::SetTimeouts(t) => {
                if let Some(cur) = &mut self.timeouts {
                    // 0 leaves a value unchanged (kernel semantics).
                    for (c, v) in [
                        (&mut cur.tcp, t.tcp),
                        (&mut cur.tcp_fin, t.tcp_fin),
                        (&mut cur.udp, t.udp),
                    ] {
                        if v != 0 {
                            *c = v;
                        }
                    }
                }
            }
            IpvsOp::StartDaemon(d) => {
                self.daemons.entry(d.role).or_insert_with(|| d.clone());
            }
            IpvsOp::StopDaemon(role) => {
                self.daemons.remove(role);
            }
            IpvsOp::Flush => self.services.clear(),
            IpvsOp::Zero(_) => {}
        }
    }
}

/// Whether a destination in the kernel matches the one we want. The kernel
/// may report a destination on a local address as `Local`; whatever method
/// we asked for, it cannot be edited away, so it counts as a match (else
/// every pass would edit it again).
pub(crate) fn dest_matches(want: &Destination, have: &Destination) -> bool {
    let forward_ok = want.forward == have.forward || have.forward == Forward::Local;
    forward_ok
        && want.weight == have.weight
        && want.upper_threshold == have.upper_threshold
        && want.lower_threshold == have.lower_threshold
}

/// The kernel objects that are ours: the only ones the coordinator edits or
/// deletes.
///
/// An object is ours when
/// * this daemon created it (an add the kernel accepted), or
/// * it is *adopted*: a service whose key the current configuration
///   describes ([`DesiredTable::configured`], whether or not this node
///   installs it), and in such a service a destination whose key the
///   configuration gives that service; or
/// * it is a sync daemon, while `lvs_sync_daemon` is configured (both roles).
///
/// Everything else is foreign: services other tools made, destinations
/// added by hand to our services. Foreign objects are never edited or
/// deleted, except that deleting one of our services takes the kernel's
/// destinations of it along (the kernel has no other way), and `lvs_flush`
/// / `lvs_flush_on_stop` flush everything, as in keepalived.
///
/// After a restart, what the configuration describes is adopted; leftovers
/// of an older configuration are ours only when claimed from the record the
/// previous run wrote ([`Owned::to_record`], [`crate::Engine::ownership_record`],
/// [`Owned::claim_all`]); without a record they stay, as foreign objects do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owned {
    services: BTreeSet<ServiceKey>,
    dests: BTreeMap<ServiceKey, BTreeSet<DestKey>>,
    daemons: BTreeSet<SyncRole>,
}

impl Owned {
    /// Nothing owned.
    pub fn new() -> Owned {
        Owned::default()
    }

    /// Whether the service is ours.
    pub fn has_service(&self, key: &ServiceKey) -> bool {
        self.services.contains(key)
    }

    /// Whether the destination is ours.
    pub fn has_dest(&self, service: &ServiceKey, dest: &DestKey) -> bool {
        self.dests.get(service).is_some_and(|d| d.contains(dest))
    }

    /// Whether the sync daemon of this role is ours.
    pub fn has_daemon(&self, role: SyncRole) -> bool {
        self.daemons.contains(&role)
    }

    /// Our services, in key order.
    pub fn services(&self) -> impl Iterator<Item = &ServiceKey> {
        self.services.iter()
    }

    /// Our sync daemons.
    pub fn daemons(&self) -> impl Iterator<Item = SyncRole> + '_ {
        self.daemons.iter().copied()
    }

    /// Number of services owned.
    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    /// Our destinations of `service`, in key order.
    pub fn dests_of(&self, service: &ServiceKey) -> impl Iterator<Item = &DestKey> {
        self.dests.get(service).into_iter().flatten()
    }

    /// Claim a service as ours: for a list the previous run persisted, so
    /// its leftovers that the new configuration no longer describes are
    /// removed instead of left as foreign.
    pub fn claim_service(&mut self, key: ServiceKey) {
        self.services.insert(key);
    }

    /// Claim a destination as ours (see [`Owned::claim_service`]).
    pub fn claim_dest(&mut self, service: ServiceKey, dest: DestKey) {
        self.dests.entry(service).or_default().insert(dest);
    }

    /// Claim a sync daemon role as ours (see [`Owned::claim_service`]).
    pub fn claim_daemon(&mut self, role: SyncRole) {
        self.daemons.insert(role);
    }

    /// Claim everything `other` has (a record of the previous run).
    pub fn claim_all(&mut self, other: &Owned) {
        self.services.extend(other.services.iter().copied());
        for (s, d) in &other.dests {
            self.dests.entry(*s).or_default().extend(d.iter().copied());
        }
        self.daemons.extend(other.daemons.iter().copied());
    }

    /// Number of destinations owned, over all services.
    pub fn dest_count(&self) -> usize {
        self.dests.values().map(BTreeSet::len).sum()
    }

    /// Mark as ours what the configuration describes and the kernel has.
    pub fn adopt(&mut self, desired: &DesiredTable, actual: &ActualTable) {
        for (key, a) in &actual.services {
            let Some(c) = desired.configured.get(key) else {
                continue;
            };
            self.services.insert(*key);
            let mine = self.dests.entry(*key).or_default();
            mine.extend(a.dests.keys().filter(|d| c.dests.contains(d)).copied());
        }
        if desired.daemons.is_some() {
            self.daemons.extend(actual.daemons.keys().copied());
        }
    }

    /// Record an operation the kernel accepted (or answered "already done").
    pub fn record(&mut self, op: &IpvsOp) {
        match op {
            IpvsOp::AddService(s) => {
                self.services.insert(s.key);
            }
            IpvsOp::DelService(k) => {
                self.services.remove(k);
                self.dests.remove(k);
            }
            IpvsOp::AddDest { service, dest } => {
                self.dests.entry(*service).or_default().insert(dest.key);
            }
            IpvsOp::DelDest { service, dest } => {
                if let Some(d) = self.dests.get_mut(service) {
                    d.remove(dest);
                }
            }
            IpvsOp::StartDaemon(d) => {
                self.daemons.insert(d.role);
            }
            IpvsOp::StopDaemon(role) => {
                self.daemons.remove(role);
            }
            IpvsOp::Flush => {
                self.services.clear();
                self.dests.clear();
            }
            IpvsOp::EditService(_)
            | IpvsOp::EditDest { .. }
            | IpvsOp::SetTimeouts(_)
            | IpvsOp::Zero(_) => {}
        }
    }
}
