//! Receiving adverts: the rules an instance decodes with, and the Backup / Master receive
//! branches (RFC 9568 §6.4.2, §6.4.3; keepalived `vrrp_state_backup`,
//! `vrrp_state_master_rx`).

use std::cmp::Ordering;
use std::net::IpAddr;
use std::time::Instant;

use super::{Action, Delivery, Instance, OldUnicast, Reason, State, VipCheckMode};
use crate::packet::{
    DecodeError, PRIORITY_STOP, Received, RxChecksum, RxDelivery, RxMeta, RxRules, Version,
    VipCheck, VipMismatch, decode, peek,
};
use crate::time::skew;

impl Instance {
    /// The rules a packet from `src` is decoded with, given the instance's state.
    ///
    /// The advertised addresses are checked except, with `skip_check_adv_addr`, for adverts
    /// from the master a BACKUP already accepted (keepalived `vrrp_state_backup`); a MASTER
    /// always checks them.
    pub fn rx_rules(&self, src: IpAddr) -> RxRules<'_> {
        let skip_vips = match &self.state {
            State::Backup(b) => {
                self.cfg.skip_check_adv_addr && b.master.is_some_and(|(a, _)| a == src)
            }
            _ => false,
        };
        let vips = match (skip_vips, self.cfg.vip_check) {
            (true, _) => VipCheck::Skip,
            (false, VipCheckMode::Reject) => VipCheck::Reject(&self.cfg.vips),
            (false, VipCheckMode::CountOnly) => VipCheck::CountOnly(&self.cfg.vips),
        };
        let delivery = match &self.cfg.delivery {
            Delivery::Multicast { .. } => RxDelivery::Multicast,
            Delivery::Unicast {
                peers, check_src, ..
            } => RxDelivery::Unicast {
                peers,
                check_src: *check_src,
            },
        };
        let group = self.cfg.checksum.old_unicast_group;
        let checksum = match self.old_unicast_mode() {
            _ if self.cfg.checksum.v3_as_v2 => RxChecksum::AsV2,
            OldUnicast::Off => RxChecksum::Standard,
            OldUnicast::Detect => RxChecksum::StandardOrGroup(group),
            OldUnicast::Active => RxChecksum::Group(group),
        };
        RxRules {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            auth: self.cfg.auth,
            adver_int: self.cfg.advert_interval,
            delivery,
            vips,
            checksum,
            ah_last_seq: self.ah_seq,
        }
    }

    /// Decodes `bytes` with this instance's rules and handles the result: the whole
    /// receive path for a packet the driver dispatched here by VRID.
    ///
    /// In INIT, FAULT or after shutdown the packet is ignored before any check, as keepalived
    /// does (counted in [`crate::Counters::ignored_not_running`]).
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8], meta: &RxMeta) {
        if !matches!(self.state, State::Backup(_) | State::Master(_)) {
            self.counters.ignored_not_running += 1;
            return;
        }
        if meta.family() != self.cfg.family {
            self.counters.decode.record(&DecodeError::FamilyMismatch);
            return;
        }
        let result = peek(bytes, meta).and_then(|h| decode(bytes, meta, &self.rx_rules(h.src)));
        match result {
            Ok(rx) => self.on_advert(now, rx),
            Err(e) => self.counters.decode.record(&e),
        }
    }

    /// A decoded advert (see [`crate::Input::Advert`]).
    pub(super) fn on_advert(&mut self, now: Instant, rx: Received) {
        if !matches!(self.state, State::Backup(_) | State::Master(_)) {
            self.counters.ignored_not_running += 1;
            return;
        }
        if crate::packet::Family::of(&rx.src) != self.cfg.family {
            self.counters.decode.record(&DecodeError::FamilyMismatch);
            return;
        }
        // Anti-replay again here, in case the driver decoded several packets before
        // handing them in.
        if let Some(seq) = rx.ah_seq {
            if seq <= self.ah_seq {
                self.counters.decode.record(&DecodeError::AhReplay {
                    seq,
                    last: self.ah_seq,
                });
                return;
            }
            self.ah_seq = seq;
        }
        match rx.vip_mismatch {
            Some(VipMismatch::Count { expected, got }) => {
                self.counters
                    .decode
                    .record(&DecodeError::AddressCountMismatch { expected, got });
            }
            Some(VipMismatch::Missing(a)) => self
                .counters
                .decode
                .record(&DecodeError::AddressListMismatch(a)),
            None => {}
        }
        if rx.old_unicast_checksum {
            // keepalived switches its own sends to the peer's form, so both agree.
            self.old_unicast_detected = true;
        }
        self.counters.adverts_received += 1;
        if rx.advert.priority == PRIORITY_STOP {
            self.counters.priority_zero_received += 1;
        }
        match self.state {
            State::Backup(_) => self.backup_rx(now, &rx),
            State::Master(_) => self.master_rx(now, &rx),
            // Checked above; nothing to do in any other state.
            State::Init | State::Fault | State::Stopped => {}
        }
    }

    /// RFC 9568 §6.4.2 "If an ADVERTISEMENT is received" in Backup.
    fn backup_rx(&mut self, now: Instant, rx: &Received) {
        if self.is_holding() {
            // Resumed after a restart and someone else advertises: it is (or was) master
            // meanwhile. Become an ordinary BACKUP: release the VIPs we kept and run the
            // full down timer, so the election goes on as after a plain start.
            let full = self.full_down_interval(self.cfg.advert_interval);
            if let State::Backup(b) = &mut self.state {
                b.holding = false;
                b.down_at = now + full;
            }
            self.actions
                .push_back(Action::RemoveVips(self.cfg.all_vips()));
        }
        let version = self.cfg.version;
        let eff = self.effective_priority;
        let preempt = self.cfg.preempt;
        let delay = self.cfg.preempt_delay;
        let adverts = self.cfg.down_timer_adverts;
        let State::Backup(b) = &mut self.state else {
            return;
        };
        let prio = rx.advert.priority;
        if prio == PRIORITY_STOP {
            // "If the Priority in the ADVERTISEMENT is zero, then: Set the Master_Down_Timer
            // to Skew_Time."
            b.down_at = now + skew(version, eff, b.master_adver_int);
            b.takeover = Reason::MasterStopped;
            return;
        }
        let in_delay = !delay.is_zero() && b.preempt_deadline.is_none_or(|d| d > now);
        if !preempt || prio >= eff || in_delay {
            // "If Preempt_Mode is False, or if the Priority in the ADVERTISEMENT is greater
            // than or equal to the local Priority": Master_Adver_Interval := the advert's
            // (v3 only: v2 intervals must match), reset the Master_Down_Timer.
            // An interval of 0 would make the down timer 0 and the next timer tick a
            // takeover; such a sender is broken, so keep the interval we have.
            if version == Version::V3 && rx.advert.interval.get() > 0 {
                b.master_adver_int = rx.advert.interval;
            }
            b.down_at =
                now + crate::time::master_down_interval(version, eff, b.master_adver_int, adverts);
            b.master = Some((rx.src, prio));
            b.takeover = Reason::MasterNoResponse;
            if !delay.is_zero() {
                if prio >= eff {
                    b.preempt_deadline = None;
                } else if b.preempt_deadline.is_none() {
                    b.preempt_deadline = Some(now + delay);
                }
            }
        } else {
            // "Otherwise, discard the ADVERTISEMENT": the down timer keeps running and we
            // preempt when it fires.
            b.master = Some((rx.src, prio));
            b.takeover = Reason::Preempted;
        }
    }

    /// RFC 9568 §6.4.3 "If an ADVERTISEMENT is received" in Master.
    fn master_rx(&mut self, now: Instant, rx: &Received) {
        let eff = self.effective_priority;
        let prio = rx.advert.priority;
        let ours = self.src_addr();
        // keepalived `vrrp_saddr_cmp`: the sender's address against ours; an unknown own
        // address compares equal.
        let cmp = ours.map_or(Ordering::Equal, |o| rx.src.cmp(&o));

        if prio == PRIORITY_STOP {
            // "If the Priority in the ADVERTISEMENT is zero, then: Send an ADVERTISEMENT,
            // Reset the Adver_Timer to Advertisement_Interval."
            self.send_advert(eff);
            self.reset_adver_timer(now);
            return;
        }
        if prio == eff && cmp == Ordering::Equal {
            // Our own advert looped back, or a host using our address: nothing to elect.
            self.counters.own_address_heard += 1;
            return;
        }
        if prio > eff || (prio == eff && cmp == Ordering::Greater) {
            // "If the Priority in the ADVERTISEMENT is greater than the local Priority, or
            // … equal … and the primary IPvX Address of the sender is greater than the local
            // primary IPvX Address, then: Cancel Adver_Timer, Set Master_Adver_Interval to
            // Adver Interval contained in the ADVERTISEMENT, Recompute … Master_Down_Interval,
            // Set Master_Down_Timer …, Transition to the Backup state." Two owners (both
            // 255): the lower address yields here, deterministically; keepalived 2.2.7
            // instead demotes whichever hears the other first to 254 for good.
            if self.cfg.higher_prio_send_advert {
                self.send_advert(eff);
            }
            let mai = match self.cfg.version {
                Version::V3 if rx.advert.interval.get() > 0 => rx.advert.interval,
                _ => self.cfg.advert_interval,
            };
            self.leave_master_to_backup(now, Reason::HigherPriority, mai, Some((rx.src, prio)));
            return;
        }
        // A lower priority, or an equal one from a lower address: a second master exists
        // (split brain healing, or a backup that missed our adverts). RFC 9568 §6.4.3 only
        // says "discard"; we answer at once with an advert, so it yields now rather than
        // after a whole interval, and with a GARP burst, so switches and hosts that followed
        // its GARPs come back to us (keepalived needs `garp_lower_prio_*` /
        // `vrrp_garp_master_refresh` for this and users lose traffic: users-and-peers §1.B).
        // At most one answer per advert interval, so a flood of such adverts cannot turn us
        // into an amplifier.
        self.counters.lower_priority_heard += 1;
        if let Some(seq) = rx.ah_seq {
            // keepalived: continue above the other master's sequence.
            self.ah_seq = self.ah_seq.max(seq.saturating_add(1));
        }
        self.actions.push_back(Action::MasterRxLowerPriority {
            from: rx.src,
            priority: prio,
        });
        let adv = self.cfg.advert_interval.as_duration();
        let State::Master(m) = &mut self.state else {
            return;
        };
        if m.last_lower_prio_answer.is_some_and(|t| now < t + adv) {
            return;
        }
        m.last_lower_prio_answer = Some(now);
        let g = self.cfg.garp;
        if g.lower_prio_repeat > 0 && !g.lower_prio_delay.is_zero() {
            m.lower_prio_garp_at = Some(now + g.lower_prio_delay);
        }
        if !self.cfg.lower_prio_no_advert {
            self.send_advert(eff);
            self.reset_adver_timer(now);
        }
        self.send_garp(self.cfg.all_vips(), g.lower_prio_repeat);
    }

    fn reset_adver_timer(&mut self, now: Instant) {
        let adv = self.cfg.advert_interval.as_duration();
        if let State::Master(m) = &mut self.state {
            m.next_advert = now + adv;
        }
    }
}
