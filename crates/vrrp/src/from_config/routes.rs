//! `virtual_routes` and `virtual_rules` mapped onto netlink requests.
//!
//! Strict, as the rest of rkeepalived: an option this mapping does not carry to the kernel
//! (route metrics such as `mtu`, `encap`, `realms` names, ...) refuses the configuration,
//! naming the instance, the line and the option, rather than installing a route that
//! means something else than what was written. Tables and protocols are resolved by
//! name through `/etc/iproute2` ([`RtNames`]).

use rk_config::model::{Family as CfgFamily, IpPrefix, Route, RouteOption, Rule};
use rk_netlink::route::RTPROT_KEEPALIVED;
use rk_netlink::{
    AddMode, IpFamily, Metric, MetricSpec, NexthopSpec, Prefix, Range, RouteSpec, RouteType,
    RuleAction, RuleSpec, Scope,
};

use super::FromConfigError;
use super::names::{RtNames, parse_number};
use crate::spec::{RoutePlan, RulePlan};

/// keepalived's automatic rule preferences: a rule without `priority` gets the next one
/// down from 16384, per family, in configuration order (`vrrp_iprule.c`), so rules are
/// always installed in the same order whatever order the instances become MASTER in.
#[derive(Debug)]
pub(super) struct AutoPreference {
    v4: u32,
    v6: u32,
}

impl Default for AutoPreference {
    fn default() -> Self {
        AutoPreference {
            v4: 16384,
            v6: 16384,
        }
    }
}

impl AutoPreference {
    fn next(&mut self, family: IpFamily) -> u32 {
        let n = match family {
            IpFamily::V4 => &mut self.v4,
            IpFamily::V6 => &mut self.v6,
        };
        let v = *n;
        *n = n.saturating_sub(1);
        v
    }
}

fn family(f: CfgFamily) -> IpFamily {
    match f {
        CfgFamily::Inet => IpFamily::V4,
        CfgFamily::Inet6 => IpFamily::V6,
    }
}

fn prefix(p: IpPrefix) -> Prefix {
    Prefix {
        addr: p.addr,
        len: p.len,
    }
}

/// Whose routes and rules these are: an instance's `virtual_*` or the global `static_*`.
#[derive(Clone, Copy, Debug)]
pub(super) enum Owner<'a> {
    /// `vrrp_instance NAME`.
    Instance(&'a str),
    /// `static_routes` / `static_rules`.
    Static,
}

impl Owner<'_> {
    fn block(self, routes: bool) -> &'static str {
        match (self, routes) {
            (Owner::Instance(_), true) => "virtual_routes",
            (Owner::Instance(_), false) => "virtual_rules",
            (Owner::Static, true) => "static_routes",
            (Owner::Static, false) => "static_rules",
        }
    }

    fn error(self, reason: String) -> FromConfigError {
        match self {
            Owner::Instance(name) => FromConfigError::Instance {
                instance: name.to_string(),
                reason,
            },
            Owner::Static => FromConfigError::Static { reason },
        }
    }

    fn label(self) -> String {
        match self {
            Owner::Instance(name) => format!("vrrp_instance {name}: "),
            Owner::Static => String::new(),
        }
    }
}

/// "virtual_routes line 12 (10.1.0.0/16)" for error messages.
fn route_name(owner: Owner<'_>, r: &Route) -> String {
    let dst = r.dst.map_or_else(
        || "default".to_string(),
        |d| format!("{}/{}", d.addr, d.len),
    );
    format!("{} line {} ({dst})", owner.block(true), r.span.line)
}

fn rule_name(owner: Owner<'_>, r: &Rule) -> String {
    let from = r
        .from
        .map_or_else(|| "all".to_string(), |d| format!("{}/{}", d.addr, d.len));
    format!("{} line {} (from {from})", owner.block(false), r.span.line)
}

fn option_text(o: &RouteOption) -> String {
    if o.args.is_empty() {
        format!("'{}'", o.name)
    } else {
        format!("'{} {}'", o.name, o.args.join(" "))
    }
}

/// Maps one `virtual_routes` entry.
pub(super) fn route(
    owner: Owner<'_>,
    r: &Route,
    names: &RtNames,
) -> Result<RoutePlan, FromConfigError> {
    let what = || route_name(owner, r);
    let refuse = |why: String| owner.error(format!("{}: {why}", what()));
    let fam = family(r.family);
    let mut s = RouteSpec::new(fam, r.dst.map(prefix));
    if let Some(t) = &r.route_type {
        s.kind = RouteType::parse(t).ok_or_else(|| refuse(format!("unknown route type {t}")))?;
    }
    s.from = r.from.map(prefix);
    s.src = r.src;
    s.via = r.via;
    if let Some(o) = r.or_via {
        return Err(refuse(format!(
            "option 'or {o}' (alternative gateway) is not supported"
        )));
    }
    if let Some(t) = &r.table {
        s.table = names.table(t).filter(|t| *t != 0).ok_or_else(|| {
            refuse(format!(
                "unknown routing table '{t}' (see /etc/iproute2/rt_tables)"
            ))
        })?;
    }
    s.metric = r.metric;
    if let Some(sc) = &r.scope {
        s.scope = Some(Scope::parse(sc).ok_or_else(|| refuse(format!("unknown scope '{sc}'")))?);
    }
    if let Some(p) = &r.protocol {
        s.protocol = names.proto(p).ok_or_else(|| {
            refuse(format!(
                "unknown protocol '{p}' (see /etc/iproute2/rt_protos)"
            ))
        })?;
    }
    s.onlink = r.onlink;
    let mut nexthop_devs = Vec::new();
    for nh in &r.nexthops {
        s.nexthops.push(NexthopSpec {
            via: nh.via,
            oif: None,
            // The parser holds weights to 1..=256.
            weight: u16::try_from(nh.weight.unwrap_or(1)).unwrap_or(256),
            onlink: nh.onlink,
        });
        nexthop_devs.push(nh.dev.clone());
    }
    for o in &r.options {
        match o.name.as_str() {
            // The family is already known from the addresses (or `inet6` set it).
            "inet" | "inet6" => {}
            "prepend" => s.mode = AddMode::Prepend,
            "add" => s.mode = AddMode::Exclusive,
            "append" => s.mode = AddMode::Append,
            "mtu" | "advmss" | "window" | "hoplimit" | "initcwnd" | "initrwnd" | "cwnd"
            | "ssthresh" | "reordering" | "quickack" | "fastopen_no_cookie" | "congctl" => {
                let (lock, value) = match o.args.as_slice() {
                    [l, v] if l == "lock" => (true, v.as_str()),
                    [v] => (false, v.as_str()),
                    _ => (false, ""),
                };
                let metric = Metric::parse(&o.name, value).ok_or_else(|| {
                    refuse(format!(
                        "option {} has a value rkeepalived cannot read",
                        option_text(o)
                    ))
                })?;
                s.metrics.push(MetricSpec { metric, lock });
            }
            "tos" | "dsfield" => {
                s.tos = o
                    .args
                    .first()
                    .and_then(|a| parse_number::<u8>(a).ok())
                    .ok_or_else(|| {
                        refuse(format!(
                            "option {} needs a number (names from rt_dsfield are not supported)",
                            option_text(o)
                        ))
                    })?;
            }
            _ => {
                return Err(refuse(format!(
                    "option {} is not supported by rkeepalived",
                    option_text(o)
                )));
            }
        }
    }
    if s.kind.is_reject() && (s.via.is_some() || r.dev.is_some() || !s.nexthops.is_empty()) {
        return Err(refuse(format!(
            "a {} route takes no gateway, device or next hops",
            s.kind
        )));
    }
    if !s.nexthops.is_empty() && s.via.is_some() {
        return Err(refuse("both 'via' and 'nexthop' given".into()));
    }
    if let (Some(a), true) = (s.src, s.src.is_some_and(|a| IpFamily::of(&a) != fam)) {
        return Err(refuse(format!("src {a} is not of the route's family")));
    }
    if !r.no_track && s.protocol != RTPROT_KEEPALIVED {
        // keepalived silently resets it to `keepalived`, which tracking needs.
        return Err(refuse(format!(
            "protocol {} on a tracked route (keepalived would change it to keepalived); add no_track to keep it",
            s.protocol
        )));
    }
    Ok(RoutePlan {
        route: s,
        dev: r.dev.clone(),
        nexthop_devs,
        no_track: r.no_track,
    })
}

/// Maps one `virtual_rules` entry; `warnings` gets keepalived's note for a rule without
/// a preference.
pub(super) fn rule(
    owner: Owner<'_>,
    r: &Rule,
    names: &RtNames,
    auto: &mut AutoPreference,
    warnings: &mut Vec<String>,
) -> Result<RulePlan, FromConfigError> {
    let what = || rule_name(owner, r);
    let refuse = |why: String| owner.error(format!("{}: {why}", what()));
    let fam = family(r.family);
    let mut action = None;
    let mut set_action = |a: RuleAction| -> Result<(), FromConfigError> {
        if action.replace(a).is_some() {
            return Err(refuse(
                "more than one of table/goto/nop/blackhole/prohibit/unreachable/l3mdev".into(),
            ));
        }
        Ok(())
    };
    if let Some(t) = &r.table {
        let n = names.table(t).filter(|t| *t != 0).ok_or_else(|| {
            refuse(format!(
                "unknown routing table '{t}' (see /etc/iproute2/rt_tables)"
            ))
        })?;
        set_action(RuleAction::Table(n))?;
    }
    match r.action.as_deref() {
        None | Some("goto") => {} // goto comes with its target among the options
        Some("blackhole") => set_action(RuleAction::Blackhole)?,
        Some("prohibit") => set_action(RuleAction::Prohibit)?,
        Some("unreachable") => set_action(RuleAction::Unreachable)?,
        Some("nop") => set_action(RuleAction::Nop)?,
        Some(a) => return Err(refuse(format!("unknown rule action '{a}'"))),
    }
    let mut s = RuleSpec::new(fam, RuleAction::Nop);
    s.from = r.from.map(prefix);
    s.to = r.to.map(prefix);
    s.invert = r.invert;
    s.priority = r.preference;
    for o in &r.options {
        let arg = o.args.first().map(String::as_str).unwrap_or("");
        let need = |ok: Option<()>| {
            ok.ok_or_else(|| {
                refuse(format!(
                    "option {} has a value rkeepalived cannot read",
                    option_text(o)
                ))
            })
        };
        match o.name.as_str() {
            "fwmark" => {
                let (m, mask) = match arg.split_once('/') {
                    Some((m, k)) => (m, Some(k)),
                    None => (arg, None),
                };
                s.fwmark = parse_number(m).ok();
                need(s.fwmark.map(|_| ()))?;
                if let Some(k) = mask {
                    s.fwmask = parse_number(k).ok();
                    need(s.fwmask.map(|_| ()))?;
                }
            }
            "iif" | "dev" => s.iif = Some(arg.to_string()),
            "oif" => s.oif = Some(arg.to_string()),
            "tos" | "dsfield" => {
                s.tos = parse_number(arg).map_err(|()| {
                    refuse(format!(
                        "option {} needs a number (names from rt_dsfield are not supported)",
                        option_text(o)
                    ))
                })?;
            }
            "goto" => {
                let t = parse_number(arg).ok();
                need(t.map(|_| ()))?;
                if let Some(t) = t {
                    set_action(RuleAction::Goto(t))?;
                }
            }
            "sport" | "dport" => {
                let range = port_range(arg);
                need(range.map(|_| ()))?;
                if o.name == "sport" {
                    s.sport = range;
                } else {
                    s.dport = range;
                }
            }
            "ipproto" => {
                s.ipproto = ip_proto(arg);
                need(s.ipproto.map(|_| ()))?;
            }
            "uidrange" => {
                s.uid = arg.split_once('-').and_then(|(a, b)| {
                    Some(Range {
                        start: parse_number(a).ok()?,
                        end: parse_number(b).ok()?,
                    })
                });
                need(s.uid.map(|_| ()))?;
            }
            "protocol" => {
                s.protocol = names.proto(arg).ok_or_else(|| {
                    refuse(format!(
                        "unknown protocol '{arg}' (see /etc/iproute2/rt_protos)"
                    ))
                })?;
            }
            "suppress_prefixlength" | "sup_pl" => {
                s.suppress_prefixlen = parse_number(arg).ok();
                need(s.suppress_prefixlen.map(|_| ()))?;
            }
            "suppress_ifgroup" | "sup_group" => {
                s.suppress_ifgroup = parse_number(arg).ok();
                need(s.suppress_ifgroup.map(|_| ()))?;
            }
            "tunnel-id" => {
                s.tunnel_id = parse_number(arg).ok();
                need(s.tunnel_id.map(|_| ()))?;
            }
            "realms" => {
                // `realms [SRC/]DST` with numbers; names from rt_realms are refused below.
                let v = match arg.split_once('/') {
                    Some((src, dst)) => parse_number::<u16>(src)
                        .ok()
                        .zip(parse_number::<u16>(dst).ok())
                        .map(|(s, d)| (u32::from(s) << 16) | u32::from(d)),
                    None => parse_number::<u16>(arg).ok().map(u32::from),
                };
                s.realms = v;
                need(s.realms.map(|_| ()))?;
            }
            "l3mdev" => set_action(RuleAction::L3mdev)?,
            "type" => match arg {
                "blackhole" => set_action(RuleAction::Blackhole)?,
                "prohibit" => set_action(RuleAction::Prohibit)?,
                "unreachable" => set_action(RuleAction::Unreachable)?,
                "nop" => set_action(RuleAction::Nop)?,
                _ => {
                    return Err(refuse(format!(
                        "option {} is not supported by rkeepalived",
                        option_text(o)
                    )));
                }
            },
            _ => {
                return Err(refuse(format!(
                    "option {} is not supported by rkeepalived",
                    option_text(o)
                )));
            }
        }
    }
    s.action = action.ok_or_else(|| {
        refuse("no action (table, goto, nop, blackhole, prohibit, unreachable or l3mdev)".into())
    })?;
    if matches!(s.action, RuleAction::L3mdev) && r.table.is_some() {
        return Err(refuse("l3mdev takes no table".into()));
    }
    if !matches!(s.action, RuleAction::Table(_))
        && (s.suppress_prefixlen.is_some() || s.suppress_ifgroup.is_some() || s.realms.is_some())
    {
        return Err(refuse(
            "suppress_prefixlength, suppress_ifgroup and realms need a table action".into(),
        ));
    }
    match (s.action, s.priority) {
        (RuleAction::Goto(target), Some(p)) if p >= target => {
            return Err(refuse(format!(
                "its preference {p} is not below its goto target {target}"
            )));
        }
        (RuleAction::Goto(_), None) => {
            return Err(refuse("goto needs a preference".into()));
        }
        _ => {}
    }
    if s.priority.is_none() {
        let p = auto.next(fam);
        s.priority = Some(p);
        warnings.push(format!(
            "{}{} has no preference; using {p}, as keepalived does (set one to choose the order)",
            owner.label(),
            what()
        ));
    }
    if !r.no_track && s.protocol != RTPROT_KEEPALIVED {
        return Err(refuse(format!(
            "protocol {} on a tracked rule (keepalived would change it to keepalived); add no_track to keep it",
            s.protocol
        )));
    }
    Ok(RulePlan {
        rule: s,
        no_track: r.no_track,
    })
}

/// `N` or `N-M`.
fn port_range(s: &str) -> Option<Range<u16>> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let r = Range {
        start: parse_number(a).ok()?,
        end: parse_number(b).ok()?,
    };
    (r.start <= r.end).then_some(r)
}

/// A protocol number or one of the names `ip rule` knows from `/etc/protocols`.
fn ip_proto(s: &str) -> Option<u8> {
    if let Ok(n) = parse_number(s) {
        return Some(n);
    }
    Some(match s {
        "icmp" => 1,
        "igmp" => 2,
        "ipip" => 4,
        "tcp" => 6,
        "udp" => 17,
        "ipv6" => 41,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ipv6-icmp" | "icmpv6" => 58,
        "sctp" => 132,
        "udplite" => 136,
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
