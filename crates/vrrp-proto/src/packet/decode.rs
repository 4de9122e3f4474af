//! Receiving adverts: [`peek`] finds the VRID for dispatch, [`decode`] applies every check of
//! keepalived 2.2.7's `vrrp_get_header` + `vrrp_check_packet`, in the same order, each failure
//! its own [`DecodeError`] variant (and so its own counter in [`crate::DecodeCounters`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use super::ipv4::{Ipv4Header, Ipv4ParseError};
use super::{Advert, Family, TYPE_ADVERTISEMENT, VRRP_HEADER_LEN, VRRP_TTL, Version, vrrp_len};
use crate::auth::{AH_LEN, AhHeader, Auth, IPPROTO_AH, ah_icv, auth_type, ct_eq};
use crate::checksum::{IPPROTO_VRRP, Sum, pseudo_header};
use crate::instance::UnicastPeer;
use crate::time::Centisecs;

/// What the driver knows about a received packet besides its bytes.
///
/// IPv4 raw sockets deliver the IP header, which is authoritative for source, destination
/// and TTL, so there is nothing to pass. IPv6 raw sockets strip the header: source from
/// `recvmsg`'s address, destination from `IPV6_PKTINFO`, hop limit from `IPV6_HOPLIMIT`.
/// An enum rather than optional fields, so conflicting values cannot be passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxMeta {
    /// The buffer starts with the IPv4 header.
    Ipv4,
    /// The buffer is the VRRP message; the header's fields come from ancillary data.
    Ipv6 {
        /// Source address.
        src: Ipv6Addr,
        /// Destination address (multicast group or our unicast address).
        dst: Ipv6Addr,
        /// Hop limit; `None` if the kernel gave none, and the check is then skipped, as
        /// keepalived does (its `rx_ttl_hop_limit = -1`).
        hop_limit: Option<u8>,
    },
}

impl RxMeta {
    /// The address family of the packet.
    pub fn family(&self) -> Family {
        match self {
            RxMeta::Ipv4 => Family::V4,
            RxMeta::Ipv6 { .. } => Family::V6,
        }
    }
}

/// The fixed VRRP header fields and the addressing of a packet, read by [`peek`] before any
/// instance is known (the driver dispatches on `vrid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Version nibble as received.
    pub version: u8,
    /// Type nibble as received.
    pub kind: u8,
    /// Virtual Router ID.
    pub vrid: u8,
    /// Priority.
    pub priority: u8,
    /// Count of addresses announced.
    pub count: u8,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6, if known).
    pub ttl: Option<u8>,
    /// Whether an AH header precedes the VRRP message (IPv4 protocol 51).
    pub ah: bool,
    /// IPv4 header length (0 for IPv6).
    ip_header_len: usize,
    /// Offset of the VRRP message in the buffer.
    vrrp_offset: usize,
}

/// Which received checksum forms are accepted (VRRPv3 over IPv4; IPv6 always uses the
/// pseudo-header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxChecksum {
    /// RFC 9568 §5.2.8: pseudo-header with the packet's destination.
    Standard,
    /// Standard, or else keepalived ≤ 1.3.5's unicast form with this group as the
    /// pseudo-header destination; [`Received::old_unicast_checksum`] says which matched
    /// (keepalived's automatic `unicast_chksum_compat`).
    StandardOrGroup(Ipv4Addr),
    /// Only the old unicast form (`old_unicast_checksum`, or already detected).
    Group(Ipv4Addr),
    /// `v3_checksum_as_v2`: no pseudo-header. The standard form is accepted too, so a peer
    /// that was not switched still interoperates (keepalived checks nothing in this mode).
    AsV2,
}

/// How the instance receives: multicast, or unicast from its peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxDelivery<'a> {
    /// Multicast: destination must be multicast, TTL/hop limit must be 255.
    Multicast,
    /// Unicast: destination must be unicast, the TTL is not checked (RFC 9568 allows routed
    /// unicast), except against a peer's `min_ttl`/`max_ttl` when `check_src` is set.
    Unicast {
        /// The configured peers.
        peers: &'a [UnicastPeer],
        /// `check_unicast_src`: the source must be one of `peers`.
        check_src: bool,
    },
}

/// Whether and how the advertised addresses are compared with ours
/// (RFC 3768 §7.1 / RFC 9568 §7.1 "MAY verify").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VipCheck<'a> {
    /// Not checked (the same master as last time with `skip_check_adv_addr`).
    Skip,
    /// keepalived ≤ 2.3.2 (2.2.7 included): a count or list mismatch rejects the advert.
    Reject(&'a [IpAddr]),
    /// keepalived ≥ 2.3.3 / RFC 9568: a mismatch is counted and the advert accepted.
    CountOnly(&'a [IpAddr]),
}

/// What the receiving instance expects, built by [`crate::Instance`] from its config and
/// state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RxRules<'a> {
    /// Configured version.
    pub version: Version,
    /// Our VRID.
    pub vrid: u8,
    /// Our authentication (VRRPv2 only).
    pub auth: Auth,
    /// Our advert interval; VRRPv2 drops adverts with another one.
    pub adver_int: Centisecs,
    /// Multicast or unicast.
    pub delivery: RxDelivery<'a>,
    /// Advertised address check.
    pub vips: VipCheck<'a>,
    /// Accepted checksum forms.
    pub checksum: RxChecksum,
    /// Highest AH sequence number seen or sent so far (keepalived shares one counter).
    pub ah_last_seq: u32,
}

/// A received advert that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// The advert.
    pub advert: Advert,
    /// Source address (the sender's primary or configured address).
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// TTL / hop limit, if known.
    pub ttl: Option<u8>,
    /// AH sequence number, when AH is in use.
    pub ah_seq: Option<u32>,
    /// A mismatch of the advertised addresses accepted under [`VipCheck::CountOnly`].
    pub vip_mismatch: Option<VipMismatch>,
    /// The checksum only verified in keepalived ≤ 1.3.5's unicast form.
    pub old_unicast_checksum: bool,
}

/// How the advertised addresses differ from ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VipMismatch {
    /// A different number of addresses.
    Count {
        /// Ours.
        expected: usize,
        /// In the advert.
        got: u8,
    },
    /// One of ours is not in the advert.
    Missing(IpAddr),
}

/// Why a received packet was dropped: one variant per rule, in keepalived's order.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than its headers and announced addresses.
    #[error("packet truncated: {got} bytes, {needed} needed")]
    Truncated {
        /// Bytes the headers and count announce.
        needed: usize,
        /// Bytes received.
        got: usize,
    },
    /// Longer than its headers and announced addresses (keepalived's "packet too long").
    #[error("packet too long: {got} bytes, {expected} expected")]
    TooLong {
        /// Bytes the headers and count announce.
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// An IPv4 buffer whose version nibble is not 4.
    #[error("not an IPv4 header (version {0})")]
    NotIpv4(u8),
    /// IPv4 IHL below 5.
    #[error("bad IPv4 header length {0}")]
    BadIhl(u8),
    /// IPv4 protocol neither VRRP (112) nor AH (51).
    #[error("IPv4 protocol {0} is neither VRRP nor AH")]
    BadProtocol(u8),
    /// Another VRID than the instance's.
    #[error("VRID {got}, expected {expected}")]
    VridMismatch {
        /// Ours.
        expected: u8,
        /// Received.
        got: u8,
    },
    /// An AH header where we expect none, or none where we expect one.
    #[error("AH header {}", if *ah_present { "present but auth type is not AH" } else { "missing but auth type is AH" })]
    AhPresenceMismatch {
        /// Whether the packet had an AH header.
        ah_present: bool,
    },
    /// TTL / hop limit other than 255 on a multicast instance (RFC 9568 §7.1).
    #[error("TTL/hop limit {0}, expected 255")]
    BadTtl(u8),
    /// Another VRRP version than configured.
    #[error("VRRP version {got}, expected {expected}")]
    VersionMismatch {
        /// Ours.
        expected: u8,
        /// Received.
        got: u8,
    },
    /// VRRPv2 Auth Type other than 0, 1 or 2.
    #[error("invalid auth type {0}")]
    InvalidAuthType(u8),
    /// VRRPv2 Auth Type differs from ours.
    #[error("auth type {got}, expected {expected}")]
    AuthTypeMismatch {
        /// Ours.
        expected: u8,
        /// Received.
        got: u8,
    },
    /// PASS authentication with a wrong password.
    #[error("wrong password")]
    BadPassword,
    /// An AH header protecting something other than VRRP.
    #[error("AH next header {0} is not VRRP")]
    AhNextHeader(u8),
    /// The AH ICV does not verify (wrong key or modified packet).
    #[error("AH ICV does not verify")]
    AhIcv,
    /// The AH SPI is not the packet's source address.
    #[error("AH SPI is not the source address")]
    AhSpi,
    /// The AH sequence number is not above the last one seen (replay).
    #[error("AH sequence {seq} not above {last}")]
    AhReplay {
        /// Received.
        seq: u32,
        /// Highest seen.
        last: u32,
    },
    /// VRRPv2 advert interval differs from ours (RFC 3768 §7.1: MUST discard).
    #[error("advert interval {got}, ours {expected}")]
    AdvertIntervalMismatch {
        /// Ours.
        expected: Centisecs,
        /// Received.
        got: Centisecs,
    },
    /// Type other than ADVERTISEMENT (1).
    #[error("packet type {0}, expected 1")]
    BadType(u8),
    /// The address count differs from ours (rejected under [`VipCheck::Reject`]).
    #[error("{got} addresses advertised, {expected} configured")]
    AddressCountMismatch {
        /// Ours.
        expected: usize,
        /// Received.
        got: u8,
    },
    /// IPv4 Total Length differs from the bytes received.
    #[error("IPv4 total length {header}, {got} bytes received")]
    IpTotalLength {
        /// The header's Total Length.
        header: u16,
        /// Bytes received.
        got: usize,
    },
    /// The VRRP checksum does not verify.
    #[error("bad checksum {0:#06x}")]
    BadChecksum(u16),
    /// A multicast packet on a unicast instance or the reverse.
    #[error("{} packet on a {} instance", if *multicast { "multicast" } else { "unicast" }, if *multicast { "unicast" } else { "multicast" })]
    DeliveryMismatch {
        /// Whether the packet was multicast.
        multicast: bool,
    },
    /// One of our addresses is missing from the advert (rejected under [`VipCheck::Reject`]).
    #[error("address {0} missing from the advert")]
    AddressListMismatch(IpAddr),
    /// Unicast source not among the peers (`check_unicast_src`).
    #[error("unicast source {0} is not a configured peer")]
    UnknownPeer(IpAddr),
    /// TTL outside the peer's `min_ttl`..=`max_ttl`.
    #[error("TTL {ttl} outside {min}..={max}")]
    TtlOutOfRange {
        /// Received.
        ttl: u8,
        /// Peer's minimum.
        min: u8,
        /// Peer's maximum.
        max: u8,
    },
    /// The packet's address family is not the instance's.
    #[error("address family differs from the instance's")]
    FamilyMismatch,
}

/// Reads the VRRP header and the addressing without validating more than the lengths needed
/// to reach them (keepalived's `vrrp_get_header`). The driver uses it to find the instance.
pub fn peek(buf: &[u8], meta: &RxMeta) -> Result<Header, DecodeError> {
    match *meta {
        RxMeta::Ipv4 => {
            let ip = Ipv4Header::parse(buf).map_err(|e| match e {
                Ipv4ParseError::Short { needed } => DecodeError::Truncated {
                    needed,
                    got: buf.len(),
                },
                Ipv4ParseError::Version(v) => DecodeError::NotIpv4(v),
                Ipv4ParseError::Ihl(i) => DecodeError::BadIhl(i),
            })?;
            let ah = match ip.protocol {
                IPPROTO_VRRP => false,
                IPPROTO_AH => true,
                p => return Err(DecodeError::BadProtocol(p)),
            };
            let vrrp_offset = ip.header_len + if ah { AH_LEN } else { 0 };
            let h = vrrp_fixed(buf, vrrp_offset)?;
            Ok(Header {
                src: IpAddr::V4(ip.src),
                dst: IpAddr::V4(ip.dst),
                ttl: Some(ip.ttl),
                ah,
                ip_header_len: ip.header_len,
                vrrp_offset,
                ..h
            })
        }
        RxMeta::Ipv6 {
            src,
            dst,
            hop_limit,
        } => {
            let h = vrrp_fixed(buf, 0)?;
            Ok(Header {
                src: IpAddr::V6(src),
                dst: IpAddr::V6(dst),
                ttl: hop_limit,
                ..h
            })
        }
    }
}

/// The 8 fixed VRRP bytes at `off`; addressing fields are placeholders filled by [`peek`].
fn vrrp_fixed(buf: &[u8], off: usize) -> Result<Header, DecodeError> {
    let needed = off + VRRP_HEADER_LEN;
    let b = buf.get(off..needed).ok_or(DecodeError::Truncated {
        needed,
        got: buf.len(),
    })?;
    Ok(Header {
        version: b[0] >> 4,
        kind: b[0] & 0x0F,
        vrid: b[1],
        priority: b[2],
        count: b[3],
        src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        ttl: None,
        ah: false,
        ip_header_len: 0,
        vrrp_offset: off,
    })
}

/// Decodes and validates a received packet for an instance with `rules`.
///
/// Check order follows keepalived 2.2.7 (`vrrp_check_packet`), so a packet with several
/// faults is counted under the same reason keepalived would log. Checks keepalived leaves to
/// the socket layer (VRID dispatch, family) come first.
pub fn decode(buf: &[u8], meta: &RxMeta, rules: &RxRules<'_>) -> Result<Received, DecodeError> {
    let h = peek(buf, meta)?;
    let family = meta.family();
    if h.vrid != rules.vrid {
        return Err(DecodeError::VridMismatch {
            expected: rules.vrid,
            got: h.vrid,
        });
    }

    // AH present ⇔ auth type AH.
    if family == Family::V4 && h.ah != rules.auth.is_ah() {
        return Err(DecodeError::AhPresenceMismatch { ah_present: h.ah });
    }

    // Length: the packet holds exactly its headers and the announced addresses. The version
    // nibble decides whether the 8 v2 auth bytes are expected, as in keepalived.
    let pkt_version = if h.version == 2 {
        Version::V2
    } else {
        Version::V3
    };
    let msg_len = vrrp_len(pkt_version, family, usize::from(h.count));
    let expected = h.vrrp_offset + msg_len;
    if buf.len() < expected {
        return Err(DecodeError::Truncated {
            needed: expected,
            got: buf.len(),
        });
    }
    if buf.len() > expected {
        return Err(DecodeError::TooLong {
            expected,
            got: buf.len(),
        });
    }
    let msg = &buf[h.vrrp_offset..];

    // TTL / hop limit 255, except in unicast (RFC 9568 §7.1, keepalived).
    let unicast = matches!(rules.delivery, RxDelivery::Unicast { .. });
    if let (false, Some(ttl)) = (unicast, h.ttl)
        && ttl != VRRP_TTL
    {
        return Err(DecodeError::BadTtl(ttl));
    }

    if h.version != rules.version.number() {
        return Err(DecodeError::VersionMismatch {
            expected: rules.version.number(),
            got: h.version,
        });
    }

    let mut ah_seq = None;
    if rules.version == Version::V2 {
        let got = msg[4];
        if !matches!(got, auth_type::NONE | auth_type::PASS | auth_type::AH) {
            return Err(DecodeError::InvalidAuthType(got));
        }
        let expected = rules.auth.type_code();
        if got != expected {
            return Err(DecodeError::AuthTypeMismatch { expected, got });
        }
        match rules.auth {
            Auth::None => {}
            Auth::Pass(key) => {
                if !ct_eq(&msg[msg.len() - 8..], &key.0) {
                    return Err(DecodeError::BadPassword);
                }
            }
            Auth::Ah(key) => {
                let ah =
                    AhHeader::parse(&buf[h.ip_header_len..]).ok_or(DecodeError::Truncated {
                        needed: h.ip_header_len + AH_LEN,
                        got: buf.len(),
                    })?;
                if ah.next_header != IPPROTO_VRRP {
                    return Err(DecodeError::AhNextHeader(ah.next_header));
                }
                // ICV first: nothing else in the packet can be trusted before it verifies.
                let Some(icv) = ah_icv(&key, buf, h.ip_header_len, unicast) else {
                    return Err(DecodeError::AhIcv);
                };
                if !ct_eq(&icv, &ah.icv) {
                    return Err(DecodeError::AhIcv);
                }
                if IpAddr::V4(Ipv4Addr::from(ah.spi)) != h.src {
                    return Err(DecodeError::AhSpi);
                }
                if ah.seq <= rules.ah_last_seq {
                    return Err(DecodeError::AhReplay {
                        seq: ah.seq,
                        last: rules.ah_last_seq,
                    });
                }
                ah_seq = Some(ah.seq);
            }
        }
        // RFC 3768 §7.1: MUST discard on an interval mismatch.
        let got = Centisecs::from_secs(msg[5]);
        if got != rules.adver_int {
            return Err(DecodeError::AdvertIntervalMismatch {
                expected: rules.adver_int,
                got,
            });
        }
    }

    if h.kind != TYPE_ADVERTISEMENT {
        return Err(DecodeError::BadType(h.kind));
    }

    let mut vip_mismatch = None;
    let (ours, reject) = match rules.vips {
        VipCheck::Skip => (None, false),
        VipCheck::Reject(v) => (Some(v), true),
        VipCheck::CountOnly(v) => (Some(v), false),
    };
    if let Some(ours) = ours
        && usize::from(h.count) != ours.len()
    {
        if reject {
            return Err(DecodeError::AddressCountMismatch {
                expected: ours.len(),
                got: h.count,
            });
        }
        vip_mismatch = Some(VipMismatch::Count {
            expected: ours.len(),
            got: h.count,
        });
    }

    if let RxMeta::Ipv4 = meta {
        let total = u16::from_be_bytes([buf[2], buf[3]]);
        if usize::from(total) != buf.len() {
            return Err(DecodeError::IpTotalLength {
                header: total,
                got: buf.len(),
            });
        }
    }

    let old_unicast_checksum = verify_checksum(msg, &h, family, rules.checksum)?;

    let multicast = h.dst.is_multicast();
    if multicast == unicast {
        return Err(DecodeError::DeliveryMismatch { multicast });
    }

    let addresses = parse_addresses(&msg[VRRP_HEADER_LEN..], family, h.count);

    if let Some(ours) = ours
        && vip_mismatch.is_none()
        && let Some(missing) = ours.iter().find(|a| !addresses.contains(a))
    {
        if reject {
            return Err(DecodeError::AddressListMismatch(*missing));
        }
        vip_mismatch = Some(VipMismatch::Missing(*missing));
    }

    if let RxDelivery::Unicast {
        peers,
        check_src: true,
    } = rules.delivery
    {
        let peer = peers
            .iter()
            .find(|p| p.addr == h.src)
            .ok_or(DecodeError::UnknownPeer(h.src))?;
        if let Some(ttl) = h.ttl
            && !(peer.min_ttl..=peer.max_ttl).contains(&ttl)
        {
            return Err(DecodeError::TtlOutOfRange {
                ttl,
                min: peer.min_ttl,
                max: peer.max_ttl,
            });
        }
    }

    let interval = match rules.version {
        Version::V2 => Centisecs::from_secs(msg[5]),
        Version::V3 => Centisecs(u16::from_be_bytes([msg[4], msg[5]]) & 0x0FFF),
    };
    Ok(Received {
        advert: Advert {
            version: rules.version,
            vrid: h.vrid,
            priority: h.priority,
            interval,
            addresses,
        },
        src: h.src,
        dst: h.dst,
        ttl: h.ttl,
        ah_seq,
        vip_mismatch,
        old_unicast_checksum,
    })
}

/// Verifies the VRRP checksum; `Ok(true)` when only the old unicast form matched.
fn verify_checksum(
    msg: &[u8],
    h: &Header,
    family: Family,
    mode: RxChecksum,
) -> Result<bool, DecodeError> {
    let got = u16::from_be_bytes([msg[6], msg[7]]);
    let ok = |s: Sum| s.add(msg).finish() == 0;
    let with_dst = |dst: IpAddr| ok(pseudo_header(h.src, dst, msg.len()));
    let verified = match (h.version, family, mode) {
        (2, ..) => (ok(Sum::default()), false),
        (_, Family::V6, _) | (_, Family::V4, RxChecksum::Standard) => (with_dst(h.dst), false),
        (_, Family::V4, RxChecksum::AsV2) => (ok(Sum::default()) || with_dst(h.dst), false),
        (_, Family::V4, RxChecksum::Group(g)) => (with_dst(IpAddr::V4(g)), false),
        (_, Family::V4, RxChecksum::StandardOrGroup(g)) => {
            if with_dst(h.dst) {
                (true, false)
            } else {
                // Only a unicast packet can be in the old form.
                let old = !h.dst.is_multicast() && with_dst(IpAddr::V4(g));
                (old, old)
            }
        }
    };
    match verified {
        (true, old) => Ok(old),
        (false, _) => Err(DecodeError::BadChecksum(got)),
    }
}

fn parse_addresses(b: &[u8], family: Family, count: u8) -> Vec<IpAddr> {
    let n = usize::from(count);
    match family {
        Family::V4 => b
            .chunks_exact(4)
            .take(n)
            .map(|c| IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])))
            .collect(),
        Family::V6 => b
            .chunks_exact(16)
            .take(n)
            .map(|c| {
                let mut o = [0u8; 16];
                o.copy_from_slice(c);
                IpAddr::V6(Ipv6Addr::from(o))
            })
            .collect(),
    }
}
