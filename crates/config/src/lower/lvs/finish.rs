//! Completing a virtual server: defaults, real server ports, checker timing, quorum.

use std::time::Duration;

use super::{SmtpLater, VsDraft, What};
use crate::diag::{DiagKind, Diagnostic};
use crate::lower::checker::{self, CheckDefaults};
use crate::lower::cx::Cx;
use crate::model::{
    Checker, Config, Family, Forwarding, Protocol, RealServer, SorryServer, VirtualServer, VsKey,
    VsgEntry,
};

fn granularity(text: &str, family: Family) -> Option<u8> {
    match family {
        Family::Inet => {
            if let Ok(m) = text.parse::<std::net::Ipv4Addr>() {
                let bits = u32::from(m);
                let len = bits.leading_ones();
                // A netmask is contiguous ones.
                (bits.checked_shl(len).unwrap_or(0) == 0 && len >= 1).then_some(len as u8)
            } else {
                text.parse::<u8>().ok().filter(|l| (1..=32).contains(l))
            }
        }
        Family::Inet6 => text.parse::<u8>().ok().filter(|l| (1..=128).contains(l)),
    }
}

/// `early`, when `global_defs` is not known yet: where the server's own `smtp_alert`
/// settings are noted, so the global default can be applied to the others at the end.
pub(super) fn finish(
    d: VsDraft,
    c: &Config,
    what: &What,
    cx: &mut Cx<'_>,
    mut early: Option<&mut SmtpLater>,
) -> Option<VirtualServer> {
    let before = cx.diags.error_count();
    // The index this server gets if it is added.
    let vs_index = c.virtual_servers.len() as u32;
    let g = &c.global;
    let fwmark_only = match &d.key {
        VsKey::Fwmark { .. } => true,
        VsKey::Group { name } => c.virtual_server_groups.iter().any(|g| {
            &g.name == name
                && g.entries
                    .iter()
                    .all(|e| matches!(e, VsgEntry::Fwmark { .. }))
        }),
        VsKey::Addr { .. } => false,
    };
    let protocol = match (&d.key, d.protocol) {
        (_, Some(p)) => p,
        // A firewall mark service has no protocol of its own.
        (_, None) if fwmark_only => Protocol::Tcp,
        (_, None) => {
            cx.push(
                Diagnostic::error(
                    DiagKind::Arguments,
                    d.span,
                    format!("{what} has no protocol"),
                )
                .with_help("add 'protocol TCP' (keepalived would silently use UDP)"),
            );
            Protocol::Udp
        }
    };
    let forwarding = match d.forwarding {
        Some(f) => f,
        None => {
            cx.warning(
                DiagKind::Conflict,
                d.span,
                format!("{what} has no lvs_method (lb_kind): using NAT, as keepalived does"),
            );
            Forwarding::Nat
        }
    };
    // Family: the address's, the ip_family given, or the real servers'.
    let family = match &d.key {
        VsKey::Addr { addr, .. } => Family::of(addr),
        VsKey::Fwmark { .. } => d.ip_family.unwrap_or_else(|| {
            let fams: Vec<Family> = d.real_servers.iter().map(|r| Family::of(&r.addr)).collect();
            match fams.first() {
                Some(f) if fams.iter().all(|x| x == f) => *f,
                _ => Family::Inet,
            }
        }),
        VsKey::Group { name } => c
            .virtual_server_groups
            .iter()
            .find(|g| &g.name == name)
            .and_then(|g| {
                g.entries.iter().find_map(|e| match e {
                    VsgEntry::Range { first, .. } => Some(Family::of(first)),
                    VsgEntry::Fwmark { family, .. } => *family,
                })
            })
            .or(d.ip_family)
            .unwrap_or(Family::Inet),
    };
    // Group entries share the real servers, so they must share their family, unless
    // every real server is tunnelled (keepalived's rule).
    if let VsKey::Group { name } = &d.key {
        let all_tunnel = !d.real_servers.is_empty()
            && d.real_servers
                .iter()
                .all(|r| matches!(r.forwarding.unwrap_or(forwarding), Forwarding::Tun { .. }));
        let group = c.virtual_server_groups.iter().find(|g| &g.name == name);
        for e in group.map(|g| g.entries.as_slice()).unwrap_or(&[]) {
            let ef = match e {
                VsgEntry::Range { first, .. } => Some(Family::of(first)),
                VsgEntry::Fwmark { family, .. } => *family,
            };
            if let Some(ef) = ef
                && ef != family
                && !all_tunnel
            {
                cx.error(
                        DiagKind::Conflict,
                        d.span,
                        format!(
                            "{what}: virtual_server_group {name} mixes {family} and {ef} entries; only allowed when every real server is tunnelled"
                        ),
                    );
                break;
            }
        }
    }
    if let (VsKey::Addr { port: 0, .. }, None) = (&d.key, d.persistence_timeout) {
        cx.error(
            DiagKind::Arguments,
            d.span,
            format!(
                "{what}: a virtual server without a port must be persistent (persistence_timeout)"
            ),
        );
    }
    if d.ha_suspend && matches!(d.key, VsKey::Fwmark { .. }) {
        cx.error(
            DiagKind::Conflict,
            d.span,
            format!("{what}: ha_suspend cannot be used with a fwmark service"),
        );
    }
    let persistence_granularity = match &d.persistence_granularity {
        Some((text, sp)) => match granularity(text, family) {
            Some(l) => Some(l),
            None => {
                cx.error(
                    DiagKind::Value,
                    *sp,
                    format!("persistence_granularity '{text}' is not a {family} netmask or prefix length"),
                );
                None
            }
        },
        None => None,
    };
    if persistence_granularity.is_some() && d.persistence_timeout.is_none() {
        cx.error(
            DiagKind::Conflict,
            d.span,
            format!("{what}: persistence_granularity needs persistence_timeout"),
        );
    }
    if d.real_servers.is_empty() {
        cx.push(
            Diagnostic::error(
                DiagKind::Arguments,
                d.span,
                format!("{what} has no real_server"),
            )
            .with_help("keepalived ignores such a virtual server; add at least one real_server"),
        );
    }
    let vs_port = match &d.key {
        VsKey::Addr { port, .. } => *port,
        _ => 0,
    };
    let default_weight = d.weight.unwrap_or(1);
    let vs_timing = d.timing;
    let defaults = CheckDefaults {
        vs_delay_loop: d.timing.delay_loop.unwrap_or(Duration::from_secs(60)),
    };
    let mut real_servers: Vec<RealServer> = Vec::with_capacity(d.real_servers.len());
    for r in d.real_servers {
        let rs_fwd = r.forwarding.unwrap_or(forwarding);
        let tunnel = matches!(rs_fwd, Forwarding::Tun { .. });
        if !tunnel && Family::of(&r.addr) != family {
            cx.error(
                DiagKind::Conflict,
                r.span,
                format!("real_server {} is not {family} like its virtual server (only tunnelled real servers may differ)", r.addr),
            );
            continue;
        }
        let port = match (&d.key, rs_fwd, r.port) {
            (VsKey::Fwmark { .. }, Forwarding::Nat, p) => p.map(|p| p.0).unwrap_or(0),
            (VsKey::Fwmark { .. }, _, _) => 0,
            (_, Forwarding::Nat, Some((p, _))) => p,
            (_, Forwarding::Nat, None) => vs_port,
            (_, _, Some((p, sp))) if p != vs_port && vs_port != 0 => {
                cx.warning(
                    DiagKind::Conflict,
                    sp,
                    format!("real_server {} port {p} is ignored: DR and TUN use the virtual server's port {vs_port}", r.addr),
                );
                vs_port
            }
            (_, _, Some((p, _))) => p,
            (_, _, None) => vs_port,
        };
        if real_servers
            .iter()
            .any(|x| x.addr == r.addr && x.port == port)
        {
            cx.error(
                DiagKind::Duplicate,
                r.span,
                format!("real_server {} {port} appears twice in {what}", r.addr),
            );
            continue;
        }
        let timing = r.timing.over(vs_timing);
        let virtualhost = r.virtualhost.clone().or(d.virtualhost.clone());
        // Sized up front: a collected flat_map would keep room for four checkers each.
        let mut checkers: Vec<Checker> = Vec::with_capacity(r.checkers.len());
        for p in &r.checkers {
            checker::finish(
                p,
                r.addr,
                port,
                timing,
                virtualhost.as_deref(),
                &defaults,
                c,
                cx,
                &mut checkers,
            );
        }
        if let (Some(e), Some(_)) = (early.as_deref_mut(), r.smtp_alert) {
            e.own.push((vs_index, real_servers.len() as u32 + 1));
        }
        let smtp_alert = r
            .smtp_alert
            .or(g.smtp_alert_checker)
            .or(g.smtp_alert)
            .unwrap_or(true);
        real_servers.push(RealServer {
            addr: r.addr,
            port,
            weight: r.weight.unwrap_or(default_weight),
            forwarding: rs_fwd,
            inhibit_on_failure: r.inhibit_on_failure.unwrap_or(d.inhibit_on_failure),
            alpha: timing.alpha.unwrap_or(false),
            uthreshold: r.uthreshold,
            lthreshold: r.lthreshold,
            notify_up: r.notify_up,
            notify_down: r.notify_down,
            smtp_alert,
            virtualhost: r.virtualhost,
            snmp_name: r.snmp_name,
            checkers,
            span: r.span,
        });
    }
    // Quorum is capped at the total weight and hysteresis below quorum (keepalived).
    let total: u64 = real_servers.iter().map(|r| u64::from(r.weight)).sum();
    let mut quorum = d.quorum.map(|q| q.0).unwrap_or(1);
    if let Some((q, sp)) = d.quorum
        && u64::from(q) > total
        && !real_servers.is_empty()
    {
        cx.warning(
                DiagKind::Conflict,
                sp,
                format!("{what}: quorum {q} is more than the total weight {total}; capped, as keepalived does"),
            );
        quorum = total.max(1) as u32;
    }
    let mut hysteresis = d.hysteresis.unwrap_or(0);
    if hysteresis >= quorum {
        hysteresis = quorum - 1;
    }
    let sorry_server = d.sorry.map(|(addr, port, _)| SorryServer {
        addr,
        port: port.unwrap_or(vs_port),
        forwarding: d.sorry_forwarding.unwrap_or(forwarding),
        inhibit: d.sorry_inhibit,
    });
    if let (Some(s), Some((_, _, sp))) = (&sorry_server, d.sorry)
        && !matches!(s.forwarding, Forwarding::Tun { .. })
        && Family::of(&s.addr) != family
    {
        cx.error(
            DiagKind::Conflict,
            sp,
            format!("sorry_server {} is not {family}", s.addr),
        );
    }
    if cx.diags.error_count() > before {
        if let Some(e) = early {
            // Nothing of this server is kept.
            while e.own.last().is_some_and(|(v, _)| *v == vs_index) {
                e.own.pop();
            }
        }
        return None;
    }
    if let (Some(e), Some(_)) = (early, d.smtp_alert) {
        e.own.push((vs_index, 0));
    }
    Some(VirtualServer {
        key: d.key,
        protocol,
        family,
        scheduler: d.scheduler.unwrap_or_else(|| "wlc".into()),
        sched_flags: d.sched_flags,
        forwarding,
        persistence_timeout: d.persistence_timeout,
        persistence_granularity,
        persistence_engine: d.persistence_engine,
        delay_loop: defaults.vs_delay_loop,
        inhibit_on_failure: d.inhibit_on_failure,
        alpha: vs_timing.alpha.unwrap_or(false),
        omega: d.omega,
        ha_suspend: d.ha_suspend,
        quorum,
        hysteresis,
        quorum_up: d.quorum_up.map(Box::new),
        quorum_down: d.quorum_down.map(Box::new),
        sorry_server,
        virtualhost: d.virtualhost,
        smtp_alert: d
            .smtp_alert
            .or(g.smtp_alert_checker)
            .or(g.smtp_alert)
            .unwrap_or(false),
        snmp_name: d.snmp_name,
        track_instance: d.track_instance.map(|(name, _)| name),
        drain_timeout: d.drain_timeout,
        real_servers,
        span: d.span,
    })
}
