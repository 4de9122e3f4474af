//! The driver: one task on the VRRP thread's current-thread runtime, a `select!` over
//! commands, the earliest instance deadline, received packets and netlink events
//! (DESIGN §2). It owns every socket, the netlink connection, the VMACs and the
//! instances' state machines.

mod actions;
mod inputs;
mod net;
mod reload;
mod routes;
mod rx;
mod statics;
mod sync;

pub use reload::ReloadReport;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rk_netlink::{Address, Link, Monitor, Netlink, RouteKey, RouteMonitor, RuleKey, Vmac};
use rk_vrrp_proto::{DecodeCounters, Input, Instance, StateKind, TrackerState};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::Options;
use crate::error::{Error, io_err};
use crate::sockets::{Channel, ChannelKey, FrameSender, RxPacket};
use crate::spec::{InstanceSpec, Plan, StaticPlan, SyncGroupSpec, TrackerSpec};
use crate::status::{InstanceStats, InstanceStatus, Status, VrrpEvent, decode_map};
use crate::timer::Deadline;

/// Requests from the handle to the driver.
#[derive(Debug)]
pub(crate) enum Command {
    /// Leave: priority-0 adverts, VIPs removed, VMACs deleted; then the thread ends.
    Shutdown,
    /// A status snapshot.
    Status(oneshot::Sender<Status>),
    /// A new plan replaces the running one ([`Driver::reload`]).
    Reload(Box<Plan>, oneshot::Sender<Result<ReloadReport, Error>>),
    /// A tracker of the plan has a new state.
    Tracker {
        /// Its index in [`Plan::trackers`].
        index: usize,
        /// Its state.
        state: TrackerState,
    },
}

/// Received packets waiting for the driver; beyond this the reader tasks wait and the
/// kernel drops (a flood cannot grow our memory).
const RX_QUEUE: usize = 1024;

/// At most this many packets are handled per [`RX_WINDOW`] (50 000 per second, a hundred
/// times what a thousand instances at 100 ms send). Beyond it the driver sleeps until the
/// window ends and the kernel drops the excess: the VRRP thread runs at real-time priority
/// and a flood must not let it take a whole core from everything else.
const RX_BUDGET: u32 = 5_000;
/// The flood-budget window.
const RX_WINDOW: Duration = Duration::from_millis(100);

/// One instance and the driver's data about it.
#[derive(Debug)]
pub(crate) struct Inst {
    pub spec: InstanceSpec,
    pub vi: Instance,
    pub stats: InstanceStats,
    pub vmac: Option<Vmac>,
    /// Rate limit of "dropped advert" warnings.
    pub last_drop_log: Option<Instant>,
    pub drops_unlogged: u64,
    /// It was held in INIT by its tracking scripts (logged once).
    pub waited: bool,
    /// Its VIPs were found on the interfaces at start, marked as ours: it starts with
    /// [`Input::Resume`] instead of [`Input::Start`].
    pub resume: bool,
}

impl Inst {
    fn status(&self) -> InstanceStatus {
        InstanceStatus {
            name: self.spec.name.clone(),
            vrid: self.spec.proto.vrid,
            state: self.vi.state().to_string(),
            effective_priority: self.vi.effective_priority(),
            base_priority: self.spec.proto.priority,
            master: self.vi.master(),
            interface: self.spec.advert_interface().to_string(),
            faults: self.vi.faults().map(|f| format!("{f:?}")).collect(),
            stats: self.stats.clone().with_proto(self.vi.counters()),
        }
    }
}

/// The driver's state.
pub(crate) struct Driver {
    pub options: Options,
    pub garp_interval: Duration,
    pub gna_interval: Duration,
    pub startup_delay: Duration,
    pub log_unknown_vrids: bool,
    pub nl: Netlink,
    pub monitor: Monitor,
    /// Removals of our routes and rules, while some instance tracks one
    /// ([`Driver::refresh_route_monitor`]).
    pub route_monitor: Option<RouteMonitor>,
    /// Routes and rules we removed ourselves, whose removal events must not count as
    /// "deleted behind our back" (kept only while `route_monitor` runs).
    pub expected_route_deletes: Vec<RouteKey>,
    pub expected_rule_deletes: Vec<RuleKey>,
    /// Links by name.
    pub links: HashMap<String, Link>,
    /// Every address of the namespace.
    pub addrs: Vec<Address>,
    pub insts: Vec<Inst>,
    /// `static_ipaddress`, `static_routes`, `static_rules`.
    pub statics: StaticPlan,
    pub sync_groups: Vec<SyncGroupSpec>,
    /// Each sync group's state as last reported (`None`: not started).
    pub group_states: Vec<Option<StateKind>>,
    /// The trackers of the plan and their current states.
    pub tracker_specs: Vec<TrackerSpec>,
    pub trackers: Vec<TrackerState>,
    /// Members whose down timer ran out and who wait for their group.
    pub want_master: HashSet<usize>,
    pub channels: HashMap<ChannelKey, (u64, Channel)>,
    pub next_channel: u64,
    pub rx_tx: mpsc::Sender<RxPacket>,
    pub rx: mpsc::Receiver<RxPacket>,
    pub frames: std::sync::Arc<FrameSender>,
    pub unmatched: DecodeCounters,
    pub unknown_vrid: u64,
    pub ignored_startup: u64,
    /// Addresses we removed ourselves, whose deletion events must not count as "deleted
    /// behind our back".
    pub expected_deletes: Vec<(u32, IpAddr)>,
    /// Every VIP of every instance: never a primary address.
    pub all_vips: HashSet<IpAddr>,
    pub started: Instant,
    pub events: broadcast::Sender<VrrpEvent>,
    /// The lossless copy of the events ([`Options::event_sink`]).
    pub sink: Option<mpsc::UnboundedSender<VrrpEvent>>,
    pub last_unknown_log: Option<Instant>,
    /// Start of the current flood-budget window and the packets handled in it.
    pub rx_window: Instant,
    pub rx_in_window: u32,
    /// The earliest instance deadline.
    pub deadline: Deadline,
    /// When the instances leave INIT (`vrrp_startup_delay`); `None` once started.
    pub start_at: Option<Instant>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("instances", &self.insts.len())
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Builds the driver and brings every instance up: netlink subscription first, then the
    /// current links and addresses, VMACs, channels, clean-up of leftover VIPs, Start.
    pub async fn start(
        plan: Plan,
        options: Options,
        events: broadcast::Sender<VrrpEvent>,
    ) -> Result<Driver, Error> {
        let monitor = Monitor::start()?;
        let nl = Netlink::connect()?;
        let frames = FrameSender::open().map_err(io_err("open a link-layer socket for GARP/NA"))?;
        let mut insts = Vec::new();
        for spec in plan.instances {
            let vi = Instance::new(spec.proto.clone()).map_err(|source| Error::Instance {
                instance: spec.name.clone(),
                source,
            })?;
            insts.push(Inst {
                spec,
                vi,
                stats: InstanceStats::default(),
                vmac: None,
                last_drop_log: None,
                drops_unlogged: 0,
                waited: false,
                resume: false,
            });
        }
        let all_vips = insts
            .iter()
            .flat_map(|i| i.spec.vips.iter().map(|v| v.addr))
            .collect();
        let (rx_tx, rx) = mpsc::channel(RX_QUEUE);
        let sink = options.event_sink.clone();
        let trackers = plan.trackers.iter().map(|t| t.initial).collect();
        let group_states = vec![None; plan.sync_groups.len()];
        let mut d = Driver {
            options,
            garp_interval: plan.garp_interval,
            gna_interval: plan.gna_interval,
            startup_delay: plan.startup_delay,
            log_unknown_vrids: plan.log_unknown_vrids,
            nl,
            monitor,
            route_monitor: None,
            expected_route_deletes: Vec::new(),
            expected_rule_deletes: Vec::new(),
            links: HashMap::new(),
            addrs: Vec::new(),
            insts,
            statics: plan.statics,
            sync_groups: plan.sync_groups,
            group_states,
            tracker_specs: plan.trackers,
            trackers,
            want_master: HashSet::new(),
            channels: HashMap::new(),
            next_channel: 0,
            rx_tx,
            rx,
            frames: std::sync::Arc::new(frames),
            unmatched: DecodeCounters::default(),
            unknown_vrid: 0,
            ignored_startup: 0,
            expected_deletes: Vec::new(),
            all_vips,
            started: Instant::now(),
            events,
            sink,
            last_unknown_log: None,
            rx_window: Instant::now(),
            rx_in_window: 0,
            deadline: Deadline::new().map_err(io_err("create the VRRP timer"))?,
            start_at: None,
        };
        d.refresh_route_monitor();
        d.resync().await?;
        d.setup_vmacs().await;
        d.refresh_channels().await;
        d.remove_stale_addresses().await;
        d.install_statics().await;
        d.mark_resumable();
        let now = Instant::now();
        for i in 0..d.insts.len() {
            d.refresh_inputs(i, now);
        }
        if d.startup_delay.is_zero() {
            d.start_ready(now);
        } else {
            // keepalived's `vrrp_startup_delay`: the instances stay in INIT (no timers, no
            // adverts, packets ignored) until it has passed.
            tracing::info!(
                "VRRP instances start in {:?} (vrrp_startup_delay)",
                d.startup_delay
            );
            d.start_at = Some(d.started + d.startup_delay);
        }
        d.run_actions().await;
        Ok(d)
    }

    /// Runs until [`Command::Shutdown`] (or the handle is dropped), then shuts down.
    pub async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<Command>) {
        loop {
            let now = Instant::now();
            if now >= self.rx_window + RX_WINDOW {
                if self.rx_in_window > RX_BUDGET {
                    tracing::warn!(
                        "packet flood: {} packets in {RX_WINDOW:?}; reception was paused for the rest of each window",
                        self.rx_in_window
                    );
                }
                self.rx_window = now;
                self.rx_in_window = 0;
            }
            let rx_open = self.rx_in_window < RX_BUDGET;
            let next = self
                .insts
                .iter()
                .filter_map(|i| i.vi.poll_timeout())
                .chain((!rx_open).then_some(self.rx_window + RX_WINDOW))
                .chain(self.start_at)
                .min();
            if let Err(e) = self.deadline.set(next) {
                tracing::error!("cannot arm the VRRP timer: {e}");
            }
            // Biased, in this order: a command, then timers (adverts go out on time
            // whatever arrives), then packets, then netlink events.
            tokio::select! {
                biased;
                cmd = cmds.recv() => match cmd {
                    Some(Command::Status(reply)) => {
                        let _ = reply.send(self.status());
                    }
                    Some(Command::Reload(plan, reply)) => {
                        let _ = reply.send(self.reload(*plan).await);
                    }
                    Some(Command::Tracker { index, state }) => {
                        self.on_tracker(index, state, Instant::now());
                    }
                    Some(Command::Shutdown) | None => break,
                },
                () = self.deadline.fired() => {
                    let now = Instant::now();
                    if self.start_at.is_some_and(|t| t <= now) {
                        self.start_at = None;
                        self.start_ready(now);
                    }
                    for inst in &mut self.insts {
                        if inst.vi.poll_timeout().is_some_and(|t| t <= now) {
                            inst.vi.handle(now, Input::Timer);
                        }
                    }
                }
                Some(pkt) = self.rx.recv(), if rx_open => {
                    self.rx_in_window += 1;
                    self.on_packet(pkt);
                }
                ev = routes::next_route_event(self.route_monitor.as_mut()),
                    if self.route_monitor.is_some() => match ev {
                    Some(ev) => self.on_route_event(ev).await,
                    None => {
                        tracing::error!("the route/rule event stream stopped; deleted routes and rules go unnoticed");
                        self.route_monitor = None;
                    }
                },
                ev = self.monitor.next() => match ev {
                    Some(ev) => self.on_event(ev).await,
                    None => {
                        tracing::error!("the netlink event stream stopped; re-reading state every second");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if let Err(e) = self.resync().await {
                            tracing::error!("netlink: {e}");
                        }
                    }
                },
            }
            self.run_actions().await;
        }
        self.shutdown().await;
    }

    /// RFC 9568 §6.4.3 Shutdown for every instance (priority 0 from masters, VIPs
    /// released), then VMACs deleted and sysctls restored.
    async fn shutdown(&mut self) {
        let now = Instant::now();
        for inst in &mut self.insts {
            inst.vi.handle(now, Input::Shutdown);
        }
        self.run_actions().await;
        let statics = std::mem::take(&mut self.statics);
        self.remove_statics(&statics).await;
        for i in 0..self.insts.len() {
            if let Some(v) = self.insts[i].vmac.take()
                && let Err(e) = self.nl.remove_vmac(v).await
            {
                tracing::warn!("({}) cannot remove its VMAC: {e}", self.insts[i].spec.name);
            }
        }
        self.channels.clear();
    }

    /// A status snapshot.
    pub fn status(&self) -> Status {
        Status {
            instances: self.insts.iter().map(Inst::status).collect(),
            unmatched: decode_map(&self.unmatched),
            unknown_vrid: self.unknown_vrid,
            ignored_startup: self.ignored_startup,
            trackers: self
                .tracker_specs
                .iter()
                .zip(&self.trackers)
                .map(|(t, s)| crate::status::TrackerStatus {
                    name: t.name.clone(),
                    kind: t.kind.keyword(),
                    state: crate::status::tracker_state_text(*s),
                })
                .collect(),
        }
    }
}
