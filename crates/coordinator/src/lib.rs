//! # rk-coordinator: which IPVS rules this node should have, and getting there
//!
//! This crate **owns the decision** of what the kernel's IPVS table holds:
//!
//! 1. [`desired()`]: `f(config, VRRP ownership, health)` → a [`DesiredTable`]
//!    (services, destinations and weights, sync daemons, timeouts), with
//!    keepalived's LVS semantics (inhibit_on_failure, alpha, quorum with
//!    hysteresis, sorry server, virtual_server_group, fwmark, NAT/DR/TUN,
//!    IPv4/IPv6, TCP/UDP/SCTP, persistence, scheduler flags). Pure.
//! 2. [`diff()`]: desired vs the kernel's table → [`IpvsOp`]s, deterministic,
//!    touching only what differs and deleting only what is ours ([`Owned`]).
//!    Pure. [`DrainBook`] adds drain-before-delete on reloads. Pure.
//! 3. [`Reconciler`]: applies diffs in batches through [`rk_ipvs::IpvsHandle`]
//!    (any [`IpvsKernel`]), re-reads the table after a refusal and every period
//!    (drift repair, logged and counted), and removes everything ours on shutdown.
//!    A reload or VRRP state that arrives during a periodic read goes first: the
//!    read is abandoned and done again right after ([`Preempt`]).
//!
//! It **never** talks to the kernel except through `rk-ipvs`, never touches
//! addresses or routes (`rk-netlink`), never runs checkers or scripts, and
//! never parses configuration: it is told the VRRP states ([`Ownership`])
//! and the real servers' health ([`Health`]) with its own small types. Quorum
//! transitions come out as [`QuorumEvent`]s; running `quorum_up` /
//! `quorum_down`, FIFOs and mail is the daemon's job.
//!
//! ## Wiring
//!
//! ```no_run
//! use std::sync::Arc;
//! use rk_coordinator::{Engine, Input, InstanceRole, Policy, Reconciler, ReconcilerOptions, RsHealth, RsId};
//! # async fn wire(config: rk_config::Config) -> Result<(), Box<dyn std::error::Error>> {
//! let config = Arc::new(config);
//! let policy = Policy::default(); // the lead maps our keywords into this
//! let ipvs = rk_ipvs::IpvsHandle::connect().await?; // NotAvailable: log, run without IPVS
//! let opts = ReconcilerOptions::from_config(&config);
//! let reconciler = Reconciler::start(ipvs, Engine::new(config.clone(), policy), opts).await?;
//! let counters = reconciler.counters(); // for SIGUSR2 / metrics
//!
//! let (tx, rx) = tokio::sync::mpsc::channel(1024);
//! let (ev_tx, mut ev_rx) = tokio::sync::mpsc::unbounded_channel();
//! let task = tokio::spawn(reconciler.run(rx, Some(ev_tx)));
//!
//! // VRRP driver, on each state change (report an instance once it settled):
//! tx.send(Input::Instance { name: "VI_1".into(), role: Some(InstanceRole::Master) }).await?;
//! // Checkers, on each real-server transition (all checkers of it up = up):
//! let vs = &config.virtual_servers[0];
//! let rs = RsId::of(vs, &vs.real_servers[0]);
//! tx.send(Input::Health { rs, health: Some(RsHealth::DOWN) }).await?;
//! // SIGHUP, after the new configuration validated:
//! # let new_config = config.clone();
//! tx.send(Input::Config { config: new_config, policy: Policy::default() }).await?;
//! // Quorum transitions, for quorum_up/quorum_down and the notify FIFO:
//! tokio::spawn(async move { while let Some(e) = ev_rx.recv().await { let _ = e; } });
//! // SIGTERM:
//! tx.send(Input::Shutdown { keep_rules: false }).await?;
//! let report = task.await?; // Some(ShutdownReport) with the time it took
//! # let _ = (report, counters); Ok(()) }
//! ```
//!
//! `examples/plan.rs` is a dry run: the operations a configuration gives on
//! an empty table, for chosen VRRP states and failed real servers (no IPVS
//! needed): `cargo run -p rk-coordinator --example plan -- CONF --master VI_1`.
//!
//! ## Where the rules live ([`RulesMode`])
//!
//! * **Rules follow the VIP** (default): a `virtual_server IP PORT` whose
//!   address is a VIP (`virtual_ipaddress` or `virtual_ipaddress_excluded`)
//!   of an instance is installed while that instance — and, if it is in a
//!   `vrrp_sync_group`, every instance of the group — is MASTER, and removed
//!   when one of them is BACKUP or FAULT. While a state is unknown (not
//!   reported yet) the service is *held*: kept if the kernel has it, not
//!   added. A virtual server on an address no instance owns is always
//!   installed. fwmark and group virtual servers are always installed unless
//!   [`Policy::track_instance`] ties them to an instance (which also
//!   overrides the VIP lookup for address virtual servers). A BACKUP director
//!   holds no rules, so a stray packet to the VIP is not load-balanced there
//!   and `ipvsadm -Ln` shows what the node serves; the cost is that a new
//!   master installs its rules at takeover (measured in `BENCHMARKS.md`).
//! * **Everywhere** (keepalived): every virtual server on every node. Choose
//!   it for `-C` (checkers without VRRP in this process: nothing reports
//!   ownership), for VIPs managed by something else, or when takeover must
//!   not wait for rule installation at tens of thousands of services.
//!
//! Checkers run on every node in both modes, so a new master has fresh health.
//!
//! ## What counts as ours
//!
//! See [`Owned`]: what this process created, plus what the current
//! configuration describes (services by key, and in them destinations by
//! key), plus both sync daemons while `lvs_sync_daemon` is configured.
//! Foreign services and foreign destinations are never edited or deleted
//! (deleting one of our services takes its destinations along; `lvs_flush`
//! and `lvs_flush_on_stop` flush everything, as in keepalived).
//!
//! IPVS objects carry no marker, so ownership outlives the process through
//! a record ([`Engine::ownership_record`], `record.rs`): what we own that the
//! kernel still has, plus everything the configuration describes. The daemon
//! writes it after each pass that follows a start or a reload, and claims a
//! predecessor's record at start ([`Owned::claim_all`] on
//! [`Engine::owned_mut`]), so leftovers of an older configuration are removed;
//! without a record they stay, as foreign objects do.
//!
//! ## Proposed keywords (to be wired by the configuration crate)
//!
//! * `global_defs { lvs_rules_everywhere }` → [`RulesMode::Everywhere`].
//! * `virtual_server … { track_instance VI_1 }` → [`Policy::track_instance`].
//! * `global_defs { lvs_drain_timeout SECS }` → [`Policy::drain_timeout`]
//!   (default 0 = keepalived's immediate delete) and `virtual_server … {
//!   drain_timeout SECS }` → [`Policy::vs_drain_timeout`].
//!
//! ## Deviations from keepalived
//!
//! * Level-triggered: health changes that arrive together are evaluated
//!   together (a flap shorter than one pass is not replayed).
//! * Drift is repaired; keepalived never looks at the kernel again.
//! * A destination the kernel reports as `Local` matches any method we asked.
//! * Two virtual servers making the same IPVS service: the first keeps it
//!   (keepalived merges their real servers into it).
//! * A group range entry of more than [`MAX_RANGE`] addresses is skipped.
//! * Shutdown deletes each service of ours in one request (the kernel takes
//!   the destinations along) instead of each destination first.

mod counters;
mod desired;
mod diff;
mod drain;
mod engine;
mod error;
mod expand;
mod ids;
mod inputs;
mod kernel;
mod quorum;
mod reconcile;
mod record;
mod table;

pub use counters::{CounterSnapshot, Counters};
pub use desired::{Desired, Inputs, Problem, desired};
pub use diff::diff;
pub use drain::{DrainBook, DrainEnd, DrainKey};
pub use engine::{Engine, Observation, Plan, Recorded};
pub use error::CoordinatorError;
pub use expand::{MAX_RANGE, SORRY_WEIGHT};
pub use ids::{RsId, VsId};
pub use inputs::{Health, InstanceRole, Ownership, Policy, RsHealth, RulesMode};
pub use kernel::IpvsKernel;
pub use quorum::{QuorumEvent, QuorumStates};
pub use reconcile::{
    DEFAULT_DRAIN_POLL, DEFAULT_PERIOD, Input, Interrupt, PassReport, Preempt, Reconciler,
    ReconcilerOptions, ShutdownReport,
};
pub use record::{RECORD_HEADER, RecordError};
pub use table::{
    ActualDest, ActualService, ActualTable, ConfiguredService, DesiredService, DesiredTable, Owned,
    WantedTimeouts,
};

#[doc(no_inline)]
pub use rk_ipvs::IpvsOp;
