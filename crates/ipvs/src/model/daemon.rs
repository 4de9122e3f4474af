//! Sync daemons, timeouts and general information.

use std::fmt;
use std::net::IpAddr;

use super::{find, require};
use crate::codec::*;
use crate::error::ModelError;

/// Role of a connection-sync daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncRole {
    /// Sends connection updates (`--start-daemon master`).
    Master,
    /// Receives them (`--start-daemon backup`).
    Backup,
}

impl SyncRole {
    pub(crate) fn state(self) -> u32 {
        match self {
            SyncRole::Master => IP_VS_STATE_MASTER,
            SyncRole::Backup => IP_VS_STATE_BACKUP,
        }
    }
}

impl fmt::Display for SyncRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncRole::Master => "master",
            SyncRole::Backup => "backup",
        })
    }
}

/// A connection-sync daemon. Optional fields left `None` take the kernel's
/// defaults on start and are always filled in when read back.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Daemon {
    /// Master or backup.
    pub role: SyncRole,
    /// Multicast interface.
    pub mcast_ifn: String,
    /// Sync id (0-255).
    pub syncid: u32,
    /// Maximum UDP payload size.
    pub sync_maxlen: Option<u16>,
    /// Multicast group (IPv4 or IPv6).
    pub mcast_group: Option<IpAddr>,
    /// Multicast base port.
    pub mcast_port: Option<u16>,
    /// Multicast TTL.
    pub mcast_ttl: Option<u8>,
}

impl Daemon {
    /// A daemon with the kernel's defaults for the optional settings.
    pub fn new(role: SyncRole, mcast_ifn: impl Into<String>, syncid: u32) -> Daemon {
        Daemon {
            role,
            mcast_ifn: mcast_ifn.into(),
            syncid,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        }
    }

    /// Attributes for `NEW_DAEMON`.
    pub fn to_attrs(&self) -> Vec<DaemonAttr> {
        let mut attrs = vec![
            DaemonAttr::State(self.role.state()),
            DaemonAttr::McastIfn(self.mcast_ifn.clone()),
            DaemonAttr::SyncId(self.syncid),
        ];
        if let Some(v) = self.sync_maxlen {
            attrs.push(DaemonAttr::SyncMaxlen(v));
        }
        match self.mcast_group {
            Some(IpAddr::V4(g)) => attrs.push(DaemonAttr::McastGroup(g)),
            Some(IpAddr::V6(g)) => attrs.push(DaemonAttr::McastGroup6(g)),
            None => {}
        }
        if let Some(v) = self.mcast_port {
            attrs.push(DaemonAttr::McastPort(v));
        }
        if let Some(v) = self.mcast_ttl {
            attrs.push(DaemonAttr::McastTtl(v));
        }
        attrs
    }

    /// Read a daemon from reply attributes.
    pub fn from_attrs(attrs: &[DaemonAttr]) -> Result<Daemon, ModelError> {
        let state = require(attrs, "IPVS_DAEMON_ATTR_STATE", |a| match a {
            DaemonAttr::State(v) => Some(*v),
            _ => None,
        })?;
        let role = match state {
            IP_VS_STATE_MASTER => SyncRole::Master,
            IP_VS_STATE_BACKUP => SyncRole::Backup,
            other => return Err(ModelError::UnknownDaemonState(other)),
        };
        Ok(Daemon {
            role,
            mcast_ifn: require(attrs, "IPVS_DAEMON_ATTR_MCAST_IFN", |a| match a {
                DaemonAttr::McastIfn(s) => Some(s.clone()),
                _ => None,
            })?,
            syncid: require(attrs, "IPVS_DAEMON_ATTR_SYNC_ID", |a| match a {
                DaemonAttr::SyncId(v) => Some(*v),
                _ => None,
            })?,
            sync_maxlen: find(attrs, |a| match a {
                DaemonAttr::SyncMaxlen(v) => Some(*v),
                _ => None,
            }),
            mcast_group: find(attrs, |a| match a {
                DaemonAttr::McastGroup(g) => Some(IpAddr::V4(*g)),
                DaemonAttr::McastGroup6(g) => Some(IpAddr::V6(*g)),
                _ => None,
            }),
            mcast_port: find(attrs, |a| match a {
                DaemonAttr::McastPort(v) => Some(*v),
                _ => None,
            }),
            mcast_ttl: find(attrs, |a| match a {
                DaemonAttr::McastTtl(v) => Some(*v),
                _ => None,
            }),
        })
    }
}

/// Connection timeouts in seconds (`ipvsadm --set`). On set, 0 leaves a
/// value unchanged (kernel semantics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timeouts {
    /// TCP established.
    pub tcp: u32,
    /// TCP after FIN.
    pub tcp_fin: u32,
    /// UDP.
    pub udp: u32,
}

impl Timeouts {
    /// Attributes for `SET_CONFIG`.
    pub fn to_attrs(&self) -> Vec<IpvsAttr> {
        vec![
            IpvsAttr::TimeoutTcp(self.tcp),
            IpvsAttr::TimeoutTcpFin(self.tcp_fin),
            IpvsAttr::TimeoutUdp(self.udp),
        ]
    }

    /// Read from a `GET_CONFIG` reply.
    pub fn from_attrs(attrs: &[IpvsAttr]) -> Result<Timeouts, ModelError> {
        Ok(Timeouts {
            tcp: require(attrs, "IPVS_CMD_ATTR_TIMEOUT_TCP", |a| match a {
                IpvsAttr::TimeoutTcp(v) => Some(*v),
                _ => None,
            })?,
            tcp_fin: require(attrs, "IPVS_CMD_ATTR_TIMEOUT_TCP_FIN", |a| match a {
                IpvsAttr::TimeoutTcpFin(v) => Some(*v),
                _ => None,
            })?,
            udp: require(attrs, "IPVS_CMD_ATTR_TIMEOUT_UDP", |a| match a {
                IpvsAttr::TimeoutUdp(v) => Some(*v),
                _ => None,
            })?,
        })
    }
}

/// General IPVS information (`ipvsadm --version`, the table size line of `-Ln`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Info {
    /// Version code, e.g. `0x010201` for 1.2.1.
    pub version: u32,
    /// Connection hash table size.
    pub conn_tab_size: u32,
}

impl Info {
    /// Version as (major, minor, patch).
    pub fn version_triple(&self) -> (u8, u8, u8) {
        (
            (self.version >> 16) as u8,
            (self.version >> 8) as u8,
            self.version as u8,
        )
    }

    /// Read from a `GET_INFO` reply.
    pub fn from_attrs(attrs: &[IpvsAttr]) -> Result<Info, ModelError> {
        Ok(Info {
            version: require(attrs, "IPVS_INFO_ATTR_VERSION", |a| match a {
                IpvsAttr::InfoVersion(v) => Some(*v),
                _ => None,
            })?,
            conn_tab_size: require(attrs, "IPVS_INFO_ATTR_CONN_TAB_SIZE", |a| match a {
                IpvsAttr::InfoConnTabSize(v) => Some(*v),
                _ => None,
            })?,
        })
    }
}
