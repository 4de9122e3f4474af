//! The IPv4 header keepalived builds for its adverts (it sends with IP_HDRINCL,
//! `vrrp_build_ip4`) and the parse of a received one.
//!
//! ```text
//!     0                   1                   2                   3
//!     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |Version|  IHL  |Type of Service|          Total Length         |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |         Identification        |Flags|      Fragment Offset    |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |  Time to Live |    Protocol   |         Header Checksum       |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                       Source Address                          |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//!    |                    Destination Address                        |
//!    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::Ipv4Addr;

use crate::checksum::internet_checksum;

/// Length of the IPv4 header we build (no options).
pub const IPV4_HEADER_LEN: usize = 20;
/// Type of Service keepalived sends: 0xC0, "internetwork control" precedence.
pub const TOS_INTERNETWORK_CONTROL: u8 = 0xC0;

/// The fields of an IPv4 header that VRRP looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Header length in bytes (IHL × 4, 20..=60).
    pub header_len: usize,
    /// Type of Service.
    pub tos: u8,
    /// Total Length of the packet, header included.
    pub total_len: u16,
    /// Identification.
    pub id: u16,
    /// Flags and fragment offset.
    pub frag: u16,
    /// Time to live.
    pub ttl: u8,
    /// Protocol (112 VRRP, 51 AH).
    pub protocol: u8,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
}

/// Why an IPv4 header could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ipv4ParseError {
    /// Fewer bytes than the header.
    Short { needed: usize },
    /// Version nibble not 4.
    Version(u8),
    /// IHL below 5.
    Ihl(u8),
}

impl Ipv4Header {
    /// Parses the header at the start of `b`.
    pub(crate) fn parse(b: &[u8]) -> Result<Self, Ipv4ParseError> {
        if b.len() < IPV4_HEADER_LEN {
            return Err(Ipv4ParseError::Short {
                needed: IPV4_HEADER_LEN,
            });
        }
        let version = b[0] >> 4;
        if version != 4 {
            return Err(Ipv4ParseError::Version(version));
        }
        let ihl = b[0] & 0x0F;
        if ihl < 5 {
            return Err(Ipv4ParseError::Ihl(ihl));
        }
        let header_len = usize::from(ihl) * 4;
        if b.len() < header_len {
            return Err(Ipv4ParseError::Short { needed: header_len });
        }
        Ok(Ipv4Header {
            header_len,
            tos: b[1],
            total_len: u16::from_be_bytes([b[2], b[3]]),
            id: u16::from_be_bytes([b[4], b[5]]),
            frag: u16::from_be_bytes([b[6], b[7]]),
            ttl: b[8],
            protocol: b[9],
            src: Ipv4Addr::new(b[12], b[13], b[14], b[15]),
            dst: Ipv4Addr::new(b[16], b[17], b[18], b[19]),
        })
    }

    /// Writes a 20-byte header as keepalived builds it (TOS 0xC0, no fragmentation flags)
    /// into `b[..20]`, with its header checksum. The kernel fills the checksum in again on an
    /// IP_HDRINCL socket; computing it here makes our bytes identical to what goes on the wire.
    pub fn write(
        b: &mut [u8],
        total_len: u16,
        id: u16,
        ttl: u8,
        protocol: u8,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) {
        b[0] = 0x45;
        b[1] = TOS_INTERNETWORK_CONTROL;
        b[2..4].copy_from_slice(&total_len.to_be_bytes());
        b[4..6].copy_from_slice(&id.to_be_bytes());
        b[6] = 0;
        b[7] = 0;
        b[8] = ttl;
        b[9] = protocol;
        b[10] = 0;
        b[11] = 0;
        b[12..16].copy_from_slice(&src.octets());
        b[16..20].copy_from_slice(&dst.octets());
        let c = internet_checksum(&b[..IPV4_HEADER_LEN]);
        b[10..12].copy_from_slice(&c.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_parse() {
        let mut b = [0u8; 20];
        let (s, d) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(224, 0, 0, 18));
        Ipv4Header::write(&mut b, 40, 7, 255, 112, s, d);
        assert_eq!(internet_checksum(&b), 0, "header checksum verifies");
        let h = Ipv4Header::parse(&b).unwrap();
        assert_eq!((h.header_len, h.tos, h.total_len, h.id), (20, 0xC0, 40, 7));
        assert_eq!((h.ttl, h.protocol, h.src, h.dst), (255, 112, s, d));
    }

    #[test]
    fn parse_rejects() {
        assert_eq!(
            Ipv4Header::parse(&[0x45; 19]),
            Err(Ipv4ParseError::Short { needed: 20 })
        );
        let mut b = [0u8; 20];
        b[0] = 0x65;
        assert_eq!(Ipv4Header::parse(&b), Err(Ipv4ParseError::Version(6)));
        b[0] = 0x44;
        assert_eq!(Ipv4Header::parse(&b), Err(Ipv4ParseError::Ihl(4)));
        b[0] = 0x46;
        assert_eq!(
            Ipv4Header::parse(&b),
            Err(Ipv4ParseError::Short { needed: 24 })
        );
    }
}
