//! Health checkers for rkeepalived: keepalived's `check_*.c`, rebuilt around one state machine.
//!
//! **Owns**
//! - [`fsm`]: the pure checker state machine (retry, warmup, alpha, first-failure rule,
//!   HTTP's URL walk and `fast_recovery`, MISC's start-anchored period). No tokio, no I/O;
//!   tested on a virtual clock.
//! - [`probe`]: stateless async probes, each bounded by its timeout: TCP, HTTP/HTTPS
//!   (a hand-written HTTP/1.x client reproducing keepalived's bytes and genhash's digest),
//!   DNS, MISC scripts, SMTP, UDP, ICMP echo and tracked files.
//! - [`runner`]: the task that owns every probe, runs each distinct probe once per due time
//!   and fans results out to every checker that uses it (deduplication), carries state over
//!   by checker identity when the configured set changes, and sends [`CheckerEvent`]s.
//!   Its other inputs, kept by checker id across reloads: which checkers are suspended
//!   (`ha_suspend`), which log every failure (`log_all_failures`), and the client
//!   certificate of SSL_GET (the top-level `SSL { }` block, [`probe::tls::ClientIdentity`]).
//! - [`genhash`]: keepalived's `genhash` tool (`rkeepalived genhash`).
//!
//! **Never**
//! - touches IPVS, VRRP, netlink or the configuration file: it receives plain
//!   [`CheckerSpec`]s and sends events; mapping the config model onto specs and events onto
//!   the IPVS table is the caller's job, and so is watching addresses for `ha_suspend`
//!   (the caller passes the suspended checkers to [`RunnerHandle::set_suspended`]);
//! - changes system settings (keepalived widens `ping_group_range`; we use raw ICMP sockets
//!   instead when ping sockets are not allowed);
//! - sends traffic anywhere its specs do not point.
//!
//! ```no_run
//! use std::time::Duration;
//! use rk_checkers::probe::{ConnOpts, ProbeSpec, TcpSpec};
//! use rk_checkers::{CheckerId, CheckerSpec, RealServerId, Runner, RunnerOptions, Timing};
//!
//! # async fn demo() -> Result<(), rk_checkers::runner::RunnerGone> {
//! let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
//! let runner = Runner::spawn(RunnerOptions::default(), tx);
//! let probe = ProbeSpec::Tcp(TcpSpec { conn: ConnOpts::new("10.0.0.2:80".parse().unwrap()) });
//! let timing = Timing { delay_loop: Duration::from_secs(6), ..Timing::default() };
//! runner.apply(vec![CheckerSpec { id: CheckerId(1), real_server: RealServerId(7), timing, probe }]).await?;
//! while let Some(ev) = events.recv().await {
//!     println!("real server {:?}: {:?} ({:?})", ev.real_server, ev.kind, ev.reason);
//! }
//! # Ok(())
//! # }
//! ```

pub mod event;
pub mod fsm;
pub mod genhash;
pub mod probe;
pub mod runner;
pub mod spec;

pub use event::{CheckerEvent, CheckerStatus, EventKind, RunnerStats};
pub use fsm::Timing;
pub use runner::{Runner, RunnerHandle, RunnerOptions};
pub use spec::{CheckerId, CheckerSpec, RealServerId};

use std::cell::RefCell;

thread_local! {
    static RNG: RefCell<fsm::SplitMix> = RefCell::new(fsm::SplitMix::from_entropy());
}

/// 64 random bits from a per-thread generator (DNS IDs, ICMP identifiers, warmup).
pub(crate) fn rand_u64() -> u64 {
    RNG.with(|r| r.borrow_mut().next_u64())
}
