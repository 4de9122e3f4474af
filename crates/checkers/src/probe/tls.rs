//! TLS client configurations for `SSL_GET` and `genhash -S`.
//!
//! keepalived never verifies the server certificate (`check_ssl.c` sets no
//! `SSL_VERIFY_PEER`; `ca` only loads a trust store), so that is the default here too: the
//! handshake signature is still checked against the presented key, but the chain and the
//! name are not. `verify_cert` (our extension) verifies the chain against `ca_file`, or the
//! system bundle, and the name against the SNI name, virtual host or address.
//!
//! keepalived's top-level `SSL { certificate; key; password }` block gives every SSL_GET
//! one client certificate ([`ClientIdentity`]), presented when a server asks for one.
//! Encrypted private keys are refused: rustls reads only unencrypted PKCS#8, PKCS#1 and
//! SEC1 keys, and no decryption code is linked in (see [`ClientIdentity::load`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::SpecError;

/// Debian's and most distributions' CA bundle, used by `verify_cert` without `ca_file`.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn provider() -> Arc<CryptoProvider> {
    // Passed explicitly: the process-wide default may be unset or ambiguous when several
    // providers are compiled in.
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts any certificate chain and name, as keepalived does; still checks that the server
/// holds the key of the certificate it presented.
#[derive(Debug)]
struct NoVerify(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// Loads the PEM certificates of `path` as trust anchors.
pub fn load_roots(path: &Path) -> Result<RootCertStore, SpecError> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| SpecError::Tls(format!("{}: {e}", path.display())))?;
    for cert in certs {
        let cert = cert.map_err(|e| SpecError::Tls(format!("{}: {e}", path.display())))?;
        // A bundle may hold certificates webpki cannot use as anchors; skip those.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(SpecError::Tls(format!(
            "{}: no usable certificate",
            path.display()
        )));
    }
    Ok(roots)
}

/// PEM labels of encrypted private keys: PKCS#8 `ENCRYPTED PRIVATE KEY`, and OpenSSL's
/// traditional format, whose `RSA`/`EC PRIVATE KEY` block carries this header.
const ENCRYPTED_MARKERS: [&str; 2] = [
    "-----BEGIN ENCRYPTED PRIVATE KEY-----",
    "Proc-Type: 4,ENCRYPTED",
];

/// The client certificate SSL_GET presents: keepalived's top-level
/// `SSL { certificate FILE; key FILE; password PW }`, loaded and checked once.
///
/// Two identities are equal when their certificate chains are: the key is checked against
/// the leaf certificate's public key at load time.
#[derive(Clone)]
pub struct ClientIdentity {
    key: Arc<CertifiedKey>,
    certificate: PathBuf,
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key.
        f.debug_struct("ClientIdentity")
            .field("certificate", &self.certificate)
            .field("chain_len", &self.key.cert.len())
            .finish_non_exhaustive()
    }
}

impl PartialEq for ClientIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.key.cert == other.key.cert
    }
}

impl Eq for ClientIdentity {}

impl ClientIdentity {
    /// Loads `certificate` (PEM, the leaf first, then any intermediates, as OpenSSL's
    /// `SSL_CTX_use_certificate_chain_file` reads it) and its private key from `key`, or
    /// from the certificate file itself when `key` is `None` (a combined PEM).
    ///
    /// `password` is keepalived's key password. rustls cannot decrypt private keys, so an
    /// encrypted key is refused with an error that says so, whether or not a password is
    /// given; a password given for an unencrypted key is unused, as OpenSSL leaves it.
    /// The key must match the leaf certificate.
    pub fn load(
        certificate: &Path,
        key: Option<&Path>,
        password: Option<&str>,
    ) -> Result<Self, SpecError> {
        let cert_pem = std::fs::read(certificate)
            .map_err(|e| SpecError::Tls(format!("certificate {}: {e}", certificate.display())))?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| SpecError::Tls(format!("certificate {}: {e}", certificate.display())))?;
        if chain.is_empty() {
            return Err(SpecError::Tls(format!(
                "certificate {}: no PEM certificate in it",
                certificate.display()
            )));
        }
        let (key_path, key_pem) = match key {
            Some(k) => (
                k,
                std::fs::read(k)
                    .map_err(|e| SpecError::Tls(format!("key {}: {e}", k.display())))?,
            ),
            None => (certificate, cert_pem),
        };
        let text = String::from_utf8_lossy(&key_pem);
        if ENCRYPTED_MARKERS.iter().any(|m| text.contains(m)) {
            let why = if password.is_some() {
                "a password is configured, but rkeepalived cannot decrypt private keys"
            } else {
                "no password is configured, and rkeepalived cannot decrypt private keys anyway"
            };
            return Err(SpecError::Tls(format!(
                "key {} is encrypted: {why}; store it unencrypted and readable by root only \
                 (openssl pkey -in KEY -out KEY.plain)",
                key_path.display()
            )));
        }
        let der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            SpecError::Tls(format!(
                "key {}: no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
                key_path.display()
            ))
        })?;
        let key = CertifiedKey::from_der(chain, der, &provider()).map_err(|e| {
            let why = match e {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    "the key does not belong to the certificate (KeyMismatch)".to_string()
                }
                e => e.to_string(),
            };
            SpecError::Tls(format!(
                "key {} with certificate {}: {why}",
                key_path.display(),
                certificate.display()
            ))
        })?;
        Ok(ClientIdentity {
            key: Arc::new(key),
            certificate: certificate.to_path_buf(),
        })
    }

    /// The certificate file it was loaded from.
    pub fn certificate_path(&self) -> &Path {
        &self.certificate
    }
}

/// A client configuration: SNI on or off, certificate verification on (against `ca_file`
/// or [`SYSTEM_CA_BUNDLE`]) or off, no client certificate.
pub fn client_config(
    enable_sni: bool,
    verify: bool,
    ca_file: Option<&Path>,
) -> Result<Arc<ClientConfig>, SpecError> {
    client_config_with(enable_sni, verify, ca_file, None)
}

/// As [`client_config`], presenting `client` to servers that request a certificate.
pub fn client_config_with(
    enable_sni: bool,
    verify: bool,
    ca_file: Option<&Path>,
    client: Option<&ClientIdentity>,
) -> Result<Arc<ClientConfig>, SpecError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SpecError::Tls(e.to_string()))?;
    let builder = if verify {
        let roots = load_roots(ca_file.unwrap_or(Path::new(SYSTEM_CA_BUNDLE)))?;
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| SpecError::Tls(e.to_string()))?;
        builder.with_webpki_verifier(verifier)
    } else {
        let algs = provider.signature_verification_algorithms;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(algs)))
    };
    let mut cfg = match client {
        Some(id) => {
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(id.key.clone())))
        }
        None => builder.with_no_client_auth(),
    };
    cfg.enable_sni = enable_sni;
    Ok(Arc::new(cfg))
}
