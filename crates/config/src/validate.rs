//! Checks that span blocks: names defined twice, references to nothing, one VRID twice on
//! a link, one VIP in two instances; and the facts of this machine (interfaces, script
//! files), which are warnings since a configuration is often checked elsewhere.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;

use crate::diag::{DiagKind, Diagnostic, Diagnostics};
use crate::model::{Config, Family, Script, Tracking, VsKey};
use crate::source::Span;

/// What the machine can tell about itself.
pub trait HostFacts {
    /// Whether a network interface of this name exists here.
    fn interface_exists(&self, name: &str) -> bool;
    /// Why a script cannot run here, if it cannot.
    fn script_problem(&self, program: &str) -> Option<String>;
}

/// The machine we run on: `/sys/class/net` and the file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemHost;

impl HostFacts for SystemHost {
    fn interface_exists(&self, name: &str) -> bool {
        !name.contains('/') && Path::new("/sys/class/net").join(name).exists()
    }

    fn script_problem(&self, program: &str) -> Option<String> {
        use std::os::unix::fs::PermissionsExt;
        let found = if program.contains('/') {
            Some(Path::new(program).to_path_buf())
        } else {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(program))
                    .find(|p| p.is_file())
            })
        };
        let Some(path) = found else {
            return Some(format!("'{program}' is not found in PATH"));
        };
        match std::fs::metadata(&path) {
            Err(e) => Some(format!("'{}': {e}", path.display())),
            Ok(m) if !m.is_file() => Some(format!("'{}' is not a regular file", path.display())),
            Ok(m) if m.permissions().mode() & 0o111 == 0 => {
                Some(format!("'{}' is not executable", path.display()))
            }
            Ok(_) => None,
        }
    }
}

/// Skips every machine check (for tests and for validating on a build host).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHost;

impl HostFacts for NoHost {
    fn interface_exists(&self, _: &str) -> bool {
        true
    }
    fn script_problem(&self, _: &str) -> Option<String> {
        None
    }
}

/// Runs every cross-block check, fixing up back-references (an instance's sync group).
pub fn validate(cfg: &mut Config, host: &dyn HostFacts, diags: &mut Diagnostics) {
    names(cfg, diags);
    sync_groups(cfg, diags);
    tracking_refs(cfg, diags);
    track_groups(cfg, diags);
    vrids(cfg, diags);
    vips(cfg, diags);
    virtual_servers(cfg, diags);
    if let Some(d) = &cfg.global.lvs_sync_daemon
        && let Some(i) = &d.instance
        && cfg.instance(i).is_none()
    {
        diags.error(
            DiagKind::UnknownReference,
            None,
            format!("lvs_sync_daemon refers to vrrp_instance '{i}', which is not defined"),
        );
    }
    host_facts(cfg, host, diags);
}

fn dup<'a>(what: &str, items: impl Iterator<Item = (&'a str, Span)>, diags: &mut Diagnostics) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for (name, span) in items {
        if let Some(first) = seen.get(name) {
            diags.push(
                Diagnostic::error(
                    DiagKind::Duplicate,
                    span,
                    format!("{what} '{name}' is defined twice"),
                )
                .with_help(format!("first defined at line {}", first.line)),
            );
        } else {
            seen.insert(name, span);
        }
    }
}

fn names(cfg: &Config, diags: &mut Diagnostics) {
    dup(
        "vrrp_instance",
        cfg.vrrp_instances.iter().map(|i| (i.name.as_str(), i.span)),
        diags,
    );
    dup(
        "vrrp_script",
        cfg.vrrp_scripts.iter().map(|i| (i.name.as_str(), i.span)),
        diags,
    );
    dup(
        "track_file",
        cfg.track_files.iter().map(|i| (i.name.as_str(), i.span)),
        diags,
    );
    dup(
        "vrrp_track_process",
        cfg.track_processes
            .iter()
            .map(|i| (i.name.as_str(), i.span)),
        diags,
    );
    dup(
        "bfd_instance",
        cfg.bfd_instances.iter().map(|i| (i.name.as_str(), i.span)),
        diags,
    );
    dup(
        "vrrp_sync_group",
        cfg.sync_groups.iter().map(|i| (i.name.as_str(), i.span)),
        diags,
    );
    dup(
        "track_group",
        cfg.track_groups.iter().map(|i| (i.name.as_str(), i.span)),
        diags,
    );
    dup(
        "virtual_server_group",
        cfg.virtual_server_groups
            .iter()
            .map(|i| (i.name.as_str(), i.span)),
        diags,
    );
}

fn sync_groups(cfg: &mut Config, diags: &mut Diagnostics) {
    let mut member_of: HashMap<String, String> = HashMap::new();
    for g in &cfg.sync_groups {
        if g.instances.len() == 1 {
            diags.warning(
                DiagKind::Conflict,
                g.span,
                format!(
                    "vrrp_sync_group {} has a single member: it synchronises nothing",
                    g.name
                ),
            );
        }
        for m in &g.instances {
            if cfg.instance(m).is_none() {
                let mut d = Diagnostic::error(
                    DiagKind::UnknownReference,
                    g.span,
                    format!(
                        "vrrp_sync_group {} lists '{m}', which is not a vrrp_instance",
                        g.name
                    ),
                );
                if let Some(s) =
                    crate::lower::cx::suggest(m, cfg.vrrp_instances.iter().map(|i| i.name.as_str()))
                {
                    d = d.with_help(format!("did you mean '{s}'?"));
                }
                diags.push(d);
            } else if let Some(other) = member_of.get(m) {
                diags.error(
                    DiagKind::Duplicate,
                    g.span,
                    format!(
                        "vrrp_instance {m} is in two sync groups: {other} and {}",
                        g.name
                    ),
                );
            } else {
                member_of.insert(m.clone(), g.name.clone());
            }
        }
    }
    for i in &mut cfg.vrrp_instances {
        i.sync_group = member_of.get(&i.name).cloned();
        if let Some(g) = cfg
            .sync_groups
            .iter()
            .find(|g| Some(&g.name) == i.sync_group.as_ref())
            && let Some(v) = g.notify_priority_changes
        {
            i.notify_priority_changes = v;
        }
    }
}

fn check_tracking(owner: &str, t: &Tracking, cfg: &Config, diags: &mut Diagnostics) {
    let mut refs = |kind: &str, list: &[crate::model::TrackedRef], known: Vec<&str>| {
        for r in list {
            if !known.contains(&r.name.as_str()) {
                let mut d = Diagnostic::error(
                    DiagKind::UnknownReference,
                    r.span,
                    format!("{owner} tracks {kind} '{}', which is not defined", r.name),
                );
                if let Some(s) = crate::lower::cx::suggest(&r.name, known.iter().copied()) {
                    d = d.with_help(format!("did you mean '{s}'?"));
                }
                diags.push(d);
            }
        }
    };
    refs(
        "vrrp_script",
        &t.scripts,
        cfg.vrrp_scripts.iter().map(|s| s.name.as_str()).collect(),
    );
    refs(
        "track_file",
        &t.files,
        cfg.track_files.iter().map(|s| s.name.as_str()).collect(),
    );
    refs(
        "vrrp_track_process",
        &t.processes,
        cfg.track_processes
            .iter()
            .map(|s| s.name.as_str())
            .collect(),
    );
    refs(
        "bfd_instance",
        &t.bfds,
        cfg.bfd_instances.iter().map(|s| s.name.as_str()).collect(),
    );
}

fn tracking_refs(cfg: &Config, diags: &mut Diagnostics) {
    for i in &cfg.vrrp_instances {
        check_tracking(
            &format!("vrrp_instance {}", i.name),
            &i.tracking,
            cfg,
            diags,
        );
        // Weighted trackers on an owner or a sync-group member are ignored by keepalived;
        // say so instead of silently dropping them.
        let weighted = |t: &Tracking| {
            t.scripts.iter().any(|r| r.weight.is_some_and(|w| w != 0))
                || t.interfaces.iter().any(|r| r.weight != 0)
        };
        if i.is_owner() && weighted(&i.tracking) {
            diags.warning(
                DiagKind::Conflict,
                i.span,
                format!(
                    "vrrp_instance {}: an address owner (priority 255) ignores tracker weights",
                    i.name
                ),
            );
        }
    }
    for g in &cfg.sync_groups {
        check_tracking(
            &format!("vrrp_sync_group {}", g.name),
            &g.tracking,
            cfg,
            diags,
        );
    }
}

fn track_groups(cfg: &Config, diags: &mut Diagnostics) {
    for g in &cfg.track_groups {
        for m in &g.instances {
            if cfg.instance(m).is_none() {
                diags.error(
                    DiagKind::UnknownReference,
                    g.span,
                    format!(
                        "track_group {} lists '{m}', which is not a vrrp_instance",
                        g.name
                    ),
                );
            }
        }
    }
    let known: HashSet<&str> = cfg.track_groups.iter().map(|g| g.name.as_str()).collect();
    let uses = cfg
        .static_ipaddress
        .iter()
        .filter_map(|a| a.track_group.as_deref().map(|g| (g, a.span)))
        .chain(
            cfg.static_routes
                .iter()
                .filter_map(|r| r.track_group.as_deref().map(|g| (g, r.span))),
        )
        .chain(
            cfg.static_rules
                .iter()
                .filter_map(|r| r.track_group.as_deref().map(|g| (g, r.span))),
        );
    for (g, span) in uses {
        if !known.contains(g) {
            diags.error(
                DiagKind::UnknownReference,
                span,
                format!("track_group '{g}' is not defined"),
            );
        }
    }
}

fn vrids(cfg: &Config, diags: &mut Diagnostics) {
    // keepalived's rule: one VRID per interface, family and multicast group; unicast
    // instances may share a VRID only if their peers do not overlap.
    let mut seen: Vec<&crate::model::VrrpInstance> = Vec::new();
    for i in &cfg.vrrp_instances {
        let link = i.interface.as_deref().or(i.vrf.as_deref()).unwrap_or("");
        let clash = seen.iter().find(|o| {
            o.vrid == i.vrid
                && o.family == i.family
                && o.interface.as_deref().or(o.vrf.as_deref()).unwrap_or("") == link
                && match (o.unicast, i.unicast) {
                    (false, false) => o.mcast_group == i.mcast_group,
                    (true, true) => o
                        .unicast_peers
                        .iter()
                        .any(|p| i.unicast_peers.iter().any(|q| q.addr == p.addr)),
                    _ => false,
                }
        });
        if let Some(o) = clash {
            diags.push(
                Diagnostic::error(
                    DiagKind::Duplicate,
                    i.span,
                    format!(
                        "vrrp_instance {} uses virtual_router_id {} on {} ({}), as does vrrp_instance {}",
                        i.name,
                        i.vrid,
                        if link.is_empty() { "the default interface" } else { link },
                        i.family,
                        o.name
                    ),
                )
                .with_help("each VRRP router on a link needs its own virtual_router_id"),
            );
        }
        seen.push(i);
    }
}

fn vips(cfg: &Config, diags: &mut Diagnostics) {
    let mut owner: HashMap<IpAddr, &str> = HashMap::new();
    for i in &cfg.vrrp_instances {
        let mut mine: HashSet<IpAddr> = HashSet::new();
        for a in i.all_addresses() {
            let ip = a.addr();
            if !mine.insert(ip) {
                diags.error(
                    DiagKind::Duplicate,
                    a.span,
                    format!("vrrp_instance {} lists {ip} twice", i.name),
                );
                continue;
            }
            if let Some(other) = owner.get(&ip) {
                diags.push(
                    Diagnostic::error(
                        DiagKind::Duplicate,
                        a.span,
                        format!("{ip} is a VIP of vrrp_instance {other} and of vrrp_instance {}", i.name),
                    )
                    .with_help("two instances would hold the same address at once; give each instance its own VIP"),
                );
            } else {
                owner.insert(ip, &i.name);
            }
        }
    }
}

fn virtual_servers(cfg: &Config, diags: &mut Diagnostics) {
    for vs in &cfg.virtual_servers {
        if let Some(i) = &vs.track_instance
            && cfg.instance(i).is_none()
        {
            let mut d = Diagnostic::error(
                DiagKind::UnknownReference,
                vs.span,
                format!(
                    "virtual_server {} tracks vrrp_instance '{i}', which is not defined",
                    vs.key
                ),
            );
            if let Some(s) =
                crate::lower::cx::suggest(i, cfg.vrrp_instances.iter().map(|v| v.name.as_str()))
            {
                d = d.with_help(format!("did you mean '{s}'?"));
            }
            diags.push(d);
        }
    }
    let mut seen: HashMap<(VsKey, crate::model::Protocol, Family), Span> = HashMap::new();
    for vs in &cfg.virtual_servers {
        if let VsKey::Group { name } = &vs.key
            && !cfg.virtual_server_groups.iter().any(|g| &g.name == name)
        {
            diags.error(
                DiagKind::UnknownReference,
                vs.span,
                format!("virtual_server group '{name}' refers to no virtual_server_group"),
            );
        }
        let proto = if matches!(vs.key, VsKey::Fwmark { .. }) {
            crate::model::Protocol::Tcp
        } else {
            vs.protocol
        };
        let key = (vs.key.clone(), proto, vs.family);
        if let Some(first) = seen.get(&key) {
            diags.push(
                Diagnostic::error(
                    DiagKind::Duplicate,
                    vs.span,
                    format!("virtual_server {} is defined twice", vs.key),
                )
                .with_help(format!("first defined at line {}", first.line)),
            );
        } else {
            seen.insert(key, vs.span);
        }
    }
}

fn host_facts(cfg: &Config, host: &dyn HostFacts, diags: &mut Diagnostics) {
    // Interfaces the configuration creates itself count as existing.
    let declared: HashSet<String> = cfg
        .vrrp_instances
        .iter()
        .filter_map(|i| {
            i.use_vmac.as_ref().map(|v| {
                v.name
                    .clone()
                    .unwrap_or_else(|| format!("{}.{}", cfg.global.vmac_prefix, i.vrid))
            })
        })
        .collect();
    let mut warned: HashSet<String> = HashSet::new();
    let mut iface = |name: &str, span: Span, what: &str, diags: &mut Diagnostics| {
        if declared.contains(name)
            || host.interface_exists(name)
            || !warned.insert(name.to_string())
        {
            return;
        }
        diags.warning(
            DiagKind::Host,
            span,
            format!("interface '{name}' ({what}) does not exist on this machine"),
        );
    };
    for i in &cfg.vrrp_instances {
        if let Some(n) = &i.interface {
            iface(n, i.span, &format!("vrrp_instance {}", i.name), diags);
        }
        for t in &i.tracking.interfaces {
            iface(&t.name, t.span, "track_interface", diags);
        }
        for a in i.all_addresses() {
            if let Some(d) = &a.dev {
                iface(d, a.span, "address dev", diags);
            }
        }
    }
    for a in &cfg.static_ipaddress {
        let d = a.dev.as_deref().unwrap_or(&cfg.global.default_interface);
        iface(d, a.span, "static_ipaddress", diags);
    }
    let mut scripts: Vec<&Script> = Vec::new();
    scripts.extend(cfg.vrrp_scripts.iter().map(|s| &s.script));
    for i in &cfg.vrrp_instances {
        let n = &i.notify;
        scripts.extend(
            [
                &n.master,
                &n.backup,
                &n.fault,
                &n.stop,
                &n.any,
                &n.master_rx_lower_pri,
                &n.deleted_script,
            ]
            .into_iter()
            .flatten(),
        );
    }
    for g in &cfg.sync_groups {
        scripts.extend(
            [
                &g.notify_master,
                &g.notify_backup,
                &g.notify_fault,
                &g.notify_stop,
                &g.notify,
            ]
            .into_iter()
            .flatten(),
        );
    }
    for vs in &cfg.virtual_servers {
        scripts.extend(
            [vs.quorum_up.as_deref(), vs.quorum_down.as_deref()]
                .into_iter()
                .flatten(),
        );
        for rs in &vs.real_servers {
            scripts.extend(
                [rs.notify_up.as_deref(), rs.notify_down.as_deref()]
                    .into_iter()
                    .flatten(),
            );
            for c in &rs.checkers {
                if let crate::model::CheckerKind::MiscCheck { script, .. } = &c.kind {
                    scripts.push(script);
                }
            }
        }
    }
    let g = &cfg.global;
    scripts.extend(
        [
            &g.startup_script,
            &g.shutdown_script,
            &g.fifos.all_script,
            &g.fifos.vrrp_script,
            &g.fifos.lvs_script,
        ]
        .into_iter()
        .flatten(),
    );
    let mut checked: HashSet<&str> = HashSet::new();
    for s in scripts {
        let Some(prog) = s.argv.first() else { continue };
        // A command written for a shell (`</dev/tcp/...`, pipes) is run by /bin/sh.
        if s.command.contains(['<', '>', '|', '&', ';', '$', '`', '(']) || !checked.insert(prog) {
            continue;
        }
        if let Some(why) = host.script_problem(prog) {
            diags.warning(
                DiagKind::Host,
                s.span,
                format!("script cannot run on this machine: {why}"),
            );
        }
    }
}
