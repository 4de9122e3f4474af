//! The configuration model ([`rk_config::model`]) mapped onto what the driver runs
//! ([`Plan`]) and what the state machine runs ([`InstanceConfig`]). Pure apart from
//! [`plan`] reading iproute2's table and protocol names ([`RtNames`]); interfaces are
//! resolved by the driver when it uses them.
//!
//! Trackers follow keepalived's rules for owners and sync groups (see the `track`
//! module's documentation); each weight it drops or clears is a warning.
//!
//! `virtual_routes` and `virtual_rules` are mapped strictly (the `routes` module): an
//! option that would not reach the kernel refuses the configuration, naming the instance,
//! the line and the option.

mod names;
mod routes;
mod track;

pub use names::RtNames;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use rk_config::model::{
    AuthKind, Broadcast, ChecksumCompat, Config, Family as CfgFamily, GlobalDefs, InitialState,
    Lifetime, VirtualAddress, VrrpInstance,
};
use rk_netlink::addr::{
    IFA_F_HOMEADDRESS, IFA_F_MANAGETEMPADDR, IFA_F_MCAUTOJOIN, IFA_F_NODAD, IFA_F_NOPREFIXROUTE,
};
use rk_netlink::{Scope, virtual_mac};
use rk_vrrp_proto::{
    Auth, AuthKey, Centisecs, ChecksumConfig, ConfigError, Delivery, Family, GarpConfig,
    InstanceConfig, OldUnicastChecksum, TrackWeight, UnicastPeer, Version,
};
use thiserror::Error;

use crate::spec::{
    InstanceSpec, Plan, StaticPlan, SyncGroupSpec, TrackSource, Tracked, VipSpec, VmacPlan,
};

/// A configuration the driver cannot run.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FromConfigError {
    /// Something this driver does not support or a value out of its range.
    #[error("vrrp_instance {instance}: {reason}")]
    Instance {
        /// The instance.
        instance: String,
        /// What is wrong.
        reason: String,
    },
    /// A `static_ipaddress`, `static_routes` or `static_rules` entry the driver cannot
    /// install as written.
    #[error("{reason}")]
    Static {
        /// What is wrong, with the block and line.
        reason: String,
    },
    /// The state machine refuses the mapped configuration.
    #[error("vrrp_instance {instance}: {source}")]
    Proto {
        /// The instance.
        instance: String,
        /// Why.
        #[source]
        source: ConfigError,
    },
}

/// Maps a whole configuration, with the system's table and protocol names
/// (`/etc/iproute2`). The warnings name what the configuration asks for and the driver
/// does not do (yet): the daemon logs them.
pub fn plan(cfg: &Config) -> Result<(Plan, Vec<String>), FromConfigError> {
    plan_with_names(cfg, &RtNames::system())
}

/// [`plan`] with the given table and protocol names.
pub fn plan_with_names(
    cfg: &Config,
    names: &RtNames,
) -> Result<(Plan, Vec<String>), FromConfigError> {
    let g = &cfg.global;
    let mut warnings = Vec::new();
    let mut instances = Vec::new();
    let mut registry = track::Registry::default();
    let mut auto_pref = routes::AutoPreference::default();
    for vi in &cfg.vrrp_instances {
        let mut spec = instance_spec(vi, g, &mut warnings)?;
        let group = cfg
            .sync_groups
            .iter()
            .find(|sg| sg.instances.contains(&vi.name));
        spec.tracked = track::tracked(cfg, vi, group, &mut registry, &mut warnings);
        for r in &vi.virtual_routes {
            let plan = routes::route(routes::Owner::Instance(&vi.name), r, names)?;
            // keepalived: "cannot track route with no interface specified, not tracking".
            if !plan.no_track && plan.dev.is_none() && !plan.route.kind.is_reject() {
                warnings.push(format!(
                    "vrrp_instance {}: virtual route {plan} has no dev, so its deletion behind our back is not tracked (as keepalived)",
                    vi.name
                ));
            }
            spec.routes.push(plan);
        }
        for r in &vi.virtual_rules {
            spec.rules.push(routes::rule(
                routes::Owner::Instance(&vi.name),
                r,
                names,
                &mut auto_pref,
                &mut warnings,
            )?);
        }
        track_route_interfaces(&mut spec);
        instances.push(spec);
    }
    // An IPv6 VMAC whose default name a v4 instance already uses gets keepalived's
    // `vrrp6.VRID` name instead.
    for i in 0..instances.len() {
        let clash = instances[i].vmac.as_ref().is_some_and(|v| {
            instances[..i].iter().any(|o| {
                o.vmac
                    .as_ref()
                    .is_some_and(|w| w.name == v.name && w.mac != v.mac)
            })
        });
        let vrid = instances[i].proto.vrid;
        if clash && let Some(v) = instances[i].vmac.as_mut() {
            v.name = format!("{}6.{}", g.vmac_prefix, vrid);
        }
    }
    let mut sync_groups = Vec::new();
    for sg in &cfg.sync_groups {
        let members: Vec<usize> = sg
            .instances
            .iter()
            .filter_map(|n| cfg.vrrp_instances.iter().position(|v| &v.name == n))
            .collect();
        for &m in &members {
            instances[m].proto.sync_member = true;
        }
        sync_groups.push(SyncGroupSpec {
            name: sg.name.clone(),
            members,
        });
    }
    let statics = statics(cfg, names, &mut auto_pref, &mut warnings)?;
    // Link state comes from rtnetlink events only: no MII/ethtool polling, no delays.
    if !cfg.linkbeat_interfaces.is_empty() {
        warnings.push(
            "linkbeat_interfaces is not supported yet: link state comes from netlink events".into(),
        );
    }
    if !cfg.interface_up_down_delays.is_empty() {
        warnings
            .push("interface_up_down_delays is not supported yet: link changes act at once".into());
    }
    if g.fifo_write_vrrp_states_on_reload {
        warnings.push("fifo_write_vrrp_states_on_reload is not supported yet, ignored".into());
    }
    let rt_priority = g
        .tuning
        .get("vrrp_rt_priority")
        .and_then(|v| v.first())
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|p| (0..=99).contains(p));
    let nice = g
        .tuning
        .get("vrrp_priority")
        .and_then(|v| v.first())
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|p| (-20..=19).contains(p));
    Ok((
        Plan {
            instances,
            statics,
            sync_groups,
            trackers: registry.trackers,
            garp_interval: g.garp.interval,
            gna_interval: g.garp.gna_interval,
            startup_delay: g.vrrp_startup_delay,
            log_unknown_vrids: g.log_unknown_vrids,
            rt_priority,
            nice,
        },
        warnings,
    ))
}

fn bad(vi: &VrrpInstance, reason: impl Into<String>) -> FromConfigError {
    FromConfigError::Instance {
        instance: vi.name.clone(),
        reason: reason.into(),
    }
}

/// Maps one instance; unsupported parts that can be ignored safely go to `warnings`.
/// Trackers are left empty: [`plan`] fills them in, as they depend on the sync group and
/// on the other instances.
pub fn instance_spec(
    vi: &VrrpInstance,
    g: &GlobalDefs,
    warnings: &mut Vec<String>,
) -> Result<InstanceSpec, FromConfigError> {
    let interface = vi.interface.clone().ok_or_else(|| {
        bad(
            vi,
            "an instance without `interface` (found through unicast_src_ip) is not supported yet",
        )
    })?;
    let proto = instance_config(vi, g)?;
    let vmac = match &vi.use_vmac {
        None => None,
        Some(v) => Some(VmacPlan {
            name: v
                .name
                .clone()
                .unwrap_or_else(|| format!("{}.{}", g.vmac_prefix, vi.vrid)),
            mac: match &v.mac {
                Some(m) => parse_mac(m).ok_or_else(|| bad(vi, format!("bad VMAC address {m}")))?,
                None => virtual_mac(vi.family == CfgFamily::Inet6, vi.vrid),
            },
            xmit_base: vi.vmac_xmit_base,
        }),
    };
    // VIPs on the base interface move to the VMAC (keepalived: "VIPs live on it").
    let vip_dev = |a: &VirtualAddress| -> String {
        let dev = a.dev.clone().unwrap_or_else(|| interface.clone());
        match &vmac {
            Some(v) if dev == interface => v.name.clone(),
            _ => dev,
        }
    };
    let mut vips = Vec::new();
    for a in vi.all_addresses() {
        vips.push(vip_spec(vi, a, vip_dev(a))?);
    }
    let unsupported = [
        ("use_vmac_addr", vi.use_vmac_addr),
        ("use_ipvlan", vi.use_ipvlan.is_some()),
    ];
    for (what, present) in unsupported {
        if present {
            warnings.push(format!(
                "vrrp_instance {}: {what} not supported yet, ignored",
                vi.name
            ));
        }
    }
    Ok(InstanceSpec {
        name: vi.name.clone(),
        interface,
        vmac,
        proto,
        vips,
        tracked: Vec::new(),
        owner_ignore_adverts: vi.owner_ignore_adverts && vi.is_owner(),
        fault_no_peer: vi.unicast_fault_no_peer && vi.unicast_peers.is_empty(),
        track_src_ip: vi.track_src_ip,
        routes: Vec::new(),
        rules: Vec::new(),
    })
}

/// `static_ipaddress`, `static_routes`, `static_rules`: mapped as an instance's
/// addresses, routes and rules; an address without `dev` goes on `default_interface`.
fn statics(
    cfg: &Config,
    names: &RtNames,
    auto_pref: &mut routes::AutoPreference,
    warnings: &mut Vec<String>,
) -> Result<StaticPlan, FromConfigError> {
    let mut out = StaticPlan::default();
    for a in &cfg.static_ipaddress {
        let dev = a
            .dev
            .clone()
            .unwrap_or_else(|| cfg.global.default_interface.clone());
        let mut spec = address_spec(a, dev).map_err(|reason| FromConfigError::Static {
            reason: format!(
                "static_ipaddress line {} ({}): {reason}",
                a.span.line,
                a.addr()
            ),
        })?;
        // keepalived's VIP-only defaults (no DAD, a deprecated /128) do not apply: a
        // static address is an ordinary address of the host.
        spec.flags = address_flags(a);
        spec.preferred_lft = match a.preferred_lft {
            Some(Lifetime::Seconds(s)) if a.addr().is_ipv6() => Some(s),
            _ => None,
        };
        if a.track_group.is_some() {
            warnings.push(format!(
                "static_ipaddress line {}: track_group is not supported yet, ignored",
                a.span.line
            ));
        }
        out.addresses.push(spec);
    }
    for r in &cfg.static_routes {
        let plan = routes::route(routes::Owner::Static, r, names)?;
        if r.track_group.is_some() {
            warnings.push(format!(
                "static_routes line {}: track_group is not supported yet, ignored",
                r.span.line
            ));
        }
        out.routes.push(plan);
    }
    for r in &cfg.static_rules {
        let plan = routes::rule(routes::Owner::Static, r, names, auto_pref, warnings)?;
        if r.track_group.is_some() {
            warnings.push(format!(
                "static_rules line {}: track_group is not supported yet, ignored",
                r.span.line
            ));
        }
        out.rules.push(plan);
    }
    Ok(out)
}

/// keepalived (`vrrp_complete_instance`): the `dev` of a tracked route and the `iif` /
/// `oif` of a tracked rule are tracked interfaces of the instance, FAULT while down (a
/// route through a down link is gone, so another router should take over).
fn track_route_interfaces(spec: &mut InstanceSpec) {
    let devs: Vec<String> = spec
        .routes
        .iter()
        .filter(|r| !r.no_track)
        .filter_map(|r| r.dev.clone())
        .chain(
            spec.rules
                .iter()
                .filter(|r| !r.no_track)
                .flat_map(|r| [r.rule.iif.clone(), r.rule.oif.clone()])
                .flatten(),
        )
        .collect();
    for dev in devs {
        let tracked = spec
            .tracked
            .iter()
            .any(|t| t.source == TrackSource::Interface(dev.clone()));
        if !tracked {
            spec.tracked.push(Tracked {
                source: TrackSource::Interface(dev),
                weight: TrackWeight::new(0, false),
            });
        }
    }
}

/// The state machine's configuration for one instance.
pub fn instance_config(
    vi: &VrrpInstance,
    g: &GlobalDefs,
) -> Result<InstanceConfig, FromConfigError> {
    let version = match vi.version {
        2 => Version::V2,
        3 => Version::V3,
        v => return Err(bad(vi, format!("VRRP version {v}"))),
    };
    let family = match vi.family {
        CfgFamily::Inet => Family::V4,
        CfgFamily::Inet6 => Family::V6,
    };
    let cs = vi.advert_int.as_millis() / 10;
    let advert_interval = Centisecs(
        u16::try_from(cs).map_err(|_| bad(vi, format!("advert_int {:?}", vi.advert_int)))?,
    );
    let mut c = InstanceConfig::new(
        vi.vrid,
        version,
        family,
        vi.virtual_ipaddress.iter().map(|a| a.addr()).collect(),
    );
    c.priority = vi.priority;
    c.wants_master = vi.state == InitialState::Master;
    c.advert_interval = advert_interval;
    c.preempt = vi.preempt;
    c.preempt_delay = vi.preempt_delay;
    c.auth = match (&vi.authentication, version, vi.strict_mode) {
        // keepalived ignores authentication in v3 and in strict mode.
        (Some(a), Version::V2, false) => {
            let key = AuthKey::new(a.password.as_bytes());
            match a.kind {
                AuthKind::Pass => Auth::Pass(key),
                AuthKind::Ah => Auth::Ah(key),
            }
        }
        _ => Auth::None,
    };
    c.excluded_vips = vi
        .virtual_ipaddress_excluded
        .iter()
        .map(|a| a.addr())
        .collect();
    c.src_addr = vi.src_ip;
    c.delivery = if vi.unicast {
        Delivery::Unicast {
            peers: vi
                .unicast_peers
                .iter()
                .map(|p| UnicastPeer {
                    addr: p.addr,
                    min_ttl: p.min_ttl.unwrap_or(0),
                    max_ttl: p.max_ttl.unwrap_or(255),
                })
                .collect(),
            ttl: vi.unicast_ttl.unwrap_or(255),
            check_src: vi.check_unicast_src,
        }
    } else {
        let group = vi.mcast_group.unwrap_or(match family {
            Family::V4 => IpAddr::V4(g.vrrp_mcast_group4),
            Family::V6 => IpAddr::V6(g.vrrp_mcast_group6),
        });
        Delivery::Multicast { group }
    };
    let gs = &vi.garp;
    c.garp = GarpConfig {
        master_repeat: gs.master_repeat,
        master_delay: gs.master_delay,
        refresh: (gs.master_refresh > Duration::ZERO).then_some(gs.master_refresh),
        refresh_repeat: gs.master_refresh_repeat,
        lower_prio_repeat: gs.lower_prio_repeat,
        lower_prio_delay: gs.lower_prio_delay,
    };
    c.down_timer_adverts = u8::try_from(vi.down_timer_adverts)
        .map_err(|_| bad(vi, format!("down_timer_adverts {}", vi.down_timer_adverts)))?;
    c.skip_check_adv_addr = vi.skip_check_adv_addr;
    c.checksum = ChecksumConfig {
        v3_as_v2: g.tuning.contains_key("v3_checksum_as_v2"),
        old_unicast: match vi.old_unicast_checksum {
            None => OldUnicastChecksum::Auto,
            Some(ChecksumCompat::Always) => OldUnicastChecksum::Always,
            Some(ChecksumCompat::Never) => OldUnicastChecksum::Never,
        },
        old_unicast_group: g.vrrp_mcast_group4,
    };
    c.higher_prio_send_advert = vi.higher_prio_send_advert;
    c.lower_prio_no_advert = vi.lower_prio_no_advert;
    c.track_interface = !vi.dont_track_primary;
    c.validate().map_err(|source| FromConfigError::Proto {
        instance: vi.name.clone(),
        source,
    })?;
    Ok(c)
}

fn vip_spec(
    vi: &VrrpInstance,
    a: &VirtualAddress,
    dev: String,
) -> Result<VipSpec, FromConfigError> {
    address_spec(a, dev).map_err(|reason| bad(vi, reason))
}

/// An address of `virtual_ipaddress` or `static_ipaddress`, with keepalived's defaults.
fn address_spec(a: &VirtualAddress, dev: String) -> Result<VipSpec, String> {
    let addr = a.addr();
    let len = a.prefix.len;
    let broadcast = match (a.broadcast, addr) {
        (None, _) => None,
        (Some(Broadcast::Address(IpAddr::V4(b))), _) => Some(b),
        (Some(Broadcast::Address(IpAddr::V6(_))), _) => None,
        (Some(Broadcast::HostBitsSet), IpAddr::V4(v)) => {
            Some(Ipv4Addr::from(u32::from(v) | host_mask(len)))
        }
        (Some(Broadcast::HostBitsCleared), IpAddr::V4(v)) => {
            Some(Ipv4Addr::from(u32::from(v) & !host_mask(len)))
        }
        (Some(_), IpAddr::V6(_)) => None,
    };
    let scope = match &a.scope {
        None => Scope::Global,
        Some(s) => Scope::parse(s).ok_or_else(|| format!("unknown scope {s}"))?,
    };
    let flags = address_flags(a)
        // keepalived adds IPv6 VIPs without duplicate address detection: the old master
        // may still hold the address (it crashed), and DAD would then leave ours tentative
        // and unusable instead of taking over.
        | if addr.is_ipv6() { IFA_F_NODAD } else { 0 };
    // keepalived: an IPv6 /128 VIP is deprecated (preferred_lft 0) unless told otherwise, so
    // it is never chosen as a source address; other VIPs are preferred forever.
    let preferred_lft = match (a.preferred_lft, addr) {
        (_, IpAddr::V4(_)) => None,
        (Some(Lifetime::Forever), _) => None,
        (Some(Lifetime::Seconds(s)), _) => Some(s),
        (None, IpAddr::V6(_)) if len == 128 => Some(0),
        (None, _) => None,
    };
    Ok(VipSpec {
        addr,
        prefix_len: len,
        dev,
        broadcast,
        scope,
        label: a.label.clone(),
        flags,
        peer: a.peer.map(|p| p.addr),
        preferred_lft,
        no_track: a.no_track,
    })
}

/// The `IFA_F_*` flags written on an address line.
fn address_flags(a: &VirtualAddress) -> u32 {
    [
        (a.nodad, IFA_F_NODAD),
        (a.home, IFA_F_HOMEADDRESS),
        (a.mngtmpaddr, IFA_F_MANAGETEMPADDR),
        (a.noprefixroute, IFA_F_NOPREFIXROUTE),
        (a.autojoin, IFA_F_MCAUTOJOIN),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |acc, (_, f)| acc | f)
}

fn host_mask(len: u8) -> u32 {
    u32::MAX.checked_shr(u32::from(len)).unwrap_or(0)
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests;
