//! `rkeepalived genhash` and `rkeepalived -T` give the same output as Debian's genhash
//! for the same page (the probe itself is tested in rk-checkers).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

/// Serves `body` to every connection until the process ends.
fn serve(body: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let _ = write!(
                s,
                "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// genhash prints the digest alone on its line.
fn digest_line(out: &[u8]) -> String {
    String::from_utf8_lossy(out).trim().to_string()
}

#[test]
fn genhash_matches_debian_genhash() {
    let port = serve("<html><body>rkeepalived genhash test page</body></html>\n").to_string();
    let args = ["-s", "127.0.0.1", "-p", &port, "-u", "/index.html"];
    let ours = Command::new(env!("CARGO_BIN_EXE_rkeepalived"))
        .arg("genhash")
        .args(args)
        .output()
        .unwrap();
    let dash_t = Command::new(env!("CARGO_BIN_EXE_rkeepalived"))
        .arg("-T")
        .args(args)
        .output()
        .unwrap();
    let theirs = Command::new("genhash")
        .args(args)
        .output()
        .expect("Debian's genhash (package keepalived; scripts/test installs it)");
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let d = digest_line(&ours.stdout);
    assert_eq!(
        d,
        digest_line(&theirs.stdout),
        "ours:\n{}\ntheirs:\n{}",
        String::from_utf8_lossy(&ours.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    assert_eq!(d, digest_line(&dash_t.stdout));
    assert!(
        d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit()),
        "not a digest: {d}"
    );
}
