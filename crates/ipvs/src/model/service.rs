//! Virtual services.

use std::fmt;
use std::net::IpAddr;

use super::{Stats, first};
use crate::codec::*;
use crate::error::ModelError;

/// Address family of a service or destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// IPv4 (`AF_INET`).
    Inet,
    /// IPv6 (`AF_INET6`).
    Inet6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::Inet
        } else {
            Family::Inet6
        }
    }

    /// The kernel's `AF_*` number.
    pub fn to_af(self) -> u16 {
        match self {
            Family::Inet => AF_INET,
            Family::Inet6 => AF_INET6,
        }
    }

    /// From the kernel's `AF_*` number.
    pub fn from_af(af: u16) -> Result<Family, ModelError> {
        match af {
            AF_INET => Ok(Family::Inet),
            AF_INET6 => Ok(Family::Inet6),
            other => Err(ModelError::UnknownFamily(other)),
        }
    }

    /// The default persistence netmask as a prefix length (host-sized).
    pub fn full_prefix(self) -> u8 {
        match self {
            Family::Inet => 32,
            Family::Inet6 => 128,
        }
    }
}

/// Transport protocol of a tuple service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
    /// Any other IP protocol number (the kernel rejects them; kept for reading).
    Other(u16),
}

impl Protocol {
    /// The IP protocol number.
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => IPPROTO_TCP,
            Protocol::Udp => IPPROTO_UDP,
            Protocol::Sctp => IPPROTO_SCTP,
            Protocol::Other(n) => n,
        }
    }

    /// From an IP protocol number.
    pub fn from_number(n: u16) -> Protocol {
        match n {
            IPPROTO_TCP => Protocol::Tcp,
            IPPROTO_UDP => Protocol::Udp,
            IPPROTO_SCTP => Protocol::Sctp,
            n => Protocol::Other(n),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::Tcp => f.write_str("TCP"),
            Protocol::Udp => f.write_str("UDP"),
            Protocol::Sctp => f.write_str("SCTP"),
            Protocol::Other(n) => write!(f, "proto {n}"),
        }
    }
}

/// What identifies a virtual service. The kernel takes either a firewall
/// mark or a protocol/address/port tuple, never both: the enum makes the
/// other combinations unrepresentable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    /// A firewall-mark service (`ipvsadm -f`).
    Fwmark {
        /// Address family of the marked traffic.
        af: Family,
        /// The mark (non-zero).
        mark: u32,
    },
    /// A protocol/address/port service (`ipvsadm -t/-u/--sctp-service`).
    Tuple {
        /// Transport protocol.
        proto: Protocol,
        /// Virtual address; its family is the service's.
        addr: IpAddr,
        /// Virtual port (0 = all ports, for persistent services).
        port: u16,
    },
}

impl ServiceKey {
    /// The address family of the service.
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Fwmark { af, .. } => *af,
            ServiceKey::Tuple { addr, .. } => Family::of(addr),
        }
    }

    /// The identifying attributes, as every service-addressed request needs them.
    pub fn to_attrs(&self) -> Vec<SvcAttr> {
        match *self {
            ServiceKey::Fwmark { af, mark } => vec![SvcAttr::Af(af.to_af()), SvcAttr::Fwmark(mark)],
            ServiceKey::Tuple { proto, addr, port } => vec![
                SvcAttr::Af(Family::of(&addr).to_af()),
                SvcAttr::Protocol(proto.number()),
                SvcAttr::Addr(InetAddr::from(addr)),
                SvcAttr::Port(port),
            ],
        }
    }

    /// Read the key from service attributes (a non-zero fwmark wins, as in the kernel).
    pub fn from_attrs(attrs: &[SvcAttr]) -> Result<ServiceKey, ModelError> {
        SvcFields::gather(attrs).key()
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Fwmark {
                af: Family::Inet,
                mark,
            } => write!(f, "FWM {mark}"),
            ServiceKey::Fwmark {
                af: Family::Inet6,
                mark,
            } => write!(f, "FWM {mark} IPv6"),
            ServiceKey::Tuple {
                proto,
                addr: IpAddr::V4(a),
                port,
            } => write!(f, "{proto} {a}:{port}"),
            ServiceKey::Tuple {
                proto,
                addr: IpAddr::V6(a),
                port,
            } => write!(f, "{proto} [{a}]:{port}"),
        }
    }
}

/// Service flags other than persistence (`IP_VS_SVC_F_*`). The persistent
/// flag is carried by [`Service::persistence`], and the kernel-internal
/// `HASHED` flag is dropped on read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ServiceFlags(pub u32);

impl ServiceFlags {
    /// One-packet scheduling (`ipvsadm -o`).
    pub const ONE_PACKET: ServiceFlags = ServiceFlags(IP_VS_SVC_F_ONEPACKET);
    /// Scheduler flag 1 (`sh-fallback`, `mh-fallback`).
    pub const SCHED1: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED1);
    /// Scheduler flag 2 (`sh-port`, `mh-port`).
    pub const SCHED2: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED2);
    /// Scheduler flag 3.
    pub const SCHED3: ServiceFlags = ServiceFlags(IP_VS_SVC_F_SCHED3);
    /// No flags.
    pub const NONE: ServiceFlags = ServiceFlags(0);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: ServiceFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for ServiceFlags {
    type Output = ServiceFlags;
    fn bitor(self, rhs: ServiceFlags) -> ServiceFlags {
        ServiceFlags(self.0 | rhs.0)
    }
}

/// Persistence (`ipvsadm -p TIMEOUT -M NETMASK`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Persistence {
    /// Timeout in seconds.
    pub timeout: u32,
    /// Client netmask as a prefix length (32/128 = per client address).
    pub prefix_len: u8,
}

/// A virtual service as configured.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Service {
    /// What identifies it.
    pub key: ServiceKey,
    /// Scheduler name (`rr`, `wlc`, `mh`, ...): loads module `ip_vs_<name>`.
    pub scheduler: String,
    /// Flags other than persistence.
    pub flags: ServiceFlags,
    /// Persistence, if the service is persistent.
    pub persistence: Option<Persistence>,
    /// Persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
}

impl Service {
    /// A service with the given key and scheduler, no flags, not persistent.
    pub fn new(key: ServiceKey, scheduler: impl Into<String>) -> Service {
        Service {
            key,
            scheduler: scheduler.into(),
            flags: ServiceFlags::NONE,
            persistence: None,
            pe_name: None,
        }
    }

    /// Full attributes for `NEW_SERVICE`/`SET_SERVICE`. The kernel requires
    /// scheduler, flags, timeout and netmask on both; non-persistent services
    /// get timeout 0 and the full netmask, as `ipvsadm` sends them.
    pub fn to_attrs(&self) -> Vec<SvcAttr> {
        let family = self.key.family();
        let mut attrs = self.key.to_attrs();
        attrs.push(SvcAttr::SchedName(self.scheduler.clone()));
        if let Some(pe) = &self.pe_name {
            attrs.push(SvcAttr::PeName(pe.clone()));
        }
        let persistent = if self.persistence.is_some() {
            IP_VS_SVC_F_PERSISTENT
        } else {
            0
        };
        // Mask: every flag we model, so a SET replaces them all. HASHED is
        // kernel-internal and must stay out of the mask.
        attrs.push(SvcAttr::Flags(SvcFlagsAttr {
            flags: self.flags.0 | persistent,
            mask: !IP_VS_SVC_F_HASHED,
        }));
        let (timeout, prefix) = match self.persistence {
            Some(p) => (p.timeout, p.prefix_len),
            None => (0, family.full_prefix()),
        };
        attrs.push(SvcAttr::Timeout(timeout));
        attrs.push(SvcAttr::Netmask(netmask_raw(family, prefix)));
        attrs
    }
}

/// The raw netmask field for a prefix length (see [`SvcAttr::Netmask`]).
pub(crate) fn netmask_raw(family: Family, prefix: u8) -> [u8; 4] {
    match family {
        Family::Inet => {
            let p = u32::from(prefix.min(32));
            let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            mask.to_be_bytes()
        }
        Family::Inet6 => u32::from(prefix).to_ne_bytes(),
    }
}

/// The prefix length of a raw netmask field. A non-contiguous IPv4 mask
/// (which no tool writes) reads as its leading ones.
pub(crate) fn netmask_prefix(family: Family, raw: [u8; 4]) -> u8 {
    match family {
        Family::Inet => u32::from_be_bytes(raw).leading_ones() as u8,
        Family::Inet6 => u32::from_ne_bytes(raw).min(128) as u8,
    }
}

/// A service as read back from the kernel: configuration plus counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    /// The configuration part, comparable with what was requested.
    pub service: Service,
    /// `IPVS_SVC_ATTR_STATS` (32-bit counters, byte counters 64-bit).
    pub stats: Option<Stats>,
    /// `IPVS_SVC_ATTR_STATS64`.
    pub stats64: Option<Stats>,
}

impl ServiceEntry {
    /// Read a service from reply attributes.
    pub fn from_attrs(attrs: &[SvcAttr]) -> Result<ServiceEntry, ModelError> {
        SvcFields::gather(attrs).finish()
    }
}

/// The attributes of one service reply, gathered one at a time so the dump
/// can read them straight off the wire without building a `Vec<SvcAttr>`
/// first; [`ServiceEntry::from_attrs`] and [`ServiceKey::from_attrs`] go
/// through the same code, so both readings agree. The first occurrence of
/// an attribute wins, later duplicates are ignored.
#[derive(Default)]
pub(crate) struct SvcFields {
    af: Option<u16>,
    proto: Option<u16>,
    addr: Option<InetAddr>,
    port: Option<u16>,
    fwmark: Option<u32>,
    scheduler: Option<String>,
    flags: Option<SvcFlagsAttr>,
    timeout: Option<u32>,
    netmask: Option<[u8; 4]>,
    pe_name: Option<String>,
    stats: Option<Stats>,
    stats64: Option<Stats>,
}

impl SvcFields {
    fn gather(attrs: &[SvcAttr]) -> SvcFields {
        let mut fields = SvcFields::default();
        for a in attrs {
            fields.take(a);
        }
        fields
    }

    /// Note one attribute.
    pub(crate) fn take(&mut self, a: &SvcAttr) {
        match a {
            SvcAttr::Af(v) => first(&mut self.af, *v),
            SvcAttr::Protocol(v) => first(&mut self.proto, *v),
            SvcAttr::Addr(v) => first(&mut self.addr, *v),
            SvcAttr::Port(v) => first(&mut self.port, *v),
            SvcAttr::Fwmark(v) => first(&mut self.fwmark, *v),
            SvcAttr::SchedName(v) if self.scheduler.is_none() => self.scheduler = Some(v.clone()),
            SvcAttr::Flags(v) => first(&mut self.flags, *v),
            SvcAttr::Timeout(v) => first(&mut self.timeout, *v),
            SvcAttr::Netmask(v) => first(&mut self.netmask, *v),
            SvcAttr::PeName(v) if self.pe_name.is_none() => self.pe_name = Some(v.clone()),
            SvcAttr::Stats(s) => self.take_stats(false, Stats::from_attrs(s)),
            SvcAttr::Stats64(s) => self.take_stats(true, Stats::from_attrs(s)),
            SvcAttr::SchedName(_) | SvcAttr::PeName(_) | SvcAttr::Other(_) => {}
        }
    }

    /// Note a stats nest (`wide`: `IPVS_SVC_ATTR_STATS64`).
    pub(crate) fn take_stats(&mut self, wide: bool, stats: Stats) {
        let slot = if wide {
            &mut self.stats64
        } else {
            &mut self.stats
        };
        first(slot, stats);
    }

    /// The service key, or which attribute is missing or wrong.
    fn key(&self) -> Result<ServiceKey, ModelError> {
        let af = Family::from_af(self.af.ok_or(ModelError::Missing("IPVS_SVC_ATTR_AF"))?)?;
        if let Some(mark) = self.fwmark.filter(|m| *m != 0) {
            return Ok(ServiceKey::Fwmark { af, mark });
        }
        let proto = self
            .proto
            .ok_or(ModelError::Missing("IPVS_SVC_ATTR_PROTOCOL"))?;
        let addr = self.addr.ok_or(ModelError::Missing("IPVS_SVC_ATTR_ADDR"))?;
        let port = self.port.ok_or(ModelError::Missing("IPVS_SVC_ATTR_PORT"))?;
        let addr = addr
            .to_ip(af.to_af())
            .ok_or(ModelError::UnknownFamily(af.to_af()))?;
        Ok(ServiceKey::Tuple {
            proto: Protocol::from_number(proto),
            addr,
            port,
        })
    }

    /// The service, or which required attribute is missing or wrong.
    pub(crate) fn finish(self) -> Result<ServiceEntry, ModelError> {
        let key = self.key()?;
        let family = key.family();
        let scheduler = self
            .scheduler
            .ok_or(ModelError::Missing("IPVS_SVC_ATTR_SCHED_NAME"))?;
        let flags = self
            .flags
            .map(|f| f.flags & f.mask)
            .ok_or(ModelError::Missing("IPVS_SVC_ATTR_FLAGS"))?;
        let persistence = (flags & IP_VS_SVC_F_PERSISTENT != 0).then(|| Persistence {
            timeout: self.timeout.unwrap_or(0),
            prefix_len: netmask_prefix(family, self.netmask.unwrap_or([0xff; 4])),
        });
        Ok(ServiceEntry {
            service: Service {
                key,
                scheduler,
                flags: ServiceFlags(flags & !(IP_VS_SVC_F_PERSISTENT | IP_VS_SVC_F_HASHED)),
                persistence,
                pe_name: self.pe_name,
            },
            stats: self.stats,
            stats64: self.stats64,
        })
    }
}
