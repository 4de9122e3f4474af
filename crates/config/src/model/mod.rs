//! The typed configuration: what a keepalived.conf means once defaults are applied and
//! everything has been checked. It holds no runtime state.
//!
//! Durations are `std::time::Duration`; in the JSON dump they appear as decimal seconds.

mod global;
mod lvs;
mod net;
mod vrrp;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::source::Span;

pub use global::*;
pub use lvs::*;
pub use net::*;
pub use vrrp::*;

/// A whole configuration.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    /// `global_defs` and the top-level process options.
    pub global: GlobalDefs,
    /// `linkbeat_interfaces`.
    pub linkbeat_interfaces: Vec<LinkbeatInterface>,
    /// `interface_up_down_delays`.
    pub interface_up_down_delays: Vec<InterfaceDelay>,
    /// `track_group` blocks.
    pub track_groups: Vec<TrackGroup>,
    /// `static_ipaddress`.
    pub static_ipaddress: Vec<VirtualAddress>,
    /// `static_routes`.
    pub static_routes: Vec<Route>,
    /// `static_rules`.
    pub static_rules: Vec<Rule>,
    /// `track_file` / `vrrp_track_file` blocks.
    pub track_files: Vec<TrackFile>,
    /// `vrrp_track_process` blocks.
    pub track_processes: Vec<TrackProcess>,
    /// `vrrp_script` blocks.
    pub vrrp_scripts: Vec<VrrpScript>,
    /// `bfd_instance` blocks.
    pub bfd_instances: Vec<BfdInstance>,
    /// `vrrp_sync_group` blocks.
    pub sync_groups: Vec<SyncGroup>,
    /// `garp_group` blocks.
    pub garp_groups: Vec<GarpGroup>,
    /// `vrrp_instance` blocks.
    pub vrrp_instances: Vec<VrrpInstance>,
    /// The `SSL` block (client context for SSL_GET).
    pub ssl: Option<SslContext>,
    /// `virtual_server_group` blocks.
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    /// `virtual_server` blocks.
    pub virtual_servers: Vec<VirtualServer>,
}

impl Config {
    /// The instance called `name`.
    pub fn instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.vrrp_instances.iter().find(|i| i.name == name)
    }

    /// The `vrrp_script` called `name`.
    pub fn script(&self, name: &str) -> Option<&VrrpScript> {
        self.vrrp_scripts.iter().find(|s| s.name == name)
    }

    /// Whether the configuration has anything for the VRRP side to do.
    pub fn has_vrrp(&self) -> bool {
        !self.vrrp_instances.is_empty()
            || !self.static_ipaddress.is_empty()
            || !self.static_routes.is_empty()
            || !self.static_rules.is_empty()
    }

    /// Whether the configuration has anything for the checker/IPVS side to do.
    pub fn has_checkers(&self) -> bool {
        !self.virtual_servers.is_empty()
    }
}

/// Address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4.
    Inet,
    /// IPv6.
    Inet6,
}

impl Family {
    /// The family of an address.
    pub fn of(a: &IpAddr) -> Family {
        match a {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Inet => "IPv4",
            Family::Inet6 => "IPv6",
        })
    }
}

/// An address with a prefix length (`10.0.0.1/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length; 32 or 128 when none was written.
    pub len: u8,
}

impl IpPrefix {
    /// Parses `ADDR[/LEN]`.
    pub fn parse(s: &str) -> Option<IpPrefix> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            Some(l) => {
                if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let v: u8 = l.parse().ok()?;
                if v > max {
                    return None;
                }
                v
            }
            None => max,
        };
        Some(IpPrefix { addr, len })
    }

    /// The address family.
    pub fn family(&self) -> Family {
        Family::of(&self.addr)
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl Serialize for IpPrefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A script to run: notify scripts, `vrrp_script`'s `script`, `misc_path`, ...
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Script {
    /// The command as written (the first word of the statement).
    pub command: String,
    /// The command split into program and arguments, with shell-like quoting.
    pub argv: Vec<String>,
    /// User to run as (else `script_user`, else keepalived's default).
    pub user: Option<String>,
    /// Group to run as.
    pub group: Option<String>,
    /// Where it was written.
    #[serde(skip)]
    pub span: Span,
}

/// A user and optional group (`script_user`, `vrrp_script` `user`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserGroup {
    /// User name.
    pub user: String,
    /// Group name; the user's group when absent.
    pub group: Option<String>,
}

/// Serializes a `Duration` as decimal seconds.
pub(crate) fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Serializes an `Option<Duration>` as decimal seconds or null.
pub(crate) fn opt_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        let p = IpPrefix::parse("172.16.15.99/16").unwrap();
        assert_eq!(p.to_string(), "172.16.15.99/16");
        assert_eq!(IpPrefix::parse("10.0.0.1").unwrap().len, 32);
        assert_eq!(IpPrefix::parse("fe80::1").unwrap().len, 128);
        assert!(IpPrefix::parse("10.0.0.1/33").is_none());
        assert!(IpPrefix::parse("10.0.0.1/").is_none());
        assert!(IpPrefix::parse("10.0.0/8").is_none());
    }
}
