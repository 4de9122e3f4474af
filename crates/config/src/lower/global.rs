//! `global_defs` and the top-level process keywords.

use std::time::Duration;

use super::cx::{Cx, Kw};
use super::{text1, value_words};
use crate::diag::DiagKind;
use crate::model::{Fifo, FlushOnStop, GarpExtraIf, GlobalDefs, SmtpServer, SyncDaemon, UserGroup};
use crate::tree::Node;

const SEC: Duration = Duration::from_secs(1);
const DAY: Duration = Duration::from_secs(86_400);
const MAX_TIMER: Duration = Duration::from_secs(u32::MAX as u64);

macro_rules! flag {
    ($field:ident) => {
        |g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>| {
            if let Some(v) = cx.flag(n) {
                g.$field = v;
            }
        }
    };
}

macro_rules! opt_flag {
    ($field:ident) => {
        |g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>| {
            if let Some(v) = cx.flag(n) {
                g.$field = Some(v);
            }
        }
    };
}

macro_rules! text {
    ($($field:ident).+) => {
        |g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>| {
            if let Some(v) = text1(n, cx) {
                g.$($field).+ = v;
            }
        }
    };
}

macro_rules! opt_text {
    ($($field:ident).+) => {
        |g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>| {
            if let Some(v) = text1(n, cx) {
                g.$($field).+ = Some(v);
            }
        }
    };
}

macro_rules! timer {
    ($($field:ident).+, $min:expr, $max:expr) => {
        |g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>| {
            if let Some(t) = cx.one(n) {
                if let Some(v) = cx.timer(t, $min, $max, n.name()) {
                    g.$($field).+ = v;
                }
            }
        }
    };
}

macro_rules! count {
    ($($field:ident).+, $min:expr, $max:expr) => {
        |g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>| {
            if let Some(t) = cx.one(n) {
                if let Some(v) = cx.u32(t, $min, $max, n.name()) {
                    g.$($field).+ = v.into();
                }
            }
        }
    };
}

macro_rules! script {
    ($($field:ident).+) => {
        |g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>| {
            if let Some(s) = cx.script(n) {
                g.$($field).+ = Some(s);
            }
        }
    };
}

macro_rules! fifo {
    ($field:ident) => {
        |g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>| {
            if cx.arity(n, 1, 3) {
                g.fifos.$field = Some(Fifo {
                    path: n.args[0].text.to_string(),
                    user: n.args.get(1).map(|t| t.text.to_string()),
                    group: n.args.get(2).map(|t| t.text.to_string()),
                });
            }
        }
    };
}

/// Rare keywords kept by name with their arguments.
fn tuning(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if cx.arity(n, 0, 64) {
        g.tuning.insert(
            n.name().to_string(),
            n.args.iter().map(|t| t.text.to_string()).collect(),
        );
    }
}

fn deprecated_alias(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    let canonical = match n.name() {
        "lvs_flush_onstop" => "lvs_flush_on_stop",
        "vrrp_vmac_garp_intvl" => "vrrp_garp_extra_if",
        "lvs_process_name" => "checker_process_name",
        "enable_snmp_keepalived" => "enable_snmp_vrrp",
        other => other,
    };
    cx.deprecated(n, &format!("use '{canonical}'"));
    match canonical {
        "lvs_flush_on_stop" => lvs_flush_on_stop(g, n, cx),
        "vrrp_garp_extra_if" => garp_extra_if(g, n, cx),
        _ => tuning(g, n, cx),
    }
}

fn notification_email(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if let Some(words) = value_words(n, cx) {
        g.notification_email
            .extend(words.into_iter().map(|t| t.text.to_string()));
    }
}

fn smtp_server(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if !cx.arity(n, 1, 2) {
        return;
    }
    let port = match n.args.get(1) {
        Some(p) => match cx.u16(p, 1, u16::MAX, "smtp_server port") {
            Some(p) => p,
            None => return,
        },
        None => 25,
    };
    g.smtp_server = Some(SmtpServer {
        host: n.args[0].text.to_string(),
        port,
    });
}

fn script_user(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if cx.arity(n, 1, 2) {
        g.script_user = Some(UserGroup {
            user: n.args[0].text.to_string(),
            group: n.args.get(1).map(|t| t.text.to_string()),
        });
    }
}

fn vrrp_version(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if let Some(t) = cx.one(n)
        && let Some(v) = cx.u8(t, 2, 3, "vrrp_version")
    {
        g.vrrp_version = v;
    }
}

fn mcast_group4(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    let Some(t) = cx.one(n) else { return };
    match t.text.parse::<std::net::Ipv4Addr>() {
        Ok(a) if a.is_multicast() => g.vrrp_mcast_group4 = a,
        _ => cx.error(
            DiagKind::Value,
            t.span,
            format!(
                "vrrp_mcast_group4 '{}' is not an IPv4 multicast address",
                t.text
            ),
        ),
    }
}

fn mcast_group6(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    let Some(t) = cx.one(n) else { return };
    match t.text.parse::<std::net::Ipv6Addr>() {
        // VRRP groups must be link-local scope (ffX2::/16).
        Ok(a) if a.is_multicast() && (a.segments()[0] & 0x000f) == 2 => g.vrrp_mcast_group6 = a,
        _ => cx.error(
            DiagKind::Value,
            t.span,
            format!(
                "vrrp_mcast_group6 '{}' is not a link-local IPv6 multicast address (ffX2::...)",
                t.text
            ),
        ),
    }
}

fn garp_extra_if(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if let Some(v) = super::vrrp::parse_garp_extra_if(n, cx) {
        g.vrrp_garp_extra_if = Some(v);
    }
}

pub(super) fn parse_extra_if(n: &Node, cx: &mut Cx<'_>) -> Option<GarpExtraIf> {
    if !cx.arity(n, 1, 2) {
        return None;
    }
    let (all, t) = match n.args.as_slice() {
        [a, t] if a.text == "all" => (true, t),
        [a, _] => {
            cx.error(
                DiagKind::Value,
                a.span,
                format!(
                    "'{}' takes [all] SECONDS; '{}' is not 'all'",
                    n.name(),
                    a.text
                ),
            );
            return None;
        }
        [t] => (false, t),
        _ => return None,
    };
    let interval = cx.timer(t, Duration::ZERO, DAY, n.name())?;
    Some(GarpExtraIf { all, interval })
}

fn dynamic_interfaces(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if !cx.arity(n, 0, 1) {
        return;
    }
    match n.args.first() {
        None => g.dynamic_interfaces = true,
        Some(t) if t.text == "allow_if_changes" => {
            g.dynamic_interfaces = true;
            g.dynamic_interfaces_allow_if_changes = true;
        }
        Some(t) => cx.error(
            DiagKind::Value,
            t.span,
            format!(
                "dynamic_interfaces takes only 'allow_if_changes', not '{}'",
                t.text
            ),
        ),
    }
}

fn lvs_sync_daemon(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if !cx.arity(n, 1, 13) {
        return;
    }
    let mut d = SyncDaemon {
        interface: n.args[0].text.to_string(),
        instance: None,
        id: None,
        maxlen: None,
        port: None,
        ttl: None,
        group: None,
    };
    let mut i = 1;
    while i < n.args.len() {
        let w = &n.args[i];
        let val = n.args.get(i + 1);
        let needs = |cx: &mut Cx<'_>| {
            cx.error(
                DiagKind::Arguments,
                w.span,
                format!("lvs_sync_daemon '{}' needs a value", w.text),
            )
        };
        match w.text.as_str() {
            "inst" | "id" | "maxlen" | "port" | "ttl" | "group" if val.is_none() => {
                needs(cx);
                return;
            }
            "inst" => d.instance = val.map(|t| t.text.to_string()),
            "id" => d.id = val.and_then(|t| cx.u8(t, 0, 255, "lvs_sync_daemon id")),
            "maxlen" => d.maxlen = val.and_then(|t| cx.u16(t, 1, 65507, "lvs_sync_daemon maxlen")),
            "port" => d.port = val.and_then(|t| cx.u16(t, 1, 65535, "lvs_sync_daemon port")),
            "ttl" => d.ttl = val.and_then(|t| cx.u8(t, 1, 255, "lvs_sync_daemon ttl")),
            "group" => d.group = val.and_then(|t| cx.ip(t, "lvs_sync_daemon group")),
            _ if i == 1 => {
                // keepalived accepts the instance name without 'inst'.
                d.instance = Some(w.text.to_string());
                i += 1;
                continue;
            }
            other => {
                cx.error(
                    DiagKind::Value,
                    w.span,
                    format!(
                        "lvs_sync_daemon: unknown option '{other}' (inst, id, maxlen, port, ttl, group)"
                    ),
                );
                return;
            }
        }
        i += 2;
    }
    g.lvs_sync_daemon = Some(d);
}

fn lvs_timeouts(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if !cx.arity(n, 2, 6) {
        return;
    }
    for pair in n.args.chunks(2) {
        let [k, v] = pair else {
            cx.error(
                DiagKind::Arguments,
                pair[0].span,
                format!("lvs_timeouts '{}' needs a number of seconds", pair[0].text),
            );
            return;
        };
        let Some(name) = cx.choice(k, &["tcp", "tcpfin", "udp"], "lvs_timeouts option") else {
            return;
        };
        let Some(secs) = cx.u32(v, 1, 86_400 * 31, &format!("lvs_timeouts {name}")) else {
            return;
        };
        let d = Some(Duration::from_secs(secs.into()));
        match name {
            "tcp" => g.lvs_timeouts.tcp = d,
            "tcpfin" => g.lvs_timeouts.tcpfin = d,
            _ => g.lvs_timeouts.udp = d,
        }
    }
}

fn lvs_flush_on_stop(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if !cx.arity(n, 0, 1) {
        return;
    }
    g.lvs_flush_on_stop = match n.args.first() {
        None => FlushOnStop::All,
        Some(t) if t.text == "VS" => FlushOnStop::VirtualServers,
        Some(t) => {
            cx.error(
                DiagKind::Value,
                t.span,
                format!("lvs_flush_on_stop takes only 'VS', not '{}'", t.text),
            );
            return;
        }
    };
}

fn script_timeout(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    let Some(t) = cx.one(n) else { return };
    let Some(v) = cx.u32(t, 1, 1000, n.name()) else {
        return;
    };
    let d = Duration::from_secs(v.into());
    if n.name() == "startup_script_timeout" {
        g.startup_script_timeout = d;
    } else {
        g.shutdown_script_timeout = d;
    }
}

fn random_seed(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if let Some(t) = cx.one(n) {
        g.random_seed = cx.u32(t, 0, u32::MAX, "random_seed");
    }
}

fn umask(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if !cx.arity(n, 1, 16) {
        return;
    }
    let text: String = n
        .args
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join("");
    let parsed = if let Some(h) = text.strip_prefix("0x") {
        u32::from_str_radix(h, 16).ok()
    } else if text.starts_with('0') && text.len() > 1 {
        u32::from_str_radix(&text[1..], 8).ok()
    } else if text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        text.split('|').try_fold(0u32, |acc, bit| {
            let v = match bit.trim() {
                "IRUSR" => 0o400,
                "IWUSR" => 0o200,
                "IXUSR" => 0o100,
                "IRGRP" => 0o040,
                "IWGRP" => 0o020,
                "IXGRP" => 0o010,
                "IROTH" => 0o004,
                "IWOTH" => 0o002,
                "IXOTH" => 0o001,
                _ => return None,
            };
            Some(acc | v)
        })
    };
    match parsed {
        Some(v) if v <= 0o777 => g.umask = Some(v),
        _ => cx.error(
            DiagKind::Value,
            n.args[0].span,
            format!("umask '{text}' is not a number or I{{R|W|X}}{{USR|GRP|OTH}} bits"),
        ),
    }
}

fn reload_check_config(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if cx.arity(n, 0, 1) {
        g.reload_check_config = true;
        g.reload_check_config_log = n.args.first().map(|t| t.text.to_string());
    }
}

fn include_check(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if !cx.arity(n, 0, 4) {
        return;
    }
    let words = n.args.iter().map(|t| t.text.as_str());
    if let Err(bad) = crate::preprocess::IncludeChecks::default().apply_option_words(words) {
        let span = n
            .args
            .iter()
            .find(|t| t.text == bad)
            .map(|t| t.span)
            .unwrap_or(n.keyword.span);
        cx.error(
            DiagKind::Value,
            span,
            format!(
                "include_check option '{bad}' is not readable, match, wildcard_match or brace_match"
            ),
        );
        return;
    }
    g.include_check = Some(n.args.iter().map(|t| t.text.to_string()).collect());
}

fn net_namespace_ipvs(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    if cx.arity(n, 0, 1) {
        g.net_namespace_ipvs = Some(
            n.args
                .first()
                .map(|t| t.text.to_string())
                .unwrap_or_default(),
        );
    }
}

/// Keywords of `global_defs`.
pub(super) fn table() -> &'static [Kw<GlobalDefs>] {
    static T: std::sync::OnceLock<Vec<Kw<GlobalDefs>>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut t: Vec<Kw<GlobalDefs>> = vec![
            Kw::once("router_id", opt_text!(router_id)),
            Kw::once("notification_email", notification_email),
            Kw::once(
                "notification_email_from",
                opt_text!(notification_email_from),
            ),
            Kw::once("smtp_server", smtp_server),
            Kw::once("smtp_helo_name", opt_text!(smtp_helo_name)),
            Kw::once(
                "smtp_connect_timeout",
                timer!(smtp_connect_timeout, SEC, Duration::from_secs(3600)),
            ),
            Kw::once("smtp_alert", opt_flag!(smtp_alert)),
            Kw::once("smtp_alert_vrrp", opt_flag!(smtp_alert_vrrp)),
            Kw::once("smtp_alert_checker", opt_flag!(smtp_alert_checker)),
            Kw::once("checker_log_all_failures", flag!(checker_log_all_failures)),
            Kw::once("no_email_faults", flag!(no_email_faults)),
            Kw::once("no_checker_emails", flag!(no_checker_emails)),
            Kw::once("enable_script_security", flag!(enable_script_security)),
            Kw::once("script_user", script_user),
            Kw::once("vrrp_version", vrrp_version),
            Kw::once("vrrp_mcast_group4", mcast_group4),
            Kw::once("vrrp_mcast_group6", mcast_group6),
            Kw::once(
                "vrrp_garp_master_delay",
                timer!(garp.master_delay, Duration::ZERO, DAY),
            ),
            Kw::once(
                "vrrp_garp_master_repeat",
                count!(garp.master_repeat, 1, 255),
            ),
            Kw::once(
                "vrrp_garp_master_refresh",
                timer!(garp.master_refresh, Duration::ZERO, DAY),
            ),
            Kw::once(
                "vrrp_garp_master_refresh_repeat",
                count!(garp.master_refresh_repeat, 1, 255),
            ),
            Kw::once(
                "vrrp_garp_lower_prio_delay",
                |g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(t) = cx.one(n) {
                        g.garp.lower_prio_delay = cx.timer(t, Duration::ZERO, DAY, n.name());
                    }
                },
            ),
            Kw::once(
                "vrrp_garp_lower_prio_repeat",
                |g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(t) = cx.one(n) {
                        g.garp.lower_prio_repeat = cx.u32(t, 0, 255, n.name());
                    }
                },
            ),
            Kw::once(
                "vrrp_garp_interval",
                timer!(garp.interval, Duration::ZERO, SEC),
            ),
            Kw::once(
                "vrrp_gna_interval",
                timer!(garp.gna_interval, Duration::ZERO, SEC),
            ),
            Kw::once(
                "vrrp_min_garp",
                |g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(v) = cx.flag(n) {
                        g.garp.min_garp = v;
                    }
                },
            ),
            Kw::once("vrrp_garp_extra_if", garp_extra_if),
            Kw::alias(
                "vrrp_vmac_garp_intvl",
                "vrrp_garp_extra_if",
                deprecated_alias,
            ),
            Kw::once(
                "vrrp_lower_prio_no_advert",
                flag!(vrrp_lower_prio_no_advert),
            ),
            Kw::once(
                "vrrp_higher_prio_send_advert",
                flag!(vrrp_higher_prio_send_advert),
            ),
            Kw::once(
                "vrrp_owner_ignore_adverts",
                flag!(vrrp_owner_ignore_adverts),
            ),
            Kw::once("vrrp_strict", flag!(vrrp_strict)),
            Kw::once("vrrp_skip_check_adv_addr", flag!(vrrp_skip_check_adv_addr)),
            Kw::once("vrrp_check_unicast_src", flag!(vrrp_check_unicast_src)),
            Kw::once(
                "vrrp_down_timer_adverts",
                count!(vrrp_down_timer_adverts, 1, 100),
            ),
            Kw::once(
                "vrrp_startup_delay",
                timer!(
                    vrrp_startup_delay,
                    Duration::ZERO,
                    Duration::from_secs(3600)
                ),
            ),
            Kw::once(
                "vrrp_delay_after_boot",
                timer!(
                    vrrp_delay_after_boot,
                    Duration::ZERO,
                    Duration::from_secs(3600)
                ),
            ),
            Kw::once(
                "vrrp_notify_priority_changes",
                flag!(vrrp_notify_priority_changes),
            ),
            Kw::once("dynamic_interfaces", dynamic_interfaces),
            Kw::once("default_interface", text!(default_interface)),
            Kw::once("lvs_sync_daemon", lvs_sync_daemon),
            Kw::once("lvs_timeouts", lvs_timeouts),
            Kw::once("lvs_flush", flag!(lvs_flush)),
            Kw::once("lvs_flush_on_stop", lvs_flush_on_stop),
            Kw::alias("lvs_flush_onstop", "lvs_flush_on_stop", deprecated_alias),
            Kw::once("notify_fifo", fifo!(all)),
            Kw::once("notify_fifo_script", script!(fifos.all_script)),
            Kw::once("vrrp_notify_fifo", fifo!(vrrp)),
            Kw::once("vrrp_notify_fifo_script", script!(fifos.vrrp_script)),
            Kw::once("lvs_notify_fifo", fifo!(lvs)),
            Kw::once("lvs_notify_fifo_script", script!(fifos.lvs_script)),
            Kw::once(
                "fifo_write_vrrp_states_on_reload",
                flag!(fifo_write_vrrp_states_on_reload),
            ),
            Kw::once("rs_init_notifies", flag!(rs_init_notifies)),
            Kw::once("startup_script", script!(startup_script)),
            Kw::once("startup_script_timeout", script_timeout),
            Kw::once("shutdown_script", script!(shutdown_script)),
            Kw::once("shutdown_script_timeout", script_timeout),
            Kw::once("vmac_prefix", text!(vmac_prefix)),
            Kw::once("vmac_addr_prefix", opt_text!(vmac_addr_prefix)),
            Kw::once("log_unknown_vrids", flag!(log_unknown_vrids)),
            Kw::once("random_seed", random_seed),
            Kw::once("umask", umask),
            Kw::once("state_dump_file", text!(state_dump_file)),
            Kw::once("stats_dump_file", text!(stats_dump_file)),
            Kw::once("json_dump_file", text!(json_dump_file)),
            Kw::once("data_use_instance", flag!(data_use_instance)),
            Kw::once("reload_check_config", reload_check_config),
            Kw::once("include_check", include_check),
            // rkeepalived's own keywords
            Kw::once("lvs_rules_everywhere", flag!(lvs_rules_everywhere)),
            Kw::once("lvs_keep_rules_on_stop", flag!(lvs_keep_rules_on_stop)),
            Kw::once(
                "lvs_drain_timeout",
                timer!(lvs_drain_timeout, Duration::ZERO, DAY),
            ),
            Kw::once(
                "lvs_reconcile_interval",
                timer!(
                    lvs_reconcile_interval,
                    Duration::from_millis(100),
                    Duration::from_secs(3600)
                ),
            ),
            Kw::alias("lvs_process_name", "checker_process_name", deprecated_alias),
            Kw::alias(
                "enable_snmp_keepalived",
                "enable_snmp_vrrp",
                deprecated_alias,
            ),
        ];
        for name in TUNING {
            t.push(Kw::once(name, tuning));
        }
        t
    })
}

/// keepalived keywords with no effect on rkeepalived's behaviour yet, kept by name.
const TUNING: &[&str] = &[
    "process_names",
    "process_name",
    "vrrp_process_name",
    "checker_process_name",
    "bfd_process_name",
    "max_auto_priority",
    "min_auto_priority_delay",
    "vrrp_priority",
    "vrrp_no_swap",
    "vrrp_rt_priority",
    "vrrp_cpu_affinity",
    "vrrp_rlimit_rttime",
    "vrrp_rlimit_rtime",
    "checker_priority",
    "checker_no_swap",
    "checker_rt_priority",
    "checker_cpu_affinity",
    "checker_rlimit_rttime",
    "checker_rlimit_rtime",
    "bfd_priority",
    "bfd_no_swap",
    "bfd_rt_priority",
    "bfd_cpu_affinity",
    "bfd_rlimit_rttime",
    "bfd_rlimit_rtime",
    "snmp_socket",
    "enable_traps",
    "enable_snmp_vrrp",
    "enable_snmp_rfc",
    "enable_snmp_rfcv2",
    "enable_snmp_rfcv3",
    "enable_snmp_checker",
    "snmp_vs_stats_update_interval",
    "snmp_rs_stats_update_interval",
    "enable_dbus",
    "dbus_service_name",
    "vrrp_iptables",
    "vrrp_ipsets",
    "nftables",
    "nftables_priority",
    "nftables_ifindex",
    "nftables_counters",
    "nftables_ipvs",
    "nftables_ipvs_priority",
    "nftables_ipvs_start_fwmark",
    "disable_local_igmp",
    "vrrp_netlink_cmd_rcv_bufs",
    "vrrp_netlink_cmd_rcv_bufs_force",
    "vrrp_netlink_monitor_rcv_bufs",
    "vrrp_netlink_monitor_rcv_bufs_force",
    "process_monitor_rcv_bufs",
    "process_monitor_rcv_bufs_force",
    "lvs_netlink_cmd_rcv_bufs",
    "lvs_netlink_cmd_rcv_bufs_force",
    "lvs_netlink_monitor_rcv_bufs",
    "lvs_netlink_monitor_rcv_bufs_force",
    "vrrp_rx_bufs_policy",
    "vrrp_rx_bufs_multiplier",
    "reload_time_file",
    "reload_repeat",
    "reload_file",
    "config_save_dir",
    "tmp_config_directory",
    "use_symlink_paths",
    "set_supplementary_groups",
    "iproute_usr_dir",
    "iproute_etc_dir",
    "v3_checksum_as_v2",
    "json_version",
];

/// Top-level keywords that set process options.
pub(super) fn top_level(g: &mut GlobalDefs, n: &Node, cx: &mut Cx<'_>) {
    match n.name() {
        "net_namespace" => {
            if let Some(v) = text1(n, cx) {
                g.net_namespace = Some(v);
            }
        }
        "net_namespace_ipvs" => net_namespace_ipvs(g, n, cx),
        "instance" => {
            if let Some(v) = text1(n, cx) {
                g.instance = Some(v);
            }
        }
        "use_pid_dir" => {
            if cx.bare(n) {
                g.use_pid_dir = true;
            }
        }
        "child_wait_time" => {
            if let Some(t) = cx.one(n)
                && let Some(v) = cx.timer(t, SEC, MAX_TIMER, "child_wait_time")
            {
                g.child_wait_time = v;
            }
        }
        _ => tuning(g, n, cx),
    }
}

/// Checks values that depend on one another once `global_defs` is read.
pub(super) fn finish(g: &mut GlobalDefs, cx: &mut Cx<'_>, span: Option<crate::source::Span>) {
    if g.garp.min_garp {
        g.garp.master_repeat = 1;
        g.garp.master_delay = Duration::ZERO;
        g.garp.master_refresh = Duration::ZERO;
    }
    if let (Some(s), Some(sp)) = (&g.smtp_server, span)
        && g.notification_email.is_empty()
    {
        cx.warning(
            DiagKind::Conflict,
            sp,
            format!(
                "smtp_server {} is set but notification_email is empty: no mail will be sent",
                s.host
            ),
        );
    }
}
