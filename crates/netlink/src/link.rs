//! Links: lookups by name or index, up/down, deletion, macvlan creation.

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, MacVlanMode,
};

use crate::error::{Error, Result};
use crate::handle::Netlink;

/// A network interface as the kernel describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Hardware address, when the link has a 6-byte one (Ethernet, veth, macvlan, bridge).
    pub mac: Option<[u8; 6]>,
    /// MTU.
    pub mtu: Option<u32>,
    /// Administratively up (`IFF_UP`).
    pub admin_up: bool,
    /// Operationally up (`IFF_RUNNING`: carrier present).
    pub running: bool,
    /// Link kind (`veth`, `macvlan`, `bridge`, …) for virtual links.
    pub kind: Option<String>,
    /// The lower device (`IFLA_LINK`) of a macvlan, vlan, …
    pub parent: Option<u32>,
    /// The mode of a macvlan.
    pub macvlan_mode: Option<MacvlanMode>,
}

impl Link {
    /// Up in the sense VRRP cares about: administratively up and with carrier
    /// (keepalived's `IF_ISUP`: `IFF_UP && IFF_RUNNING`).
    pub fn is_up(&self) -> bool {
        self.admin_up && self.running
    }

    /// The MAC formatted as `aa:bb:cc:dd:ee:ff`.
    pub fn mac_string(&self) -> Option<String> {
        self.mac.map(|m| format_mac(&m))
    }

    /// Reads a link message; `None` when it has no name (never seen from the kernel).
    pub(crate) fn from_message(m: &LinkMessage) -> Option<Link> {
        let mut link = Link {
            index: m.header.index,
            name: String::new(),
            mac: None,
            mtu: None,
            admin_up: m.header.flags.contains(LinkFlags::Up),
            running: m.header.flags.contains(LinkFlags::Running),
            kind: None,
            parent: None,
            macvlan_mode: None,
        };
        for a in &m.attributes {
            match a {
                LinkAttribute::IfName(n) => link.name = n.clone(),
                LinkAttribute::Address(b) => link.mac = <[u8; 6]>::try_from(b.as_slice()).ok(),
                LinkAttribute::Mtu(v) => link.mtu = Some(*v),
                LinkAttribute::Link(p) => link.parent = Some(*p),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        match i {
                            LinkInfo::Kind(k) => link.kind = Some(k.to_string()),
                            LinkInfo::Data(InfoData::MacVlan(d)) => {
                                for x in d {
                                    if let InfoMacVlan::Mode(mode) = x {
                                        link.macvlan_mode = Some(MacvlanMode::from(*mode));
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        (!link.name.is_empty()).then_some(link)
    }
}

/// macvlan modes (`ip link add … type macvlan mode M`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MacvlanMode {
    /// No traffic between macvlans of the same parent (keepalived's VMAC mode).
    Private,
    /// Traffic between macvlans goes out to the switch and back.
    Vepa,
    /// macvlans of one parent talk directly.
    Bridge,
    /// One macvlan takes over the parent.
    Passthru,
    /// Source-MAC filtered.
    Source,
    /// A mode this crate does not know.
    Other(u32),
}

impl From<MacVlanMode> for MacvlanMode {
    fn from(m: MacVlanMode) -> Self {
        match m {
            MacVlanMode::Private => MacvlanMode::Private,
            MacVlanMode::Vepa => MacvlanMode::Vepa,
            MacVlanMode::Bridge => MacvlanMode::Bridge,
            MacVlanMode::Passthrough => MacvlanMode::Passthru,
            MacVlanMode::Source => MacvlanMode::Source,
            MacVlanMode::Other(v) => MacvlanMode::Other(v),
            // A mode added to netlink-packet-route later.
            _ => MacvlanMode::Other(u32::MAX),
        }
    }
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

impl Netlink {
    /// Every link of the namespace.
    pub async fn links(&self) -> Result<Vec<Link>> {
        let msg = RouteNetlinkMessage::GetLink(LinkMessage::default());
        let answer = self
            .request(msg, NLM_F_REQUEST | NLM_F_DUMP, || "list links".into())
            .await?;
        Ok(answer
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Link::from_message(l),
                _ => None,
            })
            .collect())
    }

    /// The link called `name`, or `None`.
    pub async fn link_by_name(&self, name: &str) -> Result<Option<Link>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        self.get_one(m, || format!("look up interface {name}"))
            .await
    }

    /// The link with index `index`, or `None`.
    pub async fn link_by_index(&self, index: u32) -> Result<Option<Link>> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.get_one(m, || format!("look up interface index {index}"))
            .await
    }

    async fn get_one(&self, m: LinkMessage, op: impl Fn() -> String) -> Result<Option<Link>> {
        match self
            .request(RouteNetlinkMessage::GetLink(m), NLM_F_REQUEST, op)
            .await
        {
            Ok(answer) => Ok(answer.iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Link::from_message(l),
                _ => None,
            })),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets a link administratively up or down (`ip link set dev X up|down`).
    pub async fn set_link_up(&self, index: u32, up: bool) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.change_mask = LinkFlags::Up;
        if up {
            m.header.flags = LinkFlags::Up;
        }
        self.request(
            RouteNetlinkMessage::SetLink(m),
            NLM_F_REQUEST | NLM_F_ACK,
            || {
                format!(
                    "set interface index {index} {}",
                    if up { "up" } else { "down" }
                )
            },
        )
        .await?;
        Ok(())
    }

    /// Deletes a link (`ip link del`).
    pub async fn del_link(&self, index: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        self.request(
            RouteNetlinkMessage::DelLink(m),
            NLM_F_REQUEST | NLM_F_ACK,
            || format!("delete interface index {index}"),
        )
        .await?;
        Ok(())
    }

    /// Creates a macvlan `name` on `parent` with `mac` in `mode`, administratively down
    /// (so the caller can set sysctls before it sends anything), and returns it.
    pub async fn add_macvlan(
        &self,
        name: &str,
        parent: u32,
        mac: [u8; 6],
        mode: MacvlanMode,
    ) -> Result<Link> {
        let kernel_mode = match mode {
            MacvlanMode::Private => MacVlanMode::Private,
            MacvlanMode::Vepa => MacVlanMode::Vepa,
            MacvlanMode::Bridge => MacVlanMode::Bridge,
            MacvlanMode::Passthru => MacVlanMode::Passthrough,
            MacvlanMode::Source => MacVlanMode::Source,
            MacvlanMode::Other(v) => MacVlanMode::Other(v),
        };
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::Link(parent));
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::MacVlan),
            LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(kernel_mode)])),
        ]));
        let op = || {
            format!(
                "create macvlan {name} on interface index {parent} with MAC {}",
                format_mac(&mac)
            )
        };
        self.request(
            RouteNetlinkMessage::NewLink(m),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            op,
        )
        .await?;
        self.link_by_name(name)
            .await?
            .ok_or_else(|| Error::UnexpectedReply {
                op: op(),
                detail: "created, then not found".into(),
            })
    }
}
