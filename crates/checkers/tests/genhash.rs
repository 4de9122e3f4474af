//! `rkeepalived genhash` against Debian's `/usr/bin/genhash` (keepalived 2.2.7) on the same
//! local pages: same request bytes, same digest, same output, verbose mode included.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const GENHASH: &str = "/usr/bin/genhash";

/// Serves `response` in a single write to every connection (so both clients see the same
/// read boundaries), then closes; records each request.
async fn raw_server(response: Vec<u8>) -> (SocketAddr, Arc<Mutex<Vec<Vec<u8>>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let reqs = Arc::new(Mutex::new(vec![]));
    let r = reqs.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let (response, r) = (response.clone(), r.clone());
            tokio::spawn(async move {
                let mut req = vec![];
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(n) if n > 0 => req.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                r.lock().unwrap().push(req);
                let _ = s.write_all(&response).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, reqs)
}

async fn debian(args: &[String]) -> (String, String, i32) {
    assert!(
        std::path::Path::new(GENHASH).exists(),
        "{GENHASH} is missing: install Debian's keepalived package (apt-get install keepalived)"
    );
    let out = tokio::process::Command::new(GENHASH)
        .args(args)
        .output()
        .await
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

async fn ours(args: &[String]) -> (String, String, i32) {
    let mut argv = vec![GENHASH.to_string()];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (vec![], vec![]);
    let code = rk_checkers::genhash::run(&argv, &mut out, &mut err).await;
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
        i32::from(code),
    )
}

fn args(addr: SocketAddr, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "-s",
        &addr.ip().to_string(),
        "-p",
        &addr.port().to_string(),
        "-u",
        "/page",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Drops genhash's timing line, the only part of the output that may differ.
fn without_timing(s: &str) -> String {
    s.lines()
        .filter(|l| !l.starts_with("Global response time"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_and_requests_match_debian_genhash() {
    let big: Vec<u8> = (0..10_000u32)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz\n"[i as usize % 27])
        .collect();
    let mut no_length = b"HTTP/1.0 200 OK\r\nServer: t\r\n\r\n".to_vec();
    no_length.extend_from_slice(&big);
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "plain",
            b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n".to_vec(),
            vec![],
        ),
        ("no length, 10 kB", no_length, vec![]),
        (
            "length shorter than body",
            b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nhello world".to_vec(),
            vec![],
        ),
        (
            "chunked, hashed raw",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                .to_vec(),
            vec!["-P", "1.1"],
        ),
        (
            "404 still hashed",
            b"HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\nnop".to_vec(),
            vec![],
        ),
        (
            "vhost and 1.0C",
            b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            vec!["-V", "www.example", "-P", "1.0c"],
        ),
    ];
    for (name, response, extra) in cases {
        let (addr, reqs) = raw_server(response).await;
        let a = args(addr, &extra);
        let theirs = debian(&a).await;
        let mine = ours(&a).await;
        assert_eq!(mine, theirs, "case {name}");
        assert_eq!(mine.0.trim().len(), 32, "case {name}: a digest was printed");
        let reqs = reqs.lock().unwrap().clone();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0], reqs[1], "case {name}: same request bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_output_matches_debian_genhash() {
    let mut long = b"HTTP/1.0 200 OK\r\nContent-Length: 5000\r\nX-Pad: 1\r\n\r\n".to_vec();
    long.extend((0..5000u32).map(|i| (i % 251) as u8));
    for response in [
        b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n".to_vec(),
        long,
    ] {
        let (addr, _) = raw_server(response).await;
        let a = args(addr, &["-v"]);
        let theirs = debian(&a).await;
        let mine = ours(&a).await;
        assert_eq!(without_timing(&mine.0), without_timing(&theirs.0));
        assert!(mine.0.contains("Global response time for [/page] = "));
        assert_eq!((mine.1, mine.2), (theirs.1, theirs.2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_usage_match_debian_genhash() {
    let closed = support::closed_port().await;
    assert_eq!(
        ours(&args(closed, &[])).await,
        debian(&args(closed, &[])).await
    );
    // A server that closes without a byte: no data.
    let (addr, _) = raw_server(vec![]).await;
    assert_eq!(ours(&args(addr, &[])).await, debian(&args(addr, &[])).await);
    for bad in [
        vec!["-s", "localhost", "-p", "80", "-u", "/"],
        vec!["-s", "127.0.0.1", "-p", "70000", "-u", "/"],
        vec!["-s", "127.0.0.1", "-p", "80"],
        vec!["-x", "-s", "127.0.0.1", "-p", "80", "-u", "/"],
        vec!["-s", "127.0.0.1", "-p", "80", "-u", "/", "extra"],
        vec!["-h"],
        vec!["-s"],
    ] {
        let a: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
        assert_eq!(ours(&a).await, debian(&a).await, "args {bad:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_digest_and_sni_match_debian_genhash() {
    let (acc, _) = support::tls_acceptor(&["tls.example"]);
    let srv = support::https(support::Reply::ok(b"over tls\n"), acc).await;
    let a = args(srv.addr(), &["-S", "-I", "-V", "tls.example"]);
    let theirs = debian(&a).await;
    let mine = ours(&a).await;
    assert_eq!(mine, theirs);
    assert_eq!(mine.0.trim().len(), 32);
    let sni = srv.sni.lock().unwrap().clone();
    assert_eq!(sni, vec![Some("tls.example".to_string()); 2]);
}
