//! The sans-IO instance state machine (RFC 3768 §6, RFC 9568 §6, keepalived's `vrrp.c` /
//! `vrrp_scheduler.c` semantics).
//!
//! Driving it, in the shape of quinn-proto: feed [`Input`]s with [`Instance::handle`] (the
//! caller passes `now`), drain [`Action`]s with [`Instance::poll_action`], and sleep until
//! [`Instance::poll_timeout`] before handing in [`Input::Timer`].

mod config;
mod io;
mod reload;
mod rx;

pub use config::{
    ChecksumConfig, ConfigError, Delivery, GarpConfig, InstanceConfig, MAX_GARP_DELAY,
    MAX_PREEMPT_DELAY, OldUnicastChecksum, UnicastPeer, VipCheckMode,
};
pub use io::{Action, FaultSource, Input, Reason, StateKind, SyncCommand, TrackerId};
pub use reload::ReloadError;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use crate::auth::Auth;
use crate::counters::Counters;
use crate::packet::{
    Advert, Family, PRIORITY_OWNER, PRIORITY_STOP, Transmit, TxAuth, TxChecksum, Version,
};
use crate::time::{Centisecs, master_down_interval, skew};

/// Use of keepalived ≤ 1.3.5's VRRPv3 unicast checksum form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OldUnicast {
    /// Not applicable or disabled.
    Off,
    /// Standard form; accept the old one and switch to it if a peer uses it.
    Detect,
    /// Old form.
    Active,
}

/// The instance's state; each variant carries the data that only exists in it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// RFC 9568 §6.4.1: waiting for the Startup event.
    Init,
    /// RFC 9568 §6.4.2.
    Backup(Backup),
    /// RFC 9568 §6.4.3.
    Master(Master),
    /// keepalived's FAULT: no adverts sent or processed; the reasons are in
    /// [`Instance::faults`].
    Fault,
    /// After [`Input::Shutdown`]: inert.
    Stopped,
}

/// Data of the Backup state.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Backup {
    /// When the Master_Down_Timer fires.
    down_at: Instant,
    /// Master_Adver_Interval: ours in v2; in v3 learned from the accepted master's adverts
    /// (RFC 9568 §6.4.2) and reset to ours on entering Backup.
    master_adver_int: Centisecs,
    /// Address and priority of the master whose advert we last accepted.
    master: Option<(IpAddr, u8)>,
    /// `preempt_delay`: until then, a lower-priority master's adverts are still accepted.
    preempt_deadline: Option<Instant>,
    /// What will have happened if the down timer fires.
    takeover: Reason,
    /// Resumed after a restart ([`Input::Resume`]): the VIPs are still on the interfaces
    /// and no advert has been heard yet.
    holding: bool,
}

/// Data of the Master state.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Master {
    /// When the Adver_Timer fires.
    next_advert: Instant,
    /// The second GARP burst after becoming MASTER (`garp_master_delay`).
    garp_burst_at: Option<Instant>,
    /// The next refresh burst (`garp_master_refresh`).
    garp_refresh_at: Option<Instant>,
    /// The second burst after hearing a lower priority (`garp_lower_prio_delay`).
    lower_prio_garp_at: Option<Instant>,
    /// Last answer (advert + GARP) to a lower-priority master, to answer at most once per
    /// advert interval whatever the number of such adverts.
    last_lower_prio_answer: Option<Instant>,
}

/// One VRRP instance: configuration, state, trackers, counters, pending actions.
#[derive(Debug)]
pub struct Instance {
    cfg: InstanceConfig,
    state: State,
    effective_priority: u8,
    adjustments: BTreeMap<TrackerId, i32>,
    faults: BTreeSet<FaultSource>,
    iface_addr: Option<IpAddr>,
    /// AH sequence number: highest sent or accepted (keepalived keeps one counter for both,
    /// so a new master continues above the sequence of the master it replaces).
    ah_seq: u32,
    ip_id: u16,
    /// A peer's adverts only verified in keepalived ≤ 1.3.5's unicast checksum form.
    old_unicast_detected: bool,
    actions: VecDeque<Action>,
    counters: Counters,
}

impl Instance {
    /// A new instance in INIT. Nothing happens until [`Input::Start`].
    pub fn new(cfg: InstanceConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let mut i = Instance {
            effective_priority: cfg.priority,
            cfg,
            state: State::Init,
            adjustments: BTreeMap::new(),
            faults: BTreeSet::new(),
            iface_addr: None,
            ah_seq: 0,
            ip_id: 0,
            old_unicast_detected: false,
            actions: VecDeque::new(),
            counters: Counters::default(),
        };
        i.effective_priority = i.compute_priority();
        Ok(i)
    }

    /// The configuration.
    pub fn config(&self) -> &InstanceConfig {
        &self.cfg
    }

    /// The current state.
    pub fn state(&self) -> StateKind {
        match self.state {
            State::Init => StateKind::Init,
            State::Backup(_) => StateKind::Backup,
            State::Master(_) => StateKind::Master,
            State::Fault => StateKind::Fault,
            State::Stopped => StateKind::Stopped,
        }
    }

    /// Effective priority: base + tracker adjustments clamped to 1..=254; 255 for an owner.
    pub fn effective_priority(&self) -> u8 {
        self.effective_priority
    }

    /// Master_Adver_Interval while BACKUP (learned from the master in v3).
    pub fn master_adver_int(&self) -> Option<Centisecs> {
        match &self.state {
            State::Backup(b) => Some(b.master_adver_int),
            _ => None,
        }
    }

    /// Address and priority of the master last accepted while BACKUP.
    pub fn master(&self) -> Option<(IpAddr, u8)> {
        match &self.state {
            State::Backup(b) => b.master,
            _ => None,
        }
    }

    /// Active fault sources.
    pub fn faults(&self) -> impl Iterator<Item = FaultSource> + '_ {
        self.faults.iter().copied()
    }

    /// Counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The source address adverts carry: the configured one, else the interface's.
    pub fn src_addr(&self) -> Option<IpAddr> {
        self.cfg.src_addr.or(self.iface_addr)
    }

    /// Whether the instance is a resumed BACKUP still holding its VIPs ([`Input::Resume`]).
    pub fn is_holding(&self) -> bool {
        matches!(self.state, State::Backup(Backup { holding: true, .. }))
    }

    /// The next action for the driver, in the order they must be carried out.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The earliest deadline at which [`Input::Timer`] must be handed in.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Backup(b) => Some(b.down_at),
            State::Master(m) => [
                Some(m.next_advert),
                m.garp_burst_at,
                m.garp_refresh_at,
                m.lower_prio_garp_at,
            ]
            .into_iter()
            .flatten()
            .min(),
            State::Init | State::Fault | State::Stopped => None,
        }
    }

    /// Handles one input at time `now`.
    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::Start => self.start(now, false),
            Input::Resume => self.start(now, true),
            Input::Advert(rx) => self.on_advert(now, *rx),
            Input::DecodeError(e) => self.counters.decode.record(&e),
            Input::Timer => self.on_timer(now),
            Input::InterfaceUp => {
                if self.cfg.track_interface {
                    self.set_fault(now, FaultSource::Interface, false);
                }
            }
            Input::InterfaceDown => {
                if self.cfg.track_interface {
                    self.set_fault(now, FaultSource::Interface, true);
                }
            }
            Input::InterfaceAddress(a) => {
                self.iface_addr = a.filter(|a| Family::of(a) == self.cfg.family)
            }
            Input::PriorityAdjustment { tracker, delta } => {
                if delta == 0 {
                    self.adjustments.remove(&tracker);
                } else {
                    self.adjustments.insert(tracker, delta);
                }
                self.update_priority();
            }
            Input::Fault { source, active } => self.set_fault(now, source, active),
            Input::Sync(cmd) => self.on_sync(now, cmd),
            Input::VipsLost => self.on_vips_lost(now),
            Input::Shutdown => self.shutdown(),
        }
    }

    // ---- priority ---------------------------------------------------------------------

    /// keepalived `vrrp_set_effective_priority`: an owner never changes; others are
    /// base + Σ adjustments clamped to 1..=254 (keepalived §3.10).
    fn compute_priority(&self) -> u8 {
        if self.cfg.is_owner() {
            return PRIORITY_OWNER;
        }
        let total = i64::from(self.cfg.priority)
            + self
                .adjustments
                .values()
                .map(|d| i64::from(*d))
                .sum::<i64>();
        // Clamped to 1..=254, so the conversion cannot fail.
        u8::try_from(total.clamp(1, i64::from(PRIORITY_OWNER - 1))).unwrap_or(1)
    }

    /// Recomputes the effective priority. A BACKUP's pending down timer is moved by the
    /// change in skew (keepalived re-scales `sands`); a MASTER's next periodic advert
    /// carries the new value (no immediate advert, keepalived §3.10).
    fn update_priority(&mut self) {
        let old = self.effective_priority;
        let new = self.compute_priority();
        if old == new {
            return;
        }
        if let State::Backup(b) = &mut self.state {
            let v = self.cfg.version;
            let old_skew = skew(v, old, b.master_adver_int);
            let new_skew = skew(v, new, b.master_adver_int);
            b.down_at = if new_skew > old_skew {
                b.down_at + (new_skew - old_skew)
            } else {
                b.down_at
                    .checked_sub(old_skew - new_skew)
                    .unwrap_or(b.down_at)
            };
        }
        self.effective_priority = new;
        self.actions
            .push_back(Action::PriorityChanged { from: old, to: new });
    }

    // ---- timers -----------------------------------------------------------------------

    fn full_down_interval(&self, master_adver_int: Centisecs) -> Duration {
        master_down_interval(
            self.cfg.version,
            self.effective_priority,
            master_adver_int,
            self.cfg.down_timer_adverts,
        )
    }

    fn on_timer(&mut self, now: Instant) {
        match &mut self.state {
            State::Backup(b) => {
                if now < b.down_at {
                    return;
                }
                // RFC 9568 §6.4.2: "If the Master_Down_Timer fires" → Master.
                if self.cfg.sync_member {
                    // keepalived `vrrp_sync_can_goto_master`: re-arm and wait for the group.
                    b.down_at = now
                        + master_down_interval(
                            self.cfg.version,
                            self.effective_priority,
                            b.master_adver_int,
                            self.cfg.down_timer_adverts,
                        );
                    self.actions.push_back(Action::WantMaster);
                    return;
                }
                let reason = b.takeover;
                self.become_master(now, StateKind::Backup, reason);
            }
            State::Master(m) => {
                let adv = self.cfg.advert_interval.as_duration();
                let mut send = false;
                let mut garp_repeats = Vec::new();
                // RFC 9568 §6.4.3: "If the Adver_Timer fires": send, reset the timer.
                if now >= m.next_advert {
                    send = true;
                    // Keep the period anchored to the schedule rather than to when we were
                    // woken, unless we fell a whole interval behind.
                    m.next_advert += adv;
                    if m.next_advert <= now {
                        m.next_advert = now + adv;
                    }
                }
                if m.garp_burst_at.is_some_and(|t| now >= t) {
                    m.garp_burst_at = None;
                    garp_repeats.push(self.cfg.garp.master_repeat);
                }
                if let (Some(t), Some(period)) = (m.garp_refresh_at, self.cfg.garp.refresh)
                    && now >= t
                {
                    m.garp_refresh_at = Some(now + period);
                    garp_repeats.push(self.cfg.garp.refresh_repeat);
                }
                if m.lower_prio_garp_at.is_some_and(|t| now >= t) {
                    m.lower_prio_garp_at = None;
                    garp_repeats.push(self.cfg.garp.lower_prio_repeat);
                }
                if send {
                    self.send_advert(self.effective_priority);
                }
                for repeat in garp_repeats {
                    self.send_garp(self.cfg.all_vips(), repeat);
                }
            }
            State::Init | State::Fault | State::Stopped => {}
        }
    }

    // ---- transitions ------------------------------------------------------------------

    /// RFC 9568 §6.4.1 (Initialize) with keepalived's `vrrp_init_state`; `resume`: see
    /// [`Input::Resume`].
    fn start(&mut self, now: Instant, resume: bool) {
        if self.state != State::Init {
            return;
        }
        if !self.faults.is_empty() {
            // Addresses left behind by a previous run are released.
            self.actions
                .push_back(Action::RemoveVips(self.cfg.all_vips()));
            self.state = State::Fault;
            self.notify(StateKind::Init, StateKind::Fault, Reason::Startup);
        } else if self.owner_wants_master() {
            // §6.4.1: "If the Priority = 255 … transition to the Master state".
            self.become_master(now, StateKind::Init, Reason::Owner);
        } else if resume {
            // One interval (plus skew) is enough to hear any live master; waiting the full
            // Master_Down_Interval would let the peer's timer, running since our last
            // advert, fire first and take the VIPs over.
            let mai = self.cfg.advert_interval;
            let wait = mai.as_duration() + skew(self.cfg.version, self.effective_priority, mai);
            self.state = State::Backup(Backup {
                down_at: now + wait,
                master_adver_int: mai,
                master: None,
                preempt_deadline: None,
                takeover: Reason::MasterNoResponse,
                holding: true,
            });
            self.notify(StateKind::Init, StateKind::Backup, Reason::Startup);
        } else {
            // §6.4.1: otherwise Master_Down_Timer = Master_Down_Interval → Backup. A non-owner
            // with `state MASTER` waits out the down timer too, exactly as keepalived.
            self.actions
                .push_back(Action::RemoveVips(self.cfg.all_vips()));
            self.enter_backup(now, StateKind::Init, Reason::Startup);
        }
    }

    fn owner_wants_master(&self) -> bool {
        self.cfg.is_owner() && self.cfg.wants_master && !self.cfg.sync_member
    }

    /// Enters Backup with Master_Adver_Interval = Advertisement_Interval and a full down
    /// timer (RFC 9568 §6.4.1, §6.4.3 "transition to the Backup state").
    fn enter_backup(&mut self, now: Instant, from: StateKind, reason: Reason) {
        let mai = self.cfg.advert_interval;
        self.enter_backup_with(now, from, reason, mai, None);
    }

    fn enter_backup_with(
        &mut self,
        now: Instant,
        from: StateKind,
        reason: Reason,
        master_adver_int: Centisecs,
        master: Option<(IpAddr, u8)>,
    ) {
        self.state = State::Backup(Backup {
            down_at: now + self.full_down_interval(master_adver_int),
            master_adver_int,
            master,
            preempt_deadline: None,
            takeover: Reason::MasterNoResponse,
            holding: false,
        });
        self.notify(from, StateKind::Backup, reason);
    }

    /// Becoming MASTER, in keepalived's order (`vrrp_state_master_tx` →
    /// `vrrp_state_become_master`): the advert first so the old master releases the
    /// addresses before our GARPs, then the addresses, the GARP burst, the notice.
    fn become_master(&mut self, now: Instant, from: StateKind, reason: Reason) {
        let g = self.cfg.garp;
        self.send_advert(self.effective_priority);
        self.actions.push_back(Action::AddVips(self.cfg.all_vips()));
        self.send_garp(self.cfg.all_vips(), g.master_repeat);
        let second =
            (!g.master_delay.is_zero() && g.master_repeat > 0).then(|| now + g.master_delay);
        self.state = State::Master(Master {
            next_advert: now + self.cfg.advert_interval.as_duration(),
            garp_burst_at: second,
            garp_refresh_at: g.refresh.filter(|r| !r.is_zero()).map(|r| now + r),
            lower_prio_garp_at: None,
            last_lower_prio_answer: None,
        });
        self.counters.became_master += 1;
        self.notify(from, StateKind::Master, reason);
    }

    /// MASTER → BACKUP (higher priority heard, or the sync group): no priority-0 advert
    /// (RFC 9568 §6.4.3; keepalived `vrrp_state_leave_master` to BACKUP).
    fn leave_master_to_backup(
        &mut self,
        now: Instant,
        reason: Reason,
        master_adver_int: Centisecs,
        master: Option<(IpAddr, u8)>,
    ) {
        self.actions
            .push_back(Action::RemoveVips(self.cfg.all_vips()));
        self.counters.released_master += 1;
        self.enter_backup_with(now, StateKind::Master, reason, master_adver_int, master);
    }

    fn set_fault(&mut self, now: Instant, source: FaultSource, active: bool) {
        let was_faulty = !self.faults.is_empty();
        if active {
            self.faults.insert(source);
        } else {
            self.faults.remove(&source);
        }
        let faulty = !self.faults.is_empty();
        match (was_faulty, faulty, &self.state) {
            (false, true, State::Backup(_) | State::Master(_)) => self.enter_fault(),
            (true, false, State::Fault) => self.leave_fault(now),
            // INIT records the flags for Start; FAULT stays while any source is active;
            // a stopped instance ignores everything.
            _ => {}
        }
    }

    /// keepalived `down_instance`: a MASTER sends priority 0 (twice: `leave_master` and
    /// `restore_interface` each send one) and releases its addresses.
    fn enter_fault(&mut self) {
        let from = self.state();
        if from == StateKind::Master {
            self.send_advert(PRIORITY_STOP);
            self.send_advert(PRIORITY_STOP);
            self.actions
                .push_back(Action::RemoveVips(self.cfg.all_vips()));
            self.counters.released_master += 1;
        } else if self.is_holding() {
            self.actions
                .push_back(Action::RemoveVips(self.cfg.all_vips()));
        }
        self.state = State::Fault;
        self.notify(from, StateKind::Fault, Reason::Fault);
    }

    /// keepalived `try_up_instance`: an owner that wants MASTER goes straight there, any
    /// other instance to BACKUP with a full down timer. In unicast, a GARP/NA for our
    /// source address lets the master re-learn us before our down timer runs out.
    fn leave_fault(&mut self, now: Instant) {
        if self.owner_wants_master() {
            self.become_master(now, StateKind::Fault, Reason::Owner);
        } else {
            self.enter_backup(now, StateKind::Fault, Reason::FaultCleared);
        }
        if self.cfg.delivery.is_unicast()
            && let Some(src) = self.src_addr()
        {
            self.send_garp(vec![src], 1);
        }
    }

    fn on_sync(&mut self, now: Instant, cmd: SyncCommand) {
        match (cmd, &self.state) {
            (SyncCommand::GoMaster, State::Backup(_)) => {
                self.become_master(now, StateKind::Backup, Reason::SyncGroup);
            }
            (SyncCommand::GoBackup, State::Master(_)) => {
                let mai = self.cfg.advert_interval;
                self.leave_master_to_backup(now, Reason::SyncGroup, mai, None);
            }
            // Already there, or in a state the group cannot move (INIT, FAULT, stopped).
            _ => {}
        }
    }

    /// keepalived `set_vrrp_backup`: our VIPs vanished while MASTER; tell the others at
    /// once with priority 0 and go to BACKUP.
    fn on_vips_lost(&mut self, now: Instant) {
        if let State::Master(_) = self.state {
            self.send_advert(PRIORITY_STOP);
            let mai = self.cfg.advert_interval;
            self.leave_master_to_backup(now, Reason::VipsLost, mai, None);
        }
    }

    /// RFC 9568 §6.4.3 "If a Shutdown event is received": a MASTER sends priority 0 and
    /// releases; every state ends in Stopped (notify_stop).
    fn shutdown(&mut self) {
        let from = self.state();
        match self.state {
            State::Stopped => return,
            State::Master(_) => {
                self.send_advert(PRIORITY_STOP);
                self.actions
                    .push_back(Action::RemoveVips(self.cfg.all_vips()));
                self.counters.released_master += 1;
            }
            // Resumed and never MASTER: the addresses go, without an advert (we never
            // advertised them).
            State::Backup(Backup { holding: true, .. }) => {
                self.actions
                    .push_back(Action::RemoveVips(self.cfg.all_vips()));
            }
            State::Init | State::Backup(_) | State::Fault => {}
        }
        self.state = State::Stopped;
        self.notify(from, StateKind::Stopped, Reason::Shutdown);
    }

    // ---- actions ----------------------------------------------------------------------

    fn notify(&mut self, from: StateKind, to: StateKind, reason: Reason) {
        self.actions.push_back(Action::StateChange {
            from,
            to,
            reason,
            priority: self.effective_priority,
        });
    }

    fn send_garp(&mut self, addresses: Vec<IpAddr>, repeat: u32) {
        if repeat > 0 && !addresses.is_empty() {
            self.actions
                .push_back(Action::SendGarp { addresses, repeat });
        }
    }

    /// Queues one advert with `priority` (keepalived `vrrp_send_adv`): IP ID and AH
    /// sequence advance once per send, whatever the number of unicast peers.
    fn send_advert(&mut self, priority: u8) {
        self.ip_id = self.ip_id.wrapping_add(1);
        if self.ip_id == 0 {
            // The kernel replaces an ID of 0 on IP_HDRINCL sockets.
            self.ip_id = 1;
        }
        let auth = match self.cfg.auth {
            Auth::None => TxAuth::None,
            Auth::Pass(k) => TxAuth::Pass(k),
            Auth::Ah(key) => {
                self.ah_seq = self.ah_seq.saturating_add(1);
                TxAuth::Ah {
                    key,
                    seq: self.ah_seq,
                }
            }
        };
        let destinations = match &self.cfg.delivery {
            Delivery::Multicast { group } => vec![*group],
            Delivery::Unicast { peers, .. } => peers.iter().map(|p| p.addr).collect(),
        };
        let src = self.src_addr().unwrap_or(match self.cfg.family {
            Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
        let checksum = match self.old_unicast_mode() {
            _ if self.cfg.checksum.v3_as_v2 => TxChecksum::AsV2,
            OldUnicast::Active => TxChecksum::PseudoDst(self.cfg.checksum.old_unicast_group),
            _ => TxChecksum::Standard,
        };
        let t = Transmit {
            advert: Advert {
                version: self.cfg.version,
                vrid: self.cfg.vrid,
                priority,
                interval: self.cfg.advert_interval,
                addresses: self.cfg.vips.clone(),
            },
            src,
            destinations,
            ttl: self.cfg.tx_ttl(),
            ip_id: self.ip_id,
            auth,
            checksum,
            unicast: self.cfg.delivery.is_unicast(),
        };
        self.counters.adverts_sent += 1;
        if priority == PRIORITY_STOP {
            self.counters.priority_zero_sent += 1;
        }
        self.actions.push_back(Action::SendAdvert(t));
    }

    /// Whether the pre-1.3.6 unicast checksum form is in use, possible, or off.
    fn old_unicast_mode(&self) -> OldUnicast {
        if self.cfg.version != Version::V3
            || self.cfg.family != Family::V4
            || !self.cfg.delivery.is_unicast()
        {
            return OldUnicast::Off;
        }
        match self.cfg.checksum.old_unicast {
            OldUnicastChecksum::Always => OldUnicast::Active,
            OldUnicastChecksum::Auto if self.old_unicast_detected => OldUnicast::Active,
            OldUnicastChecksum::Auto => OldUnicast::Detect,
            OldUnicastChecksum::Never => OldUnicast::Off,
        }
    }
}
