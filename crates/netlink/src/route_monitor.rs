//! Removals of our routes and rules (`ip monitor route rule`, narrowed to `RTM_DELROUTE`
//! / `RTM_DELRULE` with protocol `keepalived`), for noticing one deleted behind our back.
//!
//! A separate subscription from [`crate::Monitor`]: route changes can be many on a busy
//! router, and only a configuration with tracked routes or rules needs them.

use std::net::IpAddr;

use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use netlink_packet_route::rule::{RuleAction as NlRuleAction, RuleAttribute, RuleMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::MulticastGroup;

use crate::error::Result;
use crate::monitor::Subscription;
use crate::route::{IpFamily, Prefix, RTPROT_KEEPALIVED, RouteSpec};
use crate::rule::{RuleAction, RuleSpec};

/// What identifies a route for tracking, as keepalived's `route_is_ours` compares it:
/// family, table, destination, metric, tos and output interface (the gateway is not part
/// of it: the kernel allows one route per key unless appended).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RouteKey {
    /// Family.
    pub family: IpFamily,
    /// Table.
    pub table: u32,
    /// Destination (`None`: default).
    pub dst: Option<Prefix>,
    /// Metric, the kernel's default filled in (0 for IPv4, 1024 for IPv6).
    pub metric: u32,
    /// TOS.
    pub tos: u8,
    /// Output interface index, when the route has one.
    pub oif: Option<u32>,
}

impl RouteKey {
    /// The key of a route we add.
    pub fn of(r: &RouteSpec) -> RouteKey {
        RouteKey {
            family: r.family,
            table: r.table,
            dst: r.dst.map(|d| Prefix {
                addr: d.addr,
                len: d.len,
            }),
            metric: r.metric.unwrap_or(match r.family {
                IpFamily::V4 => 0,
                IpFamily::V6 => 1024,
            }),
            tos: r.tos,
            oif: r.oif,
        }
    }

    /// Whether a removed route matches a route we add: same key, the output interface
    /// compared only when ours names one (multipath routes have none at the top).
    pub fn matches(&self, ours: &RouteKey) -> bool {
        self.family == ours.family
            && self.table == ours.table
            && self.dst == ours.dst
            && self.metric == ours.metric
            && self.tos == ours.tos
            && (ours.oif.is_none() || self.oif == ours.oif)
    }

    fn from_message(m: &RouteMessage) -> Option<RouteKey> {
        let family = family(m.header.address_family)?;
        let mut table = u32::from(m.header.table);
        let mut dst = None;
        let mut metric = match family {
            IpFamily::V4 => 0,
            IpFamily::V6 => 1024,
        };
        let mut oif = None;
        for a in &m.attributes {
            match a {
                RouteAttribute::Table(t) => table = *t,
                RouteAttribute::Destination(d) => dst = route_addr(d),
                RouteAttribute::Priority(p) => metric = *p,
                RouteAttribute::Oif(o) => oif = Some(*o),
                _ => {}
            }
        }
        Some(RouteKey {
            family,
            table,
            dst: dst.map(|addr| Prefix {
                addr,
                len: m.header.destination_prefix_length,
            }),
            metric,
            tos: m.header.tos,
            oif,
        })
    }
}

/// What identifies a rule for tracking (keepalived's `compare_rule`, narrowed to what
/// the kernel reports unchanged): family, preference, action with its table or goto
/// target, from, to, `not`, fwmark, iif and oif.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RuleKey {
    family: IpFamily,
    priority: Option<u32>,
    action: RuleAction,
    from: Option<Prefix>,
    to: Option<Prefix>,
    invert: bool,
    fwmark: Option<u32>,
    iif: Option<String>,
    oif: Option<String>,
}

impl RuleKey {
    /// The key of a rule we add.
    pub fn of(r: &RuleSpec) -> RuleKey {
        RuleKey {
            family: r.family,
            priority: r.priority,
            action: r.action,
            from: r.from,
            to: r.to,
            invert: r.invert,
            fwmark: r.fwmark,
            iif: r.iif.clone(),
            oif: r.oif.clone(),
        }
    }

    fn from_message(m: &RuleMessage) -> Option<RuleKey> {
        let family = family(m.header.family)?;
        let mut k = RuleKey {
            family,
            priority: None,
            action: RuleAction::Nop,
            from: None,
            to: None,
            invert: m.header.flags.bits() & 2 != 0,
            fwmark: None,
            iif: None,
            oif: None,
        };
        let mut table = u32::from(m.header.table);
        let mut goto = 0;
        let mut l3mdev = false;
        for a in &m.attributes {
            match a {
                RuleAttribute::Table(t) => table = *t,
                RuleAttribute::Goto(g) => goto = *g,
                RuleAttribute::L3MDev(on) => l3mdev = *on,
                RuleAttribute::Priority(p) => k.priority = Some(*p),
                RuleAttribute::Source(a) => {
                    k.from = Some(Prefix {
                        addr: *a,
                        len: m.header.src_len,
                    })
                }
                RuleAttribute::Destination(a) => {
                    k.to = Some(Prefix {
                        addr: *a,
                        len: m.header.dst_len,
                    })
                }
                // The kernel reports a mark of 0 with a mask when only a mask was set.
                RuleAttribute::FwMark(x) if *x != 0 => k.fwmark = Some(*x),
                RuleAttribute::Iifname(x) => k.iif = Some(x.clone()),
                RuleAttribute::Oifname(x) => k.oif = Some(x.clone()),
                _ => {}
            }
        }
        k.action = match m.header.action {
            NlRuleAction::ToTable if l3mdev => RuleAction::L3mdev,
            NlRuleAction::ToTable => RuleAction::Table(table),
            NlRuleAction::Goto => RuleAction::Goto(goto),
            NlRuleAction::Nop => RuleAction::Nop,
            NlRuleAction::Blackhole => RuleAction::Blackhole,
            NlRuleAction::Unreachable => RuleAction::Unreachable,
            NlRuleAction::Prohibit => RuleAction::Prohibit,
            _ => return None,
        };
        Some(k)
    }
}

/// One of our routes or rules was removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteEvent {
    /// `RTM_DELROUTE` of a route with protocol `keepalived`.
    RouteRemoved(RouteKey),
    /// `RTM_DELRULE` of a rule with protocol `keepalived` (or none: kernels before 4.17).
    RuleRemoved(RuleKey),
    /// Events were lost: a route or rule may have gone unnoticed.
    Overrun,
}

/// A subscription to `RTNLGRP_IPV4_ROUTE`, `RTNLGRP_IPV6_ROUTE`, `RTNLGRP_IPV4_RULE` and
/// `RTNLGRP_IPV6_RULE`, reporting only removals of `proto keepalived` routes and rules.
#[derive(Debug)]
pub struct RouteMonitor {
    sub: Subscription,
}

impl RouteMonitor {
    /// Subscribes; the connection task is spawned on the current tokio runtime.
    pub fn start() -> Result<RouteMonitor> {
        Ok(RouteMonitor {
            sub: Subscription::open(&[
                MulticastGroup::Ipv4Route,
                MulticastGroup::Ipv6Route,
                MulticastGroup::Ipv4Rule,
                MulticastGroup::Ipv6Rule,
            ])?,
        })
    }

    /// The next removal of one of our routes or rules; `None` once the connection has
    /// stopped.
    pub async fn next(&mut self) -> Option<RouteEvent> {
        loop {
            if let Some(ev) = translate(self.sub.next().await?) {
                return Some(ev);
            }
        }
    }
}

fn translate(payload: NetlinkPayload<RouteNetlinkMessage>) -> Option<RouteEvent> {
    match payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(m))
            if u8::from(m.header.protocol) == RTPROT_KEEPALIVED =>
        {
            RouteKey::from_message(&m).map(RouteEvent::RouteRemoved)
        }
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRule(m)) => {
            let ours = m.attributes.iter().all(|a| match a {
                RuleAttribute::Protocol(p) => u8::from(*p) == RTPROT_KEEPALIVED,
                _ => true,
            });
            if ours {
                RuleKey::from_message(&m).map(RouteEvent::RuleRemoved)
            } else {
                None
            }
        }
        NetlinkPayload::Overrun(_) => Some(RouteEvent::Overrun),
        _ => None,
    }
}

fn family(f: AddressFamily) -> Option<IpFamily> {
    match f {
        AddressFamily::Inet => Some(IpFamily::V4),
        AddressFamily::Inet6 => Some(IpFamily::V6),
        _ => None,
    }
}

fn route_addr(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(x) => Some(IpAddr::V4(*x)),
        RouteAddress::Inet6(x) => Some(IpAddr::V6(*x)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::RouteType;

    fn p(s: &str) -> Prefix {
        let (a, l) = s.split_once('/').unwrap();
        Prefix {
            addr: a.parse().unwrap(),
            len: l.parse().unwrap(),
        }
    }

    #[test]
    fn a_route_s_key_survives_the_round_trip() {
        let mut r = RouteSpec::new(IpFamily::V4, Some(p("10.1.0.0/16")));
        r.via = Some("10.0.0.1".parse().unwrap());
        r.oif = Some(3);
        r.table = 1000;
        let ours = RouteKey::of(&r);
        let mut m = r.del_message();
        let reported = RouteKey::from_message(&m).unwrap();
        assert!(reported.matches(&ours));
        // Another metric or table is another route.
        m.attributes.push(RouteAttribute::Priority(9));
        assert!(!RouteKey::from_message(&m).unwrap().matches(&ours));
        let mut v6 = RouteSpec::new(IpFamily::V6, Some(p("fd00::/48")));
        v6.kind = RouteType::Blackhole;
        let k = RouteKey::of(&v6);
        assert_eq!(k.metric, 1024, "the kernel's IPv6 default");
        // The kernel reports the default metric explicitly.
        let mut m = v6.add_message();
        m.attributes.push(RouteAttribute::Priority(1024));
        assert!(RouteKey::from_message(&m).unwrap().matches(&k));
    }

    #[test]
    fn only_our_protocol_counts() {
        let r = RouteSpec::new(IpFamily::V4, Some(p("10.1.0.0/16")));
        let ours = r.del_message();
        assert!(
            translate(NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(
                ours.clone()
            )))
            .is_some()
        );
        let mut foreign = ours.clone();
        foreign.header.protocol = 4.into();
        assert!(
            translate(NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(
                foreign
            )))
            .is_none()
        );
        assert!(
            translate(NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(
                ours
            )))
            .is_none(),
            "additions are not reported"
        );
    }

    #[test]
    fn a_rule_s_key_survives_the_round_trip() {
        let mut r = RuleSpec::new(IpFamily::V4, RuleAction::Table(1000));
        r.from = Some(p("10.0.0.0/24"));
        r.priority = Some(100);
        r.fwmark = Some(7);
        r.iif = Some("eth0".into());
        r.invert = true;
        let m = r.message();
        let Some(RouteEvent::RuleRemoved(k)) = translate(NetlinkPayload::InnerMessage(
            RouteNetlinkMessage::DelRule(m),
        )) else {
            panic!("not reported");
        };
        assert_eq!(k, RuleKey::of(&r));
        let mut other = r.clone();
        other.protocol = 4;
        assert!(
            translate(NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRule(
                other.message()
            )))
            .is_none()
        );
    }
}
