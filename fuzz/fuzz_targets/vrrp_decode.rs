//! Fuzzes the VRRP receive path: `peek`, `decode` under every kind of rule set, the
//! decode → encode → decode round trip, and a running instance fed the same bytes.
//!
//! Input layout: byte 0 selects the rules (version, auth, delivery, address check,
//! checksum mode, family), bytes 1.. are the packet (for IPv6, the first 33 bytes of it are
//! src, dst and hop limit, the rest the VRRP message).
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rk_vrrp_proto::packet::{RxChecksum, RxDelivery, TxAuth, TxChecksum, VipCheck};
use rk_vrrp_proto::{
    Auth, AuthKey, Centisecs, Family, Input, Instance, InstanceConfig, RxMeta, RxRules,
    Transmit, UnicastPeer, Version, decode, peek,
};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let ipv6 = sel & 0x80 != 0;
    let (meta, pkt) = if ipv6 {
        if rest.len() < 33 {
            return;
        }
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(&rest[..16]).unwrap_or([0; 16]));
        let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&rest[16..32]).unwrap_or([0; 16]));
        let hop = rest[32];
        (RxMeta::Ipv6 { src, dst, hop_limit: (hop != 0).then_some(hop) }, &rest[33..])
    } else {
        (RxMeta::Ipv4, rest)
    };

    let _ = peek(pkt, &meta);

    let version = if ipv6 || sel & 1 != 0 { Version::V3 } else { Version::V2 };
    let key = AuthKey::new(b"fuzzpass");
    let auth = match (version, (sel >> 1) & 3) {
        (Version::V2, 1) => Auth::Pass(key),
        (Version::V2, 2) if !ipv6 => Auth::Ah(key),
        _ => Auth::None,
    };
    let vips: Vec<IpAddr> = if ipv6 {
        vec![IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x100))]
    } else {
        vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100)), IpAddr::V4(Ipv4Addr::new(10, 0, 0, 101))]
    };
    let peers = [UnicastPeer { addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), min_ttl: 10, max_ttl: 255 }];
    let delivery = if sel & 8 != 0 {
        RxDelivery::Unicast { peers: &peers, check_src: sel & 16 != 0 }
    } else {
        RxDelivery::Multicast
    };
    let vip_check = match (sel >> 5) & 3 {
        0 => VipCheck::Skip,
        1 => VipCheck::Reject(&vips),
        _ => VipCheck::CountOnly(&vips),
    };
    let group = Ipv4Addr::new(224, 0, 0, 18);
    let checksum = match (sel >> 3) & 3 {
        0 => RxChecksum::Standard,
        1 => RxChecksum::StandardOrGroup(group),
        2 => RxChecksum::Group(group),
        _ => RxChecksum::AsV2,
    };
    let rules = RxRules {
        version,
        vrid: pkt.get(if ipv6 { 1 } else { 21 }).copied().unwrap_or(1),
        auth,
        adver_int: Centisecs(100),
        delivery,
        vips: vip_check,
        checksum,
        ah_last_seq: 0,
    };

    if let Ok(rx) = decode(pkt, &meta, &rules) {
        // Whatever decoded must encode, and decode back to the same advert.
        let tx = Transmit {
            advert: rx.advert.clone(),
            src: rx.src,
            destinations: vec![rx.dst],
            ttl: rx.ttl.unwrap_or(255),
            ip_id: 1,
            auth: match auth {
                Auth::None => TxAuth::None,
                Auth::Pass(k) => TxAuth::Pass(k),
                Auth::Ah(key) => TxAuth::Ah { key, seq: rx.ah_seq.unwrap_or(1) },
            },
            checksum: match checksum {
                RxChecksum::Group(g) => TxChecksum::PseudoDst(g),
                RxChecksum::StandardOrGroup(g) if rx.old_unicast_checksum => TxChecksum::PseudoDst(g),
                RxChecksum::AsV2 => TxChecksum::AsV2,
                _ => TxChecksum::Standard,
            },
            unicast: matches!(delivery, RxDelivery::Unicast { .. }),
        };
        let mut buf = [0u8; 2048];
        let n = tx.encode(rx.dst, &mut buf).expect("a decoded advert encodes");
        let mut again_rules = rules;
        again_rules.ah_last_seq = rx.ah_seq.map_or(0, |s| s - 1);
        let again = decode(&buf[..n], &meta, &again_rules).expect("our encoding decodes");
        assert_eq!(again.advert, rx.advert);
    }

    // A running instance (BACKUP, then MASTER) must take any bytes without panicking.
    let family = if ipv6 { Family::V6 } else { Family::V4 };
    let mut cfg = InstanceConfig::new(rules.vrid.max(1), version, family, vips.clone());
    cfg.auth = auth;
    let Ok(mut vi) = Instance::new(cfg) else { return };
    let t0 = Instant::now();
    vi.handle(t0, Input::Start);
    vi.handle_packet(t0, pkt, &meta);
    vi.handle(t0 + Duration::from_secs(10), Input::Timer);
    vi.handle_packet(t0 + Duration::from_secs(10), pkt, &meta);
    while vi.poll_action().is_some() {}
});
