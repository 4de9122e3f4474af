//! # rk-ipvs: the kernel's IPVS table over generic netlink
//!
//! This crate **owns** the Linux IPVS resource for rkeepalived: it is the only
//! code that talks to the kernel's `IPVS` generic-netlink family. It provides
//!
//! * [`codec`]: the family as typed messages on `netlink-packet-generic`
//!   (every command, every service/destination/daemon/stats attribute under
//!   the kernel's name, unknown attributes kept as `Other(DefaultNla)`);
//! * a typed model ([`Service`], [`ServiceKey`], [`Destination`], [`Daemon`],
//!   [`Timeouts`], [`Info`]) converting to and from those attributes;
//! * [`IpvsHandle`], an async (tokio) handle: family resolution, one-pass
//!   [`dump`](IpvsHandle::dump) of all services with their destinations, and
//!   batched [`apply`](IpvsHandle::apply) of [`IpvsOp`]s, many requests per
//!   `sendmsg`, each error mapped back to the operation that caused it.
//!
//! It **never** decides what the table should contain (the coordinator does:
//! dump → diff → apply), never shells out to `ipvsadm`, never loads kernel
//! modules, and never touches rtnetlink.
//!
//! ```no_run
//! use rk_ipvs::{Destination, Forward, IpvsHandle, IpvsOp, Protocol, Service, ServiceKey};
//! # async fn example() -> Result<(), rk_ipvs::IpvsError> {
//! let mut ipvs = IpvsHandle::connect().await?; // IpvsError::NotAvailable without ip_vs
//! let key = ServiceKey::Tuple { proto: Protocol::Tcp, addr: "192.0.2.10".parse().unwrap(), port: 80 };
//! let ops = vec![
//!     IpvsOp::AddService(Service::new(key, "wlc")),
//!     IpvsOp::AddDest { service: key, dest: Destination::new("198.51.100.1".parse().unwrap(), 80, Forward::DirectRoute) },
//! ];
//! for (op, result) in ops.iter().zip(ipvs.apply(&ops).await) {
//!     match result {
//!         Ok(()) => {}
//!         Err(e) if e.is_already_done(op) => {} // EEXIST on add, like keepalived
//!         Err(e) => eprintln!("{e}"),            // e.g. "add service TCP 192.0.2.10:80 (wlc): already exists"
//!     }
//! }
//! let table = ipvs.dump().await?;
//! # let _ = table; Ok(()) }
//! ```

pub mod codec;
mod error;
mod handle;
mod model;
mod op;

pub use error::{IpvsError, ModelError, OpErrorKind};
pub use handle::wire::{DatagramMessage, decode_datagram, decode_message, encode_message};
pub use handle::{DumpedService, IpvsHandle};
pub use model::*;
pub use op::IpvsOp;
