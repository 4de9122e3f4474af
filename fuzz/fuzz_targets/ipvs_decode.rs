//! Fuzzes the IPVS netlink reply decoder (`rk_ipvs::decode_datagram`, what
//! the handle runs on every datagram from the kernel) and the typed layer
//! reading the decoded attributes. Properties: no panic on any input; every
//! decoded message re-encodes to bytes that decode again, and one
//! decode → encode pass reaches a fixed point (the second encoding equals
//! the first).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rk_ipvs::codec::IpvsAttr;
use rk_ipvs::{
    DatagramMessage, Daemon, DestinationEntry, Family, Info, ServiceEntry, Timeouts, decode_datagram, decode_message,
    encode_message,
};

fuzz_target!(|data: &[u8]| {
    for reply in decode_datagram(data) {
        let Ok(DatagramMessage::Ipvs(msg)) = reply else { continue };
        // The typed layer must reject bad input with an error, never a panic.
        for attr in &msg.attrs {
            match attr {
                IpvsAttr::Service(a) => drop(ServiceEntry::from_attrs(a)),
                IpvsAttr::Dest(a) => {
                    drop(DestinationEntry::from_attrs(a, Family::Inet));
                    drop(DestinationEntry::from_attrs(a, Family::Inet6));
                }
                IpvsAttr::Daemon(a) => drop(Daemon::from_attrs(a)),
                _ => {}
            }
        }
        drop(Timeouts::from_attrs(&msg.attrs));
        drop(Info::from_attrs(&msg.attrs));

        let once = encode_message(&msg, 0x20, 0, 1);
        if once.len() > usize::from(u16::MAX) {
            // Attribute lengths are u16: a re-encoding this large cannot be valid netlink.
            continue;
        }
        let again = decode_message(&once).expect("our own encoding decodes");
        let twice = encode_message(&again, 0x20, 0, 1);
        assert_eq!(once, twice, "decode/encode is not idempotent for {msg:?}");
    }
});
