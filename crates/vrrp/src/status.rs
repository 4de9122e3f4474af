//! What the driver reports: per-instance state and counters (for the state dump, the
//! statistics file and, later, metrics), and state-change events.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rk_vrrp_proto::{Counters, DecodeCounters, Reason, StateKind};
use serde::Serialize;

/// A snapshot of the whole VRRP side.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    /// One entry per instance, in configuration order.
    pub instances: Vec<InstanceStatus>,
    /// Packets no instance could take: unreadable headers (by reason) …
    pub unmatched: BTreeMap<&'static str, u64>,
    /// … and adverts for a VRID no instance on that interface has.
    pub unknown_vrid: u64,
    /// Adverts ignored during `vrrp_startup_delay` (the instances are still in INIT).
    pub ignored_startup: u64,
    /// The trackers handed in from outside (scripts, files, processes) and their states.
    pub trackers: Vec<TrackerStatus>,
}

/// One tracker's state.
#[derive(Clone, Debug, Serialize)]
pub struct TrackerStatus {
    /// Configured name.
    pub name: String,
    /// `vrrp_script`, `track_file` or `vrrp_track_process`.
    pub kind: &'static str,
    /// `UNKNOWN`, `UP`, `DOWN` or the file's value.
    pub state: String,
}

/// keepalived-like wording of a tracker state.
pub fn tracker_state_text(s: rk_vrrp_proto::TrackerState) -> String {
    use rk_vrrp_proto::TrackerState as T;
    match s {
        T::Unknown => "UNKNOWN".into(),
        T::Up => "UP".into(),
        T::Down => "DOWN".into(),
        T::Value(v) => v.to_string(),
    }
}

/// One instance.
#[derive(Clone, Debug, Serialize)]
pub struct InstanceStatus {
    /// Instance name.
    pub name: String,
    /// VRID.
    pub vrid: u8,
    /// Current state (`INIT`, `BACKUP`, `MASTER`, `FAULT`, `STOP`).
    pub state: String,
    /// Effective priority.
    pub effective_priority: u8,
    /// Base priority.
    pub base_priority: u8,
    /// The master last heard while BACKUP: address and priority.
    pub master: Option<(IpAddr, u8)>,
    /// Interface adverts use.
    pub interface: String,
    /// Active fault reasons.
    pub faults: Vec<String>,
    /// Protocol counters.
    pub stats: InstanceStats,
}

/// Counters of one instance: the state machine's and the driver's.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct InstanceStats {
    /// Valid adverts received.
    pub adverts_received: u64,
    /// Adverts sent (once per send, whatever the number of unicast peers).
    pub adverts_sent: u64,
    /// Adverts that could not be sent (socket errors).
    pub send_errors: u64,
    /// Priority-0 adverts received.
    pub priority_zero_received: u64,
    /// Priority-0 adverts sent.
    pub priority_zero_sent: u64,
    /// Transitions into MASTER.
    pub became_master: u64,
    /// Transitions out of MASTER.
    pub released_master: u64,
    /// Transitions into BACKUP.
    pub became_backup: u64,
    /// Transitions into FAULT.
    pub became_fault: u64,
    /// Gratuitous ARPs sent.
    pub garp_sent: u64,
    /// Unsolicited neighbour advertisements sent.
    pub na_sent: u64,
    /// VIP additions or removals the kernel refused.
    pub vip_errors: u64,
    /// `virtual_routes` / `virtual_rules` additions or removals that failed (refused by
    /// the kernel, or an interface that does not exist).
    pub route_errors: u64,
    /// Packets ignored in INIT/FAULT (before any check, as keepalived).
    pub ignored_not_running: u64,
    /// Packets dropped by `owner_ignore_adverts`.
    pub ignored_owner: u64,
    /// Lower-priority adverts heard while MASTER.
    pub lower_priority_heard: u64,
    /// Dropped packets by reason (one counter per decode rule).
    pub dropped: BTreeMap<&'static str, u64>,
    /// Sum of `dropped`.
    pub dropped_total: u64,
}

impl InstanceStats {
    /// Merges the state machine's counters into these driver counters.
    pub(crate) fn with_proto(mut self, c: &Counters) -> Self {
        self.adverts_received = c.adverts_received;
        self.adverts_sent = c.adverts_sent;
        self.priority_zero_received = c.priority_zero_received;
        self.priority_zero_sent = c.priority_zero_sent;
        self.became_master = c.became_master;
        self.released_master = c.released_master;
        self.ignored_not_running = c.ignored_not_running;
        self.lower_priority_heard = c.lower_priority_heard;
        self.dropped = decode_map(&c.decode);
        self.dropped_total = c.decode.total();
        self
    }
}

/// The decode counters by rule name (zero counters left out).
pub fn decode_map(d: &DecodeCounters) -> BTreeMap<&'static str, u64> {
    [
        ("truncated", d.truncated),
        ("too_long", d.too_long),
        ("not_ipv4", d.not_ipv4),
        ("bad_ihl", d.bad_ihl),
        ("bad_protocol", d.bad_protocol),
        ("vrid_mismatch", d.vrid_mismatch),
        ("ah_presence_mismatch", d.ah_presence_mismatch),
        ("bad_ttl", d.bad_ttl),
        ("version_mismatch", d.version_mismatch),
        ("invalid_auth_type", d.invalid_auth_type),
        ("auth_type_mismatch", d.auth_type_mismatch),
        ("bad_password", d.bad_password),
        ("ah_next_header", d.ah_next_header),
        ("ah_icv", d.ah_icv),
        ("ah_spi", d.ah_spi),
        ("ah_replay", d.ah_replay),
        ("advert_interval_mismatch", d.advert_interval_mismatch),
        ("bad_type", d.bad_type),
        ("address_count_mismatch", d.address_count_mismatch),
        ("ip_total_length", d.ip_total_length),
        ("bad_checksum", d.bad_checksum),
        ("delivery_mismatch", d.delivery_mismatch),
        ("address_list_mismatch", d.address_list_mismatch),
        ("unknown_peer", d.unknown_peer),
        ("ttl_out_of_range", d.ttl_out_of_range),
        ("family_mismatch", d.family_mismatch),
    ]
    .into_iter()
    .filter(|(_, v)| *v > 0)
    .collect()
}

/// Something that happened to an instance or a sync group, for subscribers (notify
/// scripts, FIFOs, e-mail, the coordinator that follows VRRP ownership).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VrrpEvent {
    /// An instance changed state.
    StateChange {
        /// Instance name.
        instance: String,
        /// Previous state.
        from: StateKind,
        /// New state.
        to: StateKind,
        /// Why.
        reason: Reason,
        /// Effective priority.
        priority: u8,
    },
    /// A sync group's state changed (after the member transitions that moved it).
    GroupStateChange {
        /// Group name.
        group: String,
        /// Previous state; `None` before the group's first state.
        from: Option<StateKind>,
        /// New state.
        to: StateKind,
    },
    /// An instance's effective priority changed (trackers).
    PriorityChanged {
        /// Instance name.
        instance: String,
        /// Its state at the time.
        state: StateKind,
        /// Before.
        from: u8,
        /// After.
        to: u8,
    },
    /// A MASTER heard an advert of lower priority (`notify_master_rx_lower_pri`).
    MasterRxLowerPriority {
        /// Instance name.
        instance: String,
        /// The other master.
        from: IpAddr,
        /// Its priority.
        priority: u8,
        /// Our effective priority.
        own_priority: u8,
    },
}

/// keepalived's wording of a reason, for logs.
pub fn reason_text(r: Reason) -> &'static str {
    match r {
        Reason::Startup => "init",
        Reason::Owner => "address owner",
        Reason::MasterNoResponse => "master down timer expired",
        Reason::MasterStopped => "master sent priority 0",
        Reason::Preempted => "preempting a lower priority master",
        Reason::HigherPriority => "higher priority advert received",
        Reason::Fault => "fault",
        Reason::FaultCleared => "fault cleared",
        Reason::SyncGroup => "sync group",
        Reason::VipsLost => "VIPs deleted externally",
        Reason::Shutdown => "shutdown",
    }
}
