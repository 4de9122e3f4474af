//! VRRP: instances, sync groups and the trackers they use.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::{Family, Route, Rule, Script, UserGroup, VirtualAddress, opt_secs, secs};
use crate::source::Span;

/// `vrrp_instance NAME { ... }` with every default applied.
#[derive(Debug, Clone, Serialize)]
pub struct VrrpInstance {
    /// Instance name.
    pub name: String,
    /// `state`: the wanted initial state. Only an address owner (priority 255) starts as
    /// MASTER at once; any other instance starts as BACKUP and waits the down timer.
    pub state: InitialState,
    /// `interface`.
    pub interface: Option<String>,
    /// `vrf` (unicast without an interface).
    pub vrf: Option<String>,
    /// `virtual_router_id`.
    pub vrid: u8,
    /// `priority` (100; 255 with `state MASTER` and no priority).
    pub priority: u8,
    /// `advert_int` (1 s): whole seconds for VRRPv2, centiseconds for VRRPv3.
    #[serde(serialize_with = "secs")]
    pub advert_int: Duration,
    /// VRRP version (2 or 3; IPv6 is always 3).
    pub version: u8,
    /// Address family of the instance (from its VIPs; IPv4 when it has none).
    pub family: Family,
    /// `authentication` (VRRPv2 only).
    pub authentication: Option<Authentication>,
    /// `virtual_ipaddress`.
    pub virtual_ipaddress: Vec<VirtualAddress>,
    /// `virtual_ipaddress_excluded`.
    pub virtual_ipaddress_excluded: Vec<VirtualAddress>,
    /// `virtual_routes`.
    pub virtual_routes: Vec<Route>,
    /// `virtual_rules`.
    pub virtual_rules: Vec<Rule>,
    /// Preemption (on unless `nopreempt`).
    pub preempt: bool,
    /// `preempt_delay`.
    #[serde(serialize_with = "secs")]
    pub preempt_delay: Duration,
    /// Trackers.
    pub tracking: Tracking,
    /// `dont_track_primary`.
    pub dont_track_primary: bool,
    /// Notify scripts.
    pub notify: InstanceNotify,
    /// `notify_priority_changes`.
    pub notify_priority_changes: bool,
    /// `smtp_alert` (instance, else `smtp_alert_vrrp`, else `smtp_alert`, else off).
    pub smtp_alert: bool,
    /// `mcast_src_ip` / `unicast_src_ip`.
    pub src_ip: Option<IpAddr>,
    /// `unicast_peer { ... }`.
    pub unicast_peers: Vec<UnicastPeer>,
    /// Adverts go to the unicast peers.
    pub unicast: bool,
    /// `unicast_fault_no_peer`.
    pub unicast_fault_no_peer: bool,
    /// `check_unicast_src` (or global `vrrp_check_unicast_src`, or a peer TTL range).
    pub check_unicast_src: bool,
    /// `unicast_ttl` (255 for IPv4).
    pub unicast_ttl: Option<u8>,
    /// `old_unicast_checksum [never]`.
    pub old_unicast_checksum: Option<ChecksumCompat>,
    /// Multicast group the adverts use (`mcast_dst_ip`, else the global group);
    /// `None` with unicast.
    pub mcast_group: Option<IpAddr>,
    /// `track_src_ip`.
    pub track_src_ip: bool,
    /// `use_vmac`.
    pub use_vmac: Option<Vmac>,
    /// `vmac_xmit_base`.
    pub vmac_xmit_base: bool,
    /// `use_vmac_addr`.
    pub use_vmac_addr: bool,
    /// `use_ipvlan [NAME] [ADDR] [mode]`.
    pub use_ipvlan: Option<Vec<String>>,
    /// Accept mode (`accept`/`no_accept`; default on unless strict and not owner).
    pub accept: bool,
    /// Strict RFC mode (`strict_mode`, else `vrrp_strict`).
    pub strict_mode: bool,
    /// `skip_check_adv_addr`.
    pub skip_check_adv_addr: bool,
    /// Gratuitous ARP / NA schedule.
    pub garp: GarpSchedule,
    /// `garp_extra_if`.
    pub garp_extra_if: Option<super::GarpExtraIf>,
    /// `down_timer_adverts` (3).
    pub down_timer_adverts: u32,
    /// `lower_prio_no_advert`.
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert`.
    pub higher_prio_send_advert: bool,
    /// `owner_ignore_adverts` (keepalived 2.3).
    pub owner_ignore_adverts: bool,
    /// `promote_secondaries`.
    pub promote_secondaries: bool,
    /// `kernel_rx_buf_size`.
    pub kernel_rx_buf_size: Option<u32>,
    /// `debug` (no effect, as in keepalived).
    pub debug: Option<u8>,
    /// `linkbeat_use_polling` (deprecated).
    pub linkbeat_use_polling: bool,
    /// `lvs_sync_daemon_interface` (deprecated).
    pub lvs_sync_daemon_interface: Option<String>,
    /// The `vrrp_sync_group` this instance belongs to.
    pub sync_group: Option<String>,
    /// Where the block starts.
    #[serde(skip)]
    pub span: Span,
}

impl VrrpInstance {
    /// Whether this instance owns its addresses (priority 255).
    pub fn is_owner(&self) -> bool {
        self.priority == 255
    }

    /// Every address the instance adds when MASTER (VIPs then excluded VIPs).
    pub fn all_addresses(&self) -> impl Iterator<Item = &VirtualAddress> {
        self.virtual_ipaddress
            .iter()
            .chain(&self.virtual_ipaddress_excluded)
    }
}

/// The `state` keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InitialState {
    /// `state MASTER`.
    Master,
    /// `state BACKUP`.
    Backup,
}

/// VRRPv2 authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authentication {
    /// `auth_type`.
    pub kind: AuthKind,
    /// `auth_pass` (at most 8 characters; padded with zeros on the wire).
    pub password: String,
}

/// `auth_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthKind {
    /// Simple password.
    Pass,
    /// IPsec AH (HMAC-MD5-96).
    Ah,
}

/// A `unicast_peer` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnicastPeer {
    /// Peer address.
    pub addr: IpAddr,
    /// `min_ttl`.
    pub min_ttl: Option<u8>,
    /// `max_ttl`.
    pub max_ttl: Option<u8>,
}

/// `old_unicast_checksum [never]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksumCompat {
    /// Always send the old (pre-1.3.6) checksum.
    Always,
    /// Never accept the old checksum.
    Never,
}

/// `use_vmac [NAME] [MAC]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vmac {
    /// Interface name (`<vmac_prefix>.<vrid>` when absent).
    pub name: Option<String>,
    /// MAC address (00:00:5e:00:01:VRID, or :02: for IPv6, when absent).
    pub mac: Option<String>,
}

/// Per-instance GARP/NA schedule, defaults taken from `global_defs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GarpSchedule {
    /// Delay of the second burst after becoming MASTER (0 = none).
    #[serde(serialize_with = "secs")]
    pub master_delay: Duration,
    /// Messages per burst.
    pub master_repeat: u32,
    /// Refresh interval while MASTER (0 = off).
    #[serde(serialize_with = "secs")]
    pub master_refresh: Duration,
    /// Messages per refresh.
    pub master_refresh_repeat: u32,
    /// Delay of the second burst after hearing a lower priority.
    #[serde(serialize_with = "secs")]
    pub lower_prio_delay: Duration,
    /// Messages per burst after hearing a lower priority.
    pub lower_prio_repeat: u32,
}

/// The trackers of an instance or sync group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tracking {
    /// `track_interface`.
    pub interfaces: Vec<TrackedInterface>,
    /// `track_script`.
    pub scripts: Vec<TrackedRef>,
    /// `track_file`.
    pub files: Vec<TrackedRef>,
    /// `track_process`.
    pub processes: Vec<TrackedRef>,
    /// `track_bfd`.
    pub bfds: Vec<TrackedRef>,
}

impl Tracking {
    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.interfaces.is_empty()
            && self.scripts.is_empty()
            && self.files.is_empty()
            && self.processes.is_empty()
            && self.bfds.is_empty()
    }
}

/// A `track_interface` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackedInterface {
    /// Interface.
    pub name: String,
    /// Weight (0: FAULT while down).
    pub weight: i32,
    /// `reverse`.
    pub reverse: bool,
    /// Where it was written.
    #[serde(skip)]
    pub span: Span,
}

/// A reference to a tracker defined elsewhere (script, file, process, BFD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackedRef {
    /// The tracker's name.
    pub name: String,
    /// Weight override (the tracker's own weight when absent).
    pub weight: Option<i32>,
    /// `reverse` / `noreverse` override.
    pub reverse: Option<bool>,
    /// Where it was written.
    #[serde(skip)]
    pub span: Span,
}

/// Notify scripts of an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InstanceNotify {
    /// `notify_master`.
    pub master: Option<Script>,
    /// `notify_backup`.
    pub backup: Option<Script>,
    /// `notify_fault`.
    pub fault: Option<Script>,
    /// `notify_stop`.
    pub stop: Option<Script>,
    /// `notify_deleted`: report DELETED rather than FAULT when removed on reload.
    pub deleted: bool,
    /// The script given with `notify_deleted`.
    pub deleted_script: Option<Script>,
    /// `notify`: generic script, gets `INSTANCE name STATE priority` appended.
    pub any: Option<Script>,
    /// `notify_master_rx_lower_pri`.
    pub master_rx_lower_pri: Option<Script>,
}

/// `vrrp_sync_group NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncGroup {
    /// Group name.
    pub name: String,
    /// `group { ... }`: member instances.
    pub instances: Vec<String>,
    /// Trackers applied to every member.
    pub tracking: Tracking,
    /// `notify_master`.
    pub notify_master: Option<Script>,
    /// `notify_backup`.
    pub notify_backup: Option<Script>,
    /// `notify_fault`.
    pub notify_fault: Option<Script>,
    /// `notify_stop`.
    pub notify_stop: Option<Script>,
    /// `notify`.
    pub notify: Option<Script>,
    /// `smtp_alert`.
    pub smtp_alert: bool,
    /// `global_tracking` (deprecated).
    pub global_tracking: bool,
    /// `sync_group_tracking_weight`.
    pub sync_group_tracking_weight: bool,
    /// `notify_priority_changes`.
    pub notify_priority_changes: Option<bool>,
    /// Where the block starts.
    #[serde(skip)]
    pub span: Span,
}

/// `vrrp_script NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VrrpScript {
    /// Name used by `track_script`.
    pub name: String,
    /// `script`.
    pub script: Script,
    /// `interval` (1 s).
    #[serde(serialize_with = "secs")]
    pub interval: Duration,
    /// `timeout` (= interval).
    #[serde(serialize_with = "secs")]
    pub timeout: Duration,
    /// `weight` (0: FAULT while failing).
    pub weight: i32,
    /// `weight ... reverse`.
    pub reverse: bool,
    /// `rise` (1).
    pub rise: u32,
    /// `fall` (1).
    pub fall: u32,
    /// `user`.
    pub user: Option<UserGroup>,
    /// `init_fail`.
    pub init_fail: bool,
    /// Where the block starts.
    #[serde(skip)]
    pub span: Span,
}

/// `track_file NAME { ... }` (also `vrrp_track_file`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackFile {
    /// Name used by `track_file` references and FILE_CHECK.
    pub name: String,
    /// `file`.
    pub file: String,
    /// `weight` (1).
    pub weight: i32,
    /// `weight ... reverse`.
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]`.
    pub init_file: Option<InitFile>,
    /// Where the block starts.
    #[serde(skip)]
    pub span: Span,
}

/// `init_file [VALUE] [overwrite]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InitFile {
    /// Value written (0).
    pub value: i64,
    /// Overwrite an existing file.
    pub overwrite: bool,
}

/// `vrrp_track_process NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackProcess {
    /// Name used by `track_process`.
    pub name: String,
    /// `process`: name (or command) and parameters.
    pub process: Vec<String>,
    /// `param_match initial|partial`.
    pub param_match: Option<String>,
    /// `weight` (0: FAULT while the quorum is not met).
    pub weight: i32,
    /// `weight ... reverse`.
    pub reverse: bool,
    /// `quorum` (1; 0 with `quorum_max 0`: the process must not run).
    pub quorum: u32,
    /// `quorum_max`.
    pub quorum_max: Option<u32>,
    /// `fork_delay`.
    #[serde(serialize_with = "opt_secs")]
    pub fork_delay: Option<Duration>,
    /// `terminate_delay`.
    #[serde(serialize_with = "opt_secs")]
    pub terminate_delay: Option<Duration>,
    /// `full_command`.
    pub full_command: bool,
    /// Where the block starts.
    #[serde(skip)]
    pub span: Span,
}

/// `bfd_instance NAME { ... }` (modelled; rkeepalived does not run BFD yet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BfdInstance {
    /// Name.
    pub name: String,
    /// `neighbor_ip`.
    pub neighbor_ip: Option<IpAddr>,
    /// `source_ip`.
    pub source_ip: Option<IpAddr>,
    /// `min_rx` in ms (10).
    pub min_rx_ms: f64,
    /// `min_tx` in ms (10).
    pub min_tx_ms: f64,
    /// `idle_tx` in ms (1000).
    pub idle_tx_ms: f64,
    /// `multiplier` (5).
    pub multiplier: u8,
    /// `passive`.
    pub passive: bool,
    /// `ttl` / `hoplimit`.
    pub ttl: Option<u8>,
    /// `max_hops`.
    pub max_hops: Option<u8>,
    /// `weight`.
    pub weight: i32,
    /// `weight ... reverse`.
    pub reverse: bool,
    /// Events only to VRRP (`vrrp`) or only to checkers (`checker`).
    pub only: Option<String>,
    /// Where the block starts.
    #[serde(skip)]
    pub span: Span,
}

/// `garp_group { ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GarpGroup {
    /// `garp_interval`.
    #[serde(serialize_with = "opt_secs")]
    pub garp_interval: Option<Duration>,
    /// `gna_interval`.
    #[serde(serialize_with = "opt_secs")]
    pub gna_interval: Option<Duration>,
    /// `interface` / `interfaces { ... }`.
    pub interfaces: Vec<String>,
    /// Where the block starts.
    #[serde(skip)]
    pub span: Span,
}
