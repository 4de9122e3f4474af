//! Addresses, routes and rules (`virtual_ipaddress`, `static_*`, `virtual_routes`, ...)
//! and the interface-level blocks.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::{Family, IpPrefix};
use crate::source::Span;

/// An address to add to an interface: a VIP, an excluded VIP or a static address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualAddress {
    /// Address and prefix length (`/32` or `/128` when none was written).
    pub prefix: IpPrefix,
    /// Broadcast address (IPv4 only).
    pub broadcast: Option<Broadcast>,
    /// Interface; the instance's interface (or `default_interface` for static
    /// addresses) when absent.
    pub dev: Option<String>,
    /// Address scope (`global`, `site`, `link`, `host`, `nowhere` or a number).
    pub scope: Option<String>,
    /// Label such as `eth0:0` (IPv4 only).
    pub label: Option<String>,
    /// Peer address for point-to-point addresses.
    pub peer: Option<IpPrefix>,
    /// IFA_F_HOMEADDRESS.
    pub home: bool,
    /// IFA_F_NODAD (`-nodad`).
    pub nodad: bool,
    /// IFA_F_MANAGETEMPADDR.
    pub mngtmpaddr: bool,
    /// IFA_F_NOPREFIXROUTE.
    pub noprefixroute: bool,
    /// IFA_F_MCAUTOJOIN.
    pub autojoin: bool,
    /// Do not leave MASTER if the address is deleted behind our back.
    pub no_track: bool,
    /// IPv6 preferred lifetime (`forever` or seconds); keepalived's default is 0 for a
    /// /128 and forever otherwise.
    pub preferred_lft: Option<Lifetime>,
    /// Put the address on a VMAC of its interface.
    pub use_vmac: bool,
    /// The `track_group` of a static address.
    pub track_group: Option<String>,
    /// Where it was written.
    #[serde(skip)]
    pub span: Span,
}

impl VirtualAddress {
    /// The address.
    pub fn addr(&self) -> IpAddr {
        self.prefix.addr
    }

    /// Its family.
    pub fn family(&self) -> Family {
        self.prefix.family()
    }
}

/// A broadcast address setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Broadcast {
    /// An explicit address.
    Address(IpAddr),
    /// `+`: host bits set.
    HostBitsSet,
    /// `-`: host bits cleared.
    HostBitsCleared,
}

/// An address lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifetime {
    /// `forever`.
    Forever,
    /// Seconds.
    Seconds(u32),
}

/// A route (`ip route` syntax).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    /// `unicast`, `blackhole`, `unreachable`, `prohibit`, `throw`, ... (unicast if absent).
    pub route_type: Option<String>,
    /// Destination; `None` for `default`.
    pub dst: Option<IpPrefix>,
    /// Address family of the route.
    pub family: Family,
    /// Preferred source address (`src`).
    pub src: Option<IpAddr>,
    /// Source prefix (`from`, IPv6).
    pub from: Option<IpPrefix>,
    /// Gateway (`via` / `gw`).
    pub via: Option<IpAddr>,
    /// Alternative gateway (`or`).
    pub or_via: Option<IpAddr>,
    /// Output interface.
    pub dev: Option<String>,
    /// Routing table (name or number).
    pub table: Option<String>,
    /// `metric` / `priority` / `preference`.
    pub metric: Option<u32>,
    /// Route scope.
    pub scope: Option<String>,
    /// Routing protocol.
    pub protocol: Option<String>,
    /// `onlink`.
    pub onlink: bool,
    /// Multipath next hops.
    pub nexthops: Vec<Nexthop>,
    /// Other `ip route` options, in order, with their arguments.
    pub options: Vec<RouteOption>,
    /// Do not leave MASTER if the route is deleted behind our back.
    pub no_track: bool,
    /// `track_group` of a static route.
    pub track_group: Option<String>,
    /// Where it was written.
    #[serde(skip)]
    pub span: Span,
}

/// One `nexthop` of a multipath route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nexthop {
    /// Gateway.
    pub via: Option<IpAddr>,
    /// Interface.
    pub dev: Option<String>,
    /// Weight.
    pub weight: Option<u32>,
    /// `onlink`.
    pub onlink: bool,
}

/// An option of a route or rule kept by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteOption {
    /// Option name.
    pub name: String,
    /// Its arguments.
    pub args: Vec<String>,
}

/// A policy routing rule (`ip rule` syntax).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Address family.
    pub family: Family,
    /// `not`: invert the selector.
    pub invert: bool,
    /// Source prefix.
    pub from: Option<IpPrefix>,
    /// Destination prefix.
    pub to: Option<IpPrefix>,
    /// Table (`table` / `lookup`).
    pub table: Option<String>,
    /// Preference (`priority`, `preference`, `order`, `pref`).
    pub preference: Option<u32>,
    /// Action type when not a table lookup (`blackhole`, `prohibit`, `unreachable`, `goto`, `nop`).
    pub action: Option<String>,
    /// Other selectors and options, in order.
    pub options: Vec<RouteOption>,
    /// Do not leave MASTER if the rule is deleted behind our back.
    pub no_track: bool,
    /// `track_group` of a static rule.
    pub track_group: Option<String>,
    /// Where it was written.
    #[serde(skip)]
    pub span: Span,
}

/// `track_group NAME { group { VI_1 ... } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackGroup {
    /// Group name.
    pub name: String,
    /// Member instances.
    pub instances: Vec<String>,
    /// Where it was defined.
    #[serde(skip)]
    pub span: Span,
}

/// A `linkbeat_interfaces` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkbeatInterface {
    /// Interface.
    pub interface: String,
    /// Polling method (`MII`, `ETHTOOL`, `IOCTL`) if one was asked for.
    pub method: Option<String>,
}

/// An `interface_up_down_delays` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceDelay {
    /// Interface.
    pub interface: String,
    /// Delay before a down transition counts.
    #[serde(serialize_with = "super::secs")]
    pub down: Duration,
    /// Delay before an up transition counts (= down when omitted).
    #[serde(serialize_with = "super::secs")]
    pub up: Duration,
}
