//! The link and address event stream (`ip monitor link address`).

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{AsyncSocket, SocketAddr};
use rtnetlink::MulticastGroup;

use crate::addr::Address;
use crate::error::{Error, Result};
use crate::link::Link;

/// Receive buffer of a subscription: large enough that a burst (a bridge with many ports
/// flapping, a few hundred addresses added at once, a table flush) does not overrun it.
const RCVBUF: usize = 4 << 20;

/// Something that changed in the namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A link appeared or changed (flags, carrier, name, MAC, MTU): `RTM_NEWLINK`.
    LinkChanged(Link),
    /// A link was deleted: `RTM_DELLINK`.
    LinkRemoved {
        /// Its index.
        index: u32,
        /// Its name.
        name: String,
    },
    /// An address was added: `RTM_NEWADDR`.
    AddressAdded(Address),
    /// An address was removed: `RTM_DELADDR`.
    AddressRemoved(Address),
    /// The kernel dropped events (socket buffer full): the consumer must re-read the
    /// state it tracks.
    Overrun,
}

/// A subscription to link and IPv4/IPv6 address events.
///
/// Subscribe before reading the initial state, so nothing that happens in between is
/// missed (an event may then describe a state already read; events are idempotent).
#[derive(Debug)]
pub struct Monitor {
    sub: Subscription,
}

/// A multicast subscription on its own socket, shared by [`Monitor`] and
/// [`crate::RouteMonitor`].
#[derive(Debug)]
pub(crate) struct Subscription {
    rx: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
    // Keeps the connection task alive for as long as the subscription lives.
    _handle: rtnetlink::Handle,
}

impl Subscription {
    /// Joins `groups`; the connection task is spawned on the current tokio runtime.
    pub(crate) fn open(groups: &[MulticastGroup]) -> Result<Subscription> {
        let (mut conn, handle, rx) =
            rtnetlink::new_multicast_connection(groups).map_err(Error::Socket)?;
        conn.socket_mut()
            .socket_mut()
            .set_rx_buf_sz(RCVBUF)
            .map_err(Error::Socket)?;
        tokio::spawn(conn);
        Ok(Subscription {
            rx,
            _handle: handle,
        })
    }

    /// The next message's payload; `None` once the connection has stopped.
    pub(crate) async fn next(&mut self) -> Option<NetlinkPayload<RouteNetlinkMessage>> {
        self.rx.next().await.map(|(msg, _)| msg.payload)
    }
}

impl Monitor {
    /// Subscribes to `RTNLGRP_LINK`, `RTNLGRP_IPV4_IFADDR` and `RTNLGRP_IPV6_IFADDR`; the
    /// connection task is spawned on the current tokio runtime.
    pub fn start() -> Result<Monitor> {
        Ok(Monitor {
            sub: Subscription::open(&[
                MulticastGroup::Link,
                MulticastGroup::Ipv4Ifaddr,
                MulticastGroup::Ipv6Ifaddr,
            ])?,
        })
    }

    /// The next event; `None` once the connection has stopped.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(ev) = translate(self.sub.next().await?) {
                return Some(ev);
            }
        }
    }
}

fn translate(payload: NetlinkPayload<RouteNetlinkMessage>) -> Option<Event> {
    match payload {
        NetlinkPayload::InnerMessage(m) => match m {
            RouteNetlinkMessage::NewLink(l) => Link::from_message(&l).map(Event::LinkChanged),
            RouteNetlinkMessage::DelLink(l) => Link::from_message(&l).map(|l| Event::LinkRemoved {
                index: l.index,
                name: l.name,
            }),
            RouteNetlinkMessage::NewAddress(a) => {
                Address::from_message(&a).map(Event::AddressAdded)
            }
            RouteNetlinkMessage::DelAddress(a) => {
                Address::from_message(&a).map(Event::AddressRemoved)
            }
            _ => None,
        },
        NetlinkPayload::Overrun(_) => Some(Event::Overrun),
        _ => None,
    }
}
