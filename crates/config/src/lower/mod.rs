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

use crate::diag::DiagKind;
use crate::model::Config;
use crate::tree::{Node, Token};
use cx::{Cx, Kw};

/// Lowers the whole tree.
pub(crate) fn lower(nodes: &[Node], cx: &mut Cx<'_>) -> Config {
    let mut cfg = Config::default();
    // global_defs first: instance defaults (garp, strict, versions) come from it,
    // wherever it is written.
    let mut global_span = None;
    for n in nodes.iter().filter(|n| n.name() == "global_defs") {
        if global_span.is_some() {
            cx.error(
                DiagKind::Duplicate,
                n.keyword.span,
                "global_defs appears more than once; merge the blocks",
            );
            continue;
        }
        global_span = Some(n.keyword.span);
        if cx.arity_block(n) {
            cx.block(&mut cfg.global, n, global::table(), "global_defs");
        }
    }
    global::finish(&mut cfg.global, cx, global_span);
    // Virtual servers last: they look up SSL, virtual_server_group and track_file
    // blocks wherever those are written.
    let (vs, rest): (Vec<&Node>, Vec<&Node>) =
        nodes.iter().partition(|n| n.name() == "virtual_server");
    cx.statements(&mut cfg, rest, top_table(), "the top level");
    cx.statements(&mut cfg, vs, top_table(), "the top level");
    cfg
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

fn top_table() -> &'static [Kw<Config>] {
    static T: std::sync::OnceLock<Vec<Kw<Config>>> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        vec![
            // handled before the others, see `lower`
            Kw::many("global_defs", |_, _, _| {}),
            Kw::many("vrrp_instance", vrrp::instance),
            Kw::many("vrrp_sync_group", track::sync_group),
            Kw::many("vrrp_script", track::vrrp_script),
            Kw::many("track_file", track::track_file),
            Kw::many("vrrp_track_file", track::track_file),
            Kw::many("vrrp_track_process", track::track_process),
            Kw::many("bfd_instance", track::bfd_instance),
            Kw::many("garp_group", track::garp_group),
            Kw::many("track_group", track::track_group),
            Kw::many("static_ipaddress", net::static_ipaddress),
            Kw::many("static_routes", net::static_routes),
            Kw::many("static_rules", net::static_rules),
            Kw::many("linkbeat_interfaces", net::linkbeat_interfaces),
            Kw::many("interface_up_down_delays", net::interface_up_down_delays),
            Kw::many("virtual_server_group", lvs::virtual_server_group),
            Kw::many("virtual_server", lvs::virtual_server),
            Kw::once("SSL", lvs::ssl),
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

fn top_global(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    global::top_level(&mut c.global, n, cx);
}

/// The single argument as text.
pub(crate) fn text1(n: &Node, cx: &mut Cx<'_>) -> Option<String> {
    cx.one(n).map(|t| t.text.clone())
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
