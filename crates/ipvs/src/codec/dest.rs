//! Destination (real server) attributes (`IPVS_DEST_ATTR_*`).

use netlink_packet_core::{
    DecodeError, DefaultNla, Nla, NlaBuffer, Parseable, parse_u8, parse_u16, parse_u16_be,
    parse_u32,
};

use super::StatsAttr;
use super::attr::{InetAddr, write_u32};
use super::constants::*;
use super::stats::{parse_stats, stats_emit, stats_len};

/// One destination attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DestAttr {
    /// `IPVS_DEST_ATTR_ADDR`: real server address.
    Addr(InetAddr),
    /// `IPVS_DEST_ATTR_PORT`: real server port (network byte order on the wire).
    Port(u16),
    /// `IPVS_DEST_ATTR_FWD_METHOD`: `IP_VS_CONN_F_*` forwarding method.
    FwdMethod(u32),
    /// `IPVS_DEST_ATTR_WEIGHT`: weight.
    Weight(u32),
    /// `IPVS_DEST_ATTR_U_THRESH`: upper connection threshold (0 = none).
    UThresh(u32),
    /// `IPVS_DEST_ATTR_L_THRESH`: lower connection threshold.
    LThresh(u32),
    /// `IPVS_DEST_ATTR_ACTIVE_CONNS`: active connections.
    ActiveConns(u32),
    /// `IPVS_DEST_ATTR_INACT_CONNS`: inactive connections.
    InactConns(u32),
    /// `IPVS_DEST_ATTR_PERSIST_CONNS`: persistent connection templates.
    PersistConns(u32),
    /// `IPVS_DEST_ATTR_STATS`: 32-bit statistics.
    Stats(Vec<StatsAttr>),
    /// `IPVS_DEST_ATTR_ADDR_FAMILY`: family of the address (may differ from the service's for tunnels).
    AddrFamily(u16),
    /// `IPVS_DEST_ATTR_STATS64`: 64-bit statistics.
    Stats64(Vec<StatsAttr>),
    /// `IPVS_DEST_ATTR_TUN_TYPE`: tunnel type (`IP_VS_CONN_F_TUNNEL_TYPE_*`).
    TunType(u8),
    /// `IPVS_DEST_ATTR_TUN_PORT`: tunnel port (network byte order on the wire).
    TunPort(u16),
    /// `IPVS_DEST_ATTR_TUN_FLAGS`: tunnel flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`).
    TunFlags(u16),
    /// An attribute this crate does not know.
    Other(DefaultNla),
}

impl DestAttr {
    /// Parse one destination attribute.
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        match DestAttr::parse_known(buf.kind(), buf.value())? {
            Some(attr) => Ok(attr),
            None => Ok(DestAttr::Other(DefaultNla::parse(buf)?)),
        }
    }

    /// Parse an attribute of a kind this crate knows; `None` for the others
    /// (which [`DestAttr::parse`] keeps as `Other`, and never fails on).
    pub(crate) fn parse_known(kind: u16, v: &[u8]) -> Result<Option<Self>, DecodeError> {
        Ok(Some(match kind {
            IPVS_DEST_ATTR_ADDR => DestAttr::Addr(InetAddr::parse(v)?),
            IPVS_DEST_ATTR_PORT => DestAttr::Port(parse_u16_be(v)?),
            IPVS_DEST_ATTR_FWD_METHOD => DestAttr::FwdMethod(parse_u32(v)?),
            IPVS_DEST_ATTR_WEIGHT => DestAttr::Weight(parse_u32(v)?),
            IPVS_DEST_ATTR_U_THRESH => DestAttr::UThresh(parse_u32(v)?),
            IPVS_DEST_ATTR_L_THRESH => DestAttr::LThresh(parse_u32(v)?),
            IPVS_DEST_ATTR_ACTIVE_CONNS => DestAttr::ActiveConns(parse_u32(v)?),
            IPVS_DEST_ATTR_INACT_CONNS => DestAttr::InactConns(parse_u32(v)?),
            IPVS_DEST_ATTR_PERSIST_CONNS => DestAttr::PersistConns(parse_u32(v)?),
            IPVS_DEST_ATTR_STATS => DestAttr::Stats(parse_stats(v, "IPVS_DEST_ATTR_STATS")?),
            IPVS_DEST_ATTR_ADDR_FAMILY => DestAttr::AddrFamily(parse_u16(v)?),
            IPVS_DEST_ATTR_STATS64 => DestAttr::Stats64(parse_stats(v, "IPVS_DEST_ATTR_STATS64")?),
            IPVS_DEST_ATTR_TUN_TYPE => DestAttr::TunType(parse_u8(v)?),
            IPVS_DEST_ATTR_TUN_PORT => DestAttr::TunPort(parse_u16_be(v)?),
            IPVS_DEST_ATTR_TUN_FLAGS => DestAttr::TunFlags(parse_u16(v)?),
            _ => return Ok(None),
        }))
    }
}

impl Nla for DestAttr {
    fn value_len(&self) -> usize {
        match self {
            DestAttr::Addr(_) => 16,
            DestAttr::Port(_)
            | DestAttr::AddrFamily(_)
            | DestAttr::TunPort(_)
            | DestAttr::TunFlags(_) => 2,
            DestAttr::TunType(_) => 1,
            DestAttr::FwdMethod(_)
            | DestAttr::Weight(_)
            | DestAttr::UThresh(_)
            | DestAttr::LThresh(_)
            | DestAttr::ActiveConns(_)
            | DestAttr::InactConns(_)
            | DestAttr::PersistConns(_) => 4,
            DestAttr::Stats(s) => stats_len(s, false),
            DestAttr::Stats64(s) => stats_len(s, true),
            DestAttr::Other(nla) => nla.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            DestAttr::Addr(_) => IPVS_DEST_ATTR_ADDR,
            DestAttr::Port(_) => IPVS_DEST_ATTR_PORT,
            DestAttr::FwdMethod(_) => IPVS_DEST_ATTR_FWD_METHOD,
            DestAttr::Weight(_) => IPVS_DEST_ATTR_WEIGHT,
            DestAttr::UThresh(_) => IPVS_DEST_ATTR_U_THRESH,
            DestAttr::LThresh(_) => IPVS_DEST_ATTR_L_THRESH,
            DestAttr::ActiveConns(_) => IPVS_DEST_ATTR_ACTIVE_CONNS,
            DestAttr::InactConns(_) => IPVS_DEST_ATTR_INACT_CONNS,
            DestAttr::PersistConns(_) => IPVS_DEST_ATTR_PERSIST_CONNS,
            DestAttr::Stats(_) => IPVS_DEST_ATTR_STATS,
            DestAttr::AddrFamily(_) => IPVS_DEST_ATTR_ADDR_FAMILY,
            DestAttr::Stats64(_) => IPVS_DEST_ATTR_STATS64,
            DestAttr::TunType(_) => IPVS_DEST_ATTR_TUN_TYPE,
            DestAttr::TunPort(_) => IPVS_DEST_ATTR_TUN_PORT,
            DestAttr::TunFlags(_) => IPVS_DEST_ATTR_TUN_FLAGS,
            DestAttr::Other(nla) => nla.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            DestAttr::Addr(a) => buffer[..16].copy_from_slice(&a.0),
            DestAttr::Port(v) | DestAttr::TunPort(v) => {
                buffer[..2].copy_from_slice(&v.to_be_bytes())
            }
            DestAttr::AddrFamily(v) | DestAttr::TunFlags(v) => {
                buffer[..2].copy_from_slice(&v.to_ne_bytes())
            }
            DestAttr::TunType(v) => buffer[0] = *v,
            DestAttr::FwdMethod(v)
            | DestAttr::Weight(v)
            | DestAttr::UThresh(v)
            | DestAttr::LThresh(v)
            | DestAttr::ActiveConns(v)
            | DestAttr::InactConns(v)
            | DestAttr::PersistConns(v) => write_u32(buffer, *v),
            DestAttr::Stats(s) => stats_emit(s, false, buffer),
            DestAttr::Stats64(s) => stats_emit(s, true, buffer),
            DestAttr::Other(nla) => nla.emit_value(buffer),
        }
    }
}
