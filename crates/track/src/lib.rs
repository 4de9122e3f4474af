//! # rk-track: what VRRP tracks, run outside the VRRP thread
//!
//! keepalived's trackers other than interfaces, each producing a
//! [`rk_vrrp_proto::TrackerState`] that the daemon hands to the VRRP thread
//! (`rk_vrrp::Trackers`), where keepalived's weight rules turn it into priority and faults
//! ([`rk_vrrp_proto::TrackWeight`]):
//!
//! * [`script`]: `vrrp_script` — run every `interval`, killed with its process group at
//!   `timeout`, `rise` / `fall`, `init_fail`, run-as user;
//! * [`file`](mod@file): `track_file` — an integer re-read on inotify, `init_file`;
//! * [`process`]: `vrrp_track_process` — matching processes counted through the kernel's
//!   proc connector, or by scanning `/proc` where the connector is not available.
//!
//! It also owns **how scripts are run**, for every script of the daemon ([`exec`]: no
//! shell, own process group, hard timeout, always reaped; [`security`]:
//! `enable_script_security` checked at each execution; [`users`]: `script_user` and
//! per-script users).
//!
//! **Never does:** touch the network, VRRP state or IPVS. Nothing here blocks: each tracker
//! is a task on the caller's tokio runtime, and a hanging script holds only its own task.
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use rk_track::{exec::Script, script::ScriptTracker, security::Security};
//! let t = ScriptTracker {
//!     name: "chk_haproxy".into(),
//!     script: Script { argv: vec!["/usr/bin/pgrep".into(), "haproxy".into()], run_as: None },
//!     interval: std::time::Duration::from_secs(2),
//!     timeout: std::time::Duration::from_secs(2),
//!     rise: 2,
//!     fall: 2,
//!     init_fail: false,
//! };
//! let (_stop_tx, stop) = tokio::sync::watch::channel(false);
//! t.run(Arc::new(Security::new(true)), |state| println!("chk_haproxy is {state:?}"), stop)
//!     .await;
//! # }
//! ```

pub mod exec;
pub mod file;
pub mod process;
pub mod script;
pub mod security;
pub mod users;
