//! Codec tests with hand-built packets: one test per validation rule (each `DecodeError`
//! variant), the accepted variants of each rule, and the encoder's refusals.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rk_vrrp_proto::auth::{AH_LEN, ah_icv};
use rk_vrrp_proto::checksum::internet_checksum;
use rk_vrrp_proto::packet::{
    RxChecksum, RxDelivery, TxAuth, TxChecksum, VipCheck, VipMismatch, ipv4::IPV4_HEADER_LEN,
};
use rk_vrrp_proto::{
    Advert, Auth, AuthKey, Centisecs, DecodeCounters, DecodeError, EncodeError, RxMeta, RxRules,
    Transmit, UnicastPeer, Version, decode, peek,
};

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn key() -> AuthKey {
    AuthKey::new(b"pw")
}

fn vips() -> Vec<IpAddr> {
    vec![
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100)),
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 101)),
    ]
}

fn tx(version: Version, auth: TxAuth) -> Transmit {
    Transmit {
        advert: Advert {
            version,
            vrid: 7,
            priority: 100,
            interval: Centisecs(100),
            addresses: vips(),
        },
        src: IpAddr::V4(SRC),
        destinations: vec![IpAddr::V4(GROUP)],
        ttl: 255,
        ip_id: 1,
        auth,
        checksum: TxChecksum::Standard,
        unicast: false,
    }
}

fn encode_to(t: &Transmit, dst: IpAddr) -> Vec<u8> {
    let mut buf = vec![0u8; 2048];
    let n = t.encode(dst, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn encode(t: &Transmit) -> Vec<u8> {
    encode_to(t, t.destinations[0])
}

fn rules<'a>(version: Version, auth: Auth, vips: &'a [IpAddr]) -> RxRules<'a> {
    RxRules {
        version,
        vrid: 7,
        auth,
        adver_int: Centisecs(100),
        delivery: RxDelivery::Multicast,
        vips: VipCheck::Reject(vips),
        checksum: RxChecksum::Standard,
        ah_last_seq: 0,
    }
}

/// Recomputes the VRRPv2 checksum of a plain (no AH) IPv4 packet after a field was edited,
/// so that a test hits the rule it is about rather than the checksum.
fn fix_v2_checksum(pkt: &mut [u8]) {
    let msg = &mut pkt[IPV4_HEADER_LEN..];
    msg[6] = 0;
    msg[7] = 0;
    let c = internet_checksum(msg);
    msg[6..8].copy_from_slice(&c.to_be_bytes());
}

/// Recomputes the AH ICV after an edit.
fn fix_icv(pkt: &mut [u8], unicast: bool) {
    let icv = ah_icv(&key(), pkt, IPV4_HEADER_LEN, unicast).unwrap();
    pkt[IPV4_HEADER_LEN + 12..IPV4_HEADER_LEN + AH_LEN].copy_from_slice(&icv);
}

fn v2() -> Vec<u8> {
    encode(&tx(Version::V2, TxAuth::None))
}

fn dec(pkt: &[u8], r: &RxRules<'_>) -> Result<rk_vrrp_proto::Received, DecodeError> {
    decode(pkt, &RxMeta::Ipv4, r)
}

#[test]
fn valid_v2_round_trips() {
    let v = vips();
    let rx = dec(&v2(), &rules(Version::V2, Auth::None, &v)).unwrap();
    assert_eq!(rx.advert, tx(Version::V2, TxAuth::None).advert);
    assert_eq!(
        (rx.src, rx.dst, rx.ttl),
        (IpAddr::V4(SRC), IpAddr::V4(GROUP), Some(255))
    );
    assert_eq!(rx.vip_mismatch, None);
}

#[test]
fn truncated() {
    let v = vips();
    let r = rules(Version::V2, Auth::None, &v);
    let p = v2();
    assert_eq!(
        dec(&p[..10], &r),
        Err(DecodeError::Truncated {
            needed: 20,
            got: 10
        })
    );
    assert_eq!(
        dec(&p[..24], &r),
        Err(DecodeError::Truncated {
            needed: 28,
            got: 24
        })
    );
    // The count announces two addresses and the auth data; the last 4 bytes are missing.
    assert_eq!(
        dec(&p[..p.len() - 4], &r),
        Err(DecodeError::Truncated {
            needed: p.len(),
            got: p.len() - 4
        })
    );
    let ipv6 = RxMeta::Ipv6 {
        src: Ipv6Addr::LOCALHOST,
        dst: Ipv6Addr::LOCALHOST,
        hop_limit: Some(255),
    };
    assert!(matches!(
        decode(&[0x31, 7], &ipv6, &r),
        Err(DecodeError::Truncated { needed: 8, got: 2 })
    ));
}

#[test]
fn too_long() {
    let v = vips();
    let mut p = v2();
    p.extend_from_slice(&[0; 4]);
    assert_eq!(
        dec(&p, &rules(Version::V2, Auth::None, &v)),
        Err(DecodeError::TooLong {
            expected: p.len() - 4,
            got: p.len()
        })
    );
}

#[test]
fn not_ipv4_and_bad_ihl_and_protocol() {
    let v = vips();
    let r = rules(Version::V2, Auth::None, &v);
    let mut p = v2();
    p[0] = 0x65;
    assert_eq!(dec(&p, &r), Err(DecodeError::NotIpv4(6)));
    p[0] = 0x44;
    assert_eq!(dec(&p, &r), Err(DecodeError::BadIhl(4)));
    let mut p = v2();
    p[9] = 17;
    assert_eq!(dec(&p, &r), Err(DecodeError::BadProtocol(17)));
}

#[test]
fn vrid_mismatch() {
    let v = vips();
    let mut r = rules(Version::V2, Auth::None, &v);
    r.vrid = 8;
    assert_eq!(
        dec(&v2(), &r),
        Err(DecodeError::VridMismatch {
            expected: 8,
            got: 7
        })
    );
}

#[test]
fn ah_presence_mismatch() {
    let v = vips();
    let ah = encode(&tx(Version::V2, TxAuth::Ah { key: key(), seq: 1 }));
    assert_eq!(
        dec(&ah, &rules(Version::V2, Auth::None, &v)),
        Err(DecodeError::AhPresenceMismatch { ah_present: true })
    );
    assert_eq!(
        dec(&v2(), &rules(Version::V2, Auth::Ah(key()), &v)),
        Err(DecodeError::AhPresenceMismatch { ah_present: false })
    );
}

#[test]
fn bad_ttl_except_unicast() {
    let v = vips();
    let mut p = v2();
    p[8] = 64;
    assert_eq!(
        dec(&p, &rules(Version::V2, Auth::None, &v)),
        Err(DecodeError::BadTtl(64))
    );
    // Unicast skips the TTL check (routed unicast is allowed).
    let mut t = tx(Version::V2, TxAuth::None);
    t.ttl = 64;
    let p = encode_to(&t, IpAddr::V4(PEER));
    let mut r = rules(Version::V2, Auth::None, &v);
    let peers = [UnicastPeer::new(IpAddr::V4(SRC))];
    r.delivery = RxDelivery::Unicast {
        peers: &peers,
        check_src: false,
    };
    assert!(dec(&p, &r).is_ok());
    // IPv6 hop limit.
    let t6 = v3_ipv6();
    let p6 = encode(&t6);
    let meta = |hl| RxMeta::Ipv6 {
        src: ll(1),
        dst: "ff02::12".parse().unwrap(),
        hop_limit: hl,
    };
    let v6 = t6.advert.addresses.clone();
    let r6 = rules(Version::V3, Auth::None, &v6);
    assert_eq!(
        decode(&p6, &meta(Some(1)), &r6),
        Err(DecodeError::BadTtl(1))
    );
    assert!(decode(&p6, &meta(Some(255)), &r6).is_ok());
    // No hop limit from the kernel: not checked (keepalived's -1).
    assert!(decode(&p6, &meta(None), &r6).is_ok());
}

#[test]
fn version_mismatch() {
    let v = vips();
    let p = encode(&tx(Version::V3, TxAuth::None));
    assert_eq!(
        dec(&p, &rules(Version::V2, Auth::None, &v)),
        Err(DecodeError::VersionMismatch {
            expected: 2,
            got: 3
        })
    );
    assert_eq!(
        dec(&v2(), &rules(Version::V3, Auth::None, &v)),
        Err(DecodeError::VersionMismatch {
            expected: 3,
            got: 2
        })
    );
}

#[test]
fn invalid_auth_type() {
    let v = vips();
    let mut p = v2();
    p[IPV4_HEADER_LEN + 4] = 7;
    fix_v2_checksum(&mut p);
    assert_eq!(
        dec(&p, &rules(Version::V2, Auth::None, &v)),
        Err(DecodeError::InvalidAuthType(7))
    );
}

#[test]
fn auth_type_mismatch() {
    let v = vips();
    let p = encode(&tx(Version::V2, TxAuth::Pass(key())));
    assert_eq!(
        dec(&p, &rules(Version::V2, Auth::None, &v)),
        Err(DecodeError::AuthTypeMismatch {
            expected: 0,
            got: 1
        })
    );
}

#[test]
fn bad_password() {
    let v = vips();
    let p = encode(&tx(Version::V2, TxAuth::Pass(key())));
    assert!(dec(&p, &rules(Version::V2, Auth::Pass(key()), &v)).is_ok());
    assert_eq!(
        dec(&p, &rules(Version::V2, Auth::Pass(AuthKey::new(b"pW")), &v)),
        Err(DecodeError::BadPassword)
    );
}

#[test]
fn ah_next_header_icv_spi_replay() {
    let v = vips();
    let mut r = rules(Version::V2, Auth::Ah(key()), &v);
    let good = encode(&tx(Version::V2, TxAuth::Ah { key: key(), seq: 5 }));
    assert_eq!(dec(&good, &r).unwrap().ah_seq, Some(5));

    let mut p = good.clone();
    p[IPV4_HEADER_LEN] = 17;
    assert_eq!(dec(&p, &r), Err(DecodeError::AhNextHeader(17)));

    let mut p = good.clone();
    p[IPV4_HEADER_LEN + AH_LEN + 2] = 200; // priority, covered by the ICV
    assert_eq!(dec(&p, &r), Err(DecodeError::AhIcv));
    // The ICV ignores the mutable fields: TOS.
    let mut p = good.clone();
    p[1] = 0;
    assert!(dec(&p, &r).is_ok());

    let mut p = good.clone();
    p[IPV4_HEADER_LEN + 4..IPV4_HEADER_LEN + 8].copy_from_slice(&[10, 0, 0, 9]);
    fix_icv(&mut p, false);
    assert_eq!(dec(&p, &r), Err(DecodeError::AhSpi));

    r.ah_last_seq = 5;
    assert_eq!(
        dec(&good, &r),
        Err(DecodeError::AhReplay { seq: 5, last: 5 })
    );
    r.ah_last_seq = 4;
    assert!(dec(&good, &r).is_ok());
}

#[test]
fn advert_interval_mismatch_v2_only() {
    let v = vips();
    let mut r = rules(Version::V2, Auth::None, &v);
    r.adver_int = Centisecs(200);
    assert_eq!(
        dec(&v2(), &r),
        Err(DecodeError::AdvertIntervalMismatch {
            expected: Centisecs(200),
            got: Centisecs(100)
        })
    );
    // v3: accepted, the interval is learned (RFC 9568 §6.4.2).
    let mut r3 = rules(Version::V3, Auth::None, &v);
    r3.adver_int = Centisecs(200);
    let rx = dec(&encode(&tx(Version::V3, TxAuth::None)), &r3).unwrap();
    assert_eq!(rx.advert.interval, Centisecs(100));
}

#[test]
fn bad_type() {
    let v = vips();
    let mut p = v2();
    p[IPV4_HEADER_LEN] = 0x22;
    fix_v2_checksum(&mut p);
    assert_eq!(
        dec(&p, &rules(Version::V2, Auth::None, &v)),
        Err(DecodeError::BadType(2))
    );
}

#[test]
fn address_count_mismatch_rejects_or_counts() {
    let one = [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100))];
    let mut r = rules(Version::V2, Auth::None, &one);
    assert_eq!(
        dec(&v2(), &r),
        Err(DecodeError::AddressCountMismatch {
            expected: 1,
            got: 2
        })
    );
    r.vips = VipCheck::CountOnly(&one);
    assert_eq!(
        dec(&v2(), &r).unwrap().vip_mismatch,
        Some(VipMismatch::Count {
            expected: 1,
            got: 2
        })
    );
    r.vips = VipCheck::Skip;
    assert_eq!(dec(&v2(), &r).unwrap().vip_mismatch, None);
}

#[test]
fn address_list_mismatch_rejects_or_counts() {
    let other = [
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100)),
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, 102)),
    ];
    let mut r = rules(Version::V2, Auth::None, &other);
    assert_eq!(
        dec(&v2(), &r),
        Err(DecodeError::AddressListMismatch(other[1]))
    );
    r.vips = VipCheck::CountOnly(&other);
    assert_eq!(
        dec(&v2(), &r).unwrap().vip_mismatch,
        Some(VipMismatch::Missing(other[1]))
    );
    // Order does not matter.
    let swapped = [vips()[1], vips()[0]];
    assert!(dec(&v2(), &rules(Version::V2, Auth::None, &swapped)).is_ok());
}

#[test]
fn ip_total_length() {
    let v = vips();
    let mut p = v2();
    p[3] += 1;
    assert_eq!(
        dec(&p, &rules(Version::V2, Auth::None, &v)),
        Err(DecodeError::IpTotalLength {
            header: p.len() as u16 + 1,
            got: p.len()
        })
    );
}

#[test]
fn bad_checksum() {
    let v = vips();
    let mut p = v2();
    p[IPV4_HEADER_LEN + 7] ^= 1;
    assert!(matches!(
        dec(&p, &rules(Version::V2, Auth::None, &v)),
        Err(DecodeError::BadChecksum(_))
    ));
    // v3: the pseudo-header covers the addresses, so a checksum made for another
    // destination fails.
    let t = tx(Version::V3, TxAuth::None);
    let p = encode_to(&t, IpAddr::V4(Ipv4Addr::new(224, 0, 0, 19)));
    let mut p2 = p.clone();
    p2[16..20].copy_from_slice(&GROUP.octets());
    assert!(dec(&p, &rules(Version::V3, Auth::None, &v)).is_ok());
    assert!(matches!(
        dec(&p2, &rules(Version::V3, Auth::None, &v)),
        Err(DecodeError::BadChecksum(_))
    ));
    // IPv6 too.
    let t6 = v3_ipv6();
    let mut p6 = encode(&t6);
    p6[2] ^= 1;
    let v6 = t6.advert.addresses.clone();
    let meta = RxMeta::Ipv6 {
        src: ll(1),
        dst: "ff02::12".parse().unwrap(),
        hop_limit: Some(255),
    };
    assert!(matches!(
        decode(&p6, &meta, &rules(Version::V3, Auth::None, &v6)),
        Err(DecodeError::BadChecksum(_))
    ));
}

#[test]
fn checksum_forms_v3_ipv4() {
    let v = vips();
    let mut t = tx(Version::V3, TxAuth::None);
    t.unicast = true;
    let peers = [UnicastPeer::new(IpAddr::V4(SRC))];
    let mut r = rules(Version::V3, Auth::None, &v);
    r.delivery = RxDelivery::Unicast {
        peers: &peers,
        check_src: false,
    };

    // keepalived ≤ 1.3.5 unicast: group address in the pseudo-header.
    t.checksum = TxChecksum::PseudoDst(GROUP);
    let old = encode_to(&t, IpAddr::V4(PEER));
    assert!(matches!(dec(&old, &r), Err(DecodeError::BadChecksum(_))));
    r.checksum = RxChecksum::StandardOrGroup(GROUP);
    assert!(dec(&old, &r).unwrap().old_unicast_checksum);
    r.checksum = RxChecksum::Group(GROUP);
    assert!(!dec(&old, &r).unwrap().old_unicast_checksum);

    // v3_checksum_as_v2: no pseudo-header; both forms accepted.
    t.checksum = TxChecksum::AsV2;
    let as_v2 = encode_to(&t, IpAddr::V4(PEER));
    t.checksum = TxChecksum::Standard;
    let std = encode_to(&t, IpAddr::V4(PEER));
    r.checksum = RxChecksum::Standard;
    assert!(matches!(dec(&as_v2, &r), Err(DecodeError::BadChecksum(_))));
    assert!(!dec(&std, &r).unwrap().old_unicast_checksum);
    r.checksum = RxChecksum::AsV2;
    assert!(dec(&as_v2, &r).is_ok());
    assert!(dec(&std, &r).is_ok());
}

#[test]
fn delivery_mismatch() {
    let v = vips();
    let peers = [UnicastPeer::new(IpAddr::V4(SRC))];
    let mut r = rules(Version::V2, Auth::None, &v);
    r.delivery = RxDelivery::Unicast {
        peers: &peers,
        check_src: false,
    };
    assert_eq!(
        dec(&v2(), &r),
        Err(DecodeError::DeliveryMismatch { multicast: true })
    );
    let uni = encode_to(&tx(Version::V2, TxAuth::None), IpAddr::V4(PEER));
    assert_eq!(
        dec(&uni, &rules(Version::V2, Auth::None, &v)),
        Err(DecodeError::DeliveryMismatch { multicast: false })
    );
}

#[test]
fn unknown_peer_and_ttl_range() {
    let v = vips();
    let uni = encode_to(&tx(Version::V2, TxAuth::None), IpAddr::V4(PEER));
    let others = [UnicastPeer::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)))];
    let mut r = rules(Version::V2, Auth::None, &v);
    r.delivery = RxDelivery::Unicast {
        peers: &others,
        check_src: true,
    };
    assert_eq!(
        dec(&uni, &r),
        Err(DecodeError::UnknownPeer(IpAddr::V4(SRC)))
    );
    // Without check_unicast_src, any source is accepted.
    r.delivery = RxDelivery::Unicast {
        peers: &others,
        check_src: false,
    };
    assert!(dec(&uni, &r).is_ok());

    let mut t = tx(Version::V2, TxAuth::None);
    t.ttl = 64;
    let p = encode_to(&t, IpAddr::V4(PEER));
    let peers = [UnicastPeer {
        addr: IpAddr::V4(SRC),
        min_ttl: 250,
        max_ttl: 255,
    }];
    r.delivery = RxDelivery::Unicast {
        peers: &peers,
        check_src: true,
    };
    assert_eq!(
        dec(&p, &r),
        Err(DecodeError::TtlOutOfRange {
            ttl: 64,
            min: 250,
            max: 255
        })
    );
    assert!(dec(&uni, &r).is_ok());
}

#[test]
fn family_mismatch_counted_by_instance() {
    use rk_vrrp_proto::{Family, Input, Instance, InstanceConfig};
    let mut vi = Instance::new(InstanceConfig::new(7, Version::V2, Family::V4, vips())).unwrap();
    let now = std::time::Instant::now();
    vi.handle(now, Input::Start);
    let meta = RxMeta::Ipv6 {
        src: ll(1),
        dst: "ff02::12".parse().unwrap(),
        hop_limit: Some(255),
    };
    vi.handle_packet(now, &encode(&v3_ipv6()), &meta);
    assert_eq!(vi.counters().decode.family_mismatch, 1);
    // And a good packet is counted as received.
    vi.handle_packet(now, &v2(), &RxMeta::Ipv4);
    assert_eq!(vi.counters().adverts_received, 1);
}

#[test]
fn peek_reads_vrid_for_dispatch() {
    let h = peek(&v2(), &RxMeta::Ipv4).unwrap();
    assert_eq!(
        (h.version, h.kind, h.vrid, h.priority, h.count, h.ah),
        (2, 1, 7, 100, 2, false)
    );
    let ah = encode(&tx(Version::V2, TxAuth::Ah { key: key(), seq: 1 }));
    let h = peek(&ah, &RxMeta::Ipv4).unwrap();
    assert_eq!((h.vrid, h.ah), (7, true));
}

#[test]
fn every_variant_has_its_own_counter() {
    let ip = IpAddr::V4(SRC);
    let all = [
        DecodeError::Truncated { needed: 1, got: 0 },
        DecodeError::TooLong {
            expected: 1,
            got: 2,
        },
        DecodeError::NotIpv4(6),
        DecodeError::BadIhl(1),
        DecodeError::BadProtocol(1),
        DecodeError::VridMismatch {
            expected: 1,
            got: 2,
        },
        DecodeError::AhPresenceMismatch { ah_present: true },
        DecodeError::BadTtl(1),
        DecodeError::VersionMismatch {
            expected: 2,
            got: 3,
        },
        DecodeError::InvalidAuthType(9),
        DecodeError::AuthTypeMismatch {
            expected: 0,
            got: 1,
        },
        DecodeError::BadPassword,
        DecodeError::AhNextHeader(1),
        DecodeError::AhIcv,
        DecodeError::AhSpi,
        DecodeError::AhReplay { seq: 1, last: 1 },
        DecodeError::AdvertIntervalMismatch {
            expected: Centisecs(1),
            got: Centisecs(2),
        },
        DecodeError::BadType(2),
        DecodeError::AddressCountMismatch {
            expected: 1,
            got: 2,
        },
        DecodeError::IpTotalLength { header: 1, got: 2 },
        DecodeError::BadChecksum(1),
        DecodeError::DeliveryMismatch { multicast: true },
        DecodeError::AddressListMismatch(ip),
        DecodeError::UnknownPeer(ip),
        DecodeError::TtlOutOfRange {
            ttl: 1,
            min: 2,
            max: 3,
        },
        DecodeError::FamilyMismatch,
    ];
    let mut seen = DecodeCounters::default();
    for (i, e) in all.iter().enumerate() {
        seen.record(e);
        assert_eq!(seen.total(), i as u64 + 1);
        assert!(!e.to_string().is_empty());
    }
    // Every field of the struct is exactly 1: no two variants share a counter and no
    // counter is left without its variant.
    let dbg = format!("{seen:?}");
    let values: Vec<&str> = dbg
        .split(", ")
        .map(|f| f.rsplit(": ").next().unwrap().trim_end_matches(" }"))
        .collect();
    assert_eq!(values.len(), all.len(), "{dbg}");
    assert!(values.iter().all(|v| *v == "1"), "{dbg}");
}

#[test]
fn encode_refusals() {
    let mut t = tx(Version::V2, TxAuth::None);
    let mut small = [0u8; 10];
    assert_eq!(
        t.encode(IpAddr::V4(GROUP), &mut small),
        Err(EncodeError::BufferTooSmall {
            needed: 44,
            got: 10
        })
    );
    let mut buf = [0u8; 2048];
    assert_eq!(
        t.encode(IpAddr::V6(Ipv6Addr::LOCALHOST), &mut buf),
        Err(EncodeError::AddressFamily(IpAddr::V6(Ipv6Addr::LOCALHOST)))
    );
    t.advert.interval = Centisecs(150);
    assert!(matches!(
        t.encode(IpAddr::V4(GROUP), &mut buf),
        Err(EncodeError::IntervalOutOfRange { .. })
    ));
    t.advert.interval = Centisecs(100);
    t.advert.addresses = vec![IpAddr::V4(SRC); 256];
    assert_eq!(
        t.encode(IpAddr::V4(GROUP), &mut buf),
        Err(EncodeError::TooManyAddresses(256))
    );
    let mut t3 = tx(Version::V3, TxAuth::Pass(key()));
    assert_eq!(
        t3.encode(IpAddr::V4(GROUP), &mut buf),
        Err(EncodeError::AuthWithV3)
    );
    t3.auth = TxAuth::None;
    t3.advert.interval = Centisecs(4096);
    assert!(matches!(
        t3.encode(IpAddr::V4(GROUP), &mut buf),
        Err(EncodeError::IntervalOutOfRange { .. })
    ));
    let mut t6 = v3_ipv6();
    t6.advert.version = Version::V2;
    assert_eq!(
        t6.encode("ff02::12".parse().unwrap(), &mut buf),
        Err(EncodeError::V2OverIpv6)
    );
}

fn ll(n: u16) -> Ipv6Addr {
    Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, n)
}

fn v3_ipv6() -> Transmit {
    Transmit {
        advert: Advert {
            version: Version::V3,
            vrid: 7,
            priority: 100,
            interval: Centisecs(100),
            addresses: vec![IpAddr::V6(ll(0x100))],
        },
        src: IpAddr::V6(ll(1)),
        destinations: vec!["ff02::12".parse().unwrap()],
        ttl: 255,
        ip_id: 0,
        auth: TxAuth::None,
        checksum: TxChecksum::Standard,
        unicast: false,
    }
}
