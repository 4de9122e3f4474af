//! `vrrp_track_process`: up while the number of matching processes is within
//! `quorum..=quorum_max` (keepalived `core/track_process.c`).
//!
//! **Matching**, as keepalived: the process name is the kernel's `comm` (as `pgrep NAME`),
//! or with `full_command` — implied by parameters or `param_match` — the first word of the
//! command line (`argv[0]`). Parameters after the name must match the command line's
//! arguments exactly, or as a prefix of the argument list (`param_match partial`), or with
//! the last one only a prefix of its argument (`param_match initial`). Zombies do not
//! count.
//!
//! **Following processes**: with `CAP_NET_ADMIN` in the initial network namespace, the
//! kernel's process events connector tells about every fork, exec, name change and exit
//! ([`connector`]); each touches only the process concerned. Elsewhere (a container, a
//! network namespace: the kernel sends these events only to the initial one) `/proc` is
//! scanned every [`POLL_INTERVAL`]; the log says which is used. With the connector, lost
//! events (`ENOBUFS`) trigger a full scan, and a scan every [`RESCAN_INTERVAL`] guards
//! against anything missed.
//!
//! **Delays**: `fork_delay` holds back reporting a gained quorum, `terminate_delay` a lost
//! one, and the quorum is checked again when the delay ends (a process that restarts
//! within `terminate_delay` causes nothing). keepalived applies `fork_delay` only to gains
//! seen through a fork; here it applies to every gain.

pub mod connector;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use rk_config::model::TrackProcess;
use rk_vrrp_proto::TrackerState;
use tokio::sync::watch;
use tokio::time::Instant;

use connector::{Connector, ProcEvent};

/// How often `/proc` is scanned without the connector.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often `/proc` is scanned with the connector (a safety net).
pub const RESCAN_INTERVAL: Duration = Duration::from_secs(60);

/// How parameters are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamMatch {
    /// Not compared.
    None,
    /// The arguments are exactly the parameters.
    Exact,
    /// The arguments start with the parameters.
    Partial,
    /// As `Partial`, the last parameter being a prefix of its argument.
    Initial,
}

/// One tracked process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessTracker {
    /// `vrrp_track_process NAME`.
    pub name: String,
    /// The process name or path (`process` first word).
    pub process: String,
    /// The parameters (`process` other words).
    pub params: Vec<String>,
    /// How they are compared.
    pub param_match: ParamMatch,
    /// Compare `argv[0]` rather than `comm`.
    pub full_command: bool,
    /// Fewest processes for the quorum.
    pub quorum: u32,
    /// Most processes for the quorum.
    pub quorum_max: u32,
    /// Delay before a gained quorum counts.
    pub fork_delay: Duration,
    /// Delay before a lost quorum counts.
    pub terminate_delay: Duration,
}

impl ProcessTracker {
    /// From the configuration.
    pub fn from_config(t: &TrackProcess) -> Self {
        let params: Vec<String> = t.process.iter().skip(1).cloned().collect();
        let param_match = match t.param_match.as_deref() {
            Some("partial") => ParamMatch::Partial,
            Some("initial") => ParamMatch::Initial,
            Some(_) => ParamMatch::Exact,
            None if !params.is_empty() => ParamMatch::Exact,
            None => ParamMatch::None,
        };
        ProcessTracker {
            name: t.name.clone(),
            process: t.process.first().cloned().unwrap_or_default(),
            full_command: t.full_command || param_match != ParamMatch::None,
            params,
            param_match,
            quorum: t.quorum,
            quorum_max: t.quorum_max.unwrap_or(u32::MAX),
            fork_delay: t.fork_delay.unwrap_or_default(),
            terminate_delay: t.terminate_delay.unwrap_or_default(),
        }
    }

    /// Whether a process with this `comm` and command line (NUL-separated, as
    /// `/proc/PID/cmdline`) matches.
    pub fn matches(&self, comm: &str, cmdline: &[u8]) -> bool {
        let mut args = cmdline.split(|b| *b == 0);
        let argv0 = args.next().unwrap_or_default();
        let name: &[u8] = if self.full_command {
            argv0
        } else {
            comm.as_bytes()
        };
        if name != self.process.as_bytes() {
            return false;
        }
        // The trailing NUL of the command line yields an empty last piece.
        let mut rest: Vec<&[u8]> = args.collect();
        if rest.last().is_some_and(|a| a.is_empty()) {
            rest.pop();
        }
        let want: Vec<&[u8]> = self.params.iter().map(|p| p.as_bytes()).collect();
        match self.param_match {
            ParamMatch::None => true,
            ParamMatch::Exact => rest == want,
            ParamMatch::Partial => rest.len() >= want.len() && rest[..want.len()] == want[..],
            ParamMatch::Initial => match want.split_last() {
                None => true,
                Some((last, init)) => {
                    rest.len() >= want.len()
                        && rest[..init.len()] == *init
                        && rest[init.len()].starts_with(last)
                }
            },
        }
    }

    /// Whether `n` processes make the quorum.
    pub fn quorate(&self, n: usize) -> bool {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        (self.quorum..=self.quorum_max).contains(&n)
    }
}

/// `comm` and command line of a live (non-zombie) process, or `None`.
pub fn read_process(proc: &Path, pid: u32, cmdline: bool) -> Option<(String, Vec<u8>)> {
    let dir = proc.join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // `pid (comm) S ...`: comm may contain spaces and parentheses; it ends at the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    if stat.get(close + 2..close + 3) == Some("Z") {
        return None;
    }
    let cmd = if cmdline {
        std::fs::read(dir.join("cmdline")).ok()?
    } else {
        Vec::new()
    };
    Some((comm, cmd))
}

/// The tracked processes' matching pids, kept current.
#[derive(Debug)]
pub struct ProcessWatcher {
    trackers: Vec<ProcessTracker>,
    pids: Vec<BTreeSet<u32>>,
    proc: std::path::PathBuf,
    /// Quorum as last reported.
    reported: Vec<bool>,
    /// A pending delayed report: when to look again.
    pending: Vec<Option<Instant>>,
}

impl ProcessWatcher {
    /// Scans `/proc` once for the initial states.
    pub fn new(trackers: Vec<ProcessTracker>) -> ProcessWatcher {
        let n = trackers.len();
        let mut w = ProcessWatcher {
            trackers,
            pids: vec![BTreeSet::new(); n],
            proc: "/proc".into(),
            reported: vec![false; n],
            pending: vec![None; n],
        };
        w.scan();
        w.reported = (0..n).map(|i| w.quorate(i)).collect();
        w
    }

    fn quorate(&self, i: usize) -> bool {
        self.trackers[i].quorate(self.pids[i].len())
    }

    /// The states found by the initial scan.
    pub fn states(&self) -> Vec<TrackerState> {
        self.reported
            .iter()
            .map(|q| {
                if *q {
                    TrackerState::Up
                } else {
                    TrackerState::Down
                }
            })
            .collect()
    }

    fn needs_cmdline(&self) -> bool {
        self.trackers.iter().any(|t| t.full_command)
    }

    /// Rebuilds every set from `/proc`.
    fn scan(&mut self) {
        for p in &mut self.pids {
            p.clear();
        }
        let Ok(dir) = std::fs::read_dir(&self.proc) else {
            return;
        };
        let cmdline = self.needs_cmdline();
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some((comm, cmd)) = read_process(&self.proc, pid, cmdline) {
                for (i, t) in self.trackers.iter().enumerate() {
                    if t.matches(&comm, &cmd) {
                        self.pids[i].insert(pid);
                    }
                }
            }
        }
    }

    /// Looks at one process again (it forked, executed or renamed itself).
    fn recheck(&mut self, pid: u32) {
        let info = read_process(&self.proc, pid, self.needs_cmdline());
        for (i, t) in self.trackers.iter().enumerate() {
            let m = info.as_ref().is_some_and(|(c, cmd)| t.matches(c, cmd));
            if m {
                self.pids[i].insert(pid);
            } else {
                self.pids[i].remove(&pid);
            }
        }
    }

    fn on_event(&mut self, ev: ProcEvent) {
        match ev {
            ProcEvent::Fork { child, .. } => self.recheck(child),
            ProcEvent::Exec(pid) | ProcEvent::Comm(pid) => self.recheck(pid),
            ProcEvent::Exit(pid) => {
                for p in &mut self.pids {
                    p.remove(&pid);
                }
            }
        }
    }

    /// After a change: starts delays, or reports at once.
    fn settle(&mut self, now: Instant, report: &mut impl FnMut(usize, TrackerState)) {
        for i in 0..self.trackers.len() {
            let q = self.quorate(i);
            if q == self.reported[i] {
                self.pending[i] = None;
                continue;
            }
            let t = &self.trackers[i];
            let delay = if q { t.fork_delay } else { t.terminate_delay };
            match self.pending[i] {
                Some(at) if now < at => {}
                Some(_) => self.commit(i, q, report),
                None if delay.is_zero() => self.commit(i, q, report),
                None => self.pending[i] = Some(now + delay),
            }
        }
    }

    fn commit(&mut self, i: usize, q: bool, report: &mut impl FnMut(usize, TrackerState)) {
        self.pending[i] = None;
        self.reported[i] = q;
        tracing::info!(
            "Quorum {} for tracked process {} ({} running)",
            if q { "gained" } else { "lost" },
            self.trackers[i].name,
            self.pids[i].len()
        );
        report(
            i,
            if q {
                TrackerState::Up
            } else {
                TrackerState::Down
            },
        );
    }

    /// Runs until `stop` turns true, calling `report(index, state)` on quorum changes.
    pub async fn run(
        mut self,
        mut report: impl FnMut(usize, TrackerState) + Send,
        mut stop: watch::Receiver<bool>,
    ) {
        if self.trackers.is_empty() {
            return;
        }
        let mut conn = match Connector::open().await {
            Ok(c) => {
                tracing::info!("track_process: following processes through the proc connector");
                // Anything that happened between the first scan and the subscription.
                self.scan();
                Some(c)
            }
            Err(e) => {
                tracing::info!(
                    "track_process: no proc connector here ({e}); scanning /proc every {POLL_INTERVAL:?}"
                );
                None
            }
        };
        let period = if conn.is_some() {
            RESCAN_INTERVAL
        } else {
            POLL_INTERVAL
        };
        let mut next_scan = Instant::now() + period;
        loop {
            self.settle(Instant::now(), &mut report);
            let wake = self
                .pending
                .iter()
                .flatten()
                .copied()
                .chain(std::iter::once(next_scan))
                .min()
                .unwrap_or(next_scan);
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= next_scan {
                        self.scan();
                        next_scan = Instant::now() + period;
                    }
                }
                r = next_events(conn.as_mut()) => match r {
                    Ok(events) => {
                        for ev in events {
                            self.on_event(ev);
                        }
                    }
                    Err(e) => {
                        if e.raw_os_error() != Some(nix::libc::ENOBUFS) {
                            tracing::warn!("track_process: proc connector: {e}; scanning /proc every {POLL_INTERVAL:?}");
                            conn = None;
                            next_scan = Instant::now();
                        }
                        // Lost events: look at everything again.
                        self.scan();
                    }
                }
            }
        }
    }
}

async fn next_events(c: Option<&mut Connector>) -> std::io::Result<Vec<ProcEvent>> {
    match c {
        Some(c) => c.next().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(words: &[&str], param_match: Option<&str>, full: bool) -> ProcessTracker {
        ProcessTracker::from_config(&TrackProcess {
            name: "t".into(),
            process: words.iter().map(|s| s.to_string()).collect(),
            param_match: param_match.map(String::from),
            weight: 0,
            reverse: false,
            quorum: 1,
            quorum_max: None,
            fork_delay: None,
            terminate_delay: None,
            full_command: full,
            span: rk_config::Span::new(rk_config::source::FileId(0), 1, 1, 1),
        })
    }

    fn cmd(args: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        for a in args {
            v.extend_from_slice(a.as_bytes());
            v.push(0);
        }
        v
    }

    #[test]
    fn matching_rules() {
        let by_comm = tracker(&["haproxy"], None, false);
        assert!(by_comm.matches("haproxy", &cmd(&["/usr/sbin/haproxy", "-f", "x"])));
        assert!(!by_comm.matches("haproxy-x", &cmd(&["haproxy"])));

        let full = tracker(&["/usr/sbin/haproxy"], None, true);
        assert!(full.matches("haproxy", &cmd(&["/usr/sbin/haproxy", "-f", "x"])));
        assert!(!full.matches("haproxy", &cmd(&["haproxy"])));

        let exact = tracker(&["/bin/sleep", "30"], None, false);
        assert!(exact.full_command);
        assert!(exact.matches("sleep", &cmd(&["/bin/sleep", "30"])));
        assert!(!exact.matches("sleep", &cmd(&["/bin/sleep", "30", "x"])));
        assert!(!exact.matches("sleep", &cmd(&["/bin/sleep", "3"])));

        let partial = tracker(&["/bin/sleep", "30"], Some("partial"), false);
        assert!(partial.matches("sleep", &cmd(&["/bin/sleep", "30", "x"])));
        assert!(!partial.matches("sleep", &cmd(&["/bin/sleep", "300"])));

        let initial = tracker(&["nginx", "-c", "/etc/ng"], Some("initial"), false);
        assert!(initial.matches("nginx", &cmd(&["nginx", "-c", "/etc/nginx.conf"])));
        assert!(!initial.matches("nginx", &cmd(&["nginx", "-x", "/etc/nginx.conf"])));
        assert!(!initial.matches("nginx", &cmd(&["nginx", "-c"])));
    }

    #[test]
    fn quorum_bounds() {
        let mut t = tracker(&["x"], None, false);
        t.quorum = 2;
        t.quorum_max = 3;
        assert_eq!(
            (0..5).map(|n| t.quorate(n)).collect::<Vec<_>>(),
            [false, false, true, true, false]
        );
    }

    /// A real process: found by the scan (or the connector), lost when it ends; the
    /// terminate delay holds the loss back.
    #[tokio::test]
    async fn follows_a_process() {
        // A command line no other process has: `sleep 30 0.000PID` (sleep adds its
        // arguments up), matched exactly.
        let unique = format!("0.{:09}", std::process::id());
        let t = tracker(&["/bin/sleep", "30", &unique], None, false);
        let mut child = std::process::Command::new("/bin/sleep")
            .args(["30", &unique])
            .spawn()
            .unwrap();
        let w = ProcessWatcher::new(vec![t.clone()]);
        assert!(w.pids[0].contains(&child.id()), "{:?}", w.pids);
        assert_eq!(w.states(), vec![TrackerState::Up]);

        let mut t2 = t.clone();
        t2.terminate_delay = Duration::from_millis(300);
        let w = ProcessWatcher::new(vec![t2]);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(w.run(
            move |i, s| {
                let _ = tx.send((i, s, std::time::Instant::now()));
            },
            stop,
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let killed = std::time::Instant::now();
        child.kill().unwrap();
        child.wait().unwrap();
        let (i, s, at) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((i, s), (0, TrackerState::Down));
        assert!(
            at - killed >= Duration::from_millis(300),
            "{:?}",
            at - killed
        );
        stop_tx.send(true).unwrap();
        task.await.unwrap();
    }
}
