//! Service attributes (`IPVS_SVC_ATTR_*`).

use netlink_packet_core::{
    DecodeError, DefaultNla, Nla, NlaBuffer, Parseable, parse_string, parse_u16, parse_u16_be,
    parse_u32,
};

use super::attr::{InetAddr, write_u32};
use super::constants::*;
use super::stats::{parse_stats, stats_emit, stats_len};
use super::{StatsAttr, emit_string, string_len};

/// `struct ip_vs_flags`: the flags to set and which of them the request changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SvcFlagsAttr {
    /// Flag values (`IP_VS_SVC_F_*`).
    pub flags: u32,
    /// Which flags this message sets; the kernel reports `!0`.
    pub mask: u32,
}

/// One service attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SvcAttr {
    /// `IPVS_SVC_ATTR_AF`: address family (`AF_INET`, `AF_INET6`).
    Af(u16),
    /// `IPVS_SVC_ATTR_PROTOCOL`: IP protocol number.
    Protocol(u16),
    /// `IPVS_SVC_ATTR_ADDR`: virtual address.
    Addr(InetAddr),
    /// `IPVS_SVC_ATTR_PORT`: virtual port (network byte order on the wire).
    Port(u16),
    /// `IPVS_SVC_ATTR_FWMARK`: firewall mark.
    Fwmark(u32),
    /// `IPVS_SVC_ATTR_SCHED_NAME`: scheduler name.
    SchedName(String),
    /// `IPVS_SVC_ATTR_FLAGS`: flags with mask.
    Flags(SvcFlagsAttr),
    /// `IPVS_SVC_ATTR_TIMEOUT`: persistence timeout in seconds (0 = not persistent).
    Timeout(u32),
    /// `IPVS_SVC_ATTR_NETMASK`: the raw `__be32` field. IPv4: a netmask in
    /// network byte order; IPv6: a prefix length in host byte order (the
    /// kernel really uses one field both ways).
    Netmask([u8; 4]),
    /// `IPVS_SVC_ATTR_STATS`: 32-bit statistics.
    Stats(Vec<StatsAttr>),
    /// `IPVS_SVC_ATTR_PE_NAME`: persistence engine name.
    PeName(String),
    /// `IPVS_SVC_ATTR_STATS64`: 64-bit statistics.
    Stats64(Vec<StatsAttr>),
    /// An attribute this crate does not know.
    Other(DefaultNla),
}

impl SvcAttr {
    /// Parse one service attribute.
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        match SvcAttr::parse_known(buf.kind(), buf.value())? {
            Some(attr) => Ok(attr),
            None => Ok(SvcAttr::Other(DefaultNla::parse(buf)?)),
        }
    }

    /// Parse an attribute of a kind this crate knows; `None` for the others
    /// (which [`SvcAttr::parse`] keeps as `Other`, and never fails on).
    pub(crate) fn parse_known(kind: u16, v: &[u8]) -> Result<Option<Self>, DecodeError> {
        Ok(Some(match kind {
            IPVS_SVC_ATTR_AF => SvcAttr::Af(parse_u16(v)?),
            IPVS_SVC_ATTR_PROTOCOL => SvcAttr::Protocol(parse_u16(v)?),
            IPVS_SVC_ATTR_ADDR => SvcAttr::Addr(InetAddr::parse(v)?),
            IPVS_SVC_ATTR_PORT => SvcAttr::Port(parse_u16_be(v)?),
            IPVS_SVC_ATTR_FWMARK => SvcAttr::Fwmark(parse_u32(v)?),
            IPVS_SVC_ATTR_SCHED_NAME => SvcAttr::SchedName(parse_string(v)?),
            IPVS_SVC_ATTR_FLAGS => {
                if v.len() != 8 {
                    return Err(DecodeError::invalid_number(8, v.len()));
                }
                SvcAttr::Flags(SvcFlagsAttr {
                    flags: parse_u32(&v[..4])?,
                    mask: parse_u32(&v[4..])?,
                })
            }
            IPVS_SVC_ATTR_TIMEOUT => SvcAttr::Timeout(parse_u32(v)?),
            IPVS_SVC_ATTR_NETMASK => match <[u8; 4]>::try_from(v) {
                Ok(raw) => SvcAttr::Netmask(raw),
                Err(_) => return Err(DecodeError::invalid_number(4, v.len())),
            },
            IPVS_SVC_ATTR_STATS => SvcAttr::Stats(parse_stats(v, "IPVS_SVC_ATTR_STATS")?),
            IPVS_SVC_ATTR_PE_NAME => SvcAttr::PeName(parse_string(v)?),
            IPVS_SVC_ATTR_STATS64 => SvcAttr::Stats64(parse_stats(v, "IPVS_SVC_ATTR_STATS64")?),
            _ => return Ok(None),
        }))
    }
}

impl Nla for SvcAttr {
    fn value_len(&self) -> usize {
        match self {
            SvcAttr::Af(_) | SvcAttr::Protocol(_) | SvcAttr::Port(_) => 2,
            SvcAttr::Addr(_) => 16,
            SvcAttr::Fwmark(_) | SvcAttr::Timeout(_) | SvcAttr::Netmask(_) => 4,
            SvcAttr::SchedName(s) | SvcAttr::PeName(s) => string_len(s),
            SvcAttr::Flags(_) => 8,
            SvcAttr::Stats(s) => stats_len(s, false),
            SvcAttr::Stats64(s) => stats_len(s, true),
            SvcAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            SvcAttr::Af(_) => IPVS_SVC_ATTR_AF,
            SvcAttr::Protocol(_) => IPVS_SVC_ATTR_PROTOCOL,
            SvcAttr::Addr(_) => IPVS_SVC_ATTR_ADDR,
            SvcAttr::Port(_) => IPVS_SVC_ATTR_PORT,
            SvcAttr::Fwmark(_) => IPVS_SVC_ATTR_FWMARK,
            SvcAttr::SchedName(_) => IPVS_SVC_ATTR_SCHED_NAME,
            SvcAttr::Flags(_) => IPVS_SVC_ATTR_FLAGS,
            SvcAttr::Timeout(_) => IPVS_SVC_ATTR_TIMEOUT,
            SvcAttr::Netmask(_) => IPVS_SVC_ATTR_NETMASK,
            SvcAttr::Stats(_) => IPVS_SVC_ATTR_STATS,
            SvcAttr::PeName(_) => IPVS_SVC_ATTR_PE_NAME,
            SvcAttr::Stats64(_) => IPVS_SVC_ATTR_STATS64,
            SvcAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            SvcAttr::Af(v) | SvcAttr::Protocol(v) => buffer[..2].copy_from_slice(&v.to_ne_bytes()),
            SvcAttr::Port(v) => buffer[..2].copy_from_slice(&v.to_be_bytes()),
            SvcAttr::Addr(a) => buffer[..16].copy_from_slice(&a.0),
            SvcAttr::Fwmark(v) | SvcAttr::Timeout(v) => write_u32(buffer, *v),
            SvcAttr::Netmask(raw) => buffer[..4].copy_from_slice(raw),
            SvcAttr::SchedName(s) | SvcAttr::PeName(s) => emit_string(buffer, s),
            SvcAttr::Flags(f) => {
                write_u32(&mut buffer[..4], f.flags);
                write_u32(&mut buffer[4..], f.mask);
            }
            SvcAttr::Stats(s) => stats_emit(s, false, buffer),
            SvcAttr::Stats64(s) => stats_emit(s, true, buffer),
            SvcAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}
