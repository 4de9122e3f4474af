//! LVS: virtual servers, real servers and their health checkers.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::{Family, Script, UserGroup, secs};
use crate::source::Span;

/// What a `virtual_server` is keyed on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VsKey {
    /// `virtual_server IP [PORT]` (port 0 for a persistent port-less service).
    Addr {
        /// Virtual address.
        addr: IpAddr,
        /// Virtual port.
        port: u16,
    },
    /// `virtual_server fwmark N`.
    Fwmark {
        /// Firewall mark.
        mark: u32,
    },
    /// `virtual_server group NAME`.
    Group {
        /// `virtual_server_group` name.
        name: String,
    },
}

impl fmt::Display for VsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VsKey::Addr { addr, port: 0 } => write!(f, "{addr}"),
            VsKey::Addr { addr, port } => write!(f, "{addr} {port}"),
            VsKey::Fwmark { mark } => write!(f, "fwmark {mark}"),
            VsKey::Group { name } => write!(f, "group {name}"),
        }
    }
}

/// Layer-4 protocol of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

/// How packets reach a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Forwarding {
    /// NAT (masquerading).
    Nat,
    /// Direct routing.
    Dr,
    /// Tunnelling.
    Tun {
        /// Tunnel type.
        tun_type: TunnelType,
        /// GUE port.
        port: Option<u16>,
        /// Checksum option.
        csum: Option<TunnelCsum>,
    },
}

/// Tunnel encapsulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelType {
    /// IP in IP (default).
    Ipip,
    /// Generic UDP encapsulation.
    Gue,
    /// GRE.
    Gre,
}

/// Tunnel checksum option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelCsum {
    /// `nocsum`.
    Nocsum,
    /// `csum`.
    Csum,
    /// `remcsum`.
    Remcsum,
}

/// Scheduler flags (`flag-1`, `sh-port`, `ops`, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SchedFlags {
    /// `flag-1`.
    pub flag_1: bool,
    /// `flag-2`.
    pub flag_2: bool,
    /// `flag-3`.
    pub flag_3: bool,
    /// `sh-port` (= flag-2).
    pub sh_port: bool,
    /// `sh-fallback` (= flag-1).
    pub sh_fallback: bool,
    /// `mh-port` (= flag-2).
    pub mh_port: bool,
    /// `mh-fallback` (= flag-1).
    pub mh_fallback: bool,
    /// `ops`: one-packet scheduling.
    pub ops: bool,
    /// `hashed` (obsolete).
    pub hashed: bool,
}

/// `virtual_server ... { ... }` with every default applied.
#[derive(Debug, Clone, Serialize)]
pub struct VirtualServer {
    /// Address and port, fwmark or group.
    pub key: VsKey,
    /// `protocol` (TCP, UDP, SCTP; ignored for fwmark services).
    pub protocol: Protocol,
    /// Address family (for fwmark services: `ip_family`, else from the real servers).
    pub family: Family,
    /// `lvs_sched` / `lb_algo` (wlc).
    pub scheduler: String,
    /// Scheduler flags.
    pub sched_flags: SchedFlags,
    /// `lvs_method` / `lb_kind` (NAT): default for the real servers.
    pub forwarding: Forwarding,
    /// `persistence_timeout` in seconds (a bare keyword means 360).
    pub persistence_timeout: Option<u32>,
    /// `persistence_granularity` as a prefix length (a netmask is converted).
    pub persistence_granularity: Option<u8>,
    /// `persistence_engine`.
    pub persistence_engine: Option<String>,
    /// `delay_loop` (60 s): default check interval.
    #[serde(serialize_with = "secs")]
    pub delay_loop: Duration,
    /// `inhibit_on_failure`: default for the real servers.
    pub inhibit_on_failure: bool,
    /// `alpha`: real servers start down until a check passes.
    pub alpha: bool,
    /// `omega`.
    pub omega: bool,
    /// `ha_suspend`.
    pub ha_suspend: bool,
    /// `quorum` (1).
    pub quorum: u32,
    /// `hysteresis` (0).
    pub hysteresis: u32,
    /// `quorum_up` (boxed, as the other rarely set scripts: a `Script` is 112 bytes, and
    /// large configurations have tens of thousands of servers without one).
    pub quorum_up: Option<Box<Script>>,
    /// `quorum_down`.
    pub quorum_down: Option<Box<Script>>,
    /// `sorry_server`.
    pub sorry_server: Option<SorryServer>,
    /// `virtualhost`.
    pub virtualhost: Option<String>,
    /// `smtp_alert` (VS, else `smtp_alert_checker`, else `smtp_alert`, else off).
    pub smtp_alert: bool,
    /// `snmp_name`.
    pub snmp_name: Option<String>,
    /// `track_instance` (rkeepalived): the VRRP instance whose MASTER state installs this
    /// service (for fwmark and group services, or to override the VIP lookup).
    pub track_instance: Option<String>,
    /// `drain_timeout` (rkeepalived): this service's `lvs_drain_timeout`.
    #[serde(serialize_with = "super::opt_secs")]
    pub drain_timeout: Option<Duration>,
    /// `real_server` blocks.
    pub real_servers: Vec<RealServer>,
    /// Where the block starts.
    #[serde(skip)]
    pub span: Span,
}

/// `sorry_server IP [PORT]` and its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SorryServer {
    /// Address.
    pub addr: IpAddr,
    /// Port (the service's port when absent).
    pub port: u16,
    /// `sorry_server_lvs_method` (the service's method).
    pub forwarding: Forwarding,
    /// `sorry_server_inhibit`: kept in IPVS at weight 0.
    pub inhibit: bool,
}

/// `real_server IP [PORT] { ... }` with every default applied.
#[derive(Debug, Clone, Serialize)]
pub struct RealServer {
    /// Address.
    pub addr: IpAddr,
    /// Port (rules: NAT without a port takes the service port; DR and TUN always do;
    /// fwmark services use 0 unless NAT).
    pub port: u16,
    /// `weight` (the service's `weight`, 1).
    pub weight: u32,
    /// `lvs_method` (the service's).
    pub forwarding: Forwarding,
    /// `inhibit_on_failure`: weight 0 instead of removal when down.
    pub inhibit_on_failure: bool,
    /// `alpha`: start down.
    pub alpha: bool,
    /// `uthreshold`.
    pub uthreshold: u32,
    /// `lthreshold`.
    pub lthreshold: u32,
    /// `notify_up` (boxed: most real servers have none).
    pub notify_up: Option<Box<Script>>,
    /// `notify_down`.
    pub notify_down: Option<Box<Script>>,
    /// `smtp_alert` (on unless a global `smtp_alert*` says otherwise).
    pub smtp_alert: bool,
    /// `virtualhost`.
    pub virtualhost: Option<String>,
    /// `snmp_name`.
    pub snmp_name: Option<String>,
    /// Health checkers; the server is up only while all of them are up.
    pub checkers: Vec<Checker>,
    /// Where the block starts.
    #[serde(skip)]
    pub span: Span,
}

/// A health checker of a real server.
#[derive(Debug, Clone, Serialize)]
pub struct Checker {
    /// What it checks.
    pub kind: CheckerKind,
    /// Where it connects (not for MISC, FILE and BFD).
    pub connection: Option<Connection>,
    /// When it runs.
    pub timing: CheckTiming,
    /// `log_all_failures`.
    pub log_all_failures: bool,
    /// Where the block starts.
    #[serde(skip)]
    pub span: Span,
}

/// Connection options, resolved against the real server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// `connect_ip` (the real server's address).
    pub addr: IpAddr,
    /// `connect_port` (the real server's port).
    pub port: u16,
    /// `bindto`.
    pub bindto: Option<IpAddr>,
    /// `bind_port`.
    pub bind_port: Option<u16>,
    /// `bind_if`.
    pub bind_if: Option<String>,
    /// `fwmark` put on checker packets.
    pub fwmark: Option<u32>,
}

/// A checker's schedule, resolved checker → real server → virtual server → default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckTiming {
    /// `delay_loop`.
    #[serde(serialize_with = "secs")]
    pub delay_loop: Duration,
    /// `connect_timeout` (5 s).
    #[serde(serialize_with = "secs")]
    pub connect_timeout: Duration,
    /// `retry` (`nb_get_retry`): 1, DNS 3, MISC 0.
    pub retry: u32,
    /// `delay_before_retry`: 1 s, HTTP/SSL 3 s, DNS = delay_loop.
    #[serde(serialize_with = "secs")]
    pub delay_before_retry: Duration,
    /// `warmup` (= delay_loop).
    #[serde(serialize_with = "secs")]
    pub warmup: Duration,
    /// `alpha`.
    pub alpha: bool,
}

/// The checker types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", tag = "type")]
pub enum CheckerKind {
    /// `TCP_CHECK`.
    TcpCheck,
    /// `HTTP_GET`.
    HttpGet(HttpCheck),
    /// `SSL_GET`.
    SslGet(HttpCheck),
    /// `DNS_CHECK`.
    DnsCheck {
        /// `type` (SOA).
        query_type: String,
        /// `name` (`.`).
        name: String,
    },
    /// `MISC_CHECK`.
    MiscCheck {
        /// `misc_path` (boxed: the largest field of any checker kind, and most checkers
        /// of a large configuration are not MISC_CHECKs).
        script: Box<Script>,
        /// `misc_timeout` (= delay_loop).
        #[serde(serialize_with = "secs")]
        timeout: Duration,
        /// `misc_dynamic`.
        dynamic: bool,
        /// `user`.
        user: Option<UserGroup>,
    },
    /// `SMTP_CHECK`.
    SmtpCheck {
        /// `helo_name` (smtpchecker.keepalived.org).
        helo_name: String,
    },
    /// `UDP_CHECK`.
    UdpCheck {
        /// `payload` bytes (random when absent).
        payload: Option<Vec<u8>>,
        /// `require_reply`: `Some(None)` any reply, `Some(Some(p))` a matching reply.
        require_reply: Option<Option<ReplyPattern>>,
        /// `min_reply_length` (0).
        min_reply_length: u32,
        /// `max_reply_length` (255).
        max_reply_length: u32,
    },
    /// `PING_CHECK`.
    PingCheck,
    /// `FILE_CHECK`.
    FileCheck {
        /// `track_file`.
        track_file: String,
        /// `weight`; the track_file's weight when absent or 0 (as keepalived).
        weight: i64,
        /// `weight ... reverse`.
        reverse: bool,
        /// `dynamic`.
        dynamic: bool,
    },
    /// `BFD_CHECK`.
    BfdCheck {
        /// `name`.
        name: String,
    },
}

impl CheckerKind {
    /// The keyword of the checker type.
    pub fn keyword(&self) -> &'static str {
        match self {
            CheckerKind::TcpCheck => "TCP_CHECK",
            CheckerKind::HttpGet(_) => "HTTP_GET",
            CheckerKind::SslGet(_) => "SSL_GET",
            CheckerKind::DnsCheck { .. } => "DNS_CHECK",
            CheckerKind::MiscCheck { .. } => "MISC_CHECK",
            CheckerKind::SmtpCheck { .. } => "SMTP_CHECK",
            CheckerKind::UdpCheck { .. } => "UDP_CHECK",
            CheckerKind::PingCheck => "PING_CHECK",
            CheckerKind::FileCheck { .. } => "FILE_CHECK",
            CheckerKind::BfdCheck { .. } => "BFD_CHECK",
        }
    }
}

/// Bytes to compare a UDP reply with; a clear mask bit means "any value" (`X`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyPattern {
    /// Expected bytes.
    pub bytes: Vec<u8>,
    /// Which bits matter.
    pub mask: Vec<u8>,
}

/// `HTTP_GET` / `SSL_GET` options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpCheck {
    /// `url { ... }` blocks (at least one).
    pub urls: Vec<Url>,
    /// `http_protocol` (1.0).
    pub http_protocol: HttpProtocol,
    /// Host header (checker → real server → virtual server `virtualhost`).
    pub virtualhost: Option<String>,
    /// `fast_recovery`.
    pub fast_recovery: bool,
    /// `enable_sni`.
    pub enable_sni: bool,
    /// `sni_name` (keepalived 2.3).
    pub sni_name: Option<String>,
    /// `tls_compliant` (keepalived 2.3).
    pub tls_compliant: bool,
    /// `verify_cert` (rkeepalived): verify the server certificate against the system
    /// roots or the `SSL { ca }` file. keepalived never verifies; neither do we by default.
    pub verify_cert: bool,
}

/// `http_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HttpProtocol {
    /// HTTP/1.0.
    #[serde(rename = "1.0")]
    Http10,
    /// HTTP/1.0 with `Connection: close`.
    #[serde(rename = "1.0C")]
    Http10Close,
    /// HTTP/1.1 (with `Connection: close`).
    #[serde(rename = "1.1")]
    Http11,
}

/// A `url { ... }` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Url {
    /// `path`.
    pub path: String,
    /// `digest`: MD5 of the body, lowercase hex.
    pub digest: Option<String>,
    /// `status_code` ranges (200-299 when absent).
    pub status_codes: Vec<(u16, u16)>,
    /// `virtualhost` for this URL.
    pub virtualhost: Option<String>,
    /// `regex`.
    pub regex: Option<String>,
    /// `regex_no_match`.
    pub regex_no_match: bool,
    /// `regex_options`.
    pub regex_options: Vec<String>,
    /// `regex_min_offset`.
    pub regex_min_offset: Option<u32>,
    /// `regex_max_offset`.
    pub regex_max_offset: Option<u32>,
}

/// `virtual_server_group NAME { ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualServerGroup {
    /// Group name.
    pub name: String,
    /// Entries.
    pub entries: Vec<VsgEntry>,
    /// Where the block starts.
    #[serde(skip)]
    pub span: Span,
}

/// An entry of a `virtual_server_group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VsgEntry {
    /// An address range (a single address has `first == last`) and optional port.
    Range {
        /// First address.
        first: IpAddr,
        /// Last address.
        last: IpAddr,
        /// Port (0 when absent).
        port: u16,
    },
    /// `fwmark N [inet|inet6]`.
    Fwmark {
        /// Mark.
        mark: u32,
        /// Family, if given.
        family: Option<Family>,
    },
}

/// The `SSL { ... }` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SslContext {
    /// `password` of the key.
    pub password: Option<String>,
    /// `ca` file.
    pub ca: Option<String>,
    /// `certificate` file.
    pub certificate: Option<String>,
    /// `key` file.
    pub key: Option<String>,
}
