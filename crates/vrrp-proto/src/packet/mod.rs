//! The VRRP packet codec: [`Advert`], IPv4 header build/parse, [`decode`] with every
//! validation rule keepalived applies, and [`Transmit::encode`].
//!
//! Buffers are what the raw sockets see: on IPv4 the full IP packet (IP_HDRINCL on send, the
//! kernel delivers the header on receive), on IPv6 the VRRP message alone (the kernel builds
//! and strips the header; the driver passes src, dst and hop limit in [`RxMeta`]).

mod decode;
mod encode;
pub mod ipv4;

pub use decode::{
    DecodeError, Header, Received, RxChecksum, RxDelivery, RxMeta, RxRules, VipCheck, VipMismatch,
    decode, peek,
};
pub use encode::{EncodeError, Transmit, TxAuth, TxChecksum};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::time::Centisecs;

/// Fixed part of every VRRP message (both versions): 8 bytes.
pub const VRRP_HEADER_LEN: usize = 8;
/// VRRPv2 authentication data at the end of an IPv4 message: 8 bytes.
pub const V2_AUTH_LEN: usize = 8;
/// The only VRRP packet type, ADVERTISEMENT (RFC 9568 §5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// TTL / hop limit every multicast advert must carry (RFC 9568 §5.1.1.3, §5.1.2.3).
pub const VRRP_TTL: u8 = 255;
/// Priority of the address owner (RFC 9568 §5.2.4).
pub const PRIORITY_OWNER: u8 = 255;
/// Priority a master sends to give up at once (RFC 9568 §5.2.4).
pub const PRIORITY_STOP: u8 = 0;
/// The IPv4 VRRP multicast group (RFC 9568 §5.1.1.2).
pub const MCAST_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The IPv6 VRRP multicast group (RFC 9568 §5.1.2.2).
pub const MCAST_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// VRRP protocol version.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// VRRPv2, RFC 3768: IPv4 only, whole-second intervals, optional v2 authentication.
    V2,
    /// VRRPv3, RFC 5798 / RFC 9568: IPv4 and IPv6, centisecond intervals, no authentication.
    V3,
}

impl Version {
    /// The value of the header's Version nibble.
    pub const fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// Address family of an instance (all its advertised addresses share it).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6 (VRRPv3 only).
    V6,
}

impl Family {
    /// The family of `addr`.
    pub const fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// Bytes per address in the VRRP message.
    pub const fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }
}

/// Length of the VRRP message (no IP, no AH) for `count` addresses.
pub const fn vrrp_len(version: Version, family: Family, count: usize) -> usize {
    let auth = match (version, family) {
        (Version::V2, Family::V4) => V2_AUTH_LEN,
        _ => 0,
    };
    VRRP_HEADER_LEN + count * family.addr_len() + auth
}

/// A VRRP advertisement: the content of the VRRP message, either version, either family.
///
/// VRRPv2 (RFC 3768 §5.1):
/// ```text
///     0                   1                   2                   3
///     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |   Auth Type   |   Adver Int   |          Checksum             |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                         IP Address (1)                        |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                            .                                  |
///    |                            .                                  |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                         IP Address (n)                        |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                     Authentication Data (1)                   |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                     Authentication Data (2)                   |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// VRRPv3 (RFC 9568 §5.1; IPv4 or IPv6 addresses, no authentication):
/// ```text
///     0                   1                   2                   3
///     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |(rsvd) |     Max Adver Int     |          Checksum             |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                                                               |
///    +                                                               +
///    |                       IPvX Address(es)                        |
///    +                                                               +
///    |                                                               |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The checksum and the v2 authentication fields are not stored here: they are computed by
/// [`Transmit::encode`] and checked by [`decode`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Advert {
    /// Protocol version.
    pub version: Version,
    /// Virtual Router ID (1..=255).
    pub vrid: u8,
    /// Sender's priority: 255 owner, 0 "master stopping".
    pub priority: u8,
    /// Advertisement interval. v2 carries whole seconds, v3 12 bits of centiseconds.
    pub interval: Centisecs,
    /// The virtual addresses, all of one family.
    pub addresses: Vec<IpAddr>,
}
