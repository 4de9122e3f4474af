//! The Internet checksum (RFC 1071) and the pseudo-headers VRRPv3 adds to it.
//!
//! VRRPv2 sums the VRRP message alone (RFC 3768 §5.3.8). VRRPv3 prepends the IPv4 or IPv6
//! pseudo-header (RFC 9568 §5.2.8); keepalived's `v3_checksum_as_v2` leaves it out again for
//! IPv4, for peers that implemented v3 that way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IANA protocol number of VRRP, also the pseudo-header's next-header value.
pub const IPPROTO_VRRP: u8 = 112;

/// A running one's-complement sum; [`Sum::finish`] folds and inverts it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sum(u64);

impl Sum {
    /// Adds `data` as big-endian 16-bit words. An odd trailing byte is padded with zero, so
    /// only the last slice of a message may have odd length (VRRP messages never do).
    pub(crate) fn add(mut self, data: &[u8]) -> Self {
        let mut chunks = data.chunks_exact(2);
        for c in &mut chunks {
            self.0 += u64::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            self.0 += u64::from(u16::from_be_bytes([*last, 0]));
        }
        self
    }

    /// Folds the carries and returns the one's complement, ready to store big-endian.
    /// Summing a message that already holds a correct checksum gives 0.
    pub(crate) fn finish(self) -> u16 {
        let mut s = self.0;
        while s > 0xFFFF {
            s = (s & 0xFFFF) + (s >> 16);
        }
        !(s as u16)
    }
}

/// The Internet checksum of `data` alone.
pub fn internet_checksum(data: &[u8]) -> u16 {
    Sum::default().add(data).finish()
}

/// The pseudo-header sum for a VRRP message of `len` bytes from `src` to `dst`.
///
/// IPv4 (RFC 768 layout): src, dst, zero, protocol, 16-bit length.
/// IPv6 (RFC 8200 §8.1): src, dst, 32-bit length, 3 zero bytes, next header.
/// Mixed families cannot happen on the wire; they give the IPv6 form over mapped addresses,
/// which never verifies, rather than a panic.
pub(crate) fn pseudo_header(src: IpAddr, dst: IpAddr, len: usize) -> Sum {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => pseudo_v4(s, d, len),
        (s, d) => pseudo_v6(to_v6(s), to_v6(d), len),
    }
}

fn to_v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> Sum {
    // The length field is 16 bits; a VRRP message is at most 8 + 255×4 + 8 bytes.
    let len = (len & 0xFFFF) as u16;
    Sum::default()
        .add(&src.octets())
        .add(&dst.octets())
        .add(&[0, IPPROTO_VRRP])
        .add(&len.to_be_bytes())
}

fn pseudo_v6(src: Ipv6Addr, dst: Ipv6Addr, len: usize) -> Sum {
    let len = (len & 0xFFFF_FFFF) as u32;
    Sum::default()
        .add(&src.octets())
        .add(&dst.octets())
        .add(&len.to_be_bytes())
        .add(&[0, 0, 0, IPPROTO_VRRP])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d.
        assert_eq!(
            internet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
    }

    #[test]
    fn checksum_of_checksummed_data_is_zero() {
        let mut msg = [0x21u8, 0x33, 0x64, 0x01, 0x01, 0x01, 0, 0, 192, 168, 1, 1];
        let c = internet_checksum(&msg);
        msg[6..8].copy_from_slice(&c.to_be_bytes());
        assert_eq!(internet_checksum(&msg), 0);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(internet_checksum(&[0x12]), internet_checksum(&[0x12, 0x00]));
    }

    #[test]
    fn pseudo_header_depends_on_addresses() {
        let a = pseudo_header(
            "10.0.0.1".parse().unwrap(),
            "224.0.0.18".parse().unwrap(),
            12,
        );
        let b = pseudo_header(
            "10.0.0.2".parse().unwrap(),
            "224.0.0.18".parse().unwrap(),
            12,
        );
        assert_ne!(a.finish(), b.finish());
        let v6 = pseudo_header("fe80::1".parse().unwrap(), "ff02::12".parse().unwrap(), 24);
        let v6b = pseudo_header("fe80::1".parse().unwrap(), "ff02::12".parse().unwrap(), 40);
        assert_ne!(v6.finish(), v6b.finish());
    }
}
