//! Each probe against real servers on loopback: pass, fail, timeouts, the exact bytes sent.

mod support;

use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use rk_checkers::probe::http::RegexSpec;
use rk_checkers::probe::*;
use support::*;

const T: Duration = Duration::from_millis(300);

async fn run(spec: ProbeSpec) -> Result<ProbeSuccess, ProbeError> {
    PreparedProbe::new(&spec).unwrap().run(0).await.result
}

fn http_spec(addr: std::net::SocketAddr, url: UrlSpec) -> HttpSpec {
    HttpSpec {
        conn: ConnOpts::new(addr).with_timeout(T),
        tls: None,
        protocol: HttpProtocol::V10,
        virtualhost: None,
        urls: vec![url],
        fast_recovery: false,
    }
}

fn md5(b: &[u8]) -> [u8; 16] {
    Md5::digest(b).into()
}

#[tokio::test]
async fn tcp_up_against_a_listener_down_against_a_closed_port() {
    let srv = tcp_closer().await;
    let ok = run(ProbeSpec::Tcp(TcpSpec {
        conn: ConnOpts::new(srv.addr).with_timeout(T),
    }))
    .await;
    assert_eq!(ok, Ok(ProbeSuccess::default()));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(srv.hits(), 1);
    let closed = closed_port().await;
    let err = run(ProbeSpec::Tcp(TcpSpec {
        conn: ConnOpts::new(closed).with_timeout(T),
    }))
    .await;
    assert_eq!(
        err,
        Err(ProbeError::Connect(std::io::ErrorKind::ConnectionRefused))
    );
}

#[tokio::test]
async fn tcp_honours_bindto_and_bind_port() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let port = support::closed_port().await.port();
    let mut conn = ConnOpts::new(addr).with_timeout(T);
    conn.bindto = Some("127.0.0.2".parse().unwrap());
    conn.bind_port = Some(port);
    let probe = tokio::spawn(run(ProbeSpec::Tcp(TcpSpec { conn })));
    let (_, peer) = l.accept().await.unwrap();
    assert_eq!(peer, format!("127.0.0.2:{port}").parse().unwrap());
    assert!(probe.await.unwrap().is_ok());
}

#[tokio::test]
async fn http_sends_keepalived_request_and_checks_status_ranges() {
    let srv = http(Reply::ok(b"hello")).await;
    let spec = http_spec(srv.addr(), UrlSpec::new("/health"));
    assert!(run(ProbeSpec::Http(spec.clone())).await.is_ok());
    let req = srv.requests.lock().unwrap()[0].clone();
    let expect = format!(
        "GET /health HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: {}\r\n\r\n",
        srv.addr()
    );
    assert_eq!(String::from_utf8(req).unwrap(), expect);

    for (code, accepted) in [
        (200, true),
        (204, true),
        (299, true),
        (301, false),
        (404, false),
        (503, false),
    ] {
        srv.set(Reply::status(code));
        let got = run(ProbeSpec::Http(spec.clone())).await;
        assert_eq!(got.is_ok(), accepted, "status {code}: {got:?}");
        if !accepted {
            assert_eq!(got, Err(ProbeError::Status(code)));
        }
    }
    let mut url = UrlSpec::new("/");
    url.status_codes = StatusCodes::parse(["301", "400-404"]).unwrap();
    let spec = http_spec(srv.addr(), url);
    for (code, accepted) in [
        (200, false),
        (301, true),
        (302, false),
        (404, true),
        (405, false),
    ] {
        srv.set(Reply::status(code));
        assert_eq!(
            run(ProbeSpec::Http(spec.clone())).await.is_ok(),
            accepted,
            "status {code}"
        );
    }
}

#[tokio::test]
async fn http_virtualhost_and_protocol_shape_the_request() {
    let srv = http(Reply::ok(b"x")).await;
    let mut spec = http_spec(srv.addr(), UrlSpec::new("/a"));
    spec.virtualhost = Some("www.example".into());
    spec.protocol = HttpProtocol::V11;
    spec.urls.push(UrlSpec {
        virtualhost: Some("other.example".into()),
        ..UrlSpec::new("/b")
    });
    let p = PreparedProbe::new(&ProbeSpec::Http(spec)).unwrap();
    assert!(p.run(0).await.result.is_ok());
    assert!(p.run(1).await.result.is_ok());
    let reqs = srv.requests.lock().unwrap().clone();
    assert_eq!(
        reqs[0],
        b"GET /a HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example\r\n\r\n"
    );
    assert!(String::from_utf8_lossy(&reqs[1]).contains("GET /b HTTP/1.1\r\n"));
    assert!(String::from_utf8_lossy(&reqs[1]).contains("Host: other.example\r\n"));
}

#[tokio::test]
async fn http_digest_match_and_mismatch() {
    let srv = http(Reply::ok(b"the page\n")).await;
    let good = UrlSpec {
        digest: Some(md5(b"the page\n")),
        ..UrlSpec::new("/")
    };
    assert!(
        run(ProbeSpec::Http(http_spec(srv.addr(), good.clone())))
            .await
            .is_ok()
    );
    srv.set(Reply::ok(b"the page, changed\n"));
    let got = run(ProbeSpec::Http(http_spec(srv.addr(), good))).await;
    assert_eq!(
        got,
        Err(ProbeError::Digest(rk_checkers::probe::http::hex(&md5(
            b"the page, changed\n"
        ))))
    );
    // Without Content-Length the body runs to the close.
    let mut r = Reply::ok(b"no length");
    r.content_length = false;
    srv.set(r);
    let url = UrlSpec {
        digest: Some(md5(b"no length")),
        ..UrlSpec::new("/")
    };
    assert!(
        run(ProbeSpec::Http(http_spec(srv.addr(), url)))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn http_regex_match_and_no_match() {
    let srv = http(Reply::ok(b"status: green, load 0.1")).await;
    let re = |p: &str, no_match| RegexSpec {
        pattern: p.into(),
        no_match,
        min_offset: 0,
        max_offset: 0,
    };
    let url = |r| UrlSpec {
        regex: Some(r),
        ..UrlSpec::new("/")
    };
    assert!(
        run(ProbeSpec::Http(http_spec(
            srv.addr(),
            url(re("green", false))
        )))
        .await
        .is_ok()
    );
    assert_eq!(
        run(ProbeSpec::Http(http_spec(
            srv.addr(),
            url(re("red", false))
        )))
        .await,
        Err(ProbeError::Regex)
    );
    assert!(
        run(ProbeSpec::Http(http_spec(srv.addr(), url(re("red", true)))))
            .await
            .is_ok()
    );
    let mut late = re("green", false);
    late.max_offset = 5;
    assert_eq!(
        run(ProbeSpec::Http(http_spec(srv.addr(), url(late)))).await,
        Err(ProbeError::Regex)
    );
}

#[tokio::test]
async fn http_timeouts_and_resets_fail() {
    let srv = http(Reply {
        delay: Duration::from_secs(2),
        ..Reply::ok(b"slow")
    })
    .await;
    let t0 = Instant::now();
    let got = run(ProbeSpec::Http(http_spec(srv.addr(), UrlSpec::new("/")))).await;
    assert_eq!(
        got,
        Err(ProbeError::Timeout {
            stage: "response",
            after: T
        })
    );
    let took = t0.elapsed();
    assert!(took >= T && took < T * 3, "took {took:?}");

    srv.set(Reply {
        reset: true,
        ..Reply::ok(b"x")
    });
    let got = run(ProbeSpec::Http(http_spec(srv.addr(), UrlSpec::new("/")))).await;
    assert!(
        matches!(
            got,
            Err(ProbeError::Io {
                stage: "read",
                kind: std::io::ErrorKind::ConnectionReset
            })
        ),
        "{got:?}"
    );
    let got = run(ProbeSpec::Http(http_spec(
        closed_port().await,
        UrlSpec::new("/"),
    )))
    .await;
    assert_eq!(
        got,
        Err(ProbeError::Connect(std::io::ErrorKind::ConnectionRefused))
    );
}

#[tokio::test]
async fn http_status_line_without_reason_phrase_fails_as_in_keepalived() {
    let srv = http(Reply {
        status_line: "HTTP/1.1 200".into(),
        ..Reply::ok(b"x")
    })
    .await;
    assert_eq!(
        run(ProbeSpec::Http(http_spec(srv.addr(), UrlSpec::new("/")))).await,
        Err(ProbeError::Status(0))
    );
}

fn ssl_spec(addr: std::net::SocketAddr, tls: TlsOpts) -> HttpSpec {
    HttpSpec {
        tls: Some(tls),
        ..http_spec(addr, UrlSpec::new("/"))
    }
}

#[tokio::test]
async fn ssl_get_without_verification_sni_on_request() {
    let (acc, _pem) = tls_acceptor(&["backend.example"]);
    let srv = https(Reply::ok(b"secure"), acc).await;
    let url = UrlSpec {
        digest: Some(md5(b"secure")),
        ..UrlSpec::new("/")
    };
    // Default: no SNI, no verification (self-signed passes).
    let mut spec = ssl_spec(srv.addr(), TlsOpts::default());
    spec.urls = vec![url];
    spec.virtualhost = Some("backend.example".into());
    assert!(run(ProbeSpec::Http(spec.clone())).await.is_ok());
    // enable_sni: the virtual host; sni_name overrides it.
    spec.tls = Some(TlsOpts {
        enable_sni: true,
        ..TlsOpts::default()
    });
    assert!(run(ProbeSpec::Http(spec.clone())).await.is_ok());
    spec.tls = Some(TlsOpts {
        enable_sni: true,
        sni_name: Some("sni.example".into()),
        ..TlsOpts::default()
    });
    assert!(run(ProbeSpec::Http(spec)).await.is_ok());
    let seen = srv.sni.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            None,
            Some("backend.example".into()),
            Some("sni.example".into())
        ]
    );
}

#[tokio::test]
async fn ssl_get_verify_cert_is_opt_in() {
    let (acc, pem) = tls_acceptor(&["backend.example"]);
    let srv = https(Reply::ok(b"ok"), acc).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let (_, other_pem) = tls_acceptor(&["other.example"]);
    let other = dir.path().join("other.pem");
    std::fs::write(&other, other_pem).unwrap();

    let verify = |ca: &std::path::Path, sni: &str| TlsOpts {
        enable_sni: true,
        sni_name: Some(sni.into()),
        verify_cert: true,
        ca_file: Some(ca.to_path_buf()),
    };
    assert!(
        run(ProbeSpec::Http(ssl_spec(
            srv.addr(),
            verify(&ca, "backend.example")
        )))
        .await
        .is_ok()
    );
    let wrong_name = run(ProbeSpec::Http(ssl_spec(
        srv.addr(),
        verify(&ca, "nope.example"),
    )))
    .await;
    assert!(
        matches!(wrong_name, Err(ProbeError::Tls(_))),
        "{wrong_name:?}"
    );
    let wrong_ca = run(ProbeSpec::Http(ssl_spec(
        srv.addr(),
        verify(&other, "backend.example"),
    )))
    .await;
    assert!(matches!(wrong_ca, Err(ProbeError::Tls(_))), "{wrong_ca:?}");
}

#[tokio::test]
async fn ssl_get_against_plain_http_fails_the_handshake() {
    let srv = http(Reply::ok(b"plain")).await;
    let got = run(ProbeSpec::Http(ssl_spec(srv.addr(), TlsOpts::default()))).await;
    assert!(
        matches!(
            got,
            Err(ProbeError::Tls(_)) | Err(ProbeError::Timeout { .. })
        ),
        "{got:?}"
    );
}

fn dns_spec(addr: std::net::SocketAddr) -> DnsSpec {
    DnsSpec {
        conn: ConnOpts::new(addr).with_timeout(T),
        qtype: DnsType::A,
        name: "svc.example".into(),
        require_answer: false,
    }
}

#[tokio::test]
async fn dns_answers_nxdomain_silence_and_stray_ids() {
    let srv = dns(DnsMode::Answer).await;
    assert!(run(ProbeSpec::Dns(dns_spec(srv.server.addr))).await.is_ok());
    let q = srv.queries.lock().unwrap()[0].clone();
    assert_eq!(q[2] & 0x01, 1, "RD set");
    assert!(q.ends_with(b"\x03svc\x07example\x00\x00\x01\x00\x01"));

    srv.set(DnsMode::NoData);
    assert!(
        run(ProbeSpec::Dns(dns_spec(srv.server.addr))).await.is_ok(),
        "keepalived: RCODE 0 is enough"
    );
    let strict = DnsSpec {
        require_answer: true,
        ..dns_spec(srv.server.addr)
    };
    assert_eq!(
        run(ProbeSpec::Dns(strict)).await,
        Err(ProbeError::DnsNoAnswer)
    );

    srv.set(DnsMode::NxDomain);
    assert_eq!(
        run(ProbeSpec::Dns(dns_spec(srv.server.addr))).await,
        Err(ProbeError::DnsRcode(3))
    );

    srv.set(DnsMode::WrongIdFirst);
    assert!(
        run(ProbeSpec::Dns(dns_spec(srv.server.addr))).await.is_ok(),
        "a reply with another ID is ignored"
    );

    srv.set(DnsMode::Silent);
    let t0 = Instant::now();
    let got = run(ProbeSpec::Dns(dns_spec(srv.server.addr))).await;
    assert_eq!(
        got,
        Err(ProbeError::Timeout {
            stage: "DNS reply",
            after: T
        })
    );
    assert!(t0.elapsed() >= T && t0.elapsed() < T * 3);
}

#[tokio::test]
async fn smtp_banner_helo_quit() {
    let (srv, cmds) = smtp("220 mx.test ESMTP", "250 hello").await;
    let spec = SmtpSpec::new(ConnOpts::new(srv.addr).with_timeout(T));
    assert!(run(ProbeSpec::Smtp(spec.clone())).await.is_ok());
    assert_eq!(
        cmds.lock().unwrap().clone(),
        vec!["HELO smtpchecker.keepalived.org\r\n", "QUIT\r\n"]
    );

    let (multi, _) = smtp("220-mx.test\r\n220 ready", "250 hi").await;
    assert!(
        run(ProbeSpec::Smtp(SmtpSpec::new(
            ConnOpts::new(multi.addr).with_timeout(T)
        )))
        .await
        .is_ok()
    );

    let (busy, _) = smtp("554 no service", "250 hi").await;
    let got = run(ProbeSpec::Smtp(SmtpSpec::new(
        ConnOpts::new(busy.addr).with_timeout(T),
    )))
    .await;
    assert!(
        matches!(
            got,
            Err(ProbeError::Smtp {
                stage: "banner",
                ..
            })
        ),
        "{got:?}"
    );

    let (rude, _) = smtp("220 ok", "500 what").await;
    let mut spec = SmtpSpec::new(ConnOpts::new(rude.addr).with_timeout(T));
    spec.helo_name = "me.example".into();
    let got = run(ProbeSpec::Smtp(spec)).await;
    assert!(
        matches!(got, Err(ProbeError::Smtp { stage: "HELO", .. })),
        "{got:?}"
    );

    // A listener that closes at once: no banner.
    let closer = tcp_closer().await;
    let got = run(ProbeSpec::Smtp(SmtpSpec::new(
        ConnOpts::new(closer.addr).with_timeout(T),
    )))
    .await;
    assert!(
        matches!(got, Err(ProbeError::Io { stage: "read", .. })),
        "{got:?}"
    );
}

#[tokio::test]
async fn udp_echo_reply_patterns_and_port_unreachable() {
    let (srv, got) = udp_echo(false).await;
    let base = UdpSpec::new(ConnOpts::new(srv.addr).with_timeout(T));
    assert!(run(ProbeSpec::Udp(base.clone())).await.is_ok());
    assert_eq!(got.lock().unwrap()[0], b"keepalived check - keepalived ch");

    let mut spec = base.clone();
    spec.payload = Some(vec![0xca, 0xfe, 0x01]);
    spec.require_reply = true;
    spec.reply = Some(ReplyPattern::parse("caXe").unwrap());
    assert!(run(ProbeSpec::Udp(spec.clone())).await.is_ok());
    spec.reply = Some(ReplyPattern::parse("cb").unwrap());
    assert_eq!(
        run(ProbeSpec::Udp(spec.clone())).await,
        Err(ProbeError::UdpReply("data mismatch"))
    );
    spec.reply = None;
    spec.min_reply_len = 4;
    assert_eq!(
        run(ProbeSpec::Udp(spec.clone())).await,
        Err(ProbeError::UdpReply("too short"))
    );
    spec.min_reply_len = 0;
    spec.max_reply_len = 2;
    assert_eq!(
        run(ProbeSpec::Udp(spec)).await,
        Err(ProbeError::UdpReply("too long"))
    );

    let (quiet, _) = udp_echo(true).await;
    let silent = UdpSpec::new(ConnOpts::new(quiet.addr).with_timeout(T));
    assert!(
        run(ProbeSpec::Udp(silent.clone())).await.is_ok(),
        "silence is fine without require_reply"
    );
    let needy = UdpSpec {
        require_reply: true,
        ..silent
    };
    assert_eq!(
        run(ProbeSpec::Udp(needy)).await,
        Err(ProbeError::UdpReply("no reply"))
    );

    let closed = UdpSpec::new(ConnOpts::new(closed_udp_port().await).with_timeout(T));
    assert_eq!(
        run(ProbeSpec::Udp(closed)).await,
        Err(ProbeError::Unreachable)
    );
}

#[tokio::test]
async fn ping_loopback_v4_and_v6() {
    let v4 = PingSpec {
        conn: ConnOpts::new("127.0.0.1:0".parse().unwrap()).with_timeout(T),
    };
    assert_eq!(run(ProbeSpec::Ping(v4)).await, Ok(ProbeSuccess::default()));
    let v6 = PingSpec {
        conn: ConnOpts::new("[::1]:0".parse().unwrap()).with_timeout(T),
    };
    assert_eq!(run(ProbeSpec::Ping(v6)).await, Ok(ProbeSuccess::default()));
}

/// In a fresh network namespace (only this thread's) loopback is down: the echo cannot be
/// sent, so the check fails. Needs root, as the whole suite does.
#[test]
fn ping_fails_where_the_network_is_unreachable() {
    let res = std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("unshare(CLONE_NEWNET) needs root");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run(ProbeSpec::Ping(PingSpec {
            conn: ConnOpts::new("127.0.0.1:0".parse().unwrap()).with_timeout(T),
        })))
    })
    .join()
    .unwrap();
    assert!(
        matches!(
            res,
            Err(ProbeError::Connect(_)) | Err(ProbeError::Timeout { .. })
        ),
        "{res:?}"
    );
}

#[tokio::test]
async fn file_check_reads_keepalived_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weight");
    let spec = |weight, reverse| {
        ProbeSpec::File(FileSpec {
            path: path.clone(),
            weight,
            reverse,
        })
    };
    // Missing file reads as 0.
    assert_eq!(
        run(spec(0, false)).await,
        Ok(ProbeSuccess {
            weight: Some(DynamicWeight::Offset(0))
        })
    );
    std::fs::write(&path, "0x10\n").unwrap();
    assert_eq!(run(spec(0, false)).await, Err(ProbeError::FileFault(16)));
    assert_eq!(
        run(spec(3, false)).await,
        Ok(ProbeSuccess {
            weight: Some(DynamicWeight::Offset(48))
        })
    );
    assert_eq!(
        run(spec(3, true)).await,
        Ok(ProbeSuccess {
            weight: Some(DynamicWeight::Offset(-48))
        })
    );
}
