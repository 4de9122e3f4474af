//! Stateless async probes, one module per keepalived checker type.
//!
//! A probe spec ([`ProbeSpec`]) is plain data: target, parameters, timeout. It derives `Eq`
//! and `Hash` because it is the deduplication key: two real servers whose checkers have equal
//! specs share one probe. [`PreparedProbe`] is a spec with its expensive parts built once
//! (TLS configuration, compiled regexes, the script's argv), ready to run many times.
//! Every probe is bounded by its timeout and returns a [`ProbeReport`].

pub mod conn;
pub mod dns;
pub mod file;
pub mod http;
pub mod misc;
pub mod ping;
pub mod smtp;
pub mod tcp;
pub mod tls;
pub mod udp;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use conn::ConnOpts;
pub use dns::{DnsSpec, DnsType};
pub use file::FileSpec;
pub use http::{HttpProtocol, HttpSpec, StatusCodes, TlsOpts, UrlSpec};
pub use misc::MiscSpec;
pub use ping::PingSpec;
pub use smtp::SmtpSpec;
pub use tcp::TcpSpec;
pub use udp::{ReplyPattern, UdpSpec};

/// What to probe and how: one variant per keepalived checker type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProbeSpec {
    /// `TCP_CHECK`: a connect within the timeout.
    Tcp(TcpSpec),
    /// `HTTP_GET` and `SSL_GET` (`tls` set).
    Http(HttpSpec),
    /// `DNS_CHECK`: one UDP query.
    Dns(DnsSpec),
    /// `MISC_CHECK`: a script's exit status.
    Misc(MiscSpec),
    /// `SMTP_CHECK`: banner, HELO, QUIT.
    Smtp(SmtpSpec),
    /// `UDP_CHECK`: a datagram and, optionally, its reply.
    Udp(UdpSpec),
    /// `PING_CHECK`: ICMP or ICMPv6 echo.
    Ping(PingSpec),
    /// `FILE_CHECK`: state and weight from a file, watched rather than polled.
    File(FileSpec),
}

impl ProbeSpec {
    /// keepalived's name for this checker type (`TCP_CHECK`, `HTTP_GET`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeSpec::Tcp(_) => "TCP_CHECK",
            ProbeSpec::Http(h) if h.tls.is_some() => "SSL_GET",
            ProbeSpec::Http(_) => "HTTP_GET",
            ProbeSpec::Dns(_) => "DNS_CHECK",
            ProbeSpec::Misc(_) => "MISC_CHECK",
            ProbeSpec::Smtp(_) => "SMTP_CHECK",
            ProbeSpec::Udp(_) => "UDP_CHECK",
            ProbeSpec::Ping(_) => "PING_CHECK",
            ProbeSpec::File(_) => "FILE_CHECK",
        }
    }

    /// What the probe is pointed at, for log lines: `127.0.0.1:80`, `/bin/check`.
    pub fn target(&self) -> String {
        match self {
            ProbeSpec::Tcp(s) => s.conn.dst.to_string(),
            ProbeSpec::Http(s) => s.conn.dst.to_string(),
            ProbeSpec::Dns(s) => s.conn.dst.to_string(),
            ProbeSpec::Smtp(s) => s.conn.dst.to_string(),
            ProbeSpec::Udp(s) => s.conn.dst.to_string(),
            ProbeSpec::Ping(s) => s.conn.dst.ip().to_string(),
            ProbeSpec::Misc(s) => s.argv.first().cloned().unwrap_or_default(),
            ProbeSpec::File(s) => s.path.display().to_string(),
        }
    }

    /// Number of distinct requests a run cycles through (HTTP URLs; 1 otherwise).
    pub fn url_count(&self) -> usize {
        match self {
            ProbeSpec::Http(h) => h.urls.len().max(1),
            _ => 1,
        }
    }
}

/// A dynamic weight reported by a passing probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DynamicWeight {
    /// Back to the weight configured for the real server (MISC exit 0).
    Configured,
    /// Set the real server's weight to this value (MISC `misc_dynamic` exit 2..255 → exit−2).
    Absolute(u32),
    /// Add this to the configured weight (FILE_CHECK's value × weight).
    Offset(i64),
}

/// Why a probe failed. Cheap to clone: it is fanned out to every subscriber of a shared probe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The socket could not be created, configured or bound (bindto, bind_if, fwmark).
    #[error("socket setup failed: {0}")]
    Setup(String),
    /// The peer refused or the network is unreachable.
    #[error("connection failed: {0}")]
    Connect(io::ErrorKind),
    /// A step did not finish within the timeout.
    #[error("{stage} timed out after {after:?}")]
    Timeout {
        /// What was being waited for ("connect", "read", …).
        stage: &'static str,
        /// The timeout that expired.
        after: Duration,
    },
    /// A read or write failed.
    #[error("{stage} failed: {kind}")]
    Io {
        /// What was being done.
        stage: &'static str,
        /// The error's kind.
        kind: io::ErrorKind,
    },
    /// The TLS handshake or record layer failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The server closed the connection before a complete HTTP header arrived.
    #[error("no HTTP response header received")]
    NoData,
    /// The response exceeded the size a checker accepts.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The HTTP status code is not in the accepted list (0 when unparsable).
    #[error("HTTP status code {0} not accepted")]
    Status(u16),
    /// The body's MD5 differs from the configured digest.
    #[error("MD5 digest {0} differs from the configured digest")]
    Digest(String),
    /// The body did not match the regex (or matched a `regex_no_match` regex).
    #[error("regex check failed")]
    Regex,
    /// The DNS server answered with a non-zero RCODE.
    #[error("DNS reply code {0}")]
    DnsRcode(u8),
    /// The DNS reply had no answer record (only with `require_answer`).
    #[error("DNS reply has no answer record")]
    DnsNoAnswer,
    /// The script exited with a status meaning down.
    #[error("script exited with status {0}")]
    ExitStatus(i32),
    /// The script was killed by a signal it was not sent by us.
    #[error("script killed by signal {0}")]
    Signal(i32),
    /// The script ran past `misc_timeout` and was killed.
    #[error("script timed out after {0:?}")]
    ScriptTimeout(Duration),
    /// The script could not be started.
    #[error("script could not be started: {0}")]
    Spawn(String),
    /// `enable_script_security` refused the script (the message names the path and why).
    #[error("{0}")]
    Refused(String),
    /// An SMTP reply was not the expected code.
    #[error("SMTP {stage}: unexpected reply {line:?}")]
    Smtp {
        /// Which reply ("banner", "HELO").
        stage: &'static str,
        /// The reply line received (truncated).
        line: String,
    },
    /// The UDP reply was missing, too short, too long or did not match.
    #[error("UDP reply rejected: {0}")]
    UdpReply(&'static str),
    /// An ICMP destination unreachable came back.
    #[error("ICMP destination unreachable")]
    Unreachable,
    /// The tracked file's value means fault.
    #[error("tracked file value {0} means fault")]
    FileFault(i64),
}

impl ProbeError {
    pub(crate) fn io(stage: &'static str, e: &io::Error) -> Self {
        ProbeError::Io {
            stage,
            kind: e.kind(),
        }
    }
}

/// What a passing probe reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProbeSuccess {
    /// A weight change requested by the probe (MISC `misc_dynamic`).
    pub weight: Option<DynamicWeight>,
}

/// The result of one probe run.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    /// When the probe started.
    pub started: Instant,
    /// How long it took.
    pub latency: Duration,
    /// Pass or fail.
    pub result: Result<ProbeSuccess, ProbeError>,
}

/// A spec with its expensive parts built once; cheap to clone into each run.
#[derive(Debug, Clone)]
pub struct PreparedProbe {
    inner: Arc<(ProbeSpec, Prepared)>,
}

#[derive(Debug)]
enum Prepared {
    Tcp(TcpSpec),
    Http(http::PreparedHttp),
    Dns(DnsSpec),
    Misc(misc::PreparedMisc),
    Smtp(SmtpSpec),
    Udp(UdpSpec),
    Ping(PingSpec),
    File(FileSpec),
}

/// A spec that cannot be prepared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// An HTTP checker has no URL.
    #[error("HTTP/SSL checker has no url")]
    NoUrl,
    /// A regex does not compile.
    #[error("invalid regex {pattern:?}: {message}")]
    Regex {
        /// The pattern.
        pattern: String,
        /// The compiler's message.
        message: String,
    },
    /// The TLS configuration could not be built (CA file unreadable or empty).
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The DNS query name cannot be encoded.
    #[error("DNS_CHECK name: {0}")]
    DnsName(String),
    /// The MISC command line is empty or badly quoted.
    #[error("misc_path: {0}")]
    Command(String),
}

impl PreparedProbe {
    /// Builds the reusable parts of `spec` (an SSL_GET presents no client certificate).
    pub fn new(spec: &ProbeSpec) -> Result<Self, SpecError> {
        Self::with_client(spec, None)
    }

    /// Builds the reusable parts of `spec`; an SSL_GET presents `client` when the server
    /// asks for a certificate (keepalived's top-level `SSL { certificate; key }`).
    pub fn with_client(
        spec: &ProbeSpec,
        client: Option<&tls::ClientIdentity>,
    ) -> Result<Self, SpecError> {
        let inner = match spec {
            ProbeSpec::Tcp(s) => Prepared::Tcp(s.clone()),
            ProbeSpec::Http(s) => Prepared::Http(http::PreparedHttp::with_client(s, client)?),
            ProbeSpec::Dns(s) => {
                dns::query(0, &s.name, s.qtype).map_err(|e| SpecError::DnsName(e.to_string()))?;
                Prepared::Dns(s.clone())
            }
            ProbeSpec::Misc(s) => Prepared::Misc(misc::PreparedMisc::new(s)?),
            ProbeSpec::Smtp(s) => Prepared::Smtp(s.clone()),
            ProbeSpec::Udp(s) => Prepared::Udp(s.clone()),
            ProbeSpec::Ping(s) => Prepared::Ping(s.clone()),
            ProbeSpec::File(s) => Prepared::File(s.clone()),
        };
        Ok(PreparedProbe {
            inner: Arc::new((spec.clone(), inner)),
        })
    }

    /// The spec this probe was built from.
    pub fn spec(&self) -> &ProbeSpec {
        &self.inner.0
    }

    /// Runs the probe once (for HTTP, against URL `url`) and times it.
    pub async fn run(&self, url: usize) -> ProbeReport {
        let started = Instant::now();
        // A future is as large as its largest branch and every run in flight holds one:
        // the heavier probes (TLS and HTTP parsing, DNS, scripts) are boxed so that the
        // common TCP_CHECK does not carry their state (1.9 KB per run in flight before).
        let result = match &self.inner.1 {
            Prepared::Tcp(s) => tcp::probe(s).await,
            Prepared::Http(p) => Box::pin(p.probe(url)).await,
            Prepared::Dns(s) => Box::pin(dns::probe(s)).await,
            Prepared::Misc(p) => Box::pin(p.probe()).await,
            Prepared::Smtp(s) => Box::pin(smtp::probe(s)).await,
            Prepared::Udp(s) => Box::pin(udp::probe(s)).await,
            Prepared::Ping(s) => Box::pin(ping::probe(s)).await,
            Prepared::File(s) => Box::pin(file::probe(s)).await,
        };
        ProbeReport {
            started,
            latency: started.elapsed(),
            result,
        }
    }
}
