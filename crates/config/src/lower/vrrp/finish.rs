//! Completing an instance: keepalived's `vrrp_complete_instance` rules, each fix-up it
//! reports turned into an error.

use std::net::IpAddr;
use std::time::Duration;

use super::Draft;
use crate::diag::{DiagKind, Diagnostic};
use crate::lower::cx::Cx;
use crate::model::{
    AuthKind, Authentication, Family, GarpSchedule, GlobalDefs, InitialState, VrrpInstance,
};
use crate::source::Span;

/// Applies defaults and keepalived's consistency rules.
pub(super) fn finish(d: Draft, g: &GlobalDefs, cx: &mut Cx<'_>) -> Option<VrrpInstance> {
    let span = d.span?;
    let name = d.name.clone();
    let who = format!("vrrp_instance {name}");
    let before = cx.diags.error_count();
    let err = |cx: &mut Cx<'_>, sp: Span, msg: String| cx.error(DiagKind::Conflict, sp, msg);

    let Some(vrid) = d.vrid else {
        if d.seen.contains(&"virtual_router_id") {
            return None;
        }
        cx.error(
            DiagKind::Arguments,
            span,
            format!("{who} has no virtual_router_id (1-255)"),
        );
        return None;
    };
    let strict = d.strict_mode.unwrap_or(g.vrrp_strict);

    // Address family: from the VIPs, which must agree.
    let mut family = d.vips.first().map(|v| v.family());
    for v in &d.vips {
        if Some(v.family()) != family {
            cx.push(
                Diagnostic::error(
                    DiagKind::Conflict,
                    v.span,
                    format!(
                        "{who}: VIP {} is {} but the first VIP is {}",
                        v.prefix,
                        v.family(),
                        family.map(|f| f.to_string()).unwrap_or_default()
                    ),
                )
                .with_help("put addresses of the other family in virtual_ipaddress_excluded"),
            );
        }
    }
    if family.is_none() {
        family = d
            .unicast_src_ip
            .or(d.mcast_src_ip)
            .or(d.mcast_dst_ip)
            .map(|(a, _)| Family::of(&a));
    }
    if d.native_ipv6 {
        if family == Some(Family::Inet) {
            err(cx, span, format!("{who}: native_ipv6 with IPv4 addresses"));
        }
        family = Some(Family::Inet6);
    }
    let family = family.unwrap_or(Family::Inet);

    // Version: IPv6 is always VRRPv3.
    let version = match (d.version, family) {
        (Some((2, sp)), Family::Inet6) => {
            err(
                cx,
                sp,
                format!("{who}: VRRP version 2 is IPv4 only; IPv6 instances use version 3"),
            );
            3
        }
        (Some((v, _)), _) => v,
        (None, Family::Inet6) => 3,
        (None, Family::Inet) => g.vrrp_version,
    };

    if d.vips.is_empty() && !d.seen.contains(&"virtual_ipaddress") {
        if version == 3 || strict {
            err(
                cx,
                span,
                format!("{who} has no virtual_ipaddress; VRRPv3 and strict mode need at least one"),
            );
        } else {
            cx.warning(
                DiagKind::Conflict,
                span,
                format!("{who} has no virtual_ipaddress"),
            );
        }
    }

    // Priority and state derive from each other.
    let priority = d.priority.unwrap_or(match d.state {
        Some((InitialState::Master, _)) => 255,
        _ => 100,
    });
    let state = match d.state {
        Some((s, sp)) => {
            if strict && (s == InitialState::Master) != (priority == 255) {
                err(
                    cx,
                    sp,
                    format!(
                        "{who}: in strict mode state MASTER requires priority 255 and the reverse"
                    ),
                );
            }
            s
        }
        None if priority == 255 => InitialState::Master,
        None => InitialState::Backup,
    };

    // Authentication (VRRPv2 only).
    let mut authentication = None;
    if let Some(asp) = d.auth_span {
        match (d.auth_type, &d.auth_pass) {
            _ if strict => err(
                cx,
                asp,
                format!("{who}: strict mode does not allow authentication"),
            ),
            _ if version == 3 => cx.push(
                Diagnostic::error(
                    DiagKind::Conflict,
                    asp,
                    format!("{who}: VRRPv3 has no authentication (RFC 5798)"),
                )
                .with_help("remove the authentication block or use version 2"),
            ),
            (None, _) if d.seen.contains(&"auth_type") => {}
            (Some(_), None) if d.seen.contains(&"auth_pass") => {}
            (None, _) => err(cx, asp, format!("{who}: authentication without auth_type")),
            (Some(_), None) => err(cx, asp, format!("{who}: authentication without auth_pass")),
            (Some((AuthKind::Ah, sp)), Some(_)) if family == Family::Inet6 => {
                err(cx, sp, format!("{who}: AH authentication is IPv4 only"))
            }
            (Some((AuthKind::Ah, sp)), Some(_))
                if state == InitialState::Master && priority != 255 =>
            {
                err(
                    cx,
                    sp,
                    format!(
                        "{who}: AH authentication cannot start in state MASTER: it must learn the peer's sequence number first; use state BACKUP"
                    ),
                )
            }
            (Some((kind, _)), Some((pass, _))) => {
                authentication = Some(Authentication {
                    kind,
                    password: pass.clone(),
                })
            }
        }
    }

    // Unicast.
    let unicast = !d.unicast_peers.is_empty();
    if unicast && strict {
        err(
            cx,
            span,
            format!("{who}: unicast peers are not allowed in strict mode"),
        );
    }
    if d.interface.is_none() {
        match d.unicast_src_ip {
            None => err(
                cx,
                span,
                format!("{who} needs an interface (or unicast_src_ip with unicast_peer)"),
            ),
            Some((IpAddr::V6(a), sp)) if a.segments()[0] & 0xffc0 == 0xfe80 => err(
                cx,
                sp,
                format!("{who}: a link-local unicast_src_ip needs an interface"),
            ),
            _ => {}
        }
    }
    if let Some(usp) = d.unicast_keyword
        && !unicast
        && !d.unicast_fault_no_peer
    {
        cx.push(
                Diagnostic::error(
                    DiagKind::Conflict,
                    usp,
                    format!("{who}: unicast is configured but there is no unicast_peer"),
                )
                .with_help("keepalived would silently fall back to multicast; add unicast_peer { ... } or unicast_fault_no_peer"),
            );
    }
    if let (Some((_, sp)), false) = (d.unicast_ttl, unicast) {
        err(cx, sp, format!("{who}: unicast_ttl without unicast peers"));
    }
    for p in &d.unicast_peers {
        if Family::of(&p.addr) != family {
            err(
                cx,
                span,
                format!("{who}: unicast_peer {} is not {family}", p.addr),
            );
        }
    }
    let src_ip = match (d.unicast_src_ip, d.mcast_src_ip) {
        (Some((a, _)), Some((_, sp2))) => {
            err(
                cx,
                sp2,
                format!("{who}: both mcast_src_ip and unicast_src_ip are set"),
            );
            Some(a)
        }
        (Some((a, _)), None) | (None, Some((a, _))) => Some(a),
        (None, None) => None,
    };
    if let Some(a) = src_ip
        && Family::of(&a) != family
    {
        err(
            cx,
            span,
            format!("{who}: source address {a} is not {family}"),
        );
    }

    // VMAC.
    if let Some((_, vsp)) = &d.use_vmac {
        if unicast && !d.vmac_xmit_base {
            cx.push(
                Diagnostic::error(
                    DiagKind::Conflict,
                    *vsp,
                    format!("{who}: use_vmac with unicast peers needs vmac_xmit_base"),
                )
                .with_help("add vmac_xmit_base (keepalived sets it for you and reports an error)"),
            );
        }
        if strict && d.use_vmac.as_ref().is_some_and(|(v, _)| v.mac.is_some()) {
            err(
                cx,
                *vsp,
                format!("{who}: a VMAC address cannot be given in strict mode"),
            );
        }
    }
    if strict && d.vmac_xmit_base {
        err(
            cx,
            span,
            format!("{who}: vmac_xmit_base is not allowed in strict mode"),
        );
    }

    // IPv6 multicast adverts carry a link-local first address (RFC 5798 §5.2.9).
    if family == Family::Inet6
        && !unicast
        && let Some(first) = d.vips.first()
        && let IpAddr::V6(a) = first.addr()
        && a.segments()[0] & 0xffc0 != 0xfe80
    {
        let msg = format!("{who}: the first IPv6 VIP should be link-local (fe80::/10)");
        if strict {
            err(cx, first.span, msg);
        } else {
            cx.warning(DiagKind::Conflict, first.span, msg);
        }
    }

    // Preemption.
    let mut preempt = true;
    if let Some(sp) = d.nopreempt {
        if priority == 255 {
            err(
                cx,
                sp,
                format!(
                    "{who}: nopreempt cannot work with priority 255 (the owner always takes over)"
                ),
            );
        } else if state == InitialState::Master {
            cx.push(
                Diagnostic::error(
                    DiagKind::Conflict,
                    sp,
                    format!("{who}: nopreempt does not work with state MASTER"),
                )
                .with_help("use state BACKUP on every node with nopreempt"),
            );
        } else {
            preempt = false;
        }
    }
    let mut preempt_delay = Duration::ZERO;
    if let Some((v, sp)) = d.preempt_delay
        && v > Duration::ZERO
    {
        if state == InitialState::Master {
            err(
                cx,
                sp,
                format!("{who}: preempt_delay does not work with state MASTER"),
            );
        } else if strict {
            err(
                cx,
                sp,
                format!("{who}: preempt_delay is not allowed in strict mode"),
            );
        } else if d.nopreempt.is_some() {
            err(
                cx,
                sp,
                format!("{who}: preempt_delay has no meaning with nopreempt"),
            );
        } else {
            preempt_delay = v;
        }
    }
    let down_timer_adverts = match d.down_timer_adverts {
        Some((v, sp)) if strict && v != 3 => {
            err(
                cx,
                sp,
                format!("{who}: down_timer_adverts must stay 3 in strict mode"),
            );
            3
        }
        Some((v, _)) => v,
        None => g.vrrp_down_timer_adverts,
    };

    // Accept mode.
    let accept = match d.accept {
        Some((true, sp)) if strict && version == 2 && priority != 255 => {
            err(
                cx,
                sp,
                format!("{who}: accept mode is not part of VRRPv2 (RFC 3768) in strict mode"),
            );
            false
        }
        Some((a, _)) => a,
        None => priority == 255 || !strict,
    };

    // Multicast group.
    let mcast_group = match (unicast, d.mcast_dst_ip) {
        (true, Some((_, sp))) => {
            err(cx, sp, format!("{who}: mcast_dst_ip with unicast peers"));
            None
        }
        (true, None) => None,
        (false, Some((a, sp))) => {
            if Family::of(&a) != family {
                err(cx, sp, format!("{who}: mcast_dst_ip {a} is not {family}"));
            }
            Some(a)
        }
        (false, None) => Some(match family {
            Family::Inet => IpAddr::V4(g.vrrp_mcast_group4),
            Family::Inet6 => IpAddr::V6(g.vrrp_mcast_group6),
        }),
    };

    // GARP schedule.
    let lower_prio_repeat = match d.garp_lower_prio_repeat {
        Some((v, sp)) if strict && v != 0 => {
            err(
                cx,
                sp,
                format!("{who}: strict mode sends no GARP on a lower-priority advert"),
            );
            0
        }
        Some((v, _)) => v,
        None if strict => 0,
        None => g.garp.lower_prio_repeat.unwrap_or(g.garp.master_repeat),
    };
    let lower_prio_delay = match d.garp_lower_prio_delay {
        Some((v, sp)) if strict && v != Duration::ZERO => {
            err(
                cx,
                sp,
                format!("{who}: strict mode sends no delayed GARP on a lower-priority advert"),
            );
            Duration::ZERO
        }
        Some((v, _)) => v,
        None if strict => Duration::ZERO,
        None => g.garp.lower_prio_delay.unwrap_or(g.garp.master_delay),
    };
    let garp = GarpSchedule {
        master_delay: d.garp_master_delay.unwrap_or(g.garp.master_delay),
        master_repeat: d.garp_master_repeat.unwrap_or(g.garp.master_repeat),
        master_refresh: d.garp_master_refresh.unwrap_or(g.garp.master_refresh),
        master_refresh_repeat: d
            .garp_master_refresh_repeat
            .unwrap_or(g.garp.master_refresh_repeat),
        lower_prio_delay,
        lower_prio_repeat,
    };
    let lower_prio_no_advert = match d.lower_prio_no_advert {
        Some((false, sp)) if strict => {
            err(
                cx,
                sp,
                format!("{who}: strict mode requires lower_prio_no_advert"),
            );
            true
        }
        Some((v, _)) => v,
        None => strict || g.vrrp_lower_prio_no_advert,
    };
    let higher_prio_send_advert = match d.higher_prio_send_advert {
        Some((true, sp)) if strict => {
            err(
                cx,
                sp,
                format!("{who}: strict mode forbids higher_prio_send_advert"),
            );
            false
        }
        Some((v, _)) => v,
        None => !strict && g.vrrp_higher_prio_send_advert,
    };

    // Advertisement interval: whole seconds for v2, centiseconds for v3.
    let advert_int = match d.advert_int {
        None => Duration::from_secs(1),
        Some((v, sp)) => {
            if version == 2 && v.subsec_nanos() != 0 {
                cx.push(
                    Diagnostic::error(
                        DiagKind::Value,
                        sp,
                        format!(
                            "{who}: VRRPv2 advert_int must be whole seconds, not {}s",
                            v.as_secs_f64()
                        ),
                    )
                    .with_help("use version 3 for sub-second intervals"),
                );
            } else if version == 3 && v.as_nanos() % 10_000_000 != 0 {
                err(
                    cx,
                    sp,
                    format!(
                        "{who}: VRRPv3 advert_int is counted in hundredths of a second; {}s is not",
                        v.as_secs_f64()
                    ),
                );
            } else if version == 3 && v > Duration::from_millis(40_950) {
                err(
                    cx,
                    sp,
                    format!("{who}: VRRPv3 advert_int is at most 40.95 seconds"),
                );
            }
            v
        }
    };

    // Too many VIPs for one advert: keepalived moves the rest to the excluded list.
    let mut vips = d.vips;
    let mut evips = d.evips;
    let per_addr = if family == Family::Inet { 4 } else { 16 };
    let header = if family == Family::Inet {
        14 + 20 + 8 + if version == 2 { 8 } else { 0 }
    } else {
        14 + 40 + 8
    };
    let max_addr = ((1500 - header) / per_addr).min(255);
    if vips.len() > max_addr {
        cx.warning(
            DiagKind::Conflict,
            vips[max_addr].span,
            format!("{who}: {} VIPs do not fit in one advert (at most {max_addr}); the rest are not advertised, as in virtual_ipaddress_excluded", vips.len()),
        );
        let rest = vips.split_off(max_addr);
        evips.splice(0..0, rest);
    }

    let smtp_alert = d
        .smtp_alert
        .or(g.smtp_alert_vrrp)
        .or(g.smtp_alert)
        .unwrap_or(false);
    if cx.diags.error_count() > before {
        return None;
    }
    let unicast_ttl = match (d.unicast_ttl, family, unicast) {
        (Some((v, _)), _, _) => Some(v),
        (None, Family::Inet, true) => Some(255),
        _ => None,
    };
    Some(VrrpInstance {
        name,
        state,
        interface: d.interface,
        vrf: d.vrf,
        vrid,
        priority,
        advert_int,
        version,
        family,
        authentication,
        virtual_ipaddress: vips,
        virtual_ipaddress_excluded: evips,
        virtual_routes: d.routes,
        virtual_rules: d.rules,
        preempt,
        preempt_delay,
        tracking: d.tracking,
        dont_track_primary: d.dont_track_primary,
        notify: d.notify,
        notify_priority_changes: d
            .notify_priority_changes
            .unwrap_or(g.vrrp_notify_priority_changes),
        smtp_alert,
        src_ip,
        check_unicast_src: d.check_unicast_src
            || g.vrrp_check_unicast_src
            || d.unicast_peers
                .iter()
                .any(|p| p.min_ttl.is_some() || p.max_ttl.is_some()),
        unicast_peers: d.unicast_peers,
        unicast,
        unicast_fault_no_peer: d.unicast_fault_no_peer,
        unicast_ttl,
        old_unicast_checksum: d.old_unicast_checksum,
        mcast_group,
        track_src_ip: d.track_src_ip,
        use_vmac: d.use_vmac.map(|(v, _)| v),
        vmac_xmit_base: d.vmac_xmit_base,
        use_vmac_addr: d.use_vmac_addr,
        use_ipvlan: d.use_ipvlan,
        accept,
        strict_mode: strict,
        skip_check_adv_addr: d.skip_check_adv_addr.unwrap_or(g.vrrp_skip_check_adv_addr),
        garp,
        garp_extra_if: d.garp_extra_if.or(g.vrrp_garp_extra_if),
        down_timer_adverts,
        lower_prio_no_advert,
        higher_prio_send_advert,
        owner_ignore_adverts: d
            .owner_ignore_adverts
            .unwrap_or(g.vrrp_owner_ignore_adverts || (strict && priority == 255)),
        promote_secondaries: d.promote_secondaries,
        kernel_rx_buf_size: d.kernel_rx_buf_size,
        debug: d.debug,
        linkbeat_use_polling: d.linkbeat_use_polling,
        lvs_sync_daemon_interface: d.lvs_sync_daemon_interface,
        sync_group: None,
        span,
    })
}
