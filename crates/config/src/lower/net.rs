//! Addresses, routes and rules in `ip` syntax, and the interface-level blocks.

use std::time::Duration;

use super::cx::Cx;
use super::value_lines;
use crate::diag::DiagKind;
use crate::model::{
    Broadcast, Config, Family, InterfaceDelay, IpPrefix, Lifetime, LinkbeatInterface, Nexthop,
    Route, RouteOption, Rule, VirtualAddress,
};
use crate::tree::{Node, Token};

/// Where an address line is written: some options only apply in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AddrUse {
    /// `static_ipaddress`: `track_group` allowed.
    Static,
    /// `virtual_ipaddress`: `use_vmac` allowed.
    Vip,
    /// `virtual_ipaddress_excluded`.
    Excluded,
}

const SCOPES: &[&str] = &["global", "site", "link", "host", "nowhere", "universe"];

fn need_value<'t>(cx: &mut Cx<'_>, words: &[&'t Token], i: usize) -> Option<&'t Token> {
    match words.get(i + 1) {
        Some(t) => Some(*t),
        None => {
            cx.error(
                DiagKind::Arguments,
                words[i].span,
                format!("'{}' needs a value", words[i].text),
            );
            None
        }
    }
}

/// Parses `IP[/LEN] [brd X] [dev IF] [scope S] [label L] [peer P] [home] [-nodad]
/// [mngtmpaddr] [noprefixroute] [autojoin] [no_track] [preferred_lft N|forever]
/// [use_vmac] [track_group G]`.
pub(super) fn address(words: &[&Token], usage: AddrUse, cx: &mut Cx<'_>) -> Option<VirtualAddress> {
    let first = words.first()?;
    let prefix = cx.prefix(first, "address")?;
    let mut a = VirtualAddress {
        prefix,
        broadcast: None,
        dev: None,
        scope: None,
        label: None,
        peer: None,
        home: false,
        nodad: false,
        mngtmpaddr: false,
        noprefixroute: false,
        autojoin: false,
        no_track: false,
        preferred_lft: None,
        use_vmac: false,
        track_group: None,
        span: first.span,
    };
    let v6 = prefix.family() == Family::Inet6;
    let mut ok = true;
    let mut i = 1;
    while i < words.len() {
        let w = words[i];
        let mut takes = true;
        match w.text.as_str() {
            "brd" | "broadcast" => {
                let v = need_value(cx, words, i)?;
                if v6 {
                    cx.error(
                        DiagKind::Conflict,
                        w.span,
                        "an IPv6 address has no broadcast address",
                    );
                    ok = false;
                }
                a.broadcast = match v.text.as_str() {
                    "+" => Some(Broadcast::HostBitsSet),
                    "-" => Some(Broadcast::HostBitsCleared),
                    _ => match v.text.parse::<std::net::Ipv4Addr>() {
                        Ok(b) => Some(Broadcast::Address(b.into())),
                        Err(_) => {
                            cx.error(
                                DiagKind::Value,
                                v.span,
                                format!(
                                    "broadcast '{}' is not an IPv4 address, '+' or '-'",
                                    v.text
                                ),
                            );
                            ok = false;
                            None
                        }
                    },
                };
            }
            "dev" => a.dev = Some(need_value(cx, words, i)?.text.to_string()),
            "scope" => {
                let v = need_value(cx, words, i)?;
                if v6 {
                    cx.error(DiagKind::Conflict, w.span, "an IPv6 address takes no scope");
                    ok = false;
                } else if SCOPES.contains(&v.text.as_str()) || v.text.parse::<u8>().is_ok() {
                    a.scope = Some(v.text.to_string());
                } else {
                    cx.choice(v, SCOPES, "scope");
                    ok = false;
                }
            }
            "label" => {
                let v = need_value(cx, words, i)?;
                if v6 {
                    cx.error(DiagKind::Conflict, w.span, "an IPv6 address takes no label");
                    ok = false;
                } else if v.text.len() >= 16 {
                    cx.error(
                        DiagKind::Value,
                        v.span,
                        format!("label '{}' is longer than 15 characters", v.text),
                    );
                    ok = false;
                } else {
                    a.label = Some(v.text.to_string());
                }
            }
            "peer" => {
                let v = need_value(cx, words, i)?;
                match cx.prefix(v, "peer") {
                    Some(p) if p.family() == prefix.family() => a.peer = Some(p),
                    Some(_) => {
                        cx.error(
                            DiagKind::Conflict,
                            v.span,
                            "peer address family differs from the address",
                        );
                        ok = false;
                    }
                    None => ok = false,
                }
            }
            "preferred_lft" => {
                let v = need_value(cx, words, i)?;
                a.preferred_lft = if v.text == "forever" {
                    Some(Lifetime::Forever)
                } else {
                    match cx.u32(v, 0, u32::MAX, "preferred_lft") {
                        Some(s) => Some(Lifetime::Seconds(s)),
                        None => {
                            ok = false;
                            None
                        }
                    }
                };
            }
            "track_group" if usage == AddrUse::Static => {
                a.track_group = Some(need_value(cx, words, i)?.text.to_string())
            }
            other => {
                takes = false;
                match other {
                    "home" => a.home = true,
                    "-nodad" | "nodad" => a.nodad = true,
                    "mngtmpaddr" => a.mngtmpaddr = true,
                    "noprefixroute" => a.noprefixroute = true,
                    "autojoin" => a.autojoin = true,
                    "no_track" => a.no_track = true,
                    "use_vmac" if usage == AddrUse::Vip => a.use_vmac = true,
                    _ => {
                        let known: &[&str] = &[
                            "brd",
                            "broadcast",
                            "dev",
                            "scope",
                            "label",
                            "peer",
                            "home",
                            "-nodad",
                            "mngtmpaddr",
                            "noprefixroute",
                            "autojoin",
                            "no_track",
                            "preferred_lft",
                            "use_vmac",
                            "track_group",
                        ];
                        let mut d = crate::diag::Diagnostic::error(
                            DiagKind::Value,
                            w.span,
                            format!("unknown address option '{other}' for {}", first.text),
                        );
                        if let Some(s) = super::cx::suggest(other, known.iter().copied()) {
                            d = d.with_help(format!("did you mean '{s}'?"));
                        }
                        cx.push(d);
                        // What follows an unknown option cannot be read reliably.
                        return None;
                    }
                }
            }
        }
        i += if takes { 2 } else { 1 };
    }
    if a.broadcast.is_some() && a.peer.is_some() {
        cx.error(
            DiagKind::Conflict,
            first.span,
            "an address cannot have both a broadcast and a peer",
        );
        ok = false;
    }
    if matches!(
        a.broadcast,
        Some(Broadcast::HostBitsSet | Broadcast::HostBitsCleared)
    ) && prefix.len > 30
    {
        cx.error(
            DiagKind::Conflict,
            first.span,
            format!("prefix /{} is too long for a '+'/'-' broadcast", prefix.len),
        );
        ok = false;
    }
    if a.peer.is_some() && prefix.len != if v6 { 128 } else { 32 } {
        cx.error(
            DiagKind::Conflict,
            first.span,
            "give the prefix length on the peer, not on the address",
        );
        ok = false;
    }
    ok.then_some(a)
}

/// All address lines of a value block.
pub(super) fn address_block(n: &Node, usage: AddrUse, cx: &mut Cx<'_>) -> Vec<VirtualAddress> {
    let Some(lines) = value_lines(n, cx) else {
        return Vec::new();
    };
    lines
        .iter()
        .filter_map(|words| address(words, usage, cx))
        .collect()
}

pub(super) fn static_ipaddress(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    let v = address_block(n, AddrUse::Static, cx);
    c.static_ipaddress.extend(v);
}

pub(super) fn static_routes(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    if let Some(lines) = value_lines(n, cx) {
        for words in lines {
            if let Some(r) = route(&words, true, cx) {
                c.static_routes.push(r);
            }
        }
    }
}

pub(super) fn static_rules(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    if let Some(lines) = value_lines(n, cx) {
        for words in lines {
            if let Some(r) = rule(&words, true, cx) {
                c.static_rules.push(r);
            }
        }
    }
}

const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "local",
    "broadcast",
    "multicast",
    "throw",
    "unreachable",
    "prohibit",
    "blackhole",
    "nat",
    "anycast",
];
/// Route options that take one argument (metrics may be preceded by `lock`).
const ROUTE_ARGS: &[&str] = &[
    "as",
    "advmss",
    "congctl",
    "cwnd",
    "expires",
    "features",
    "hoplimit",
    "initcwnd",
    "initrwnd",
    "mtu",
    "oif",
    "pref",
    "quickack",
    "realms",
    "reordering",
    "rto_min",
    "rtt",
    "rttvar",
    "ssthresh",
    "tos",
    "ttl-propagate",
    "vrf",
    "window",
    "fastopen_no_cookie",
    "dsfield",
    "weight",
];
const ROUTE_FLAGS: &[&str] = &["append", "prepend", "add", "inet", "inet6"];

/// Parses an `ip route` line.
pub(super) fn route(words: &[&Token], is_static: bool, cx: &mut Cx<'_>) -> Option<Route> {
    let span = words.first()?.span;
    let mut r = Route {
        route_type: None,
        dst: None,
        family: Family::Inet,
        src: None,
        from: None,
        via: None,
        or_via: None,
        dev: None,
        table: None,
        metric: None,
        scope: None,
        protocol: None,
        onlink: false,
        nexthops: Vec::new(),
        options: Vec::new(),
        no_track: false,
        track_group: None,
        span,
    };
    let mut have_dst = false;
    let mut forced_v6 = false;
    let mut ok = true;
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let t = w.text.as_str();
        let mut step = 1;
        match t {
            "src" => {
                r.src = {
                    let v = need_value(cx, words, i)?;
                    cx.ip(v, "route src")
                };
                step = 2;
            }
            "from" => {
                r.from = {
                    let v = need_value(cx, words, i)?;
                    cx.prefix(v, "route from")
                };
                step = 2;
            }
            "via" | "gw" => {
                let mut v = need_value(cx, words, i)?;
                step = 2;
                // `via inet6 ADDR` names the family explicitly.
                if (v.text == "inet" || v.text == "inet6") && i + 2 < words.len() {
                    v = words[i + 2];
                    step = 3;
                }
                r.via = cx.ip(v, "route via");
            }
            "or" => {
                r.or_via = {
                    let v = need_value(cx, words, i)?;
                    cx.ip(v, "route or")
                };
                step = 2;
            }
            "dev" => {
                r.dev = Some(need_value(cx, words, i)?.text.to_string());
                step = 2;
            }
            "table" => {
                r.table = Some(need_value(cx, words, i)?.text.to_string());
                step = 2;
            }
            "metric" | "priority" | "preference" => {
                r.metric = {
                    let v = need_value(cx, words, i)?;
                    cx.u32(v, 0, u32::MAX, "route metric")
                };
                step = 2;
            }
            "scope" => {
                r.scope = Some(need_value(cx, words, i)?.text.to_string());
                step = 2;
            }
            "protocol" | "proto" => {
                r.protocol = Some(need_value(cx, words, i)?.text.to_string());
                step = 2;
            }
            "onlink" => r.onlink = true,
            "no_track" => r.no_track = true,
            "track_group" if is_static => {
                r.track_group = Some(need_value(cx, words, i)?.text.to_string());
                step = 2;
            }
            "nexthop" => {
                let mut nh = Nexthop {
                    via: None,
                    dev: None,
                    weight: None,
                    onlink: false,
                };
                let mut j = i + 1;
                while j < words.len() && words[j].text != "nexthop" {
                    match words[j].text.as_str() {
                        "via" | "gw" => {
                            nh.via = {
                                let v = need_value(cx, words, j)?;
                                cx.ip(v, "nexthop via")
                            };
                            j += 2;
                        }
                        "dev" => {
                            nh.dev = Some(need_value(cx, words, j)?.text.to_string());
                            j += 2;
                        }
                        "weight" => {
                            nh.weight = {
                                let v = need_value(cx, words, j)?;
                                cx.u32(v, 1, 256, "nexthop weight")
                            };
                            j += 2;
                        }
                        "onlink" => {
                            nh.onlink = true;
                            j += 1;
                        }
                        _ => break,
                    }
                }
                r.nexthops.push(nh);
                step = j - i;
            }
            "encap" => {
                // Encapsulations have their own grammar: keep the rest of the line.
                r.options.push(RouteOption {
                    name: "encap".into(),
                    args: words[i + 1..].iter().map(|t| t.text.to_string()).collect(),
                });
                step = words.len() - i;
            }
            _ if ROUTE_FLAGS.contains(&t) => {
                if t == "inet6" {
                    forced_v6 = true;
                }
                r.options.push(RouteOption {
                    name: t.into(),
                    args: Vec::new(),
                });
            }
            _ if ROUTE_ARGS.contains(&t) => {
                let v = need_value(cx, words, i)?;
                let mut args = vec![v.text.to_string()];
                step = 2;
                if v.text == "lock" {
                    args.push(need_value(cx, words, i + 1)?.text.to_string());
                    step = 3;
                }
                r.options.push(RouteOption {
                    name: t.into(),
                    args,
                });
            }
            _ if !have_dst
                && ROUTE_TYPES.contains(&t)
                && r.route_type.is_none()
                && i + 1 < words.len() =>
            {
                r.route_type = Some(t.into());
            }
            _ if !have_dst => {
                have_dst = true;
                let d = if t == "to" {
                    need_value(cx, words, i)?
                } else {
                    w
                };
                if t == "to" {
                    step = 2;
                }
                if d.text == "default" {
                    r.dst = None;
                } else {
                    match cx.prefix(d, "route destination") {
                        Some(p) => r.dst = Some(p),
                        None => ok = false,
                    }
                }
            }
            _ => {
                cx.error(
                    DiagKind::Value,
                    w.span,
                    format!("unknown route option '{t}'"),
                );
                ok = false;
            }
        }
        i += step;
    }
    if !have_dst {
        cx.error(DiagKind::Arguments, span, "route has no destination");
        return None;
    }
    r.family = if forced_v6 {
        Family::Inet6
    } else {
        r.dst
            .map(|d| d.family())
            .or(r.via.map(|v| Family::of(&v)))
            .or(r.src.map(|v| Family::of(&v)))
            .unwrap_or(Family::Inet)
    };
    ok.then_some(r)
}

const RULE_ARGS: &[&str] = &[
    "fwmark",
    "iif",
    "dev",
    "oif",
    "tos",
    "dsfield",
    "goto",
    "realms",
    "uidrange",
    "protocol",
    "ipproto",
    "sport",
    "dport",
    "suppress_prefixlength",
    "sup_pl",
    "suppress_ifgroup",
    "sup_group",
    "tunnel-id",
    "type",
];
const RULE_ACTIONS: &[&str] = &["blackhole", "prohibit", "unreachable", "nop"];

/// Parses an `ip rule` line.
pub(super) fn rule(words: &[&Token], is_static: bool, cx: &mut Cx<'_>) -> Option<Rule> {
    let span = words.first()?.span;
    let mut r = Rule {
        family: Family::Inet,
        invert: false,
        from: None,
        to: None,
        table: None,
        preference: None,
        action: None,
        options: Vec::new(),
        no_track: false,
        track_group: None,
        span,
    };
    let mut forced_v6 = false;
    let mut ok = true;
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let t = w.text.as_str();
        let mut step = 1;
        match t {
            "from" => {
                let v = need_value(cx, words, i)?;
                step = 2;
                if v.text != "all" {
                    r.from = cx.prefix(v, "rule from");
                }
            }
            "to" => {
                let v = need_value(cx, words, i)?;
                step = 2;
                if v.text != "all" {
                    r.to = cx.prefix(v, "rule to");
                }
            }
            "table" | "lookup" => {
                r.table = Some(need_value(cx, words, i)?.text.to_string());
                step = 2;
            }
            "priority" | "preference" | "order" | "pref" => {
                r.preference = {
                    let v = need_value(cx, words, i)?;
                    cx.u32(v, 0, u32::MAX, "rule preference")
                };
                step = 2;
            }
            "not" => r.invert = true,
            "inet" => {}
            "inet6" => forced_v6 = true,
            "l3mdev" => r.options.push(RouteOption {
                name: t.into(),
                args: Vec::new(),
            }),
            "no_track" => r.no_track = true,
            "track_group" if is_static => {
                r.track_group = Some(need_value(cx, words, i)?.text.to_string());
                step = 2;
            }
            _ if RULE_ACTIONS.contains(&t) => r.action = Some(t.into()),
            _ if RULE_ARGS.contains(&t) => {
                let v = need_value(cx, words, i)?;
                if t == "goto" {
                    r.action = Some("goto".into());
                }
                r.options.push(RouteOption {
                    name: t.into(),
                    args: vec![v.text.to_string()],
                });
                step = 2;
            }
            _ => {
                cx.error(
                    DiagKind::Value,
                    w.span,
                    format!("unknown rule option '{t}'"),
                );
                ok = false;
            }
        }
        i += step;
    }
    r.family = if forced_v6 {
        Family::Inet6
    } else {
        r.from
            .or(r.to)
            .map(|p: IpPrefix| p.family())
            .unwrap_or(Family::Inet)
    };
    ok.then_some(r)
}

pub(super) fn linkbeat_interfaces(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    let Some(lines) = value_lines(n, cx) else {
        return;
    };
    for words in lines {
        let method = match words.get(1) {
            Some(m) => match cx.choice(m, &["MII", "ETHTOOL", "IOCTL"], "linkbeat method") {
                Some(m) => Some(m.to_string()),
                None => continue,
            },
            None => None,
        };
        if let Some(extra) = words.get(2) {
            cx.error(
                DiagKind::Arguments,
                extra.span,
                format!("unexpected '{}'", extra.text),
            );
            continue;
        }
        c.linkbeat_interfaces.push(LinkbeatInterface {
            interface: words[0].text.to_string(),
            method,
        });
    }
}

pub(super) fn interface_up_down_delays(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    let Some(lines) = value_lines(n, cx) else {
        return;
    };
    let max = Duration::from_secs(255);
    for words in lines {
        let Some(down_t) = words.get(1) else {
            cx.error(
                DiagKind::Arguments,
                words[0].span,
                "interface needs a down delay",
            );
            continue;
        };
        let Some(down) = cx.timer(down_t, Duration::ZERO, max, "down delay") else {
            continue;
        };
        let up = match words.get(2) {
            Some(t) => match cx.timer(t, Duration::ZERO, max, "up delay") {
                Some(u) => u,
                None => continue,
            },
            None => down,
        };
        if let Some(extra) = words.get(3) {
            cx.error(
                DiagKind::Arguments,
                extra.span,
                format!("unexpected '{}'", extra.text),
            );
            continue;
        }
        c.interface_up_down_delays.push(InterfaceDelay {
            interface: words[0].text.to_string(),
            down,
            up,
        });
    }
}
