//! The VRRP thread and its handle.

use std::thread::JoinHandle;

use rk_vrrp_proto::TrackerState;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::driver::{Command, Driver, ReloadReport};
use crate::error::{Error, io_err};
use crate::spec::Plan;
use crate::status::{Status, VrrpEvent};
use crate::sys;

/// SCHED_RR priority of the VRRP thread unless `vrrp_rt_priority` says otherwise.
pub const DEFAULT_RT_PRIORITY: i32 = 1;

/// What the driver does beyond the plan (command-line options).
#[derive(Clone, Debug)]
pub struct Options {
    /// Remove the VIPs on stop (default; keepalived's `-V` turns it off).
    pub release_vips: bool,
    /// Log every address added or removed in the namespace (keepalived's `-a`).
    pub address_monitoring: bool,
    /// Every event, in order and without loss (notify scripts, FIFOs and e-mail must see
    /// each transition; [`Vrrp::subscribe`] may lag and drop). Unbounded so the VRRP
    /// thread never waits for its reader.
    pub event_sink: Option<mpsc::UnboundedSender<VrrpEvent>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            release_vips: true,
            address_monitoring: false,
            event_sink: None,
        }
    }
}

/// Hands tracker states to the VRRP thread (cheap to clone; usable from any thread or
/// runtime). The trackers themselves (scripts, files, processes) run elsewhere: nothing
/// they do can delay an advert.
#[derive(Clone, Debug)]
pub struct Trackers {
    cmds: mpsc::UnboundedSender<Command>,
}

impl Trackers {
    /// Tracker `index` of [`crate::Plan::trackers`] is now in `state`; false once the VRRP
    /// thread has ended.
    pub fn set(&self, index: usize, state: TrackerState) -> bool {
        self.cmds.send(Command::Tracker { index, state }).is_ok()
    }
}

/// The running VRRP side: a thread of its own with a current-thread tokio runtime, so
/// adverts never wait behind checker load or reload work elsewhere in the process.
///
/// Dropping the handle stops the thread as [`Vrrp::stop`] does.
#[derive(Debug)]
pub struct Vrrp {
    cmds: mpsc::UnboundedSender<Command>,
    events: broadcast::Sender<VrrpEvent>,
    done: watch::Receiver<bool>,
    thread: Option<JoinHandle<()>>,
}

/// Tells the handle the thread has ended, however it ends (a panic included).
struct DoneGuard(watch::Sender<bool>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

/// Starts the VRRP thread and returns once every instance has started (sockets open,
/// leftover addresses cleaned up, instances in BACKUP, FAULT or — owners — MASTER).
///
/// Fails if the netlink sockets cannot be opened (not root), or an instance's
/// configuration is refused by the state machine. Instances whose interface does not
/// exist are not an error: they wait in FAULT until it appears.
pub fn start(plan: Plan, options: Options) -> Result<Vrrp, Error> {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, _) = broadcast::channel(256);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), Error>>();
    let (done_tx, done_rx) = watch::channel(false);
    let events = ev_tx.clone();
    let rt_priority = plan.rt_priority;
    let nice = plan.nice;
    let thread = std::thread::Builder::new()
        .name("vrrp".into())
        .spawn(move || {
            let _done = DoneGuard(done_tx);
            if let Some(n) = nice {
                match sys::set_nice(n) {
                    Ok(()) => tracing::info!("VRRP thread runs at nice {n}"),
                    Err(e) => tracing::warn!("cannot set nice {n}: {e}"),
                }
            }
            // Real-time by default (SCHED_RR 1, the lowest): adverts must leave on time
            // while every core is busy, which no nice value achieves (BENCHMARKS-vrrp.md).
            // `vrrp_rt_priority 0` opts out.
            match rt_priority.unwrap_or(DEFAULT_RT_PRIORITY) {
                0 => {}
                p => match sys::set_rt_priority(p) {
                    Ok(()) => {
                        tracing::info!("VRRP thread runs at real-time priority {p} (SCHED_RR)")
                    }
                    Err(e) => tracing::warn!(
                        "cannot set real-time priority {p}: {e}; adverts may be late under CPU load"
                    ),
                },
            }
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(io_err("build the VRRP runtime")(e)));
                    return;
                }
            };
            rt.block_on(async move {
                match Driver::start(plan, options, events).await {
                    Ok(d) => {
                        let _ = ready_tx.send(Ok(()));
                        d.run(cmd_rx).await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })
        .map_err(io_err("start the VRRP thread"))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(Vrrp {
            cmds: cmd_tx,
            events: ev_tx,
            done: done_rx,
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err(Error::Stopped)
        }
    }
}

impl Vrrp {
    /// A snapshot of every instance's state and counters.
    pub async fn status(&self) -> Result<Status, Error> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Command::Status(tx))
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Replaces the running plan (SIGHUP): instances are matched by identity (VRID,
    /// family, interface, unicast source, VMAC, multicast group) as keepalived matches
    /// them; a matched instance keeps its state and advert schedule and takes its new
    /// settings in place, a vanished one stops (priority 0 from a MASTER, VIPs released),
    /// a new one starts. Fails without changing anything when an instance of `plan` is
    /// refused. Tracker indexes are those of the new plan from now on; states of trackers
    /// with the same name and kind carry over.
    pub async fn reload(&self, plan: Plan) -> Result<ReloadReport, Error> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Command::Reload(Box::new(plan), tx))
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// State changes, as they happen (a slow subscriber may miss some: see
    /// [`Options::event_sink`]).
    pub fn subscribe(&self) -> broadcast::Receiver<VrrpEvent> {
        self.events.subscribe()
    }

    /// A handle to hand tracker states in.
    pub fn trackers(&self) -> Trackers {
        Trackers {
            cmds: self.cmds.clone(),
        }
    }

    /// Resolves when the thread has ended (after [`Vrrp::stop`], or unexpectedly).
    pub async fn stopped(&mut self) {
        let _ = self.done.wait_for(|d| *d).await;
    }

    /// Whether the thread still runs.
    pub fn is_running(&self) -> bool {
        !*self.done.borrow()
    }

    /// Leaves cleanly: every MASTER sends priority 0 and releases its VIPs, VMACs are
    /// deleted; blocks until the thread has ended.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        let _ = self.cmds.send(Command::Shutdown);
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the VRRP thread panicked");
        }
    }
}

impl Drop for Vrrp {
    fn drop(&mut self) {
        self.stop_inner();
    }
}
