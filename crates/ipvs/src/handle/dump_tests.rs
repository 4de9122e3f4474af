//! The dump's direct reply readers against the generic codec: on kernel
//! captures and on generated and mutated messages (duplicated, unknown,
//! missing, wrong-length and truncated attributes), both must give the same
//! services and destinations, or both fail.

use super::*;
use crate::codec::{
    IPVS_CMD_NEW_DEST, IPVS_CMD_NEW_SERVICE, IPVS_CMD_SET_INFO, IPVS_DEST_ATTR_ADDR_FAMILY,
};
use crate::decode_message;
use crate::model::Family;

/// The generic reading of a `GET_DEST` reply: decode the whole message,
/// then `from_attrs` on each destination, as the handle did before.
fn generic_dests(bytes: &[u8], family: Family) -> Option<Vec<DestinationEntry>> {
    let m = decode_message(bytes).ok()?;
    m.attrs
        .iter()
        .filter_map(|a| match a {
            IpvsAttr::Dest(d) => Some(DestinationEntry::from_attrs(d, family).ok()),
            _ => None,
        })
        .collect()
}

fn fast_dests(bytes: &[u8], family: Family) -> Option<Vec<DestinationEntry>> {
    let mut out = Vec::new();
    dests_of_message(bytes, family, &mut out).ok()?;
    Some(out)
}

/// The generic reading of a `GET_SERVICE` reply: the first service nest.
fn generic_service(bytes: &[u8]) -> Option<Option<ServiceEntry>> {
    let m = decode_message(bytes).ok()?;
    match m.attrs.iter().find_map(|a| match a {
        IpvsAttr::Service(s) => Some(s),
        _ => None,
    }) {
        Some(s) => ServiceEntry::from_attrs(s).ok().map(Some),
        None => Some(None),
    }
}

fn fast_service(bytes: &[u8]) -> Option<Option<ServiceEntry>> {
    service_of_message(bytes).ok()
}

/// Both readings of `bytes` agree (as a dest reply and as a service reply).
#[track_caller]
fn agree(bytes: &[u8]) -> bool {
    for family in [Family::Inet, Family::Inet6] {
        assert_eq!(
            generic_dests(bytes, family),
            fast_dests(bytes, family),
            "dests of {bytes:02x?}"
        );
    }
    let generic = generic_service(bytes);
    assert_eq!(generic, fast_service(bytes), "service of {bytes:02x?}");
    matches!(generic, Some(Some(_)))
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture readable");
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

const FIXTURES: &[&str] = &[
    "dump_dests_mixed_family_0",
    "dump_dests_v6_tunnels_0",
    "dump_dests_v6_tunnels_1",
    "dump_dests_v6_tunnels_2",
    "dump_services_0",
    "dump_services_1",
    "dump_services_2",
    "get_config_0",
    "get_info_0",
    "dump_daemons_0",
];

#[test]
fn kernel_captures_read_the_same() {
    let mut services = 0;
    let mut dests = 0;
    for name in FIXTURES {
        let bytes = fixture(name);
        services += usize::from(agree(&bytes));
        dests += fast_dests(&bytes, Family::Inet).map_or(0, |d| d.len());
    }
    // The captures do contain what is compared.
    assert_eq!(services, 3);
    assert_eq!(dests, 4);
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + value.len() + 3);
    out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize((out.len() + 3) & !3, 0);
    out
}

/// A family message: netlink header (length fixed up as the receive loop
/// guarantees it), generic header, attributes.
fn message(cmd: u8, attrs: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(20 + attrs.len());
    out.extend_from_slice(&((20 + attrs.len()) as u32).to_ne_bytes());
    out.extend_from_slice(&0x20u16.to_ne_bytes());
    out.extend_from_slice(&[2, 0, 7, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&[cmd, 1, 0, 0]);
    out.extend_from_slice(attrs);
    out
}

/// A value that is usually the right size for attribute kinds 1..=16 of a
/// service or destination nest, sometimes not.
fn value(rng: &mut Rng) -> Vec<u8> {
    let len = match rng.below(10) {
        0 => rng.below(20),
        1 | 2 => 2,
        3 | 4 => 16,
        5 => 8,
        6 => 1,
        _ => 4,
    };
    let mut v = rng.bytes(len);
    // Mostly valid families, forwarding methods and UTF-8 names.
    if rng.below(2) == 0 && len == 2 {
        v = [2u16, 10][rng.below(2)].to_ne_bytes().to_vec();
    }
    if rng.below(2) == 0 && len == 4 {
        v = (rng.below(5) as u32).to_ne_bytes().to_vec();
    }
    if rng.below(4) == 0 {
        v = b"wlc\0".to_vec();
    }
    v
}

fn stats_nest(rng: &mut Rng) -> Vec<u8> {
    let mut nest = Vec::new();
    for _ in 0..rng.below(14) {
        let kind = rng.below(13) as u16;
        let len = [4, 8, 8, 4, 3, 0][rng.below(6)];
        nest.extend(nla(kind, &rng.bytes(len)));
    }
    nest
}

/// A random service (`dest` false) or destination nest: the attributes a
/// valid one needs, in random order, one of them sometimes left out, plus
/// random ones (kinds 1..=17, stats nests at their kinds): duplicates,
/// unknown kinds and wrong sizes included.
fn nest(rng: &mut Rng, dest: bool) -> Vec<u8> {
    let af = [2u16, 10, 2, 7][rng.below(4)].to_ne_bytes();
    let base: Vec<(u16, Vec<u8>)> = if dest {
        vec![
            (IPVS_DEST_ATTR_ADDR_FAMILY, af.to_vec()),
            (1, rng.bytes(16)),
            (2, rng.bytes(2)),
            (3, (rng.below(6) as u32).to_ne_bytes().to_vec()),
            (4, rng.bytes(4)),
        ]
    } else {
        let mut flags = rng.bytes(8);
        flags[4..].copy_from_slice(&[0xff; 4]);
        vec![
            (1, af.to_vec()),
            (2, 6u16.to_ne_bytes().to_vec()),
            (3, rng.bytes(16)),
            (4, rng.bytes(2)),
            (6, b"wlc\0".to_vec()),
            (7, flags),
            (9, rng.bytes(4)),
        ]
    };
    let mut attrs: Vec<(u16, Vec<u8>)> = base;
    if rng.below(4) == 0 {
        let drop = rng.below(attrs.len());
        attrs.remove(drop);
    }
    for _ in 0..rng.below(5) {
        let kind = 1 + rng.below(17) as u16;
        let v = if kind == 10 || kind == 12 {
            stats_nest(rng)
        } else {
            value(rng)
        };
        attrs.push((kind, v));
    }
    for i in (1..attrs.len()).rev() {
        attrs.swap(i, rng.below(i + 1));
    }
    attrs.iter().flat_map(|(k, v)| nla(*k, v)).collect()
}

/// Flip, overwrite or cut bytes of a message after its netlink header.
fn mutate(rng: &mut Rng, mut msg: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(3) {
        if msg.len() <= 16 {
            break;
        }
        let at = 16 + rng.below(msg.len() - 16);
        match rng.below(3) {
            0 => msg[at] ^= 1 << rng.below(8),
            1 => msg[at] = rng.next() as u8,
            _ => msg.truncate(at),
        }
    }
    let len = msg.len() as u32;
    if msg.len() >= 4 {
        msg[..4].copy_from_slice(&len.to_ne_bytes());
    }
    msg
}

#[test]
fn generated_and_mutated_replies_read_the_same() {
    let mut rng = Rng(0x5eed_1a2b_3c4d_5e6f);
    let mut read_ok = [0usize; 2];
    for round in 0..40_000 {
        let dest = round % 2 == 0;
        let (cmd, top) = if dest {
            (IPVS_CMD_NEW_DEST, IPVS_CMD_ATTR_DEST)
        } else {
            (IPVS_CMD_NEW_SERVICE, IPVS_CMD_ATTR_SERVICE)
        };
        let mut attrs = Vec::new();
        for _ in 0..1 + rng.below(3) {
            // Mostly the nest the reply carries, sometimes another one.
            let kind = if rng.below(5) == 0 {
                1 + rng.below(6) as u16
            } else {
                top
            };
            let n = nest(&mut rng, dest);
            attrs.extend(nla(kind, &n));
        }
        let mut msg = message(cmd, &attrs);
        if rng.below(3) == 0 {
            msg = mutate(&mut rng, msg);
        }
        if rng.below(50) == 0 && msg.len() > 16 {
            // SET_INFO numbers its attributes differently.
            msg[16] = IPVS_CMD_SET_INFO;
        }
        agree(&msg);
        let ok = if dest {
            fast_dests(&msg, Family::Inet).is_some_and(|d| !d.is_empty())
        } else {
            matches!(fast_service(&msg), Some(Some(_)))
        };
        read_ok[usize::from(dest)] += usize::from(ok);
    }
    // Enough inputs were valid for the equality of values to be exercised,
    // not only the agreement on failures.
    assert!(read_ok.iter().all(|n| *n > 400), "valid reads: {read_ok:?}");
}

#[test]
fn mutated_kernel_captures_read_the_same() {
    let mut rng = Rng(0x0dd_ba11);
    for name in FIXTURES {
        let bytes = fixture(name);
        for _ in 0..2_000 {
            agree(&mutate(&mut rng, bytes.clone()));
        }
    }
}

#[test]
fn repeated_attributes_read_as_before() {
    // A destination with two ports, two stats nests, and a counter twice in
    // the first nest: the first port and the first nest count (`find`), and
    // within a nest the last counter (`Stats::from_attrs`).
    let counters = [
        nla(1, &5u32.to_ne_bytes()),
        nla(1, &6u32.to_ne_bytes()),
        nla(4, &7u64.to_ne_bytes()),
    ]
    .concat();
    let dest = [
        nla(IPVS_DEST_ATTR_ADDR_FAMILY, &2u16.to_ne_bytes()),
        nla(1, &[192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        nla(2, &80u16.to_be_bytes()),
        nla(2, &81u16.to_be_bytes()),
        nla(3, &0u32.to_ne_bytes()),
        nla(10, &counters),
        nla(10, &nla(1, &9u32.to_ne_bytes())),
    ]
    .concat();
    let msg = message(IPVS_CMD_NEW_DEST, &nla(IPVS_CMD_ATTR_DEST, &dest));
    for read in [generic_dests, fast_dests] {
        let got = read(&msg, Family::Inet).expect("reads");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].dest.key.port, 80);
        let stats = got[0].stats.expect("stats");
        assert_eq!((stats.conns, stats.inbytes), (6, 7));
        assert_eq!(got[0].stats64, None);
    }
}
