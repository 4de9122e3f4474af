//! `vrrp_script`: a check run every `interval`, killed at `timeout`, whose successes and
//! failures move it up after `rise` and down after `fall` consecutive results
//! (keepalived `vrrp_scheduler.c` `vrrp_script_thread` / `vrrp_script_child_thread`).
//!
//! One run at a time: a run still going at the next tick (possible when `timeout` exceeds
//! `interval`) delays that tick, as keepalived skips it. The result of each run is the exit
//! status (0: success); a timeout, a signal, a script that cannot be started or one refused
//! by the security check count as failures. Only state changes are reported.

use std::sync::Arc;
use std::time::Duration;

use rk_config::model::{GlobalDefs, VrrpScript};
use rk_vrrp_proto::TrackerState;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::exec::{self, Outcome, Script};
use crate::security::Security;
use crate::users;

/// How long a timed-out script's group has between SIGTERM and SIGKILL (keepalived: 2 s).
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// keepalived's rise/fall counter (`vscript->result`), as a pure state machine.
///
/// `result` runs from 0 to `rise + fall - 1`; the script is up at `rise` and above. A
/// success below `rise - 1` counts up; the one that reaches `rise` jumps to the top. A
/// failure above `rise` counts down; the one at `rise` drops to 0. So `rise` consecutive
/// successes bring it up and `fall` consecutive failures bring it down, and any result the
/// other way starts the count again.
///
/// Before its first result the state is [`TrackerState::Unknown`] with `result = rise -
/// 1`: one success is enough, one failure reports down. With `init_fail` it starts down
/// (`result = 0`) and needs `rise` successes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiseFall {
    rise: u32,
    fall: u32,
    result: u32,
    known: bool,
}

impl RiseFall {
    /// A new counter (`rise` and `fall` at least 1).
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> Self {
        let rise = rise.max(1);
        RiseFall {
            rise,
            fall: fall.max(1),
            result: if init_fail { 0 } else { rise - 1 },
            known: init_fail,
        }
    }

    /// The current state.
    pub fn state(&self) -> TrackerState {
        if !self.known {
            TrackerState::Unknown
        } else if self.result >= self.rise {
            TrackerState::Up
        } else {
            TrackerState::Down
        }
    }

    /// One result; the new state if it changed.
    pub fn on_result(&mut self, ok: bool) -> Option<TrackerState> {
        let before = self.state();
        let top = self.rise + self.fall - 1;
        if ok {
            if self.result < self.rise - 1 {
                self.result += 1;
            } else {
                self.result = top;
            }
            if self.result >= self.rise {
                self.known = true;
            }
        } else if self.result > self.rise {
            self.result -= 1;
        } else {
            self.result = 0;
            self.known = true;
        }
        let after = self.state();
        (after != before).then_some(after)
    }
}

/// One `vrrp_script`, ready to run.
#[derive(Clone, Debug)]
pub struct ScriptTracker {
    /// `vrrp_script NAME`.
    pub name: String,
    /// What runs.
    pub script: Script,
    /// `interval`.
    pub interval: Duration,
    /// `timeout`.
    pub timeout: Duration,
    /// `rise`.
    pub rise: u32,
    /// `fall`.
    pub fall: u32,
    /// `init_fail`.
    pub init_fail: bool,
}

impl ScriptTracker {
    /// From the configuration; `Err` (a line for the log) when its user does not exist.
    pub fn from_config(s: &VrrpScript, global: &GlobalDefs) -> Result<Self, String> {
        let run_as = match (&s.user, &s.script.user) {
            (Some(u), _) => users::for_user(Some(u), global),
            (None, Some(_)) => users::for_script(&s.script, global),
            (None, None) => users::default_user(global),
        }
        .map_err(|e| format!("vrrp_script {}: {e}", s.name))?;
        Ok(ScriptTracker {
            name: s.name.clone(),
            script: Script {
                argv: s.script.argv.clone(),
                run_as,
            },
            interval: s.interval,
            timeout: s.timeout,
            rise: s.rise,
            fall: s.fall,
            init_fail: s.init_fail,
        })
    }

    /// Runs until `stop` turns true (a script then running is killed with its group and
    /// reaped), calling `report` with each new state.
    pub async fn run(
        self,
        security: Arc<Security>,
        mut report: impl FnMut(TrackerState) + Send,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut fsm = RiseFall::new(self.rise, self.fall, self.init_fail);
        // What the last run said, to log each change of outcome once (keepalived: "now
        // returning N").
        let mut last: Option<String> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            let started = Instant::now();
            let stopping = async {
                let _ = stop.wait_for(|s| *s).await;
            };
            let result =
                exec::run_or_cancel(&self.script, &security, self.timeout, KILL_GRACE, stopping)
                    .await;
            let (ok, note) = match result {
                Ok(None) => return,
                Ok(Some(o)) => (o.success(), o.to_string()),
                Err(e) => (false, e.to_string()),
            };
            if last.as_deref() != Some(note.as_str()) {
                match result_kind(&note) {
                    Kind::Ok => tracing::debug!("Script `{}` now {note}", self.name),
                    Kind::Failed => tracing::info!("Script `{}` now: {note}", self.name),
                    Kind::Error => tracing::error!("Script `{}`: {note}", self.name),
                }
                last = Some(note.clone());
            }
            if let Some(state) = fsm.on_result(ok) {
                match state {
                    TrackerState::Up => tracing::info!("VRRP_Script({}) succeeded", self.name),
                    _ => tracing::warn!("VRRP_Script({}) failed ({note})", self.name),
                }
                report(state);
            }
            let next = started + self.interval;
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

enum Kind {
    Ok,
    Failed,
    Error,
}

fn result_kind(note: &str) -> Kind {
    if note == Outcome::Exited(0).to_string() {
        Kind::Ok
    } else if note.starts_with("exited")
        || note.starts_with("killed")
        || note == Outcome::TimedOut.to_string()
    {
        Kind::Failed
    } else {
        Kind::Error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrackerState::{Down, Unknown, Up};

    fn feed(f: &mut RiseFall, results: &str) -> Vec<Option<TrackerState>> {
        results.chars().map(|c| f.on_result(c == '+')).collect()
    }

    /// The first result counts at once, whatever rise and fall say.
    #[test]
    fn first_result_decides() {
        let mut f = RiseFall::new(3, 2, false);
        assert_eq!(f.state(), Unknown);
        assert_eq!(feed(&mut f, "+"), [Some(Up)]);
        let mut f = RiseFall::new(3, 2, false);
        assert_eq!(feed(&mut f, "-"), [Some(Down)]);
    }

    /// rise 3 fall 2: two failures to go down, three successes to come back, and a
    /// result the other way restarts the count.
    #[test]
    fn rise_and_fall_need_consecutive_results() {
        let mut f = RiseFall::new(3, 2, false);
        feed(&mut f, "+");
        assert_eq!(
            feed(&mut f, "-+-"),
            [None, None, None],
            "never two in a row"
        );
        assert_eq!(f.state(), Up);
        assert_eq!(feed(&mut f, "-"), [Some(Down)]);
        assert_eq!(feed(&mut f, "++-++"), [None, None, None, None, None]);
        assert_eq!(f.state(), Down);
        assert_eq!(feed(&mut f, "+"), [Some(Up)]);
    }

    /// init_fail: down from the start, `rise` successes needed.
    #[test]
    fn init_fail_starts_down() {
        let mut f = RiseFall::new(2, 1, true);
        assert_eq!(f.state(), Down);
        assert_eq!(feed(&mut f, "-++"), [None, None, Some(Up)]);
        assert_eq!(feed(&mut f, "-"), [Some(Down)]);
    }

    /// rise 1 fall 1 follows every result.
    #[test]
    fn one_one_follows_each_result() {
        let mut f = RiseFall::new(1, 1, false);
        assert_eq!(
            feed(&mut f, "++--+"),
            [Some(Up), None, Some(Down), None, Some(Up)]
        );
    }

    /// A script that fails, then succeeds: reported down at its first result, up after
    /// `rise` successes, nothing while it stays up; stop ends the loop.
    #[tokio::test]
    async fn runner_reports_transitions() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("ok");
        let t = ScriptTracker {
            name: "chk".into(),
            script: Script {
                argv: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    format!("test -e {}", flag.display()),
                ],
                run_as: None,
            },
            interval: Duration::from_millis(50),
            timeout: Duration::from_secs(2),
            rise: 2,
            fall: 2,
            init_fail: false,
        };
        let (stop_tx, stop) = watch::channel(false);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(t.run(
            Arc::new(Security::new(false)),
            move |s| {
                let _ = tx.send(s);
            },
            stop,
        ));
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap(),
            Some(Down)
        );
        std::fs::write(&flag, "").unwrap();
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap(),
            Some(Up)
        );
        // Up stays up: nothing more is reported.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(rx.try_recv().is_err());
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }
}
