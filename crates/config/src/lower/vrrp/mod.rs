//! `vrrp_instance`: keywords into a draft, then keepalived's completion rules
//! (`vrrp_complete_instance`) with every fix-up keepalived reports turned into an error.

use std::net::IpAddr;
use std::time::Duration;

mod finish;

use super::cx::{Cx, Kw};
use super::net::{AddrUse, address_block, route, rule};
use super::value_lines;
use crate::diag::{DiagKind, Diagnostic};
use crate::model::{
    AuthKind, ChecksumCompat, Config, GarpExtraIf, InitialState, InstanceNotify, Route, Rule,
    TrackedInterface, TrackedRef, Tracking, UnicastPeer, VirtualAddress, Vmac,
};
use crate::source::Span;
use crate::tree::Node;

/// Everything an instance block said, before defaults.
#[derive(Default)]
pub(in crate::lower) struct Draft {
    name: String,
    span: Option<Span>,
    state: Option<(InitialState, Span)>,
    interface: Option<String>,
    vrf: Option<String>,
    vrid: Option<u8>,
    priority: Option<u8>,
    advert_int: Option<(Duration, Span)>,
    version: Option<(u8, Span)>,
    auth_type: Option<(AuthKind, Span)>,
    auth_pass: Option<(String, Span)>,
    auth_span: Option<Span>,
    vips: Vec<VirtualAddress>,
    evips: Vec<VirtualAddress>,
    routes: Vec<Route>,
    rules: Vec<Rule>,
    nopreempt: Option<Span>,
    preempt_delay: Option<(Duration, Span)>,
    tracking: Tracking,
    dont_track_primary: bool,
    notify: InstanceNotify,
    notify_priority_changes: Option<bool>,
    smtp_alert: Option<bool>,
    mcast_src_ip: Option<(IpAddr, Span)>,
    unicast_src_ip: Option<(IpAddr, Span)>,
    unicast_peers: Vec<UnicastPeer>,
    unicast_keyword: Option<Span>,
    unicast_fault_no_peer: bool,
    check_unicast_src: bool,
    unicast_ttl: Option<(u8, Span)>,
    old_unicast_checksum: Option<ChecksumCompat>,
    mcast_dst_ip: Option<(IpAddr, Span)>,
    track_src_ip: bool,
    use_vmac: Option<(Vmac, Span)>,
    vmac_xmit_base: bool,
    use_vmac_addr: bool,
    use_ipvlan: Option<Vec<String>>,
    accept: Option<(bool, Span)>,
    strict_mode: Option<bool>,
    skip_check_adv_addr: Option<bool>,
    garp_master_delay: Option<Duration>,
    garp_master_repeat: Option<u32>,
    garp_master_refresh: Option<Duration>,
    garp_master_refresh_repeat: Option<u32>,
    garp_lower_prio_delay: Option<(Duration, Span)>,
    garp_lower_prio_repeat: Option<(u32, Span)>,
    garp_extra_if: Option<GarpExtraIf>,
    down_timer_adverts: Option<(u32, Span)>,
    lower_prio_no_advert: Option<(bool, Span)>,
    higher_prio_send_advert: Option<(bool, Span)>,
    owner_ignore_adverts: Option<bool>,
    promote_secondaries: bool,
    kernel_rx_buf_size: Option<u32>,
    debug: Option<u8>,
    linkbeat_use_polling: bool,
    lvs_sync_daemon_interface: Option<String>,
    native_ipv6: bool,
    /// Keywords written, valid or not: a bad value is reported once, not again as
    /// "missing".
    seen: Vec<&'static str>,
}

const DAY: Duration = Duration::from_secs(86_400);

/// Reads a `vrrp_instance` block; it is completed by [`finish_draft`] once `global_defs`
/// (wherever it is written) is known.
pub(in crate::lower) fn parse(n: &Node, cx: &mut Cx<'_>) -> Option<Draft> {
    let name = cx.block_name(n)?;
    let mut d = Draft {
        name: name.text.to_string(),
        span: Some(name.span),
        ..Draft::default()
    };
    cx.block(
        &mut d,
        n,
        table(),
        format_args!("vrrp_instance {}", name.text),
    );
    Some(d)
}

/// Completes an instance read by [`parse`].
pub(in crate::lower) fn finish_draft(d: Draft, c: &mut Config, cx: &mut Cx<'_>) {
    if let Some(i) = finish::finish(d, &c.global, cx) {
        c.vrrp_instances.push(i);
    }
}

fn set_flag(n: &Node, cx: &mut Cx<'_>, f: &mut bool) {
    if cx.bare(n) {
        *f = true;
    }
}

fn ip_one(n: &Node, cx: &mut Cx<'_>) -> Option<(IpAddr, Span)> {
    let t = cx.one(n)?;
    cx.ip(t, n.name()).map(|a| (a, t.span))
}

fn state(d: &mut Draft, n: &Node, cx: &mut Cx<'_>) {
    if let Some(t) = cx.one(n) {
        match cx.choice(t, &["MASTER", "BACKUP"], "state") {
            Some("MASTER") => d.state = Some((InitialState::Master, t.span)),
            Some(_) => d.state = Some((InitialState::Backup, t.span)),
            None => {}
        }
    }
}

fn advert_int(d: &mut Draft, n: &Node, cx: &mut Cx<'_>) {
    if let Some(t) = cx.one(n) {
        // Range checks depend on the version, known only at the end.
        if let Some(v) = cx.timer(
            t,
            Duration::from_millis(10),
            Duration::from_secs(255),
            "advert_int",
        ) {
            d.advert_int = Some((v, t.span));
        }
    }
}

fn authentication(d: &mut Draft, n: &Node, cx: &mut Cx<'_>) {
    if !cx.arity_block(n) {
        return;
    }
    d.auth_span = Some(n.keyword.span);
    let table: &[Kw<Draft>] = &[
        Kw::once("auth_type", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            d.seen.push("auth_type");
            if let Some(t) = cx.one(n) {
                match cx.choice(t, &["PASS", "AH"], "auth_type") {
                    Some("PASS") => d.auth_type = Some((AuthKind::Pass, t.span)),
                    Some(_) => d.auth_type = Some((AuthKind::Ah, t.span)),
                    None => {}
                }
            }
        }),
        Kw::once("auth_pass", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            d.seen.push("auth_pass");
            if let Some(t) = cx.one(n) {
                if t.text.len() > 8 {
                    cx.push(
                        Diagnostic::error(
                            DiagKind::Value,
                            t.span,
                            format!(
                                "auth_pass '{}' is {} bytes long; VRRP carries at most 8",
                                t.text,
                                t.text.len()
                            ),
                        )
                        .with_help("keepalived silently uses only the first 8; write those"),
                    );
                } else if t.text.is_empty() {
                    cx.error(DiagKind::Value, t.span, "auth_pass is empty");
                } else {
                    d.auth_pass = Some((t.text.to_string(), t.span));
                }
            }
        }),
    ];
    cx.block(d, n, table, "authentication");
}

/// `track_interface { IF [weight N [reverse]] }`.
fn track_interface_block(n: &Node, cx: &mut Cx<'_>) -> Vec<TrackedInterface> {
    let Some(lines) = value_lines(n, cx) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for words in lines {
        if let Some((weight, reverse)) = weight_suffix(&words[1..], -253, 253, cx) {
            out.push(TrackedInterface {
                name: words[0].text.to_string(),
                weight: weight.unwrap_or(0),
                reverse: reverse.unwrap_or(false),
                span: words[0].span,
            });
        }
    }
    out
}

/// `track_script`, `track_file`, `track_process`, `track_bfd` blocks.
pub(super) fn tracked_refs(n: &Node, min: i32, max: i32, cx: &mut Cx<'_>) -> Vec<TrackedRef> {
    let Some(lines) = value_lines(n, cx) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for words in lines {
        if let Some((weight, reverse)) = weight_suffix(&words[1..], min, max, cx) {
            out.push(TrackedRef {
                name: words[0].text.to_string(),
                weight,
                reverse,
                span: words[0].span,
            });
        }
    }
    out
}

/// `[weight N [reverse|noreverse]]`.
pub(super) fn weight_suffix(
    words: &[&crate::tree::Token],
    min: i32,
    max: i32,
    cx: &mut Cx<'_>,
) -> Option<(Option<i32>, Option<bool>)> {
    match words {
        [] => Some((None, None)),
        [w, v, rest @ ..] if w.text == "weight" => {
            let weight = cx.i32(v, min, max, "weight")?;
            match rest {
                [] => Some((Some(weight), None)),
                [r] if r.text == "reverse" => Some((Some(weight), Some(true))),
                [r] if r.text == "noreverse" || r.text == "no_reverse" => {
                    Some((Some(weight), Some(false)))
                }
                [r, ..] => {
                    cx.error(
                        DiagKind::Value,
                        r.span,
                        format!(
                            "expected 'reverse' or 'noreverse' after the weight, found '{}'",
                            r.text
                        ),
                    );
                    None
                }
            }
        }
        [w, ..] => {
            cx.error(
                DiagKind::Value,
                w.span,
                format!("expected 'weight N', found '{}'", w.text),
            );
            None
        }
    }
}

fn unicast_peer(d: &mut Draft, n: &Node, cx: &mut Cx<'_>) {
    d.unicast_keyword.get_or_insert(n.keyword.span);
    let Some(lines) = value_lines(n, cx) else {
        return;
    };
    for words in lines {
        let Some(addr) = cx.ip(words[0], "unicast_peer") else {
            continue;
        };
        let mut p = UnicastPeer {
            addr,
            min_ttl: None,
            max_ttl: None,
        };
        let mut ok = true;
        for pair in words[1..].chunks(2) {
            match pair {
                [k, v] if k.text == "min_ttl" => p.min_ttl = cx.u8(v, 0, 255, "min_ttl"),
                [k, v] if k.text == "max_ttl" => p.max_ttl = cx.u8(v, 0, 255, "max_ttl"),
                [k, ..] => {
                    cx.error(
                        DiagKind::Value,
                        k.span,
                        format!(
                            "unicast_peer option '{}' is not min_ttl N or max_ttl N",
                            k.text
                        ),
                    );
                    ok = false;
                }
                [] => {}
            }
        }
        if ok {
            d.unicast_peers.push(p);
        }
    }
}

fn use_vmac(d: &mut Draft, n: &Node, cx: &mut Cx<'_>) {
    if !cx.arity(n, 0, 2) {
        return;
    }
    let mut v = Vmac {
        name: None,
        mac: None,
    };
    for t in &n.args {
        if is_mac(&t.text) {
            v.mac = Some(t.text.to_ascii_lowercase().to_string());
        } else if v.name.is_none() && v.mac.is_none() {
            if t.text.len() >= 16
                || t.text.contains(['/', ':', ' '])
                || t.text == "."
                || t.text == ".."
            {
                cx.error(
                    DiagKind::Value,
                    t.span,
                    format!(
                        "use_vmac interface name '{}' is not a valid interface name",
                        t.text
                    ),
                );
                return;
            }
            v.name = Some(t.text.to_string());
        } else {
            cx.error(
                DiagKind::Value,
                t.span,
                format!("use_vmac takes [NAME] [MAC]; '{}' is neither", t.text),
            );
            return;
        }
    }
    d.use_vmac = Some((v, n.keyword.span));
}

fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    (parts.len() == 5 || parts.len() == 6)
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(super) fn parse_garp_extra_if(n: &Node, cx: &mut Cx<'_>) -> Option<GarpExtraIf> {
    super::global::parse_extra_if(n, cx)
}

macro_rules! opt_timer {
    ($field:ident, $min:expr, $max:expr) => {
        |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(t) = cx.one(n) {
                d.$field = cx.timer(t, $min, $max, n.name());
            }
        }
    };
}

macro_rules! opt_count {
    ($field:ident, $min:expr, $max:expr) => {
        |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(t) = cx.one(n) {
                d.$field = cx.u32(t, $min, $max, n.name());
            }
        }
    };
}

macro_rules! opt_bool {
    ($field:ident) => {
        |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(v) = cx.flag(n) {
                d.$field = Some(v);
            }
        }
    };
}

macro_rules! spanned_bool {
    ($field:ident) => {
        |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(v) = cx.flag(n) {
                d.$field = Some((v, n.keyword.span));
            }
        }
    };
}

macro_rules! notify {
    ($field:ident) => {
        |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(s) = cx.script(n) {
                d.notify.$field = Some(s);
            }
        }
    };
}

fn table() -> &'static [Kw<Draft>] {
    static T: std::sync::OnceLock<Vec<Kw<Draft>>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        vec![
            Kw::once("state", state),
            Kw::once("interface", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(t) = cx.one(n) {
                    if t.text.len() >= 16 {
                        cx.error(
                            DiagKind::Value,
                            t.span,
                            format!("interface name '{}' is longer than 15 characters", t.text),
                        );
                    } else {
                        d.interface = Some(t.text.to_string());
                    }
                }
            }),
            Kw::once("vrf", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                d.vrf = super::text1(n, cx);
            }),
            Kw::once(
                "virtual_router_id",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.seen.push("virtual_router_id");
                    if let Some(t) = cx.one(n) {
                        d.vrid = cx.u8(t, 1, 255, "virtual_router_id");
                    }
                },
            ),
            Kw::once("priority", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(t) = cx.one(n) {
                    d.priority = cx.u8(t, 1, 255, "priority");
                }
            }),
            Kw::once("advert_int", advert_int),
            Kw::once("version", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(t) = cx.one(n) {
                    d.version = cx.u8(t, 2, 3, "version").map(|v| (v, t.span));
                }
            }),
            Kw::once("native_ipv6", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                cx.deprecated(n, "the VIPs decide the address family");
                set_flag(n, cx, &mut d.native_ipv6);
            }),
            Kw::once("authentication", authentication),
            Kw::many(
                "virtual_ipaddress",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.seen.push("virtual_ipaddress");
                    let v = address_block(n, AddrUse::Vip, cx);
                    d.vips.extend(v);
                },
            ),
            Kw::many(
                "virtual_ipaddress_excluded",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    let v = address_block(n, AddrUse::Excluded, cx);
                    d.evips.extend(v);
                },
            ),
            Kw::once(
                "no_virtual_ipaddress",
                |_: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    cx.bare(n);
                },
            ),
            Kw::many(
                "virtual_routes",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(lines) = value_lines(n, cx) {
                        d.routes
                            .extend(lines.iter().filter_map(|w| route(w, false, cx)));
                    }
                },
            ),
            Kw::many(
                "virtual_rules",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(lines) = value_lines(n, cx) {
                        d.rules
                            .extend(lines.iter().filter_map(|w| rule(w, false, cx)));
                    }
                },
            ),
            Kw::alias(
                "nopreempt",
                "preempt",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if cx.bare(n) {
                        d.nopreempt = Some(n.keyword.span);
                    }
                },
            ),
            Kw::alias(
                "no_preempt",
                "preempt",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if cx.bare(n) {
                        d.nopreempt = Some(n.keyword.span);
                    }
                },
            ),
            Kw::once("preempt", |_: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                cx.bare(n);
            }),
            Kw::once(
                "preempt_delay",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(t) = cx.one(n) {
                        d.preempt_delay = cx
                            .timer(
                                t,
                                Duration::ZERO,
                                Duration::from_secs(1000),
                                "preempt_delay",
                            )
                            .map(|v| (v, t.span));
                    }
                },
            ),
            Kw::many(
                "track_interface",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    let v = track_interface_block(n, cx);
                    d.tracking.interfaces.extend(v);
                },
            ),
            Kw::many(
                "track_script",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    let v = tracked_refs(n, -253, 253, cx);
                    d.tracking.scripts.extend(v);
                },
            ),
            Kw::many("track_file", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                let v = tracked_refs(n, -254, 254, cx);
                d.tracking.files.extend(v);
            }),
            Kw::many(
                "track_process",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    let v = tracked_refs(n, -254, 254, cx);
                    d.tracking.processes.extend(v);
                },
            ),
            Kw::many("track_bfd", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                let v = tracked_refs(n, -253, 253, cx);
                d.tracking.bfds.extend(v);
            }),
            Kw::once(
                "dont_track_primary",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    set_flag(n, cx, &mut d.dont_track_primary)
                },
            ),
            Kw::once("notify_master", notify!(master)),
            Kw::once("notify_backup", notify!(backup)),
            Kw::once("notify_fault", notify!(fault)),
            Kw::once("notify_stop", notify!(stop)),
            Kw::once("notify", notify!(any)),
            Kw::once("notify_master_rx_lower_pri", notify!(master_rx_lower_pri)),
            Kw::once(
                "notify_deleted",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.notify.deleted = true;
                    if !n.raw_args().is_empty() {
                        d.notify.deleted_script = cx.script(n);
                    }
                },
            ),
            Kw::once(
                "notify_priority_changes",
                opt_bool!(notify_priority_changes),
            ),
            Kw::once("smtp_alert", opt_bool!(smtp_alert)),
            Kw::once(
                "mcast_src_ip",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.mcast_src_ip = ip_one(n, cx);
                },
            ),
            Kw::once(
                "unicast_src_ip",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.unicast_keyword.get_or_insert(n.keyword.span);
                    d.unicast_src_ip = ip_one(n, cx);
                },
            ),
            Kw::many("unicast_peer", unicast_peer),
            Kw::once(
                "unicast_fault_no_peer",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.unicast_keyword.get_or_insert(n.keyword.span);
                    set_flag(n, cx, &mut d.unicast_fault_no_peer)
                },
            ),
            Kw::once(
                "check_unicast_src",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.unicast_keyword.get_or_insert(n.keyword.span);
                    set_flag(n, cx, &mut d.check_unicast_src)
                },
            ),
            Kw::once("unicast_ttl", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(t) = cx.one(n) {
                    d.unicast_ttl = cx.u8(t, 0, 255, "unicast_ttl").map(|v| (v, t.span));
                }
            }),
            Kw::once(
                "old_unicast_checksum",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.unicast_keyword.get_or_insert(n.keyword.span);
                    if !cx.arity(n, 0, 1) {
                        return;
                    }
                    d.old_unicast_checksum = match n.args.first() {
                        None => Some(ChecksumCompat::Always),
                        Some(t) => cx
                            .choice(t, &["never"], "old_unicast_checksum mode")
                            .map(|_| ChecksumCompat::Never),
                    };
                },
            ),
            Kw::once(
                "mcast_dst_ip",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    let Some((a, sp)) = ip_one(n, cx) else { return };
                    let ok = match a {
                        IpAddr::V4(v) => v.is_multicast(),
                        IpAddr::V6(v) => v.is_multicast() && (v.segments()[0] & 0xf) == 2,
                    };
                    if ok {
                        d.mcast_dst_ip = Some((a, sp));
                    } else {
                        cx.error(
                            DiagKind::Value,
                            sp,
                            format!(
                                "mcast_dst_ip {a} is not a (link-local for IPv6) multicast address"
                            ),
                        );
                    }
                },
            ),
            Kw::once(
                "track_src_ip",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| set_flag(n, cx, &mut d.track_src_ip),
            ),
            Kw::once("use_vmac", use_vmac),
            Kw::once(
                "vmac_xmit_base",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| set_flag(n, cx, &mut d.vmac_xmit_base),
            ),
            Kw::once(
                "use_vmac_addr",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| set_flag(n, cx, &mut d.use_vmac_addr),
            ),
            Kw::once("use_ipvlan", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                if cx.arity(n, 0, 3) {
                    d.use_ipvlan = Some(n.args.iter().map(|t| t.text.to_string()).collect());
                }
            }),
            Kw::alias(
                "accept",
                "accept",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if cx.bare(n) {
                        d.accept = Some((true, n.keyword.span));
                    }
                },
            ),
            Kw::alias(
                "no_accept",
                "accept",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if cx.bare(n) {
                        d.accept = Some((false, n.keyword.span));
                    }
                },
            ),
            Kw::once("strict_mode", opt_bool!(strict_mode)),
            Kw::once("skip_check_adv_addr", opt_bool!(skip_check_adv_addr)),
            Kw::once(
                "garp_master_delay",
                opt_timer!(garp_master_delay, Duration::ZERO, DAY),
            ),
            Kw::once("garp_master_repeat", opt_count!(garp_master_repeat, 1, 255)),
            Kw::once(
                "garp_master_refresh",
                opt_timer!(garp_master_refresh, Duration::ZERO, DAY),
            ),
            Kw::once(
                "garp_master_refresh_repeat",
                opt_count!(garp_master_refresh_repeat, 1, 255),
            ),
            Kw::once(
                "garp_lower_prio_delay",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(t) = cx.one(n) {
                        d.garp_lower_prio_delay = cx
                            .timer(t, Duration::ZERO, DAY, n.name())
                            .map(|v| (v, t.span));
                    }
                },
            ),
            Kw::once(
                "garp_lower_prio_repeat",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(t) = cx.one(n) {
                        d.garp_lower_prio_repeat = cx.u32(t, 0, 255, n.name()).map(|v| (v, t.span));
                    }
                },
            ),
            Kw::once(
                "garp_extra_if",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    d.garp_extra_if = parse_garp_extra_if(n, cx);
                },
            ),
            Kw::alias(
                "vmac_garp_intvl",
                "garp_extra_if",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    cx.deprecated(n, "use 'garp_extra_if'");
                    d.garp_extra_if = parse_garp_extra_if(n, cx);
                },
            ),
            Kw::once(
                "down_timer_adverts",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(t) = cx.one(n) {
                        d.down_timer_adverts =
                            cx.u32(t, 1, 100, "down_timer_adverts").map(|v| (v, t.span));
                    }
                },
            ),
            Kw::once("lower_prio_no_advert", spanned_bool!(lower_prio_no_advert)),
            Kw::once(
                "higher_prio_send_advert",
                spanned_bool!(higher_prio_send_advert),
            ),
            Kw::once("owner_ignore_adverts", opt_bool!(owner_ignore_adverts)),
            Kw::once(
                "promote_secondaries",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    set_flag(n, cx, &mut d.promote_secondaries)
                },
            ),
            Kw::once(
                "kernel_rx_buf_size",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(t) = cx.one(n) {
                        d.kernel_rx_buf_size = cx.u32(t, 1, u32::MAX, "kernel_rx_buf_size");
                    }
                },
            ),
            Kw::once("debug", |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(t) = cx.one(n) {
                    d.debug = cx.u8(t, 0, 4, "debug");
                }
            }),
            Kw::once(
                "linkbeat_use_polling",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    cx.deprecated(n, "use a linkbeat_interfaces block");
                    set_flag(n, cx, &mut d.linkbeat_use_polling)
                },
            ),
            Kw::once(
                "lvs_sync_daemon_interface",
                |d: &mut Draft, n: &Node, cx: &mut Cx<'_>| {
                    cx.deprecated(n, "use lvs_sync_daemon in global_defs");
                    d.lvs_sync_daemon_interface = super::text1(n, cx);
                },
            ),
        ]
    })
}
