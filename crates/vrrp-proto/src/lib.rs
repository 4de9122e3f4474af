//! # rk-vrrp-proto: VRRP without I/O
//!
//! The pure half of rkeepalived's VRRP: the packet codec for VRRPv2 (RFC 3768) and VRRPv3
//! (RFC 5798 / RFC 9568) over IPv4 and IPv6, keepalived-compatible v2 authentication (PASS
//! and IPsec-AH with HMAC-MD5-96), and one VRRP instance's state machine driven by a clock
//! the caller passes in.
//!
//! **Owns:** wire formats and their validation (every rule keepalived's `vrrp_check_packet`
//! applies is a [`DecodeError`] variant with a counter in [`DecodeCounters`]), the
//! election, timers, preemption, priority arithmetic for trackers ([`track`]: keepalived's
//! weight, `reverse` and `track_file` rules), GARP schedules and the state-change notices.
//!
//! **Never does:** I/O of any kind — no sockets, no clock reads, no netlink, no threads, no
//! tokio. The driver (`crates/vrrp`) owns raw sockets, multicast membership, VIP
//! add/remove, GARP/NA frames and notify scripts, and runs this crate.
//!
//! ## Driving an instance
//!
//! ```
//! use std::time::{Duration, Instant};
//! use rk_vrrp_proto::{Action, Family, Input, Instance, InstanceConfig, StateKind, Version};
//!
//! let cfg = InstanceConfig::new(51, Version::V2, Family::V4, vec!["192.0.2.10".parse().unwrap()]);
//! let mut vi = Instance::new(cfg).unwrap();
//! let t0 = Instant::now();
//! vi.handle(t0, Input::InterfaceAddress(Some("192.0.2.1".parse().unwrap())));
//! vi.handle(t0, Input::Start);
//! assert_eq!(vi.state(), StateKind::Backup);
//!
//! // The driver loop: carry out actions, then sleep until poll_timeout() or a packet.
//! let mut buf = [0u8; 1500];
//! let mut now = t0;
//! while vi.state() != StateKind::Master {
//!     while let Some(action) = vi.poll_action() {
//!         if let Action::SendAdvert(tx) = &action {
//!             for dst in &tx.destinations {
//!                 let n = tx.encode(*dst, &mut buf).unwrap();
//!                 // sendto(raw_socket, &buf[..n], dst)
//!                 assert!(n > 0);
//!             }
//!         }
//!         // AddVips / RemoveVips → netlink, SendGarp → ARP/NA, StateChange → notify …
//!     }
//!     // A received packet would go to vi.handle_packet(now, &bytes, &RxMeta::Ipv4).
//!     now = vi.poll_timeout().unwrap();
//!     vi.handle(now, Input::Timer);
//! }
//! // No master was heard for 3 × 1 s + skew (156/256 s at priority 100): we took over.
//! assert_eq!(now - t0, Duration::from_micros(3_609_375));
//! ```
//!
//! ## The driver's side, in short
//!
//! * **Receive:** read a packet; [`peek`] gives its VRID (and source) to pick the instance;
//!   [`Instance::handle_packet`] decodes it with that instance's rules ([`Instance::rx_rules`])
//!   and handles it; drops are counted in [`Instance::counters`]. IPv4 buffers start with
//!   the IP header ([`RxMeta::Ipv4`]); IPv6 buffers are the VRRP message, with source,
//!   destination (IPV6_PKTINFO) and hop limit (IPV6_HOPLIMIT) in [`RxMeta::Ipv6`]. Leave
//!   IPV6_CHECKSUM off the receive socket if bad checksums should be counted rather than
//!   silently dropped by the kernel (our encoder fills the checksum in either way).
//! * **Send:** each [`Action::SendAdvert`] carries a [`Transmit`]; encode it once per
//!   destination. IPv4 gives the whole packet for an IP_HDRINCL socket; IPv6 the message.
//! * **Time:** sleep until [`Instance::poll_timeout`], then hand in [`Input::Timer`].
//! * **Everything else** (interface state and address, trackers, sync group, shutdown,
//!   reload with [`Instance::reconfigure`]) is an [`Input`].
//!
//! ## Behaviour where we differ from keepalived 2.2.7 (on purpose)
//!
//! * **A MASTER that hears a lower priority answers at once** (an advert and a GARP burst,
//!   then a second burst after `garp_lower_prio_delay`), at most once per advert interval.
//!   This is our default; in keepalived the equivalent needs `garp_lower_prio_*` settings
//!   and users lose traffic after short split brains (users-and-peers §1.B).
//! * **Received packets never delay our adverts.** keepalived re-arms a MASTER's advert
//!   timer after processing any received packet, valid or not, so a flood can starve its
//!   adverts; here only a sent advert moves the timer.
//! * **Two owners (priority 255)**: the lower address yields, by the RFC's tie rule.
//!   keepalived 2.2.7 demotes whichever hears the other first to 254 until reload.
//! * **Skew** is exact to the nanosecond (keepalived: microseconds); no truncation to whole
//!   centiseconds, which would give every priority the same skew at 10 ms intervals.
//! * **`v3_checksum_as_v2`** accepts both checksum forms (keepalived HEAD checks none).
//! * **Advertised-address mismatch** rejects the advert by default, like 2.2.7 (HEAD only
//!   logs): see [`VipCheckMode`].

pub mod auth;
pub mod checksum;
pub mod counters;
pub mod instance;
pub mod packet;
pub mod time;
pub mod track;

pub use auth::{Auth, AuthKey};
pub use counters::{Counters, DecodeCounters};
pub use instance::{
    Action, ChecksumConfig, ConfigError, Delivery, FaultSource, GarpConfig, Input, Instance,
    InstanceConfig, OldUnicastChecksum, Reason, ReloadError, StateKind, SyncCommand, TrackerId,
    UnicastPeer, VipCheckMode,
};
pub use packet::{
    Advert, DecodeError, EncodeError, Family, Received, RxMeta, RxRules, Transmit, Version, decode,
    peek,
};
pub use time::Centisecs;
pub use track::{TrackEffect, TrackWeight, TrackerState};
