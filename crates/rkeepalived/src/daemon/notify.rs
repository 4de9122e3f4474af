//! The ordered script queue, for keepalived's notify scripts: VRRP `notify_*` and
//! `notify` (the VRRP side has a queue of its own, [`super::vrrp_notify`]), real-server
//! `notify_up` / `notify_down`, virtual-server `quorum_up` / `quorum_down`, and the stop-time
//! scripts (`notify_stop`, `omega`).
//!
//! Each script gets its configured arguments (plus, for VRRP's generic `notify`, keepalived's
//! four) and runs as [`rk_track::exec`] runs every script: without a shell (a file the
//! kernel will not execute, a script without `#!`, goes through `/bin/sh`), in its own
//! process group, with stdin, stdout and stderr on `/dev/null`, as the user written after
//! it, else `script_user` ([`super::users`]), after the `enable_script_security` check of
//! the moment ([`super::outlets::security`]).
//!
//! keepalived forks every script at once, so their order is not guaranteed (users see a
//! `notify_backup` finish before the `notify_master` that preceded it). Here the scripts of
//! one [`Notifier`] run one after the other, in the order the transitions happened: a
//! `notify_down` of a real server is over before the `quorum_down` it caused starts. A
//! script still running after [`PATIENCE`] no longer holds the queue up (it is logged and
//! left to finish). Every child is waited for: no zombies.

use std::io;
use std::process::ExitStatus;
use std::time::Duration;

use rk_config::model::{GlobalDefs, Script};
use rk_track::exec;
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{outlets, users};

/// How long the queue waits for one script before starting the next.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// How long scripts run at stop before they are killed (keepalived's `TIMER_HZ`).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// One script to run.
#[derive(Clone, Debug)]
pub struct Job {
    /// What it is, for the log: `notify_down of real server 10.0.0.2:80 of TCP 10.0.0.1:80`.
    pub what: String,
    /// Program, arguments, user.
    pub script: exec::Script,
}

impl Job {
    /// A job for `script`, run as its user or the configured default; `Err` (a line for
    /// the log) when that user does not exist.
    pub fn new(what: String, script: &Script, global: &GlobalDefs) -> Result<Job, String> {
        Job::with_args(what, script, global, &[])
    }

    /// A job for `script` with `extra` arguments after the configured ones (VRRP's
    /// generic `notify` gets `INSTANCE|GROUP name state priority`).
    pub fn with_args(
        what: String,
        script: &Script,
        global: &GlobalDefs,
        extra: &[String],
    ) -> Result<Job, String> {
        let run_as = users::for_script(script, global)
            .map_err(|e| format!("cannot run {what} ({}): {e}", script.command))?;
        let mut argv = script.argv.clone();
        argv.extend_from_slice(extra);
        Ok(Job {
            what,
            script: exec::Script { argv, run_as },
        })
    }
}

/// The ordered script queue. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<Job>,
}

impl Notifier {
    /// Starts the queue on the current runtime.
    pub fn spawn() -> (Notifier, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Notifier { tx }, tokio::spawn(run_queue(rx)))
    }

    /// Queues `job` behind the scripts already queued.
    pub fn send(&self, job: Job) {
        if let Err(e) = self.tx.send(job) {
            tracing::warn!("not running {}: stopping", e.0.what);
        }
    }

    /// Builds and queues a job for `script`; a user that does not exist is logged.
    pub fn script(&self, what: String, script: &Script, global: &GlobalDefs) {
        match Job::new(what, script, global) {
            Ok(job) => self.send(job),
            Err(e) => tracing::error!("{e}"),
        }
    }
}

async fn run_queue(mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = rx.recv().await {
        let Some(mut child) = start(&job) else {
            continue;
        };
        match tokio::time::timeout(PATIENCE, child.wait()).await {
            Ok(result) => report(&job, result),
            Err(_) => {
                tracing::warn!(
                    "{} still runs after {PATIENCE:?}; running the next script without waiting for it",
                    job.what
                );
                tokio::spawn(async move {
                    let r = child.wait().await;
                    report(&job, r);
                });
            }
        }
    }
}

/// Starts `job`, logging why when it cannot start (refused by the security check, not
/// found, ...).
fn start(job: &Job) -> Option<Child> {
    match exec::spawn(&job.script, &outlets::security()) {
        Ok(c) => {
            tracing::info!("running {}: {}", job.what, job.script.display());
            Some(c)
        }
        Err(e) => {
            tracing::error!("{}: {e}", job.what);
            None
        }
    }
}

fn report(job: &Job, result: io::Result<ExitStatus>) {
    match result {
        Ok(s) if s.success() => tracing::debug!("{} finished", job.what),
        Ok(s) => tracing::warn!("{} ({}) ended with {s}", job.what, job.script.argv[0]),
        Err(e) => tracing::warn!("waiting for {}: {e}", job.what),
    }
}

/// Runs `jobs` one after the other in order, all within `timeout` (the stop-time scripts,
/// which keepalived gives 1 s; `startup_script` and `shutdown_script`): a script still
/// running at the deadline gets SIGTERM on its process group and, 100 ms later, SIGKILL;
/// scripts not started by then are skipped, and the log says how many. Returns when every
/// started script was reaped.
pub async fn run_within(jobs: Vec<Job>, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    let total = jobs.len();
    for (i, job) in jobs.into_iter().enumerate() {
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!("{} scripts not run: {timeout:?} have passed", total - i);
            return;
        }
        let Some(mut child) = start(&job) else {
            continue;
        };
        match tokio::time::timeout_at(deadline, child.wait()).await {
            Ok(r) => report(&job, r),
            Err(_) => {
                tracing::warn!(
                    "{} still runs after {timeout:?} at stop: killing it",
                    job.what
                );
                let r = exec::kill_group(&mut child, Duration::from_millis(100)).await;
                report(&job, r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(what: &str, argv: &[&str]) -> Job {
        Job {
            what: what.into(),
            script: exec::Script {
                argv: argv.iter().map(|s| s.to_string()).collect(),
                run_as: None,
            },
        }
    }

    /// Scripts run one after the other in queue order, with their arguments only.
    #[tokio::test]
    async fn queue_runs_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let script = dir.path().join("s.sh");
        // No `#!`: the kernel refuses it (ENOEXEC) and /bin/sh runs it, as keepalived does.
        // The first call sleeps so a concurrent start would let the second overtake it.
        std::fs::write(
            &script,
            format!(
                "[ \"$1\" = first ] && sleep 0.3\necho \"$*\" >> {}\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let (n, task) = Notifier::spawn();
        let s = script.to_str().unwrap();
        n.send(job("one", &[s, "first", "a b"]));
        n.send(job("two", &[s, "second"]));
        n.send(job("missing", &["/nonexistent/script"]));
        n.send(job("three", &[s, "third"]));
        drop(n);
        task.await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "first a b\nsecond\nthird\n"
        );
    }

    /// At stop, a script that does not finish is killed with its whole process group.
    #[tokio::test]
    async fn stop_time_scripts_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mark = dir.path().join("child-alive");
        let line = format!("sleep 30 & echo $! > {}; wait", mark.display());
        let start = std::time::Instant::now();
        run_within(
            vec![
                job("quick", &["/bin/true"]),
                job("slow", &["/bin/sh", "-c", &line]),
            ],
            Duration::from_millis(300),
        )
        .await;
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        // Anything after the deadline is not started.
        let late = dir.path().join("late");
        run_within(
            vec![
                job("slow", &["/bin/sleep", "5"]),
                job("late", &["/bin/touch", late.to_str().unwrap()]),
            ],
            Duration::from_millis(200),
        )
        .await;
        assert!(!late.exists());
        // The grandchild (sleep) was in the group and is gone too.
        let pid: i32 = std::fs::read_to_string(&mark)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let gone = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z "))
        });
        assert!(gone, "sleep {pid} survived");
    }
}
