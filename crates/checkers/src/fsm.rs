//! The one checker state machine: keepalived's retry, rise and schedule rules, written once.
//!
//! keepalived repeats the same retry logic in every `check_*.c` file (`tcp_epilog`,
//! `dns_final`, `smtp_final`, `udp_epilog`, `icmp_epilog`, the MISC child handler and the
//! HTTP `epilog`). This module is that logic, sans I/O and sans tokio: the caller passes the
//! clock in, feeds each probe result to [`CheckerFsm::on_result`] and asks
//! [`CheckerFsm::next_run`] when to probe again. Tests drive it on a virtual clock.
//!
//! Rules (keepalived-behaviour.md §3.16, checked against keepalived's sources):
//! - **First run** at `1 s + random(0..warmup)` (`check_api.c` `register_checkers_thread`).
//! - **Success**: up at once, retry counter reset, next run after `delay_loop`.
//! - **Failure while up or before the first run**: while `retry_it < retry`, count it and
//!   re-check after `delay_before_retry`; otherwise go down. Down needs `retry + 1`
//!   consecutive failures.
//! - **First-failure rule**: `retry_it` starts at `retry` (`check_data.c`
//!   `validate_check_config`), so one initial failure marks a non-alpha checker down.
//! - **While down**: failures re-check after `delay_loop`.
//! - **alpha** starts down, otherwise up.
//! - **MISC_CHECK** measures its period from the start of the script (`last_ran`), not from
//!   its end ([`Anchor::Start`]).
//! - **HTTP_GET / SSL_GET** check one URL per `delay_loop`; see [`Mode::Urls`].

use std::time::{Duration, Instant};

/// keepalived's `BOOTSTRAP_DELAY`: the fixed part of the first-run delay.
pub const BOOTSTRAP_DELAY: Duration = Duration::from_secs(1);

/// Timing and start-state options shared by every checker (keepalived-behaviour.md §1.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timing {
    /// Period between checks while nothing is failing.
    pub delay_loop: Duration,
    /// Gap between a failure and its retry.
    pub delay_before_retry: Duration,
    /// Extra attempts before a checker that is up goes down (`retry`, `nb_get_retry`).
    pub retry: u32,
    /// Upper bound of the random delay added to [`BOOTSTRAP_DELAY`] before the first run.
    pub warmup: Duration,
    /// Start down until a check passes (`alpha`); otherwise start up.
    pub alpha: bool,
}

impl Default for Timing {
    /// keepalived's defaults for a TCP_CHECK under a virtual server without overrides:
    /// `delay_loop 60`, `delay_before_retry 1`, `retry 1`, `warmup = delay_loop`, no alpha.
    fn default() -> Self {
        Timing {
            delay_loop: Duration::from_secs(60),
            delay_before_retry: Duration::from_secs(1),
            retry: 1,
            warmup: Duration::from_secs(60),
            alpha: false,
        }
    }
}

/// What the next run is measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Anchor {
    /// From the moment the result arrived (TCP, HTTP, DNS, SMTP, UDP, PING).
    #[default]
    Completion,
    /// From the moment the probe started (MISC_CHECK's `last_ran`): a script that takes 3 s
    /// with `delay_loop 5` starts every 5 s, not every 8 s. A due time already past runs at
    /// once.
    Start,
}

/// How results map onto the checker: one target, or HTTP's list of URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// One probe per run (every checker but HTTP_GET / SSL_GET).
    Single,
    /// HTTP_GET / SSL_GET (`check_http.c` `epilog`): `count` URLs are checked in turn, one per
    /// `delay_loop`; the checker is up once a full pass succeeds. A URL failing after its
    /// retries marks the checker down and is then re-checked every
    /// `max(delay_before_retry, delay_loop)`; once it passes, every URL must pass again
    /// before up. `fast_recovery` runs the URLs back to back while the checker has not run
    /// yet or is down with no failing URL known.
    Urls {
        /// Number of URLs (at least 1; 0 is treated as 1).
        count: u16,
        /// keepalived's `fast_recovery`.
        fast_recovery: bool,
    },
}

/// Everything that shapes one checker's state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FsmConfig {
    /// Delays, retries and the start state.
    pub timing: Timing,
    /// What the period is measured from.
    pub anchor: Anchor,
    /// Single target or HTTP URL list.
    pub mode: Mode,
}

impl FsmConfig {
    /// A single-target checker whose period runs from each result.
    pub fn single(timing: Timing) -> Self {
        FsmConfig {
            timing,
            anchor: Anchor::Completion,
            mode: Mode::Single,
        }
    }
}

/// A probe result as the state machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the probe passed.
    pub success: bool,
    /// When the probe started (used by [`Anchor::Start`]).
    pub started: Instant,
}

impl Outcome {
    /// A passed probe that started at `started`.
    pub fn success(started: Instant) -> Self {
        Outcome {
            success: true,
            started,
        }
    }
    /// A failed probe that started at `started`.
    pub fn failure(started: Instant) -> Self {
        Outcome {
            success: false,
            started,
        }
    }
}

/// A change of the checker's up/down state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// The checker went up.
    Up,
    /// The checker went down.
    Down,
}

/// A source of randomness for the warmup delay, injectable so tests are deterministic.
pub trait Jitter {
    /// A value uniformly drawn from `[0, 1]`.
    fn unit(&mut self) -> f64;
}

/// A small SplitMix64 generator seeded from the standard library's per-process random
/// hasher keys: good enough to spread first checks, with no extra dependency.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator with a random seed.
    pub fn from_entropy() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x9e37_79b9_7f4a_7c15);
        SplitMix(h.finish())
    }
    /// A generator with a fixed seed (tests, benchmarks).
    pub fn seeded(seed: u64) -> Self {
        SplitMix(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Jitter for SplitMix {
    fn unit(&mut self) -> f64 {
        // 53 random bits, as the mantissa of an f64 in [0, 1).
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A fixed jitter value, for tests: `0.0` starts at exactly 1 s, `1.0` at `1 s + warmup`.
#[derive(Debug, Clone, Copy)]
pub struct FixedJitter(pub f64);

impl Jitter for FixedJitter {
    fn unit(&mut self) -> f64 {
        self.0.clamp(0.0, 1.0)
    }
}

/// HTTP's per-URL position (keepalived's `url_it` and `failed_url`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct UrlCursor {
    /// The URL the next probe fetches.
    current: u16,
    /// The URL that failed after its retries while the checker went down, if any.
    failed: Option<u16>,
}

/// One checker's state: keepalived's `is_up`, `has_run`, `retry_it` and the next due time.
#[derive(Debug, Clone)]
pub struct CheckerFsm {
    cfg: FsmConfig,
    is_up: bool,
    has_run: bool,
    retry_it: u32,
    due: Instant,
    urls: UrlCursor,
}

impl CheckerFsm {
    /// A fresh checker created at `now`: up unless alpha, first run at
    /// `now + 1 s + random(0..warmup)`.
    pub fn new(cfg: FsmConfig, now: Instant, jitter: &mut dyn Jitter) -> Self {
        let warmup = cfg.timing.warmup.mul_f64(jitter.unit());
        CheckerFsm {
            cfg,
            is_up: !cfg.timing.alpha,
            has_run: false,
            // The first-failure rule: one initial failure is enough.
            retry_it: cfg.timing.retry,
            due: now + BOOTSTRAP_DELAY + warmup,
            urls: UrlCursor {
                current: 0,
                failed: None,
            },
        }
    }

    /// A checker that replaces `old` after a reload changed its timing but not its probe,
    /// following keepalived's `migrate_checkers` (`ipwrapper.c`): up/down and has-run carry
    /// over; a down checker needs `retry + 1` more failures counted afresh only after it
    /// comes up; an up checker keeps its failures so far, capped at the new `retry`. The
    /// next run keeps the old due time, but not later than one new period from `now`.
    pub fn migrated(cfg: FsmConfig, old: &CheckerFsm, now: Instant) -> Self {
        let retry = cfg.timing.retry;
        let retry_it = if !old.is_up {
            retry.saturating_add(1)
        } else {
            old.retry_it.min(retry)
        };
        let count = url_count(cfg.mode);
        let keep_urls = cfg.mode == old.cfg.mode;
        CheckerFsm {
            cfg,
            is_up: old.is_up,
            has_run: old.has_run,
            retry_it: if old.has_run { retry_it } else { retry },
            due: old.due.min(now + cfg.timing.delay_loop),
            urls: if keep_urls && old.urls.current < count {
                old.urls
            } else {
                UrlCursor {
                    current: 0,
                    failed: None,
                }
            },
        }
    }

    /// The configuration this machine runs.
    pub fn config(&self) -> &FsmConfig {
        &self.cfg
    }

    /// Whether the checker is currently up.
    pub fn is_up(&self) -> bool {
        self.is_up
    }

    /// Whether the checker has reached a verdict at least once (keepalived's `has_run`).
    pub fn has_run(&self) -> bool {
        self.has_run
    }

    /// Consecutive failures counted towards `retry` (keepalived's `retry_it`).
    pub fn retry_count(&self) -> u32 {
        self.retry_it
    }

    /// Index of the URL the next probe fetches (always 0 in [`Mode::Single`]).
    pub fn current_url(&self) -> usize {
        usize::from(self.urls.current)
    }

    /// When the next probe should start: the due time, or `now` if that has passed.
    pub fn next_run(&self, now: Instant) -> Instant {
        self.due.max(now)
    }

    /// Feeds the result of the probe started for this checker; returns the state change it
    /// caused, if any. `now` is when the result arrived.
    pub fn on_result(&mut self, now: Instant, outcome: Outcome) -> Option<Transition> {
        match self.cfg.mode {
            Mode::Single => self.on_single(now, outcome),
            Mode::Urls {
                count,
                fast_recovery,
            } => self.on_url(now, outcome, count.max(1), fast_recovery),
        }
    }

    /// The probe could not be run at all (no socket, bind failed): keepalived logs
    /// "Rescheduling" and tries again after `delay_loop`, leaving the state and the retry
    /// count alone — a local resource problem says nothing about the real server.
    pub fn on_skipped(&mut self, now: Instant) {
        self.due = now + self.cfg.timing.delay_loop;
    }

    /// The checker is suspended (`ha_suspend`) and fell due: like keepalived's disabled
    /// checker thread, it only re-arms one `delay_loop` on. State, retry count and URL
    /// position stay as they were, so a resumed checker carries on where it stopped.
    pub fn on_suspended(&mut self, now: Instant) {
        self.due = now + self.cfg.timing.delay_loop;
    }

    fn set_up(&mut self, up: bool) -> Option<Transition> {
        let changed = self.is_up != up;
        self.is_up = up;
        match (changed, up) {
            (false, _) => None,
            (true, true) => Some(Transition::Up),
            (true, false) => Some(Transition::Down),
        }
    }

    fn schedule(&mut self, now: Instant, started: Instant, delay: Duration) {
        self.due = match self.cfg.anchor {
            Anchor::Completion => now + delay,
            // A due time in the past means "run at once": next_run clamps it to now.
            Anchor::Start => started + delay,
        };
    }

    /// `tcp_epilog` / `udp_epilog` / `icmp_epilog` / `dns_final` / `smtp_final` / MISC:
    /// they differ only in states a fresh start cannot reach.
    fn on_single(&mut self, now: Instant, outcome: Outcome) -> Option<Transition> {
        let t = self.cfg.timing;
        let mut delay = t.delay_loop;
        let mut transition = None;
        if outcome.success || ((self.is_up || !self.has_run) && self.retry_it >= t.retry) {
            self.retry_it = 0;
            if outcome.success {
                transition = self.set_up(true);
            } else if self.is_up || !self.has_run {
                transition = self.set_up(false);
            }
        } else if self.is_up {
            delay = t.delay_before_retry;
            self.retry_it += 1;
        }
        self.has_run = true;
        self.schedule(now, outcome.started, delay);
        transition
    }

    /// `check_http.c` `epilog` and `timeout_epilog`, one branch per method.
    fn on_url(
        &mut self,
        now: Instant,
        outcome: Outcome,
        count: u16,
        fast_recovery: bool,
    ) -> Option<Transition> {
        #[derive(PartialEq)]
        enum Method {
            /// The current URL passed (REGISTER_CHECKER_NEW).
            New,
            /// A failure while up or before the first verdict (REGISTER_CHECKER_RETRY).
            Retry,
            /// A failure while known down (REGISTER_CHECKER_FAILED).
            Failed,
        }
        let t = self.cfg.timing;
        let mut transition = None;
        let method = if outcome.success {
            Method::New
        } else if self.is_up || !self.has_run {
            // timeout_epilog marks the checker as run before counting the retry.
            self.has_run = true;
            Method::Retry
        } else {
            Method::Failed
        };

        // `None` stands for keepalived's `url_it == NULL`: past the last URL.
        let mut cursor = Some(self.urls.current);
        match method {
            Method::New => {
                cursor = (self.urls.current + 1 < count).then_some(self.urls.current + 1);
                self.retry_it = 0;
            }
            Method::Retry => self.retry_it = self.retry_it.saturating_add(1),
            Method::Failed => {}
        }

        if method == Method::New && cursor.is_none() && self.urls.failed.is_none() {
            // A full pass succeeded.
            if !self.is_up || !self.has_run {
                transition = self.set_up(true);
                self.has_run = true;
            }
            cursor = Some(0);
            self.retry_it = 0;
        } else if method == Method::Retry && self.retry_it > t.retry {
            if self.is_up || !self.has_run {
                transition = self.set_up(false);
            }
            self.urls.failed = cursor;
        } else if method == Method::New && self.urls.failed.is_some() {
            // The failed URL passes again: every URL must now pass before up.
            self.urls.failed = None;
            cursor = Some(0);
            self.retry_it = 0;
        }
        self.urls.current = cursor.unwrap_or(0);

        let mut delay = if method == Method::New {
            if !self.has_run {
                self.retry_it = t.retry;
            }
            t.delay_loop
        } else if self.urls.failed.is_some() {
            t.delay_before_retry.max(t.delay_loop)
        } else {
            t.delay_before_retry
        };
        if fast_recovery && (!self.has_run || (!self.is_up && self.urls.failed.is_none())) {
            delay = Duration::ZERO;
        }
        self.schedule(now, outcome.started, delay);
        transition
    }
}

fn url_count(mode: Mode) -> u16 {
    match mode {
        Mode::Single => 1,
        Mode::Urls { count, .. } => count.max(1),
    }
}

#[cfg(test)]
#[path = "fsm_tests.rs"]
mod tests;
