//! Traffic statistics.

use crate::codec::StatsAttr;

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
    /// Collect counters from a stats nest; unknown counters are ignored.
    pub fn from_attrs(attrs: &[StatsAttr]) -> Stats {
        let mut s = Stats::default();
        for a in attrs {
            match *a {
                StatsAttr::Conns(v) => s.conns = v,
                StatsAttr::InPkts(v) => s.inpkts = v,
                StatsAttr::OutPkts(v) => s.outpkts = v,
                StatsAttr::InBytes(v) => s.inbytes = v,
                StatsAttr::OutBytes(v) => s.outbytes = v,
                StatsAttr::Cps(v) => s.cps = v,
                StatsAttr::InPps(v) => s.inpps = v,
                StatsAttr::OutPps(v) => s.outpps = v,
                StatsAttr::InBps(v) => s.inbps = v,
                StatsAttr::OutBps(v) => s.outbps = v,
                StatsAttr::Other(_) => {}
            }
        }
        s
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
