//! Statistics attributes (`IPVS_STATS_ATTR_*`), nested in services and destinations.
//!
//! The same numbering is used twice: `IPVS_*_ATTR_STATS` carries 32-bit
//! counters except the byte counters, `IPVS_*_ATTR_STATS64` carries 64-bit
//! counters only. Values are held as `u64` and written back with the width of
//! the nest they belong to.

use netlink_packet_core::{DecodeError, DefaultNla, Emitable, Nla, NlaBuffer, Parseable};

use super::constants::*;
use super::parse_nested;

/// One statistics counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatsAttr {
    /// `IPVS_STATS_ATTR_CONNS`: connections scheduled.
    Conns(u64),
    /// `IPVS_STATS_ATTR_INPKTS`: incoming packets.
    InPkts(u64),
    /// `IPVS_STATS_ATTR_OUTPKTS`: outgoing packets.
    OutPkts(u64),
    /// `IPVS_STATS_ATTR_INBYTES`: incoming bytes.
    InBytes(u64),
    /// `IPVS_STATS_ATTR_OUTBYTES`: outgoing bytes.
    OutBytes(u64),
    /// `IPVS_STATS_ATTR_CPS`: current connection rate.
    Cps(u64),
    /// `IPVS_STATS_ATTR_INPPS`: current incoming packet rate.
    InPps(u64),
    /// `IPVS_STATS_ATTR_OUTPPS`: current outgoing packet rate.
    OutPps(u64),
    /// `IPVS_STATS_ATTR_INBPS`: current incoming byte rate.
    InBps(u64),
    /// `IPVS_STATS_ATTR_OUTBPS`: current outgoing byte rate.
    OutBps(u64),
    /// An attribute this crate does not know (including `IPVS_STATS_ATTR_PAD`).
    Other(DefaultNla),
}

impl StatsAttr {
    /// Parse one counter; its width comes from the attribute length.
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        match StatsAttr::parse_known(buf.kind(), buf.value())? {
            Some(attr) => Ok(attr),
            None => Ok(StatsAttr::Other(DefaultNla::parse(buf)?)),
        }
    }

    /// Parse a counter of a kind this crate knows; `None` for the others
    /// (which [`StatsAttr::parse`] keeps as `Other`, and never fails on).
    pub(crate) fn parse_known(kind: u16, v: &[u8]) -> Result<Option<Self>, DecodeError> {
        if !(IPVS_STATS_ATTR_CONNS..=IPVS_STATS_ATTR_OUTBPS).contains(&kind) {
            return Ok(None);
        }
        let n = match v.len() {
            4 => u64::from(u32::from_ne_bytes([v[0], v[1], v[2], v[3]])),
            8 => u64::from_ne_bytes([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]]),
            len => return Err(DecodeError::invalid_number(8, len)),
        };
        Ok(Some(match kind {
            IPVS_STATS_ATTR_CONNS => StatsAttr::Conns(n),
            IPVS_STATS_ATTR_INPKTS => StatsAttr::InPkts(n),
            IPVS_STATS_ATTR_OUTPKTS => StatsAttr::OutPkts(n),
            IPVS_STATS_ATTR_INBYTES => StatsAttr::InBytes(n),
            IPVS_STATS_ATTR_OUTBYTES => StatsAttr::OutBytes(n),
            IPVS_STATS_ATTR_CPS => StatsAttr::Cps(n),
            IPVS_STATS_ATTR_INPPS => StatsAttr::InPps(n),
            IPVS_STATS_ATTR_OUTPPS => StatsAttr::OutPps(n),
            IPVS_STATS_ATTR_INBPS => StatsAttr::InBps(n),
            _ => StatsAttr::OutBps(n),
        }))
    }

    fn kind_and_value(&self) -> Option<(u16, u64)> {
        Some(match self {
            StatsAttr::Conns(v) => (IPVS_STATS_ATTR_CONNS, *v),
            StatsAttr::InPkts(v) => (IPVS_STATS_ATTR_INPKTS, *v),
            StatsAttr::OutPkts(v) => (IPVS_STATS_ATTR_OUTPKTS, *v),
            StatsAttr::InBytes(v) => (IPVS_STATS_ATTR_INBYTES, *v),
            StatsAttr::OutBytes(v) => (IPVS_STATS_ATTR_OUTBYTES, *v),
            StatsAttr::Cps(v) => (IPVS_STATS_ATTR_CPS, *v),
            StatsAttr::InPps(v) => (IPVS_STATS_ATTR_INPPS, *v),
            StatsAttr::OutPps(v) => (IPVS_STATS_ATTR_OUTPPS, *v),
            StatsAttr::InBps(v) => (IPVS_STATS_ATTR_INBPS, *v),
            StatsAttr::OutBps(v) => (IPVS_STATS_ATTR_OUTBPS, *v),
            StatsAttr::Other(_) => return None,
        })
    }
}

/// A counter with the width of the nest it is written into.
struct Sized<'a> {
    attr: &'a StatsAttr,
    wide: bool,
}

impl Sized<'_> {
    fn is_u64(&self) -> bool {
        match self.attr {
            StatsAttr::InBytes(_) | StatsAttr::OutBytes(_) => true,
            _ => self.wide,
        }
    }
}

impl Nla for Sized<'_> {
    fn value_len(&self) -> usize {
        match self.attr {
            StatsAttr::Other(nla) => nla.value_len(),
            _ if self.is_u64() => 8,
            _ => 4,
        }
    }

    fn kind(&self) -> u16 {
        match (self.attr, self.attr.kind_and_value()) {
            (StatsAttr::Other(nla), _) => nla.kind(),
            (_, Some((kind, _))) => kind,
            (_, None) => 0,
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match (self.attr, self.attr.kind_and_value()) {
            (StatsAttr::Other(nla), _) => nla.emit_value(buffer),
            (_, Some((_, v))) if self.is_u64() => buffer[..8].copy_from_slice(&v.to_ne_bytes()),
            // Truncation is what the kernel does for the 32-bit nest too.
            (_, Some((_, v))) => buffer[..4].copy_from_slice(&(v as u32).to_ne_bytes()),
            (_, None) => {}
        }
    }
}

/// Parse a stats nest.
pub(crate) fn parse_stats(buf: &[u8], what: &'static str) -> Result<Vec<StatsAttr>, DecodeError> {
    parse_nested(buf, what, StatsAttr::parse)
}

/// Length of a stats nest's value.
pub(crate) fn stats_len(attrs: &[StatsAttr], wide: bool) -> usize {
    attrs
        .iter()
        .map(|attr| Sized { attr, wide }.buffer_len())
        .sum()
}

/// Write a stats nest's value.
pub(crate) fn stats_emit(attrs: &[StatsAttr], wide: bool, buffer: &mut [u8]) {
    let mut at = 0;
    for attr in attrs {
        let nla = Sized { attr, wide };
        let len = nla.buffer_len();
        nla.emit(&mut buffer[at..at + len]);
        at += len;
    }
}
