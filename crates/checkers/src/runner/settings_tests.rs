//! `ha_suspend` and `log_all_failures` on the runner's state, on a virtual clock with
//! synthetic reports (no socket, no sleep).

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::super::*;
use crate::fsm::{FixedJitter, Timing};
use crate::probe::{ConnOpts, ProbeSuccess, TcpSpec};

const S: Duration = Duration::from_secs(1);

fn tcp(port: u16) -> ProbeSpec {
    let dst: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    ProbeSpec::Tcp(TcpSpec {
        conn: ConnOpts::new(dst),
    })
}

/// `delay_loop 5`, `delay_before_retry 1`, no warmup: first run at exactly 1 s.
fn timing(retry: u32) -> Timing {
    Timing {
        delay_loop: S * 5,
        delay_before_retry: S,
        retry,
        warmup: Duration::ZERO,
        alpha: false,
    }
}

fn spec(id: u64, probe: ProbeSpec, retry: u32) -> CheckerSpec {
    CheckerSpec {
        id: CheckerId(id),
        real_server: RealServerId(id),
        timing: timing(retry),
        probe,
    }
}

fn ids(list: &[u64]) -> HashSet<CheckerId> {
    list.iter().map(|i| CheckerId(*i)).collect()
}

fn report(started: Instant, ok: bool) -> ProbeReport {
    ProbeReport {
        started,
        latency: Duration::from_millis(2),
        result: if ok {
            Ok(ProbeSuccess::default())
        } else {
            Err(ProbeError::Connect(std::io::ErrorKind::ConnectionRefused))
        },
    }
}

/// Fires at the next due time; runs every started probe with result `ok`.
fn step(st: &mut State, ok: bool) -> (Instant, usize, Vec<CheckerEvent>) {
    let now = st.next_timer().expect("a timer");
    let starts = st.fire(now);
    let mut events = vec![];
    for s in &starts {
        events.extend(st.on_report(now, s.group, s.url, report(now, ok)));
    }
    (now, starts.len(), events)
}

#[test]
fn suspended_checker_ticks_without_probing_and_resumes_with_its_retry_count() {
    let t0 = Instant::now();
    let mut st = State::new(Box::new(FixedJitter(0.0)));
    st.apply(t0, vec![spec(1, tcp(9000), 1)]);
    // 1 s: a pass; 6 s: a failure of an up checker with retry 1: counted, retry at 7 s.
    assert_eq!(step(&mut st, true).1, 1);
    let (now, started, ev) = step(&mut st, false);
    assert_eq!((now - t0, started, ev.len()), (S * 6, 1, 0));

    let rep = st.set_suspended(ids(&[1]));
    assert_eq!(
        rep,
        SuspendReport {
            suspended: 1,
            newly_suspended: 1,
            resumed: 0
        }
    );
    // Due at 7 s (the retry), but suspended: no probe, next tick one delay_loop on (12 s),
    // and again at 17 s.
    for at in [7, 12] {
        let (now, started, ev) = step(&mut st, false);
        assert_eq!((now - t0, started, ev.len()), (S * at, 0, 0));
    }
    assert_eq!(st.next_timer(), Some(t0 + S * 17));
    let (list, stats) = st.snapshot();
    assert!(list[0].suspended && list[0].up);
    assert_eq!(
        (list[0].runs, stats.suspended, stats.probes_started),
        (2, 1, 2)
    );

    // Resumed at 14 s: nothing happens until the tick at 17 s, which probes; the retry
    // count survived, so this one failure is the last one allowed: down.
    let rep = st.set_suspended(ids(&[]));
    assert_eq!((rep.suspended, rep.resumed), (0, 1));
    assert_eq!(st.next_timer(), Some(t0 + S * 17));
    let (now, started, ev) = step(&mut st, false);
    assert_eq!((now - t0, started), (S * 17, 1));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, EventKind::Down);
}

#[test]
fn result_in_flight_at_suspension_is_dropped() {
    let t0 = Instant::now();
    let mut st = State::new(Box::new(FixedJitter(0.0)));
    st.apply(t0, vec![spec(1, tcp(9000), 0)]);
    let now = t0 + S;
    let s = st.fire(now).remove(0);
    st.set_suspended(ids(&[1]));
    // retry 0: this failure would bring it down; suspended, it changes nothing.
    assert!(
        st.on_report(now + S / 10, s.group, 0, report(now, false))
            .is_empty()
    );
    let (list, _) = st.snapshot();
    assert!(list[0].up && !list[0].has_run && list[0].runs == 0);
    assert_eq!(st.next_timer(), Some(now + S / 10 + S * 5));
    // Resumed, it probes at that tick and the failure counts.
    st.set_suspended(ids(&[]));
    let (_, started, ev) = step(&mut st, false);
    assert_eq!((started, ev.len()), (1, 1));
}

#[test]
fn shared_machine_runs_for_the_active_checker_and_the_resumed_one_catches_up() {
    let t0 = Instant::now();
    let mut st = State::new(Box::new(FixedJitter(0.0)));
    // Two virtual servers checking the same real server: one machine, two checkers.
    st.apply(t0, vec![spec(1, tcp(9000), 0), spec(2, tcp(9000), 0)]);
    st.set_suspended(ids(&[1]));
    let (_, started, ev) = step(&mut st, false);
    assert_eq!(started, 1, "checker 2 still needs the probe");
    let who: Vec<_> = ev.iter().map(|e| (e.checker.0, e.kind)).collect();
    assert_eq!(
        who,
        vec![(2, EventKind::Down)],
        "nothing for the suspended one"
    );
    // Resuming says nothing by itself; the next result brings checker 1 up to date.
    st.set_suspended(ids(&[]));
    let (_, started, ev) = step(&mut st, false);
    let who: Vec<_> = ev.iter().map(|e| (e.checker.0, e.kind)).collect();
    assert_eq!((started, who), (1, vec![(1, EventKind::Down)]));
}

#[test]
fn suspension_is_kept_by_id_across_reloads_and_may_come_first() {
    let t0 = Instant::now();
    let mut st = State::new(Box::new(FixedJitter(0.0)));
    // Named before it exists: the checker starts suspended.
    assert_eq!(st.set_suspended(ids(&[7])).suspended, 0);
    st.apply(t0, vec![spec(7, tcp(9000), 1)]);
    assert_eq!(st.snapshot().1.suspended, 1);
    assert_eq!(step(&mut st, true).1, 0);
    // A reload that changes its timing keeps it suspended.
    let mut changed = spec(7, tcp(9000), 3);
    changed.timing.delay_loop = S * 2;
    assert_eq!(st.apply(t0 + S * 2, vec![changed]).report.changed, 1);
    assert!(st.snapshot().0[0].suspended);
    assert_eq!(step(&mut st, true).1, 0);
}

#[test]
fn file_check_is_never_suspended() {
    let t0 = Instant::now();
    let mut st = State::new(Box::new(FixedJitter(0.0)));
    let file = ProbeSpec::File(crate::probe::FileSpec {
        path: "/nonexistent/rk-track".into(),
        weight: 1,
        reverse: false,
    });
    let out = st.apply(t0, vec![spec(1, file, 1)]);
    let read = out.start.into_iter().next().expect("first read at once");
    assert_eq!(st.set_suspended(ids(&[1])).suspended, 0);
    assert!(!st.snapshot().0[0].suspended);
    // keepalived's check_file.c ignores ha_suspend: the result is reported.
    let ev = st.on_report(t0, read.group, 0, report(t0, false));
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, EventKind::Down);
}

/// A `tracing` subscriber writing plain lines into a shared buffer, for the scope of `f`.
fn capture<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let sink = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .without_time()
        .with_writer(move || sink.clone())
        .finish();
    let out = tracing::subscriber::with_default(sub, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

#[test]
fn log_all_failures_logs_each_failed_attempt_while_up_only_for_its_checkers() {
    let t0 = Instant::now();
    let mut st = State::new(Box::new(FixedJitter(0.0)));
    // Checker 1 asks for every failure; checker 2, on another target, does not.
    st.apply(t0, vec![spec(1, tcp(9001), 2), spec(2, tcp(9002), 2)]);
    st.set_log_all_failures(ids(&[1]));
    step(&mut st, true);
    let ((), text) = capture(|| {
        // retry 2: two counted failures, the third goes down; then a failure while down.
        for _ in 0..4 {
            step(&mut st, false);
        }
    });
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("failed")).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines.iter().all(|l| l.contains("INFO")
        && l.contains("TCP_CHECK to 127.0.0.1:9001 failed: connection failed")
        && l.contains("checkers=[1]")));
    assert!(lines[0].contains("retry 1 of 2"), "{}", lines[0]);
    assert!(lines[1].contains("retry 2 of 2"), "{}", lines[1]);
    assert!(lines[2].contains("down (retry 2)"), "{}", lines[2]);
    assert!(!text.contains("9002"), "{text}");

    // Without the setting, the same failures are not logged at INFO.
    st.set_log_all_failures(ids(&[]));
    st.step_up_all();
    let ((), text) = capture(|| {
        step(&mut st, false);
    });
    assert!(!text.contains("failed"), "{text}");
}

impl State {
    /// Test helper: brings every machine up with one success each.
    fn step_up_all(&mut self) {
        while self.cohorts.values().any(|c| !c.engine.is_up()) {
            step(self, true);
        }
    }
}
