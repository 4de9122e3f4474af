//! From the generic tree to the typed model: one keyword table per block, defaults
//! applied, values checked. Problems are collected, never thrown, so a single run
//! reports everything.

mod checker;
pub(crate) mod cx;
mod global;
mod lvs;
mod net;
mod track;
mod vrrp;

use crate::diag::{DiagKind, Diagnostics};
use crate::model::Config;
use crate::tree::{Node, Token};
use cx::{Cx, Kw};

/// Lowers top-level statements one at a time as the preprocessor finishes them, so the
/// syntax tree of a large configuration is never held whole. Instances and virtual
/// servers are completed at the end, when `global_defs`, `SSL`, `track_file` and
/// `virtual_server_group` blocks are known wherever they were written.
pub(crate) struct Lowering {
    cfg: Config,
    lenient: bool,
    instances: Vec<vrrp::Draft>,
    /// Virtual servers waiting for what they refer to, with their place in the file.
    servers: Vec<(usize, lvs::VsDraft)>,
    /// Place in the file of each entry of `cfg.virtual_servers`.
    server_order: Vec<usize>,
    servers_seen: usize,
    /// Each sync group's own `smtp_alert`, resolved against `global_defs` at the end.
    sync_smtp: Vec<Option<bool>>,
    global_span: Option<crate::source::Span>,
    /// Virtual servers completed before `global_defs` was read: how many, and their own
    /// `smtp_alert` settings.
    early_servers: usize,
    smtp_later: lvs::SmtpLater,
    top_seen: cx::Seen,
}

impl Lowering {
    pub(crate) fn new(lenient: bool) -> Self {
        Lowering {
            cfg: Config::default(),
            lenient,
            instances: Vec::new(),
            servers: Vec::new(),
            server_order: Vec::new(),
            servers_seen: 0,
            sync_smtp: Vec::new(),
            global_span: None,
            early_servers: 0,
            smtp_later: lvs::SmtpLater::default(),
            top_seen: cx::Seen::new(),
        }
    }

    /// Takes one finished top-level statement.
    pub(crate) fn node(&mut self, n: Node, diags: &mut Diagnostics) {
        let mut cx = Cx {
            diags,
            lenient: self.lenient,
        };
        if n.name() == "global_defs" {
            if let Some(first) = self.global_span {
                cx.push(
                    crate::diag::Diagnostic::error(
                        DiagKind::Duplicate,
                        n.keyword.span,
                        "global_defs appears more than once; merge the blocks",
                    )
                    .with_help(format!("first at line {}", first.line)),
                );
                return;
            }
            self.global_span = Some(n.keyword.span);
            self.early_servers = self.cfg.virtual_servers.len();
            if cx.arity_block(&n) {
                cx.block(&mut self.cfg.global, &n, global::table(), "global_defs");
            }
            return;
        }
        let mut seen = std::mem::take(&mut self.top_seen);
        cx.statements_seen(self, [&n], top_table(), "the top level", &mut seen);
        self.top_seen = seen;
    }

    /// Completes everything that waited for the whole configuration.
    pub(crate) fn finish(mut self, diags: &mut Diagnostics) -> Config {
        let mut cx = Cx {
            diags,
            lenient: self.lenient,
        };
        global::finish(&mut self.cfg.global, &mut cx, self.global_span);
        if self.global_span.is_some() {
            self.smtp_later.apply(&mut self.cfg, self.early_servers);
        }
        let g = &self.cfg.global;
        for (group, own) in self.cfg.sync_groups.iter_mut().zip(&self.sync_smtp) {
            group.smtp_alert = own.or(g.smtp_alert_vrrp).or(g.smtp_alert).unwrap_or(false);
        }
        for d in std::mem::take(&mut self.instances) {
            vrrp::finish_draft(d, &mut self.cfg, &mut cx);
        }
        for (seq, d) in std::mem::take(&mut self.servers) {
            if lvs::finish_draft(d, &mut self.cfg, &mut cx, None) {
                self.server_order.push(seq);
            }
        }
        // Deferred virtual servers go back to their place in the file.
        if self.server_order.windows(2).any(|w| w[0] > w[1]) {
            let mut pairs: Vec<_> = self
                .server_order
                .iter()
                .copied()
                .zip(std::mem::take(&mut self.cfg.virtual_servers))
                .collect();
            pairs.sort_by_key(|(seq, _)| *seq);
            self.cfg.virtual_servers = pairs.into_iter().map(|(_, vs)| vs).collect();
        }
        // The configuration lives as long as the daemon: no room to grow (a Vec that
        // doubled past 10,000 virtual servers keeps space for 16,384).
        self.cfg.virtual_servers.shrink_to_fit();
        self.cfg.vrrp_instances.shrink_to_fit();
        self.cfg
    }
}

impl Cx<'_> {
    /// A block keyword without arguments.
    pub fn arity_block(&mut self, n: &Node) -> bool {
        if let Some(extra) = n.args.first() {
            self.error(
                DiagKind::Arguments,
                extra.span,
                format!(
                    "'{}' takes no arguments before its block, found '{}'",
                    n.name(),
                    extra.text
                ),
            );
            return false;
        }
        true
    }

    /// A named block keyword (`vrrp_instance NAME {`): returns the name.
    pub fn block_name<'n>(&mut self, n: &'n Node) -> Option<&'n Token> {
        match n.args.as_slice() {
            [name] => Some(name),
            [] => {
                self.error(
                    DiagKind::Arguments,
                    n.keyword.span,
                    format!("'{}' needs a name", n.name()),
                );
                None
            }
            [_, extra, ..] => {
                self.error(
                    DiagKind::Arguments,
                    extra.span,
                    format!("'{}' takes one name, found also '{}'", n.name(), extra.text),
                );
                None
            }
        }
    }
}

/// Adapts a handler on the configuration to the top-level table.
macro_rules! on_cfg {
    ($f:path) => {
        |l: &mut Lowering, n: &Node, cx: &mut Cx<'_>| $f(&mut l.cfg, n, cx)
    };
}

fn top_table() -> &'static [Kw<Lowering>] {
    static T: std::sync::OnceLock<Vec<Kw<Lowering>>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        vec![
            Kw::many(
                "vrrp_instance",
                |l: &mut Lowering, n: &Node, cx: &mut Cx<'_>| {
                    if let Some(d) = vrrp::parse(n, cx) {
                        l.instances.push(d);
                    }
                },
            ),
            Kw::many(
                "virtual_server",
                |l: &mut Lowering, n: &Node, cx: &mut Cx<'_>| {
                    let seq = l.servers_seen;
                    l.servers_seen += 1;
                    let Some(d) = lvs::parse(n, cx) else { return };
                    // Completing at once keeps a large configuration's drafts from piling
                    // up; it is exact when what the server depends on is already known.
                    // `global_defs` only gives `smtp_alert` defaults, fixed up at the end
                    // for servers completed before it.
                    if lvs::ready(&d, &l.cfg) {
                        let early = l.global_span.is_none().then_some(&mut l.smtp_later);
                        if lvs::finish_draft(d, &mut l.cfg, cx, early) {
                            l.server_order.push(seq);
                        }
                    } else {
                        l.servers.push((seq, d));
                    }
                },
            ),
            Kw::many(
                "vrrp_sync_group",
                |l: &mut Lowering, n: &Node, cx: &mut Cx<'_>| {
                    if let Some((g, smtp)) = track::sync_group(n, cx) {
                        l.cfg.sync_groups.push(g);
                        l.sync_smtp.push(smtp);
                    }
                },
            ),
            Kw::many("vrrp_script", on_cfg!(track::vrrp_script)),
            Kw::many("track_file", on_cfg!(track::track_file)),
            Kw::many("vrrp_track_file", on_cfg!(track::track_file)),
            Kw::many("vrrp_track_process", on_cfg!(track::track_process)),
            Kw::many("bfd_instance", on_cfg!(track::bfd_instance)),
            Kw::many("garp_group", on_cfg!(track::garp_group)),
            Kw::many("track_group", on_cfg!(track::track_group)),
            Kw::many("static_ipaddress", on_cfg!(net::static_ipaddress)),
            Kw::many("static_routes", on_cfg!(net::static_routes)),
            Kw::many("static_rules", on_cfg!(net::static_rules)),
            Kw::many("linkbeat_interfaces", on_cfg!(net::linkbeat_interfaces)),
            Kw::many(
                "interface_up_down_delays",
                on_cfg!(net::interface_up_down_delays),
            ),
            Kw::many("virtual_server_group", on_cfg!(lvs::virtual_server_group)),
            Kw::once("SSL", on_cfg!(lvs::ssl)),
            Kw::once("net_namespace", top_global),
            Kw::once("net_namespace_ipvs", top_global),
            Kw::once("namespace_with_ipsets", top_global),
            Kw::once("instance", top_global),
            Kw::once("use_pid_dir", top_global),
            Kw::once("linkbeat_use_polling", top_global),
            Kw::once("child_wait_time", top_global),
        ]
    })
}

fn top_global(l: &mut Lowering, n: &Node, cx: &mut Cx<'_>) {
    global::top_level(&mut l.cfg.global, n, cx);
}

/// The single argument as text.
pub(crate) fn text1(n: &Node, cx: &mut Cx<'_>) -> Option<String> {
    cx.one(n).map(|t| t.text.to_string())
}

/// The words of a value block (`notification_email { a b \n c }`), flattened.
pub(crate) fn value_words<'n>(n: &'n Node, cx: &mut Cx<'_>) -> Option<Vec<&'n Token>> {
    let lines = value_lines(n, cx)?;
    Some(lines.into_iter().flatten().collect())
}

/// The lines of a value block that has a name (`virtual_server_group NAME { ... }`).
pub(crate) fn named_value_lines<'n>(n: &'n Node, cx: &mut Cx<'_>) -> Option<Vec<Vec<&'n Token>>> {
    value_block(n, 1, cx)
}

/// The lines of a value block, each as its words.
pub(crate) fn value_lines<'n>(n: &'n Node, cx: &mut Cx<'_>) -> Option<Vec<Vec<&'n Token>>> {
    value_block(n, 0, cx)
}

fn value_block<'n>(n: &'n Node, names: usize, cx: &mut Cx<'_>) -> Option<Vec<Vec<&'n Token>>> {
    if let Some(extra) = n.args.get(names) {
        cx.error(
            DiagKind::Arguments,
            extra.span,
            format!(
                "'{}' takes its values in a {{ ... }} block, not '{}' on the same line",
                n.name(),
                extra.text
            ),
        );
        return None;
    }
    let Some(block) = &n.block else {
        cx.error(
            DiagKind::Arguments,
            n.keyword.span,
            format!("'{}' needs a {{ ... }} block of values", n.name()),
        );
        return None;
    };
    let mut lines = Vec::with_capacity(block.children.len());
    for c in &block.children {
        if let Some(b) = &c.block {
            cx.error(
                DiagKind::Arguments,
                b.open,
                format!("values of '{}' cannot have a {{ ... }} block", n.name()),
            );
            continue;
        }
        let mut words = Vec::with_capacity(1 + c.args.len());
        words.push(&c.keyword);
        words.extend(c.args.iter());
        lines.push(words);
    }
    Some(lines)
}
