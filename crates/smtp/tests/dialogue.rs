//! The client and the queue against small SMTP servers on 127.0.0.1: a well-behaved sink,
//! one that refuses a recipient, one that never answers, none at all.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rk_smtp::alert::{Alert, VrrpState};
use rk_smtp::client::{Settings, SmtpError, Stage, send};
use rk_smtp::mailer::{MailConfig, Mailer, Policy};
use rk_smtp::message::Message;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What a sink received: each session's command lines, and the DATA text.
#[derive(Debug, Default, Clone)]
struct Session {
    commands: Vec<String>,
    data: String,
}

/// A sink answering like a relay; `refuse_rcpt`: a recipient to refuse with 550.
async fn sink(refuse_rcpt: Option<&'static str>) -> (u16, Arc<Mutex<Vec<Session>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let sessions = Arc::new(Mutex::new(Vec::new()));
    let s2 = sessions.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = l.accept().await else {
                return;
            };
            let sessions = s2.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                let mut s = Session::default();
                w.write_all(b"220-sink.test ESMTP\r\n220 ready\r\n")
                    .await
                    .unwrap();
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        break;
                    }
                    let cmd = line.trim_end().to_string();
                    s.commands.push(cmd.clone());
                    let reply: &[u8] = if cmd.starts_with("HELO") {
                        b"250-sink.test\r\n250 hello\r\n"
                    } else if cmd.starts_with("RCPT")
                        && refuse_rcpt.is_some_and(|x| cmd.contains(x))
                    {
                        b"550 no such user\r\n"
                    } else if cmd == "DATA" {
                        w.write_all(b"354 go ahead\r\n").await.unwrap();
                        loop {
                            line.clear();
                            r.read_line(&mut line).await.unwrap();
                            if line == ".\r\n" {
                                break;
                            }
                            s.data.push_str(&line);
                        }
                        b"250 queued\r\n"
                    } else if cmd == "QUIT" {
                        w.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    w.write_all(reply).await.unwrap();
                }
                sessions.lock().unwrap().push(s);
            });
        }
    });
    (port, sessions)
}

fn settings(port: u16, timeout: Duration) -> Settings {
    Settings {
        host: "127.0.0.1".into(),
        port,
        helo: "lb1.test".into(),
        timeout,
    }
}

fn msg() -> Message {
    Message::new(
        "Keepalived <keepalived@lb1.test>",
        &["ops@example.com".into(), "noc@example.com".into()],
        "[lb1] VRRP Instance VI_1 - Entering MASTER state",
        "=> VRRP Instance is now owning VRRP VIPs <=",
    )
}

#[tokio::test]
async fn keepalived_dialogue() {
    let (port, sessions) = sink(None).await;
    send(&settings(port, Duration::from_secs(5)), &msg())
        .await
        .unwrap();
    // The sink records the session when the client hangs up.
    for _ in 0..100 {
        if !sessions.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = sessions.lock().unwrap()[0].clone();
    assert_eq!(
        s.commands,
        [
            "HELO lb1.test",
            "MAIL FROM:<keepalived@lb1.test>",
            "RCPT TO:<ops@example.com>",
            "RCPT TO:<noc@example.com>",
            "DATA",
            "QUIT"
        ]
    );
    assert!(
        s.data
            .contains("\r\nSubject: [lb1] VRRP Instance VI_1 - Entering MASTER state\r\n"),
        "{}",
        s.data
    );
    assert!(s.data.contains("X-Mailer: Keepalived\r\n"));
    assert!(
        s.data
            .ends_with("\r\n=> VRRP Instance is now owning VRRP VIPs <=\r\n")
    );
}

#[tokio::test]
async fn refusals_and_silence_are_errors() {
    let (port, _) = sink(Some("noc@")).await;
    let e = send(&settings(port, Duration::from_secs(5)), &msg())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SmtpError::Refused {
                stage: Stage::Rcpt,
                code: 550,
                ..
            }
        ),
        "{e}"
    );

    // Accepts the connection, never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let t0 = Instant::now();
    let e = send(&settings(port, Duration::from_millis(300)), &msg())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SmtpError::Timeout {
                stage: Stage::Connect,
                ..
            }
        ),
        "{e}"
    );
    // The greeting timed out, then QUIT got no answer either: two timeouts at most.
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    keep.abort();
}

/// A dead server: the queue never blocks the sender, retries with back-off, drops with a
/// log line, then tries each later alert once; alerts reach a server that comes back.
#[tokio::test]
async fn queue_survives_a_dead_server() {
    // A port nothing listens on: bind, note, close.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = |port| MailConfig {
        server: settings(port, Duration::from_millis(300)),
        from: "keepalived@lb1.test".into(),
        to: vec!["ops@example.com".into()],
        router_id: "lb1".into(),
    };
    let (mailer, task) = Mailer::spawn(
        cfg(port),
        Policy {
            queue: 2,
            retries: vec![Duration::from_millis(50), Duration::from_millis(50)],
        },
    );
    let t0 = Instant::now();
    for n in 0..10 {
        mailer.alert(Alert::Instance {
            name: format!("VI_{n}"),
            state: VrrpState::Backup,
        });
    }
    assert!(
        t0.elapsed() < Duration::from_millis(50),
        "queueing never waits"
    );
    drop(mailer);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the queue drains")
        .unwrap();

    let (port, sessions) = sink(None).await;
    let (mailer, task) = Mailer::spawn(cfg(port), Policy::default());
    for state in [VrrpState::Master, VrrpState::Backup] {
        mailer.alert(Alert::Group {
            name: "G".into(),
            state,
        });
    }
    // Resolves once both are through (the daemon bounds this at stop).
    tokio::time::timeout(Duration::from_secs(5), mailer.flushed())
        .await
        .expect("flushed");
    drop(mailer);
    task.await.unwrap();
    for _ in 0..100 {
        if sessions.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let subjects: Vec<String> = sessions
        .lock()
        .unwrap()
        .iter()
        .filter_map(|s| {
            s.data
                .lines()
                .find_map(|l| l.strip_prefix("Subject: ").map(String::from))
        })
        .collect();
    assert_eq!(
        subjects,
        [
            "[lb1] VRRP Group G - Entering MASTER state",
            "[lb1] VRRP Group G - Entering BACKUP state"
        ]
    );
}
