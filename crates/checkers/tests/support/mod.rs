//! Real servers on 127.0.0.1:0 for the probe and runner tests: HTTP (plain and TLS) with
//! controllable status, body, delay and reset; DNS that answers, says NXDOMAIN or stays
//! silent; a TCP listener that accepts and closes; an SMTP banner server; a UDP echo.
//! Each counts what it serves, server-side.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

/// Aborts the server task when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// What the HTTP server answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status_line: String,
    pub body: Vec<u8>,
    /// Extra header lines, without CRLF.
    pub headers: Vec<String>,
    /// Send `Content-Length`.
    pub content_length: bool,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Send half a header, then reset the connection.
    pub reset: bool,
}

impl Reply {
    pub fn ok(body: &[u8]) -> Self {
        Reply {
            status_line: "HTTP/1.0 200 OK".into(),
            body: body.to_vec(),
            headers: vec![],
            content_length: true,
            delay: Duration::ZERO,
            reset: false,
        }
    }
    pub fn status(code: u16) -> Self {
        Reply {
            status_line: format!("HTTP/1.0 {code} Whatever"),
            ..Reply::ok(b"status body")
        }
    }
}

pub struct Http {
    pub server: Server,
    pub reply: Arc<Mutex<Reply>>,
    pub requests: Arc<Mutex<Vec<Vec<u8>>>>,
    pub sni: Arc<Mutex<Vec<Option<String>>>>,
}

impl Http {
    pub fn set(&self, r: Reply) {
        *self.reply.lock().unwrap() = r;
    }
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }
    pub fn hits(&self) -> usize {
        self.server.hits()
    }
}

async fn serve_http<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    reply: Reply,
    requests: &Mutex<Vec<Vec<u8>>>,
) {
    let mut req = vec![];
    let mut buf = [0u8; 2048];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => req.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
    requests.lock().unwrap().push(req);
    tokio::time::sleep(reply.delay).await;
    let mut head = format!("{}\r\n", reply.status_line);
    if reply.content_length {
        head += &format!("Content-Length: {}\r\n", reply.body.len());
    }
    for h in &reply.headers {
        head += h;
        head += "\r\n";
    }
    head += "\r\n";
    if reply.reset {
        let _ = s.write_all(&head.as_bytes()[..head.len() / 2]).await;
        return;
    }
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(&reply.body).await;
    let _ = s.shutdown().await;
}

pub async fn http(reply: Reply) -> Http {
    http_inner(reply, None).await
}

pub async fn https(reply: Reply, acceptor: tokio_rustls::TlsAcceptor) -> Http {
    http_inner(reply, Some(acceptor)).await
}

async fn http_inner(reply: Reply, tls: Option<tokio_rustls::TlsAcceptor>) -> Http {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let reply = Arc::new(Mutex::new(reply));
    let requests = Arc::new(Mutex::new(vec![]));
    let sni = Arc::new(Mutex::new(vec![]));
    let (h, r, q, n) = (hits.clone(), reply.clone(), requests.clone(), sni.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            h.fetch_add(1, Ordering::SeqCst);
            let (r, q, n, tls) = (r.lock().unwrap().clone(), q.clone(), n.clone(), tls.clone());
            tokio::spawn(async move {
                if r.reset {
                    // RST instead of FIN when the socket is dropped.
                    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                }
                match tls {
                    None => serve_http(s, r, &q).await,
                    Some(acc) => {
                        let Ok(t) = acc.accept(s).await else { return };
                        n.lock()
                            .unwrap()
                            .push(t.get_ref().1.server_name().map(str::to_owned));
                        serve_http(t, r, &q).await
                    }
                }
            });
        }
    });
    Http {
        server: Server { addr, hits, task },
        reply,
        requests,
        sni,
    }
}

/// A self-signed certificate for `names` and a TLS acceptor using it; returns the PEM too.
pub fn tls_acceptor(names: &[&str]) -> (tokio_rustls::TlsAcceptor, String) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let ck =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .unwrap();
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(cfg)),
        ck.cert.pem(),
    )
}

/// A TCP listener that accepts and closes at once.
pub async fn tcp_closer() -> Server {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    Server { addr, hits, task }
}

/// A local port with nothing listening (bound then released).
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DnsMode {
    /// NOERROR with one A record.
    Answer,
    /// NOERROR, no answer.
    NoData,
    /// RCODE 3.
    NxDomain,
    /// No reply.
    Silent,
    /// A reply with another ID, then a good one.
    WrongIdFirst,
}

pub struct Dns {
    pub server: Server,
    pub mode: Arc<Mutex<DnsMode>>,
    pub queries: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Dns {
    pub fn set(&self, m: DnsMode) {
        *self.mode.lock().unwrap() = m;
    }
}

pub async fn dns(mode: DnsMode) -> Dns {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let mode = Arc::new(Mutex::new(mode));
    let queries = Arc::new(Mutex::new(vec![]));
    let (h, m, q) = (hits.clone(), mode.clone(), queries.clone());
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            h.fetch_add(1, Ordering::SeqCst);
            let query = buf[..n].to_vec();
            q.lock().unwrap().push(query.clone());
            let mut reply = query.clone();
            reply[2] |= 0x80; // QR
            reply[3] |= 0x80; // RA
            let mode = *m.lock().unwrap();
            match mode {
                DnsMode::Silent => continue,
                DnsMode::NxDomain => reply[3] |= 3,
                DnsMode::NoData => {}
                DnsMode::Answer => {
                    reply[7] = 1; // ANCOUNT
                    reply.extend_from_slice(&[
                        0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1,
                    ]);
                }
                DnsMode::WrongIdFirst => {
                    let mut wrong = reply.clone();
                    wrong[1] ^= 0xff;
                    wrong[3] |= 2; // SERVFAIL: would fail the check if it were taken
                    let _ = sock.send_to(&wrong, from).await;
                }
            }
            let _ = sock.send_to(&reply, from).await;
        }
    });
    Dns {
        server: Server { addr, hits, task },
        mode,
        queries,
    }
}

/// An SMTP server sending `banner` (lines joined with CRLF), replying `helo_reply` to HELO
/// and 221 to QUIT; records the commands it got.
pub async fn smtp(
    banner: &'static str,
    helo_reply: &'static str,
) -> (Server, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let cmds = Arc::new(Mutex::new(vec![]));
    let (h, c) = (hits.clone(), cmds.clone());
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            let c = c.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut lines = tokio::io::BufReader::new(r);
                let _ = w.write_all(format!("{banner}\r\n").as_bytes()).await;
                loop {
                    let mut line = String::new();
                    use tokio::io::AsyncBufReadExt;
                    if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    c.lock().unwrap().push(line.clone());
                    if line.starts_with("HELO") {
                        let _ = w.write_all(format!("{helo_reply}\r\n").as_bytes()).await;
                    } else if line.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    }
                }
            });
        }
    });
    (Server { addr, hits, task }, cmds)
}

/// A UDP server that echoes, or stays silent when `silent` is set.
pub async fn udp_echo(silent: bool) -> (Server, Arc<Mutex<Vec<Vec<u8>>>>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let got = Arc::new(Mutex::new(vec![]));
    let (h, g) = (hits.clone(), got.clone());
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            h.fetch_add(1, Ordering::SeqCst);
            g.lock().unwrap().push(buf[..n].to_vec());
            if !silent {
                let _ = sock.send_to(&buf[..n], from).await;
            }
        }
    });
    (Server { addr, hits, task }, got)
}

/// A free UDP port with nothing bound (the kernel answers ICMP port unreachable).
pub async fn closed_udp_port() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.local_addr().unwrap()
}
