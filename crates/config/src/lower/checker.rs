//! Health checkers of a real server: TCP_CHECK, HTTP_GET, SSL_GET, DNS_CHECK, MISC_CHECK,
//! SMTP_CHECK, UDP_CHECK, PING_CHECK, FILE_CHECK and BFD_CHECK.

use std::net::IpAddr;
use std::time::Duration;

use super::cx::{Cx, Kw};
use super::lvs::Inherited;
use super::text1;
use crate::diag::{DiagKind, Diagnostic};
use crate::model::{
    CheckTiming, Checker, CheckerKind, Config, Connection, HttpCheck, HttpProtocol, ReplyPattern,
    Script, Url, UserGroup,
};
use crate::tree::Node;

/// The checker keywords.
pub(super) const CHECKERS: &[&str] = &[
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "DNS_CHECK",
    "MISC_CHECK",
    "SMTP_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
];

const DNS_TYPES: &[&str] = &[
    "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA", "RRSIG", "DNSKEY",
];

/// What the virtual server passes down.
pub(super) struct CheckDefaults {
    pub vs_delay_loop: Duration,
}

/// Everything a checker block may say. Most checkers are TCP_CHECKs with a few
/// connection and timing options, so what only other kinds use is boxed apart: a large
/// configuration holds one draft per checker until its virtual server is complete.
#[derive(Default)]
struct Draft {
    timing: Inherited,
    connect_ip: Option<IpAddr>,
    connect_port: Option<u16>,
    bindto: Option<IpAddr>,
    bind_port: Option<u16>,
    bind_if: Option<String>,
    fwmark: Option<u32>,
    log_all_failures: bool,
    extra: Option<Box<Extra>>,
}

/// What only HTTP, SSL, DNS, MISC, SMTP, UDP, FILE and BFD checkers say.
struct Extra {
    // HTTP/SSL
    urls: Vec<Url>,
    http_protocol: Option<HttpProtocol>,
    virtualhost: Option<String>,
    fast_recovery: bool,
    enable_sni: bool,
    sni_name: Option<String>,
    tls_compliant: bool,
    verify_cert: bool,
    // DNS
    dns_type: Option<String>,
    dns_name: Option<String>,
    // MISC
    misc_path: Option<Script>,
    misc_timeout: Option<Duration>,
    misc_dynamic: bool,
    user: Option<UserGroup>,
    // SMTP
    helo_name: Option<String>,
    // UDP
    payload: Option<Vec<u8>>,
    require_reply: Option<Option<ReplyPattern>>,
    min_reply_length: Option<u32>,
    max_reply_length: Option<u32>,
    // FILE
    track_file: Option<String>,
    file_weight: Option<(i64, bool)>,
    dynamic: bool,
    // BFD
    bfd_name: Option<String>,
    // SMTP `host { ... }` blocks (deprecated): one checker each
    smtp_hosts: Vec<Draft>,
}

impl Extra {
    const EMPTY: Extra = Extra {
        urls: Vec::new(),
        http_protocol: None,
        virtualhost: None,
        fast_recovery: false,
        enable_sni: false,
        sni_name: None,
        tls_compliant: false,
        verify_cert: false,
        dns_type: None,
        dns_name: None,
        misc_path: None,
        misc_timeout: None,
        misc_dynamic: false,
        user: None,
        helo_name: None,
        payload: None,
        require_reply: None,
        min_reply_length: None,
        max_reply_length: None,
        track_file: None,
        file_weight: None,
        dynamic: false,
        bfd_name: None,
        smtp_hosts: Vec::new(),
    };
}

/// The options of a checker that set none of its [`Extra`] ones.
static NO_EXTRA: Extra = Extra::EMPTY;

impl Draft {
    /// The kind-specific options, to set one.
    fn x(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(|| Box::new(Extra::EMPTY))
    }

    /// The kind-specific options, to read them.
    fn extra(&self) -> &Extra {
        self.extra.as_deref().unwrap_or(&NO_EXTRA)
    }
}

macro_rules! timer {
    ($field:ident, $min:expr) => {
        |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(t) = cx.one(n) {
                d.timing.$field = cx.timer(t, $min, Duration::from_secs(86_400), n.name());
            }
        }
    };
}

fn retry(d: &mut Draft, n: &Node, cx: &mut Cx<'_>) {
    d.timing.retry = cx.one(n).and_then(|t| cx.u32(t, 0, u32::MAX, n.name()));
}

/// Keywords every checker but MISC, FILE and BFD has.
fn connection_kws() -> Vec<Kw<Draft>> {
    vec![
        Kw::once("connect_ip", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            d.connect_ip = cx.one(n).and_then(|t| cx.ip(t, "connect_ip"));
        }),
        Kw::once(
            "connect_port",
            |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                d.connect_port = cx.one(n).and_then(|t| cx.u16(t, 1, 65535, "connect_port"));
            },
        ),
        Kw::once("bindto", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            d.bindto = cx.one(n).and_then(|t| cx.ip(t, "bindto"));
        }),
        Kw::once("bind_port", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            d.bind_port = cx.one(n).and_then(|t| cx.u16(t, 1, 65535, "bind_port"));
        }),
        Kw::once("bind_if", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            d.bind_if = text1(n, cx)
        }),
        Kw::once("fwmark", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            d.fwmark = cx.one(n).and_then(|t| cx.u32(t, 0, u32::MAX, "fwmark"));
        }),
        Kw::once(
            "connect_timeout",
            timer!(connect_timeout, Duration::from_millis(1)),
        ),
    ]
}

/// Keywords every checker has (timing).
fn timing_kws() -> Vec<Kw<Draft>> {
    vec![
        Kw::alias("retry", "retry", retry),
        Kw::once(
            "delay_before_retry",
            timer!(delay_before_retry, Duration::ZERO),
        ),
        Kw::once("warmup", timer!(warmup, Duration::ZERO)),
        Kw::once("delay_loop", timer!(delay_loop, Duration::from_millis(1))),
        Kw::once("alpha", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            d.timing.alpha = cx.flag(n)
        }),
        Kw::once(
            "log_all_failures",
            |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(v) = cx.flag(n) {
                    d.log_all_failures = v;
                }
            },
        ),
    ]
}

fn url(d: &mut Draft, n: &Node, cx: &mut Cx<'_>) {
    if !cx.arity_block(n) {
        return;
    }
    let mut u = Url {
        path: String::new(),
        digest: None,
        status_codes: Vec::new(),
        virtualhost: None,
        regex: None,
        regex_no_match: false,
        regex_options: Vec::new(),
        regex_min_offset: None,
        regex_max_offset: None,
    };
    let table: &[Kw<Url>] = &[
        Kw::once("path", |u: &mut Url, n: &Node, cx: &mut Cx<'_>| {
            if let Some(p) = text1(n, cx) {
                u.path = p;
            }
        }),
        Kw::once("digest", |u: &mut Url, n: &Node, cx: &mut Cx<'_>| {
            if let Some(t) = cx.one(n) {
                if t.text.len() == 32 && t.text.bytes().all(|b| b.is_ascii_hexdigit()) {
                    u.digest = Some(t.text.to_ascii_lowercase().to_string());
                } else {
                    cx.push(
                        Diagnostic::error(
                            DiagKind::Value,
                            t.span,
                            format!("digest '{}' is not an MD5 digest (32 hex digits)", t.text),
                        )
                        .with_help("compute it with: rkeepalived genhash -s HOST -p PORT -u PATH"),
                    );
                }
            }
        }),
        Kw::once("status_code", |u: &mut Url, n: &Node, cx: &mut Cx<'_>| {
            if !cx.arity(n, 1, 64) {
                return;
            }
            for t in &n.args {
                let (a, b) = match t.text.split_once('-') {
                    Some((a, b)) => (a, b),
                    None => (t.text.as_str(), t.text.as_str()),
                };
                match (a.parse::<u16>(), b.parse::<u16>()) {
                    (Ok(a), Ok(b))
                        if (100..=599).contains(&a) && (100..=599).contains(&b) && a <= b =>
                    {
                        u.status_codes.push((a, b))
                    }
                    _ => cx.error(
                        DiagKind::Value,
                        t.span,
                        format!(
                            "status_code '{}' is not a code or range between 100 and 599",
                            t.text
                        ),
                    ),
                }
            }
        }),
        Kw::once("virtualhost", |u: &mut Url, n: &Node, cx: &mut Cx<'_>| {
            u.virtualhost = text1(n, cx)
        }),
        Kw::once("regex", |u: &mut Url, n: &Node, cx: &mut Cx<'_>| {
            u.regex = text1(n, cx)
        }),
        Kw::once(
            "regex_no_match",
            |u: &mut Url, n: &Node, cx: &mut Cx<'_>| {
                u.regex_no_match = cx.bare(n);
            },
        ),
        Kw::once("regex_options", |u: &mut Url, n: &Node, cx: &mut Cx<'_>| {
            if cx.arity(n, 1, 32) {
                u.regex_options = n.args.iter().map(|t| t.text.to_string()).collect();
            }
        }),
        Kw::once(
            "regex_min_offset",
            |u: &mut Url, n: &Node, cx: &mut Cx<'_>| {
                u.regex_min_offset = cx
                    .one(n)
                    .and_then(|t| cx.u32(t, 0, u32::MAX, "regex_min_offset"));
            },
        ),
        Kw::once(
            "regex_max_offset",
            |u: &mut Url, n: &Node, cx: &mut Cx<'_>| {
                u.regex_max_offset = cx
                    .one(n)
                    .and_then(|t| cx.u32(t, 0, u32::MAX, "regex_max_offset"));
            },
        ),
        Kw::once("regex_stack", |_: &mut Url, n: &Node, cx: &mut Cx<'_>| {
            if cx.arity(n, 1, 2) {
                for t in &n.args {
                    cx.u32(t, 0, u32::MAX, "regex_stack");
                }
            }
        }),
    ];
    cx.block(&mut u, n, table, "url");
    if u.path.is_empty() {
        cx.error(DiagKind::Arguments, n.keyword.span, "url has no path");
        return;
    }
    if u.status_codes.is_empty() {
        u.status_codes.push((200, 299));
    }
    d.x().urls.push(u);
}

fn http_kws() -> Vec<Kw<Draft>> {
    vec![
        Kw::alias(
            "nb_get_retry",
            "retry",
            |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                cx.deprecated(n, "use 'retry'");
                retry(d, n, cx);
            },
        ),
        Kw::once("virtualhost", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            d.x().virtualhost = text1(n, cx)
        }),
        Kw::once(
            "http_protocol",
            |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(t) = cx.one(n) {
                    d.x().http_protocol = match t.text.as_str() {
                        "1.0" => Some(HttpProtocol::Http10),
                        "1.0C" | "1.0c" => Some(HttpProtocol::Http10Close),
                        "1.1" => Some(HttpProtocol::Http11),
                        _ => {
                            cx.choice(t, &["1.0", "1.0C", "1.1"], "http_protocol");
                            None
                        }
                    };
                }
            },
        ),
        Kw::once(
            "fast_recovery",
            |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(v) = cx.flag(n) {
                    d.x().fast_recovery = v;
                }
            },
        ),
        Kw::many("url", url),
    ]
}

fn ssl_kws() -> Vec<Kw<Draft>> {
    vec![
        Kw::once("enable_sni", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(v) = cx.flag(n) {
                d.x().enable_sni = v;
            }
        }),
        Kw::once("sni_name", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            d.x().sni_name = text1(n, cx)
        }),
        Kw::once(
            "tls_compliant",
            |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(v) = cx.flag(n) {
                    d.x().tls_compliant = v;
                }
            },
        ),
        Kw::once("verify_cert", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(v) = cx.flag(n) {
                d.x().verify_cert = v;
            }
        }),
    ]
}

/// Reads keepalived's free-form hex (`Ab12f 3 456`: each word padded to whole bytes);
/// `X` nibbles are wildcards when `wild` is set.
fn hex_bytes(words: &[String], wild: bool) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut bytes = Vec::new();
    let mut mask = Vec::new();
    for w in words {
        let digits: Vec<char> = w.chars().collect();
        let padded: Vec<char> = if digits.len() % 2 == 1 {
            std::iter::once('0').chain(digits).collect()
        } else {
            digits
        };
        for pair in padded.chunks(2) {
            let mut b = 0u8;
            let mut m = 0u8;
            for c in pair {
                b <<= 4;
                m <<= 4;
                match c.to_digit(16) {
                    Some(v) => {
                        b |= v as u8;
                        m |= 0xf;
                    }
                    None if wild && (*c == 'x' || *c == 'X') => {}
                    None => return None,
                }
            }
            bytes.push(b);
            mask.push(m);
        }
    }
    Some((bytes, mask))
}

fn kind_table(kind: &str) -> &'static [Kw<Draft>] {
    use std::sync::OnceLock;
    static TCP: OnceLock<Vec<Kw<Draft>>> = OnceLock::new();
    static HTTP: OnceLock<Vec<Kw<Draft>>> = OnceLock::new();
    static SSL: OnceLock<Vec<Kw<Draft>>> = OnceLock::new();
    static DNS: OnceLock<Vec<Kw<Draft>>> = OnceLock::new();
    static MISC: OnceLock<Vec<Kw<Draft>>> = OnceLock::new();
    static SMTP: OnceLock<Vec<Kw<Draft>>> = OnceLock::new();
    static UDP: OnceLock<Vec<Kw<Draft>>> = OnceLock::new();
    static FILE: OnceLock<Vec<Kw<Draft>>> = OnceLock::new();
    static BFD: OnceLock<Vec<Kw<Draft>>> = OnceLock::new();
    let common = || {
        let mut v = connection_kws();
        v.extend(timing_kws());
        v
    };
    match kind {
        "HTTP_GET" => HTTP.get_or_init(|| {
            let mut v = common();
            v.extend(http_kws());
            v
        }),
        "SSL_GET" => SSL.get_or_init(|| {
            let mut v = common();
            v.extend(http_kws());
            v.extend(ssl_kws());
            v
        }),
        "DNS_CHECK" => DNS.get_or_init(|| {
            let mut v = common();
            v.push(Kw::once(
                "type",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(t) = cx.one(n) {
                        let up = t.text.to_ascii_uppercase();
                        if DNS_TYPES.contains(&up.as_str()) {
                            d.x().dns_type = Some(up.to_string());
                        } else {
                            cx.choice(t, DNS_TYPES, "DNS type");
                        }
                    }
                },
            ));
            v.push(Kw::once(
                "name",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| d.x().dns_name = text1(n, cx),
            ));
            v
        }),
        "MISC_CHECK" => MISC.get_or_init(|| {
            let mut v = timing_kws();
            v.push(Kw::once(
                "misc_path",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.x().misc_path = cx.script(n);
                },
            ));
            v.push(Kw::once(
                "misc_timeout",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(t) = cx.one(n) {
                        d.x().misc_timeout = cx.timer(
                            t,
                            Duration::from_millis(1),
                            Duration::from_secs(86_400),
                            "misc_timeout",
                        );
                    }
                },
            ));
            v.push(Kw::once(
                "misc_dynamic",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(f) = cx.flag(n) {
                        d.x().misc_dynamic = f;
                    }
                },
            ));
            v.push(Kw::once(
                "user",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if cx.arity(n, 1, 2) {
                        d.x().user = Some(UserGroup {
                            user: n.args[0].text.to_string(),
                            group: n.args.get(1).map(|t| t.text.to_string()),
                        });
                    }
                },
            ));
            v
        }),
        "SMTP_CHECK" => SMTP.get_or_init(|| {
            let mut v = common();
            v.push(Kw::once(
                "helo_name",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| d.x().helo_name = text1(n, cx),
            ));
            v.push(Kw::many(
                "host",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    // keepalived < 2.3 made one checker per host block; so do we.
                    cx.deprecated(
                        n,
                        "use one SMTP_CHECK per server with connect_ip/connect_port",
                    );
                    if !cx.arity_block(n) {
                        return;
                    }
                    static HOST: std::sync::OnceLock<Vec<Kw<Draft>>> = std::sync::OnceLock::new();
                    let mut h = Draft::default();
                    cx.block(
                        &mut h,
                        n,
                        HOST.get_or_init(connection_kws),
                        "SMTP_CHECK host",
                    );
                    d.x().smtp_hosts.push(h);
                },
            ));
            v
        }),
        "UDP_CHECK" => UDP.get_or_init(|| {
            let mut v = common();
            v.push(Kw::once(
                "payload",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if !cx.arity(n, 1, 256) {
                        return;
                    }
                    let words: Vec<String> = n.args.iter().map(|t| t.text.to_string()).collect();
                    match hex_bytes(&words, false) {
                        Some((b, _)) => d.x().payload = Some(b),
                        None => cx.error(
                            DiagKind::Value,
                            n.args[0].span,
                            "payload is not hexadecimal",
                        ),
                    }
                },
            ));
            v.push(Kw::once(
                "require_reply",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if !cx.arity(n, 0, 256) {
                        return;
                    }
                    if n.args.is_empty() {
                        d.x().require_reply = Some(None);
                        return;
                    }
                    let words: Vec<String> = n.args.iter().map(|t| t.text.to_string()).collect();
                    match hex_bytes(&words, true) {
                        Some((bytes, mask)) => {
                            d.x().require_reply = Some(Some(ReplyPattern { bytes, mask }))
                        }
                        None => cx.error(
                            DiagKind::Value,
                            n.args[0].span,
                            "require_reply is not hexadecimal (X for any nibble)",
                        ),
                    }
                },
            ));
            v.push(Kw::once(
                "min_reply_length",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.x().min_reply_length = cx
                        .one(n)
                        .and_then(|t| cx.u32(t, 0, 65535, "min_reply_length"));
                },
            ));
            v.push(Kw::once(
                "max_reply_length",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.x().max_reply_length = cx
                        .one(n)
                        .and_then(|t| cx.u32(t, 0, 65535, "max_reply_length"));
                },
            ));
            v
        }),
        "FILE_CHECK" => FILE.get_or_init(|| {
            vec![
                Kw::once("track_file", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.x().track_file = text1(n, cx)
                }),
                Kw::once("weight", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if !cx.arity(n, 1, 2) {
                        return;
                    }
                    let Some(w) = cx.int(&n.args[0], -2_147_483_647, 2_147_483_647, "weight")
                    else {
                        return;
                    };
                    let reverse = match n.args.get(1) {
                        None => false,
                        Some(t) if t.text == "reverse" => true,
                        Some(t) => {
                            cx.error(
                                DiagKind::Value,
                                t.span,
                                format!("expected 'reverse', found '{}'", t.text),
                            );
                            return;
                        }
                    };
                    d.x().file_weight = Some((w, reverse));
                }),
                Kw::once("dynamic", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(v) = cx.flag(n) {
                        d.x().dynamic = v;
                    }
                }),
            ]
        }),
        "BFD_CHECK" => BFD.get_or_init(|| {
            vec![
                Kw::once("name", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.x().bfd_name = text1(n, cx)
                }),
                Kw::once("alpha", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.timing.alpha = cx.flag(n)
                }),
            ]
        }),
        // TCP_CHECK and PING_CHECK have only the common options.
        _ => TCP.get_or_init(common),
    }
}

/// A checker block read but not yet resolved against its real server.
pub(super) struct Parsed {
    kw: &'static str,
    span: crate::source::Span,
    d: Draft,
}

impl Parsed {
    /// The `track_file` a FILE_CHECK refers to.
    pub(super) fn track_file(&self) -> Option<&str> {
        self.d.extra().track_file.as_deref()
    }
}

/// Reads a checker block.
pub(super) fn parse(n: &Node, cx: &mut Cx<'_>) -> Option<Parsed> {
    let kw = CHECKERS.iter().copied().find(|k| *k == n.name())?;
    if !cx.arity_block(n) {
        return None;
    }
    let mut d = Draft::default();
    if n.block.is_some() {
        cx.block(&mut d, n, kind_table(kw), kw);
    }
    Some(Parsed {
        kw,
        span: n.keyword.span,
        d,
    })
}

/// Resolves a checker of a real server at `addr`:`port` into `out` (one checker per
/// SMTP `host`; none if it has errors).
#[allow(clippy::too_many_arguments)]
pub(super) fn finish(
    p: &Parsed,
    addr: IpAddr,
    port: u16,
    inherited: Inherited,
    virtualhost: Option<&str>,
    defaults: &CheckDefaults,
    c: &Config,
    cx: &mut Cx<'_>,
    out: &mut Vec<Checker>,
) {
    let kw = p.kw;
    let d = &p.d;
    let x = d.extra();
    let before = cx.diags.error_count();
    let t = d.timing.over(inherited);
    let delay_loop = t.delay_loop.unwrap_or(defaults.vs_delay_loop);
    let (retry_default, dbr_default) = match kw {
        "DNS_CHECK" => (3, delay_loop),
        "MISC_CHECK" => (0, Duration::from_secs(1)),
        "HTTP_GET" | "SSL_GET" => (1, Duration::from_secs(3)),
        _ => (1, Duration::from_secs(1)),
    };
    let timing = CheckTiming {
        delay_loop,
        connect_timeout: t.connect_timeout.unwrap_or(Duration::from_secs(5)),
        retry: t.retry.unwrap_or(retry_default),
        delay_before_retry: t.delay_before_retry.unwrap_or(dbr_default),
        warmup: t.warmup.unwrap_or(delay_loop),
        alpha: t.alpha.unwrap_or(false),
    };
    let connection = Connection {
        addr: d.connect_ip.unwrap_or(addr),
        port: d.connect_port.unwrap_or(port),
        bindto: d.bindto,
        bind_port: d.bind_port,
        bind_if: d.bind_if.clone(),
        fwmark: d.fwmark,
    };
    let needs_port = matches!(
        kw,
        "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "SMTP_CHECK" | "UDP_CHECK" | "DNS_CHECK"
    );
    if needs_port && connection.port == 0 {
        cx.error(
            DiagKind::Arguments,
            p.span,
            format!("{kw} has no port to connect to: the real server has none; add connect_port"),
        );
    }
    let http = |x: &Extra| HttpCheck {
        urls: x.urls.clone(),
        http_protocol: x.http_protocol.unwrap_or(HttpProtocol::Http10),
        virtualhost: x.virtualhost.clone().or(virtualhost.map(String::from)),
        fast_recovery: x.fast_recovery,
        enable_sni: x.enable_sni,
        sni_name: x.sni_name.clone(),
        tls_compliant: x.tls_compliant,
        verify_cert: x.verify_cert,
    };
    let kind = match kw {
        "TCP_CHECK" => CheckerKind::TcpCheck,
        "HTTP_GET" | "SSL_GET" => {
            if x.urls.is_empty() {
                cx.error(
                    DiagKind::Arguments,
                    p.span,
                    format!("{kw} needs at least one url {{ path ... }}"),
                );
            }
            if kw == "HTTP_GET" {
                CheckerKind::HttpGet(http(x))
            } else {
                CheckerKind::SslGet(http(x))
            }
        }
        "DNS_CHECK" => CheckerKind::DnsCheck {
            query_type: x.dns_type.clone().unwrap_or_else(|| "SOA".into()),
            name: x.dns_name.clone().unwrap_or_else(|| ".".into()),
        },
        "MISC_CHECK" => {
            let Some(script) = x.misc_path.clone() else {
                cx.error(DiagKind::Arguments, p.span, "MISC_CHECK needs misc_path");
                return;
            };
            CheckerKind::MiscCheck {
                script: Box::new(script),
                timeout: x.misc_timeout.unwrap_or(delay_loop),
                dynamic: x.misc_dynamic,
                user: x.user.clone(),
            }
        }
        "SMTP_CHECK" => CheckerKind::SmtpCheck {
            helo_name: x
                .helo_name
                .clone()
                .unwrap_or_else(|| "smtpchecker.keepalived.org".into()),
        },
        "UDP_CHECK" => {
            let min = x.min_reply_length.unwrap_or(0);
            let max = x.max_reply_length.unwrap_or(255);
            if min > max {
                cx.error(
                    DiagKind::Conflict,
                    p.span,
                    format!("UDP_CHECK min_reply_length {min} is above max_reply_length {max}"),
                );
            }
            CheckerKind::UdpCheck {
                payload: x.payload.clone(),
                require_reply: x.require_reply.clone(),
                min_reply_length: min,
                max_reply_length: max,
            }
        }
        "PING_CHECK" => CheckerKind::PingCheck,
        "FILE_CHECK" => {
            let Some(tf) = x.track_file.clone() else {
                cx.error(DiagKind::Arguments, p.span, "FILE_CHECK needs track_file");
                return;
            };
            let file = c.track_files.iter().find(|f| f.name == tf);
            if file.is_none() {
                cx.error(
                    DiagKind::UnknownReference,
                    p.span,
                    format!("FILE_CHECK refers to track_file '{tf}', which is not defined"),
                );
            }
            // Without a weight of its own (or with weight 0) a FILE_CHECK takes the
            // track_file's weight and reverse flag (keepalived `file_end_handler`).
            let (weight, reverse) = match x.file_weight {
                Some((w, r)) if w != 0 => (w, r),
                _ => file.map_or((1, false), |f| (i64::from(f.weight), f.reverse)),
            };
            CheckerKind::FileCheck {
                track_file: tf,
                weight,
                reverse,
                dynamic: x.dynamic,
            }
        }
        _ => {
            let Some(name) = x.bfd_name.clone() else {
                cx.error(DiagKind::Arguments, p.span, "BFD_CHECK needs name");
                return;
            };
            CheckerKind::BfdCheck { name }
        }
    };
    if cx.diags.error_count() > before {
        return;
    }
    let has_conn = !matches!(kw, "MISC_CHECK" | "FILE_CHECK" | "BFD_CHECK");
    let one = Checker {
        kind,
        connection: has_conn.then_some(connection),
        timing,
        log_all_failures: d.log_all_failures,
        span: p.span,
    };
    if x.smtp_hosts.is_empty() {
        out.push(one);
        return;
    }
    out.extend(x.smtp_hosts.iter().map(|h| {
        let mut c = one.clone();
        if let Some(conn) = c.connection.as_mut() {
            conn.addr = h.connect_ip.unwrap_or(conn.addr);
            conn.port = h.connect_port.unwrap_or(conn.port);
            conn.bindto = h.bindto.or(conn.bindto);
            conn.bind_port = h.bind_port.or(conn.bind_port);
            conn.bind_if = h.bind_if.clone().or(conn.bind_if.take());
            conn.fwmark = h.fwmark.or(conn.fwmark);
        }
        if let Some(t) = h.timing.connect_timeout {
            c.timing.connect_timeout = t;
        }
        c
    }));
}
