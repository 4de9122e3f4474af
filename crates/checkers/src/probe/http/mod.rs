//! `HTTP_GET` and `SSL_GET` (`check_http.c`, `check_ssl.c`).
//!
//! One run fetches one URL (the state machine picks which): connect, optional TLS handshake,
//! send keepalived's request ([`wire::request`]), read until the server closes, then check
//! the status code, the MD5 digest of the body and the regex, in that order. Every step —
//! connect, handshake, send and each read — is bounded by `connect_timeout`, as keepalived's
//! per-operation timers are; the response size is bounded by [`wire::MAX_RESPONSE`].

pub mod wire;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::conn::timed;
use super::{ConnOpts, ProbeError, ProbeSuccess, SpecError};
use wire::{Observer, Parser, Response};

/// `http_protocol`: what the request line says and whether `Connection: close` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HttpProtocol {
    /// `HTTP/1.0`, no `Connection` header (keepalived's default).
    #[default]
    V10,
    /// `HTTP/1.0` with `Connection: close` (`1.0C`).
    V10Close,
    /// `HTTP/1.1` with `Connection: close`.
    V11,
}

impl std::str::FromStr for HttpProtocol {
    type Err = String;
    /// Parses `1.0`, `1.0C`/`1.0c` and `1.1`, as keepalived and genhash's `-P` accept them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1.0" => Ok(HttpProtocol::V10),
            "1.0C" | "1.0c" => Ok(HttpProtocol::V10Close),
            "1.1" => Ok(HttpProtocol::V11),
            other => Err(format!("invalid HTTP protocol version '{other}'")),
        }
    }
}

/// Accepted status codes: a list of inclusive ranges within 100..=599.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusCodes(pub Vec<(u16, u16)>);

impl Default for StatusCodes {
    /// keepalived's default, 200-299.
    fn default() -> Self {
        StatusCodes(vec![(200, 299)])
    }
}

impl StatusCodes {
    /// Whether `code` is accepted. Codes outside 100..=599 never are.
    pub fn contains(&self, code: u16) -> bool {
        (100..=599).contains(&code) && self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&code))
    }

    /// Parses keepalived's `status_code` arguments (`200`, `200-299`, several per line).
    pub fn parse<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut ranges = vec![];
        for arg in args {
            let (lo, hi) = arg.split_once('-').unwrap_or((arg, arg));
            let parse = |s: &str| s.parse::<u16>().ok().filter(|c| (100..=599).contains(c));
            match (parse(lo), parse(hi)) {
                (Some(lo), Some(hi)) if lo <= hi => ranges.push((lo, hi)),
                _ => return Err(format!("invalid HTTP status code '{arg}'")),
            }
        }
        if ranges.is_empty() {
            return Err("status_code needs at least one code".into());
        }
        Ok(StatusCodes(ranges))
    }
}

/// A body regex (`regex`, `regex_no_match`, `regex_min_offset`, `regex_max_offset`).
///
/// keepalived uses PCRE2; this is Rust's `regex` syntax (no look-around, no
/// back-references), matched over the first [`wire::MAX_REGEX_BODY`] bytes of the body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegexSpec {
    /// The pattern.
    pub pattern: String,
    /// Pass when the pattern does *not* match.
    pub no_match: bool,
    /// A match must start at or after this body offset.
    pub min_offset: usize,
    /// A match must start before this body offset (0: no limit).
    pub max_offset: usize,
}

/// One `url { }` block.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UrlSpec {
    /// Request path (`path`).
    pub path: String,
    /// Expected MD5 of the body (`digest`).
    pub digest: Option<[u8; 16]>,
    /// Accepted status codes (`status_code`, default 200-299).
    pub status_codes: StatusCodes,
    /// Per-URL `Host:` header (`virtualhost`), over the checker's.
    pub virtualhost: Option<String>,
    /// Body regex.
    pub regex: Option<RegexSpec>,
}

impl UrlSpec {
    /// A URL with default status codes and no digest, vhost or regex.
    pub fn new(path: impl Into<String>) -> Self {
        UrlSpec {
            path: path.into(),
            digest: None,
            status_codes: StatusCodes::default(),
            virtualhost: None,
            regex: None,
        }
    }
}

/// `SSL_GET` options.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TlsOpts {
    /// Send SNI (`enable_sni`): `sni_name`, else the URL's virtual host, else the checker's.
    pub enable_sni: bool,
    /// `sni_name`.
    pub sni_name: Option<String>,
    /// Verify the server certificate (our extension; keepalived never does).
    pub verify_cert: bool,
    /// Trust anchors for `verify_cert` (PEM); the system bundle when unset.
    pub ca_file: Option<PathBuf>,
}

/// An `HTTP_GET` / `SSL_GET` checker.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpSpec {
    /// Target, binding and the per-operation timeout.
    pub conn: ConnOpts,
    /// TLS for `SSL_GET`.
    pub tls: Option<TlsOpts>,
    /// `http_protocol`.
    pub protocol: HttpProtocol,
    /// `Host:` header when the URL has none: the checker's `virtualhost`, else the real
    /// server's, else the virtual server's (resolved by the caller).
    pub virtualhost: Option<String>,
    /// The URLs, checked one per run in turn.
    pub urls: Vec<UrlSpec>,
    /// `fast_recovery` (used by the state machine; part of the identity).
    pub fast_recovery: bool,
}

/// An HTTP spec with its requests, regexes and TLS configuration built.
pub struct PreparedHttp {
    spec: HttpSpec,
    requests: Vec<Vec<u8>>,
    regexes: Vec<Option<regex::bytes::Regex>>,
    tls: Option<Arc<ClientConfig>>,
    server_names: Vec<ServerName<'static>>,
}

impl fmt::Debug for PreparedHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedHttp")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// Where a fetch ended, for genhash's messages.
#[derive(Debug)]
pub struct Fetched {
    /// The parsed response, `None` if no complete header arrived.
    pub response: Option<Response>,
}

impl PreparedHttp {
    /// Builds requests, compiles regexes and the TLS configuration (no client certificate).
    pub fn new(spec: &HttpSpec) -> Result<Self, SpecError> {
        Self::with_client(spec, None)
    }

    /// As [`PreparedHttp::new`], presenting `client` to servers that ask for a certificate.
    pub fn with_client(
        spec: &HttpSpec,
        client: Option<&super::tls::ClientIdentity>,
    ) -> Result<Self, SpecError> {
        if spec.urls.is_empty() {
            return Err(SpecError::NoUrl);
        }
        let mut requests = vec![];
        let mut regexes = vec![];
        let mut server_names = vec![];
        for url in &spec.urls {
            let vhost = url.virtualhost.as_deref().or(spec.virtualhost.as_deref());
            requests.push(wire::request(
                &url.path,
                spec.protocol,
                &wire::host_header(vhost, spec.conn.dst),
            ));
            regexes.push(match &url.regex {
                None => None,
                Some(r) => {
                    Some(
                        regex::bytes::Regex::new(&r.pattern).map_err(|e| SpecError::Regex {
                            pattern: r.pattern.clone(),
                            message: e.to_string(),
                        })?,
                    )
                }
            });
            let tls_name = spec.tls.as_ref().and_then(|t| {
                if t.enable_sni {
                    t.sni_name.as_deref().or(vhost)
                } else {
                    vhost
                }
            });
            server_names.push(
                tls_name
                    .and_then(|n| ServerName::try_from(n.to_owned()).ok())
                    .unwrap_or_else(|| ServerName::IpAddress(spec.conn.dst.ip().into())),
            );
        }
        let tls = match &spec.tls {
            None => None,
            Some(t) => Some(super::tls::client_config_with(
                t.enable_sni,
                t.verify_cert,
                t.ca_file.as_deref(),
                client,
            )?),
        };
        Ok(PreparedHttp {
            spec: spec.clone(),
            requests,
            regexes,
            tls,
            server_names,
        })
    }

    /// The spec this was built from.
    pub fn spec(&self) -> &HttpSpec {
        &self.spec
    }

    /// Connects and exchanges one request for URL `url`, reporting to `obs`.
    pub async fn fetch(
        &self,
        url: usize,
        digest: bool,
        obs: &mut (dyn Observer + Send),
    ) -> Result<Fetched, ProbeError> {
        let url = url.min(self.requests.len() - 1);
        let keep_body = self.regexes[url].is_some();
        let timeout = self.spec.conn.timeout;
        let tcp = self.spec.conn.tcp_connect().await?;
        let mut parser = Parser::new(digest, keep_body);
        let clean = match &self.tls {
            None => {
                let mut tcp = tcp;
                exchange(
                    &mut tcp,
                    &self.requests[url],
                    timeout,
                    false,
                    &mut parser,
                    obs,
                )
                .await?
            }
            Some(cfg) => {
                let connector = tokio_rustls::TlsConnector::from(cfg.clone());
                let name = self.server_names[url].clone();
                let mut tls =
                    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
                        Err(_) => {
                            return Err(ProbeError::Timeout {
                                stage: "TLS handshake",
                                after: timeout,
                            });
                        }
                        Ok(Err(e)) => return Err(ProbeError::Tls(e.to_string())),
                        Ok(Ok(s)) => s,
                    };
                exchange(
                    &mut tls,
                    &self.requests[url],
                    timeout,
                    true,
                    &mut parser,
                    obs,
                )
                .await?
            }
        };
        Ok(Fetched {
            response: parser.finish(clean, obs),
        })
    }

    /// One checker run against URL `url`: status, then digest, then regex.
    pub async fn probe(&self, url: usize) -> Result<ProbeSuccess, ProbeError> {
        let url = url.min(self.spec.urls.len() - 1);
        let spec = &self.spec.urls[url];
        let fetched = self.fetch(url, spec.digest.is_some(), &mut ()).await?;
        let resp = fetched.response.ok_or(ProbeError::NoData)?;
        if !spec.status_codes.contains(resp.status) {
            return Err(ProbeError::Status(resp.status));
        }
        if let (Some(want), Some(got)) = (spec.digest, resp.digest)
            && want != got
        {
            return Err(ProbeError::Digest(hex(&got)));
        }
        if let (Some(re), Some(rs)) = (&self.regexes[url], &spec.regex) {
            let body = resp.body.as_deref().unwrap_or_default();
            let matched = re
                .find_at(body, rs.min_offset.min(body.len()))
                .is_some_and(|m| rs.max_offset == 0 || m.start() < rs.max_offset);
            if matched == rs.no_match {
                return Err(ProbeError::Regex);
            }
        }
        Ok(ProbeSuccess::default())
    }
}

/// Lower-case hex, as genhash prints digests.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `request` and reads until the peer closes. Returns whether the end was clean.
///
/// Plain HTTP: a read error fails the check. TLS: as in `ssl_read_thread`, any end of the
/// record stream — close_notify, a bare TCP close or a TLS error — ends the response, which
/// is then judged on what arrived.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
    timeout: Duration,
    tls: bool,
    parser: &mut Parser,
    obs: &mut (dyn Observer + Send),
) -> Result<bool, ProbeError> {
    timed("send", timeout, async {
        stream.write_all(request).await?;
        stream.flush().await
    })
    .await?;
    let mut buf = vec![0u8; wire::READ_CHUNK];
    let mut stage = "response";
    loop {
        let n = match tokio::time::timeout(timeout, stream.read(&mut buf)).await {
            Err(_) => {
                return Err(ProbeError::Timeout {
                    stage,
                    after: timeout,
                });
            }
            Ok(Ok(0)) => return Ok(true),
            Ok(Ok(n)) => n,
            Ok(Err(_)) if tls => return Ok(false),
            Ok(Err(e)) => return Err(ProbeError::io("read", &e)),
        };
        stage = "read";
        parser.feed(&buf[..n], obs)?;
    }
}
