//! Link-layer frames announcing a virtual address: gratuitous ARP (IPv4) and unsolicited
//! Neighbour Advertisement (IPv6), byte for byte as keepalived sends them
//! (`vrrp_arp.c`, `vrrp_ndisc.c`). Pure functions; the driver sends them on `AF_PACKET`
//! sockets.

use std::net::{Ipv4Addr, Ipv6Addr};

/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType of IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETH_P_IPV6: u16 = 0x86dd;
/// The broadcast MAC.
pub const BROADCAST: [u8; 6] = [0xff; 6];
/// Length of a gratuitous ARP frame: Ethernet header + ARP body.
pub const GARP_LEN: usize = 14 + 28;
/// Length of an unsolicited NA frame: Ethernet + IPv6 + ICMPv6 NA + target link-layer option.
pub const NA_LEN: usize = 14 + 40 + 24 + 8;

/// The multicast MAC of an IPv6 group (RFC 2464 §7): 33:33 + the last 32 bits.
pub fn ipv6_multicast_mac(group: &Ipv6Addr) -> [u8; 6] {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// The multicast MAC of an IPv4 group (RFC 1112 §6.4): 01:00:5e + the low 23 bits.
pub fn ipv4_multicast_mac(group: &Ipv4Addr) -> [u8; 6] {
    let o = group.octets();
    [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
}

/// A gratuitous ARP: an ARP *request* broadcast from `mac`, sender and target protocol
/// address both `vip`, target hardware address ff:ff:ff:ff:ff:ff (keepalived's form; hosts
/// update an existing entry for `vip` to `mac`).
pub fn garp(mac: [u8; 6], vip: Ipv4Addr) -> [u8; GARP_LEN] {
    let mut f = [0u8; GARP_LEN];
    f[0..6].copy_from_slice(&BROADCAST);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    let a = &mut f[14..];
    a[0..2].copy_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    a[2..4].copy_from_slice(&ETH_P_IP.to_be_bytes()); // protocol: IPv4
    a[4] = 6;
    a[5] = 4;
    a[6..8].copy_from_slice(&1u16.to_be_bytes()); // op: request
    a[8..14].copy_from_slice(&mac);
    a[14..18].copy_from_slice(&vip.octets());
    a[18..24].copy_from_slice(&BROADCAST);
    a[24..28].copy_from_slice(&vip.octets());
    f
}

/// An unsolicited Neighbour Advertisement for `target` from `mac` / link-local `src`, to
/// all nodes (ff02::1), hop limit 255, Override set, Router set when `router` (the
/// interface forwards), with the target link-layer address option (RFC 4861 §7.2.6).
pub fn unsolicited_na(mac: [u8; 6], src: Ipv6Addr, target: Ipv6Addr, router: bool) -> [u8; NA_LEN] {
    let dst = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut f = [0u8; NA_LEN];
    f[0..6].copy_from_slice(&ipv6_multicast_mac(&dst));
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    let payload_len: u16 = 24 + 8;
    {
        let ip = &mut f[14..54];
        ip[0] = 0x60;
        ip[4..6].copy_from_slice(&payload_len.to_be_bytes());
        ip[6] = 58; // ICMPv6
        ip[7] = 255;
        ip[8..24].copy_from_slice(&src.octets());
        ip[24..40].copy_from_slice(&dst.octets());
    }
    {
        let na = &mut f[54..];
        na[0] = 136; // Neighbor Advertisement
        na[1] = 0;
        let flags: u32 = 0x2000_0000 | if router { 0x8000_0000 } else { 0 };
        na[4..8].copy_from_slice(&flags.to_be_bytes());
        na[8..24].copy_from_slice(&target.octets());
        na[24] = 2; // Target Link-Layer Address
        na[25] = 1; // in units of 8 bytes
        na[26..32].copy_from_slice(&mac);
        let c = icmpv6_checksum(&src, &dst, na);
        na[2..4].copy_from_slice(&c.to_be_bytes());
    }
    f
}

/// The ICMPv6 checksum over the pseudo-header (RFC 8200 §8.1) and `msg` (whose checksum
/// field must be zero).
pub fn icmpv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let w = u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]);
            sum += u32::from(w);
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&u32::try_from(msg.len()).unwrap_or(u32::MAX).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(msg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x86, 0x80, 0x45, 0x5e, 0xd4, 0x62];

    #[test]
    fn garp_matches_keepalived_capture() {
        // keepalived 2.2.7 for 10.9.0.100 from 86:80:45:5e:d4:62, as tcpdump printed it:
        // "86:80:45:5e:d4:62 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42:
        //  Request who-has 10.9.0.100 (ff:ff:ff:ff:ff:ff) tell 10.9.0.100".
        let f = garp(MAC, Ipv4Addr::new(10, 9, 0, 100));
        let want: [u8; GARP_LEN] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x86, 0x80, 0x45, 0x5e, 0xd4, 0x62, 0x08, 0x06,
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x86, 0x80, 0x45, 0x5e, 0xd4, 0x62, 10,
            9, 0, 100, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 10, 9, 0, 100,
        ];
        assert_eq!(f, want);
    }

    #[test]
    fn na_is_well_formed() {
        let src: Ipv6Addr = "fe80::8480:45ff:fe5e:d462".parse().unwrap();
        let target: Ipv6Addr = "2001:db8::99".parse().unwrap();
        let f = unsolicited_na(MAC, src, target, false);
        assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(&f[12..14], &[0x86, 0xdd]);
        assert_eq!(f[14 + 7], 255, "hop limit");
        assert_eq!(&f[54 + 4..54 + 8], &[0x20, 0, 0, 0], "Override only");
        assert_eq!(&f[54 + 8..54 + 24], &target.octets());
        assert_eq!(&f[54 + 26..54 + 32], &MAC);
        // A message with its checksum in place sums to zero.
        let dst: Ipv6Addr = "ff02::1".parse().unwrap();
        assert_eq!(icmpv6_checksum(&src, &dst, &f[54..]), 0);
        let r = unsolicited_na(MAC, src, target, true);
        assert_eq!(r[54 + 4], 0xa0, "Router and Override");
    }

    #[test]
    fn multicast_macs() {
        assert_eq!(
            ipv4_multicast_mac(&"224.1.101.33".parse().unwrap()),
            [0x01, 0x00, 0x5e, 0x01, 0x65, 0x21]
        );
        assert_eq!(
            ipv4_multicast_mac(&"239.129.0.18".parse().unwrap()),
            [0x01, 0x00, 0x5e, 0x01, 0x00, 0x12]
        );
        assert_eq!(
            ipv6_multicast_mac(&"ff02::12".parse().unwrap()),
            [0x33, 0x33, 0, 0, 0, 0x12]
        );
    }
}
