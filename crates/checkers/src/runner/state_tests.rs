//! Deduplication, fan-out and reload tests of the runner's state, with synthetic reports on
//! a virtual clock (no socket, no sleep).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::fsm::{FixedJitter, Timing};
use crate::probe::{ConnOpts, MiscSpec, ProbeSuccess, TcpSpec};

const S: Duration = Duration::from_secs(1);

fn tcp(port: u16) -> ProbeSpec {
    let dst: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    ProbeSpec::Tcp(TcpSpec {
        conn: ConnOpts::new(dst),
    })
}

fn timing(delay_loop: u32, alpha: bool) -> Timing {
    Timing {
        delay_loop: S * delay_loop,
        delay_before_retry: S,
        retry: 1,
        warmup: Duration::ZERO,
        alpha,
    }
}

fn spec(id: u64, rs: u64, probe: ProbeSpec, t: Timing) -> CheckerSpec {
    CheckerSpec {
        id: CheckerId(id),
        real_server: RealServerId(rs),
        timing: t,
        probe,
    }
}

fn state() -> State {
    State::new(Box::new(FixedJitter(0.0)))
}

fn report(started: Instant, ok: bool) -> ProbeReport {
    ProbeReport {
        started,
        latency: Duration::from_millis(3),
        result: if ok {
            Ok(ProbeSuccess::default())
        } else {
            Err(ProbeError::Connect(std::io::ErrorKind::ConnectionRefused))
        },
    }
}

/// 10 virtual servers × 3 real servers, each real server checked identically in every VS.
fn farm(t: Timing) -> Vec<CheckerSpec> {
    let mut v = vec![];
    for vs in 0..10u64 {
        for rs in 0..3u16 {
            v.push(spec(
                vs * 10 + u64::from(rs),
                vs * 10 + u64::from(rs),
                tcp(8000 + rs),
                t,
            ));
        }
    }
    v
}

#[test]
fn ten_virtual_servers_sharing_three_real_servers_run_three_probes_per_period() {
    let t0 = Instant::now();
    let mut st = state();
    let out = st.apply(t0, farm(timing(5, false)));
    assert_eq!(out.report.added, 30);
    assert!(out.events.is_empty());
    let (_, stats) = st.snapshot();
    assert_eq!(
        (stats.checkers, stats.probes, stats.state_machines),
        (30, 3, 3)
    );
    let mut now = t0;
    for period in 0..4 {
        now = st.next_timer().unwrap();
        let starts = st.fire(now);
        assert_eq!(starts.len(), 3, "period {period}");
        for s in starts {
            assert!(
                st.on_report(now, s.group, s.url, report(now, true))
                    .is_empty()
            );
        }
    }
    assert_eq!(now - t0, S + S * 5 * 3);
    assert_eq!(st.snapshot().1.probes_started, 12);
    // One real server fails: all ten checkers of it go down, each with its own event.
    now = st.next_timer().unwrap();
    let starts = st.fire(now);
    let mut downs = vec![];
    for s in &starts {
        let ok = !matches!(s.probe.spec(), ProbeSpec::Tcp(t) if t.conn.dst.port() == 8001);
        downs.extend(st.on_report(now, s.group, s.url, report(now, ok)));
    }
    // retry 1: the first failure is only counted.
    assert!(downs.is_empty());
    now = st.next_timer().unwrap();
    assert_eq!(now - t0, S * 22);
    let starts = st.fire(now);
    assert_eq!(
        starts.len(),
        1,
        "only the failing probe retries after delay_before_retry"
    );
    let events = st.on_report(now, starts[0].group, 0, report(now, false));
    assert_eq!(events.len(), 10);
    assert!(
        events
            .iter()
            .all(|e| e.kind == EventKind::Down && e.real_server.0 % 10 == 1)
    );
    assert!(
        events
            .iter()
            .all(|e| e.reason.is_some() && e.latency == Some(Duration::from_millis(3)))
    );
}

#[test]
fn same_probe_different_timing_keeps_two_machines_but_shares_runs_in_flight() {
    let t0 = Instant::now();
    let mut st = state();
    st.apply(
        t0,
        vec![
            spec(1, 1, tcp(9000), timing(5, false)),
            spec(2, 2, tcp(9000), timing(7, true)),
        ],
    );
    let (_, stats) = st.snapshot();
    assert_eq!((stats.probes, stats.state_machines), (1, 2));
    // Both are due at 1 s: one run.
    let now = t0 + S;
    let starts = st.fire(now);
    assert_eq!(starts.len(), 1);
    let events = st.on_report(now + S / 10, starts[0].group, 0, report(now, true));
    // The alpha checker comes up; the other was already up.
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].checker, events[0].kind),
        (CheckerId(2), EventKind::Up)
    );
    // Then their periods differ: 5 s and 7 s.
    assert_eq!(st.next_timer(), Some(now + S / 10 + S * 5));
}

#[test]
fn reload_carries_state_by_checker_identity() {
    let t0 = Instant::now();
    let mut st = state();
    st.apply(t0, vec![spec(1, 1, tcp(9000), timing(5, false))]);
    let now = t0 + S;
    let s = st.fire(now).remove(0);
    let ev = st.on_report(now, s.group, 0, report(now, false));
    assert_eq!(ev[0].kind, EventKind::Down);

    // Unchanged: kept, nothing reported.
    let out = st.apply(now, vec![spec(1, 1, tcp(9000), timing(5, false))]);
    assert_eq!((out.report.kept, out.events.len()), (1, 0));
    // Timing changed, probe equal: migrated, still down, nothing reported.
    let out = st.apply(now, vec![spec(1, 1, tcp(9000), timing(9, false))]);
    assert_eq!((out.report.changed, out.events.len()), (1, 0));
    let (list, stats) = st.snapshot();
    assert!(!list[0].up && list[0].has_run);
    assert_eq!((stats.probes, stats.state_machines), (1, 1));
    // A new checker joining the same probe and timing learns the known state at once.
    let out = st.apply(
        now,
        vec![
            spec(1, 1, tcp(9000), timing(9, false)),
            spec(2, 2, tcp(9000), timing(9, false)),
        ],
    );
    assert_eq!(out.report.added, 1);
    assert_eq!(out.events.len(), 1);
    assert_eq!(
        (out.events[0].checker, out.events[0].kind),
        (CheckerId(2), EventKind::Down)
    );
    // Probe changed: a fresh machine; what was reported stays until the new probe decides.
    let out = st.apply(now, vec![spec(1, 1, tcp(9001), timing(9, false))]);
    assert_eq!(
        (out.report.changed, out.report.removed, out.events.len()),
        (1, 1, 0)
    );
    assert_eq!(out.removed_groups.len(), 1);
    let (list, stats) = st.snapshot();
    assert!(!list[0].up && !list[0].has_run);
    assert_eq!((stats.probes, stats.state_machines), (1, 1));
    let later = now + S * 2;
    let s = st.fire(later).remove(0);
    let ev = st.on_report(later, s.group, 0, report(later, true));
    assert_eq!(ev[0].kind, EventKind::Up);
    // Removing everything leaves nothing behind.
    let out = st.apply(later, vec![]);
    assert_eq!(out.report.removed, 1);
    let (_, stats) = st.snapshot();
    assert_eq!(
        (stats.checkers, stats.probes, stats.state_machines),
        (0, 0, 0)
    );
}

#[test]
fn removed_machine_ignores_a_late_report() {
    let t0 = Instant::now();
    let mut st = state();
    st.apply(t0, vec![spec(1, 1, tcp(9000), timing(5, false))]);
    let s = st.fire(t0 + S).remove(0);
    st.apply(t0 + S, vec![]);
    assert!(
        st.on_report(t0 + S * 2, s.group, 0, report(t0 + S, false))
            .is_empty()
    );
}

#[test]
fn misc_dynamic_weight_is_reported_before_up_and_reset_by_down() {
    let t0 = Instant::now();
    let mut st = state();
    let misc = ProbeSpec::Misc(MiscSpec {
        argv: vec!["/bin/true".into()],
        timeout: S,
        dynamic: true,
        user: None,
        security: false,
    });
    st.apply(t0, vec![spec(1, 1, misc, timing(5, true))]);
    let ok = |w| ProbeReport {
        started: t0,
        latency: S / 100,
        result: Ok(ProbeSuccess { weight: Some(w) }),
    };
    let mut now = t0 + S;
    let s = st.fire(now).remove(0);
    let ev = st.on_report(now, s.group, 0, ok(DynamicWeight::Absolute(3)));
    let kinds: Vec<_> = ev.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![EventKind::Weight(DynamicWeight::Absolute(3)), EventKind::Up]
    );
    // Same weight again: silence. Back to exit 0: back to the configured weight.
    now += S * 5;
    let s = st.fire(now).remove(0);
    assert!(
        st.on_report(now, s.group, 0, ok(DynamicWeight::Absolute(3)))
            .is_empty()
    );
    now += S * 5;
    let s = st.fire(now).remove(0);
    let ev = st.on_report(now, s.group, 0, ok(DynamicWeight::Configured));
    assert_eq!(ev[0].kind, EventKind::Weight(DynamicWeight::Configured));
}
