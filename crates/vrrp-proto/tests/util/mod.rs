//! An in-memory LAN of VRRP instances on a virtual clock (the `Pair` pattern of quinn's
//! `tests/util.rs`, for N nodes): every advert is really encoded, carried as bytes with a
//! small latency, and decoded by every other node's full receive path, so the tests
//! exercise codec and state machine together. Thousands of simulated seconds run in
//! milliseconds and every run is deterministic.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use rk_vrrp_proto::{
    Action, Delivery, Family, Input, Instance, InstanceConfig, Reason, RxMeta, StateKind, Version,
};

/// One-way delivery delay on the LAN.
pub const LATENCY: Duration = Duration::from_micros(200);

/// A state change observed on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub at: Instant,
    pub from: StateKind,
    pub to: StateKind,
    pub reason: Reason,
}

/// A GARP/NA burst observed on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Garp {
    pub at: Instant,
    pub addresses: Vec<IpAddr>,
    pub repeat: u32,
}

/// A sent advert as seen on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub at: Instant,
    pub priority: u8,
    pub dst: IpAddr,
}

pub struct Node {
    pub vi: Instance,
    pub addr: IpAddr,
    /// Powered on (a crashed node neither sends nor receives nor runs timers).
    pub alive: bool,
    /// Cable plugged in (partition when false).
    pub linked: bool,
    pub vips: BTreeSet<IpAddr>,
    pub changes: Vec<Change>,
    pub garps: Vec<Garp>,
    pub sent: Vec<Sent>,
    pub lower_prio_heard: Vec<(Instant, IpAddr, u8)>,
    pub priority_changes: Vec<(u8, u8)>,
    pub want_master: usize,
}

struct InFlight {
    at: Instant,
    from: usize,
    to: usize,
    bytes: Vec<u8>,
    meta: RxMeta,
}

pub struct Lan {
    pub t0: Instant,
    pub now: Instant,
    pub nodes: Vec<Node>,
    in_flight: Vec<InFlight>,
    /// Bytes injected by tests (hostile or crafted packets) are delivered like the rest.
    pub delivered: u64,
}

/// Node addresses: 10.0.0.(i+1) or fe80::(i+1).
pub fn node_addr(family: Family, i: usize) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8 + 1)),
        Family::V6 => IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, i as u16 + 1)),
    }
}

pub fn vip(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100)),
        Family::V6 => IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100)),
    }
}

/// A config for a node of the standard test virtual router (VRID 51, one VIP).
pub fn config(version: Version, family: Family, priority: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new(51, version, family, vec![vip(family)]);
    c.priority = priority;
    c.wants_master = priority == 255;
    c
}

impl Lan {
    pub fn new() -> Self {
        let t0 = Instant::now();
        Lan {
            t0,
            now: t0,
            nodes: Vec::new(),
            in_flight: Vec::new(),
            delivered: 0,
        }
    }

    /// Adds a node (not started); returns its index. Its address is set from its index
    /// unless the config has a source address.
    pub fn add(&mut self, cfg: InstanceConfig) -> usize {
        let i = self.nodes.len();
        let addr = cfg.src_addr.unwrap_or(node_addr(cfg.family, i));
        let mut vi = Instance::new(cfg).expect("valid config");
        vi.handle(self.now, Input::InterfaceAddress(Some(addr)));
        self.nodes.push(Node {
            vi,
            addr,
            alive: true,
            linked: true,
            vips: BTreeSet::new(),
            changes: Vec::new(),
            garps: Vec::new(),
            sent: Vec::new(),
            lower_prio_heard: Vec::new(),
            priority_changes: Vec::new(),
            want_master: 0,
        });
        i
    }

    /// Adds and starts a node.
    pub fn start(&mut self, cfg: InstanceConfig) -> usize {
        let i = self.add(cfg);
        self.input(i, Input::Start);
        i
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    pub fn secs(&self, s: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(s)
    }

    /// Hands an input to node `i` now and carries out what it asks for.
    pub fn input(&mut self, i: usize, input: Input) {
        let now = self.now;
        self.nodes[i].vi.handle(now, input);
        self.drain(i);
    }

    /// Power loss: no priority-0 advert, VIPs vanish with the machine.
    pub fn crash(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.alive = false;
        n.vips.clear();
        self.in_flight.retain(|p| p.from != i && p.to != i);
    }

    /// Reboot a crashed node with `cfg` and start it.
    pub fn restart(&mut self, i: usize, cfg: InstanceConfig) {
        let mut vi = Instance::new(cfg).expect("valid config");
        vi.handle(self.now, Input::InterfaceAddress(Some(self.nodes[i].addr)));
        let n = &mut self.nodes[i];
        n.vi = vi;
        n.alive = true;
        self.input(i, Input::Start);
    }

    /// Delivers `bytes` from node `from`'s address to every other live, linked node now
    /// (+ latency), as if sent to the multicast group.
    pub fn inject(&mut self, from: usize, bytes: Vec<u8>, meta: RxMeta) {
        for to in 0..self.nodes.len() {
            if to != from && self.nodes[to].alive && self.nodes[to].linked {
                self.in_flight.push(InFlight {
                    at: self.now + LATENCY,
                    from,
                    to,
                    bytes: bytes.clone(),
                    meta,
                });
            }
        }
    }

    fn drain(&mut self, i: usize) {
        let now = self.now;
        while let Some(a) = self.nodes[i].vi.poll_action() {
            let mut outgoing = Vec::new();
            let n = &mut self.nodes[i];
            match a {
                Action::SendAdvert(tx) => {
                    for dst in &tx.destinations {
                        n.sent.push(Sent {
                            at: now,
                            priority: tx.advert.priority,
                            dst: *dst,
                        });
                        let mut buf = vec![0u8; 2048];
                        let len = tx.encode(*dst, &mut buf).expect("our adverts encode");
                        buf.truncate(len);
                        let meta = match (tx.src, dst) {
                            (IpAddr::V6(src), IpAddr::V6(d)) => RxMeta::Ipv6 {
                                src,
                                dst: *d,
                                hop_limit: Some(tx.ttl),
                            },
                            _ => RxMeta::Ipv4,
                        };
                        if n.linked {
                            outgoing.push((*dst, buf, meta));
                        }
                    }
                }
                Action::AddVips(v) => n.vips.extend(v),
                Action::RemoveVips(v) => {
                    for a in v {
                        n.vips.remove(&a);
                    }
                }
                Action::SendGarp { addresses, repeat } => n.garps.push(Garp {
                    at: now,
                    addresses,
                    repeat,
                }),
                Action::StateChange {
                    from, to, reason, ..
                } => n.changes.push(Change {
                    at: now,
                    from,
                    to,
                    reason,
                }),
                Action::PriorityChanged { from, to } => n.priority_changes.push((from, to)),
                Action::MasterRxLowerPriority { from, priority } => {
                    n.lower_prio_heard.push((now, from, priority))
                }
                Action::WantMaster => n.want_master += 1,
            }
            for (dst, bytes, meta) in outgoing {
                for to in 0..self.nodes.len() {
                    let target = &self.nodes[to];
                    let addressed = dst.is_multicast() || target.addr == dst;
                    if to != i && addressed && target.alive && target.linked {
                        self.in_flight.push(InFlight {
                            at: now + LATENCY,
                            from: i,
                            to,
                            bytes: bytes.clone(),
                            meta,
                        });
                    }
                }
            }
        }
    }

    /// Runs the LAN until `until` (absolute), processing deliveries and timers in order.
    pub fn run_until(&mut self, until: Instant) {
        loop {
            let next_timer = self
                .nodes
                .iter()
                .filter(|n| n.alive)
                .filter_map(|n| n.vi.poll_timeout())
                .min();
            let next_packet = self.in_flight.iter().map(|p| p.at).min();
            let next = match (next_timer, next_packet) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            // Packets first: an advert arriving at the instant a timer fires wins, as it
            // would on a real socket read before the timer check.
            let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.in_flight)
                .into_iter()
                .partition(|p| p.at <= self.now);
            self.in_flight = rest;
            for p in due {
                if self.nodes[p.to].alive && self.nodes[p.to].linked {
                    let now = self.now;
                    self.delivered += 1;
                    self.nodes[p.to].vi.handle_packet(now, &p.bytes, &p.meta);
                    self.drain(p.to);
                }
                let _ = p.from;
            }
            for i in 0..self.nodes.len() {
                if self.nodes[i].alive
                    && self.nodes[i]
                        .vi
                        .poll_timeout()
                        .is_some_and(|t| t <= self.now)
                {
                    self.input(i, Input::Timer);
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs for `d` more.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    pub fn state(&self, i: usize) -> StateKind {
        self.nodes[i].vi.state()
    }

    /// Indices of live nodes in MASTER.
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive && self.state(i) == StateKind::Master)
            .collect()
    }

    /// When node `i` last entered `to`.
    pub fn entered(&self, i: usize, to: StateKind) -> Option<&Change> {
        self.nodes[i].changes.iter().rev().find(|c| c.to == to)
    }

    /// Asserts that exactly node `m` is MASTER and holds the VIPs, and every other live node
    /// is BACKUP and holds none.
    pub fn assert_single_master(&self, m: usize) {
        assert_eq!(self.masters(), vec![m], "masters at {:?}", self.elapsed());
        for (i, n) in self.nodes.iter().enumerate() {
            // Crashed, never started or shut down: not part of the election.
            if !n.alive || matches!(n.vi.state(), StateKind::Init | StateKind::Stopped) {
                continue;
            }
            if i == m {
                assert!(
                    n.vips.contains(&n.vi.config().vips[0]),
                    "master {i} holds the VIP"
                );
            } else {
                assert_eq!(n.vi.state(), StateKind::Backup, "node {i}");
                assert!(n.vips.is_empty(), "backup {i} holds no VIP");
            }
        }
    }
}

/// Unicast delivery between the given nodes' addresses.
pub fn unicast(peers: &[IpAddr]) -> Delivery {
    Delivery::Unicast {
        peers: peers
            .iter()
            .map(|a| rk_vrrp_proto::UnicastPeer::new(*a))
            .collect(),
        ttl: 255,
        check_src: true,
    }
}
