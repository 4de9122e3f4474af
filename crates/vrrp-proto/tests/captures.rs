//! Known-good bytes: adverts captured from keepalived 2.2.7 (Debian) by
//! `tests/captures/capture.sh`. Each one must decode under the rules keepalived was
//! configured with, and our encoding of the same advert must be byte-identical.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use rk_vrrp_proto::packet::{RxChecksum, RxDelivery, TxAuth, TxChecksum, VipCheck};
use rk_vrrp_proto::{
    Advert, Auth, AuthKey, Centisecs, DecodeError, RxMeta, RxRules, Transmit, UnicastPeer, Version,
    decode,
};

/// The IP packets of a pcap file (Ethernet link type), Ethernet header stripped.
fn read_pcap(name: &str) -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/captures")
        .join(name);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &data[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "little-endian microsecond pcap"
    );
    assert_eq!(
        u32::from_le_bytes(data[20..24].try_into().unwrap()),
        1,
        "Ethernet link type"
    );
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let incl = u32::from_le_bytes(data[off + 8..off + 12].try_into().unwrap()) as usize;
        let frame = &data[off + 16..off + 16 + incl];
        out.push(frame[14..].to_vec());
        off += 16 + incl;
    }
    assert!(!out.is_empty(), "{name} holds packets");
    out
}

const SRC: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn two_vips() -> Vec<IpAddr> {
    vec![v4("10.9.0.100"), v4("10.9.0.101")]
}

fn rules<'a>(
    version: Version,
    auth: Auth,
    interval: Centisecs,
    vips: &'a [IpAddr],
    delivery: RxDelivery<'a>,
) -> RxRules<'a> {
    RxRules {
        version,
        vrid: 51,
        auth,
        adver_int: interval,
        delivery,
        vips: VipCheck::Reject(vips),
        checksum: RxChecksum::Standard,
        ah_last_seq: 0,
    }
}

/// Decodes every IPv4 packet of `file` and re-encodes it; returns the priorities seen.
#[allow(clippy::too_many_arguments)]
fn check_ipv4(
    file: &str,
    version: Version,
    auth: Auth,
    interval: Centisecs,
    vips: Vec<IpAddr>,
    dst: Ipv4Addr,
    unicast: bool,
) -> Vec<u8> {
    // The receiver is the peer 10.9.0.2; its own peer is keepalived's 10.9.0.1.
    let peers = [UnicastPeer::new(IpAddr::V4(SRC))];
    let delivery = if unicast {
        RxDelivery::Unicast {
            peers: &peers,
            check_src: true,
        }
    } else {
        RxDelivery::Multicast
    };
    let mut prios = Vec::new();
    for (i, pkt) in read_pcap(file).iter().enumerate() {
        let ip_id = u16::from_be_bytes([pkt[4], pkt[5]]);
        let mut r = rules(version, auth, interval, &vips, delivery);
        let tx_auth = match auth {
            Auth::None => TxAuth::None,
            Auth::Pass(k) => TxAuth::Pass(k),
            Auth::Ah(key) => {
                let seq = u32::from_be_bytes(pkt[28..32].try_into().unwrap());
                r.ah_last_seq = seq - 1;
                TxAuth::Ah { key, seq }
            }
        };
        let rx = decode(pkt, &RxMeta::Ipv4, &r).unwrap_or_else(|e| panic!("{file} #{i}: {e}"));
        assert_eq!(rx.src, IpAddr::V4(SRC));
        assert_eq!(rx.dst, IpAddr::V4(dst));
        assert_eq!(rx.advert.vrid, 51);
        assert_eq!(rx.advert.interval, interval);
        assert_eq!(rx.advert.addresses, vips);
        prios.push(rx.advert.priority);

        let tx = Transmit {
            advert: Advert {
                version,
                vrid: 51,
                priority: rx.advert.priority,
                interval,
                addresses: vips.clone(),
            },
            src: IpAddr::V4(SRC),
            destinations: vec![IpAddr::V4(dst)],
            ttl: 255,
            ip_id,
            auth: tx_auth,
            checksum: TxChecksum::Standard,
            unicast,
        };
        let mut buf = [0u8; 1500];
        let n = tx.encode(IpAddr::V4(dst), &mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            &pkt[..],
            "{file} #{i}: our encoding differs from keepalived's"
        );

        // Replaying the same AH packet is refused.
        if let Auth::Ah(_) = auth {
            r.ah_last_seq += 1;
            assert!(matches!(
                decode(pkt, &RxMeta::Ipv4, &r),
                Err(DecodeError::AhReplay { .. })
            ));
        }
    }
    prios
}

#[test]
fn keepalived_v2_no_auth() {
    let p = check_ipv4(
        "v2_none.pcap",
        Version::V2,
        Auth::None,
        Centisecs(100),
        two_vips(),
        GROUP,
        false,
    );
    assert_eq!(p.first(), Some(&150));
    assert_eq!(p.last(), Some(&0), "SIGTERM sends priority 0");
}

#[test]
fn keepalived_v2_pass() {
    // "secret-password" is truncated to 8 bytes, as keepalived does.
    let auth = Auth::Pass(AuthKey::new(b"secret-password"));
    let p = check_ipv4(
        "v2_pass.pcap",
        Version::V2,
        auth,
        Centisecs(100),
        vec![v4("10.9.0.100")],
        GROUP,
        false,
    );
    assert_eq!(p.last(), Some(&0));
    // A wrong password is refused.
    let pkt = &read_pcap("v2_pass.pcap")[0];
    let vips = [v4("10.9.0.100")];
    let r = rules(
        Version::V2,
        Auth::Pass(AuthKey::new(b"secret-x")),
        Centisecs(100),
        &vips,
        RxDelivery::Multicast,
    );
    assert_eq!(
        decode(pkt, &RxMeta::Ipv4, &r),
        Err(DecodeError::BadPassword)
    );
}

#[test]
fn keepalived_v2_ah_multicast() {
    let auth = Auth::Ah(AuthKey::new(b"ahpass"));
    let p = check_ipv4(
        "v2_ah.pcap",
        Version::V2,
        auth,
        Centisecs(100),
        two_vips(),
        GROUP,
        false,
    );
    assert_eq!(p.last(), Some(&0));
    let pkt = &read_pcap("v2_ah.pcap")[0];
    let vips = two_vips();
    let r = rules(
        Version::V2,
        Auth::Ah(AuthKey::new(b"ahpasS")),
        Centisecs(100),
        &vips,
        RxDelivery::Multicast,
    );
    assert_eq!(decode(pkt, &RxMeta::Ipv4, &r), Err(DecodeError::AhIcv));
}

#[test]
fn keepalived_v2_ah_unicast_zeroes_ttl_in_icv() {
    let auth = Auth::Ah(AuthKey::new(b"ahpass"));
    check_ipv4(
        "v2_ah_unicast.pcap",
        Version::V2,
        auth,
        Centisecs(100),
        vec![v4("10.9.0.100")],
        PEER,
        true,
    );
    // The unicast ICV leaves the TTL out: a router decrementing it does not break it.
    let mut pkt = read_pcap("v2_ah_unicast.pcap")[0].clone();
    pkt[8] = 61;
    let peers = [UnicastPeer::new(IpAddr::V4(SRC))];
    let vips = [v4("10.9.0.100")];
    let r = rules(
        Version::V2,
        auth,
        Centisecs(100),
        &vips,
        RxDelivery::Unicast {
            peers: &peers,
            check_src: false,
        },
    );
    assert!(decode(&pkt, &RxMeta::Ipv4, &r).is_ok());
}

#[test]
fn keepalived_v3_ipv4_multicast() {
    let p = check_ipv4(
        "v3_ipv4.pcap",
        Version::V3,
        Auth::None,
        Centisecs(50),
        two_vips(),
        GROUP,
        false,
    );
    assert_eq!(p.last(), Some(&0));
}

#[test]
fn keepalived_v3_ipv4_unicast_checksums_with_peer_address() {
    let p = check_ipv4(
        "v3_ipv4_unicast.pcap",
        Version::V3,
        Auth::None,
        Centisecs(100),
        vec![v4("10.9.0.100")],
        PEER,
        true,
    );
    assert_eq!(p.last(), Some(&0));
}

#[test]
fn keepalived_v3_ipv6() {
    let vips: Vec<IpAddr> = vec![
        "fe80::100".parse().unwrap(),
        "2001:db8::100".parse().unwrap(),
    ];
    let mut prios = Vec::new();
    for (i, pkt) in read_pcap("v3_ipv6.pcap").iter().enumerate() {
        assert_eq!(pkt[0] >> 4, 6);
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(&pkt[8..24]).unwrap());
        let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&pkt[24..40]).unwrap());
        let msg = &pkt[40..];
        let meta = RxMeta::Ipv6 {
            src,
            dst,
            hop_limit: Some(pkt[7]),
        };
        let r = rules(
            Version::V3,
            Auth::None,
            Centisecs(100),
            &vips,
            RxDelivery::Multicast,
        );
        let rx = decode(msg, &meta, &r).unwrap_or_else(|e| panic!("#{i}: {e}"));
        assert_eq!(rx.advert.addresses, vips);
        prios.push(rx.advert.priority);
        let tx = Transmit {
            advert: Advert {
                version: Version::V3,
                vrid: 51,
                priority: rx.advert.priority,
                interval: Centisecs(100),
                addresses: vips.clone(),
            },
            src: IpAddr::V6(src),
            destinations: vec![IpAddr::V6(dst)],
            ttl: 255,
            ip_id: 0,
            auth: TxAuth::None,
            checksum: TxChecksum::Standard,
            unicast: false,
        };
        let mut buf = [0u8; 1500];
        let n = tx.encode(IpAddr::V6(dst), &mut buf).unwrap();
        // The kernel computed keepalived's checksum (IPV6_CHECKSUM); ours must agree.
        assert_eq!(
            &buf[..n],
            msg,
            "#{i}: our encoding differs from keepalived's"
        );
    }
    assert_eq!(prios.last(), Some(&0));
}

/// The state machine's own sends, not just the codec: an instance configured like the
/// captured keepalived sends the same first adverts (IP ID and AH sequence from 1) and the
/// same priority-0 advert on shutdown.
#[test]
fn instance_sends_what_keepalived_sends() {
    use rk_vrrp_proto::{Action, Family, Input, Instance, InstanceConfig, StateKind};
    use std::time::Instant;

    let pkts = read_pcap("v2_ah.pcap");
    let mut cfg = InstanceConfig::new(51, Version::V2, Family::V4, two_vips());
    cfg.priority = 150;
    cfg.auth = Auth::Ah(AuthKey::new(b"ahpass"));
    cfg.src_addr = Some(IpAddr::V4(SRC));
    let mut vi = Instance::new(cfg).unwrap();
    let mut now = Instant::now();
    vi.handle(now, Input::Start);
    let mut sent = Vec::new();
    let drain = |vi: &mut Instance, sent: &mut Vec<Vec<u8>>| {
        while let Some(a) = vi.poll_action() {
            if let Action::SendAdvert(tx) = a {
                let mut buf = [0u8; 1500];
                let n = tx.encode(tx.destinations[0], &mut buf).unwrap();
                sent.push(buf[..n].to_vec());
            }
        }
    };
    // Down timer → MASTER (advert 1), then two periodic adverts, then SIGTERM.
    while sent.len() < 3 {
        drain(&mut vi, &mut sent);
        now = vi.poll_timeout().unwrap();
        vi.handle(now, Input::Timer);
        drain(&mut vi, &mut sent);
    }
    assert_eq!(vi.state(), StateKind::Master);
    vi.handle(now, Input::Shutdown);
    drain(&mut vi, &mut sent);
    assert_eq!(sent.len(), pkts.len());
    for (i, (ours, theirs)) in sent.iter().zip(&pkts).enumerate() {
        assert_eq!(ours, theirs, "advert #{i}");
    }
}
