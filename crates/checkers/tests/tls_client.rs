//! SSL_GET's client certificate (keepalived's top-level `SSL { certificate; key; ca }`):
//! a local TLS server that requires a client certificate signed by its CA accepts ours
//! and rejects a client without one; `ca` is the trust store of `verify_cert`; the runner
//! rebuilds SSL_GET probes when the certificate changes; bad key files are refused clearly.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use rk_checkers::probe::tls::ClientIdentity;
use rk_checkers::probe::{
    ConnOpts, HttpProtocol, HttpSpec, PreparedProbe, ProbeSpec, SpecError, TlsOpts, UrlSpec,
};
use rk_checkers::{CheckerId, CheckerSpec, EventKind, RealServerId, Runner, RunnerOptions, Timing};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MS: Duration = Duration::from_millis(1);

/// A CA and a certificate it signed for `name` (client or server use).
struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    fn new(cn: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Pki {
            ca_pem: issuer.pem(),
            ca_der: issuer.der().clone(),
            issuer,
        }
    }

    /// (certificate PEM, certificate DER, key PEM, key DER) for `name`.
    fn leaf(&self, name: &str, client: bool) -> (String, CertificateDer<'static>, String, Vec<u8>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            cert.pem(),
            cert.der().clone(),
            key.serialize_pem(),
            key.serialize_der(),
        )
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An HTTPS server whose certificate `server_pki` signed for `backend.example`, and which
/// requires a client certificate signed by `client_ca`. Counts the requests it served.
async fn mtls_server(
    server_pki: &Pki,
    client_ca: &Pki,
) -> (
    std::net::SocketAddr,
    Arc<AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    let (_, cert, _, key) = server_pki.leaf("backend.example", false);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(client_ca.ca_der.clone()).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![cert],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let (acceptor, count) = (acceptor.clone(), count.clone());
            tokio::spawn(async move {
                let Ok(mut t) = acceptor.accept(s).await else {
                    return;
                };
                let mut req = vec![];
                let mut buf = [0u8; 512];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match t.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let _ = t.write_all(b"HTTP/1.0 200 OK\r\n\r\nok").await;
                let _ = t.shutdown().await;
            });
        }
    });
    (addr, served, task)
}

fn ssl_get(addr: std::net::SocketAddr, tls: TlsOpts) -> ProbeSpec {
    ProbeSpec::Http(HttpSpec {
        conn: ConnOpts::new(addr).with_timeout(MS * 2000),
        tls: Some(tls),
        protocol: HttpProtocol::V10,
        virtualhost: None,
        urls: vec![UrlSpec::new("/")],
        fast_recovery: false,
    })
}

fn write(dir: &Path, name: &str, data: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// A client identity from `pki`, written as separate certificate and key files.
fn identity(dir: &Path, pki: &Pki, tag: &str) -> ClientIdentity {
    let (cert, _, key, _) = pki.leaf("client.example", true);
    let c = write(dir, &format!("{tag}.crt"), &cert);
    let k = write(dir, &format!("{tag}.key"), &key);
    ClientIdentity::load(&c, Some(&k), None).unwrap()
}

#[tokio::test]
async fn server_requiring_a_client_certificate_accepts_ours_and_rejects_none() {
    let (server_pki, client_pki, stranger) = (Pki::new("srv"), Pki::new("cli"), Pki::new("x"));
    let (addr, served, _task) = mtls_server(&server_pki, &client_pki).await;
    let dir = tempfile::tempdir().unwrap();
    let ours = identity(dir.path(), &client_pki, "ours");
    let spec = ssl_get(addr, TlsOpts::default());

    let with = PreparedProbe::with_client(&spec, Some(&ours)).unwrap();
    let got = with.run(0).await.result;
    assert!(got.is_ok(), "{got:?}");
    assert_eq!(served.load(Ordering::SeqCst), 1);

    // No certificate, or one the server's CA did not sign: refused, nothing served.
    let without = PreparedProbe::new(&spec).unwrap().run(0).await.result;
    assert!(without.is_err(), "{without:?}");
    let other = identity(dir.path(), &stranger, "other");
    let untrusted = PreparedProbe::with_client(&spec, Some(&other))
        .unwrap()
        .run(0)
        .await
        .result;
    assert!(untrusted.is_err(), "{untrusted:?}");
    assert_eq!(served.load(Ordering::SeqCst), 1);

    // The SSL block's `ca` is verify_cert's trust store; both work together.
    let ca = write(dir.path(), "ca.pem", &server_pki.ca_pem);
    let verified = |ca: &Path| {
        ssl_get(
            addr,
            TlsOpts {
                enable_sni: true,
                sni_name: Some("backend.example".into()),
                verify_cert: true,
                ca_file: Some(ca.to_path_buf()),
            },
        )
    };
    let ok = PreparedProbe::with_client(&verified(&ca), Some(&ours))
        .unwrap()
        .run(0)
        .await
        .result;
    assert!(ok.is_ok(), "{ok:?}");
    let wrong_ca = write(dir.path(), "wrong-ca.pem", &stranger.ca_pem);
    let bad = PreparedProbe::with_client(&verified(&wrong_ca), Some(&ours))
        .unwrap()
        .run(0)
        .await
        .result;
    assert!(bad.is_err(), "{bad:?}");
    assert_eq!(served.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn runner_rebuilds_ssl_probes_when_the_client_certificate_changes() {
    let (server_pki, client_pki) = (Pki::new("srv"), Pki::new("cli"));
    let (addr, _served, _task) = mtls_server(&server_pki, &client_pki).await;
    let dir = tempfile::tempdir().unwrap();
    let ours = identity(dir.path(), &client_pki, "ours");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::spawn(RunnerOptions { seed: Some(5) }, tx);
    let rep = runner.set_tls_client(Some(ours.clone())).await.unwrap();
    assert_eq!(rep.rebuilt, 0, "no probe yet");
    let timing = Timing {
        delay_loop: MS * 100,
        delay_before_retry: MS * 30,
        retry: 0,
        warmup: Duration::ZERO,
        alpha: true,
    };
    let spec = CheckerSpec {
        id: CheckerId(1),
        real_server: RealServerId(1),
        timing,
        probe: ssl_get(addr, TlsOpts::default()),
    };
    runner.apply(vec![spec]).await.unwrap();
    let ev = next(&mut rx).await;
    assert_eq!(ev.kind, EventKind::Up, "{ev:?}");
    // The same certificate again changes nothing; removing it rebuilds the probe.
    assert_eq!(runner.set_tls_client(Some(ours)).await.unwrap().rebuilt, 0);
    assert_eq!(runner.set_tls_client(None).await.unwrap().rebuilt, 1);
    let ev = next(&mut rx).await;
    assert_eq!(ev.kind, EventKind::Down, "{ev:?}");
    runner.shutdown().await;
}

async fn next(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<rk_checkers::CheckerEvent>,
) -> rk_checkers::CheckerEvent {
    tokio::time::timeout(MS * 5000, rx.recv())
        .await
        .expect("an event in time")
        .expect("runner alive")
}

fn load_err(cert: &Path, key: Option<&Path>, password: Option<&str>) -> String {
    match ClientIdentity::load(cert, key, password) {
        Err(SpecError::Tls(msg)) => msg,
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[test]
fn client_identity_files_are_checked_and_encrypted_keys_refused() {
    let pki = Pki::new("cli");
    let dir = tempfile::tempdir().unwrap();
    let (cert, _, key, _) = pki.leaf("client.example", true);
    let c = write(dir.path(), "c.crt", &cert);
    // A combined PEM (certificate then key) needs no key file.
    let both = write(dir.path(), "both.pem", &format!("{cert}{key}"));
    assert!(ClientIdentity::load(&both, None, None).is_ok());
    // A password for an unencrypted key is unused, as OpenSSL leaves it.
    let k = write(dir.path(), "c.key", &key);
    assert!(ClientIdentity::load(&c, Some(&k), Some("secret")).is_ok());

    // Encrypted keys, PKCS#8 or OpenSSL's traditional format: refused, saying why.
    let pkcs8 = write(
        dir.path(),
        "enc8.key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let msg = load_err(&c, Some(&pkcs8), Some("secret"));
    assert!(
        msg.contains("is encrypted") && msg.contains("cannot decrypt"),
        "{msg}"
    );
    let legacy = write(
        dir.path(),
        "enc1.key",
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    );
    assert!(load_err(&c, Some(&legacy), None).contains("is encrypted"));

    // A key that is not the certificate's, a file without a key or a certificate, a
    // missing file.
    let (_, _, other_key, _) = pki.leaf("other.example", true);
    let wrong = write(dir.path(), "wrong.key", &other_key);
    assert!(load_err(&c, Some(&wrong), None).contains("does not belong to the certificate"));
    assert!(load_err(&c, None, None).contains("no usable PEM private key"));
    assert!(load_err(&k, Some(&k), None).contains("no PEM certificate"));
    assert!(load_err(&dir.path().join("absent.crt"), None, None).contains("absent.crt"));
}

#[tokio::test]
async fn a_probe_that_cannot_be_rebuilt_keeps_its_configuration_and_is_reported() {
    let (server_pki, client_pki) = (Pki::new("srv"), Pki::new("cli"));
    let (addr, _served, _task) = mtls_server(&server_pki, &client_pki).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.pem", &server_pki.ca_pem);
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::spawn(RunnerOptions { seed: Some(6) }, tx);
    let spec = CheckerSpec {
        id: CheckerId(9),
        real_server: RealServerId(9),
        timing: Timing::default(),
        probe: ssl_get(
            addr,
            TlsOpts {
                verify_cert: true,
                ca_file: Some(ca.clone()),
                ..TlsOpts::default()
            },
        ),
    };
    assert!(runner.apply(vec![spec]).await.unwrap().errors.is_empty());
    // The trust store goes away; the new certificate cannot be combined with it.
    std::fs::remove_file(&ca).unwrap();
    let ours = identity(dir.path(), &client_pki, "ours");
    let rep = runner.set_tls_client(Some(ours)).await.unwrap();
    assert_eq!(rep.rebuilt, 0);
    assert_eq!(rep.errors.len(), 1);
    assert_eq!(rep.errors[0].0, CheckerId(9));
    assert!(
        matches!(&rep.errors[0].1, SpecError::Tls(m) if m.contains("ca.pem")),
        "{:?}",
        rep.errors
    );
    runner.shutdown().await;
}
