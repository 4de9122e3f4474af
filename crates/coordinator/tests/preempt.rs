//! A reload or VRRP state that arrives while a periodic table read is under way goes
//! first (issue 8): the read is abandoned, the change is sent, the table is read right
//! after; and drift repair never starves. Against a fake kernel whose dump takes seconds
//! (as 2,300 services × 16 destinations do in the emulated test VM), in paused tokio
//! time, so the timings are exact and the tests take no time.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use rk_coordinator::{
    ActualTable, Engine, Input, InstanceRole, IpvsKernel, Policy, Reconciler, ReconcilerOptions,
    RsHealth, RsId,
};
use rk_ipvs::{
    Daemon, DestinationEntry, DumpedService, IpvsError, IpvsOp, ServiceEntry, ServiceKey, Timeouts,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long the fake's dump takes.
const DUMP: Duration = Duration::from_secs(3);
/// The reconcile period.
const PERIOD: Duration = Duration::from_secs(5);

/// What the fake kernel saw, with the (paused) time since the test started.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    DumpStarted(Duration),
    DumpDone(Duration),
    Applied(Duration, Vec<IpvsOp>),
}

#[derive(Debug)]
struct State {
    table: ActualTable,
    seen: Vec<Seen>,
    t0: Instant,
}

/// A kernel that applies every operation and whose dump takes [`DUMP`].
#[derive(Clone, Debug)]
struct Fake(Arc<Mutex<State>>);

impl Fake {
    fn new(t0: Instant) -> Fake {
        Fake(Arc::new(Mutex::new(State {
            table: ActualTable::default(),
            seen: Vec::new(),
            t0,
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().expect("fake kernel state")
    }

    fn note(&self, what: impl FnOnce(Duration) -> Seen) {
        let mut s = self.state();
        let at = s.t0.elapsed();
        s.seen.push(what(at));
    }

    fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }

    /// Weight of `dest` in `service` in the fake kernel.
    fn weight(&self, service: &ServiceKey, dest: &rk_ipvs::DestKey) -> Option<u32> {
        let s = self.state();
        Some(s.table.services.get(service)?.dests.get(dest)?.dest.weight)
    }
}

impl IpvsKernel for Fake {
    async fn apply(&mut self, ops: &[IpvsOp]) -> Vec<Result<(), IpvsError>> {
        let mut s = self.state();
        for op in ops {
            s.table.apply(op);
        }
        let at = s.t0.elapsed();
        s.seen.push(Seen::Applied(at, ops.to_vec()));
        ops.iter().map(|_| Ok(())).collect()
    }

    async fn dump(&mut self) -> Result<Vec<DumpedService>, IpvsError> {
        self.note(Seen::DumpStarted);
        tokio::time::sleep(DUMP).await;
        self.note(Seen::DumpDone);
        let s = self.state();
        Ok(s.table
            .services
            .values()
            .map(|a| DumpedService {
                service: ServiceEntry {
                    service: a.service.clone(),
                    stats: None,
                    stats64: None,
                },
                dests: a
                    .dests
                    .values()
                    .map(|d| DestinationEntry {
                        dest: d.dest,
                        active_conns: d.active_conns,
                        inactive_conns: d.inactive_conns,
                        persistent_conns: 0,
                        stats: None,
                        stats64: None,
                    })
                    .collect(),
            })
            .collect())
    }

    async fn destinations(&mut self, key: &ServiceKey) -> Result<Vec<DestinationEntry>, IpvsError> {
        let _ = key;
        Ok(Vec::new())
    }

    async fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError> {
        Ok(Vec::new())
    }

    async fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        Ok(Timeouts::default())
    }
}

/// One virtual server with two real servers, the first of weight `w`, the second checked;
/// with `vrrp`, the
/// service's address is VI_1's VIP (rules follow it: installed while VI_1 is MASTER).
fn conf(w: u32, vrrp: bool) -> String {
    let vi = if vrrp {
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress { 192.0.2.1 }\n}\n"
    } else {
        ""
    };
    format!(
        "{vi}virtual_server 192.0.2.1 80 {{\n protocol TCP\n lb_kind DR\n \
         real_server 198.51.100.1 80 {{ weight {w} }}\n \
         real_server 198.51.100.2 80 {{\n  weight 1\n  TCP_CHECK {{ }}\n }}\n}}\n"
    )
}

fn config_input(w: u32) -> Input {
    Input::Config {
        config: Arc::new(load(&conf(w, false))),
        policy: Policy::default(),
    }
}

/// A reconciler over a fake kernel, run by [`Reconciler::run`]: the inputs' sender, the
/// fake and the counters.
async fn running(
    text: &str,
    t0: Instant,
) -> (
    mpsc::Sender<Input>,
    Fake,
    Arc<rk_coordinator::Counters>,
    tokio::task::JoinHandle<()>,
) {
    let fake = Fake::new(t0);
    let opts = ReconcilerOptions {
        period: PERIOD,
        ..ReconcilerOptions::default()
    };
    let engine = Engine::new(Arc::new(load(text)), Policy::default());
    let r = Reconciler::start(fake.clone(), engine, opts)
        .await
        .expect("start over the fake");
    let counters = r.counters();
    let (tx, rx) = mpsc::channel(64);
    let task = tokio::spawn(async move {
        let _ = r.run(rx, None).await;
    });
    (tx, fake, counters, task)
}

fn at(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

/// The operations applied after `from`, with when.
fn applied_after(seen: &[Seen], from: Duration) -> Vec<(Duration, Vec<IpvsOp>)> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Applied(t, ops) if *t >= from => Some((*t, ops.clone())),
            _ => None,
        })
        .collect()
}

fn dumps(seen: &[Seen]) -> Vec<Seen> {
    seen.iter()
        .filter(|s| !matches!(s, Seen::Applied(..)))
        .cloned()
        .collect()
}

/// The start-up read (0–3 s) and the first pass's operations, then the periodic read at
/// 5 s. A reload at 5.5 s, during it: sent at once (not at 8 s, when the dump would have
/// ended), and the table read again right after it (5.5–8.5 s).
#[tokio::test(start_paused = true)]
async fn reload_during_a_periodic_read_is_sent_before_the_read_ends() {
    let t0 = Instant::now();
    let (tx, fake, counters, task) = running(&conf(1, false), t0).await;

    tokio::time::sleep_until(t0 + at(5.5)).await;
    tx.send(config_input(7)).await.expect("send the reload");
    tokio::time::sleep_until(t0 + at(9.0)).await;

    let seen = fake.seen();
    let sent = applied_after(&seen, at(4.0));
    assert_eq!(sent.len(), 1, "one batch for the reload: {seen:#?}");
    assert_eq!(sent[0].0, at(5.5), "sent when it arrived: {seen:#?}");
    assert_eq!(kinds(&sent[0].1), ["EditDest"]);
    assert_eq!(
        fake.weight(&tcp("192.0.2.1", 80), &dk("198.51.100.1", 80)),
        Some(7)
    );
    // The periodic read gave way, and was done again right after the reload.
    assert_eq!(
        dumps(&seen),
        [
            Seen::DumpStarted(at(0.0)),
            Seen::DumpDone(at(3.0)),
            Seen::DumpStarted(at(5.0)),
            Seen::DumpStarted(at(5.5)),
            Seen::DumpDone(at(8.5)),
        ]
    );
    let c = counters.snapshot();
    assert_eq!(c.abandoned_reads, 1);
    assert_eq!(c.dumps, 2, "abandoned reads are not counted as reads");
    task.abort();
}

/// A VRRP state is a preempting input too: a new MASTER gets its rules at once.
#[tokio::test(start_paused = true)]
async fn new_master_during_a_periodic_read_gets_its_rules_at_once() {
    let t0 = Instant::now();
    let (tx, fake, counters, task) = running(&conf(1, true), t0).await;
    tokio::time::sleep_until(t0 + at(6.0)).await;
    tx.send(Input::Instance {
        name: "VI_1".into(),
        role: Some(InstanceRole::Master),
    })
    .await
    .expect("send the state");
    tokio::time::sleep_until(t0 + at(9.5)).await;

    let seen = fake.seen();
    let sent = applied_after(&seen, at(4.0));
    assert_eq!(sent.len(), 1, "{seen:#?}");
    assert_eq!(sent[0].0, at(6.0), "{seen:#?}");
    assert_eq!(kinds(&sent[0].1), ["AddService", "AddDest", "AddDest"]);
    assert_eq!(
        dumps(&seen)[2..],
        [
            Seen::DumpStarted(at(5.0)),
            Seen::DumpStarted(at(6.0)),
            Seen::DumpDone(at(9.0)),
        ]
    );
    assert_eq!(counters.snapshot().abandoned_reads, 1);
    task.abort();
}

/// No starvation: a second reload during the read that follows an abandon does not
/// abandon it; that read completes, and the second reload goes out when it ends.
#[tokio::test(start_paused = true)]
async fn the_read_after_an_abandon_completes_whatever_arrives() {
    let t0 = Instant::now();
    let (tx, fake, counters, task) = running(&conf(1, false), t0).await;
    tokio::time::sleep_until(t0 + at(5.5)).await;
    tx.send(config_input(7)).await.expect("first reload");
    tokio::time::sleep_until(t0 + at(6.0)).await;
    tx.send(config_input(9)).await.expect("second reload");
    tokio::time::sleep_until(t0 + at(9.0)).await;

    let seen = fake.seen();
    let sent = applied_after(&seen, at(4.0));
    assert_eq!(
        sent.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        [at(5.5), at(8.5)],
        "the first at once, the second after the read it did not abandon: {seen:#?}"
    );
    assert_eq!(
        dumps(&seen)[2..],
        [
            Seen::DumpStarted(at(5.0)),
            Seen::DumpStarted(at(5.5)),
            Seen::DumpDone(at(8.5)),
        ]
    );
    assert_eq!(
        fake.weight(&tcp("192.0.2.1", 80), &dk("198.51.100.1", 80)),
        Some(9)
    );
    assert_eq!(counters.snapshot().abandoned_reads, 1);

    // Once a read completed, the next periodic read (10.5 s) may give way again.
    tokio::time::sleep_until(t0 + at(11.0)).await;
    tx.send(config_input(3)).await.expect("third reload");
    tokio::time::sleep_until(t0 + at(11.5)).await;
    let seen = fake.seen();
    assert_eq!(
        applied_after(&seen, at(9.0))
            .iter()
            .map(|(t, _)| *t)
            .collect::<Vec<_>>(),
        [at(11.0)],
        "{seen:#?}"
    );
    assert_eq!(counters.snapshot().abandoned_reads, 2);
    task.abort();
}

/// Health changes never preempt (they come in storms; a read gives way to reloads and
/// VRRP states only), and neither does anything during the start-up read.
#[tokio::test(start_paused = true)]
async fn health_and_the_first_read_are_never_preempted() {
    let t0 = Instant::now();
    let (tx, fake, counters, task) = running(&conf(1, false), t0).await;
    // During the first read: a reload waits for it.
    tokio::time::sleep_until(t0 + at(1.0)).await;
    tx.send(config_input(7)).await.expect("reload");
    // During the periodic read (5–8 s): a health change waits for it.
    tokio::time::sleep_until(t0 + at(5.5)).await;
    let cfg = load(&conf(7, false));
    let vs = &cfg.virtual_servers[0];
    tx.send(Input::Health {
        rs: RsId::of(vs, &vs.real_servers[1]),
        health: Some(RsHealth::DOWN),
    })
    .await
    .expect("health");
    tokio::time::sleep_until(t0 + at(9.0)).await;

    let seen = fake.seen();
    assert_eq!(
        dumps(&seen),
        [
            Seen::DumpStarted(at(0.0)),
            Seen::DumpDone(at(3.0)),
            Seen::DumpStarted(at(5.0)),
            Seen::DumpDone(at(8.0)),
        ]
    );
    let sent = applied_after(&seen, at(0.0));
    // The first pass's batch and the reload's at 3 s; the health change at 8 s.
    assert_eq!(
        sent.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        [at(3.0), at(3.0), at(8.0)],
        "{seen:#?}"
    );
    assert_eq!(counters.snapshot().abandoned_reads, 0);
    task.abort();
}

/// The daemon drives [`Reconciler::reconcile`] itself and raises the [`Preempt`] handle
/// when it queues a reload: the pass under way ends at once, reporting the abandon.
#[tokio::test(start_paused = true)]
async fn a_raised_preempt_ends_a_periodic_read_of_a_pass() {
    let t0 = Instant::now();
    let fake = Fake::new(t0);
    let opts = ReconcilerOptions {
        period: PERIOD,
        ..ReconcilerOptions::default()
    };
    let engine = Engine::new(Arc::new(load(&conf(1, false))), Policy::default());
    let mut r = Reconciler::start(fake.clone(), engine, opts)
        .await
        .expect("start");
    let preempt = r.preempt();
    // Raised before the first read: it is not abandoned, and the pass start lowers it.
    preempt.raise();
    let first = r.reconcile().await.expect("first pass");
    assert!(first.read && !first.abandoned);
    assert!(!preempt.is_raised());

    tokio::time::sleep_until(t0 + PERIOD).await;
    let raiser = {
        let preempt = preempt.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            preempt.raise();
        })
    };
    let report = r.reconcile().await.expect("periodic pass");
    assert!(report.abandoned && !report.read, "{report:?}");
    assert_eq!(t0.elapsed(), at(6.0), "ended when raised");
    assert!(!preempt.is_raised(), "taken by the abandon");
    raiser.await.expect("raiser");

    // The reload, then: sent without a read, and the read comes in the very next pass,
    // and is not abandoned even when raised again.
    r.engine_mut()
        .set_config(Arc::new(load(&conf(7, false))), Policy::default());
    let send = r.reconcile().await.expect("the reload's pass");
    assert!(!send.read && send.ops == 1, "{send:?}");
    assert!(r.next_wakeup() <= Instant::now());
    let raiser = {
        let preempt = preempt.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            preempt.raise();
        })
    };
    let read = r.reconcile().await.expect("the read after it");
    assert!(read.read && !read.abandoned, "{read:?}");
    assert_eq!(t0.elapsed(), at(9.0));
    raiser.await.expect("raiser");
    assert_eq!(r.counters().snapshot().abandoned_reads, 1);
}
