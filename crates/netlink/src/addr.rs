//! Addresses: add and remove with every detail `ip addr` knows (prefix, broadcast, scope,
//! label, flags, peer, preferred lifetime, protocol), and list them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressProtocol,
    AddressScope, CacheInfo,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::Result;
use crate::handle::Netlink;

/// `IFA_F_SECONDARY`.
pub const IFA_F_SECONDARY: u32 = 0x01;
/// `IFA_F_NODAD`.
pub const IFA_F_NODAD: u32 = 0x02;
/// `IFA_F_TENTATIVE`.
pub const IFA_F_TENTATIVE: u32 = 0x40;
/// `IFA_F_HOMEADDRESS`.
pub const IFA_F_HOMEADDRESS: u32 = 0x10;
/// `IFA_F_MANAGETEMPADDR`.
pub const IFA_F_MANAGETEMPADDR: u32 = 0x100;
/// `IFA_F_NOPREFIXROUTE`.
pub const IFA_F_NOPREFIXROUTE: u32 = 0x200;
/// `IFA_F_MCAUTOJOIN`.
pub const IFA_F_MCAUTOJOIN: u32 = 0x400;
/// `IFA_F_DADFAILED`.
pub const IFA_F_DADFAILED: u32 = 0x08;

/// Address scope (`ip addr add … scope S`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// `global` (RT_SCOPE_UNIVERSE, 0): the default.
    #[default]
    Global,
    /// `site` (200).
    Site,
    /// `link` (253).
    Link,
    /// `host` (254).
    Host,
    /// `nowhere` (255).
    Nowhere,
    /// Any other number.
    Other(u8),
}

impl Scope {
    /// Parses `ip`'s names or a number.
    pub fn parse(s: &str) -> Option<Scope> {
        Some(match s {
            "global" | "universe" => Scope::Global,
            "site" => Scope::Site,
            "link" => Scope::Link,
            "host" => Scope::Host,
            "nowhere" => Scope::Nowhere,
            n => Scope::from_number(n.parse().ok()?),
        })
    }

    /// The kernel's number.
    pub fn number(self) -> u8 {
        match self {
            Scope::Global => 0,
            Scope::Site => 200,
            Scope::Link => 253,
            Scope::Host => 254,
            Scope::Nowhere => 255,
            Scope::Other(n) => n,
        }
    }

    /// From the kernel's number.
    pub fn from_number(n: u8) -> Scope {
        match n {
            0 => Scope::Global,
            200 => Scope::Site,
            253 => Scope::Link,
            254 => Scope::Host,
            255 => Scope::Nowhere,
            n => Scope::Other(n),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Global => f.write_str("global"),
            Scope::Site => f.write_str("site"),
            Scope::Link => f.write_str("link"),
            Scope::Host => f.write_str("host"),
            Scope::Nowhere => f.write_str("nowhere"),
            Scope::Other(n) => write!(f, "{n}"),
        }
    }
}

/// An address to add or remove.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AddressSpec {
    /// Interface index.
    pub ifindex: u32,
    /// The address.
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Broadcast address (IPv4); none unless asked, as keepalived and `ip addr add` do.
    pub broadcast: Option<Ipv4Addr>,
    /// Scope.
    pub scope: Scope,
    /// IPv4 label (`eth0:0`), `IFA_LABEL`. Must start with the interface name.
    pub label: Option<String>,
    /// `IFA_F_*` flags to set (`IFA_F_NODAD`, `IFA_F_HOMEADDRESS`, …).
    pub flags: u32,
    /// Peer address of a point-to-point address.
    pub peer: Option<IpAddr>,
    /// Preferred lifetime in seconds (IPv6); `None` is forever.
    pub preferred_lft: Option<u32>,
    /// `IFA_PROTO`: who added the address (kernel 6.3+; older kernels ignore it).
    pub proto: Option<u8>,
}

impl AddressSpec {
    /// A plain address: global scope, no label, no flags.
    pub fn new(ifindex: u32, addr: IpAddr, prefix_len: u8) -> Self {
        AddressSpec {
            ifindex,
            addr,
            prefix_len,
            broadcast: None,
            scope: Scope::Global,
            label: None,
            flags: 0,
            peer: None,
            preferred_lft: None,
            proto: None,
        }
    }

    fn header(&self) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.family = match self.addr {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        };
        m.header.prefix_len = self.prefix_len;
        m.header.index = self.ifindex;
        m.header.scope = AddressScope::from(self.scope.number());
        // The header holds the low 8 flag bits; IFA_FLAGS below carries all 32.
        m.header.flags = AddressHeaderFlags::from_bits_retain((self.flags & 0xff) as u8);
        m
    }

    fn add_message(&self) -> AddressMessage {
        let mut m = self.header();
        let a = &mut m.attributes;
        a.push(AddressAttribute::Local(self.addr));
        a.push(AddressAttribute::Address(self.peer.unwrap_or(self.addr)));
        if let Some(b) = self.broadcast {
            a.push(AddressAttribute::Broadcast(b));
        }
        if let Some(l) = &self.label {
            a.push(AddressAttribute::Label(l.clone()));
        }
        if self.flags != 0 {
            a.push(AddressAttribute::Flags(AddressFlags::from_bits_retain(
                self.flags,
            )));
        }
        if let Some(p) = self.preferred_lft {
            let mut ci = CacheInfo::default();
            ci.ifa_preferred = p;
            ci.ifa_valid = u32::MAX;
            a.push(AddressAttribute::CacheInfo(ci));
        }
        if let Some(p) = self.proto {
            a.push(AddressAttribute::Protocol(AddressProtocol::from(p)));
        }
        m
    }

    fn del_message(&self) -> AddressMessage {
        let mut m = self.header();
        m.attributes.push(AddressAttribute::Local(self.addr));
        m.attributes
            .push(AddressAttribute::Address(self.peer.unwrap_or(self.addr)));
        m
    }

    fn describe(&self, verb: &str) -> String {
        let mut s = format!(
            "{verb} address {}/{} on interface index {}",
            self.addr, self.prefix_len, self.ifindex
        );
        if let Some(l) = &self.label {
            s.push_str(&format!(" label {l}"));
        }
        s
    }
}

/// An address present on an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// Interface index.
    pub ifindex: u32,
    /// The local address (`IFA_LOCAL`, else `IFA_ADDRESS`).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix_len: u8,
    /// Label (IPv4).
    pub label: Option<String>,
    /// Scope.
    pub scope: Scope,
    /// All `IFA_F_*` flags.
    pub flags: u32,
    /// `IFA_PROTO`, when the kernel reports one.
    pub proto: Option<u8>,
    /// Broadcast address (IPv4).
    pub broadcast: Option<Ipv4Addr>,
}

impl Address {
    /// `IFA_F_SECONDARY`: another address of the same subnet was there first.
    pub fn is_secondary(&self) -> bool {
        self.flags & IFA_F_SECONDARY != 0
    }

    /// `IFA_F_TENTATIVE`: duplicate address detection still running (IPv6).
    pub fn is_tentative(&self) -> bool {
        self.flags & IFA_F_TENTATIVE != 0
    }

    /// IPv6 link-local (fe80::/10).
    pub fn is_link_local_v6(&self) -> bool {
        matches!(self.addr, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80)
    }

    pub(crate) fn from_message(m: &AddressMessage) -> Option<Address> {
        let mut local = None;
        let mut address = None;
        let mut out = Address {
            ifindex: m.header.index,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            prefix_len: m.header.prefix_len,
            label: None,
            scope: Scope::from_number(u8::from(m.header.scope)),
            flags: u32::from(m.header.flags.bits()),
            proto: None,
            broadcast: None,
        };
        for a in &m.attributes {
            match a {
                AddressAttribute::Local(x) => local = Some(*x),
                AddressAttribute::Address(x) => address = Some(*x),
                AddressAttribute::Label(l) => out.label = Some(l.clone()),
                AddressAttribute::Flags(f) => out.flags = f.bits(),
                AddressAttribute::Protocol(p) => out.proto = Some(u8::from(*p)),
                AddressAttribute::Broadcast(b) => out.broadcast = Some(*b),
                _ => {}
            }
        }
        out.addr = local.or(address)?;
        Some(out)
    }
}

/// What an add did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    /// The address was added.
    Added,
    /// It was already there (EEXIST): nothing changed.
    AlreadyPresent,
}

/// What a removal did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DelOutcome {
    /// The address was removed.
    Removed,
    /// It was not there (or its interface is gone): nothing changed.
    NotPresent,
}

impl AddOutcome {
    /// An add request's answer: EEXIST is an outcome, not an error.
    pub(crate) fn of<T>(r: Result<T>) -> Result<AddOutcome> {
        match r {
            Ok(_) => Ok(AddOutcome::Added),
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(AddOutcome::AlreadyPresent),
            Err(e) => Err(e),
        }
    }
}

impl DelOutcome {
    /// A removal's answer: the errnos in `absent` (how the kernel says "not there" for
    /// this kind of object) are an outcome, not an error.
    pub(crate) fn of<T>(r: Result<T>, absent: &[i32]) -> Result<DelOutcome> {
        match r {
            Ok(_) => Ok(DelOutcome::Removed),
            Err(e) if e.errno().is_some_and(|n| absent.contains(&n)) => Ok(DelOutcome::NotPresent),
            Err(e) => Err(e),
        }
    }
}

impl Netlink {
    /// Adds an address (`ip addr add`). An address already present is not an error.
    pub async fn add_address(&self, spec: &AddressSpec) -> Result<AddOutcome> {
        let r = self
            .request(
                RouteNetlinkMessage::NewAddress(spec.add_message()),
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                || spec.describe("add"),
            )
            .await;
        AddOutcome::of(r)
    }

    /// Removes an address (`ip addr del`), matched by address and prefix length. A missing
    /// address (or interface) is not an error.
    pub async fn del_address(&self, spec: &AddressSpec) -> Result<DelOutcome> {
        let r = self
            .request(
                RouteNetlinkMessage::DelAddress(spec.del_message()),
                NLM_F_REQUEST | NLM_F_ACK,
                || spec.describe("remove"),
            )
            .await;
        DelOutcome::of(
            r,
            &[libc::EADDRNOTAVAIL, libc::ENOENT, libc::ENODEV, libc::ESRCH],
        )
    }

    /// Every address of the namespace, or of interface `ifindex` only.
    pub async fn addresses(&self, ifindex: Option<u32>) -> Result<Vec<Address>> {
        let msg = RouteNetlinkMessage::GetAddress(AddressMessage::default());
        let answer = self
            .request(msg, NLM_F_REQUEST | NLM_F_DUMP, || "list addresses".into())
            .await?;
        Ok(answer
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => Address::from_message(a),
                _ => None,
            })
            .filter(|a| ifindex.is_none_or(|i| a.ifindex == i))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip() {
        for s in ["global", "site", "link", "host", "nowhere", "17"] {
            let sc = Scope::parse(s).unwrap();
            assert_eq!(Scope::from_number(sc.number()), sc);
            assert_eq!(sc.to_string(), s);
        }
        assert_eq!(Scope::parse("universe"), Some(Scope::Global));
        assert_eq!(Scope::parse("galaxy"), None);
    }

    #[test]
    fn add_message_carries_every_detail() {
        let mut s = AddressSpec::new(7, "172.16.15.99".parse().unwrap(), 16);
        s.label = Some("eth0:0".into());
        s.broadcast = Some("172.16.255.255".parse().unwrap());
        s.scope = Scope::Link;
        s.flags = IFA_F_NODAD | IFA_F_NOPREFIXROUTE;
        s.proto = Some(18);
        let m = s.add_message();
        assert_eq!(m.header.index, 7);
        assert_eq!(m.header.prefix_len, 16);
        assert_eq!(m.header.family, AddressFamily::Inet);
        assert_eq!(u8::from(m.header.scope), 253);
        let at = &m.attributes;
        assert!(at.contains(&AddressAttribute::Label("eth0:0".into())));
        assert!(at.contains(&AddressAttribute::Broadcast(
            "172.16.255.255".parse().unwrap()
        )));
        assert!(
            at.contains(&AddressAttribute::Flags(AddressFlags::from_bits_retain(
                IFA_F_NODAD | IFA_F_NOPREFIXROUTE
            )))
        );
        assert!(at.contains(&AddressAttribute::Protocol(AddressProtocol::from(18))));
        // Read back as the kernel would report it.
        let a = Address::from_message(&m).unwrap();
        assert_eq!(a.addr, s.addr);
        assert_eq!(a.label.as_deref(), Some("eth0:0"));
        assert_eq!(a.proto, Some(18));
        assert_eq!(a.scope, Scope::Link);
    }

    #[test]
    fn no_broadcast_unless_asked() {
        let s = AddressSpec::new(1, "10.0.0.1".parse().unwrap(), 24);
        assert!(
            !s.add_message()
                .attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::Broadcast(_)))
        );
    }
}
