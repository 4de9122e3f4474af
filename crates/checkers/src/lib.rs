//! Health checkers for rkeepalived: keepalived's `check_*.c`, rebuilt around one state machine.
//!
//! **Owns**
//! - [`fsm`]: the pure checker state machine (retry, warmup, alpha, HTTP's URL walk,
//!   MISC's start-anchored period). No tokio, no I/O; tested on a virtual clock.
//! - [`probe`]: stateless async probes, each bounded by its timeout: TCP, HTTP/HTTPS
//!   (a hand-written HTTP/1.x client reproducing keepalived's bytes), DNS, MISC scripts,
//!   SMTP, UDP, ICMP echo and tracked files.
//!
//! **Never**
//! - touches IPVS, VRRP or the configuration file: it receives plain specs and sends
//!   events; mapping the config model onto specs and events onto IPVS is the caller's job;
//! - sends traffic anywhere its specs do not point.

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
