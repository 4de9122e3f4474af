//! Receive dispatch: a packet from a channel goes to the instance of that channel with its
//! VRID (and, when several share the VRID, the matching group or unicast peer). Packets no
//! instance can take are counted here; everything else is counted by the instance.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rk_vrrp_proto::packet::Header;
use rk_vrrp_proto::{Delivery, StateKind, decode, peek};

use super::Driver;
use crate::sockets::RxPacket;

/// At most one "dropped advert" warning per instance per this period; the rest are
/// summed into the next one (a flood must not flood the log).
const DROP_LOG_PERIOD: Duration = Duration::from_secs(10);

impl Driver {
    pub(super) fn on_packet(&mut self, pkt: RxPacket) {
        let Some(key) = self
            .channels
            .iter()
            .find(|(_, (id, _))| *id == pkt.channel)
            .map(|(k, _)| k.clone())
        else {
            // From a channel closed since.
            return;
        };
        if pkt.at < self.started + self.startup_delay {
            self.ignored_startup += 1;
            return;
        }
        let hdr = match peek(&pkt.bytes, &pkt.meta) {
            Ok(h) => h,
            Err(e) => {
                self.unmatched.record(&e);
                return;
            }
        };
        let candidates: Vec<usize> = (0..self.insts.len())
            .filter(|&i| self.insts[i].spec.proto.vrid == hdr.vrid && self.channel_key(i) == key)
            .collect();
        let Some(i) = pick(&self.insts, &candidates, &hdr) else {
            self.unknown_vrid += 1;
            if self.log_unknown_vrids && self.rate_ok_unknown(pkt.at) {
                tracing::info!(
                    "advert for unknown VRID {} from {} on {}",
                    hdr.vrid,
                    hdr.src,
                    key.ifname
                );
            }
            return;
        };
        let inst = &mut self.insts[i];
        if inst.spec.owner_ignore_adverts {
            inst.stats.ignored_owner += 1;
            return;
        }
        let before = inst.vi.counters().decode.total();
        let state_before = inst.vi.state();
        // The driver's clock, not the read time: inputs reach the state machine in order.
        inst.vi.handle_packet(Instant::now(), &pkt.bytes, &pkt.meta);
        if inst.vi.counters().decode.total() > before {
            inst.drops_unlogged += 1;
            let due = inst
                .last_drop_log
                .is_none_or(|t| pkt.at.duration_since(t) >= DROP_LOG_PERIOD);
            if due && matches!(state_before, StateKind::Backup | StateKind::Master) {
                let why = decode(&pkt.bytes, &pkt.meta, &inst.vi.rx_rules(hdr.src))
                    .err()
                    .map_or_else(|| "address mismatch".to_string(), |e| e.to_string());
                tracing::warn!(
                    "({}) dropped advert from {}: {why} ({} dropped since the last report)",
                    inst.spec.name,
                    hdr.src,
                    inst.drops_unlogged
                );
                inst.last_drop_log = Some(pkt.at);
                inst.drops_unlogged = 0;
            }
        }
    }

    fn rate_ok_unknown(&mut self, now: Instant) -> bool {
        let ok = self
            .last_unknown_log
            .is_none_or(|t| now.duration_since(t) >= DROP_LOG_PERIOD);
        if ok {
            self.last_unknown_log = Some(now);
        }
        ok
    }
}

/// Among instances sharing a channel and VRID: the multicast one whose group the packet
/// went to, else the unicast one that has the sender as a peer, else the first.
fn pick(insts: &[super::Inst], candidates: &[usize], hdr: &Header) -> Option<usize> {
    if candidates.len() <= 1 {
        return candidates.first().copied();
    }
    let matches = |i: &usize| match &insts[*i].spec.proto.delivery {
        Delivery::Multicast { group } => *group == hdr.dst,
        Delivery::Unicast { peers, .. } => {
            !is_multicast(&hdr.dst) && peers.iter().any(|p| p.addr == hdr.src)
        }
    };
    candidates
        .iter()
        .copied()
        .find(matches)
        .or(candidates.first().copied())
}

fn is_multicast(a: &IpAddr) -> bool {
    a.is_multicast()
}
