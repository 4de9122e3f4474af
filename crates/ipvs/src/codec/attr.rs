//! Top-level attributes (`IPVS_CMD_ATTR_*`, and `IPVS_INFO_ATTR_*` in `SET_INFO`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, Nla, NlaBuffer, Parseable, parse_u32,
};

use super::constants::*;
use super::{DaemonAttr, DestAttr, SvcAttr, parse_nested};

/// An address as the kernel keeps it: `union nf_inet_addr`, always 16 bytes
/// on the wire, IPv4 in the first 4 bytes. Which family it is lives in a
/// separate attribute, so interpreting it needs that family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InetAddr(pub [u8; 16]);

impl InetAddr {
    /// Parse an address attribute value. The kernel writes 16 bytes; 4 bytes
    /// are accepted as well (the kernel's own policy takes up to 16).
    pub fn parse(value: &[u8]) -> Result<Self, DecodeError> {
        let mut bytes = [0u8; 16];
        match value.len() {
            4 | 16 => {
                bytes[..value.len()].copy_from_slice(value);
                Ok(InetAddr(bytes))
            }
            n => Err(DecodeError::invalid_ip_address(n)),
        }
    }

    /// Interpret the address in the given address family.
    pub fn to_ip(self, af: u16) -> Option<IpAddr> {
        match af {
            AF_INET => Some(IpAddr::V4(Ipv4Addr::new(
                self.0[0], self.0[1], self.0[2], self.0[3],
            ))),
            AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(self.0))),
            _ => None,
        }
    }
}

impl From<IpAddr> for InetAddr {
    fn from(ip: IpAddr) -> Self {
        let mut bytes = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => bytes[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => bytes = v6.octets(),
        }
        InetAddr(bytes)
    }
}

/// A top-level attribute of an IPVS message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpvsAttr {
    /// `IPVS_CMD_ATTR_SERVICE`: nested service attributes.
    Service(Vec<SvcAttr>),
    /// `IPVS_CMD_ATTR_DEST`: nested destination attributes.
    Dest(Vec<DestAttr>),
    /// `IPVS_CMD_ATTR_DAEMON`: nested sync daemon attributes.
    Daemon(Vec<DaemonAttr>),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP`: TCP established timeout, seconds.
    TimeoutTcp(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP_FIN`: TCP FIN-wait timeout, seconds.
    TimeoutTcpFin(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_UDP`: UDP timeout, seconds.
    TimeoutUdp(u32),
    /// `IPVS_INFO_ATTR_VERSION` (only in `SET_INFO`): IPVS version code.
    InfoVersion(u32),
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE` (only in `SET_INFO`): connection hash table size.
    InfoConnTabSize(u32),
    /// An attribute this crate does not know.
    Other(DefaultNla),
}

impl IpvsAttr {
    /// Parse one top-level attribute; `info` selects the `IPVS_INFO_ATTR_*`
    /// numbering (see [`super::IpvsCmd::uses_info_attrs`]).
    pub fn parse_top(buf: &NlaBuffer<&[u8]>, info: bool) -> Result<Self, DecodeError> {
        let v = buf.value();
        Ok(match (info, buf.kind()) {
            (true, IPVS_INFO_ATTR_VERSION) => IpvsAttr::InfoVersion(parse_u32(v)?),
            (true, IPVS_INFO_ATTR_CONN_TAB_SIZE) => IpvsAttr::InfoConnTabSize(parse_u32(v)?),
            (false, IPVS_CMD_ATTR_SERVICE) => {
                IpvsAttr::Service(parse_nested(v, "IPVS_CMD_ATTR_SERVICE", SvcAttr::parse)?)
            }
            (false, IPVS_CMD_ATTR_DEST) => {
                IpvsAttr::Dest(parse_nested(v, "IPVS_CMD_ATTR_DEST", DestAttr::parse)?)
            }
            (false, IPVS_CMD_ATTR_DAEMON) => {
                IpvsAttr::Daemon(parse_nested(v, "IPVS_CMD_ATTR_DAEMON", DaemonAttr::parse)?)
            }
            (false, IPVS_CMD_ATTR_TIMEOUT_TCP) => IpvsAttr::TimeoutTcp(parse_u32(v)?),
            (false, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN) => IpvsAttr::TimeoutTcpFin(parse_u32(v)?),
            (false, IPVS_CMD_ATTR_TIMEOUT_UDP) => IpvsAttr::TimeoutUdp(parse_u32(v)?),
            _ => IpvsAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

impl Nla for IpvsAttr {
    fn value_len(&self) -> usize {
        match self {
            IpvsAttr::Service(a) => a.as_slice().buffer_len(),
            IpvsAttr::Dest(a) => a.as_slice().buffer_len(),
            IpvsAttr::Daemon(a) => a.as_slice().buffer_len(),
            IpvsAttr::TimeoutTcp(_)
            | IpvsAttr::TimeoutTcpFin(_)
            | IpvsAttr::TimeoutUdp(_)
            | IpvsAttr::InfoVersion(_)
            | IpvsAttr::InfoConnTabSize(_) => 4,
            IpvsAttr::Other(nla) => nla.value_len(),
        }
    }

    // The kernel nests without NLA_F_NESTED (`nla_nest_start_noflag`); we do
    // the same so emitted bytes equal what the kernel itself produces.
    fn kind(&self) -> u16 {
        match self {
            IpvsAttr::Service(_) => IPVS_CMD_ATTR_SERVICE,
            IpvsAttr::Dest(_) => IPVS_CMD_ATTR_DEST,
            IpvsAttr::Daemon(_) => IPVS_CMD_ATTR_DAEMON,
            IpvsAttr::TimeoutTcp(_) => IPVS_CMD_ATTR_TIMEOUT_TCP,
            IpvsAttr::TimeoutTcpFin(_) => IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
            IpvsAttr::TimeoutUdp(_) => IPVS_CMD_ATTR_TIMEOUT_UDP,
            IpvsAttr::InfoVersion(_) => IPVS_INFO_ATTR_VERSION,
            IpvsAttr::InfoConnTabSize(_) => IPVS_INFO_ATTR_CONN_TAB_SIZE,
            IpvsAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            IpvsAttr::Service(a) => a.as_slice().emit(buffer),
            IpvsAttr::Dest(a) => a.as_slice().emit(buffer),
            IpvsAttr::Daemon(a) => a.as_slice().emit(buffer),
            IpvsAttr::TimeoutTcp(v)
            | IpvsAttr::TimeoutTcpFin(v)
            | IpvsAttr::TimeoutUdp(v)
            | IpvsAttr::InfoVersion(v)
            | IpvsAttr::InfoConnTabSize(v) => write_u32(buffer, *v),
            IpvsAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}

/// Write a native-endian u32 into an attribute value buffer sized by `value_len`.
pub(crate) fn write_u32(buffer: &mut [u8], v: u32) {
    buffer[..4].copy_from_slice(&v.to_ne_bytes());
}
