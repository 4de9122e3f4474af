//! Traffic statistics.

use netlink_packet_core::DecodeError;

use crate::codec::{StatsAttr, walk};

/// Counters and rates of a service or destination (`struct ip_vs_kstats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    /// Connections scheduled.
    pub conns: u64,
    /// Incoming packets.
    pub inpkts: u64,
    /// Outgoing packets.
    pub outpkts: u64,
    /// Incoming bytes.
    pub inbytes: u64,
    /// Outgoing bytes.
    pub outbytes: u64,
    /// Current connection rate.
    pub cps: u64,
    /// Current incoming packet rate.
    pub inpps: u64,
    /// Current outgoing packet rate.
    pub outpps: u64,
    /// Current incoming byte rate.
    pub inbps: u64,
    /// Current outgoing byte rate.
    pub outbps: u64,
}

impl Stats {
    /// Collect counters from a stats nest; unknown counters are ignored
    /// and a repeated counter overrides the earlier one.
    pub fn from_attrs(attrs: &[StatsAttr]) -> Stats {
        let mut s = Stats::default();
        for a in attrs {
            s.apply(a);
        }
        s
    }

    /// Set the counter `a` carries.
    fn apply(&mut self, a: &StatsAttr) {
        match *a {
            StatsAttr::Conns(v) => self.conns = v,
            StatsAttr::InPkts(v) => self.inpkts = v,
            StatsAttr::OutPkts(v) => self.outpkts = v,
            StatsAttr::InBytes(v) => self.inbytes = v,
            StatsAttr::OutBytes(v) => self.outbytes = v,
            StatsAttr::Cps(v) => self.cps = v,
            StatsAttr::InPps(v) => self.inpps = v,
            StatsAttr::OutPps(v) => self.outpps = v,
            StatsAttr::InBps(v) => self.inbps = v,
            StatsAttr::OutBps(v) => self.outbps = v,
            StatsAttr::Other(_) => {}
        }
    }

    /// Read a stats nest straight from its bytes: what
    /// `Stats::from_attrs(&parse_stats(nest)?)` gives, same validation,
    /// without collecting the attributes first (the dump reads two such
    /// nests per service and per destination).
    pub(crate) fn decode_nest(nest: &[u8]) -> Result<Stats, DecodeError> {
        let mut s = Stats::default();
        for a in walk(nest) {
            let a = a?;
            // Unknown counters (e.g. IPVS_STATS_ATTR_PAD) would parse as
            // `Other`, which never fails and is ignored: skip the copy.
            if let Some(counter) = StatsAttr::parse_known(a.kind, a.value)? {
                s.apply(&counter);
            }
        }
        Ok(s)
    }

    /// The counters as a stats nest, in the kernel's order.
    pub fn to_attrs(&self) -> Vec<StatsAttr> {
        vec![
            StatsAttr::Conns(self.conns),
            StatsAttr::InPkts(self.inpkts),
            StatsAttr::OutPkts(self.outpkts),
            StatsAttr::InBytes(self.inbytes),
            StatsAttr::OutBytes(self.outbytes),
            StatsAttr::Cps(self.cps),
            StatsAttr::InPps(self.inpps),
            StatsAttr::OutPps(self.outpps),
            StatsAttr::InBps(self.inbps),
            StatsAttr::OutBps(self.outbps),
        ]
    }
}
