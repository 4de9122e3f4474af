//! # rk-netlink: the one owner of rtnetlink
//!
//! Everything rkeepalived asks of the kernel's routing netlink goes through this crate:
//!
//! * **addresses** — add and remove with prefix, broadcast, scope, label (`eth0:0` as
//!   `IFA_LABEL`), flags, peer, preferred lifetime and `IFA_PROTO`; list them (to clean up
//!   addresses left behind by a crash and to notice one deleted behind our back);
//! * **links** — lookups by name or index (index, MAC, MTU, up/carrier state, kind,
//!   parent), up/down, deletion;
//! * **VMACs** — private-mode macvlans with the RFC 5798 virtual router MAC and the sysctls
//!   keepalived sets for them (`arp_ignore`, `arp_filter`, `accept_local`, `rp_filter`,
//!   plus `arp_announce=2` on the parent, see [`Netlink::ensure_vmac`]), every change
//!   logged through `tracing` and undone on removal;
//! * **routes** — add and remove ([`RouteSpec`]: destination or default, preferred
//!   source, gateway, interface, table, metric, scope, protocol, type, `onlink`, multipath
//!   next hops with weights), marked `proto keepalived` unless told otherwise, so a
//!   removal only ever matches a route added that way;
//! * **policy rules** — add and remove ([`RuleSpec`]: from/to, `not`, priority, the
//!   table/goto/nop/blackhole/unreachable/prohibit/l3mdev actions and the common
//!   selectors: fwmark/mask, iif/oif, tos, port ranges, ipproto, uid range);
//! * **events** — a [`Monitor`] stream of link and address changes, and a
//!   [`RouteMonitor`] stream of removals of our (`proto keepalived`) routes and rules.
//!
//! It **never** decides anything: which address, route or rule belongs where, when to add
//! it and what a link going down means are the VRRP driver's business (`rk-vrrp`). It
//! never touches IPVS (`rk-ipvs` owns generic netlink) or sockets other than netlink and
//! `/proc/sys`.
//!
//! All operations are `async` on tokio; [`Netlink::connect`] and [`Monitor::start`] spawn
//! their connection task on the current runtime. Errors are typed ([`Error`]) and carry
//! the operation and the kernel's errno; "already there" on add and "not there" on remove
//! are outcomes ([`AddOutcome`], [`DelOutcome`]), not errors.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rk_netlink::Error> {
//! use rk_netlink::{AddressSpec, Netlink};
//! let nl = Netlink::connect()?;
//! let eth0 = nl.link_by_name("eth0").await?.expect("eth0 exists");
//! let mut vip = AddressSpec::new(eth0.index, "172.16.15.99".parse().unwrap(), 16);
//! vip.label = Some("eth0:0".into());
//! nl.add_address(&vip).await?;
//! nl.del_address(&vip).await?;
//! # Ok(()) }
//! ```

pub mod addr;
mod error;
mod handle;
pub mod link;
pub mod monitor;
pub mod route;
pub mod route_monitor;
pub mod rule;
pub mod sysctl;
pub mod vmac;

pub use addr::{AddOutcome, Address, AddressSpec, DelOutcome, Scope};
pub use error::{Error, Result};
pub use handle::Netlink;
pub use link::{Link, MacvlanMode, format_mac};
pub use monitor::{Event, Monitor};
pub use route::{AddMode, IpFamily, Metric, MetricSpec, NexthopSpec, Prefix, RouteSpec, RouteType};
pub use route_monitor::{RouteEvent, RouteKey, RouteMonitor, RuleKey};
pub use rule::{Range, RuleAction, RuleSpec};
pub use vmac::{Vmac, VmacSpec, virtual_mac};
