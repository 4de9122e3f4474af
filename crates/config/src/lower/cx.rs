//! The lowering context: keyword tables, argument checks and value readers that report
//! every problem with its place.

use std::net::IpAddr;
use std::time::Duration;

use crate::diag::{DiagKind, Diagnostic, Diagnostics};
use crate::lexer;
use crate::model::{IpPrefix, Script};
use crate::source::Span;
use crate::tree::{Node, Token};

/// Shared state while lowering: where diagnostics go and how strict to be.
pub(crate) struct Cx<'d> {
    pub diags: &'d mut Diagnostics,
    /// Unknown keywords are warnings instead of errors (`--lenient`).
    pub lenient: bool,
}

/// The keywords of a block that may appear once, with where they were first seen. Kept
/// inline: a block has a handful, and a large configuration has many blocks.
pub(crate) type Seen = smallvec::SmallVec<[(&'static str, Span); 8]>;

/// What a keyword does to the value being built.
pub(crate) type Handler<T> = fn(&mut T, &Node, &mut Cx<'_>);

/// One keyword of a block.
pub(crate) struct Kw<T: 'static> {
    /// The keyword as written.
    pub name: &'static str,
    /// The name duplicates are counted under (aliases share it).
    pub canonical: &'static str,
    /// May appear more than once.
    pub repeatable: bool,
    pub handler: Handler<T>,
}

impl<T> Kw<T> {
    /// A keyword that may appear once.
    pub const fn once(name: &'static str, handler: Handler<T>) -> Self {
        Kw {
            name,
            canonical: name,
            repeatable: false,
            handler,
        }
    }

    /// A keyword that may appear any number of times.
    pub const fn many(name: &'static str, handler: Handler<T>) -> Self {
        Kw {
            name,
            canonical: name,
            repeatable: true,
            handler,
        }
    }

    /// Another spelling of `canonical`, which may appear once between them.
    pub const fn alias(name: &'static str, canonical: &'static str, handler: Handler<T>) -> Self {
        Kw {
            name,
            canonical,
            repeatable: false,
            handler,
        }
    }
}

impl Cx<'_> {
    pub fn error(&mut self, kind: DiagKind, span: Span, msg: impl Into<String>) {
        self.diags.error(kind, span, msg);
    }

    pub fn warning(&mut self, kind: DiagKind, span: Span, msg: impl Into<String>) {
        self.diags.warning(kind, span, msg);
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Runs the handlers of `table` over the statements of `node`'s block.
    pub fn block<T>(
        &mut self,
        target: &mut T,
        node: &Node,
        table: &[Kw<T>],
        context: impl std::fmt::Display,
    ) {
        if node.block.is_none() {
            self.error(
                DiagKind::Arguments,
                node.span(),
                format!("'{}' needs a {{ ... }} block", node.name()),
            );
            return;
        }
        self.statements(target, node.children(), table, context);
    }

    /// Runs the handlers of `table` over `nodes`.
    pub fn statements<'n, T>(
        &mut self,
        target: &mut T,
        nodes: impl IntoIterator<Item = &'n Node>,
        table: &[Kw<T>],
        context: impl std::fmt::Display,
    ) {
        let mut seen = Seen::new();
        self.statements_seen(target, nodes, table, context, &mut seen);
    }

    /// Like [`Cx::statements`], with the keywords already seen kept by the caller (for
    /// the top level, read one statement at a time).
    pub fn statements_seen<'n, T>(
        &mut self,
        target: &mut T,
        nodes: impl IntoIterator<Item = &'n Node>,
        table: &[Kw<T>],
        context: impl std::fmt::Display,
        seen: &mut Seen,
    ) {
        for child in nodes {
            let name = child.name();
            match table.iter().find(|k| k.name == name) {
                Some(k) => {
                    if !k.repeatable {
                        if let Some((_, first)) = seen.iter().find(|(c, _)| *c == k.canonical) {
                            let first = *first;
                            self.push(
                                Diagnostic::error(
                                    DiagKind::Duplicate,
                                    child.keyword.span,
                                    format!("'{name}' is set more than once in {context}"),
                                )
                                .with_help(format!("first set at line {}", first.line)),
                            );
                            continue;
                        }
                        seen.push((k.canonical, child.keyword.span));
                    }
                    (k.handler)(target, child, self);
                }
                None => self.unknown(child, &context, table.iter().map(|k| k.name)),
            }
        }
    }

    /// Reports an unknown keyword, with the closest known one as a suggestion.
    pub fn unknown<'k>(
        &mut self,
        node: &Node,
        context: impl std::fmt::Display,
        known: impl Iterator<Item = &'k str>,
    ) {
        let name = node.name();
        let mut d = if self.lenient {
            Diagnostic::warning(
                DiagKind::UnknownKeyword,
                node.keyword.span,
                format!("unknown keyword '{name}' in {context} (ignored: --lenient)"),
            )
        } else {
            Diagnostic::error(
                DiagKind::UnknownKeyword,
                node.keyword.span,
                format!("unknown keyword '{name}' in {context}"),
            )
        };
        if let Some(best) = suggest(name, known) {
            d = d.with_help(format!("did you mean '{best}'?"));
        }
        self.push(d);
    }

    /// Checks the argument count and that there is no block. Returns false (after
    /// reporting) if the statement is malformed.
    pub fn arity(&mut self, node: &Node, min: usize, max: usize) -> bool {
        let mut ok = true;
        if let Some(b) = &node.block {
            self.error(
                DiagKind::Arguments,
                b.open,
                format!("'{}' does not take a {{ ... }} block", node.name()),
            );
            ok = false;
        }
        let n = node.args.len();
        if n < min {
            let want = if min == max {
                plural(min, "argument")
            } else {
                format!("at least {}", plural(min, "argument"))
            };
            self.error(
                DiagKind::Arguments,
                node.span(),
                format!("'{}' takes {want}, found {n}", node.name()),
            );
            ok = false;
        } else if n > max {
            let want = if min == max {
                plural(max, "argument")
            } else {
                format!("at most {}", plural(max, "argument"))
            };
            self.error(
                DiagKind::Arguments,
                node.args[max].span,
                format!(
                    "'{}' takes {want}, found {n}: '{}' is one too many",
                    node.name(),
                    node.args[max].text
                ),
            );
            ok = false;
        }
        ok
    }

    /// The single argument of a keyword that takes exactly one.
    pub fn one<'n>(&mut self, node: &'n Node) -> Option<&'n Token> {
        if self.arity(node, 1, 1) {
            node.args.first()
        } else {
            None
        }
    }

    /// A flag keyword: no argument means true, else a boolean word.
    pub fn flag(&mut self, node: &Node) -> Option<bool> {
        if !self.arity(node, 0, 1) {
            return None;
        }
        match node.args.first() {
            None => Some(true),
            Some(t) => self.boolean(t),
        }
    }

    /// A keyword that takes no argument at all.
    pub fn bare(&mut self, node: &Node) -> bool {
        self.arity(node, 0, 0)
    }

    pub fn boolean(&mut self, t: &Token) -> Option<bool> {
        match t.text.as_str() {
            "on" | "true" | "yes" => Some(true),
            "off" | "false" | "no" => Some(false),
            _ => {
                self.error(
                    DiagKind::Value,
                    t.span,
                    format!(
                        "'{}' is not a boolean: use on/off, true/false or yes/no",
                        t.text
                    ),
                );
                None
            }
        }
    }

    /// An unsigned integer in `min..=max`.
    pub fn uint(&mut self, t: &Token, min: u64, max: u64, what: &str) -> Option<u64> {
        self.ranged(t, min, max, what)
    }

    /// A signed integer in `min..=max`.
    pub fn int(&mut self, t: &Token, min: i64, max: i64, what: &str) -> Option<i64> {
        self.ranged(t, min, max, what)
    }

    fn ranged<N>(&mut self, t: &Token, min: N, max: N, what: &str) -> Option<N>
    where
        N: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        match t.text.parse::<N>() {
            Ok(v) if v >= min && v <= max => Some(v),
            Ok(_) => {
                self.error(
                    DiagKind::Value,
                    t.span,
                    format!("{what} {} is out of range: must be {min} to {max}", t.text),
                );
                None
            }
            Err(_) => {
                self.error(
                    DiagKind::Value,
                    t.span,
                    format!("{what} '{}' is not a whole number ({min} to {max})", t.text),
                );
                None
            }
        }
    }

    pub fn u32(&mut self, t: &Token, min: u32, max: u32, what: &str) -> Option<u32> {
        self.uint(t, min.into(), max.into(), what).map(|v| v as u32)
    }

    pub fn u8(&mut self, t: &Token, min: u8, max: u8, what: &str) -> Option<u8> {
        self.uint(t, min.into(), max.into(), what).map(|v| v as u8)
    }

    pub fn u16(&mut self, t: &Token, min: u16, max: u16, what: &str) -> Option<u16> {
        self.uint(t, min.into(), max.into(), what).map(|v| v as u16)
    }

    pub fn i32(&mut self, t: &Token, min: i32, max: i32, what: &str) -> Option<i32> {
        self.int(t, min.into(), max.into(), what).map(|v| v as i32)
    }

    /// A time in decimal seconds (`1`, `0.5`, `2.71828`) within `min..=max`.
    pub fn timer(
        &mut self,
        t: &Token,
        min: Duration,
        max: Duration,
        what: &str,
    ) -> Option<Duration> {
        match parse_seconds(&t.text) {
            Some(d) if d >= min && d <= max => Some(d),
            Some(_) => {
                self.error(
                    DiagKind::Value,
                    t.span,
                    format!(
                        "{what} {}s is out of range: must be {} to {} seconds",
                        t.text,
                        fmt_secs(min),
                        fmt_secs(max)
                    ),
                );
                None
            }
            None => {
                self.error(
                    DiagKind::Value,
                    t.span,
                    format!(
                        "{what} '{}' is not a time in seconds (like 3 or 0.5)",
                        t.text
                    ),
                );
                None
            }
        }
    }

    pub fn ip(&mut self, t: &Token, what: &str) -> Option<IpAddr> {
        match t.text.parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.error(
                    DiagKind::Value,
                    t.span,
                    format!("{what} '{}' is not an IPv4 or IPv6 address", t.text),
                );
                None
            }
        }
    }

    /// `ADDR[/LEN]`; without a length the prefix is the whole address.
    pub fn prefix(&mut self, t: &Token, what: &str) -> Option<IpPrefix> {
        match IpPrefix::parse(&t.text) {
            Some(p) => Some(p),
            None => {
                self.error(
                    DiagKind::Value,
                    t.span,
                    format!(
                        "{what} '{}' is not an address with an optional /prefix length",
                        t.text
                    ),
                );
                None
            }
        }
    }

    /// One of a fixed set of words.
    pub fn choice<'c>(&mut self, t: &Token, choices: &[&'c str], what: &str) -> Option<&'c str> {
        if let Some(c) = choices.iter().find(|c| **c == t.text) {
            return Some(c);
        }
        let mut d = Diagnostic::error(
            DiagKind::Value,
            t.span,
            format!("{what} '{}' is not one of: {}", t.text, choices.join(", ")),
        );
        if let Some(best) = suggest(&t.text, choices.iter().copied()) {
            d = d.with_help(format!("did you mean '{best}'?"));
        }
        self.push(d);
        None
    }

    /// A script keyword: `KEYWORD "command args" [user [group]]`, re-read with shell
    /// quoting from the raw text.
    pub fn script(&mut self, node: &Node) -> Option<Script> {
        if let Some(b) = &node.block {
            self.error(
                DiagKind::Arguments,
                b.open,
                format!("'{}' does not take a {{ ... }} block", node.name()),
            );
            return None;
        }
        let words = match lexer::script_words(&node.raw_args()) {
            Ok(w) => w,
            Err(e) => {
                self.error(DiagKind::Syntax, node.raw_span(), e.to_string());
                return None;
            }
        };
        self.script_from_words(node, words)
    }

    /// Builds a [`Script`] from already split words (command, user, group).
    pub fn script_from_words(&mut self, node: &Node, words: Vec<String>) -> Option<Script> {
        let mut it = words.into_iter();
        let Some(command) = it.next() else {
            self.error(
                DiagKind::Arguments,
                node.span(),
                format!("'{}' needs a script to run", node.name()),
            );
            return None;
        };
        let argv = match lexer::script_words(&command) {
            Ok(a) if !a.is_empty() && !a[0].is_empty() => a,
            Ok(_) => {
                self.error(
                    DiagKind::Value,
                    node.raw_span(),
                    format!("'{}' has an empty script", node.name()),
                );
                return None;
            }
            Err(e) => {
                self.error(DiagKind::Syntax, node.raw_span(), e.to_string());
                return None;
            }
        };
        let user = it.next();
        let group = it.next();
        if let Some(extra) = it.next() {
            let span = node.args.get(3).map(|t| t.span).unwrap_or(node.raw_span());
            self.error(
                DiagKind::Arguments,
                span,
                format!(
                    "'{}' takes a script, a user and a group; '{extra}' is one too many (quote the script if it has arguments)",
                    node.name()
                ),
            );
            return None;
        }
        Some(Script {
            command,
            argv,
            user,
            group,
            span: node.raw_span(),
        })
    }

    /// Warns that a keyword keepalived only keeps for compatibility does nothing here.
    pub fn deprecated(&mut self, node: &Node, why: &str) {
        self.warning(
            DiagKind::Deprecated,
            node.keyword.span,
            format!("'{}' is deprecated: {why}", node.name()),
        );
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Parses decimal seconds with up to nanosecond precision.
pub(crate) fn parse_seconds(s: &str) -> Option<Duration> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 9 {
        return None;
    }
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().ok()?
    };
    Some(Duration::new(secs, nanos))
}

pub(crate) fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}", d.as_secs())
    } else {
        format!("{s}")
    }
}

/// The closest of `known` to `word`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'k>(word: &str, known: impl Iterator<Item = &'k str>) -> Option<&'k str> {
    let mut best: Option<(&str, f64)> = None;
    for k in known {
        let lev = strsim::levenshtein(word, k);
        let jw = strsim::jaro_winkler(word, k);
        let close = lev <= 2.max(word.len() / 4) || jw >= 0.9;
        if !close {
            continue;
        }
        let score = jw - lev as f64 * 0.01;
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((k, score));
        }
    }
    best.map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_seconds("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_seconds(".25"), Some(Duration::from_millis(250)));
        assert_eq!(
            parse_seconds("2.71828"),
            Some(Duration::from_micros(2_718_280))
        );
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("1e3"), None);
        assert_eq!(parse_seconds("."), None);
    }

    #[test]
    fn suggestions() {
        let kws = ["priority", "preempt", "preempt_delay", "advert_int"];
        assert_eq!(suggest("prority", kws.iter().copied()), Some("priority"));
        assert_eq!(
            suggest("advert_interval", kws.iter().copied()),
            Some("advert_int")
        );
        assert_eq!(suggest("zzz", kws.iter().copied()), None);
    }
}
