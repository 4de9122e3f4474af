//! Policy routing rules: add and remove with what keepalived's `virtual_rules` /
//! `static_rules` lines carry (`ip rule` syntax: `from`, `to`, `not`, `priority`, the
//! actions `table`/`goto`/`nop`/`blackhole`/`unreachable`/`prohibit`, and the selectors
//! `fwmark[/mask]`, `iif`, `oif`, `tos`, `sport`/`dport` ranges, `ipproto`, `uidrange`,
//! `l3mdev`, `realms`, `suppress_prefixlength`, `suppress_ifgroup`, `tunnel-id`).

use std::fmt;

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_route::route::{RouteProtocol, RouteRealm};
use netlink_packet_route::rule::{
    RuleAction as NlRuleAction, RuleAttribute, RuleFlags, RuleMessage, RulePortRange, RuleUidRange,
};
use netlink_packet_route::{IpProtocol, RouteNetlinkMessage};

use crate::addr::{AddOutcome, DelOutcome};
use crate::error::Result;
use crate::handle::Netlink;
use crate::route::{IpFamily, Prefix, RTPROT_KEEPALIVED, TABLE_MAIN};

/// What a matching packet gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleAction {
    /// `table N` / `lookup N`: look the route up in table N.
    Table(u32),
    /// `goto PREF`: continue at the rule with that preference.
    Goto(u32),
    /// `nop`: nothing (a rule that only counts).
    Nop,
    /// `blackhole`: drop silently.
    Blackhole,
    /// `unreachable`: drop with "network unreachable".
    Unreachable,
    /// `prohibit`: drop with "communication administratively prohibited".
    Prohibit,
    /// `l3mdev`: look up the table of the packet's L3 master device (VRF).
    L3mdev,
}

/// An inclusive range (`sport 1000-2000`, `uidrange 100-200`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Range<T> {
    /// First.
    pub start: T,
    /// Last.
    pub end: T,
}

/// A rule to add or remove.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RuleSpec {
    /// Address family.
    pub family: IpFamily,
    /// Source prefix (`from`); `None` is `all`.
    pub from: Option<Prefix>,
    /// Destination prefix (`to`); `None` is `all`.
    pub to: Option<Prefix>,
    /// `not`: the selector is inverted.
    pub invert: bool,
    /// Preference (`priority`); `None` lets the kernel choose (keepalived always sets one).
    pub priority: Option<u32>,
    /// The action.
    pub action: RuleAction,
    /// `fwmark`.
    pub fwmark: Option<u32>,
    /// `fwmark MARK/MASK`'s mask.
    pub fwmask: Option<u32>,
    /// Input interface name (`iif` / `dev`): rules name interfaces, they need not exist.
    pub iif: Option<String>,
    /// Output interface name (`oif`).
    pub oif: Option<String>,
    /// `tos` / `dsfield`.
    pub tos: u8,
    /// Source port range (`sport`).
    pub sport: Option<Range<u16>>,
    /// Destination port range (`dport`).
    pub dport: Option<Range<u16>>,
    /// IP protocol number (`ipproto`).
    pub ipproto: Option<u8>,
    /// `uidrange`.
    pub uid: Option<Range<u32>>,
    /// `realms` (IPv4): `FRA_FLOW`, source realm in the high 16 bits.
    pub realms: Option<u32>,
    /// `suppress_prefixlength`.
    pub suppress_prefixlen: Option<u32>,
    /// `suppress_ifgroup`.
    pub suppress_ifgroup: Option<u32>,
    /// `tunnel-id`.
    pub tunnel_id: Option<u64>,
    /// `FRA_PROTOCOL` ([`RTPROT_KEEPALIVED`] unless given; kernel 4.17+).
    pub protocol: u8,
}

impl RuleSpec {
    /// A rule of `family` looking up `table` for every packet, with our protocol.
    pub fn new(family: IpFamily, action: RuleAction) -> Self {
        RuleSpec {
            family,
            from: None,
            to: None,
            invert: false,
            priority: None,
            action,
            fwmark: None,
            fwmask: None,
            iif: None,
            oif: None,
            tos: 0,
            sport: None,
            dport: None,
            ipproto: None,
            uid: None,
            realms: None,
            suppress_prefixlen: None,
            suppress_ifgroup: None,
            tunnel_id: None,
            protocol: RTPROT_KEEPALIVED,
        }
    }

    /// `RTM_NEWRULE` / `RTM_DELRULE`'s message (the kernel matches a removal on every
    /// attribute given, so both are the same).
    pub fn message(&self) -> RuleMessage {
        let mut m = RuleMessage::default();
        let h = &mut m.header;
        h.family = self.family.af();
        h.src_len = self.from.map_or(0, |p| p.len);
        h.dst_len = self.to.map_or(0, |p| p.len);
        h.tos = self.tos;
        if self.invert {
            h.flags = RuleFlags::Invert;
        }
        let a = &mut m.attributes;
        h.action = match self.action {
            RuleAction::Table(t) => {
                // Tables above 255 only fit in FRA_TABLE.
                h.table = u8::try_from(t).unwrap_or(0);
                a.push(RuleAttribute::Table(t));
                NlRuleAction::ToTable
            }
            RuleAction::L3mdev => {
                a.push(RuleAttribute::L3MDev(true));
                NlRuleAction::ToTable
            }
            RuleAction::Goto(target) => {
                a.push(RuleAttribute::Goto(target));
                NlRuleAction::Goto
            }
            RuleAction::Nop => NlRuleAction::Nop,
            RuleAction::Blackhole => NlRuleAction::Blackhole,
            RuleAction::Unreachable => NlRuleAction::Unreachable,
            RuleAction::Prohibit => NlRuleAction::Prohibit,
        };
        if let Some(p) = self.from {
            a.push(RuleAttribute::Source(p.addr));
        }
        if let Some(p) = self.to {
            a.push(RuleAttribute::Destination(p.addr));
        }
        if let Some(p) = self.priority {
            a.push(RuleAttribute::Priority(p));
        }
        if let Some(x) = self.fwmark {
            a.push(RuleAttribute::FwMark(x));
        }
        if let Some(x) = self.fwmask {
            a.push(RuleAttribute::FwMask(x));
        }
        if let Some(x) = &self.iif {
            a.push(RuleAttribute::Iifname(x.clone()));
        }
        if let Some(x) = &self.oif {
            a.push(RuleAttribute::Oifname(x.clone()));
        }
        if let Some(r) = self.sport {
            a.push(RuleAttribute::SourcePortRange(RulePortRange {
                start: r.start,
                end: r.end,
            }));
        }
        if let Some(r) = self.dport {
            a.push(RuleAttribute::DestinationPortRange(RulePortRange {
                start: r.start,
                end: r.end,
            }));
        }
        if let Some(x) = self.ipproto {
            a.push(RuleAttribute::IpProtocol(IpProtocol::from(x)));
        }
        if let Some(r) = self.uid {
            a.push(RuleAttribute::UidRange(RuleUidRange {
                start: r.start,
                end: r.end,
            }));
        }
        if let Some(x) = self.realms {
            a.push(RuleAttribute::Realm(RouteRealm {
                source: (x >> 16) as u16,
                destination: (x & 0xffff) as u16,
            }));
        }
        if let Some(x) = self.suppress_prefixlen {
            a.push(RuleAttribute::SuppressPrefixLen(x));
        }
        if let Some(x) = self.suppress_ifgroup {
            a.push(RuleAttribute::SuppressIfGroup(x));
        }
        if let Some(x) = self.tunnel_id {
            a.push(RuleAttribute::TunId(x));
        }
        a.push(RuleAttribute::Protocol(RouteProtocol::from(self.protocol)));
        m
    }

    fn describe(&self, verb: &str) -> String {
        format!("{verb} rule {self}")
    }
}

/// `ip rule` syntax.
impl fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.priority {
            write!(f, "priority {p} ")?;
        }
        if self.invert {
            f.write_str("not ")?;
        }
        match self.from {
            Some(p) => write!(f, "from {p}")?,
            None => f.write_str("from all")?,
        }
        if let Some(p) = self.to {
            write!(f, " to {p}")?;
        }
        if let Some(x) = self.fwmark {
            write!(f, " fwmark {x:#x}")?;
            if let Some(m) = self.fwmask {
                write!(f, "/{m:#x}")?;
            }
        }
        if let Some(x) = &self.iif {
            write!(f, " iif {x}")?;
        }
        if let Some(x) = &self.oif {
            write!(f, " oif {x}")?;
        }
        if self.tos != 0 {
            write!(f, " tos {:#x}", self.tos)?;
        }
        if let Some(x) = self.ipproto {
            write!(f, " ipproto {x}")?;
        }
        if let Some(r) = self.sport {
            write!(f, " sport {}-{}", r.start, r.end)?;
        }
        if let Some(r) = self.dport {
            write!(f, " dport {}-{}", r.start, r.end)?;
        }
        if let Some(r) = self.uid {
            write!(f, " uidrange {}-{}", r.start, r.end)?;
        }
        match self.action {
            RuleAction::Table(TABLE_MAIN) => f.write_str(" lookup main"),
            RuleAction::Table(t) => write!(f, " lookup {t}"),
            RuleAction::Goto(t) => write!(f, " goto {t}"),
            RuleAction::Nop => f.write_str(" nop"),
            RuleAction::Blackhole => f.write_str(" blackhole"),
            RuleAction::Unreachable => f.write_str(" unreachable"),
            RuleAction::Prohibit => f.write_str(" prohibit"),
            RuleAction::L3mdev => f.write_str(" lookup [l3mdev-table]"),
        }
    }
}

impl Netlink {
    /// Adds a rule (`ip rule add`, `NLM_F_EXCL` as keepalived): an identical rule already
    /// there (EEXIST) is an outcome, not an error.
    pub async fn add_rule(&self, spec: &RuleSpec) -> Result<AddOutcome> {
        let r = self
            .request(
                RouteNetlinkMessage::NewRule(spec.message()),
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                || spec.describe("add"),
            )
            .await;
        AddOutcome::of(r)
    }

    /// Removes a rule (`ip rule del`), matched on every attribute of the spec, protocol
    /// included. A rule that is not there (ENOENT) is an outcome.
    pub async fn del_rule(&self, spec: &RuleSpec) -> Result<DelOutcome> {
        let r = self
            .request(
                RouteNetlinkMessage::DelRule(spec.message()),
                NLM_F_REQUEST | NLM_F_ACK,
                || spec.describe("remove"),
            )
            .await;
        DelOutcome::of(r, &[libc::ENOENT, libc::ESRCH])
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
    fn lookup_rule_bytes() {
        // `ip rule add from 10.1.0.0/16 lookup 100 priority 1000 proto keepalived`.
        let mut r = RuleSpec::new(IpFamily::V4, RuleAction::Table(100));
        r.from = Some(p("10.1.0.0/16"));
        r.priority = Some(1000);
        let m = r.message();
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            2, 0, 16, 0,         // AF_INET, dst_len 0, src_len 16, tos 0
            100, 0, 0, 1,        // table 100, res1, res2, FR_ACT_TO_TBL
            0, 0, 0, 0,          // flags
            8, 0, 15, 0, 100, 0, 0, 0,     // FRA_TABLE 100
            8, 0, 2, 0, 10, 1, 0, 0,       // FRA_SRC 10.1.0.0
            8, 0, 6, 0, 0xe8, 3, 0, 0,     // FRA_PRIORITY 1000
            5, 0, 21, 0, 18, 0, 0, 0,      // FRA_PROTOCOL keepalived
        ];
        assert_eq!(buf, want);
        assert_eq!(r.to_string(), "priority 1000 from 10.1.0.0/16 lookup 100");
    }

    #[test]
    fn selectors_and_inversion() {
        let mut r = RuleSpec::new(IpFamily::V6, RuleAction::Table(70000));
        r.invert = true;
        r.to = Some(p("2001:db8::/32"));
        r.fwmark = Some(0x10);
        r.fwmask = Some(0xff);
        r.iif = Some("eth1".into());
        r.oif = Some("eth2".into());
        r.sport = Some(Range {
            start: 1000,
            end: 2000,
        });
        r.dport = Some(Range { start: 80, end: 80 });
        r.ipproto = Some(6);
        r.uid = Some(Range {
            start: 100,
            end: 200,
        });
        r.tos = 0x10;
        let m = r.message();
        assert_eq!(m.header.family, netlink_packet_route::AddressFamily::Inet6);
        assert_eq!(m.header.dst_len, 32);
        assert_eq!(m.header.table, 0);
        assert_eq!(m.header.tos, 0x10);
        assert!(m.header.flags.contains(RuleFlags::Invert));
        let at = &m.attributes;
        for want in [
            RuleAttribute::Table(70000),
            RuleAttribute::FwMark(0x10),
            RuleAttribute::FwMask(0xff),
            RuleAttribute::Iifname("eth1".into()),
            RuleAttribute::Oifname("eth2".into()),
            RuleAttribute::SourcePortRange(RulePortRange {
                start: 1000,
                end: 2000,
            }),
            RuleAttribute::DestinationPortRange(RulePortRange { start: 80, end: 80 }),
            RuleAttribute::IpProtocol(IpProtocol::Tcp),
            RuleAttribute::UidRange(RuleUidRange {
                start: 100,
                end: 200,
            }),
        ] {
            assert!(at.contains(&want), "{want:?} missing from {at:?}");
        }
    }

    #[test]
    fn actions() {
        let mut g = RuleSpec::new(IpFamily::V4, RuleAction::Goto(500));
        g.priority = Some(100);
        let m = g.message();
        assert_eq!(m.header.action, NlRuleAction::Goto);
        assert!(m.attributes.contains(&RuleAttribute::Goto(500)));
        for (a, want) in [
            (RuleAction::Nop, NlRuleAction::Nop),
            (RuleAction::Blackhole, NlRuleAction::Blackhole),
            (RuleAction::Unreachable, NlRuleAction::Unreachable),
            (RuleAction::Prohibit, NlRuleAction::Prohibit),
        ] {
            let m = RuleSpec::new(IpFamily::V4, a).message();
            assert_eq!(m.header.action, want);
            assert_eq!(m.header.table, 0);
            assert!(
                !m.attributes
                    .iter()
                    .any(|x| matches!(x, RuleAttribute::Table(_)))
            );
        }
        let l = RuleSpec::new(IpFamily::V4, RuleAction::L3mdev).message();
        assert_eq!(l.header.action, NlRuleAction::ToTable);
        assert!(l.attributes.contains(&RuleAttribute::L3MDev(true)));
    }
}
