//! # rk-vrrp: the VRRP driver
//!
//! Runs [`rk_vrrp_proto`]'s state machines against the real network: raw IP sockets for
//! protocol 112 (51 for AH) with `IP_HDRINCL` on IPv4 and `IPV6_PKTINFO` /
//! `IPV6_HOPLIMIT` on IPv6, bound to the instance's interface (`SO_BINDTODEVICE`);
//! multicast membership of 224.0.0.18 / ff02::12 or the configured group; unicast peers
//! (never a fall-back to multicast); VIPs through [`rk_netlink`]; gratuitous ARPs and
//! unsolicited NAs on a link-layer socket; VMACs; sync groups; `track_interface` and the
//! instance's own interface; the states of the other trackers (`vrrp_script`, `track_file`,
//! `vrrp_track_process`), handed in through [`Trackers`], turned into priority and faults.
//!
//! **Owns:** the VRRP sockets, the VIPs and VMACs of the configured instances, their
//! `virtual_routes` and `virtual_rules`, the `static_ipaddress`/`static_routes`/
//! `static_rules` (installed at start, removed at stop, see [`StaticPlan`]), and the VRRP
//! thread. **Never does:** parse configuration text (it takes
//! [`rk_config::model`] through [`from_config`]), run scripts of any kind (tracking or
//! notify: the daemon runs them on another thread and reports results), touch IPVS, or
//! decide protocol behaviour — that is all in `rk-vrrp-proto`.
//!
//! ## Events
//!
//! [`VrrpEvent`]s — instance and sync group transitions, priority changes, lower-priority
//! adverts heard while MASTER — go to [`Vrrp::subscribe`] (a broadcast that drops for slow
//! readers) and, in order and without loss, to [`Options::event_sink`]. A sync group's
//! event follows its members' events of the same transition.
//!
//! ## Shape
//!
//! [`start`] spawns one thread running a current-thread tokio runtime with one task, the
//! driver: a biased `select!` over commands, the earliest instance deadline, received
//! packets (one reader task per socket feeds a bounded queue) and netlink events. Timers
//! come before packets, so a flood cannot delay adverts; the bounded queue means a flood
//! is dropped by the kernel rather than buffered.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = rk_config::load_file("keepalived.conf".as_ref(), &Default::default())?.config;
//! let (plan, warnings) = rk_vrrp::from_config::plan(&cfg)?;
//! for w in warnings { eprintln!("{w}"); }
//! let vrrp = rk_vrrp::start(plan, rk_vrrp::Options::default())?;
//! // … wait for SIGTERM …
//! vrrp.stop(); // priority 0 from masters, VIPs removed, VMACs deleted
//! # Ok(()) }
//! ```
//!
//! ## Timing
//!
//! * The VRRP thread runs at `SCHED_RR` priority 1 ([`DEFAULT_RT_PRIORITY`]) unless
//!   `vrrp_rt_priority` says otherwise (`0`: no real-time; `vrrp_priority` sets a nice
//!   value). Measured in `BENCHMARKS-vrrp.md`: with both cores kept busy, adverts at 100 ms
//!   leave within 1 ms of schedule; as a normal thread (and keepalived by default) they
//!   were up to 90 ms late.
//! * Because the thread is real-time, a packet flood must not take a core from everything
//!   else: at most 5 000 packets per 100 ms are handled (100 × what a thousand instances at
//!   100 ms send); beyond that the kernel drops them, and a warning says so.
//! * The deadline is a timerfd armed to the nanosecond: one wake-up per advert, as
//!   keepalived.
//!
//! ## What counts as "ours" at start-up
//!
//! Addresses we add carry `IFA_PROTO` 18 ("proto keepalived" in `ip addr`): that marker is
//! what makes an address ours. At start:
//! * an instance whose every VIP is on its interface with our marker was MASTER when this
//!   node's previous process ended without releasing them (killed, or stopped with `-V`):
//!   it keeps them and listens one advert interval (plus skew) for another master
//!   ([`rk_vrrp_proto::Input::Resume`]). Hearing none, it is MASTER and traffic to the VIPs
//!   never stopped; hearing one, it releases them and elects as after a plain start;
//! * every other instance that does not start as MASTER removes its configured VIPs (and
//!   excluded VIPs), keepalived's rule, so a backup never answers for a VIP;
//! * marked addresses on an interface our VIPs use that are not VIPs of the current
//!   configuration (left by an earlier configuration) are removed.
//!
//! Nothing else is ever touched: an address without our marker is not ours unless the
//! configuration names it.
//!
//! ## Virtual routes and rules
//!
//! An instance adds its `virtual_routes` then its `virtual_rules` right after its VIPs
//! when it takes them (MASTER), and removes its rules then its routes right before its
//! VIPs when it releases them (BACKUP, FAULT, stop; `-V` keeps them at stop as it keeps
//! the VIPs), keepalived's order. They carry `proto keepalived`, so a removal only ever
//! matches a route or rule added that way; the configured set is what is removed, so
//! leftovers of a killed process go when the next one releases, but never a route or
//! rule that another instance holding its addresses also configures. Failures are
//! logged with the instance and counted ([`InstanceStats::route_errors`]); the instance
//! keeps its state. Tables are resolved by name through `/etc/iproute2/rt_tables`,
//! interfaces when the route is added. The interfaces of tracked routes (`dev`) and
//! rules (`iif`, `oif`) are tracked interfaces of the instance, as in keepalived.
//!
//! ## Reload
//!
//! [`Vrrp::reload`] replaces the plan in the running thread (keepalived's
//! `clear_diff_vrrp`): instances are matched by identity, not name; a matched instance
//! keeps its state, counters and advert schedule, and takes a new priority at its next
//! advert; VIPs, routes and rules added to or removed from a MASTER are added (with
//! GARPs) or removed; a vanished instance leaves as at stop; a new one starts. See
//! [`ReloadReport`].
//!
//! ## Where we differ from keepalived 2.2.7
//!
//! * On a VMAC, adverts are received through a link-layer socket with the group's MAC
//!   added to the VMAC's filter, instead of an IP group join: no IGMP/MLD report ever
//!   leaves a backup from the shared virtual MAC, with no firewall rule needed.
//! * Dropped adverts are logged at most once per 10 s per instance with a count (keepalived
//!   logs each kind once per state); every drop is counted in [`InstanceStats::dropped`].
//! * See `rk-vrrp-proto` for the protocol-level differences.

mod driver;
mod error;
pub mod frames;
pub mod from_config;
mod handle;
mod sockets;
pub mod spec;
pub mod status;
mod sys;
mod timer;

pub use driver::ReloadReport;
pub use error::Error;
pub use handle::{DEFAULT_RT_PRIORITY, Options, Trackers, Vrrp, start};
pub use spec::{
    InstanceSpec, Plan, StaticPlan, TrackSource, Tracked, TrackerKind, TrackerSpec, VipSpec,
    VmacPlan,
};
pub use status::{InstanceStats, InstanceStatus, Status, VrrpEvent};
