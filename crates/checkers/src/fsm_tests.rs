//! Virtual-clock tests of the checker state machine: thousands of simulated seconds, no sleep.

use super::*;

const S: Duration = Duration::from_secs(1);

fn timing(delay_loop: u64, dbr: u64, retry: u32, alpha: bool) -> Timing {
    Timing {
        delay_loop: S * delay_loop as u32,
        delay_before_retry: S * dbr as u32,
        retry,
        warmup: Duration::ZERO,
        alpha,
    }
}

/// Drives one machine on a virtual clock: each step waits for the due time, runs a probe of
/// length `probe` with the given result, and records when it started and what changed.
struct Sim {
    t0: Instant,
    now: Instant,
    fsm: CheckerFsm,
    probe: Duration,
}

impl Sim {
    fn new(cfg: FsmConfig) -> Self {
        let t0 = Instant::now();
        Sim {
            t0,
            now: t0,
            fsm: CheckerFsm::new(cfg, t0, &mut FixedJitter(0.0)),
            probe: Duration::ZERO,
        }
    }

    /// Runs one probe; returns (start offset in seconds, transition).
    fn step(&mut self, success: bool) -> (f64, Option<Transition>) {
        let start = self.fsm.next_run(self.now);
        self.now = start + self.probe;
        let outcome = Outcome {
            success,
            started: start,
        };
        let tr = self.fsm.on_result(self.now, outcome);
        ((start - self.t0).as_secs_f64(), tr)
    }

    fn run(&mut self, results: &[bool]) -> Vec<(f64, Option<Transition>)> {
        results.iter().map(|&r| self.step(r)).collect()
    }
}

#[test]
fn first_run_is_one_second_plus_random_share_of_warmup() {
    let t0 = Instant::now();
    let mut t = timing(10, 1, 1, false);
    t.warmup = S * 10;
    let cfg = FsmConfig::single(t);
    assert_eq!(
        CheckerFsm::new(cfg, t0, &mut FixedJitter(0.0)).next_run(t0),
        t0 + S
    );
    assert_eq!(
        CheckerFsm::new(cfg, t0, &mut FixedJitter(0.5)).next_run(t0),
        t0 + S * 6
    );
    assert_eq!(
        CheckerFsm::new(cfg, t0, &mut FixedJitter(1.0)).next_run(t0),
        t0 + S * 11
    );
    // The real generator stays within [1 s, 1 s + warmup].
    let mut rng = SplitMix::seeded(7);
    for _ in 0..1000 {
        let due = CheckerFsm::new(cfg, t0, &mut rng).next_run(t0);
        assert!(due >= t0 + S && due <= t0 + S * 11);
    }
}

#[test]
fn non_alpha_goes_down_after_a_single_initial_failure() {
    let mut sim = Sim::new(FsmConfig::single(timing(10, 2, 3, false)));
    assert!(sim.fsm.is_up() && !sim.fsm.has_run());
    assert_eq!(sim.step(false), (1.0, Some(Transition::Down)));
    assert!(!sim.fsm.is_up() && sim.fsm.has_run());
    // While down, failures come every delay_loop.
    assert_eq!(sim.run(&[false, false]), vec![(11.0, None), (21.0, None)]);
}

#[test]
fn non_alpha_first_success_is_no_transition() {
    let mut sim = Sim::new(FsmConfig::single(timing(10, 2, 3, false)));
    assert_eq!(sim.step(true), (1.0, None));
    assert!(sim.fsm.is_up() && sim.fsm.has_run());
}

#[test]
fn alpha_starts_down_and_comes_up_after_one_success() {
    let mut sim = Sim::new(FsmConfig::single(timing(10, 2, 3, true)));
    assert!(!sim.fsm.is_up());
    assert_eq!(
        sim.run(&[false, false, true]),
        vec![(1.0, None), (11.0, None), (21.0, Some(Transition::Up))]
    );
}

#[test]
fn up_to_down_needs_exactly_retry_plus_one_failures_spaced_by_delay_before_retry() {
    for retry in 0..5u32 {
        let mut sim = Sim::new(FsmConfig::single(timing(10, 2, retry, false)));
        assert_eq!(sim.step(true), (1.0, None));
        let mut t = 11.0;
        for i in 0..=retry {
            let (at, tr) = sim.step(false);
            assert_eq!(at, t, "retry {retry}, failure {i}");
            if i < retry {
                assert_eq!(tr, None);
                assert_eq!(sim.fsm.retry_count(), i + 1);
                t += 2.0;
            } else {
                assert_eq!(tr, Some(Transition::Down), "retry {retry}");
            }
        }
        // Then a check every delay_loop.
        assert_eq!(sim.step(false), (t + 10.0, None));
    }
}

#[test]
fn a_success_between_failures_resets_the_count() {
    let mut sim = Sim::new(FsmConfig::single(timing(10, 2, 2, false)));
    let got = sim.run(&[true, false, false, true, false, false, false]);
    let expect = vec![
        (1.0, None),
        (11.0, None),
        (13.0, None),
        (15.0, None), // success: next after delay_loop
        (25.0, None),
        (27.0, None),
        (29.0, Some(Transition::Down)),
    ];
    assert_eq!(got, expect);
}

#[test]
fn down_to_up_after_one_success() {
    let mut sim = Sim::new(FsmConfig::single(timing(5, 1, 1, false)));
    assert_eq!(sim.step(false).1, Some(Transition::Down));
    assert_eq!(sim.step(false).1, None);
    assert_eq!(sim.step(true), (11.0, Some(Transition::Up)));
    // Back up with the retry budget restored.
    assert_eq!(
        sim.run(&[false, false]),
        vec![(16.0, None), (17.0, Some(Transition::Down))]
    );
}

#[test]
fn probe_duration_delays_the_next_run_from_completion() {
    let mut sim = Sim::new(FsmConfig::single(timing(10, 2, 1, false)));
    sim.probe = Duration::from_millis(500);
    assert_eq!(sim.run(&[true, true]), vec![(1.0, None), (11.5, None)]);
}

#[test]
fn misc_period_is_measured_from_the_script_start() {
    let cfg = FsmConfig {
        timing: timing(5, 1, 1, false),
        anchor: Anchor::Start,
        mode: Mode::Single,
    };
    let mut sim = Sim::new(cfg);
    sim.probe = S * 3;
    assert_eq!(sim.run(&[true, true]), vec![(1.0, None), (6.0, None)]);
    // A retry is also measured from the start of the failed run.
    assert_eq!(
        sim.run(&[false, false]),
        vec![(11.0, None), (14.0, Some(Transition::Down))]
    );
    // A script longer than the period starts again as soon as it ends.
    sim.probe = S * 7;
    assert_eq!(sim.step(true), (19.0, Some(Transition::Up)));
    assert_eq!(sim.step(true).0, 26.0);
}

fn urls(count: u16, fast_recovery: bool, t: Timing) -> FsmConfig {
    FsmConfig {
        timing: t,
        anchor: Anchor::Completion,
        mode: Mode::Urls {
            count,
            fast_recovery,
        },
    }
}

#[test]
fn http_checks_one_url_per_delay_loop() {
    let mut sim = Sim::new(urls(3, false, timing(10, 3, 1, true)));
    let mut seen = vec![];
    for _ in 0..4 {
        seen.push(sim.fsm.current_url());
        let _ = sim.step(true);
    }
    assert_eq!(seen, vec![0, 1, 2, 0]);
    // alpha: up only once the whole first pass succeeded (third URL, at 21 s).
    let mut sim = Sim::new(urls(3, false, timing(10, 3, 1, true)));
    assert_eq!(
        sim.run(&[true, true, true]),
        vec![(1.0, None), (11.0, None), (21.0, Some(Transition::Up))]
    );
}

#[test]
fn http_first_failure_rule_holds_across_the_first_pass() {
    // Non-alpha: URL 0 passes, URL 1 fails once: down at once.
    let mut sim = Sim::new(urls(3, false, timing(10, 3, 2, false)));
    assert_eq!(
        sim.run(&[true, false]),
        vec![(1.0, None), (11.0, Some(Transition::Down))]
    );
    // The failed URL is re-checked every max(delay_before_retry, delay_loop).
    assert_eq!(sim.fsm.current_url(), 1);
    assert_eq!(sim.step(false), (21.0, None));
}

#[test]
fn http_up_to_down_after_retry_plus_one_failures_of_one_url() {
    let mut sim = Sim::new(urls(2, false, timing(10, 3, 2, false)));
    assert_eq!(sim.run(&[true, true]), vec![(1.0, None), (11.0, None)]);
    assert!(sim.fsm.has_run());
    // URL 0 fails three times, 3 s apart.
    assert_eq!(
        sim.run(&[false, false, false]),
        vec![(21.0, None), (24.0, None), (27.0, Some(Transition::Down))]
    );
    assert_eq!(sim.fsm.current_url(), 0);
}

#[test]
fn http_recovery_rechecks_every_url_before_up() {
    let mut sim = Sim::new(urls(2, false, timing(10, 30, 0, false)));
    assert_eq!(sim.run(&[true, true]), vec![(1.0, None), (11.0, None)]);
    // URL 0 fails: down (retry 0).
    assert_eq!(sim.step(false), (21.0, Some(Transition::Down)));
    // Failed URL re-checked every max(30, 10) = 30 s.
    assert_eq!(sim.step(false), (51.0, None));
    // It passes: then URL 0 and URL 1 again, delay_loop apart, before up.
    assert_eq!(
        sim.run(&[true, true, true]),
        vec![(81.0, None), (91.0, None), (101.0, Some(Transition::Up))]
    );
}

#[test]
fn http_single_url_needs_the_failed_url_then_a_full_pass() {
    let mut sim = Sim::new(urls(1, false, timing(10, 3, 0, false)));
    assert_eq!(
        sim.run(&[true, false]),
        vec![(1.0, None), (11.0, Some(Transition::Down))]
    );
    assert_eq!(
        sim.run(&[true, true]),
        vec![(21.0, None), (31.0, Some(Transition::Up))]
    );
}

#[test]
fn http_failure_during_the_recovery_pass_retries_after_delay_before_retry() {
    let mut sim = Sim::new(urls(2, false, timing(10, 3, 0, false)));
    assert_eq!(
        sim.run(&[true, true, false]).last(),
        Some(&(21.0, Some(Transition::Down)))
    );
    // The failed URL 0 passes (31), URL 0 again (41), URL 1 fails (51): while down with no
    // failing URL recorded, keepalived retries the same URL after delay_before_retry.
    assert_eq!(
        sim.run(&[true, true, false]),
        vec![(31.0, None), (41.0, None), (51.0, None)]
    );
    assert_eq!(sim.fsm.current_url(), 1);
    assert_eq!(sim.step(true), (54.0, Some(Transition::Up)));
}

#[test]
fn http_fast_recovery_runs_urls_back_to_back_until_a_verdict() {
    let mut sim = Sim::new(urls(3, true, timing(10, 3, 0, true)));
    // First pass back to back.
    assert_eq!(
        sim.run(&[true, true, true]),
        vec![(1.0, None), (1.0, None), (1.0, Some(Transition::Up))]
    );
    // Up: normal pace.
    assert_eq!(sim.step(true), (11.0, None));
    assert_eq!(sim.step(false), (21.0, Some(Transition::Down)));
    // Down with a failed URL: the slow re-check pace.
    assert_eq!(sim.step(false), (31.0, None));
    // The failed URL passes: the rest back to back.
    assert_eq!(
        sim.run(&[true, true, true, true]),
        vec![
            (41.0, None),
            (41.0, None),
            (41.0, None),
            (41.0, Some(Transition::Up))
        ]
    );
}

#[test]
fn migration_keeps_state_and_caps_the_retry_count() {
    let t0 = Instant::now();
    let old_cfg = FsmConfig::single(timing(10, 2, 5, false));
    let mut old = CheckerFsm::new(old_cfg, t0, &mut FixedJitter(0.0));
    let _ = old.on_result(t0 + S, Outcome::success(t0 + S));
    let _ = old.on_result(t0 + S * 11, Outcome::failure(t0 + S * 11));
    let _ = old.on_result(t0 + S * 13, Outcome::failure(t0 + S * 13));
    assert_eq!(old.retry_count(), 2);
    // New retry 1: the count is capped, so one more failure takes it down.
    let mut new = CheckerFsm::migrated(
        FsmConfig::single(timing(10, 2, 1, false)),
        &old,
        t0 + S * 14,
    );
    assert!(new.is_up() && new.has_run());
    assert_eq!(new.next_run(t0 + S * 14), t0 + S * 15);
    assert_eq!(
        new.on_result(t0 + S * 15, Outcome::failure(t0 + S * 15)),
        Some(Transition::Down)
    );
    // A down checker stays down across a migration and needs one success to come up.
    let mut again = CheckerFsm::migrated(
        FsmConfig::single(timing(30, 2, 3, false)),
        &new,
        t0 + S * 16,
    );
    assert!(!again.is_up());
    assert_eq!(
        again.on_result(t0 + S * 20, Outcome::failure(t0 + S * 20)),
        None
    );
    assert_eq!(
        again.on_result(t0 + S * 50, Outcome::success(t0 + S * 50)),
        Some(Transition::Up)
    );
}

#[test]
fn a_long_simulation_never_goes_down_without_retry_plus_one_failures() {
    // Random results over 100,000 simulated checks: every Down is preceded by exactly
    // retry+1 consecutive failures since the last success (after the first verdict).
    let mut rng = SplitMix::seeded(42);
    let retry = 2;
    let mut sim = Sim::new(FsmConfig::single(timing(3, 1, retry, false)));
    assert_eq!(sim.step(true).1, None);
    let mut run_of_failures = 0u32;
    for _ in 0..100_000 {
        let ok = !rng.next_u64().is_multiple_of(3);
        let was_up = sim.fsm.is_up();
        let (_, tr) = sim.step(ok);
        if ok {
            run_of_failures = 0;
            assert_eq!(tr.is_some(), !was_up);
        } else {
            run_of_failures += 1;
            if tr == Some(Transition::Down) {
                assert_eq!(run_of_failures, retry + 1);
            }
        }
    }
}

#[test]
fn a_probe_that_could_not_run_changes_nothing_and_waits_a_period() {
    let mut sim = Sim::new(FsmConfig::single(timing(10, 2, 1, false)));
    assert_eq!(sim.step(true), (1.0, None));
    let before = (sim.fsm.is_up(), sim.fsm.retry_count());
    let t = sim.fsm.next_run(sim.now);
    sim.fsm.on_skipped(t);
    assert_eq!((sim.fsm.is_up(), sim.fsm.retry_count()), before);
    assert_eq!(sim.fsm.next_run(t), t + S * 10);
}

#[test]
fn suspension_ticks_every_delay_loop_and_keeps_url_position_and_retry_count() {
    // HTTP_GET with two URLs, delay_loop 5, delay_before_retry 2, retry 1.
    let mut sim = Sim::new(FsmConfig {
        timing: timing(5, 2, 1, false),
        anchor: Anchor::Completion,
        mode: Mode::Urls {
            count: 2,
            fast_recovery: false,
        },
    });
    // A full pass (1 s, 6 s), URL 0 again (11 s), then URL 1 fails once (16 s).
    assert_eq!(
        sim.run(&[true, true, true]),
        vec![(1.0, None), (6.0, None), (11.0, None)]
    );
    assert_eq!(sim.step(false), (16.0, None));
    assert_eq!((sim.fsm.current_url(), sim.fsm.retry_count()), (1, 1));
    // Suspended: the retry due at 18 s and the ticks after it only re-arm, a delay_loop on.
    for due in [18, 23] {
        let at = sim.fsm.next_run(sim.now);
        assert_eq!((at - sim.t0).as_secs(), due);
        sim.now = at;
        sim.fsm.on_suspended(at);
    }
    assert!(sim.fsm.is_up());
    assert_eq!((sim.fsm.current_url(), sim.fsm.retry_count()), (1, 1));
    // Resumed: the next tick (28 s) checks the same URL, and its failure is the last
    // one retry allows.
    assert_eq!(sim.fsm.current_url(), 1);
    assert_eq!(sim.step(false), (28.0, Some(Transition::Down)));
}
