//! What the daemon tells the outside world besides its log, and what VRRP tracks outside
//! its thread, started and stopped together:
//!
//! * the [`outlets`] (notify FIFOs, e-mail, script security) of the configuration;
//! * the VRRP notices ([`VrrpNotices`]), fed by the VRRP thread's event sink;
//! * the trackers ([`track`]): files read and processes counted before VRRP starts,
//!   runners started once it runs;
//! * for the LVS side, [`real_server`] and [`quorum`]: the FIFO line and the e-mail of a
//!   real-server or quorum change (its scripts go through the LVS side's own queue).
//!
//! Order at start: [`Notices::start`] first (the `startup_script` already runs under the
//! configured script security), [`Notices::prepare_trackers`] just before the VRRP thread
//! starts, [`Notices::vrrp_started`] once it runs. At stop: [`Notices::stop_trackers`]
//! before the sides stop (no state change from a tracker during shutdown),
//! [`Notices::finish`] after them (the STOP notices), [`Notices::close`] after the
//! `shutdown_script` (FIFO readers stopped, queued mail given a short while).
//!
//! A reload: [`Notices::after_reload`] once the new configuration is in place.

use std::sync::Arc;

use rk_config::Config;
use rk_config::model::{RealServer, VirtualServer};
use rk_coordinator::QuorumEvent;
use rk_smtp::alert::{Alert, quorum_body};
use rk_vrrp::{Plan, Vrrp};
use tokio::sync::mpsc;

use super::fifo::{rs_line, rs_trio, vs_line, vs_trio};
use super::outlets::{self, Outlets};
use super::track::{self, Prepared, Running};
use super::vrrp_notify::VrrpNotices;

/// The notices side of the daemon.
#[derive(Debug)]
pub struct Notices {
    outlets: Arc<Outlets>,
    vrrp: Option<VrrpNotices>,
    prepared: Option<Prepared>,
    running: Option<Running>,
}

impl Notices {
    /// Opens the outlets of `cfg` and routes the VRRP events here through `options`' event
    /// sink (kept in the options, so a VRRP side started later by a reload reports here
    /// too).
    pub fn start(cfg: &Arc<Config>, options: &mut rk_vrrp::Options) -> Notices {
        let outlets = Outlets::open(cfg);
        if outlets::install(outlets.clone()).is_some() {
            tracing::warn!("notices started twice; the earlier outlets are left as they are");
        }
        let (tx, rx) = mpsc::unbounded_channel();
        options.event_sink = Some(tx);
        Notices {
            outlets,
            vrrp: Some(VrrpNotices::spawn(cfg.clone(), rx)),
            prepared: None,
            running: None,
        }
    }

    /// Reads the tracked files and counts the tracked processes of `plan` (their states
    /// go into it) and readies its scripts, just before the VRRP thread starts.
    pub fn prepare_trackers(&mut self, cfg: &Config, plan: Option<&mut Plan>) {
        self.prepared = plan.map(|p| track::prepare(cfg, p));
    }

    /// The VRRP thread runs: the trackers start feeding it.
    pub fn vrrp_started(&mut self, vrrp: &Vrrp) {
        if let Some(p) = self.prepared.take() {
            self.running = Some(p.start(vrrp.trackers(), self.outlets.security.clone()));
        }
    }

    /// Stops the trackers (scripts killed and reaped).
    pub async fn stop_trackers(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    /// After the VRRP thread has ended: the STOP notices (their scripts within 1 s).
    pub async fn finish(&mut self) {
        self.stop_trackers().await;
        if let Some(v) = self.vrrp.take() {
            v.finish().await;
        }
    }

    /// Last: the FIFO readers stopped, the FIFOs we made removed, queued mail given
    /// [`outlets::MAIL_FLUSH_AT_STOP`].
    pub async fn close(mut self) {
        self.finish().await;
        outlets::uninstall();
        self.outlets.close().await;
    }

    /// After a reload replaced the configuration (and the VRRP plan, when VRRP runs):
    /// the outlets of `cfg` replace the old ones, the VRRP notices use its scripts, and the
    /// trackers restart on the new plan — each file and process state is handed to the
    /// VRRP thread at once, scripts report from their first run (the VRRP thread keeps the
    /// last state of trackers it already had until then).
    pub async fn after_reload(&mut self, cfg: &Arc<Config>, vrrp: Option<(&Vrrp, &Plan)>) {
        self.stop_trackers().await;
        // The old FIFOs go first: the new configuration may name the same paths, which
        // closing the old ones would remove.
        if let Some(old) = outlets::uninstall() {
            old.close().await;
        }
        let outlets = Outlets::open(cfg);
        outlets::install(outlets.clone());
        self.outlets = outlets;
        if let Some(v) = &self.vrrp {
            v.set_config(cfg.clone());
        }
        if let Some((vrrp, plan)) = vrrp {
            let mut plan = plan.clone();
            let p = track::prepare(cfg, &mut plan);
            self.running = Some(p.start(vrrp.trackers(), self.outlets.security.clone()));
        }
    }
}

/// A checker result for real server `rs` of `vs`: the FIFO line when its state changed;
/// with `smtp_alert`, an e-mail when a checker changed and either the real server's
/// state did or `no_checker_emails` is off (keepalived's rule).
pub fn real_server(
    vs: &VirtualServer,
    rs: &RealServer,
    up: bool,
    why: &str,
    rs_changed: bool,
    checker_changed: bool,
) {
    if rs_changed {
        outlets::fifo_lvs(&rs_line(vs, rs, up));
    }
    if rs.smtp_alert && checker_changed && (rs_changed || outlets::checker_emails()) {
        outlets::mail(Alert::RealServer {
            rs: rs_trio(vs, rs),
            vs: vs_trio(vs),
            up,
            body: format!("=> {why} <="),
        });
    }
}

/// A quorum change of `vs`: the FIFO line and, with `smtp_alert`, the e-mail.
pub fn quorum(vs: &VirtualServer, e: &QuorumEvent) {
    outlets::fifo_lvs(&vs_line(vs, e.up));
    if vs.smtp_alert {
        let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        outlets::mail(Alert::VirtualServer {
            vs: vs_trio(vs),
            up: e.up,
            body: quorum_body(
                e.up,
                e.initial,
                e.quorum,
                e.hysteresis,
                signed(e.threshold),
                signed(e.weight),
            ),
        });
    }
}
