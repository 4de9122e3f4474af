//! TLS client configurations for `SSL_GET` and `genhash -S`.
//!
//! keepalived never verifies the server certificate (`check_ssl.c` sets no
//! `SSL_VERIFY_PEER`; `ca` only loads a trust store), so that is the default here too: the
//! handshake signature is still checked against the presented key, but the chain and the
//! name are not. `verify_cert` (our extension) verifies the chain against `ca_file`, or the
//! system bundle, and the name against the SNI name, virtual host or address.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
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

/// A client configuration: SNI on or off, certificate verification on (against `ca_file`
/// or [`SYSTEM_CA_BUNDLE`]) or off.
pub fn client_config(
    enable_sni: bool,
    verify: bool,
    ca_file: Option<&Path>,
) -> Result<Arc<ClientConfig>, SpecError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SpecError::Tls(e.to_string()))?;
    let mut cfg = if verify {
        let roots = load_roots(ca_file.unwrap_or(Path::new(SYSTEM_CA_BUNDLE)))?;
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| SpecError::Tls(e.to_string()))?;
        builder.with_webpki_verifier(verifier).with_no_client_auth()
    } else {
        let algs = provider.signature_verification_algorithms;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(algs)))
            .with_no_client_auth()
    };
    cfg.enable_sni = enable_sni;
    Ok(Arc::new(cfg))
}
