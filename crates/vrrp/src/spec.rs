//! What the driver runs: one [`InstanceSpec`] per `vrrp_instance`, built from the
//! configuration by [`crate::from_config`]. Everything is resolved here (defaults, global
//! fall-backs, VMAC names), so the driver never looks at the configuration model.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use rk_netlink::{AddressSpec, RouteSpec, RuleSpec, Scope};
use rk_vrrp_proto::{InstanceConfig, TrackWeight, TrackerState};

/// Everything the VRRP side runs.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Plan {
    /// The instances, in configuration order.
    pub instances: Vec<InstanceSpec>,
    /// `static_ipaddress`, `static_routes`, `static_rules`.
    pub statics: StaticPlan,
    /// Sync groups: indexes into `instances`.
    pub sync_groups: Vec<SyncGroupSpec>,
    /// Trackers run outside the VRRP thread (`vrrp_script`, `track_file`,
    /// `vrrp_track_process`) that some instance uses; their states come in through
    /// [`crate::Vrrp::trackers`]. Instances refer to them by index.
    pub trackers: Vec<TrackerSpec>,
    /// Pause between two GARPs on one interface (`vrrp_garp_interval`; zero: back to back).
    pub garp_interval: Duration,
    /// Pause between two unsolicited NAs on one interface (`vrrp_gna_interval`).
    pub gna_interval: Duration,
    /// Adverts are ignored for this long after start (`vrrp_startup_delay`).
    pub startup_delay: Duration,
    /// Log adverts for VRIDs no instance has (`log_unknown_vrids`).
    pub log_unknown_vrids: bool,
    /// Real-time priority of the VRRP thread (`vrrp_rt_priority`, SCHED_RR 1..=99; 0
    /// turns real-time off). `None`: [`crate::DEFAULT_RT_PRIORITY`].
    pub rt_priority: Option<i32>,
    /// Nice value of the VRRP thread (`vrrp_priority`, -20..=19).
    pub nice: Option<i32>,
}

/// A `vrrp_sync_group`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncGroupSpec {
    /// Group name.
    pub name: String,
    /// Member instances (indexes into [`Plan::instances`]).
    pub members: Vec<usize>,
}

/// One VRRP instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceSpec {
    /// `vrrp_instance NAME`.
    pub name: String,
    /// The base interface (`interface`): adverts go out and come in here unless a VMAC
    /// carries them.
    pub interface: String,
    /// `use_vmac`.
    pub vmac: Option<VmacPlan>,
    /// The protocol configuration for [`rk_vrrp_proto::Instance`].
    pub proto: InstanceConfig,
    /// Every address held while MASTER (advertised ones first, then excluded), with the
    /// details `ip addr add` needs.
    pub vips: Vec<VipSpec>,
    /// What the instance tracks: `track_interface`, `track_script`, `track_file`,
    /// `track_process`, its sync group's trackers, with the weights keepalived's rules leave
    /// them (see [`crate::from_config`]).
    pub tracked: Vec<Tracked>,
    /// `owner_ignore_adverts`: an owner drops every advert it receives.
    pub owner_ignore_adverts: bool,
    /// `unicast_fault_no_peer` with no peers: the instance stays in FAULT.
    pub fault_no_peer: bool,
    /// `track_src_ip`: FAULT while the configured source address is missing.
    pub track_src_ip: bool,
    /// `virtual_routes`: added after the VIPs on becoming MASTER, removed before them on
    /// leaving MASTER.
    pub routes: Vec<RoutePlan>,
    /// `virtual_rules`: added after the routes, removed before them.
    pub rules: Vec<RulePlan>,
}

impl InstanceSpec {
    /// The interface adverts are sent and received on: the VMAC unless `vmac_xmit_base`.
    pub fn advert_interface(&self) -> &str {
        match &self.vmac {
            Some(v) if !v.xmit_base => &v.name,
            _ => &self.interface,
        }
    }
}

/// `use_vmac`: a macvlan with the virtual router MAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmacPlan {
    /// Interface name (`vrrp.VRID` unless given).
    pub name: String,
    /// The MAC (RFC 5798 §7.3 unless given).
    pub mac: [u8; 6],
    /// `vmac_xmit_base`: adverts use the base interface; the VMAC only carries the VIPs.
    pub xmit_base: bool,
}

/// One thing an instance tracks and the weight it tracks it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tracked {
    /// What.
    pub source: TrackSource,
    /// How it counts ([`TrackWeight::effect`]).
    pub weight: TrackWeight,
}

/// What is tracked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackSource {
    /// An interface, by name (`track_interface`): up or down, watched by the driver.
    Interface(String),
    /// A tracker of [`Plan::trackers`], by index.
    Tracker(usize),
}

/// A tracker run outside the VRRP thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackerSpec {
    /// Its configured name (`vrrp_script NAME`, `track_file NAME`, ...).
    pub name: String,
    /// Which kind.
    pub kind: TrackerKind,
    /// Its state when the instances start. A `vrrp_script` starts [`TrackerState::Unknown`]
    /// (or `Down` with `init_fail`); the daemon reads files and scans processes before
    /// starting VRRP and fills in what it found.
    pub initial: TrackerState,
}

/// Kinds of trackers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackerKind {
    /// `vrrp_script`: up or down after `rise` / `fall` results.
    Script,
    /// `track_file`: a value.
    File,
    /// `vrrp_track_process`: up while the process count is within its quorum.
    Process,
}

impl TrackerKind {
    /// keepalived's block name.
    pub fn keyword(self) -> &'static str {
        match self {
            TrackerKind::Script => "vrrp_script",
            TrackerKind::File => "track_file",
            TrackerKind::Process => "vrrp_track_process",
        }
    }
}

/// An address the instance adds while MASTER.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VipSpec {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (/32 or /128 unless written).
    pub prefix_len: u8,
    /// Interface name (`dev`, else the instance's interface, or its VMAC).
    pub dev: String,
    /// Broadcast address (`brd`), resolved.
    pub broadcast: Option<Ipv4Addr>,
    /// Scope.
    pub scope: Scope,
    /// Label (`eth0:0`).
    pub label: Option<String>,
    /// `IFA_F_*` flags (`-nodad`, `home`, `mngtmpaddr`, `noprefixroute`, `autojoin`).
    pub flags: u32,
    /// Peer of a point-to-point address.
    pub peer: Option<IpAddr>,
    /// IPv6 preferred lifetime in seconds (`None`: forever).
    pub preferred_lft: Option<u32>,
    /// `no_track`: its removal behind our back does not make us leave MASTER.
    pub no_track: bool,
}

/// `IFA_PROTO` value on the addresses we add: `RTPROT_KEEPALIVED` (18), which
/// `/etc/iproute2/rt_protos` names "keepalived", so `ip addr` shows `proto keepalived`.
pub const ADDR_PROTO: u8 = 18;

impl VipSpec {
    /// The netlink request for interface index `ifindex`.
    pub fn address_spec(&self, ifindex: u32) -> AddressSpec {
        let mut a = AddressSpec::new(ifindex, self.addr, self.prefix_len);
        a.broadcast = self.broadcast;
        a.scope = self.scope;
        a.label = self.label.clone();
        a.flags = self.flags;
        a.peer = self.peer;
        a.preferred_lft = self.preferred_lft;
        a.proto = Some(ADDR_PROTO);
        a
    }
}

/// A route an instance holds while MASTER (`virtual_routes`), with its interfaces still
/// named: they are resolved to indexes when the route is added, as for VIPs, so a route
/// on an interface created after start works.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoutePlan {
    /// The route; `oif` and the next hops' `oif` are filled in from the names below.
    pub route: RouteSpec,
    /// `dev`.
    pub dev: Option<String>,
    /// Each next hop's `dev`, in order.
    pub nexthop_devs: Vec<Option<String>>,
    /// `no_track`: its removal behind our back does not make us leave MASTER.
    pub no_track: bool,
}

impl RoutePlan {
    /// The netlink request, interface names looked up with `index`; `Err` names the first
    /// interface that does not exist.
    pub fn resolve(&self, index: impl Fn(&str) -> Option<u32>) -> Result<RouteSpec, String> {
        let mut r = self.route.clone();
        if let Some(d) = &self.dev {
            r.oif = Some(index(d).ok_or_else(|| d.clone())?);
        }
        for (nh, dev) in r.nexthops.iter_mut().zip(&self.nexthop_devs) {
            if let Some(d) = dev {
                nh.oif = Some(index(d).ok_or_else(|| d.clone())?);
            }
        }
        Ok(r)
    }
}

/// `ip route` syntax with the interface names, for the log.
impl std::fmt::Display for RoutePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The spec prints indexes as `dev #N`; names read better and need no lookup.
        let mut named = self.route.clone();
        named.oif = None;
        for nh in &mut named.nexthops {
            nh.oif = None;
        }
        write!(f, "{named}")?;
        if let Some(d) = &self.dev {
            write!(f, " dev {d}")?;
        }
        if self.nexthop_devs.iter().any(Option::is_some) {
            let devs: Vec<&str> = self
                .nexthop_devs
                .iter()
                .map(|d| d.as_deref().unwrap_or("-"))
                .collect();
            write!(f, " (next hop devs {})", devs.join(","))?;
        }
        Ok(())
    }
}

/// A policy rule an instance holds while MASTER (`virtual_rules`). Rules name their
/// interfaces (`iif`, `oif`); the kernel needs no index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RulePlan {
    /// The rule.
    pub rule: RuleSpec,
    /// `no_track`: its removal behind our back does not make us leave MASTER.
    pub no_track: bool,
}

/// `static_ipaddress`, `static_routes`, `static_rules`: installed at start whatever the
/// instances' states, removed at stop (keepalived's `vrrp_daemon.c`); a reload removes
/// those no longer configured and installs the new ones.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StaticPlan {
    /// Addresses, with our `IFA_PROTO` marker.
    pub addresses: Vec<VipSpec>,
    /// Routes.
    pub routes: Vec<RoutePlan>,
    /// Rules.
    pub rules: Vec<RulePlan>,
}

impl StaticPlan {
    /// Nothing to install.
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty() && self.routes.is_empty() && self.rules.is_empty()
    }
}
