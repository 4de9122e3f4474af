//! VRRPv2 authentication as keepalived implements it (RFC 2338 §5.3.6, RFC 2402).
//!
//! * **PASS** ("simple text password", type 1): 8 bytes at the end of the VRRPv2 message.
//! * **AH** (type 2, IPv4 only): an IPsec Authentication Header between the IPv4 header and
//!   the VRRP message. keepalived does not use the kernel's IPsec; it builds and checks the
//!   header itself: next header 112, payload length 4, SPI = the sender's IPv4 address,
//!   a sequence number for anti-replay, and a 96-bit ICV = HMAC-MD5 keyed by the 8-byte
//!   password over the IPv4 header (mutable fields zeroed), the AH header (ICV zeroed) and
//!   the VRRP message (`vrrp_build_ipsecah`, `vrrp_update_pkt`, `vrrp_in_chk_ipsecah`).
//!
//! VRRPv3 has no authentication (RFC 5798 §9); the codec rejects it there.

use md5::{Digest, Md5};

/// Auth Type values of the VRRPv2 header (RFC 2338 §5.3.6).
pub mod auth_type {
    /// No authentication.
    pub const NONE: u8 = 0;
    /// Simple text password.
    pub const PASS: u8 = 1;
    /// IPsec AH (keepalived's HMAC-MD5-96).
    pub const AH: u8 = 2;
}

/// IANA protocol number of AH: the IPv4 protocol field when AH is in use.
pub const IPPROTO_AH: u8 = 51;
/// Size of keepalived's AH header: 12 fixed bytes + a 12-byte ICV.
pub const AH_LEN: usize = 24;
/// AH Payload Len: the header length in 32-bit words minus 2 (RFC 2402 §2.2): 6 − 2.
pub const AH_PAYLOAD_LEN: u8 = 4;
/// Length of the truncated HMAC-MD5 ICV (RFC 2403 §2: 96 bits).
pub const ICV_LEN: usize = 12;

/// The 8-byte authentication key, as keepalived stores `auth_pass`: the password's bytes,
/// truncated to 8 or padded with zero bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AuthKey(pub [u8; 8]);

impl AuthKey {
    /// The key for password `pass` (truncated to 8 bytes or zero-padded).
    pub fn new(pass: &[u8]) -> Self {
        let mut k = [0u8; 8];
        let n = pass.len().min(8);
        k[..n].copy_from_slice(&pass[..n]);
        AuthKey(k)
    }
}

impl std::fmt::Debug for AuthKey {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthKey(..)")
    }
}

/// An instance's authentication (VRRPv2 only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Auth {
    /// No authentication (type 0; the 8 auth bytes are zero).
    #[default]
    None,
    /// Simple password (type 1).
    Pass(AuthKey),
    /// IPsec AH with HMAC-MD5-96 (type 2), IPv4 only.
    Ah(AuthKey),
}

impl Auth {
    /// The Auth Type value this authentication puts in the VRRPv2 header.
    pub fn type_code(&self) -> u8 {
        match self {
            Auth::None => auth_type::NONE,
            Auth::Pass(_) => auth_type::PASS,
            Auth::Ah(_) => auth_type::AH,
        }
    }

    /// True for AH, which changes the IPv4 protocol to 51 and inserts the AH header.
    pub fn is_ah(&self) -> bool {
        matches!(self, Auth::Ah(_))
    }
}

/// HMAC-MD5 (RFC 2104) of the concatenation of `parts`, keyed by `key` (≤ 64 bytes: the
/// 8-byte VRRP key always is).
pub(crate) fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..16].copy_from_slice(&Md5::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; BLOCK];
    let mut opad = [0x5cu8; BLOCK];
    for i in 0..BLOCK {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let mut inner = Md5::new();
    inner.update(ipad);
    for p in parts {
        inner.update(p);
    }
    let inner = inner.finalize();
    let mut outer = Md5::new();
    outer.update(opad);
    outer.update(inner);
    outer.finalize().into()
}

/// Compares two byte strings in time independent of where they differ (passwords, ICVs).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The fields of keepalived's AH header (RFC 2402 §2).
///
/// ```text
///     0                   1                   2                   3
///     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    | Next Header   |  Payload Len  |          RESERVED             |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                 Security Parameters Index (SPI)               |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |                    Sequence Number Field                      |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |       Authentication Data: HMAC-MD5-96 ICV (12 bytes)         |
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AhHeader {
    /// Next Header: 112 (VRRP) in every header keepalived builds.
    pub next_header: u8,
    /// Payload Len: [`AH_PAYLOAD_LEN`].
    pub payload_len: u8,
    /// SPI: keepalived puts the sender's IPv4 address here, as raw octets.
    pub spi: [u8; 4],
    /// Sequence number (anti-replay).
    pub seq: u32,
    /// The truncated HMAC-MD5 ICV.
    pub icv: [u8; ICV_LEN],
}

impl AhHeader {
    /// Parses the first [`AH_LEN`] bytes of `b`; `None` if shorter.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let b = b.get(..AH_LEN)?;
        let mut icv = [0u8; ICV_LEN];
        icv.copy_from_slice(&b[12..24]);
        Some(AhHeader {
            next_header: b[0],
            payload_len: b[1],
            spi: [b[4], b[5], b[6], b[7]],
            seq: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            icv,
        })
    }

    /// Writes the header into the first [`AH_LEN`] bytes of `b` (which must be that long).
    pub fn write(&self, b: &mut [u8]) {
        b[0] = self.next_header;
        b[1] = self.payload_len;
        b[2] = 0;
        b[3] = 0;
        b[4..8].copy_from_slice(&self.spi);
        b[8..12].copy_from_slice(&self.seq.to_be_bytes());
        b[12..24].copy_from_slice(&self.icv);
    }
}

/// Computes the AH ICV over an IPv4 packet laid out as `ip header | AH | VRRP`.
///
/// `packet` is the whole packet; `ihl` the IPv4 header length in bytes (20..=60). `None` if
/// `ihl` is out of range or the packet is shorter than `ihl` + [`AH_LEN`]. The ICV covers a copy
/// of the IPv4 header with TOS, fragment offset/flags and header checksum zeroed (and the TTL
/// too when `zero_ttl`, keepalived's unicast rule since unicast TTLs may be changed by
/// routers), then the AH header with its ICV zeroed, then the rest of the packet.
pub fn ah_icv(key: &AuthKey, packet: &[u8], ihl: usize, zero_ttl: bool) -> Option<[u8; ICV_LEN]> {
    let mut hdr = [0u8; 60 + AH_LEN];
    let fixed = ihl + AH_LEN;
    if !(20..=60).contains(&ihl) || packet.len() < fixed {
        return None;
    }
    hdr[..fixed].copy_from_slice(&packet[..fixed]);
    hdr[1] = 0; // TOS
    hdr[6] = 0; // flags + fragment offset
    hdr[7] = 0;
    hdr[10] = 0; // header checksum
    hdr[11] = 0;
    if zero_ttl {
        hdr[8] = 0;
    }
    hdr[ihl + 12..fixed].fill(0); // the ICV itself
    let digest = hmac_md5(&key.0, &[&hdr[..fixed], &packet[fixed..]]);
    let mut icv = [0u8; ICV_LEN];
    icv.copy_from_slice(&digest[..ICV_LEN]);
    Some(icv)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn hmac_md5_rfc2202_vectors() {
        // RFC 2202 §2, test cases 1, 2 and 6 (key longer than the block).
        assert_eq!(
            hmac_md5(&[0x0b; 16], &[b"Hi There"]).to_vec(),
            hex("9294727a3638bb1c13f48ef8158bfc9d")
        );
        assert_eq!(
            hmac_md5(b"Jefe", &[b"what do ya want ", b"for nothing?"]).to_vec(),
            hex("750c783e6ab0b503eaa86e310a5db738")
        );
        assert_eq!(
            hmac_md5(
                &[0xaa; 80],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )
            .to_vec(),
            hex("6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd")
        );
    }

    #[test]
    fn key_is_padded_or_truncated() {
        assert_eq!(AuthKey::new(b"abc").0, *b"abc\0\0\0\0\0");
        assert_eq!(AuthKey::new(b"0123456789").0, *b"01234567");
        // A zero-padded key gives the same HMAC as the short key (RFC 2104 pads keys).
        assert_eq!(
            hmac_md5(&AuthKey::new(b"Jefe").0, &[b"x"]),
            hmac_md5(b"Jefe", &[b"x"])
        );
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"secret12", b"secret12"));
        assert!(!ct_eq(b"secret12", b"secret13"));
        assert!(!ct_eq(b"short", b"longer"));
    }

    #[test]
    fn ah_header_round_trip() {
        let h = AhHeader {
            next_header: 112,
            payload_len: AH_PAYLOAD_LEN,
            spi: [10, 0, 0, 1],
            seq: 0x01020304,
            icv: [7; ICV_LEN],
        };
        let mut b = [0u8; AH_LEN];
        h.write(&mut b);
        assert_eq!(AhHeader::parse(&b), Some(h));
        assert_eq!(AhHeader::parse(&b[..AH_LEN - 1]), None);
    }
}
