//! `virtual_server`, `real_server`, `virtual_server_group` and `SSL`.

use std::net::IpAddr;
use std::time::Duration;

mod finish;
mod group;

pub(in crate::lower) use group::virtual_server_group;

use super::checker;
use super::cx::{Cx, Kw};
use super::text1;
use crate::diag::DiagKind;
use crate::model::{
    Config, Family, Forwarding, Protocol, SchedFlags, Script, SslContext, TunnelCsum, TunnelType,
    VsKey,
};
use crate::source::Span;
use crate::tree::{Node, Token};

/// IPVS schedulers keepalived knows.
pub(super) const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
];
/// Longest connection timeout IPVS accepts (31 days).
const LVS_MAX_TIMEOUT: u32 = 86_400 * 31;
const WEIGHT_MAX: u32 = i32::MAX as u32;

/// Checker timing settings inherited from a virtual or real server.
#[derive(Default, Clone, Copy)]
pub(super) struct Inherited {
    pub delay_loop: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub warmup: Option<Duration>,
    pub alpha: Option<bool>,
}

impl Inherited {
    pub(super) fn over(self, parent: Inherited) -> Inherited {
        Inherited {
            delay_loop: self.delay_loop.or(parent.delay_loop),
            connect_timeout: self.connect_timeout.or(parent.connect_timeout),
            retry: self.retry.or(parent.retry),
            delay_before_retry: self.delay_before_retry.or(parent.delay_before_retry),
            warmup: self.warmup.or(parent.warmup),
            alpha: self.alpha.or(parent.alpha),
        }
    }
}

/// `lvs_method NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`.
pub(super) fn forwarding(n: &Node, cx: &mut Cx<'_>) -> Option<Forwarding> {
    if !cx.arity(n, 1, 6) {
        return None;
    }
    let m = cx.choice(&n.args[0], &["NAT", "DR", "TUN"], "forwarding method")?;
    let rest = &n.args[1..];
    match m {
        "NAT" | "DR" => {
            if let Some(extra) = rest.first() {
                cx.error(
                    DiagKind::Arguments,
                    extra.span,
                    format!("{m} takes no options, found '{}'", extra.text),
                );
                return None;
            }
            Some(if m == "NAT" {
                Forwarding::Nat
            } else {
                Forwarding::Dr
            })
        }
        _ => {
            let mut tun_type = TunnelType::Ipip;
            let mut port = None;
            let mut csum = None;
            let mut i = 0;
            while i < rest.len() {
                let w = &rest[i];
                match w.text.as_str() {
                    "type" => {
                        let Some(t) = rest.get(i + 1) else {
                            cx.error(DiagKind::Arguments, w.span, "'type' needs ipip, gue or gre");
                            return None;
                        };
                        tun_type = match cx.choice(t, &["ipip", "gue", "gre"], "tunnel type")? {
                            "ipip" => TunnelType::Ipip,
                            "gue" => TunnelType::Gue,
                            _ => TunnelType::Gre,
                        };
                        i += 2;
                    }
                    "port" => {
                        let Some(p) = rest.get(i + 1) else {
                            cx.error(DiagKind::Arguments, w.span, "'port' needs a number");
                            return None;
                        };
                        port = Some(cx.u16(p, 1, 65535, "tunnel port")?);
                        i += 2;
                    }
                    "nocsum" => {
                        csum = Some(TunnelCsum::Nocsum);
                        i += 1;
                    }
                    "csum" => {
                        csum = Some(TunnelCsum::Csum);
                        i += 1;
                    }
                    "remcsum" => {
                        csum = Some(TunnelCsum::Remcsum);
                        i += 1;
                    }
                    other => {
                        cx.error(
                            DiagKind::Value,
                            w.span,
                            format!("unknown tunnel option '{other}' (type, port, nocsum, csum, remcsum)"),
                        );
                        return None;
                    }
                }
            }
            match (tun_type, port) {
                (TunnelType::Gue, None) => {
                    cx.error(DiagKind::Arguments, n.span(), "a GUE tunnel needs 'port N'");
                    return None;
                }
                (TunnelType::Ipip | TunnelType::Gre, Some(_)) => {
                    cx.error(
                        DiagKind::Conflict,
                        n.span(),
                        "only a GUE tunnel takes a port",
                    );
                    return None;
                }
                _ => {}
            }
            if tun_type == TunnelType::Gre && csum == Some(TunnelCsum::Remcsum) {
                cx.error(
                    DiagKind::Conflict,
                    n.span(),
                    "a GRE tunnel cannot use remcsum",
                );
                return None;
            }
            if tun_type == TunnelType::Ipip && csum.is_some() {
                cx.error(
                    DiagKind::Conflict,
                    n.span(),
                    "an ipip tunnel takes no checksum option",
                );
                return None;
            }
            Some(Forwarding::Tun {
                tun_type,
                port,
                csum,
            })
        }
    }
}

pub(in crate::lower) struct VsDraft {
    key: VsKey,
    span: Span,
    protocol: Option<Protocol>,
    ip_family: Option<Family>,
    scheduler: Option<String>,
    sched_flags: SchedFlags,
    forwarding: Option<Forwarding>,
    persistence_timeout: Option<u32>,
    persistence_granularity: Option<(String, Span)>,
    persistence_engine: Option<String>,
    timing: Inherited,
    inhibit_on_failure: bool,
    omega: bool,
    ha_suspend: bool,
    quorum: Option<(u32, Span)>,
    hysteresis: Option<u32>,
    quorum_up: Option<Script>,
    quorum_down: Option<Script>,
    sorry: Option<(IpAddr, Option<u16>, Span)>,
    sorry_inhibit: bool,
    sorry_forwarding: Option<Forwarding>,
    virtualhost: Option<String>,
    smtp_alert: Option<bool>,
    snmp_name: Option<String>,
    track_instance: Option<(String, crate::source::Span)>,
    drain_timeout: Option<Duration>,
    weight: Option<u32>,
    real_servers: Vec<RsDraft>,
}

struct RsDraft {
    addr: IpAddr,
    port: Option<(u16, Span)>,
    span: Span,
    weight: Option<u32>,
    forwarding: Option<Forwarding>,
    inhibit_on_failure: Option<bool>,
    uthreshold: u32,
    lthreshold: u32,
    // Boxed as in the model: rare, and large next to the rest of a real server.
    notify_up: Option<Box<Script>>,
    notify_down: Option<Box<Script>>,
    smtp_alert: Option<bool>,
    virtualhost: Option<String>,
    snmp_name: Option<String>,
    timing: Inherited,
    checkers: Vec<checker::Parsed>,
}

fn vs_key(n: &Node, cx: &mut Cx<'_>) -> Option<VsKey> {
    match n.args.as_slice() {
        [] => {
            cx.error(
                DiagKind::Arguments,
                n.keyword.span,
                "virtual_server needs IP PORT, 'fwmark N' or 'group NAME'",
            );
            None
        }
        [k, v] if k.text == "group" => Some(VsKey::Group {
            name: v.text.to_string(),
        }),
        [k, v] if k.text == "fwmark" => cx
            .u32(v, 1, u32::MAX, "fwmark")
            .map(|mark| VsKey::Fwmark { mark }),
        [a] => cx
            .ip(a, "virtual server address")
            .map(|addr| VsKey::Addr { addr, port: 0 }),
        [a, p] => {
            let addr = cx.ip(a, "virtual server address");
            let port = cx.u16(p, 0, 65535, "virtual server port");
            Some(VsKey::Addr {
                addr: addr?,
                port: port?,
            })
        }
        [_, _, extra, ..] => {
            cx.error(
                DiagKind::Arguments,
                extra.span,
                format!(
                    "virtual_server takes IP PORT, 'fwmark N' or 'group NAME'; '{}' is too many",
                    extra.text
                ),
            );
            None
        }
    }
}

macro_rules! vs_timer {
    ($field:ident, $min:expr) => {
        |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(t) = cx.one(n) {
                d.timing.$field = cx.timer(t, $min, Duration::from_secs(86_400), n.name());
            }
        }
    };
}

macro_rules! vs_flag {
    ($($field:ident).+) => {
        |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(v) = cx.flag(n) {
                d.$($field).+ = v;
            }
        }
    };
}

fn vs_table() -> &'static [Kw<VsDraft>] {
    static T: std::sync::OnceLock<Vec<Kw<VsDraft>>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        vec![
            Kw::once("ip_family", |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(t) = cx.one(n) {
                    d.ip_family = cx.choice(t, &["inet", "inet6"], "ip_family").map(|f| {
                        if f == "inet" {
                            Family::Inet
                        } else {
                            Family::Inet6
                        }
                    });
                }
            }),
            Kw::alias(
                "retry",
                "retry",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.timing.retry = cx.one(n).and_then(|t| cx.u32(t, 0, u32::MAX, "retry"));
                },
            ),
            Kw::once(
                "delay_before_retry",
                vs_timer!(delay_before_retry, Duration::ZERO),
            ),
            Kw::once("warmup", vs_timer!(warmup, Duration::ZERO)),
            Kw::once(
                "connect_timeout",
                vs_timer!(connect_timeout, Duration::from_millis(1)),
            ),
            Kw::once(
                "delay_loop",
                vs_timer!(delay_loop, Duration::from_millis(1)),
            ),
            Kw::once("inhibit_on_failure", vs_flag!(inhibit_on_failure)),
            Kw::alias("lvs_sched", "lvs_sched", sched),
            Kw::alias("lb_algo", "lvs_sched", sched),
            Kw::once("hashed", |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                cx.deprecated(n, "IPVS ignores it");
                if let Some(v) = cx.flag(n) {
                    d.sched_flags.hashed = v;
                }
            }),
            Kw::once("ops", vs_flag!(sched_flags.ops)),
            Kw::once("flag-1", vs_flag!(sched_flags.flag_1)),
            Kw::once("flag-2", vs_flag!(sched_flags.flag_2)),
            Kw::once("flag-3", vs_flag!(sched_flags.flag_3)),
            Kw::once("sh-port", vs_flag!(sched_flags.sh_port)),
            Kw::once("sh-fallback", vs_flag!(sched_flags.sh_fallback)),
            Kw::once("mh-port", vs_flag!(sched_flags.mh_port)),
            Kw::once("mh-fallback", vs_flag!(sched_flags.mh_fallback)),
            Kw::alias(
                "lvs_method",
                "lvs_method",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.forwarding = forwarding(n, cx);
                },
            ),
            Kw::alias(
                "lb_kind",
                "lvs_method",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.forwarding = forwarding(n, cx);
                },
            ),
            Kw::once(
                "persistence_engine",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.persistence_engine = text1(n, cx);
                },
            ),
            Kw::once(
                "persistence_timeout",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    if !cx.arity(n, 0, 1) {
                        return;
                    }
                    d.persistence_timeout = match n.args.first() {
                        None => Some(360),
                        Some(t) => cx.u32(t, 1, LVS_MAX_TIMEOUT, "persistence_timeout"),
                    };
                },
            ),
            Kw::once(
                "persistence_granularity",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(t) = cx.one(n) {
                        d.persistence_granularity = Some((t.text.to_string(), t.span));
                    }
                },
            ),
            Kw::once("protocol", |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(t) = cx.one(n) {
                    d.protocol =
                        cx.choice(t, &["TCP", "UDP", "SCTP"], "protocol")
                            .map(|p| match p {
                                "TCP" => Protocol::Tcp,
                                "UDP" => Protocol::Udp,
                                _ => Protocol::Sctp,
                            });
                }
            }),
            Kw::once("ha_suspend", vs_flag!(ha_suspend)),
            Kw::once(
                "smtp_alert",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.smtp_alert = cx.flag(n);
                },
            ),
            Kw::once(
                "virtualhost",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.virtualhost = text1(n, cx);
                },
            ),
            Kw::once(
                "track_instance",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.track_instance = cx.one(n).map(|t| (t.text.to_string(), t.span));
                },
            ),
            Kw::once(
                "drain_timeout",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(t) = cx.one(n) {
                        d.drain_timeout = cx.timer(
                            t,
                            Duration::ZERO,
                            Duration::from_secs(86_400),
                            "drain_timeout",
                        );
                    }
                },
            ),
            Kw::once("snmp_name", |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                d.snmp_name = text1(n, cx);
            }),
            Kw::once("alpha", |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                d.timing.alpha = cx.flag(n);
            }),
            Kw::once("omega", vs_flag!(omega)),
            Kw::once("quorum_up", |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                d.quorum_up = cx.script(n);
            }),
            Kw::once(
                "quorum_down",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.quorum_down = cx.script(n);
                },
            ),
            Kw::once("quorum", |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(t) = cx.one(n) {
                    d.quorum = cx.u32(t, 1, WEIGHT_MAX, "quorum").map(|q| (q, t.span));
                }
            }),
            Kw::once(
                "hysteresis",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.hysteresis = cx
                        .one(n)
                        .and_then(|t| cx.u32(t, 0, WEIGHT_MAX, "hysteresis"));
                },
            ),
            Kw::once("weight", |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                d.weight = cx.one(n).and_then(|t| cx.u32(t, 0, WEIGHT_MAX, "weight"));
            }),
            Kw::once(
                "sorry_server",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    if !cx.arity(n, 1, 2) {
                        return;
                    }
                    let addr = cx.ip(&n.args[0], "sorry_server address");
                    let port = match n.args.get(1) {
                        Some(p) => match cx.u16(p, 0, 65535, "sorry_server port") {
                            Some(p) => Some(p),
                            None => return,
                        },
                        None => None,
                    };
                    if let Some(a) = addr {
                        d.sorry = Some((a, port, n.args[0].span));
                    }
                },
            ),
            Kw::once("sorry_server_inhibit", vs_flag!(sorry_inhibit)),
            Kw::once(
                "sorry_server_lvs_method",
                |d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.sorry_forwarding = forwarding(n, cx);
                },
            ),
            Kw::many("real_server", real_server),
        ]
    })
}

fn sched(d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>) {
    if let Some(t) = cx.one(n) {
        d.scheduler = cx.choice(t, SCHEDULERS, "scheduler").map(String::from);
    }
}

fn real_server(d: &mut VsDraft, n: &Node, cx: &mut Cx<'_>) {
    let (addr_t, port_t): (&Token, Option<&Token>) = match n.args.as_slice() {
        [a] => (a, None),
        [a, p] => (a, Some(p)),
        [] => {
            cx.error(
                DiagKind::Arguments,
                n.keyword.span,
                "real_server needs IP [PORT]",
            );
            return;
        }
        [_, _, extra, ..] => {
            cx.error(
                DiagKind::Arguments,
                extra.span,
                format!("real_server takes IP [PORT]; '{}' is too many", extra.text),
            );
            return;
        }
    };
    let Some(addr) = cx.ip(addr_t, "real server address") else {
        return;
    };
    let port = match port_t {
        Some(p) => match cx.u16(p, 0, 65535, "real server port") {
            Some(v) => Some((v, p.span)),
            None => return,
        },
        None => None,
    };
    let mut r = RsDraft {
        addr,
        port,
        span: addr_t.span,
        weight: None,
        forwarding: None,
        inhibit_on_failure: None,
        uthreshold: 0,
        lthreshold: 0,
        notify_up: None,
        notify_down: None,
        smtp_alert: None,
        virtualhost: None,
        snmp_name: None,
        timing: Inherited::default(),
        // Sized up front: most real servers have one checker, and a vector grown from
        // empty keeps room for four.
        checkers: Vec::with_capacity(count(n, |k| checker::CHECKERS.contains(&k))),
    };
    if n.block.is_some() {
        cx.block(&mut r, n, rs_table(), RsWhat(&addr_t.text));
    }
    d.real_servers.push(r);
}

macro_rules! rs_timer {
    ($field:ident, $min:expr) => {
        |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(t) = cx.one(n) {
                r.timing.$field = cx.timer(t, $min, Duration::from_secs(86_400), n.name());
            }
        }
    };
}

fn rs_table() -> &'static [Kw<RsDraft>] {
    static T: std::sync::OnceLock<Vec<Kw<RsDraft>>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut t: Vec<Kw<RsDraft>> = vec![
            Kw::once("weight", |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                r.weight = cx.one(n).and_then(|t| cx.u32(t, 0, WEIGHT_MAX, "weight"));
            }),
            Kw::once(
                "lvs_method",
                |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                    r.forwarding = forwarding(n, cx);
                },
            ),
            Kw::once(
                "uthreshold",
                |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(v) = cx.one(n).and_then(|t| cx.u32(t, 0, u32::MAX, "uthreshold")) {
                        r.uthreshold = v;
                    }
                },
            ),
            Kw::once(
                "lthreshold",
                |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(v) = cx.one(n).and_then(|t| cx.u32(t, 0, u32::MAX, "lthreshold")) {
                        r.lthreshold = v;
                    }
                },
            ),
            Kw::once(
                "inhibit_on_failure",
                |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                    r.inhibit_on_failure = cx.flag(n);
                },
            ),
            Kw::once("notify_up", |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                r.notify_up = cx.script(n).map(Box::new);
            }),
            Kw::once(
                "notify_down",
                |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                    r.notify_down = cx.script(n).map(Box::new);
                },
            ),
            Kw::once("alpha", |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                r.timing.alpha = cx.flag(n);
            }),
            Kw::once("retry", |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                r.timing.retry = cx.one(n).and_then(|t| cx.u32(t, 0, u32::MAX, "retry"));
            }),
            Kw::once(
                "delay_before_retry",
                rs_timer!(delay_before_retry, Duration::ZERO),
            ),
            Kw::once("warmup", rs_timer!(warmup, Duration::ZERO)),
            Kw::once(
                "connect_timeout",
                rs_timer!(connect_timeout, Duration::from_millis(1)),
            ),
            Kw::once(
                "delay_loop",
                rs_timer!(delay_loop, Duration::from_millis(1)),
            ),
            Kw::once(
                "smtp_alert",
                |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                    r.smtp_alert = cx.flag(n);
                },
            ),
            Kw::once(
                "virtualhost",
                |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                    r.virtualhost = text1(n, cx);
                },
            ),
            Kw::once("snmp_name", |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                r.snmp_name = text1(n, cx);
            }),
        ];
        for name in checker::CHECKERS {
            // Checkers are resolved once the real server's defaults are known.
            t.push(Kw::many(
                name,
                |r: &mut RsDraft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(p) = checker::parse(n, cx) {
                        r.checkers.push(p);
                    }
                },
            ));
        }
        t
    })
}

/// `virtual_server KEY` in diagnostics, formatted only when one needs it.
pub(super) struct What(VsKey);

impl std::fmt::Display for What {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "virtual_server {}", self.0)
    }
}

/// `real_server ADDR` in diagnostics, formatted only when one needs it.
struct RsWhat<'a>(&'a str);

impl std::fmt::Display for RsWhat<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "real_server {}", self.0)
    }
}

/// How many statements of `n`'s block have a keyword `is`.
fn count(n: &Node, is: impl Fn(&str) -> bool) -> usize {
    n.children().iter().filter(|c| is(c.name())).count()
}

/// Words joined by spaces, formatted only when a diagnostic needs them.
struct DisplayWords<I>(I);

impl<'w, I: Iterator<Item = &'w str> + Clone> std::fmt::Display for DisplayWords<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("virtual_server")?;
        for w in self.0.clone() {
            write!(f, " {w}")?;
        }
        Ok(())
    }
}

/// Reads a `virtual_server` block; it is completed by [`finish_draft`] once the whole
/// configuration has been read.
pub(in crate::lower) fn parse(n: &Node, cx: &mut Cx<'_>) -> Option<VsDraft> {
    // A bad header still has its block read, so every problem in it is reported.
    let key = vs_key(n, cx);
    let valid = key.is_some();
    let key = key.unwrap_or(VsKey::Fwmark { mark: 0 });
    let mut d = VsDraft {
        key,
        span: n.args.first().map(|t| t.span).unwrap_or(n.keyword.span),
        protocol: None,
        ip_family: None,
        scheduler: None,
        sched_flags: SchedFlags::default(),
        forwarding: None,
        persistence_timeout: None,
        persistence_granularity: None,
        persistence_engine: None,
        timing: Inherited::default(),
        inhibit_on_failure: false,
        omega: false,
        ha_suspend: false,
        quorum: None,
        hysteresis: None,
        quorum_up: None,
        quorum_down: None,
        sorry: None,
        sorry_inhibit: false,
        sorry_forwarding: None,
        virtualhost: None,
        smtp_alert: None,
        snmp_name: None,
        track_instance: None,
        drain_timeout: None,
        weight: None,
        real_servers: Vec::with_capacity(count(n, |k| k == "real_server")),
    };
    // The header as written names the block in diagnostics.
    let header = n.args.iter().map(|t| t.text.as_str());
    cx.block(&mut d, n, vs_table(), DisplayWords(header));
    (n.block.is_some() && valid).then_some(d)
}

/// The `smtp_alert` settings of virtual servers completed before `global_defs` was
/// read, whose defaults ignore it: those not set in the server's own block take the
/// global default once it is known ([`SmtpLater::apply`]).
#[derive(Debug, Default)]
pub(in crate::lower) struct SmtpLater {
    /// `(virtual server index, 1 + real server index, or 0 for the virtual server)` of
    /// every `smtp_alert` written in a block, in the order `finish` meets them: by
    /// virtual server, its real servers first.
    own: Vec<(u32, u32)>,
}

impl SmtpLater {
    /// Applies `global_defs`' default to the first `upto` virtual servers.
    pub(in crate::lower) fn apply(&self, c: &mut Config, upto: usize) {
        let g = &c.global;
        let Some(default) = g.smtp_alert_checker.or(g.smtp_alert) else {
            // The defaults used when they were completed were right.
            return;
        };
        let mut own = self.own.iter().copied().peekable();
        for (i, vs) in c.virtual_servers.iter_mut().take(upto).enumerate() {
            let i = i as u32;
            let mut is_own = |j: u32| own.next_if_eq(&(i, j)).is_some();
            for (j, rs) in vs.real_servers.iter_mut().enumerate() {
                if !is_own(j as u32 + 1) {
                    rs.smtp_alert = default;
                }
            }
            if !is_own(0) {
                vs.smtp_alert = default;
            }
        }
    }
}

/// Completes a virtual server read by [`parse`]; returns whether it was added. `early`
/// is given while `global_defs` is not known yet.
pub(in crate::lower) fn finish_draft(
    d: VsDraft,
    c: &mut Config,
    cx: &mut Cx<'_>,
    early: Option<&mut SmtpLater>,
) -> bool {
    let what = What(d.key.clone());
    match finish::finish(d, c, &what, cx, early) {
        Some(vs) => {
            c.virtual_servers.push(vs);
            true
        }
        None => false,
    }
}

/// Whether everything a virtual server refers to (its group, the track files of its
/// FILE_CHECKs) is already defined, so it can be completed now.
pub(in crate::lower) fn ready(d: &VsDraft, c: &Config) -> bool {
    let group_ok = match &d.key {
        VsKey::Group { name } => c.virtual_server_groups.iter().any(|g| &g.name == name),
        _ => true,
    };
    group_ok
        && d.real_servers.iter().all(|r| {
            r.checkers.iter().all(|p| {
                p.track_file()
                    .is_none_or(|tf| c.track_files.iter().any(|f| f.name == tf))
            })
        })
}

pub(super) fn ssl(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    if !cx.arity_block(n) {
        return;
    }
    let mut s = SslContext::default();
    let table: &[Kw<SslContext>] = &[
        Kw::once(
            "password",
            |s: &mut SslContext, n: &Node, cx: &mut Cx<'_>| s.password = text1(n, cx),
        ),
        Kw::once("ca", |s: &mut SslContext, n: &Node, cx: &mut Cx<'_>| {
            s.ca = text1(n, cx)
        }),
        Kw::once(
            "certificate",
            |s: &mut SslContext, n: &Node, cx: &mut Cx<'_>| s.certificate = text1(n, cx),
        ),
        Kw::once("key", |s: &mut SslContext, n: &Node, cx: &mut Cx<'_>| {
            s.key = text1(n, cx)
        }),
    ];
    cx.block(&mut s, n, table, "SSL");
    c.ssl = Some(s);
}
