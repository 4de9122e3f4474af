//! The runner's inputs besides specs, end to end with real sockets: `ha_suspend`
//! (`set_suspended`) and `log_all_failures` (`set_log_all_failures`, log output captured).
//! Assertions are on counters and events, never on how long something took; the exact
//! timing rules are tested on the virtual clock (`runner/settings_tests.rs`).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rk_checkers::probe::{ConnOpts, ProbeSpec, TcpSpec};
use rk_checkers::{
    CheckerEvent, CheckerId, CheckerSpec, EventKind, RealServerId, Runner, RunnerOptions, Timing,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const MS: Duration = Duration::from_millis(1);

/// A TCP_CHECK of `addr`: `delay_loop` 100 ms, `delay_before_retry` 30 ms, first run at 1 s.
fn checker(id: u64, addr: std::net::SocketAddr, retry: u32) -> CheckerSpec {
    CheckerSpec {
        id: CheckerId(id),
        real_server: RealServerId(id),
        timing: Timing {
            delay_loop: MS * 100,
            delay_before_retry: MS * 30,
            retry,
            warmup: Duration::ZERO,
            alpha: false,
        },
        probe: ProbeSpec::Tcp(TcpSpec {
            conn: ConnOpts::new(addr).with_timeout(MS * 500),
        }),
    }
}

/// Accepts and closes on `l`, counting connections, until the returned task is aborted.
fn accept_counting(l: TcpListener) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    (hits, task)
}

async fn wait_for(hits: &AtomicUsize, n: usize) {
    tokio::time::timeout(MS * 5000, async {
        while hits.load(Ordering::SeqCst) < n {
            tokio::time::sleep(MS * 10).await;
        }
    })
    .await
    .expect("the server was probed in time");
}

async fn next_event(rx: &mut mpsc::UnboundedReceiver<CheckerEvent>) -> CheckerEvent {
    tokio::time::timeout(MS * 5000, rx.recv())
        .await
        .expect("an event in time")
        .expect("runner alive")
}

#[tokio::test]
async fn suspended_checker_starts_no_probe_and_reports_nothing_until_resumed() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (hits, server) = accept_counting(l);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner::spawn(RunnerOptions { seed: Some(3) }, tx);
    runner.apply(vec![checker(1, addr, 1)]).await.unwrap();
    wait_for(&hits, 1).await;

    let rep = runner.set_suspended([CheckerId(1)]).await.unwrap();
    assert_eq!((rep.suspended, rep.newly_suspended), (1, 1));
    // The real server dies while the checker is suspended.
    server.abort();
    let _ = server.await;
    let started = runner.snapshot().await.unwrap().stats.probes_started;
    // Five periods: no probe may start, no event may come.
    tokio::time::sleep(MS * 500).await;
    let snap = runner.snapshot().await.unwrap();
    assert_eq!(snap.stats.probes_started, started);
    assert!(snap.checkers[0].suspended && snap.checkers[0].up);
    assert!(rx.try_recv().is_err(), "a suspended checker reported");

    // Resumed: it probes again at its next tick and finds the server gone.
    let rep = runner.set_suspended([]).await.unwrap();
    assert_eq!((rep.suspended, rep.resumed), (0, 1));
    let ev = next_event(&mut rx).await;
    assert_eq!((ev.checker, ev.kind), (CheckerId(1), EventKind::Down));
    let snap = runner.snapshot().await.unwrap();
    assert!(!snap.checkers[0].suspended);
    assert!(
        snap.stats.probes_started >= started + 2,
        "retry 1: two failures"
    );
    runner.shutdown().await;
}

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

#[tokio::test]
async fn log_all_failures_logs_every_failed_attempt_while_up() {
    // The runner task runs on this test's single thread, so a thread-local subscriber
    // sees its log lines.
    let buf = Buf::default();
    let sink = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .without_time()
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let text = || String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();

    let logged = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let quiet = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (a, b) = (logged.local_addr().unwrap(), quiet.local_addr().unwrap());
    let (hits_a, server_a) = accept_counting(logged);
    let (hits_b, server_b) = accept_counting(quiet);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner::spawn(RunnerOptions { seed: Some(4) }, tx);
    // The setting may come before the checkers.
    runner.set_log_all_failures([CheckerId(1)]).await.unwrap();
    runner
        .apply(vec![checker(1, a, 2), checker(2, b, 2)])
        .await
        .unwrap();
    wait_for(&hits_a, 1).await;
    wait_for(&hits_b, 1).await;
    server_a.abort();
    server_b.abort();
    let _ = (server_a.await, server_b.await);

    // retry 2: both go down after three failures; only checker 1's are logged, each one.
    let mut down = vec![];
    while down.len() < 2 {
        let ev = next_event(&mut rx).await;
        assert_eq!(ev.kind, EventKind::Down);
        down.push(ev.checker.0);
    }
    let all = text();
    let lines: Vec<&str> = all.lines().filter(|l| l.contains("TCP_CHECK to")).collect();
    assert_eq!(lines.len(), 3, "{all}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains(" INFO ") && l.contains(&format!("to {a} failed")))
    );
    assert!(lines[0].contains("retry 1 of 2") && lines[2].contains("down"));
    assert!(!all.contains(&b.to_string()), "{all}");
    runner.shutdown().await;
}
