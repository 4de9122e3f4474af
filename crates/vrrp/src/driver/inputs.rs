//! Level-triggered inputs: after anything changes in the namespace, each instance is
//! told the current state of its interface, its source address and its tracked
//! interfaces. The state machine ignores inputs that change nothing, so repeating them is
//! harmless and nothing depends on seeing every event.

use std::time::Instant;

use rk_vrrp_proto::{FaultSource, Input, TrackerId};

use super::Driver;

/// The fault source of `unicast_fault_no_peer` with no peers (a tracker id no
/// `track_interface` entry uses).
pub(super) const FAULT_NO_PEER: TrackerId = TrackerId(u32::MAX);

impl Driver {
    /// Whether the instance's interfaces are up: the base interface, and the VMAC when
    /// adverts or VIPs use one.
    fn links_up(&self, i: usize) -> bool {
        let s = &self.insts[i].spec;
        let base = self.link(&s.interface).is_some_and(|l| l.is_up());
        let vmac = match &s.vmac {
            None => true,
            Some(v) => {
                self.insts[i].vmac.is_some() && self.link(&v.name).is_some_and(|l| l.is_up())
            }
        };
        // Without a socket adverts can neither go out nor come in.
        let channel = self.channels.contains_key(&self.channel_key(i));
        base && vmac && channel
    }

    /// Feeds instance `i` the current state of everything it depends on.
    pub(super) fn refresh_inputs(&mut self, i: usize, now: Instant) {
        let up = self.links_up(i);
        let spec = &self.insts[i].spec;
        let family = spec.proto.family;
        let iface_addr = self.interface_address(&spec.interface, family);
        // No source address at all: keepalived enters FAULT ("no IP address"); with
        // `track_src_ip`, a configured source that vanished does the same.
        let src_fault = match spec.proto.src_addr {
            None => iface_addr.is_none(),
            Some(a) => spec.track_src_ip && !self.address_present(a),
        };
        let fault_no_peer = spec.fault_no_peer;
        let trackers: Vec<(usize, Input)> = spec
            .track_interfaces
            .iter()
            .enumerate()
            .map(|(n, t)| {
                let id = TrackerId(u32::try_from(n).unwrap_or(u32::MAX - 1));
                let up = self.link(&t.name).is_some_and(|l| l.is_up()) != t.reverse;
                let input = if t.weight == 0 {
                    Input::Fault {
                        source: FaultSource::Tracker(id),
                        active: !up,
                    }
                } else {
                    // +N while up, −N while down (keepalived §3.10).
                    let delta = match (t.weight > 0, up) {
                        (true, true) | (false, false) => t.weight,
                        _ => 0,
                    };
                    Input::PriorityAdjustment { tracker: id, delta }
                };
                (n, input)
            })
            .collect();
        let vi = &mut self.insts[i].vi;
        vi.handle(now, Input::InterfaceAddress(iface_addr));
        vi.handle(
            now,
            Input::Fault {
                source: FaultSource::SourceAddress,
                active: src_fault,
            },
        );
        vi.handle(
            now,
            Input::Fault {
                source: FaultSource::Tracker(FAULT_NO_PEER),
                active: fault_no_peer,
            },
        );
        for (_, input) in trackers {
            vi.handle(now, input);
        }
        vi.handle(
            now,
            if up {
                Input::InterfaceUp
            } else {
                Input::InterfaceDown
            },
        );
    }
}
