//! keepalived's notify FIFOs (`notify_fifo`, `vrrp_notify_fifo`, `lvs_notify_fifo`):
//! one line per event, in the order the events happened, with keepalived's format
//! (keepalived-behaviour §3.12):
//!
//! ```text
//! INSTANCE "VI_1" MASTER 100
//! GROUP "G1" BACKUP 0
//! INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100
//! INSTANCE "VI_1" MASTER_PRIORITY 90
//! VS [10.0.0.1]:tcp:80 UP
//! RS [10.1.1.1]:tcp:80 [10.0.0.1]:tcp:80 DOWN
//! ```
//!
//! `notify_fifo` gets every line, `vrrp_notify_fifo` the VRRP ones, `lvs_notify_fifo` the
//! virtual and real server ones. Each FIFO is created if missing (mode 0644, owned by its
//! user and group), its `*_fifo_script` is started with the FIFO's path as last argument
//! and stopped (SIGTERM to its process group) at exit, then the FIFO is opened
//! non-blocking for writing — a FIFO that exists but is not a FIFO we (or its user) own is
//! refused, as keepalived does. A reader that falls behind loses lines (logged), it never
//! holds up the daemon. keepalived writes the trailing NUL of its VS and RS lines into the
//! FIFO; we do not.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::sync::Mutex;
use std::time::Duration;

use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid};
use rk_config::model::{Fifo, NotifyFifos, RealServer, Script, VirtualServer, VsKey};
use rk_track::exec;
use rk_track::security::Security;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::users;

/// The state word of a VRRP line (`MASTER`, `BACKUP`, `FAULT`, `STOP`, and the events
/// `MASTER_RX_LOWER_PRI`, `MASTER_PRIORITY`, `BACKUP_PRIORITY`).
pub fn instance_line(name: &str, state: &str, priority: u8) -> String {
    format!("INSTANCE \"{name}\" {state} {priority}\n")
}

/// A sync group line (priority always 0).
pub fn group_line(name: &str, state: &str) -> String {
    format!("GROUP \"{name}\" {state} 0\n")
}

/// A virtual server quorum line.
pub fn vs_line(vs: &VirtualServer, up: bool) -> String {
    format!("VS {} {}\n", vs_trio(vs), up_down(up))
}

/// A real server line.
pub fn rs_line(vs: &VirtualServer, rs: &RealServer, up: bool) -> String {
    format!("RS {} {} {}\n", rs_trio(vs, rs), vs_trio(vs), up_down(up))
}

fn up_down(up: bool) -> &'static str {
    if up { "UP" } else { "DOWN" }
}

fn proto(vs: &VirtualServer) -> &'static str {
    match vs.protocol {
        rk_config::model::Protocol::Tcp => "tcp",
        rk_config::model::Protocol::Udp => "udp",
        rk_config::model::Protocol::Sctp => "sctp",
    }
}

/// keepalived's `FMT_VS`: `[10.0.0.1]:tcp:80`, `FWM 7`, `[group]:0`.
pub fn vs_trio(vs: &VirtualServer) -> String {
    match &vs.key {
        VsKey::Addr { addr, port } => format!("[{addr}]:{}:{port}", proto(vs)),
        VsKey::Fwmark { mark } => format!("FWM {mark}"),
        // keepalived prints the group name and the (unset) port of the group's address.
        VsKey::Group { name } => format!("[{name}]:0"),
    }
}

/// keepalived's `FMT_RS`: `[10.1.1.1]:tcp:80`.
pub fn rs_trio(vs: &VirtualServer, rs: &RealServer) -> String {
    format!("[{}]:{}:{}", rs.addr, proto(vs), rs.port)
}

/// One open FIFO.
#[derive(Debug)]
struct Out {
    path: String,
    file: Mutex<File>,
    /// We made it: removed at close.
    created: bool,
    /// Lines lost since the last one written (logged once per run of losses).
    lost: Mutex<u64>,
}

impl Out {
    fn write(&self, line: &str) {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // Lines are far below PIPE_BUF: each write is whole or nothing.
        let mut lost = self.lost.lock().unwrap_or_else(|e| e.into_inner());
        // A pipe takes a write of at most PIPE_BUF bytes whole or not at all (EAGAIN).
        match f.write(line.as_bytes()).and_then(|n| {
            if n == line.len() {
                Ok(())
            } else {
                Err(std::io::Error::other("short write"))
            }
        }) {
            Ok(()) => {
                if *lost > 0 {
                    tracing::warn!("notify FIFO {}: {} lines were lost", self.path, *lost);
                    *lost = 0;
                }
            }
            Err(e) => {
                if *lost == 0 {
                    tracing::warn!(
                        "notify FIFO {}: {e}; lines are lost until its reader catches up",
                        self.path
                    );
                }
                *lost += 1;
            }
        }
    }
}

/// The configured FIFOs, open, with their reader scripts.
#[derive(Debug)]
pub struct Fifos {
    all: Option<Out>,
    vrrp: Option<Out>,
    lvs: Option<Out>,
    readers: Mutex<Vec<JoinHandle<()>>>,
    stop: watch::Sender<bool>,
}

impl Fifos {
    /// Opens the configured FIFOs and starts their scripts (inside the runtime). A FIFO
    /// that cannot be set up is logged and left out.
    pub fn open(f: &NotifyFifos, global: &rk_config::model::GlobalDefs, sec: &Security) -> Fifos {
        let (stop_tx, stop) = watch::channel(false);
        let mut readers = Vec::new();
        let mut one = |fifo: &Option<Fifo>, script: &Option<Script>, kind: &str| {
            let fifo = fifo.as_ref()?;
            let out = open_one(fifo, kind)?;
            if let Some(s) = script {
                match reader(s, &fifo.path, global, sec, stop.clone(), kind) {
                    Ok(t) => readers.push(t),
                    Err(e) => tracing::error!("{e}"),
                }
            }
            Some(out)
        };
        let all = one(&f.all, &f.all_script, "notify_fifo");
        let vrrp = one(&f.vrrp, &f.vrrp_script, "vrrp_notify_fifo");
        let lvs = one(&f.lvs, &f.lvs_script, "lvs_notify_fifo");
        Fifos {
            all,
            vrrp,
            lvs,
            readers: Mutex::new(readers),
            stop: stop_tx,
        }
    }

    /// A VRRP line (to `notify_fifo` and `vrrp_notify_fifo`).
    pub fn vrrp(&self, line: &str) {
        for o in [&self.all, &self.vrrp].into_iter().flatten() {
            o.write(line);
        }
    }

    /// An LVS line (to `notify_fifo` and `lvs_notify_fifo`).
    pub fn lvs(&self, line: &str) {
        for o in [&self.all, &self.lvs].into_iter().flatten() {
            o.write(line);
        }
    }

    /// Stops the reader scripts (SIGTERM to their groups, SIGKILL after 1 s; reaped), and
    /// removes the FIFOs we created.
    pub async fn close(&self) {
        let _ = self.stop.send(true);
        let readers: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.readers.lock().unwrap_or_else(|e| e.into_inner()));
        for t in readers {
            let _ = t.await;
        }
        for o in [&self.all, &self.vrrp, &self.lvs].into_iter().flatten() {
            if o.created {
                let _ = std::fs::remove_file(&o.path);
            }
        }
    }
}

fn open_one(fifo: &Fifo, kind: &str) -> Option<Out> {
    let path = &fifo.path;
    let owner = match &fifo.user {
        Some(u) => match users::resolve(u, fifo.group.as_deref()) {
            Ok(ids) => Some(ids),
            Err(e) => {
                tracing::error!("{kind} {path}: {e}");
                return None;
            }
        },
        None => None,
    };
    let mode = Mode::from_bits_truncate(0o644);
    let created = match nix::unistd::mkfifo(path.as_str(), mode) {
        Ok(()) => true,
        Err(nix::errno::Errno::EEXIST) => false,
        Err(e) => {
            tracing::error!("{kind}: cannot create {path}: {e}");
            return None;
        }
    };
    if created && let Some((uid, gid)) = owner {
        let r = nix::unistd::chown(
            path.as_str(),
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
        );
        if let Err(e) = r {
            tracing::warn!("{kind} {path}: cannot give it to {uid}:{gid}: {e}");
        }
    }
    // Read-write so the open never waits for a reader; never through a symlink.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOFOLLOW)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("{kind}: cannot open {path}: {e}");
            if created {
                let _ = std::fs::remove_file(path);
            }
            return None;
        }
    };
    let ours = file.metadata().is_ok_and(|m| {
        m.file_type().is_fifo()
            && (m.uid() == Uid::effective().as_raw() || owner.is_some_and(|(u, _)| m.uid() == u))
    });
    if !ours {
        tracing::error!("{kind}: {path} is not a FIFO we own; not using it");
        return None;
    }
    tracing::info!("{kind}: writing events to {path}");
    Some(Out {
        path: path.clone(),
        file: Mutex::new(file),
        created,
        lost: Mutex::new(0),
    })
}

/// Starts `*_fifo_script` with the FIFO's path appended; the task reaps it whenever it
/// ends and kills its group at close.
fn reader(
    script: &Script,
    path: &str,
    global: &rk_config::model::GlobalDefs,
    sec: &Security,
    mut stop: watch::Receiver<bool>,
    kind: &str,
) -> Result<JoinHandle<()>, String> {
    let run_as = users::for_script(script, global)
        .map_err(|e| format!("{kind}_script {}: {e}", script.command))?;
    let mut argv = script.argv.clone();
    argv.push(path.to_string());
    let s = exec::Script { argv, run_as };
    let mut child = exec::spawn(&s, sec).map_err(|e| format!("{kind}_script: {e}"))?;
    tracing::info!("{kind}_script started: {}", s.display());
    let what = format!("{kind}_script {}", script.command);
    Ok(tokio::spawn(async move {
        tokio::select! {
            r = child.wait() => match r {
                Ok(st) => tracing::warn!("{what} ended ({st}); its FIFO has no reader now"),
                Err(e) => tracing::warn!("{what}: {e}"),
            },
            () = async { let _ = stop.wait_for(|s| *s).await; } => {
                let _ = exec::kill_group(&mut child, Duration::from_secs(1)).await;
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};

    use rk_config::{LoadOptions, load_str};

    use super::*;

    fn lvs_cfg() -> rk_config::Config {
        load_str(
            "t.conf",
            "virtual_server 10.0.0.1 80 {\n protocol TCP\n real_server 10.1.1.1 8080 {\n }\n}\n\
             virtual_server fwmark 7 {\n protocol UDP\n real_server 2001:db8::5 53 {\n }\n}\n",
            &LoadOptions::for_tests(),
        )
        .unwrap()
        .config
    }

    #[test]
    fn keepalived_line_format() {
        assert_eq!(
            instance_line("VI_1", "MASTER", 100),
            "INSTANCE \"VI_1\" MASTER 100\n"
        );
        assert_eq!(
            instance_line("VI_1", "MASTER_RX_LOWER_PRI", 90),
            "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 90\n"
        );
        assert_eq!(group_line("G1", "BACKUP"), "GROUP \"G1\" BACKUP 0\n");
        let cfg = lvs_cfg();
        let (vs, fwm) = (&cfg.virtual_servers[0], &cfg.virtual_servers[1]);
        assert_eq!(vs_line(vs, true), "VS [10.0.0.1]:tcp:80 UP\n");
        assert_eq!(
            rs_line(vs, &vs.real_servers[0], false),
            "RS [10.1.1.1]:tcp:8080 [10.0.0.1]:tcp:80 DOWN\n"
        );
        assert_eq!(
            rs_line(fwm, &fwm.real_servers[0], true),
            "RS [2001:db8::5]:udp:53 FWM 7 UP\n"
        );
    }

    /// Created, written in order to the right FIFOs, readable by a reader that opened it
    /// late (opened read-write: nothing blocks), removed at close.
    #[tokio::test]
    async fn fifos_carry_lines_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
        let fifo = |path: String| Fifo {
            path,
            user: None,
            group: None,
        };
        let cfg = NotifyFifos {
            all: Some(fifo(p("all"))),
            vrrp: Some(fifo(p("vrrp"))),
            lvs: Some(fifo(p("lvs"))),
            ..Default::default()
        };
        let f = Fifos::open(
            &cfg,
            &rk_config::model::GlobalDefs::default(),
            &Security::new(false),
        );
        let read = |name: &str| {
            BufReader::new(
                OpenOptions::new()
                    .read(true)
                    .custom_flags(nix::libc::O_NONBLOCK)
                    .open(p(name))
                    .unwrap(),
            )
        };
        let (mut all, mut vrrp, mut lvs) = (read("all"), read("vrrp"), read("lvs"));
        f.vrrp(&instance_line("VI_1", "BACKUP", 100));
        f.vrrp(&group_line("G", "MASTER"));
        f.lvs("VS [10.0.0.1]:tcp:80 UP\n");
        let lines = |r: &mut BufReader<File>, n: usize| {
            (0..n)
                .map(|_| {
                    let mut l = String::new();
                    r.read_line(&mut l).unwrap();
                    l
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            lines(&mut all, 3),
            [
                "INSTANCE \"VI_1\" BACKUP 100\n",
                "GROUP \"G\" MASTER 0\n",
                "VS [10.0.0.1]:tcp:80 UP\n"
            ]
        );
        assert_eq!(lines(&mut vrrp, 2).len(), 2);
        assert_eq!(lines(&mut lvs, 1), ["VS [10.0.0.1]:tcp:80 UP\n"]);
        f.close().await;
        assert!(!std::path::Path::new(&p("all")).exists());
    }

    /// A regular file where the FIFO should be is refused.
    #[tokio::test]
    async fn a_planted_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f").to_string_lossy().into_owned();
        std::fs::write(&path, "").unwrap();
        let cfg = NotifyFifos {
            all: Some(Fifo {
                path: path.clone(),
                user: None,
                group: None,
            }),
            ..Default::default()
        };
        let f = Fifos::open(
            &cfg,
            &rk_config::model::GlobalDefs::default(),
            &Security::new(false),
        );
        assert!(f.all.is_none());
    }
}
