//! Building outgoing adverts: [`Transmit`] holds everything one send needs (the advert, the
//! source, every destination, TTL, IP ID, authentication state) and encodes the packet for
//! each destination in turn, as keepalived's `vrrp_send_adv` loops over unicast peers.

use std::net::{IpAddr, Ipv4Addr};

use thiserror::Error;

use super::ipv4::{IPV4_HEADER_LEN, Ipv4Header};
use super::{Advert, Family, TYPE_ADVERTISEMENT, VRRP_HEADER_LEN, Version, vrrp_len};
use crate::auth::{
    AH_LEN, AH_PAYLOAD_LEN, AhHeader, AuthKey, ICV_LEN, IPPROTO_AH, ah_icv, auth_type,
};
use crate::checksum::{IPPROTO_VRRP, Sum, pseudo_header};
use crate::time::Centisecs;

/// Authentication applied to one send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxAuth {
    /// None (v3 always; v2 Auth Type 0).
    None,
    /// VRRPv2 simple password.
    Pass(AuthKey),
    /// VRRPv2 IPsec AH, with the sequence number this send carries.
    Ah {
        /// The HMAC key (the 8-byte password).
        key: AuthKey,
        /// AH sequence number.
        seq: u32,
    },
}

/// How the VRRPv3 IPv4 checksum is formed on send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxChecksum {
    /// RFC 9568 §5.2.8: pseudo-header with the packet's real destination.
    Standard,
    /// keepalived ≤ 1.3.5's unicast form: the pseudo-header carries this multicast group,
    /// not the unicast peer (`old_unicast_checksum`, or detected from the peer's adverts).
    PseudoDst(Ipv4Addr),
    /// `v3_checksum_as_v2`: no pseudo-header (some vendors' v3 implementations).
    AsV2,
}

/// Why an advert could not be encoded. These are configuration errors the daemon should
/// have refused; the state machine never produces them from a valid [`crate::InstanceConfig`].
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is shorter than the packet.
    #[error("buffer of {got} bytes is too small for a {needed}-byte advert")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// More than 255 addresses: the count field is 8 bits.
    #[error("{0} addresses do not fit the 8-bit count field")]
    TooManyAddresses(usize),
    /// An address, the source or the destination is not of the source's family.
    #[error("address {0} is not of the advert's address family")]
    AddressFamily(IpAddr),
    /// The interval does not fit the version's field (v2: whole seconds ≤ 255; v3: ≤ 40.95 s).
    #[error("advert interval {interval} cannot be carried by VRRP{version:?}")]
    IntervalOutOfRange {
        /// The version.
        version: Version,
        /// The interval.
        interval: Centisecs,
    },
    /// VRRPv2 is IPv4 only (RFC 3768).
    #[error("VRRPv2 cannot be sent over IPv6")]
    V2OverIpv6,
    /// Authentication only exists in VRRPv2 (RFC 5798 §9).
    #[error("authentication requires VRRPv2")]
    AuthWithV3,
}

/// Everything one advert send needs, for every destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The advert.
    pub advert: Advert,
    /// Source address (configured `mcast_src_ip` / `unicast_src_ip` or the interface's
    /// primary address).
    pub src: IpAddr,
    /// The multicast group, or each unicast peer in configuration order.
    pub destinations: Vec<IpAddr>,
    /// IPv4 TTL / IPv6 hop limit (255; `unicast_ttl` for unicast).
    pub ttl: u8,
    /// IPv4 Identification (unused for IPv6), never 0: the kernel would replace a 0.
    pub ip_id: u16,
    /// Authentication.
    pub auth: TxAuth,
    /// VRRPv3 IPv4 checksum form.
    pub checksum: TxChecksum,
    /// Unicast send: AH then zeroes the TTL in its ICV (keepalived `vrrp_update_pkt`).
    pub unicast: bool,
}

impl Transmit {
    /// The address family of this send.
    pub fn family(&self) -> Family {
        Family::of(&self.src)
    }

    /// Bytes [`Transmit::encode`] writes: IPv4 header (+ AH) + VRRP message, or, for IPv6,
    /// the VRRP message alone.
    pub fn len(&self) -> usize {
        let family = self.family();
        let vrrp = vrrp_len(self.advert.version, family, self.advert.addresses.len());
        match family {
            Family::V4 => {
                IPV4_HEADER_LEN
                    + vrrp
                    + if matches!(self.auth, TxAuth::Ah { .. }) {
                        AH_LEN
                    } else {
                        0
                    }
            }
            Family::V6 => vrrp,
        }
    }

    /// Always false: an advert has at least its 8-byte header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Encodes the packet for destination `dst` into `buf`; returns its length.
    ///
    /// IPv4: the full packet for an IP_HDRINCL raw socket (TOS 0xC0, protocol 112 or 51,
    /// header checksum filled in). IPv6: the VRRP message with its checksum; the driver sends
    /// it with IPV6_PKTINFO (source) and the hop limit from [`Transmit::ttl`].
    pub fn encode(&self, dst: IpAddr, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let family = self.family();
        let adv = &self.advert;
        if Family::of(&dst) != family {
            return Err(EncodeError::AddressFamily(dst));
        }
        if let Some(a) = adv.addresses.iter().find(|a| Family::of(a) != family) {
            return Err(EncodeError::AddressFamily(*a));
        }
        let count = u8::try_from(adv.addresses.len())
            .map_err(|_| EncodeError::TooManyAddresses(adv.addresses.len()))?;
        let out_of_range = EncodeError::IntervalOutOfRange {
            version: adv.version,
            interval: adv.interval,
        };
        match (adv.version, family) {
            (Version::V2, Family::V6) => return Err(EncodeError::V2OverIpv6),
            (Version::V3, _) if self.auth != TxAuth::None => return Err(EncodeError::AuthWithV3),
            (Version::V3, _) if adv.interval > Centisecs::V3_MAX => return Err(out_of_range),
            (Version::V2, _) if adv.interval.as_whole_secs().is_none() => return Err(out_of_range),
            _ => {}
        }
        let len = self.len();
        let buf = match buf.get_mut(..len) {
            Some(b) => b,
            None => {
                return Err(EncodeError::BufferTooSmall {
                    needed: len,
                    got: buf.len(),
                });
            }
        };

        let ah = matches!(self.auth, TxAuth::Ah { .. });
        let vrrp_off = match family {
            Family::V4 => IPV4_HEADER_LEN + if ah { AH_LEN } else { 0 },
            Family::V6 => 0,
        };
        let msg = &mut buf[vrrp_off..];
        msg[0] = (adv.version.number() << 4) | TYPE_ADVERTISEMENT;
        msg[1] = adv.vrid;
        msg[2] = adv.priority;
        msg[3] = count;
        match adv.version {
            Version::V2 => {
                msg[4] = match self.auth {
                    TxAuth::None => auth_type::NONE,
                    TxAuth::Pass(_) => auth_type::PASS,
                    TxAuth::Ah { .. } => auth_type::AH,
                };
                // Checked above: whole seconds ≤ 255.
                msg[5] = adv.interval.as_whole_secs().unwrap_or(0);
            }
            // 4 reserved bits (zero) + 12-bit interval.
            Version::V3 => msg[4..6].copy_from_slice(&(adv.interval.get() & 0x0FFF).to_be_bytes()),
        }
        msg[6] = 0;
        msg[7] = 0;
        let mut off = VRRP_HEADER_LEN;
        for a in &adv.addresses {
            match a {
                IpAddr::V4(v4) => msg[off..off + 4].copy_from_slice(&v4.octets()),
                IpAddr::V6(v6) => msg[off..off + 16].copy_from_slice(&v6.octets()),
            }
            off += family.addr_len();
        }
        if adv.version == Version::V2 {
            // PASS carries the key; NONE and AH leave the 8 bytes zero (keepalived's
            // zero-filled send buffer).
            let data = match self.auth {
                TxAuth::Pass(k) => k.0,
                _ => [0; 8],
            };
            msg[off..off + 8].copy_from_slice(&data);
        }

        let sum = match (adv.version, family, self.checksum, self.src, dst) {
            (Version::V2, ..) | (Version::V3, Family::V4, TxChecksum::AsV2, ..) => Sum::default(),
            (Version::V3, Family::V4, TxChecksum::PseudoDst(group), src, _) => {
                pseudo_header(src, IpAddr::V4(group), msg.len())
            }
            (Version::V3, _, _, src, dst) => pseudo_header(src, dst, msg.len()),
        };
        let c = sum.add(msg).finish();
        msg[6..8].copy_from_slice(&c.to_be_bytes());

        if let (IpAddr::V4(src), IpAddr::V4(dst4)) = (self.src, dst) {
            let proto = if ah { IPPROTO_AH } else { IPPROTO_VRRP };
            // len ≤ 20 + 24 + 8 + 255×4 + 8: fits 16 bits.
            let total = u16::try_from(len).unwrap_or(u16::MAX);
            Ipv4Header::write(buf, total, self.ip_id, self.ttl, proto, src, dst4);
            if let TxAuth::Ah { key, seq } = self.auth {
                let h = AhHeader {
                    next_header: IPPROTO_VRRP,
                    payload_len: AH_PAYLOAD_LEN,
                    spi: src.octets(),
                    seq,
                    icv: [0; ICV_LEN],
                };
                h.write(&mut buf[IPV4_HEADER_LEN..]);
                // The buffer holds the whole packet: the ICV is always computed.
                if let Some(icv) = ah_icv(&key, buf, IPV4_HEADER_LEN, self.unicast) {
                    buf[IPV4_HEADER_LEN + 12..IPV4_HEADER_LEN + AH_LEN].copy_from_slice(&icv);
                }
            }
        }
        Ok(len)
    }
}
