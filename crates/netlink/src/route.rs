//! Routes: add and remove with what keepalived's `virtual_routes` / `static_routes` lines
//! carry (`ip route` syntax: destination or default, `src`, `from`, `via`, `dev`, `table`,
//! `metric`, `scope`, `protocol`, `tos`, the route types, `onlink`, multipath next hops
//! with weights, `add` / `append` / `prepend`).

use std::fmt;
use std::net::IpAddr;

use netlink_packet_core::{NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteMetric, RouteNextHop,
    RouteNextHopFlags, RouteProtocol, RouteScope, RouteType as NlRouteType, RouteVia,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::addr::{AddOutcome, DelOutcome, Scope};
use crate::error::Result;
use crate::handle::Netlink;

/// `RTPROT_KEEPALIVED`: the protocol our routes and rules carry unless told otherwise, so
/// `ip route` shows `proto keepalived` and a removal only ever matches our own.
pub const RTPROT_KEEPALIVED: u8 = 18;

/// `RT_TABLE_MAIN`.
pub const TABLE_MAIN: u32 = 254;
/// `RT_TABLE_LOCAL`.
pub const TABLE_LOCAL: u32 = 255;
/// `RT_TABLE_DEFAULT`.
pub const TABLE_DEFAULT: u32 = 253;

/// IPv4 or IPv6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum IpFamily {
    /// `AF_INET`.
    #[default]
    V4,
    /// `AF_INET6`.
    V6,
}

impl IpFamily {
    /// The family of an address.
    pub fn of(a: &IpAddr) -> IpFamily {
        match a {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }

    pub(crate) fn af(self) -> AddressFamily {
        match self {
            IpFamily::V4 => AddressFamily::Inet,
            IpFamily::V6 => AddressFamily::Inet6,
        }
    }
}

/// An address with a prefix length (`10.1.0.0/16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub len: u8,
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Route types (`ip route add TYPE PREFIX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RouteType {
    /// `unicast`: the default.
    #[default]
    Unicast,
    /// `local`.
    Local,
    /// `broadcast`.
    Broadcast,
    /// `anycast`.
    Anycast,
    /// `multicast`.
    Multicast,
    /// `blackhole`: dropped silently.
    Blackhole,
    /// `unreachable`: dropped with ICMP host unreachable.
    Unreachable,
    /// `prohibit`: dropped with ICMP administratively prohibited.
    Prohibit,
    /// `throw`: the lookup continues in the next rule.
    Throw,
    /// `nat`.
    Nat,
}

impl RouteType {
    /// Parses `ip route`'s names.
    pub fn parse(s: &str) -> Option<RouteType> {
        Some(match s {
            "unicast" => RouteType::Unicast,
            "local" => RouteType::Local,
            "broadcast" => RouteType::Broadcast,
            "anycast" => RouteType::Anycast,
            "multicast" => RouteType::Multicast,
            "blackhole" => RouteType::Blackhole,
            "unreachable" => RouteType::Unreachable,
            "prohibit" => RouteType::Prohibit,
            "throw" => RouteType::Throw,
            "nat" => RouteType::Nat,
            _ => return None,
        })
    }

    fn nl(self) -> NlRouteType {
        match self {
            RouteType::Unicast => NlRouteType::Unicast,
            RouteType::Local => NlRouteType::Local,
            RouteType::Broadcast => NlRouteType::Broadcast,
            RouteType::Anycast => NlRouteType::Anycast,
            RouteType::Multicast => NlRouteType::Multicast,
            RouteType::Blackhole => NlRouteType::BlackHole,
            RouteType::Unreachable => NlRouteType::Unreachable,
            RouteType::Prohibit => NlRouteType::Prohibit,
            RouteType::Throw => NlRouteType::Throw,
            RouteType::Nat => NlRouteType::Nat,
        }
    }

    /// Types that forward nowhere take no gateway and no interface.
    pub fn is_reject(self) -> bool {
        matches!(
            self,
            RouteType::Blackhole | RouteType::Unreachable | RouteType::Prohibit | RouteType::Throw
        )
    }
}

impl fmt::Display for RouteType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RouteType::Unicast => "unicast",
            RouteType::Local => "local",
            RouteType::Broadcast => "broadcast",
            RouteType::Anycast => "anycast",
            RouteType::Multicast => "multicast",
            RouteType::Blackhole => "blackhole",
            RouteType::Unreachable => "unreachable",
            RouteType::Prohibit => "prohibit",
            RouteType::Throw => "throw",
            RouteType::Nat => "nat",
        })
    }
}

/// How an add treats routes with the same key (destination, table, tos, metric).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AddMode {
    /// `NLM_F_CREATE` alone (keepalived's default, `ip route prepend`): our route goes
    /// first among those with the same key. An identical route is still "already there".
    #[default]
    Prepend,
    /// `add` (`NLM_F_EXCL`): any route with the same key makes it "already there".
    Exclusive,
    /// `append` (`NLM_F_APPEND`): our route goes last among those with the same key.
    Append,
}

/// A route metric (`ip route add ... mtu [lock] 1400`), the ones given as plain numbers
/// (and `congctl`, a name).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `mtu` (RTAX_MTU).
    Mtu(u32),
    /// `advmss`.
    Advmss(u32),
    /// `window`.
    Window(u32),
    /// `hoplimit`.
    Hoplimit(u32),
    /// `initcwnd`.
    InitCwnd(u32),
    /// `initrwnd`.
    InitRwnd(u32),
    /// `cwnd`.
    Cwnd(u32),
    /// `ssthresh`.
    Ssthresh(u32),
    /// `reordering`.
    Reordering(u32),
    /// `quickack` (0 or 1).
    QuickAck(u32),
    /// `fastopen_no_cookie` (0 or 1).
    FastopenNoCookie(u32),
    /// `congctl NAME` (RTAX_CC_ALGO).
    CongCtl(String),
}

impl Metric {
    /// Parses `ip route`'s metric option `name` with its value.
    pub fn parse(name: &str, value: &str) -> Option<Metric> {
        if name == "congctl" {
            return (!value.is_empty()).then(|| Metric::CongCtl(value.to_string()));
        }
        let n: u32 = value.parse().ok()?;
        Some(match name {
            "mtu" => Metric::Mtu(n),
            "advmss" => Metric::Advmss(n),
            "window" => Metric::Window(n),
            "hoplimit" => Metric::Hoplimit(n),
            "initcwnd" => Metric::InitCwnd(n),
            "initrwnd" => Metric::InitRwnd(n),
            "cwnd" => Metric::Cwnd(n),
            "ssthresh" => Metric::Ssthresh(n),
            "reordering" => Metric::Reordering(n),
            "quickack" if n <= 1 => Metric::QuickAck(n),
            "fastopen_no_cookie" if n <= 1 => Metric::FastopenNoCookie(n),
            _ => return None,
        })
    }

    /// The kernel's RTAX number (its bit in RTAX_LOCK).
    fn rtax(&self) -> u32 {
        match self {
            Metric::Mtu(_) => 2,
            Metric::Window(_) => 3,
            Metric::Ssthresh(_) => 6,
            Metric::Cwnd(_) => 7,
            Metric::Advmss(_) => 8,
            Metric::Reordering(_) => 9,
            Metric::Hoplimit(_) => 10,
            Metric::InitCwnd(_) => 11,
            Metric::InitRwnd(_) => 14,
            Metric::QuickAck(_) => 15,
            Metric::CongCtl(_) => 16,
            Metric::FastopenNoCookie(_) => 17,
        }
    }

    fn nl(&self) -> RouteMetric {
        match self {
            Metric::Mtu(n) => RouteMetric::Mtu(*n),
            Metric::Advmss(n) => RouteMetric::Advmss(*n),
            Metric::Window(n) => RouteMetric::Window(*n),
            Metric::Hoplimit(n) => RouteMetric::Hoplimit(*n),
            Metric::InitCwnd(n) => RouteMetric::InitCwnd(*n),
            Metric::InitRwnd(n) => RouteMetric::InitRwnd(*n),
            Metric::Cwnd(n) => RouteMetric::Cwnd(*n),
            Metric::Ssthresh(n) => RouteMetric::SsThresh(*n),
            Metric::Reordering(n) => RouteMetric::Reordering(*n),
            Metric::QuickAck(n) => RouteMetric::QuickAck(*n),
            Metric::FastopenNoCookie(n) => RouteMetric::FastopenNoCookie(*n),
            Metric::CongCtl(s) => RouteMetric::CcAlgo(s.clone()),
        }
    }
}

/// A metric and whether it is locked (`lock`: the kernel never changes it, e.g. from
/// path MTU discovery).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MetricSpec {
    /// The metric.
    pub metric: Metric,
    /// `lock`.
    pub lock: bool,
}

/// One next hop of a multipath route.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NexthopSpec {
    /// Gateway (`via`); of the other family, `RTA_VIA` (an IPv4 route via IPv6).
    pub via: Option<IpAddr>,
    /// Output interface index (`dev`).
    pub oif: Option<u32>,
    /// Weight 1..=256 (`weight`, 1 unless given).
    pub weight: u16,
    /// `onlink`: the gateway is on the link even if no prefix says so.
    pub onlink: bool,
}

/// A route to add or remove.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RouteSpec {
    /// Address family.
    pub family: IpFamily,
    /// Destination; `None` is `default` (0.0.0.0/0 or ::/0).
    pub dst: Option<Prefix>,
    /// Source prefix (`from`, IPv6 source routing): `RTA_SRC`.
    pub from: Option<Prefix>,
    /// Preferred source address (`src`): `RTA_PREFSRC`.
    pub src: Option<IpAddr>,
    /// Gateway (`via`); of the other family, `RTA_VIA`.
    pub via: Option<IpAddr>,
    /// Output interface index (`dev`).
    pub oif: Option<u32>,
    /// Routing table (254 `main` unless given).
    pub table: u32,
    /// `metric` (`RTA_PRIORITY`); `None`: the kernel's default (0 for IPv4, 1024 for IPv6).
    pub metric: Option<u32>,
    /// Scope; `None`: `ip route`'s default for the type (see [`RouteSpec::effective_scope`]).
    pub scope: Option<Scope>,
    /// `RTM_PROTOCOL` ([`RTPROT_KEEPALIVED`] unless given).
    pub protocol: u8,
    /// Route type.
    pub kind: RouteType,
    /// `tos` / `dsfield`.
    pub tos: u8,
    /// `onlink` (`RTNH_F_ONLINK`).
    pub onlink: bool,
    /// Multipath next hops; empty for a single-path route.
    pub nexthops: Vec<NexthopSpec>,
    /// Add mode.
    pub mode: AddMode,
    /// Metrics (`RTA_METRICS`).
    pub metrics: Vec<MetricSpec>,
}

impl RouteSpec {
    /// A unicast route in table `main` with our protocol and nothing else.
    pub fn new(family: IpFamily, dst: Option<Prefix>) -> Self {
        RouteSpec {
            family,
            dst,
            from: None,
            src: None,
            via: None,
            oif: None,
            table: TABLE_MAIN,
            metric: None,
            scope: None,
            protocol: RTPROT_KEEPALIVED,
            kind: RouteType::Unicast,
            tos: 0,
            onlink: false,
            nexthops: Vec::new(),
            mode: AddMode::Prepend,
            metrics: Vec::new(),
        }
    }

    /// The scope an add uses: the configured one, else `ip route`'s defaults: `host` for
    /// `local`, `link` for `broadcast`/`multicast`/`anycast` and for a unicast route
    /// without gateway or next hops (a directly connected prefix), `global` otherwise.
    pub fn effective_scope(&self) -> Scope {
        if let Some(s) = self.scope {
            return s;
        }
        match self.kind {
            RouteType::Local | RouteType::Nat => Scope::Host,
            RouteType::Broadcast | RouteType::Multicast | RouteType::Anycast => Scope::Link,
            RouteType::Unicast if self.via.is_none() && self.nexthops.is_empty() => Scope::Link,
            _ => Scope::Global,
        }
    }

    fn message(&self, scope: Scope) -> RouteMessage {
        let mut m = RouteMessage::default();
        let h = &mut m.header;
        h.address_family = self.family.af();
        h.destination_prefix_length = self.dst.map_or(0, |d| d.len);
        h.source_prefix_length = self.from.map_or(0, |f| f.len);
        h.tos = self.tos;
        // Tables above 255 only fit in RTA_TABLE; the header then says RT_TABLE_UNSPEC.
        h.table = u8::try_from(self.table).unwrap_or(0);
        h.protocol = RouteProtocol::from(self.protocol);
        h.scope = RouteScope::from(scope.number());
        h.kind = self.kind.nl();
        if self.onlink {
            h.flags = RouteFlags::from_bits_retain(u32::from(RouteNextHopFlags::Onlink.bits()));
        }
        let a = &mut m.attributes;
        a.push(RouteAttribute::Table(self.table));
        if let Some(d) = self.dst {
            a.push(RouteAttribute::Destination(RouteAddress::from(d.addr)));
        }
        if let Some(f) = self.from {
            a.push(RouteAttribute::Source(RouteAddress::from(f.addr)));
        }
        if let Some(s) = self.src {
            a.push(RouteAttribute::PrefSource(RouteAddress::from(s)));
        }
        if let Some(v) = self.via {
            a.push(gateway(self.family, v));
        }
        if let Some(o) = self.oif {
            a.push(RouteAttribute::Oif(o));
        }
        if let Some(p) = self.metric {
            a.push(RouteAttribute::Priority(p));
        }
        if !self.metrics.is_empty() {
            let mut m: Vec<RouteMetric> = self.metrics.iter().map(|x| x.metric.nl()).collect();
            let lock = self
                .metrics
                .iter()
                .filter(|x| x.lock)
                .fold(0u32, |acc, x| acc | (1 << x.metric.rtax()));
            if lock != 0 {
                m.push(RouteMetric::Lock(lock));
            }
            a.push(RouteAttribute::Metrics(m));
        }
        if !self.nexthops.is_empty() {
            let hops = self
                .nexthops
                .iter()
                .map(|nh| {
                    let mut n = RouteNextHop::default();
                    if nh.onlink {
                        n.flags = RouteNextHopFlags::Onlink;
                    }
                    // rtnh_hops is the weight minus one (iproute2 and the kernel agree).
                    n.hops = u8::try_from(nh.weight.clamp(1, 256) - 1).unwrap_or(u8::MAX);
                    n.interface_index = nh.oif.unwrap_or(0);
                    if let Some(v) = nh.via {
                        n.attributes.push(gateway(self.family, v));
                    }
                    n
                })
                .collect();
            a.push(RouteAttribute::MultiPath(hops));
        }
        m
    }

    /// `RTM_NEWROUTE`'s message.
    pub fn add_message(&self) -> RouteMessage {
        self.message(self.effective_scope())
    }

    /// `RTM_DELROUTE`'s message: the add's, with scope `nowhere` (match any scope, as
    /// `ip route del` does). It keeps the protocol, so only a route we added matches.
    pub fn del_message(&self) -> RouteMessage {
        self.message(Scope::Nowhere)
    }

    fn add_flags(&self) -> u16 {
        let base = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
        match self.mode {
            AddMode::Prepend => base,
            AddMode::Exclusive => base | NLM_F_EXCL,
            AddMode::Append => base | NLM_F_APPEND,
        }
    }

    fn describe(&self, verb: &str) -> String {
        format!("{verb} route {self}")
    }
}

/// `ip route` syntax, with interface indexes (`dev #3`).
impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind != RouteType::Unicast {
            write!(f, "{} ", self.kind)?;
        }
        match self.dst {
            Some(d) => write!(f, "{d}")?,
            None => f.write_str("default")?,
        }
        if let Some(x) = self.from {
            write!(f, " from {x}")?;
        }
        if let Some(x) = self.src {
            write!(f, " src {x}")?;
        }
        if let Some(x) = self.via {
            write!(f, " via {x}")?;
        }
        if let Some(x) = self.oif {
            write!(f, " dev #{x}")?;
        }
        if self.onlink {
            f.write_str(" onlink")?;
        }
        if self.table != TABLE_MAIN {
            write!(f, " table {}", self.table)?;
        }
        if let Some(x) = self.metric {
            write!(f, " metric {x}")?;
        }
        if self.tos != 0 {
            write!(f, " tos {:#x}", self.tos)?;
        }
        if let Some(s) = self.scope {
            write!(f, " scope {s}")?;
        }
        if self.protocol != RTPROT_KEEPALIVED {
            write!(f, " proto {}", self.protocol)?;
        }
        for m in &self.metrics {
            let lock = if m.lock { "lock " } else { "" };
            let (name, value) = match &m.metric {
                Metric::Mtu(n) => ("mtu", n.to_string()),
                Metric::Advmss(n) => ("advmss", n.to_string()),
                Metric::Window(n) => ("window", n.to_string()),
                Metric::Hoplimit(n) => ("hoplimit", n.to_string()),
                Metric::InitCwnd(n) => ("initcwnd", n.to_string()),
                Metric::InitRwnd(n) => ("initrwnd", n.to_string()),
                Metric::Cwnd(n) => ("cwnd", n.to_string()),
                Metric::Ssthresh(n) => ("ssthresh", n.to_string()),
                Metric::Reordering(n) => ("reordering", n.to_string()),
                Metric::QuickAck(n) => ("quickack", n.to_string()),
                Metric::FastopenNoCookie(n) => ("fastopen_no_cookie", n.to_string()),
                Metric::CongCtl(c) => ("congctl", c.clone()),
            };
            write!(f, " {name} {lock}{value}")?;
        }
        for nh in &self.nexthops {
            f.write_str(" nexthop")?;
            if let Some(x) = nh.via {
                write!(f, " via {x}")?;
            }
            if let Some(x) = nh.oif {
                write!(f, " dev #{x}")?;
            }
            if nh.weight != 1 {
                write!(f, " weight {}", nh.weight)?;
            }
            if nh.onlink {
                f.write_str(" onlink")?;
            }
        }
        Ok(())
    }
}

/// `RTA_GATEWAY` in the route's family, `RTA_VIA` across families.
fn gateway(family: IpFamily, v: IpAddr) -> RouteAttribute {
    if IpFamily::of(&v) == family {
        RouteAttribute::Gateway(RouteAddress::from(v))
    } else {
        RouteAttribute::Via(match v {
            IpAddr::V4(a) => RouteVia::Inet(a),
            IpAddr::V6(a) => RouteVia::Inet6(a),
        })
    }
}

impl Netlink {
    /// Adds a route (`ip route prepend|add|append`). A route already there (EEXIST) is an
    /// outcome, not an error.
    pub async fn add_route(&self, spec: &RouteSpec) -> Result<AddOutcome> {
        let r = self
            .request(
                RouteNetlinkMessage::NewRoute(spec.add_message()),
                spec.add_flags(),
                || spec.describe("add"),
            )
            .await;
        AddOutcome::of(r)
    }

    /// Removes a route (`ip route del`), matched by everything the spec says, protocol
    /// included. A route that is not there (ESRCH, or its interface gone) is an outcome.
    pub async fn del_route(&self, spec: &RouteSpec) -> Result<DelOutcome> {
        let r = self
            .request(
                RouteNetlinkMessage::DelRoute(spec.del_message()),
                NLM_F_REQUEST | NLM_F_ACK,
                || spec.describe("remove"),
            )
            .await;
        DelOutcome::of(r, &[libc::ESRCH, libc::ENOENT, libc::ENODEV])
    }
}

#[cfg(test)]
mod tests {
    use netlink_packet_core::Emitable;

    use super::*;

    fn p(s: &str) -> Prefix {
        let (a, l) = s.split_once('/').unwrap();
        Prefix {
            addr: a.parse().unwrap(),
            len: l.parse().unwrap(),
        }
    }

    #[test]
    fn gateway_route_in_a_big_table() {
        let mut r = RouteSpec::new(IpFamily::V4, Some(p("10.9.0.0/16")));
        r.via = Some("192.168.1.254".parse().unwrap());
        r.oif = Some(3);
        r.table = 1000;
        r.metric = Some(7);
        r.src = Some("192.168.1.10".parse().unwrap());
        let m = r.add_message();
        assert_eq!(m.header.address_family, AddressFamily::Inet);
        assert_eq!(m.header.destination_prefix_length, 16);
        // 1000 does not fit the header byte: RT_TABLE_UNSPEC there, RTA_TABLE carries it.
        assert_eq!(m.header.table, 0);
        assert_eq!(u8::from(m.header.protocol), RTPROT_KEEPALIVED);
        assert_eq!(m.header.scope, RouteScope::Universe);
        assert_eq!(m.header.kind, NlRouteType::Unicast);
        let at = &m.attributes;
        assert!(at.contains(&RouteAttribute::Table(1000)));
        assert!(at.contains(&RouteAttribute::Destination(RouteAddress::Inet(
            "10.9.0.0".parse().unwrap()
        ))));
        assert!(at.contains(&RouteAttribute::Gateway(RouteAddress::Inet(
            "192.168.1.254".parse().unwrap()
        ))));
        assert!(at.contains(&RouteAttribute::PrefSource(RouteAddress::Inet(
            "192.168.1.10".parse().unwrap()
        ))));
        assert!(at.contains(&RouteAttribute::Oif(3)));
        assert!(at.contains(&RouteAttribute::Priority(7)));
        assert_eq!(
            r.to_string(),
            "10.9.0.0/16 src 192.168.1.10 via 192.168.1.254 dev #3 table 1000 metric 7"
        );
    }

    #[test]
    fn default_route_bytes() {
        // `ip route add default via 10.0.0.1 table 100 proto keepalived`, as the kernel
        // expects it: rtmsg then RTA_TABLE, RTA_GATEWAY.
        let mut r = RouteSpec::new(IpFamily::V4, None);
        r.via = Some("10.0.0.1".parse().unwrap());
        r.table = 100;
        let m = r.add_message();
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            2, 0, 0, 0,        // AF_INET, dst_len 0, src_len 0, tos 0
            100, 18, 0, 1,     // table 100, proto keepalived, scope universe, unicast
            0, 0, 0, 0,        // flags
            8, 0, 15, 0, 100, 0, 0, 0,   // RTA_TABLE 100
            8, 0, 5, 0, 10, 0, 0, 1,     // RTA_GATEWAY 10.0.0.1
        ];
        assert_eq!(buf, want);
    }

    #[test]
    fn default_scopes_follow_ip_route() {
        let mut r = RouteSpec::new(IpFamily::V4, Some(p("10.1.0.0/24")));
        r.oif = Some(2);
        assert_eq!(r.effective_scope(), Scope::Link);
        r.via = Some("10.0.0.1".parse().unwrap());
        assert_eq!(r.effective_scope(), Scope::Global);
        r.kind = RouteType::Local;
        assert_eq!(r.effective_scope(), Scope::Host);
        r.scope = Some(Scope::Site);
        assert_eq!(r.effective_scope(), Scope::Site);
        let mut b = RouteSpec::new(IpFamily::V6, Some(p("2001:db8::/32")));
        b.kind = RouteType::Blackhole;
        assert_eq!(b.effective_scope(), Scope::Global);
        let m = b.add_message();
        assert_eq!(m.header.kind, NlRouteType::BlackHole);
        assert_eq!(m.header.address_family, AddressFamily::Inet6);
        assert_eq!(m.header.table, 254);
    }

    #[test]
    fn delete_matches_any_scope_and_keeps_the_protocol() {
        let mut r = RouteSpec::new(IpFamily::V4, Some(p("10.1.0.0/24")));
        r.oif = Some(2);
        let m = r.del_message();
        assert_eq!(m.header.scope, RouteScope::NoWhere);
        assert_eq!(u8::from(m.header.protocol), RTPROT_KEEPALIVED);
        assert!(m.attributes.contains(&RouteAttribute::Oif(2)));
    }

    #[test]
    fn multipath_weights_are_hops_minus_one() {
        let mut r = RouteSpec::new(IpFamily::V4, Some(p("10.8.0.0/16")));
        r.nexthops = vec![
            NexthopSpec {
                via: Some("10.0.0.1".parse().unwrap()),
                oif: Some(2),
                weight: 1,
                onlink: false,
            },
            NexthopSpec {
                via: Some("10.0.1.1".parse().unwrap()),
                oif: Some(3),
                weight: 3,
                onlink: true,
            },
        ];
        let m = r.add_message();
        let Some(RouteAttribute::MultiPath(hops)) = m
            .attributes
            .iter()
            .find(|a| matches!(a, RouteAttribute::MultiPath(_)))
        else {
            panic!("no RTA_MULTIPATH in {m:?}");
        };
        assert_eq!(hops.len(), 2);
        assert_eq!((hops[0].hops, hops[0].interface_index), (0, 2));
        assert_eq!((hops[1].hops, hops[1].interface_index), (2, 3));
        assert!(hops[1].flags.contains(RouteNextHopFlags::Onlink));
        assert!(
            hops[1]
                .attributes
                .contains(&RouteAttribute::Gateway(RouteAddress::Inet(
                    "10.0.1.1".parse().unwrap()
                )))
        );
        assert_eq!(m.header.scope, RouteScope::Universe);
        assert!(
            r.to_string()
                .ends_with("nexthop via 10.0.1.1 dev #3 weight 3 onlink")
        );
    }

    #[test]
    fn ipv4_route_via_ipv6_uses_rta_via() {
        let mut r = RouteSpec::new(IpFamily::V4, Some(p("10.7.0.0/16")));
        r.via = Some("fe80::1".parse().unwrap());
        let m = r.add_message();
        assert!(m.attributes.contains(&RouteAttribute::Via(RouteVia::Inet6(
            "fe80::1".parse().unwrap()
        ))));
    }

    #[test]
    fn add_modes_set_the_netlink_flags() {
        let mut r = RouteSpec::new(IpFamily::V4, None);
        assert_eq!(r.add_flags() & (NLM_F_EXCL | NLM_F_APPEND), 0);
        r.mode = AddMode::Exclusive;
        assert_eq!(r.add_flags() & NLM_F_EXCL, NLM_F_EXCL);
        r.mode = AddMode::Append;
        assert_eq!(r.add_flags() & NLM_F_APPEND, NLM_F_APPEND);
    }

    #[test]
    fn metrics_with_locks() {
        let mut r = RouteSpec::new(IpFamily::V4, None);
        r.via = Some("10.0.0.1".parse().unwrap());
        r.metrics = vec![
            MetricSpec {
                metric: Metric::Mtu(1400),
                lock: true,
            },
            MetricSpec {
                metric: Metric::InitCwnd(10),
                lock: false,
            },
            MetricSpec {
                metric: Metric::CongCtl("bbr".into()),
                lock: false,
            },
        ];
        let m = r.add_message();
        assert!(m.attributes.contains(&RouteAttribute::Metrics(vec![
            RouteMetric::Mtu(1400),
            RouteMetric::InitCwnd(10),
            RouteMetric::CcAlgo("bbr".into()),
            RouteMetric::Lock(1 << 2),
        ])));
        assert!(
            r.to_string()
                .ends_with(" mtu lock 1400 initcwnd 10 congctl bbr")
        );
        assert_eq!(Metric::parse("mtu", "1400"), Some(Metric::Mtu(1400)));
        assert_eq!(Metric::parse("quickack", "2"), None);
        assert_eq!(
            Metric::parse("rtt", "3"),
            None,
            "times with units are not supported"
        );
    }

    #[test]
    fn onlink_sets_the_header_flag() {
        let mut r = RouteSpec::new(IpFamily::V4, None);
        r.via = Some("10.0.0.1".parse().unwrap());
        r.onlink = true;
        assert_eq!(r.add_message().header.flags.bits(), 4);
    }
}
