//! Identities of configured virtual and real servers, stable across reloads.
//!
//! Health and quorum state are keyed by these, so a reload that keeps a
//! virtual server keeps its real servers' health and its quorum state
//! (keepalived matches virtual servers the same way, `ipwrapper.c` `vs_iseq`).

use std::fmt;
use std::net::IpAddr;

use rk_config::model::{self, VirtualServer, VsKey};
use rk_ipvs::{Family, Protocol};

/// A configured `virtual_server`, as keepalived matches it across reloads.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VsId {
    /// `virtual_server IP PORT` with its `protocol`.
    Addr {
        /// Protocol.
        proto: Protocol,
        /// Virtual address.
        addr: IpAddr,
        /// Virtual port (0 for a persistent port-less service).
        port: u16,
    },
    /// `virtual_server fwmark N` with its family.
    Fwmark {
        /// Address family.
        af: Family,
        /// Firewall mark.
        mark: u32,
    },
    /// `virtual_server group NAME` with its `protocol`.
    Group {
        /// Protocol of the group's address entries.
        proto: Protocol,
        /// `virtual_server_group` name.
        name: String,
    },
}

impl VsId {
    /// The identity of a configured virtual server.
    pub fn of(vs: &VirtualServer) -> VsId {
        match &vs.key {
            VsKey::Addr { addr, port } => VsId::Addr {
                proto: protocol(vs.protocol),
                addr: *addr,
                port: *port,
            },
            VsKey::Fwmark { mark } => VsId::Fwmark {
                af: family(vs.family),
                mark: *mark,
            },
            VsKey::Group { name } => VsId::Group {
                proto: protocol(vs.protocol),
                name: name.clone(),
            },
        }
    }
}

impl fmt::Display for VsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VsId::Addr {
                proto,
                addr: IpAddr::V4(a),
                port,
            } => write!(f, "{proto} {a}:{port}"),
            VsId::Addr {
                proto,
                addr: IpAddr::V6(a),
                port,
            } => write!(f, "{proto} [{a}]:{port}"),
            VsId::Fwmark {
                af: Family::Inet,
                mark,
            } => write!(f, "FWM {mark}"),
            VsId::Fwmark {
                af: Family::Inet6,
                mark,
            } => write!(f, "FWM {mark} IPv6"),
            VsId::Group { proto, name } => write!(f, "{proto} group {name}"),
        }
    }
}

/// A configured `real_server` of a virtual server (the sorry server is not one).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RsId {
    /// Its virtual server.
    pub vs: VsId,
    /// Real server address.
    pub addr: IpAddr,
    /// Real server port, as the configuration resolved it.
    pub port: u16,
}

impl RsId {
    /// The identity of real server `rs` of `vs`.
    pub fn of(vs: &VirtualServer, rs: &model::RealServer) -> RsId {
        RsId {
            vs: VsId::of(vs),
            addr: rs.addr,
            port: rs.port,
        }
    }
}

impl fmt::Display for RsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{} of {}", self.port, self.vs),
            IpAddr::V6(a) => write!(f, "[{a}]:{} of {}", self.port, self.vs),
        }
    }
}

/// The IPVS protocol of a configured protocol.
pub(crate) fn protocol(p: model::Protocol) -> Protocol {
    match p {
        model::Protocol::Tcp => Protocol::Tcp,
        model::Protocol::Udp => Protocol::Udp,
        model::Protocol::Sctp => Protocol::Sctp,
    }
}

/// The IPVS family of a configured family.
pub(crate) fn family(f: model::Family) -> Family {
    match f {
        model::Family::Inet => Family::Inet,
        model::Family::Inet6 => Family::Inet6,
    }
}
