//! The runner end to end with real probes and short real timers (tens of milliseconds):
//! retry timing, recovery, deduplication counted server-side, scripts, tracked files.
//! Timing assertions keep margins; the exact timing rules are tested on the virtual clock in
//! `fsm_tests.rs`.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rk_checkers::probe::*;
use rk_checkers::{
    CheckerEvent, CheckerId, CheckerSpec, EventKind, RealServerId, Runner, RunnerOptions, Timing,
};
use support::*;
use tokio::sync::mpsc;

const MS: Duration = Duration::from_millis(1);

fn timing(delay_loop: u32, dbr: u32, retry: u32, alpha: bool) -> Timing {
    Timing {
        delay_loop: MS * delay_loop,
        delay_before_retry: MS * dbr,
        retry,
        warmup: Duration::ZERO,
        alpha,
    }
}

fn checker(id: u64, rs: u64, t: Timing, probe: ProbeSpec) -> CheckerSpec {
    CheckerSpec {
        id: CheckerId(id),
        real_server: RealServerId(rs),
        timing: t,
        probe,
    }
}

fn http_probe(addr: SocketAddr) -> ProbeSpec {
    ProbeSpec::Http(HttpSpec {
        conn: ConnOpts::new(addr).with_timeout(MS * 500),
        tls: None,
        protocol: HttpProtocol::V10,
        virtualhost: None,
        urls: vec![UrlSpec::new("/")],
        fast_recovery: false,
    })
}

async fn next_event(
    rx: &mut mpsc::UnboundedReceiver<CheckerEvent>,
    within: Duration,
) -> (CheckerEvent, Instant) {
    let ev = tokio::time::timeout(within, rx.recv())
        .await
        .expect("event in time")
        .expect("runner alive");
    (ev, Instant::now())
}

#[tokio::test]
async fn tcp_goes_down_after_retry_plus_one_failures_and_up_after_one_success() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner::spawn(RunnerOptions { seed: Some(1) }, tx);
    let probe = ProbeSpec::Tcp(TcpSpec {
        conn: ConnOpts::new(addr).with_timeout(MS * 300),
    });
    let (dl, dbr, retry) = (200, 60, 2);
    runner
        .apply(vec![checker(
            1,
            1,
            timing(dl, dbr, retry, false),
            probe.clone(),
        )])
        .await
        .unwrap();
    // First check at 1 s (BOOTSTRAP_DELAY, no warmup): accept it, no event (non-alpha).
    let accept = tokio::time::timeout(MS * 2000, l.accept())
        .await
        .unwrap()
        .unwrap();
    drop(accept);
    let dropped = Instant::now();
    drop(l);
    let (ev, at) = next_event(&mut rx, MS * 3000).await;
    assert_eq!(ev.kind, EventKind::Down);
    assert!(matches!(ev.reason, Some(ProbeError::Connect(_))));
    // delay_loop to the first failure, then `retry` retries spaced by delay_before_retry.
    let took = at - dropped;
    let min = MS * (dl + dbr * retry - 20);
    assert!(took >= min && took < min + MS * 400, "down after {took:?}");
    let snap = runner.snapshot().await.unwrap();
    assert_eq!(snap.checkers[0].failures, u64::from(retry) + 1);
    assert_eq!(snap.checkers[0].runs, u64::from(retry) + 2);

    // Listen again on the same port: one success brings it up, one delay_loop later.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_reuseaddr(true).unwrap();
    sock.bind(addr).unwrap();
    let l = sock.listen(16).unwrap();
    let back = Instant::now();
    let (ev, at) = next_event(&mut rx, MS * 3000).await;
    assert_eq!(ev.kind, EventKind::Up);
    assert!(at - back < MS * (dl + 300), "up after {:?}", at - back);
    assert!(ev.latency.is_some());
    drop(l);
    runner.shutdown().await;
}

#[tokio::test]
async fn http_failures_are_spaced_by_delay_before_retry_server_side() {
    let srv = http(Reply::ok(b"ok")).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner::spawn(RunnerOptions { seed: Some(2) }, tx);
    let (dl, dbr, retry) = (300u32, 80u32, 2u32);
    runner
        .apply(vec![checker(
            7,
            3,
            timing(dl, dbr, retry, false),
            http_probe(srv.addr()),
        )])
        .await
        .unwrap();
    // Wait for the first (good) request, then break the server.
    let t0 = Instant::now();
    while srv.hits() == 0 {
        assert!(t0.elapsed() < MS * 3000);
        tokio::time::sleep(MS * 10).await;
    }
    srv.set(Reply::status(503));
    let (ev, _) = next_event(&mut rx, MS * 3000).await;
    assert_eq!(
        (ev.kind, ev.reason.clone()),
        (EventKind::Down, Some(ProbeError::Status(503)))
    );
    assert_eq!(
        (ev.checker, ev.real_server),
        (CheckerId(7), RealServerId(3))
    );
    let hits = srv.hits();
    assert_eq!(
        hits,
        1 + retry as usize + 1,
        "one good request, then retry+1 failures"
    );
    srv.set(Reply::ok(b"ok"));

    // keepalived's HTTP recovery: the failed URL passes, then a full pass: two successes.
    let (ev, _) = next_event(&mut rx, MS * 3000).await;
    assert_eq!(ev.kind, EventKind::Up);
    assert_eq!(srv.hits(), hits + 2);
    runner.shutdown().await;
}

#[tokio::test]
async fn ten_virtual_servers_sharing_three_real_servers_probe_each_once_per_period() {
    let servers = [
        http(Reply::ok(b"a")).await,
        http(Reply::ok(b"b")).await,
        http(Reply::ok(b"c")).await,
    ];
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner::spawn(RunnerOptions { seed: Some(3) }, tx);
    let dl = 300u32;
    let mut specs = vec![];
    for vs in 0..10u64 {
        for (i, s) in servers.iter().enumerate() {
            let id = vs * 10 + i as u64;
            specs.push(checker(
                id,
                id,
                timing(dl, 100, 1, true),
                http_probe(s.addr()),
            ));
        }
    }
    let report = runner.apply(specs).await.unwrap();
    assert_eq!((report.added, report.errors.len()), (30, 0));
    // alpha: every one of the 30 checkers comes up after the first shared run.
    let mut ups = 0;
    while ups < 30 {
        let (ev, _) = next_event(&mut rx, MS * 3000).await;
        assert_eq!(ev.kind, EventKind::Up);
        ups += 1;
    }
    let first = Instant::now();
    let base: Vec<usize> = servers.iter().map(|s| s.hits()).collect();
    assert_eq!(
        base,
        vec![1, 1, 1],
        "one request per real server for 10 virtual servers"
    );
    // Three more periods.
    tokio::time::sleep_until((first + MS * (3 * dl + dl / 2)).into()).await;
    for s in &servers {
        let n = s.hits();
        assert!(
            (3..=4).contains(&n),
            "requests per real server after 3 periods: {n}"
        );
    }
    let snap = runner.snapshot().await.unwrap();
    assert_eq!(
        (
            snap.stats.checkers,
            snap.stats.probes,
            snap.stats.state_machines
        ),
        (30, 3, 3)
    );
    assert_eq!(
        snap.stats.probes_started as usize,
        servers.iter().map(|s| s.hits()).sum::<usize>()
    );
    assert!(snap.checkers.iter().all(|c| c.shared_by == 10 && c.up));
    runner.shutdown().await;
}

#[tokio::test]
async fn reapplying_the_same_specs_keeps_state_silently() {
    let srv = tcp_closer().await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner::spawn(RunnerOptions { seed: Some(4) }, tx);
    let spec = checker(
        1,
        1,
        timing(100, 50, 0, true),
        ProbeSpec::Tcp(TcpSpec {
            conn: ConnOpts::new(srv.addr),
        }),
    );
    runner.apply(vec![spec.clone()]).await.unwrap();
    let (ev, _) = next_event(&mut rx, MS * 3000).await;
    assert_eq!(ev.kind, EventKind::Up);
    let report = runner.apply(vec![spec.clone()]).await.unwrap();
    assert_eq!(report.kept, 1);
    // A changed timing carries the state over: still up, no event.
    let mut slower = spec;
    slower.timing.delay_loop = MS * 150;
    assert_eq!(runner.apply(vec![slower]).await.unwrap().changed, 1);
    assert!(
        tokio::time::timeout(MS * 400, rx.recv()).await.is_err(),
        "no event after a reload"
    );
    let snap = runner.snapshot().await.unwrap();
    assert!(snap.checkers[0].up && snap.checkers[0].has_run);
    runner.shutdown().await;
}

fn pid_alive(pid: i32) -> bool {
    // A zombie (state Z) is dead for our purpose: its parent is gone and init reaps it.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(s) => !s.rsplit(") ").next().unwrap_or("").starts_with('Z'),
    }
}

#[tokio::test]
async fn misc_script_that_hangs_is_killed_with_its_children_at_misc_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let script = format!(
        "sleep 30 & echo $! > {p}; echo $$ >> {p}; wait",
        p = pids.display()
    );
    let spec = MiscSpec {
        argv: vec!["/bin/sh".into(), "-c".into(), script],
        timeout: MS * 300,
        dynamic: false,
        user: None,
        security: false,
    };
    let t0 = Instant::now();
    let got = PreparedProbe::new(&ProbeSpec::Misc(spec))
        .unwrap()
        .run(0)
        .await
        .result;
    let took = t0.elapsed();
    assert_eq!(got, Err(ProbeError::ScriptTimeout(MS * 300)));
    assert!(took >= MS * 300 && took < MS * 1500, "took {took:?}");
    let listed = std::fs::read_to_string(&pids).unwrap();
    let pids: Vec<i32> = listed.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(pids.len(), 2);
    tokio::time::sleep(MS * 100).await;
    for p in pids {
        assert!(!pid_alive(p), "pid {p} survived");
    }
}

#[tokio::test]
async fn misc_script_ignoring_sigterm_gets_sigkill() {
    let spec = MiscSpec {
        argv: vec![
            "/bin/sh".into(),
            "-c".into(),
            "trap '' TERM; while :; do sleep 0.05; done".into(),
        ],
        timeout: MS * 200,
        dynamic: false,
        user: None,
        security: false,
    };
    let t0 = Instant::now();
    let got = PreparedProbe::new(&ProbeSpec::Misc(spec))
        .unwrap()
        .run(0)
        .await
        .result;
    assert_eq!(got, Err(ProbeError::ScriptTimeout(MS * 200)));
    let took = t0.elapsed();
    assert!(
        took >= MS * 2200 && took < MS * 4000,
        "TERM, 2 s grace, KILL: took {took:?}"
    );
}

#[tokio::test]
async fn misc_exit_codes_and_dynamic_weight() {
    let sh = |code: u8, dynamic| {
        ProbeSpec::Misc(MiscSpec {
            argv: vec!["/bin/sh".into(), "-c".into(), format!("exit {code}")],
            timeout: MS * 10_000,
            dynamic,
            user: None,
            security: false,
        })
    };
    let run = |p: ProbeSpec| async move { PreparedProbe::new(&p).unwrap().run(0).await.result };
    assert_eq!(run(sh(0, false)).await, Ok(ProbeSuccess::default()));
    assert_eq!(run(sh(5, false)).await, Err(ProbeError::ExitStatus(5)));
    assert_eq!(run(sh(1, true)).await, Err(ProbeError::ExitStatus(1)));
    assert_eq!(
        run(sh(5, true)).await,
        Ok(ProbeSuccess {
            weight: Some(DynamicWeight::Absolute(3))
        })
    );
    assert_eq!(
        run(sh(255, true)).await,
        Ok(ProbeSuccess {
            weight: Some(DynamicWeight::Absolute(253))
        })
    );
    assert_eq!(
        run(sh(0, true)).await,
        Ok(ProbeSuccess {
            weight: Some(DynamicWeight::Configured)
        })
    );
    // A script file without #! runs through /bin/sh, as keepalived's system() fallback.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("check");
    std::fs::write(&path, "exit 4\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = ProbeSpec::Misc(MiscSpec {
        argv: vec![path.display().to_string()],
        timeout: MS * 10_000,
        dynamic: true,
        user: None,
        security: false,
    });
    assert_eq!(
        run(p).await,
        Ok(ProbeSuccess {
            weight: Some(DynamicWeight::Absolute(2))
        })
    );
    let missing = ProbeSpec::Misc(MiscSpec {
        argv: vec!["/nonexistent/x".into()],
        timeout: MS * 10_000,
        dynamic: false,
        user: None,
        security: false,
    });
    assert!(matches!(run(missing).await, Err(ProbeError::Spawn(_))));

    // Through the runner: exit 5 with misc_dynamic → weight 3, then up.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner::spawn(RunnerOptions { seed: Some(5) }, tx);
    runner
        .apply(vec![checker(1, 1, timing(200, 50, 0, true), sh(5, true))])
        .await
        .unwrap();
    let (ev, _) = next_event(&mut rx, MS * 3000).await;
    assert_eq!(ev.kind, EventKind::Weight(DynamicWeight::Absolute(3)));
    let (ev, _) = next_event(&mut rx, MS * 500).await;
    assert_eq!(ev.kind, EventKind::Up);
    runner.shutdown().await;
}

#[tokio::test]
async fn file_check_follows_the_file_through_inotify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state");
    std::fs::write(&path, "0\n").unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner::spawn(RunnerOptions::default(), tx);
    let file = ProbeSpec::File(FileSpec {
        path: path.clone(),
        weight: 0,
        reverse: false,
    });
    // Two real servers tracking the same file: one read serves both.
    runner
        .apply(vec![
            checker(1, 1, timing(1000, 100, 1, false), file.clone()),
            checker(2, 2, timing(1000, 100, 1, false), file),
        ])
        .await
        .unwrap();
    // 0 with weight 0: up; the start state is already up, so the first event is a weight
    // offset of 0 only if it differs: none expected.
    assert!(tokio::time::timeout(MS * 200, rx.recv()).await.is_err());
    std::fs::write(&path, "1\n").unwrap();
    let (a, _) = next_event(&mut rx, MS * 1000).await;
    let (b, _) = next_event(&mut rx, MS * 1000).await;
    assert_eq!((a.kind, b.kind), (EventKind::Down, EventKind::Down));
    assert_eq!(a.reason, Some(ProbeError::FileFault(1)));
    // An atomic replace (write + rename) is seen too.
    let tmp = dir.path().join("state.tmp");
    std::fs::write(&tmp, "0").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let (a, _) = next_event(&mut rx, MS * 1000).await;
    assert_eq!(a.kind, EventKind::Up);
    let snap = runner.snapshot().await.unwrap();
    assert_eq!(snap.stats.probes, 1);
    runner.shutdown().await;
}
