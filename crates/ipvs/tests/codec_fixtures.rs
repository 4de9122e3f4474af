//! Codec checks on replies captured from the real 6.1 kernel in the test VM
//! (`RK_UPDATE_FIXTURES=1 cargo test -p rk-ipvs --test vm` rewrites them):
//! parse → struct → emit gives the same bytes, and the typed layer reads
//! what the capture scenario configured.

use std::path::PathBuf;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_generic::GenlMessage;
use rk_ipvs::codec::{IpvsAttr, IpvsCmd, IpvsMessage};
use rk_ipvs::{
    DestinationEntry, Family, Forward, Info, ServiceEntry, Timeouts, TunnelFlags, TunnelType,
};

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("tests/fixtures exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("fixture readable");
            let text = text.trim();
            let bytes = (0..text.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
                .collect();
            (
                p.file_stem().expect("stem").to_string_lossy().into_owned(),
                bytes,
            )
        })
        .collect();
    out.sort();
    out
}

fn decode(bytes: &[u8]) -> (NetlinkMessage<GenlMessage<IpvsMessage>>, IpvsMessage) {
    let msg = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(bytes)
        .expect("kernel bytes decode");
    let NetlinkPayload::InnerMessage(genl) = &msg.payload else {
        panic!("not a family message")
    };
    let inner = genl.payload.clone();
    (msg, inner)
}

#[test]
fn every_fixture_reemits_identically() {
    let all = fixtures();
    assert!(
        all.len() >= 10,
        "expected the captured fixtures, found {}",
        all.len()
    );
    for (name, bytes) in &all {
        let (msg, inner) = decode(bytes);
        let mut out = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut out);
        assert_eq!(&out, bytes, "{name} re-emits differently");
        // Nothing the 6.1 kernel sends is unknown to us.
        let unknown = format!("{inner:?}").contains("Other(");
        assert!(!unknown, "{name} has attributes we do not model: {inner:?}");
    }
}

fn fixture(name: &str) -> IpvsMessage {
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("fixture {name}"));
    decode(&bytes).1
}

#[test]
fn info_and_config_read_as_typed_values() {
    let info = fixture("get_info_0");
    assert_eq!(info.cmd, IpvsCmd::SetInfo);
    let info = Info::from_attrs(&info.attrs).expect("info");
    assert_eq!(info.version_triple(), (1, 2, 1));
    assert_eq!(info.conn_tab_size, 4096);
    let config = fixture("get_config_0");
    let t = Timeouts::from_attrs(&config.attrs).expect("timeouts");
    // Debian 6.1 defaults: 15 min TCP, 2 min FIN, 5 min UDP.
    assert_eq!(
        t,
        Timeouts {
            tcp: 900,
            tcp_fin: 120,
            udp: 300
        }
    );
}

#[test]
fn service_and_destination_dumps_read_as_typed_values() {
    let svc = fixture("dump_services_0");
    assert_eq!(svc.cmd, IpvsCmd::NewService);
    let IpvsAttr::Service(attrs) = &svc.attrs[0] else {
        panic!("no service nest: {svc:?}")
    };
    let entry = ServiceEntry::from_attrs(attrs).expect("service");
    assert!(entry.stats.is_some() && entry.stats64.is_some());

    let gue_port = [
        "dump_dests_v6_tunnels_0",
        "dump_dests_v6_tunnels_1",
        "dump_dests_v6_tunnels_2",
    ]
    .iter()
    .map(|n| fixture(n))
    .filter_map(|m| match &m.attrs[0] {
        IpvsAttr::Dest(d) => Some(DestinationEntry::from_attrs(d, Family::Inet6).expect("dest")),
        _ => None,
    })
    .filter_map(|d| match d.dest.forward {
        Forward::Tunnel {
            tun_type: TunnelType::Gue,
            port,
            flags,
        } => Some((port, flags)),
        _ => None,
    })
    .collect::<Vec<_>>();
    // The capture configured GUE 6080 with csum and GUE 6081 with remcsum;
    // the first three dump messages hold at least one of them.
    assert!(!gue_port.is_empty());
    for p in &gue_port {
        assert!(
            [(6080, TunnelFlags::CSUM), (6081, TunnelFlags::REMCSUM)].contains(p),
            "{p:?}"
        );
    }

    let mixed = fixture("dump_dests_mixed_family_0");
    let IpvsAttr::Dest(d) = &mixed.attrs[0] else {
        panic!("no dest nest")
    };
    let d = DestinationEntry::from_attrs(d, Family::Inet).expect("dest");
    assert!(
        d.dest.key.addr.is_ipv6(),
        "IPv6 destination of an IPv4 service: {d:?}"
    );
}
