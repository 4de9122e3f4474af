//! Destinations (real servers).

use std::fmt;
use std::net::IpAddr;

use super::{Family, Stats, first};
use crate::codec::*;
use crate::error::ModelError;

/// Tunnel encapsulation (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelType {
    /// IP-in-IP (the default).
    Ipip,
    /// Generic UDP Encapsulation; needs a port.
    Gue,
    /// GRE.
    Gre,
    /// A type number this crate does not know.
    Other(u8),
}

impl TunnelType {
    fn number(self) -> u8 {
        match self {
            TunnelType::Ipip => IP_VS_CONN_F_TUNNEL_TYPE_IPIP,
            TunnelType::Gue => IP_VS_CONN_F_TUNNEL_TYPE_GUE,
            TunnelType::Gre => IP_VS_CONN_F_TUNNEL_TYPE_GRE,
            TunnelType::Other(n) => n,
        }
    }

    fn from_number(n: u8) -> TunnelType {
        match n {
            IP_VS_CONN_F_TUNNEL_TYPE_IPIP => TunnelType::Ipip,
            IP_VS_CONN_F_TUNNEL_TYPE_GUE => TunnelType::Gue,
            IP_VS_CONN_F_TUNNEL_TYPE_GRE => TunnelType::Gre,
            n => TunnelType::Other(n),
        }
    }
}

/// Tunnel encapsulation flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TunnelFlags(pub u16);

impl TunnelFlags {
    /// No checksum (`--tun-nocsum`).
    pub const NOCSUM: TunnelFlags = TunnelFlags(IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM);
    /// Checksum (`--tun-csum`).
    pub const CSUM: TunnelFlags = TunnelFlags(IP_VS_TUNNEL_ENCAP_FLAG_CSUM);
    /// Remote checksum offload (`--tun-remcsum`, GUE only).
    pub const REMCSUM: TunnelFlags = TunnelFlags(IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM);
}

/// Packet forwarding method (`IP_VS_CONN_F_FWD_MASK` part of the connection flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Forward {
    /// NAT, "Masq" in `ipvsadm -Ln` (`-m`).
    Masq,
    /// Local node (the kernel picks this for local addresses).
    Local,
    /// Tunnelling (`-i`), with its encapsulation.
    Tunnel {
        /// Encapsulation type.
        tun_type: TunnelType,
        /// Destination port of the encapsulation (GUE).
        port: u16,
        /// Encapsulation flags.
        flags: TunnelFlags,
    },
    /// Direct routing, "Route" in `ipvsadm -Ln` (`-g`).
    DirectRoute,
    /// Cache bypass.
    Bypass,
}

impl Forward {
    /// Plain IP-in-IP tunnelling.
    pub const IPIP: Forward = Forward::Tunnel {
        tun_type: TunnelType::Ipip,
        port: 0,
        flags: TunnelFlags::NOCSUM,
    };

    fn method(self) -> u32 {
        match self {
            Forward::Masq => IP_VS_CONN_F_MASQ,
            Forward::Local => IP_VS_CONN_F_LOCALNODE,
            Forward::Tunnel { .. } => IP_VS_CONN_F_TUNNEL,
            Forward::DirectRoute => IP_VS_CONN_F_DROUTE,
            Forward::Bypass => IP_VS_CONN_F_BYPASS,
        }
    }
}

/// What identifies a destination within its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestKey {
    /// Real server address; its family may differ from the service's (tunnels).
    pub addr: IpAddr,
    /// Real server port.
    pub port: u16,
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

impl DestKey {
    /// The identifying attributes (address, port, and family).
    pub fn to_attrs(&self) -> Vec<DestAttr> {
        vec![
            DestAttr::Addr(InetAddr::from(self.addr)),
            DestAttr::Port(self.port),
            DestAttr::AddrFamily(Family::of(&self.addr).to_af()),
        ]
    }
}

/// A destination as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Destination {
    /// Address and port.
    pub key: DestKey,
    /// Forwarding method.
    pub forward: Forward,
    /// Weight (0 = quiesced). The kernel refuses values above `i32::MAX`.
    pub weight: u32,
    /// Upper connection threshold (0 = none).
    pub upper_threshold: u32,
    /// Lower connection threshold (0 = none).
    pub lower_threshold: u32,
}

impl Destination {
    /// A destination with weight 1, no thresholds.
    pub fn new(addr: IpAddr, port: u16, forward: Forward) -> Destination {
        Destination {
            key: DestKey { addr, port },
            forward,
            weight: 1,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }

    /// Full attributes for `NEW_DEST`/`SET_DEST`.
    pub fn to_attrs(&self) -> Vec<DestAttr> {
        let mut attrs = self.key.to_attrs();
        attrs.push(DestAttr::FwdMethod(self.forward.method()));
        attrs.push(DestAttr::Weight(self.weight));
        if let Forward::Tunnel {
            tun_type,
            port,
            flags,
        } = self.forward
        {
            attrs.push(DestAttr::TunType(tun_type.number()));
            attrs.push(DestAttr::TunPort(port));
            attrs.push(DestAttr::TunFlags(flags.0));
        }
        attrs.push(DestAttr::UThresh(self.upper_threshold));
        attrs.push(DestAttr::LThresh(self.lower_threshold));
        attrs
    }
}

/// A destination as read back from the kernel: configuration plus counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestinationEntry {
    /// The configuration part, comparable with what was requested.
    pub dest: Destination,
    /// Active connections.
    pub active_conns: u32,
    /// Inactive connections.
    pub inactive_conns: u32,
    /// Persistent connection templates.
    pub persistent_conns: u32,
    /// `IPVS_DEST_ATTR_STATS`.
    pub stats: Option<Stats>,
    /// `IPVS_DEST_ATTR_STATS64`.
    pub stats64: Option<Stats>,
}

impl DestinationEntry {
    /// Read a destination from reply attributes; `service_family` is used
    /// when the kernel does not say the destination's own family (pre-4.x).
    pub fn from_attrs(
        attrs: &[DestAttr],
        service_family: Family,
    ) -> Result<DestinationEntry, ModelError> {
        let mut fields = DestFields::default();
        for a in attrs {
            fields.take(a);
        }
        fields.finish(service_family)
    }
}

/// The attributes of one destination reply, gathered one at a time so the
/// dump can read them straight off the wire without building a
/// `Vec<DestAttr>` first; [`DestinationEntry::from_attrs`] goes through the
/// same code, so both readings agree. The first occurrence of an attribute
/// wins, later duplicates are ignored.
#[derive(Default)]
pub(crate) struct DestFields {
    af: Option<u16>,
    addr: Option<InetAddr>,
    port: Option<u16>,
    method: Option<u32>,
    weight: Option<u32>,
    u_thresh: Option<u32>,
    l_thresh: Option<u32>,
    active: Option<u32>,
    inactive: Option<u32>,
    persistent: Option<u32>,
    tun_type: Option<u8>,
    tun_port: Option<u16>,
    tun_flags: Option<u16>,
    stats: Option<Stats>,
    stats64: Option<Stats>,
}

impl DestFields {
    /// Note one attribute.
    pub(crate) fn take(&mut self, a: &DestAttr) {
        match a {
            DestAttr::Addr(v) => first(&mut self.addr, *v),
            DestAttr::Port(v) => first(&mut self.port, *v),
            DestAttr::FwdMethod(v) => first(&mut self.method, *v),
            DestAttr::Weight(v) => first(&mut self.weight, *v),
            DestAttr::UThresh(v) => first(&mut self.u_thresh, *v),
            DestAttr::LThresh(v) => first(&mut self.l_thresh, *v),
            DestAttr::ActiveConns(v) => first(&mut self.active, *v),
            DestAttr::InactConns(v) => first(&mut self.inactive, *v),
            DestAttr::PersistConns(v) => first(&mut self.persistent, *v),
            DestAttr::AddrFamily(v) => first(&mut self.af, *v),
            DestAttr::TunType(v) => first(&mut self.tun_type, *v),
            DestAttr::TunPort(v) => first(&mut self.tun_port, *v),
            DestAttr::TunFlags(v) => first(&mut self.tun_flags, *v),
            DestAttr::Stats(s) => self.take_stats(false, Stats::from_attrs(s)),
            DestAttr::Stats64(s) => self.take_stats(true, Stats::from_attrs(s)),
            DestAttr::Other(_) => {}
        }
    }

    /// Note a stats nest (`wide`: `IPVS_DEST_ATTR_STATS64`).
    pub(crate) fn take_stats(&mut self, wide: bool, stats: Stats) {
        let slot = if wide {
            &mut self.stats64
        } else {
            &mut self.stats
        };
        first(slot, stats);
    }

    /// The destination, or which required attribute is missing or wrong.
    pub(crate) fn finish(self, service_family: Family) -> Result<DestinationEntry, ModelError> {
        let af = self
            .af
            .map(Family::from_af)
            .transpose()?
            .unwrap_or(service_family);
        let raw = self
            .addr
            .ok_or(ModelError::Missing("IPVS_DEST_ATTR_ADDR"))?;
        let addr = raw
            .to_ip(af.to_af())
            .ok_or(ModelError::UnknownFamily(af.to_af()))?;
        let port = self
            .port
            .ok_or(ModelError::Missing("IPVS_DEST_ATTR_PORT"))?;
        let method = self
            .method
            .ok_or(ModelError::Missing("IPVS_DEST_ATTR_FWD_METHOD"))?;
        let forward = match method & IP_VS_CONN_F_FWD_MASK {
            IP_VS_CONN_F_MASQ => Forward::Masq,
            IP_VS_CONN_F_LOCALNODE => Forward::Local,
            IP_VS_CONN_F_TUNNEL => Forward::Tunnel {
                tun_type: TunnelType::from_number(
                    self.tun_type.unwrap_or(IP_VS_CONN_F_TUNNEL_TYPE_IPIP),
                ),
                port: self.tun_port.unwrap_or(0),
                flags: TunnelFlags(self.tun_flags.unwrap_or(0)),
            },
            IP_VS_CONN_F_DROUTE => Forward::DirectRoute,
            IP_VS_CONN_F_BYPASS => Forward::Bypass,
            other => return Err(ModelError::UnknownForward(other)),
        };
        Ok(DestinationEntry {
            dest: Destination {
                key: DestKey { addr, port },
                forward,
                weight: self.weight.unwrap_or(0),
                upper_threshold: self.u_thresh.unwrap_or(0),
                lower_threshold: self.l_thresh.unwrap_or(0),
            },
            active_conns: self.active.unwrap_or(0),
            inactive_conns: self.inactive.unwrap_or(0),
            persistent_conns: self.persistent.unwrap_or(0),
            stats: self.stats,
            stats64: self.stats64,
        })
    }
}
