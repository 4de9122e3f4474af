//! What an instance tells the outside world on each transition, with the real binary in a
//! namespace: notify scripts with keepalived's arguments in transition order (instance and
//! sync group), the notify FIFOs with keepalived's line format (read directly, and through
//! a `*_fifo_script`), and one e-mail per transition to an SMTP sink on the namespace's
//! 127.0.0.1. Needs root (`RK_SKIP_NETNS_TESTS=1` skips).

mod vrrp_lab;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use rk_testkit::netns::{Lab, skip_requested, wait_until};
use vrrp_lab::*;

const WAIT: Duration = Duration::from_secs(10);

/// A VRRPv3 instance at 100 ms on eth0.
fn v3(prio: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    version 3\n    \
         advert_int 0.1\n    priority {prio}\n    {extra}\n    virtual_ipaddress {{\n        10.91.0.100/24\n    }}\n}}\n"
    )
}

fn executable(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Reads the FIFO at `path` (once it exists) line by line on a thread, until its writer
/// closes it.
fn fifo_reader(path: PathBuf) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let out = lines.clone();
    std::thread::spawn(move || {
        if !wait_until(WAIT, || path.exists()) {
            return;
        }
        // The daemon holds it open read-write: this open does not wait.
        let Ok(f) = std::fs::File::open(&path) else {
            return;
        };
        for l in BufReader::new(f).lines().map_while(Result::ok) {
            out.lock().unwrap().push(l);
        }
    });
    lines
}

/// Notify scripts (instance and sync group) run in the order of the transitions with
/// keepalived's arguments — start (BACKUP, MASTER), a higher priority arriving (BACKUP),
/// link loss (FAULT) and return (BACKUP), stop (STOP) — and the notify FIFO carries the
/// same transitions in keepalived's format, as does the vrrp FIFO's reader script.
#[test]
fn notify_scripts_and_fifos_follow_the_transitions() {
    if skip_requested() {
        return;
    }
    let (mut lab, _lan, mut n) = lan(
        "notify",
        &[("a", &["10.91.0.1/24"]), ("b", &["10.91.0.2/24"])],
    );
    let nb = n.pop().unwrap();
    let na = n.pop().unwrap();
    let dir = lab.dir().to_path_buf();
    let log = dir.join("notify.log");
    let note = dir.join("note.sh");
    executable(&note, &format!("echo \"$*\" >> {}", log.display()));
    let fifo = dir.join("notify.fifo");
    let vfifo = dir.join("vrrp.fifo");
    let vout = dir.join("vrrp.fifo.out");
    let reader = dir.join("reader.sh");
    executable(&reader, &format!("exec cat \"$1\" > {}", vout.display()));
    let n = note.display();
    let conf = format!(
        "global_defs {{\n    script_user root\n    notify_fifo {}\n    vrrp_notify_fifo {}\n    \
         vrrp_notify_fifo_script {}\n}}\n\
         vrrp_sync_group G {{\n    group {{\n        VI_1\n    }}\n    notify_master \"{n} group-master\"\n    \
         notify \"{n} group\"\n}}\n{}",
        fifo.display(),
        vfifo.display(),
        reader.display(),
        v3(
            200,
            &format!(
                "notify_master \"{n} master\"\n    notify_backup \"{n} backup\"\n    \
                 notify_fault \"{n} fault\"\n    notify_stop \"{n} stop\"\n    notify {n}"
            )
        )
    );
    let ca = lab.write_file("a.conf", &conf).unwrap();
    let lines = fifo_reader(fifo.clone());
    let mut a = rk(&mut lab, &na, &ca, "a");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a]);
    let cb = lab.write_file("b.conf", &v3(250, "")).unwrap();
    let b = rk(&mut lab, &nb, &cb, "b");
    expect_log(&a, "(VI_1) Entering BACKUP STATE", 2, WAIT, &[&a, &b]);
    na.ns.cmd(&["ip", "link", "set", "eth0", "down"]).unwrap();
    expect_log(&a, "(VI_1) Entering FAULT STATE", 1, WAIT, &[&a, &b]);
    na.ns.cmd(&["ip", "link", "set", "eth0", "up"]).unwrap();
    expect_log(&a, "(VI_1) Entering BACKUP STATE", 3, WAIT, &[&a, &b]);
    // Scripts run one after the other: give the queue a moment before stopping.
    expect("notify scripts done", WAIT, &[&a], || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.matches("BACKUP").count() >= 6)
    });
    let vrrp_fifo_seen = std::fs::read_to_string(&vout).unwrap_or_default();
    a.signal(Signal::SIGTERM).unwrap();
    assert_eq!(a.wait_exit(WAIT).unwrap(), Some(0), "{}", a.log());

    let got = std::fs::read_to_string(&log).unwrap();
    let want = "backup\n\
                INSTANCE VI_1 BACKUP 200\n\
                group GROUP G BACKUP 0\n\
                master\n\
                INSTANCE VI_1 MASTER 200\n\
                group-master\n\
                group GROUP G MASTER 0\n\
                backup\n\
                INSTANCE VI_1 BACKUP 200\n\
                group GROUP G BACKUP 0\n\
                fault\n\
                INSTANCE VI_1 FAULT 200\n\
                group GROUP G FAULT 0\n\
                backup\n\
                INSTANCE VI_1 BACKUP 200\n\
                group GROUP G BACKUP 0\n\
                stop\n\
                INSTANCE VI_1 STOP 200\n\
                group GROUP G STOP 0\n";
    assert_eq!(got, want, "{}", a.log());

    assert!(
        wait_until(Duration::from_secs(3), || lines.lock().unwrap().len() >= 12),
        "{:?}",
        lines.lock().unwrap()
    );
    let fifo_lines = lines.lock().unwrap().clone();
    assert_eq!(
        fifo_lines,
        [
            "INSTANCE \"VI_1\" BACKUP 200",
            "GROUP \"G\" BACKUP 0",
            "INSTANCE \"VI_1\" MASTER 200",
            "GROUP \"G\" MASTER 0",
            "INSTANCE \"VI_1\" BACKUP 200",
            "GROUP \"G\" BACKUP 0",
            "INSTANCE \"VI_1\" FAULT 200",
            "GROUP \"G\" FAULT 0",
            "INSTANCE \"VI_1\" BACKUP 200",
            "GROUP \"G\" BACKUP 0",
            "INSTANCE \"VI_1\" STOP 200",
            "GROUP \"G\" STOP 0",
        ]
    );
    // The reader script got the same stream (up to where it was when we looked).
    assert!(
        vrrp_fifo_seen.starts_with(
            "INSTANCE \"VI_1\" BACKUP 200\nGROUP \"G\" BACKUP 0\nINSTANCE \"VI_1\" MASTER 200\n"
        ),
        "{vrrp_fifo_seen:?}"
    );
    assert!(!fifo.exists(), "the FIFO we created is removed at stop");
}

/// One mail received by the sink: the envelope and the DATA text.
#[derive(Clone, Debug, Default)]
struct Mail {
    commands: Vec<String>,
    data: String,
}

/// A one-connection-at-a-time SMTP sink on `listener`.
fn smtp_sink(listener: TcpListener) -> Arc<Mutex<Vec<Mail>>> {
    let mails = Arc::new(Mutex::new(Vec::new()));
    let out = mails.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut w) = conn else { return };
            let Ok(r) = w.try_clone() else { return };
            let mut r = BufReader::new(r);
            let mut m = Mail::default();
            let _ = w.write_all(b"220 sink ESMTP\r\n");
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let cmd = line.trim_end().to_string();
                m.commands.push(cmd.clone());
                let reply: &[u8] = match cmd.as_str() {
                    "DATA" => {
                        let _ = w.write_all(b"354 go on\r\n");
                        loop {
                            line.clear();
                            if r.read_line(&mut line).unwrap_or(0) == 0 || line == ".\r\n" {
                                break;
                            }
                            m.data.push_str(&line);
                        }
                        b"250 queued\r\n"
                    }
                    "QUIT" => b"221 bye\r\n",
                    _ => b"250 ok\r\n",
                };
                let _ = w.write_all(reply);
                if cmd == "QUIT" {
                    break;
                }
            }
            out.lock().unwrap().push(m);
        }
    });
    mails
}

/// `smtp_alert`: one well-formed mail per transition (BACKUP, MASTER, FAULT, BACKUP,
/// MASTER, stop) with keepalived's subjects, through `smtp_server 127.0.0.1 PORT`.
#[test]
fn smtp_alert_sends_one_mail_per_transition() {
    if skip_requested() {
        return;
    }
    let mut lab = Lab::new("smtp").unwrap();
    let l = lab.lan("lan").unwrap();
    let ns = lab.host("a").unwrap();
    lab.attach(&l, &ns, "eth0", &["10.91.0.1/24"]).unwrap();
    // The sink listens on the namespace's own loopback, where the daemon sends.
    let listener = ns
        .run_in(|| TcpListener::bind("127.0.0.1:0"))
        .unwrap()
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = smtp_sink(listener);
    let conf = format!(
        "global_defs {{\n    router_id lb1\n    notification_email {{\n        ops@example.com\n    }}\n    \
         notification_email_from keepalived@lb1.example.com\n    smtp_server 127.0.0.1 {port}\n    \
         smtp_helo_name lb1.example.com\n    smtp_connect_timeout 5\n}}\n{}",
        v3(200, "smtp_alert")
    );
    let c = lab.write_file("a.conf", &conf).unwrap();
    let node = Node {
        ns: ns.clone(),
        mac: String::new(),
        addr: String::new(),
    };
    let mut a = rk(&mut lab, &node, &c, "a");
    expect_log(&a, "(VI_1) Entering MASTER STATE", 1, WAIT, &[&a]);
    ns.cmd(&["ip", "link", "set", "eth0", "down"]).unwrap();
    expect_log(&a, "(VI_1) Entering FAULT STATE", 1, WAIT, &[&a]);
    ns.cmd(&["ip", "link", "set", "eth0", "up"]).unwrap();
    expect_log(&a, "(VI_1) Entering MASTER STATE", 2, WAIT, &[&a]);
    a.signal(Signal::SIGTERM).unwrap();
    assert_eq!(a.wait_exit(WAIT).unwrap(), Some(0), "{}", a.log());
    assert!(
        wait_until(Duration::from_secs(3), || mails.lock().unwrap().len() >= 6),
        "{:?}\n{}",
        mails.lock().unwrap(),
        a.log()
    );
    let mails = mails.lock().unwrap().clone();
    let subjects: Vec<String> = mails
        .iter()
        .map(|m| {
            m.data
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        subjects,
        [
            "[lb1] VRRP Instance VI_1 - Entering BACKUP state",
            "[lb1] VRRP Instance VI_1 - Entering MASTER state",
            "[lb1] VRRP Instance VI_1 - Entering FAULT state",
            "[lb1] VRRP Instance VI_1 - Entering BACKUP state",
            "[lb1] VRRP Instance VI_1 - Entering MASTER state",
            "[lb1] VRRP Instance VI_1 - Stopping",
        ],
        "{}",
        a.log()
    );
    for m in &mails {
        assert_eq!(
            m.commands,
            [
                "HELO lb1.example.com",
                "MAIL FROM:<keepalived@lb1.example.com>",
                "RCPT TO:<ops@example.com>",
                "DATA",
                "QUIT"
            ]
        );
        assert!(m.data.starts_with("Date: "), "{}", m.data);
        assert!(m.data.contains("\r\nFrom: keepalived@lb1.example.com\r\n"));
        assert!(m.data.contains("\r\nX-Mailer: Keepalived\r\n"));
        assert!(m.data.contains("\r\nTo: ops@example.com\r\n\r\n=> "));
    }
    assert!(
        mails[1]
            .data
            .contains("=> VRRP Instance is now owning VRRP VIPs <=")
    );
}

/// The LVS side: `lvs_notify_fifo` gets keepalived's `VS` and `RS` lines and a real
/// server's `smtp_alert` mails its transitions, as a real server goes down and comes back
/// (checkers and quorum without IPVS: the host kernel has none, the daemon goes on).
#[test]
fn lvs_fifo_lines_and_real_server_mail() {
    if skip_requested() {
        return;
    }
    let mut lab = Lab::new("lvsn").unwrap();
    let ns = lab.host("dir").unwrap();
    let bind = |port: u16| {
        ns.run_in(move || TcpListener::bind(("127.0.0.1", port)))
            .unwrap()
            .unwrap()
    };
    let backend = bind(0);
    let rport = backend.local_addr().unwrap().port();
    let sink = bind(0);
    let sport = sink.local_addr().unwrap().port();
    let mails = smtp_sink(sink);
    let fifo = lab.dir().join("lvs.fifo");
    let conf = format!(
        "global_defs {{\n    router_id lb1\n    notification_email {{\n        ops@example.com\n    }}\n    \
         smtp_server 127.0.0.1 {sport}\n    lvs_notify_fifo {}\n}}\n\
         virtual_server 10.92.0.100 80 {{\n    protocol TCP\n    delay_loop 1\n    \
         real_server 127.0.0.1 {rport} {{\n        TCP_CHECK {{\n            connect_timeout 1\n            retry 0\n        }}\n    }}\n}}\n",
        fifo.display()
    );
    let c = lab.write_file("k.conf", &conf).unwrap();
    let lines = fifo_reader(fifo.clone());
    let d = lab.dir().to_path_buf();
    let p = |n: &str| d.join(n).to_string_lossy().into_owned();
    let (pid, cpid) = (p("main.pid"), p("checkers.pid"));
    let mut daemon = lab
        .spawn(
            &ns,
            "rk",
            &[
                BIN,
                "-C",
                "-n",
                "-l",
                "-D",
                "-f",
                &c.to_string_lossy(),
                "-p",
                &pid,
                "-c",
                &cpid,
            ],
        )
        .unwrap();
    let vs = "[10.92.0.100]:tcp:80";
    let rs = format!("[127.0.0.1]:tcp:{rport}");
    let has = |l: &str| lines.lock().unwrap().iter().any(|x| x == l);
    expect("VS up line", WAIT, &[&daemon], || {
        has(&format!("VS {vs} UP"))
    });
    drop(backend);
    expect("RS down line", WAIT, &[&daemon], || {
        has(&format!("RS {rs} {vs} DOWN"))
    });
    expect("VS down line", WAIT, &[&daemon], || {
        has(&format!("VS {vs} DOWN"))
    });
    let _backend = bind(rport);
    expect("RS up line", WAIT, &[&daemon], || {
        has(&format!("RS {rs} {vs} UP"))
    });
    expect("VS up again", WAIT, &[&daemon], || {
        lines.lock().unwrap().len() >= 5
    });
    assert_eq!(
        lines.lock().unwrap().clone(),
        [
            format!("VS {vs} UP"),
            format!("RS {rs} {vs} DOWN"),
            format!("VS {vs} DOWN"),
            format!("RS {rs} {vs} UP"),
            format!("VS {vs} UP"),
        ],
        "{}",
        daemon.log()
    );
    let subjects = || {
        mails
            .lock()
            .unwrap()
            .iter()
            .filter_map(|m| {
                m.data
                    .lines()
                    .find_map(|l| l.strip_prefix("Subject: ").map(String::from))
            })
            .collect::<Vec<_>>()
    };
    expect("two mails", WAIT, &[&daemon], || subjects().len() >= 2);
    assert_eq!(
        subjects(),
        [
            format!("[lb1] Realserver {rs} of virtual server {vs} - DOWN"),
            format!("[lb1] Realserver {rs} of virtual server {vs} - UP"),
        ]
    );
    daemon.signal(Signal::SIGTERM).unwrap();
    assert_eq!(daemon.wait_exit(WAIT).unwrap(), Some(0), "{}", daemon.log());
}
