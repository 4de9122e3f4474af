//! Trackers and groups: `vrrp_script`, `track_file`, `vrrp_track_process`,
//! `bfd_instance`, `vrrp_sync_group`, `garp_group`, `track_group`.

use std::time::Duration;

use super::cx::{Cx, Kw};
use super::vrrp::{tracked_refs, weight_suffix};
use super::{text1, value_lines, value_words};
use crate::diag::DiagKind;
use crate::model::{
    BfdInstance, Config, GarpGroup, InitFile, Script, SyncGroup, TrackFile, TrackGroup,
    TrackProcess, TrackedInterface, Tracking, UserGroup, VrrpScript,
};
use crate::source::Span;
use crate::tree::Node;

fn user_group(n: &Node, cx: &mut Cx<'_>) -> Option<UserGroup> {
    if cx.arity(n, 1, 2) {
        Some(UserGroup {
            user: n.args[0].text.to_string(),
            group: n.args.get(1).map(|t| t.text.to_string()),
        })
    } else {
        None
    }
}

/// `weight N [reverse]` as a keyword of its own (scripts, files, processes, BFD).
fn weight_kw(n: &Node, min: i32, max: i32, cx: &mut Cx<'_>) -> Option<(i32, bool)> {
    if !cx.arity(n, 1, 2) {
        return None;
    }
    let w = cx.i32(&n.args[0], min, max, "weight")?;
    match n.args.get(1) {
        None => Some((w, false)),
        Some(t) if t.text == "reverse" => Some((w, true)),
        Some(t) => {
            cx.error(
                DiagKind::Value,
                t.span,
                format!("expected 'reverse' after the weight, found '{}'", t.text),
            );
            None
        }
    }
}

#[derive(Default)]
struct ScriptDraft {
    script_seen: bool,
    script: Option<Script>,
    interval: Option<Duration>,
    timeout: Option<Duration>,
    weight: Option<(i32, bool)>,
    rise: Option<u32>,
    fall: Option<u32>,
    user: Option<UserGroup>,
    init_fail: bool,
}

pub(super) fn vrrp_script(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    let Some(name) = cx.block_name(n) else { return };
    let table: &[Kw<ScriptDraft>] = &[
        Kw::once(
            "script",
            |d: &mut ScriptDraft, n: &Node, cx: &mut Cx<'_>| {
                d.script_seen = true;
                // The command is the whole statement; there is no user after it here.
                if let Some(s) = cx.script(n) {
                    if s.user.is_some() {
                        cx.error(
                            DiagKind::Arguments,
                            s.span,
                            "quote the script and its arguments: script \"/path/to/check arg\"",
                        );
                    } else {
                        d.script = Some(s);
                    }
                }
            },
        ),
        Kw::once(
            "interval",
            |d: &mut ScriptDraft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(t) = cx.one(n) {
                    d.interval = cx.timer(
                        t,
                        Duration::from_millis(1),
                        Duration::from_secs(86_400),
                        "interval",
                    );
                }
            },
        ),
        Kw::once(
            "timeout",
            |d: &mut ScriptDraft, n: &Node, cx: &mut Cx<'_>| {
                if let Some(t) = cx.one(n) {
                    d.timeout = cx.timer(
                        t,
                        Duration::from_millis(1),
                        Duration::from_secs(86_400),
                        "timeout",
                    );
                }
            },
        ),
        Kw::once(
            "weight",
            |d: &mut ScriptDraft, n: &Node, cx: &mut Cx<'_>| {
                d.weight = weight_kw(n, -253, 253, cx);
            },
        ),
        Kw::once("rise", |d: &mut ScriptDraft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(t) = cx.one(n) {
                d.rise = cx.u32(t, 1, u32::MAX, "rise");
            }
        }),
        Kw::once("fall", |d: &mut ScriptDraft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(t) = cx.one(n) {
                d.fall = cx.u32(t, 1, u32::MAX, "fall");
            }
        }),
        Kw::once("user", |d: &mut ScriptDraft, n: &Node, cx: &mut Cx<'_>| {
            d.user = user_group(n, cx);
        }),
        Kw::once(
            "init_fail",
            |d: &mut ScriptDraft, n: &Node, cx: &mut Cx<'_>| {
                if cx.bare(n) {
                    d.init_fail = true;
                }
            },
        ),
    ];
    let mut d = ScriptDraft::default();
    cx.block(&mut d, n, table, format!("vrrp_script {}", name.text));
    let Some(script) = d.script else {
        if n.block.is_some() && !d.script_seen {
            cx.error(
                DiagKind::Arguments,
                name.span,
                format!("vrrp_script {} has no 'script'", name.text),
            );
        }
        return;
    };
    let interval = d.interval.unwrap_or(Duration::from_secs(1));
    let (weight, reverse) = d.weight.unwrap_or((0, false));
    c.vrrp_scripts.push(VrrpScript {
        name: name.text.to_string(),
        script,
        interval,
        timeout: d.timeout.unwrap_or(interval),
        weight,
        reverse,
        rise: d.rise.unwrap_or(1),
        fall: d.fall.unwrap_or(1),
        user: d.user,
        init_fail: d.init_fail,
        span: name.span,
    });
}

pub(super) fn track_file(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    let Some(name) = cx.block_name(n) else { return };
    if n.name() == "vrrp_track_file" {
        cx.deprecated(n, "use 'track_file'");
    }
    let mut t = TrackFile {
        name: name.text.to_string(),
        file: String::new(),
        weight: 1,
        reverse: false,
        init_file: None,
        span: name.span,
    };
    let table: &[Kw<TrackFile>] = &[
        Kw::once("file", |t: &mut TrackFile, n: &Node, cx: &mut Cx<'_>| {
            if let Some(f) = text1(n, cx) {
                t.file = f;
            }
        }),
        Kw::once("weight", |t: &mut TrackFile, n: &Node, cx: &mut Cx<'_>| {
            if let Some((w, r)) = weight_kw(n, -254, 254, cx) {
                t.weight = w;
                t.reverse = r;
            }
        }),
        Kw::once(
            "init_file",
            |t: &mut TrackFile, n: &Node, cx: &mut Cx<'_>| {
                if !cx.arity(n, 0, 2) {
                    return;
                }
                let mut init = InitFile {
                    value: 0,
                    overwrite: false,
                };
                for a in &n.args {
                    if a.text == "overwrite" {
                        init.overwrite = true;
                    } else if let Some(v) = cx.int(
                        a,
                        i64::from(i32::MIN),
                        i64::from(i32::MAX),
                        "init_file value",
                    ) {
                        init.value = v;
                    } else {
                        return;
                    }
                }
                t.init_file = Some(init);
            },
        ),
    ];
    cx.block(&mut t, n, table, format!("track_file {}", name.text));
    if t.file.is_empty() {
        if n.block.is_some() {
            cx.error(
                DiagKind::Arguments,
                name.span,
                format!("track_file {} has no 'file'", name.text),
            );
        }
        return;
    }
    c.track_files.push(t);
}

pub(super) fn track_process(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    let Some(name) = cx.block_name(n) else { return };
    let mut t = TrackProcess {
        name: name.text.to_string(),
        process: Vec::new(),
        param_match: None,
        // keepalived's default: 0, the instance goes to FAULT while the
        // quorum is not met.
        weight: 0,
        reverse: false,
        quorum: 1,
        quorum_max: None,
        fork_delay: None,
        terminate_delay: None,
        full_command: false,
        span: name.span,
    };
    let table: &[Kw<TrackProcess>] = &[
        Kw::once(
            "process",
            |t: &mut TrackProcess, n: &Node, cx: &mut Cx<'_>| {
                if cx.arity(n, 1, 256) {
                    t.process = n.args.iter().map(|a| a.text.to_string()).collect();
                }
            },
        ),
        Kw::once(
            "param_match",
            |t: &mut TrackProcess, n: &Node, cx: &mut Cx<'_>| {
                if let Some(a) = cx.one(n) {
                    t.param_match = cx
                        .choice(a, &["initial", "partial"], "param_match")
                        .map(String::from);
                }
            },
        ),
        Kw::once(
            "weight",
            |t: &mut TrackProcess, n: &Node, cx: &mut Cx<'_>| {
                if let Some((w, r)) = weight_kw(n, -254, 254, cx) {
                    t.weight = w;
                    t.reverse = r;
                }
            },
        ),
        Kw::once(
            "quorum",
            |t: &mut TrackProcess, n: &Node, cx: &mut Cx<'_>| {
                if let Some(a) = cx.one(n)
                    && let Some(v) = cx.u32(a, 1, 65535, "quorum")
                {
                    t.quorum = v;
                }
            },
        ),
        Kw::once(
            "quorum_max",
            |t: &mut TrackProcess, n: &Node, cx: &mut Cx<'_>| {
                if let Some(a) = cx.one(n) {
                    t.quorum_max = cx.u32(a, 0, 65535, "quorum_max");
                }
            },
        ),
        Kw::once(
            "fork_delay",
            |t: &mut TrackProcess, n: &Node, cx: &mut Cx<'_>| {
                if let Some(a) = cx.one(n) {
                    t.fork_delay =
                        cx.timer(a, Duration::ZERO, Duration::from_secs(3600), "fork_delay");
                }
            },
        ),
        Kw::once(
            "terminate_delay",
            |t: &mut TrackProcess, n: &Node, cx: &mut Cx<'_>| {
                if let Some(a) = cx.one(n) {
                    t.terminate_delay = cx.timer(
                        a,
                        Duration::ZERO,
                        Duration::from_secs(3600),
                        "terminate_delay",
                    );
                }
            },
        ),
        Kw::once(
            "delay",
            |t: &mut TrackProcess, n: &Node, cx: &mut Cx<'_>| {
                if let Some(a) = cx.one(n) {
                    let d = cx.timer(a, Duration::ZERO, Duration::from_secs(3600), "delay");
                    t.fork_delay = d;
                    t.terminate_delay = d;
                }
            },
        ),
        Kw::once(
            "full_command",
            |t: &mut TrackProcess, n: &Node, cx: &mut Cx<'_>| {
                if cx.bare(n) {
                    t.full_command = true;
                }
            },
        ),
    ];
    cx.block(
        &mut t,
        n,
        table,
        format!("vrrp_track_process {}", name.text),
    );
    if t.process.is_empty() {
        if n.block.is_some() {
            cx.error(
                DiagKind::Arguments,
                name.span,
                format!("vrrp_track_process {} has no 'process'", name.text),
            );
        }
        return;
    }
    // `quorum_max 0` means "the process must not run" (keepalived sets the
    // quorum to 0 then), unless a quorum above 1 was asked for as well.
    if t.quorum_max == Some(0) && t.quorum <= 1 {
        t.quorum = 0;
    }
    if let Some(max) = t.quorum_max
        && max < t.quorum
    {
        cx.error(
            DiagKind::Conflict,
            name.span,
            format!(
                "vrrp_track_process {}: quorum_max {max} is below quorum {}",
                name.text, t.quorum
            ),
        );
        return;
    }
    c.track_processes.push(t);
}

pub(super) fn bfd_instance(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    let Some(name) = cx.block_name(n) else { return };
    let mut b = BfdInstance {
        name: name.text.to_string(),
        neighbor_ip: None,
        source_ip: None,
        min_rx_ms: 10.0,
        min_tx_ms: 10.0,
        idle_tx_ms: 1000.0,
        multiplier: 5,
        passive: false,
        ttl: None,
        max_hops: None,
        weight: 0,
        reverse: false,
        only: None,
        span: name.span,
    };
    fn ms(n: &Node, cx: &mut Cx<'_>) -> Option<f64> {
        let t = cx.one(n)?;
        let d = cx.timer(
            t,
            Duration::from_micros(1),
            Duration::from_secs(3600),
            n.name(),
        )?;
        // The value is in milliseconds; the timer reader took it as seconds.
        Some(d.as_secs_f64())
    }
    let table: &[Kw<BfdInstance>] = &[
        Kw::alias(
            "neighbor_ip",
            "neighbor_ip",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                b.neighbor_ip = cx.one(n).and_then(|t| cx.ip(t, "neighbor_ip"));
            },
        ),
        Kw::alias(
            "neighbour_ip",
            "neighbor_ip",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                b.neighbor_ip = cx.one(n).and_then(|t| cx.ip(t, "neighbour_ip"));
            },
        ),
        Kw::once(
            "source_ip",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                b.source_ip = cx.one(n).and_then(|t| cx.ip(t, "source_ip"));
            },
        ),
        Kw::once(
            "min_rx",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                if let Some(v) = ms(n, cx) {
                    b.min_rx_ms = v;
                }
            },
        ),
        Kw::once(
            "min_tx",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                if let Some(v) = ms(n, cx) {
                    b.min_tx_ms = v;
                }
            },
        ),
        Kw::once(
            "idle_tx",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                if let Some(v) = ms(n, cx) {
                    b.idle_tx_ms = v;
                }
            },
        ),
        Kw::once(
            "multiplier",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                if let Some(v) = cx.one(n).and_then(|t| cx.u8(t, 1, 255, "multiplier")) {
                    b.multiplier = v;
                }
            },
        ),
        Kw::once(
            "passive",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                b.passive = cx.bare(n);
            },
        ),
        Kw::alias(
            "ttl",
            "ttl",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                b.ttl = cx.one(n).and_then(|t| cx.u8(t, 1, 255, "ttl"));
            },
        ),
        Kw::alias(
            "hoplimit",
            "ttl",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                b.ttl = cx.one(n).and_then(|t| cx.u8(t, 1, 255, "hoplimit"));
            },
        ),
        Kw::once(
            "max_hops",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                b.max_hops = cx.one(n).and_then(|t| cx.u8(t, 0, 255, "max_hops"));
            },
        ),
        Kw::once(
            "weight",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                if let Some((w, r)) = weight_kw(n, -253, 253, cx) {
                    b.weight = w;
                    b.reverse = r;
                }
            },
        ),
        Kw::alias(
            "vrrp",
            "only",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                if cx.bare(n) {
                    b.only = Some("vrrp".into());
                }
            },
        ),
        Kw::alias(
            "checker",
            "only",
            |b: &mut BfdInstance, n: &Node, cx: &mut Cx<'_>| {
                if cx.bare(n) {
                    b.only = Some("checker".into());
                }
            },
        ),
    ];
    cx.block(&mut b, n, table, format!("bfd_instance {}", name.text));
    if b.neighbor_ip.is_none() {
        if n.block.is_some() {
            cx.error(
                DiagKind::Arguments,
                name.span,
                format!("bfd_instance {} has no neighbor_ip", name.text),
            );
        }
        return;
    }
    c.bfd_instances.push(b);
}

fn group_tracking_table<T: GroupLike + 'static>() -> Vec<Kw<T>> {
    vec![
        Kw::many("track_interface", |g: &mut T, n: &Node, cx: &mut Cx<'_>| {
            if let Some(lines) = value_lines(n, cx) {
                for words in lines {
                    if let Some((w, r)) = weight_suffix(&words[1..], -253, 253, cx) {
                        g.tracking().interfaces.push(TrackedInterface {
                            name: words[0].text.to_string(),
                            weight: w.unwrap_or(0),
                            reverse: r.unwrap_or(false),
                            span: words[0].span,
                        });
                    }
                }
            }
        }),
        Kw::many("track_script", |g: &mut T, n: &Node, cx: &mut Cx<'_>| {
            let v = tracked_refs(n, -253, 253, cx);
            g.tracking().scripts.extend(v);
        }),
        Kw::many("track_file", |g: &mut T, n: &Node, cx: &mut Cx<'_>| {
            let v = tracked_refs(n, -254, 254, cx);
            g.tracking().files.extend(v);
        }),
        Kw::many("track_process", |g: &mut T, n: &Node, cx: &mut Cx<'_>| {
            let v = tracked_refs(n, -254, 254, cx);
            g.tracking().processes.extend(v);
        }),
        Kw::many("track_bfd", |g: &mut T, n: &Node, cx: &mut Cx<'_>| {
            let v = tracked_refs(n, -253, 253, cx);
            g.tracking().bfds.extend(v);
        }),
    ]
}

trait GroupLike {
    fn tracking(&mut self) -> &mut Tracking;
}

struct SyncDraft {
    g: SyncGroup,
    smtp_alert: Option<bool>,
    members_span: Option<Span>,
}

impl GroupLike for SyncDraft {
    fn tracking(&mut self) -> &mut Tracking {
        &mut self.g.tracking
    }
}

macro_rules! gnotify {
    ($field:ident) => {
        |d: &mut SyncDraft, n: &Node, cx: &mut Cx<'_>| {
            if let Some(s) = cx.script(n) {
                d.g.$field = Some(s);
            }
        }
    };
}

/// Reads a sync group; its `smtp_alert` default is resolved later, against `global_defs`.
pub(super) fn sync_group(n: &Node, cx: &mut Cx<'_>) -> Option<(SyncGroup, Option<bool>)> {
    let name = cx.block_name(n)?;
    let mut d = SyncDraft {
        g: SyncGroup {
            name: name.text.to_string(),
            instances: Vec::new(),
            tracking: Tracking::default(),
            notify_master: None,
            notify_backup: None,
            notify_fault: None,
            notify_stop: None,
            notify: None,
            smtp_alert: false,
            global_tracking: false,
            sync_group_tracking_weight: false,
            notify_priority_changes: None,
            span: name.span,
        },
        smtp_alert: None,
        members_span: None,
    };
    static T: std::sync::OnceLock<Vec<Kw<SyncDraft>>> = std::sync::OnceLock::new();
    let table = T.get_or_init(|| {
        let mut t: Vec<Kw<SyncDraft>> = vec![
            Kw::once("group", |d: &mut SyncDraft, n: &Node, cx: &mut Cx<'_>| {
                d.members_span = Some(n.keyword.span);
                if let Some(words) = value_words(n, cx) {
                    d.g.instances = words.into_iter().map(|t| t.text.to_string()).collect();
                }
            }),
            Kw::once("notify_master", gnotify!(notify_master)),
            Kw::once("notify_backup", gnotify!(notify_backup)),
            Kw::once("notify_fault", gnotify!(notify_fault)),
            Kw::once("notify_stop", gnotify!(notify_stop)),
            Kw::once("notify", gnotify!(notify)),
            Kw::once(
                "smtp_alert",
                |d: &mut SyncDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.smtp_alert = cx.flag(n);
                },
            ),
            Kw::once(
                "global_tracking",
                |d: &mut SyncDraft, n: &Node, cx: &mut Cx<'_>| {
                    cx.deprecated(n, "put track_* blocks on the sync group instead");
                    d.g.global_tracking = cx.bare(n);
                },
            ),
            Kw::once(
                "sync_group_tracking_weight",
                |d: &mut SyncDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.g.sync_group_tracking_weight = cx.bare(n);
                },
            ),
            Kw::once(
                "notify_priority_changes",
                |d: &mut SyncDraft, n: &Node, cx: &mut Cx<'_>| {
                    d.g.notify_priority_changes = cx.flag(n);
                },
            ),
        ];
        t.extend(group_tracking_table::<SyncDraft>());
        t
    });
    cx.block(&mut d, n, table, format!("vrrp_sync_group {}", name.text));
    if d.g.instances.is_empty() {
        if n.block.is_some() {
            cx.error(
                DiagKind::Arguments,
                d.members_span.unwrap_or(name.span),
                format!(
                    "vrrp_sync_group {} has no member instances (group {{ ... }})",
                    name.text
                ),
            );
        }
        return None;
    }
    Some((d.g, d.smtp_alert))
}

pub(super) fn garp_group(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    if !cx.arity_block(n) {
        return;
    }
    let mut g = GarpGroup {
        garp_interval: None,
        gna_interval: None,
        interfaces: Vec::new(),
        span: n.keyword.span,
    };
    let table: &[Kw<GarpGroup>] = &[
        Kw::once(
            "garp_interval",
            |g: &mut GarpGroup, n: &Node, cx: &mut Cx<'_>| {
                g.garp_interval = cx.one(n).and_then(|t| {
                    cx.timer(t, Duration::ZERO, Duration::from_secs(1), "garp_interval")
                });
            },
        ),
        Kw::once(
            "gna_interval",
            |g: &mut GarpGroup, n: &Node, cx: &mut Cx<'_>| {
                g.gna_interval = cx.one(n).and_then(|t| {
                    cx.timer(t, Duration::ZERO, Duration::from_secs(1), "gna_interval")
                });
            },
        ),
        Kw::alias(
            "interface",
            "interface",
            |g: &mut GarpGroup, n: &Node, cx: &mut Cx<'_>| {
                if let Some(i) = text1(n, cx) {
                    g.interfaces = vec![i];
                }
            },
        ),
        Kw::alias(
            "interfaces",
            "interface",
            |g: &mut GarpGroup, n: &Node, cx: &mut Cx<'_>| {
                if let Some(words) = value_words(n, cx) {
                    g.interfaces = words.into_iter().map(|t| t.text.to_string()).collect();
                }
            },
        ),
    ];
    cx.block(&mut g, n, table, "garp_group");
    if g.interfaces.is_empty() {
        if n.block.is_some() {
            cx.error(
                DiagKind::Arguments,
                n.keyword.span,
                "garp_group has no interface",
            );
        }
        return;
    }
    c.garp_groups.push(g);
}

pub(super) fn track_group(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    let Some(name) = cx.block_name(n) else { return };
    let mut g = TrackGroup {
        name: name.text.to_string(),
        instances: Vec::new(),
        span: name.span,
    };
    let table: &[Kw<TrackGroup>] = &[Kw::once(
        "group",
        |g: &mut TrackGroup, n: &Node, cx: &mut Cx<'_>| {
            if let Some(words) = value_words(n, cx) {
                g.instances = words.into_iter().map(|t| t.text.to_string()).collect();
            }
        },
    )];
    cx.block(&mut g, n, table, format!("track_group {}", name.text));
    c.track_groups.push(g);
}
