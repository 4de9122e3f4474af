//! `global_defs` and the top-level process options.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use serde::Serialize;

use super::{Script, UserGroup, opt_secs, secs};

/// `global_defs` (and the top-level keywords `net_namespace`, `instance`, ...).
#[derive(Debug, Clone, Serialize)]
pub struct GlobalDefs {
    /// `router_id`; the host name when absent.
    pub router_id: Option<String>,
    /// `notification_email { ... }`.
    pub notification_email: Vec<String>,
    /// `notification_email_from`; `keepalived@<host name>` when absent.
    pub notification_email_from: Option<String>,
    /// `smtp_server`.
    pub smtp_server: Option<SmtpServer>,
    /// `smtp_helo_name`; the host name when absent.
    pub smtp_helo_name: Option<String>,
    /// `smtp_connect_timeout` (30 s).
    #[serde(serialize_with = "secs")]
    pub smtp_connect_timeout: Duration,
    /// `smtp_alert`: default for every object's `smtp_alert`.
    pub smtp_alert: Option<bool>,
    /// `smtp_alert_vrrp`.
    pub smtp_alert_vrrp: Option<bool>,
    /// `smtp_alert_checker`.
    pub smtp_alert_checker: Option<bool>,
    /// `checker_log_all_failures`.
    pub checker_log_all_failures: bool,
    /// `no_email_faults`.
    pub no_email_faults: bool,
    /// `no_checker_emails`.
    pub no_checker_emails: bool,
    /// `enable_script_security`.
    pub enable_script_security: bool,
    /// `script_user`.
    pub script_user: Option<UserGroup>,
    /// `vrrp_version` (2).
    pub vrrp_version: u8,
    /// `vrrp_mcast_group4` (224.0.0.18).
    pub vrrp_mcast_group4: Ipv4Addr,
    /// `vrrp_mcast_group6` (ff02::12).
    pub vrrp_mcast_group6: Ipv6Addr,
    /// Gratuitous ARP / NA defaults for instances.
    pub garp: GarpDefaults,
    /// `vrrp_garp_extra_if`.
    pub vrrp_garp_extra_if: Option<GarpExtraIf>,
    /// `vrrp_strict`.
    pub vrrp_strict: bool,
    /// `vrrp_skip_check_adv_addr`.
    pub vrrp_skip_check_adv_addr: bool,
    /// `vrrp_check_unicast_src`.
    pub vrrp_check_unicast_src: bool,
    /// `vrrp_lower_prio_no_advert`.
    pub vrrp_lower_prio_no_advert: bool,
    /// `vrrp_higher_prio_send_advert`.
    pub vrrp_higher_prio_send_advert: bool,
    /// `vrrp_owner_ignore_adverts` (keepalived 2.3).
    pub vrrp_owner_ignore_adverts: bool,
    /// `vrrp_down_timer_adverts` (3).
    pub vrrp_down_timer_adverts: u32,
    /// `vrrp_startup_delay`.
    #[serde(serialize_with = "secs")]
    pub vrrp_startup_delay: Duration,
    /// `vrrp_delay_after_boot` (keepalived 2.3).
    #[serde(serialize_with = "secs")]
    pub vrrp_delay_after_boot: Duration,
    /// `vrrp_notify_priority_changes`.
    pub vrrp_notify_priority_changes: bool,
    /// `dynamic_interfaces`.
    pub dynamic_interfaces: bool,
    /// `dynamic_interfaces allow_if_changes`.
    pub dynamic_interfaces_allow_if_changes: bool,
    /// `default_interface` (eth0).
    pub default_interface: String,
    /// `lvs_sync_daemon`.
    pub lvs_sync_daemon: Option<SyncDaemon>,
    /// `lvs_timeouts`.
    pub lvs_timeouts: LvsTimeouts,
    /// `lvs_flush`.
    pub lvs_flush: bool,
    /// `lvs_flush_on_stop`.
    pub lvs_flush_on_stop: FlushOnStop,
    /// FIFOs: `notify_fifo`, `vrrp_notify_fifo`, `lvs_notify_fifo` and their scripts.
    pub fifos: NotifyFifos,
    /// `fifo_write_vrrp_states_on_reload`.
    pub fifo_write_vrrp_states_on_reload: bool,
    /// `rs_init_notifies`.
    pub rs_init_notifies: bool,
    /// `startup_script`.
    pub startup_script: Option<Script>,
    /// `startup_script_timeout` (10 s).
    #[serde(serialize_with = "secs")]
    pub startup_script_timeout: Duration,
    /// `shutdown_script`.
    pub shutdown_script: Option<Script>,
    /// `shutdown_script_timeout` (10 s).
    #[serde(serialize_with = "secs")]
    pub shutdown_script_timeout: Duration,
    /// `vmac_prefix` (vrrp).
    pub vmac_prefix: String,
    /// `vmac_addr_prefix` (= vmac_prefix).
    pub vmac_addr_prefix: Option<String>,
    /// `log_unknown_vrids`.
    pub log_unknown_vrids: bool,
    /// `random_seed`.
    pub random_seed: Option<u32>,
    /// `umask`.
    pub umask: Option<u32>,
    /// `state_dump_file` (/tmp/keepalived.data).
    pub state_dump_file: String,
    /// `stats_dump_file` (/tmp/keepalived.stats).
    pub stats_dump_file: String,
    /// `json_dump_file` (/tmp/keepalived.json).
    pub json_dump_file: String,
    /// `data_use_instance`.
    pub data_use_instance: bool,
    /// `reload_check_config`.
    pub reload_check_config: bool,
    /// The log file given to `reload_check_config`.
    pub reload_check_config_log: Option<String>,
    /// `include_check` as given (already applied while reading includes).
    pub include_check: Option<Vec<String>>,
    /// Top-level `net_namespace`.
    pub net_namespace: Option<String>,
    /// Top-level `net_namespace_ipvs` (an empty name: the default namespace).
    pub net_namespace_ipvs: Option<String>,
    /// Top-level `instance`.
    pub instance: Option<String>,
    /// Top-level `use_pid_dir`.
    pub use_pid_dir: bool,
    /// Top-level `child_wait_time` (5 s).
    #[serde(serialize_with = "secs")]
    pub child_wait_time: Duration,
    /// `lvs_rules_everywhere` (rkeepalived): install every virtual server on every node,
    /// as keepalived does, instead of only on the node whose VRRP instance holds its VIP.
    pub lvs_rules_everywhere: bool,
    /// `lvs_drain_timeout` (rkeepalived): how long a real server removed from the
    /// configuration stays at weight 0 while its connections drain before it is deleted
    /// (0: delete at once, as keepalived does).
    #[serde(serialize_with = "secs")]
    pub lvs_drain_timeout: Duration,
    /// `lvs_reconcile_interval` (rkeepalived): how often the IPVS table is read back and
    /// drift (a rule changed by hand) repaired.
    #[serde(serialize_with = "secs")]
    pub lvs_reconcile_interval: Duration,
    /// `lvs_keep_rules_on_stop` (rkeepalived): leave our IPVS rules in the kernel at
    /// stop, for a restart that adopts them (like keepalived's `-I`).
    pub lvs_keep_rules_on_stop: bool,
    /// Rarely used tuning keywords (process priorities, CPU affinity, SNMP, DBus,
    /// firewall, netlink buffers, reload files, ...), by name with their arguments.
    /// keepalived's meaning is kept; rkeepalived acts on few of them.
    pub tuning: BTreeMap<String, Vec<String>>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: Duration::from_secs(30),
            smtp_alert: None,
            smtp_alert_vrrp: None,
            smtp_alert_checker: None,
            checker_log_all_failures: false,
            no_email_faults: false,
            no_checker_emails: false,
            enable_script_security: false,
            script_user: None,
            vrrp_version: 2,
            vrrp_mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            vrrp_mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            garp: GarpDefaults::default(),
            vrrp_garp_extra_if: None,
            vrrp_strict: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_check_unicast_src: false,
            vrrp_lower_prio_no_advert: false,
            vrrp_higher_prio_send_advert: false,
            vrrp_owner_ignore_adverts: false,
            vrrp_down_timer_adverts: 3,
            vrrp_startup_delay: Duration::ZERO,
            vrrp_delay_after_boot: Duration::ZERO,
            vrrp_notify_priority_changes: false,
            dynamic_interfaces: false,
            dynamic_interfaces_allow_if_changes: false,
            default_interface: "eth0".into(),
            lvs_sync_daemon: None,
            lvs_timeouts: LvsTimeouts::default(),
            lvs_flush: false,
            lvs_flush_on_stop: FlushOnStop::No,
            fifos: NotifyFifos::default(),
            fifo_write_vrrp_states_on_reload: false,
            rs_init_notifies: false,
            startup_script: None,
            startup_script_timeout: Duration::from_secs(10),
            shutdown_script: None,
            shutdown_script_timeout: Duration::from_secs(10),
            vmac_prefix: "vrrp".into(),
            vmac_addr_prefix: None,
            log_unknown_vrids: false,
            random_seed: None,
            umask: None,
            state_dump_file: "/tmp/keepalived.data".into(),
            stats_dump_file: "/tmp/keepalived.stats".into(),
            json_dump_file: "/tmp/keepalived.json".into(),
            data_use_instance: false,
            reload_check_config: false,
            reload_check_config_log: None,
            include_check: None,
            net_namespace: None,
            net_namespace_ipvs: None,
            instance: None,
            use_pid_dir: false,
            child_wait_time: Duration::from_secs(5),
            lvs_rules_everywhere: false,
            lvs_drain_timeout: Duration::ZERO,
            lvs_reconcile_interval: Duration::from_secs(5),
            lvs_keep_rules_on_stop: false,
            tuning: BTreeMap::new(),
        }
    }
}

/// `smtp_server HOST [PORT]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpServer {
    /// Address or name.
    pub host: String,
    /// Port (25).
    pub port: u16,
}

/// The global gratuitous ARP / unsolicited NA schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GarpDefaults {
    /// `vrrp_garp_master_delay` (5 s): delay of the second burst; 0 = none.
    #[serde(serialize_with = "secs")]
    pub master_delay: Duration,
    /// `vrrp_garp_master_repeat` (5): messages per burst.
    pub master_repeat: u32,
    /// `vrrp_garp_master_refresh` (0 = off).
    #[serde(serialize_with = "secs")]
    pub master_refresh: Duration,
    /// `vrrp_garp_master_refresh_repeat` (1).
    pub master_refresh_repeat: u32,
    /// `vrrp_garp_lower_prio_delay` (= master_delay).
    #[serde(serialize_with = "opt_secs")]
    pub lower_prio_delay: Option<Duration>,
    /// `vrrp_garp_lower_prio_repeat` (= master_repeat).
    pub lower_prio_repeat: Option<u32>,
    /// `vrrp_garp_interval`: pause between GARPs on an interface.
    #[serde(serialize_with = "secs")]
    pub interval: Duration,
    /// `vrrp_gna_interval`: pause between NAs on an interface.
    #[serde(serialize_with = "secs")]
    pub gna_interval: Duration,
    /// `vrrp_min_garp`: one message, no second burst, no refresh.
    pub min_garp: bool,
}

impl Default for GarpDefaults {
    fn default() -> Self {
        GarpDefaults {
            master_delay: Duration::from_secs(5),
            master_repeat: 5,
            master_refresh: Duration::ZERO,
            master_refresh_repeat: 1,
            lower_prio_delay: None,
            lower_prio_repeat: None,
            interval: Duration::ZERO,
            gna_interval: Duration::ZERO,
            min_garp: false,
        }
    }
}

/// `garp_extra_if [all] SECS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GarpExtraIf {
    /// Send on every interface the instance uses, not only VMACs.
    pub all: bool,
    /// Interval.
    #[serde(serialize_with = "secs")]
    pub interval: Duration,
}

/// `lvs_sync_daemon IF [[inst] VI] [id N] [maxlen N] [port N] [ttl N] [group IP]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncDaemon {
    /// Interface the sync traffic uses.
    pub interface: String,
    /// VRRP instance whose state selects master or backup; both run when absent.
    pub instance: Option<String>,
    /// Sync id (the instance's VRID, or 0, when absent).
    pub id: Option<u8>,
    /// Maximum packet length.
    pub maxlen: Option<u16>,
    /// UDP port (8848).
    pub port: Option<u16>,
    /// Multicast TTL.
    pub ttl: Option<u8>,
    /// Multicast group (224.0.0.81).
    pub group: Option<IpAddr>,
}

/// `lvs_timeouts [tcp S] [tcpfin S] [udp S]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LvsTimeouts {
    /// TCP established timeout.
    #[serde(serialize_with = "opt_secs")]
    pub tcp: Option<Duration>,
    /// TCP FIN_WAIT timeout.
    #[serde(serialize_with = "opt_secs")]
    pub tcpfin: Option<Duration>,
    /// UDP timeout.
    #[serde(serialize_with = "opt_secs")]
    pub udp: Option<Duration>,
}

/// `lvs_flush_on_stop [VS]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlushOnStop {
    /// Delete our real servers and virtual servers one by one (default).
    No,
    /// Flush the whole table.
    All,
    /// Delete our virtual servers only (the kernel drops their real servers).
    VirtualServers,
}

/// A notify FIFO: `*_fifo PATH [user [group]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fifo {
    /// Path of the FIFO.
    pub path: String,
    /// Owner user.
    pub user: Option<String>,
    /// Owner group.
    pub group: Option<String>,
}

/// The three notify FIFOs and their reader scripts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NotifyFifos {
    /// `notify_fifo`: every event.
    pub all: Option<Fifo>,
    /// `notify_fifo_script`.
    pub all_script: Option<Script>,
    /// `vrrp_notify_fifo`.
    pub vrrp: Option<Fifo>,
    /// `vrrp_notify_fifo_script`.
    pub vrrp_script: Option<Script>,
    /// `lvs_notify_fifo`.
    pub lvs: Option<Fifo>,
    /// `lvs_notify_fifo_script`.
    pub lvs_script: Option<Script>,
}
