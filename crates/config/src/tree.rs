//! The generic syntax tree: every statement is a keyword, its arguments, and maybe a
//! `{ ... }` block of further statements. Nothing here knows what a keyword means; the
//! `lower` module gives the tree its meaning.

use compact_str::CompactString;
use smallvec::SmallVec;

/// The arguments of a statement: most have one or two, kept inline.
pub type Args = SmallVec<[Token; 2]>;

use crate::diag::{DiagKind, Diagnostics};
use crate::source::Span;

/// A word of the configuration and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The word (quotes removed); short words are stored inline.
    pub text: CompactString,
    /// Its place.
    pub span: Span,
}

impl Token {
    /// The word.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// One statement: `keyword args...` with an optional block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The first word.
    pub keyword: Token,
    /// The other words.
    pub args: Args,
    /// The text after the keyword as written, when [`Node::raw_args`] cannot rebuild it
    /// from the words.
    pub raw: Option<Box<RawArgs>>,
    /// The `{ ... }` block, if the statement has one.
    pub block: Option<Block>,
}

/// The text after a keyword as written, for keywords that re-read it with shell quoting
/// (scripts). Kept only where the words do not say it exactly (quotes, escapes, blanks
/// other than one space between words, ...): a statement's size is copied several times
/// on its way to the lowering, and most never need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawArgs {
    /// The text.
    pub text: CompactString,
    /// Where it starts, and its length.
    pub span: Span,
}

impl RawArgs {
    /// `None` when `keyword` and `args` rebuild `text` and `span` exactly, else the text.
    pub fn unless_derived(
        keyword: &Token,
        args: &[Token],
        text: &str,
        span: Span,
    ) -> Option<Box<RawArgs>> {
        let joined = args.len() == text.split(' ').count()
            && args.iter().zip(text.split(' ')).all(|(a, w)| a.text == w);
        let same =
            (joined || (args.is_empty() && text.is_empty())) && span == derived_span(keyword, args);
        (!same).then(|| {
            Box::new(RawArgs {
                text: text.into(),
                span,
            })
        })
    }
}

/// Where the text after `keyword` is, from the words' places (ASCII words written on one
/// line, one space apart: [`RawArgs::unless_derived`] checks it).
fn derived_span(keyword: &Token, args: &[Token]) -> Span {
    let k = keyword.span;
    match (args.first(), args.last()) {
        (Some(first), Some(last)) => Span::new(
            k.file,
            k.line,
            first.span.col,
            (last.span.col + last.span.len)
                .saturating_sub(first.span.col)
                .max(1),
        ),
        _ => Span::new(k.file, k.line, k.col + k.len, 1),
    }
}

/// A `{ ... }` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Where `{` is.
    pub open: Span,
    /// The statements inside.
    pub children: Vec<Node>,
}

impl Node {
    /// The text after the keyword as written (scripts re-read it with shell quoting).
    pub fn raw_args(&self) -> std::borrow::Cow<'_, str> {
        match (&self.raw, self.args.as_slice()) {
            (Some(r), _) => std::borrow::Cow::Borrowed(&r.text),
            (None, []) => std::borrow::Cow::Borrowed(""),
            (None, [one]) => std::borrow::Cow::Borrowed(&one.text),
            (None, args) => std::borrow::Cow::Owned(
                args.iter()
                    .map(|a| a.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        }
    }

    /// Where [`Node::raw_args`] starts, and its length.
    pub fn raw_span(&self) -> Span {
        match &self.raw {
            Some(r) => r.span,
            None => derived_span(&self.keyword, &self.args),
        }
    }

    /// The keyword text.
    pub fn name(&self) -> &str {
        &self.keyword.text
    }

    /// The statements of the block (empty if there is no block).
    pub fn children(&self) -> &[Node] {
        self.block
            .as_ref()
            .map(|b| b.children.as_slice())
            .unwrap_or(&[])
    }

    /// The span from the keyword to the last argument.
    pub fn span(&self) -> Span {
        let mut s = self.keyword.span;
        if let Some(last) = self.args.last()
            && last.span.line == s.line
            && last.span.file == s.file
            && last.span.col >= s.col
        {
            s.len = last.span.col + last.span.len - s.col;
        }
        s
    }
}

/// A line of words as the preprocessor hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The first word.
    pub keyword: Token,
    /// The other words.
    pub args: Args,
    /// The text after the first word as written, when the words do not say it
    /// ([`RawArgs::unless_derived`]).
    pub raw: Option<Box<RawArgs>>,
}

/// What the preprocessor produces: lines and braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A statement line.
    Line(Line),
    /// `{`.
    Open(Span),
    /// `}`.
    Close(Span),
}

struct Level {
    owner: Option<Node>,
    open: Span,
    /// Where this block's statements start in [`TreeBuilder::stack`].
    start: usize,
}

/// Builds the tree item by item, handing out each top-level statement as soon as it is
/// complete, so a large configuration never exists twice in memory.
#[derive(Debug, Default)]
pub struct TreeBuilder {
    levels: Vec<Level>,
    /// The statements of every open block, innermost last. One vector reused for all
    /// blocks, so a closed block's statements move once, into a vector of their exact
    /// size (a vector per block grew by doubling, copying and leaving room unused).
    stack: Vec<Node>,
    /// A top-level statement that may still get a `{` on the next line.
    pending_top: Option<Node>,
}

impl std::fmt::Debug for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Level")
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

impl TreeBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next item; returns a top-level statement if this item completed one.
    /// A top-level statement without a block is complete when the next item is not `{`,
    /// so it is held back one item.
    pub fn push(&mut self, item: Item, diags: &mut Diagnostics, out: &mut Vec<Node>) {
        match item {
            Item::Line(line) => {
                let node = Node {
                    keyword: line.keyword,
                    args: line.args,
                    raw: line.raw,
                    block: None,
                };
                match self.levels.last() {
                    Some(_) => self.stack.push(node),
                    None => {
                        // The previous top-level statement can no longer get a block.
                        self.flush_pending(out);
                        self.pending_top = Some(node);
                    }
                }
            }
            Item::Open(span) => {
                let owner = match self.levels.last() {
                    Some(l) => match self.stack.last() {
                        Some(n) if self.stack.len() > l.start && n.block.is_none() => {
                            self.stack.pop()
                        }
                        _ => None,
                    },
                    None => self.pending_top.take(),
                };
                if owner.is_none() {
                    diags.error(DiagKind::Syntax, span, "'{' without a keyword before it");
                }
                self.levels.push(Level {
                    owner,
                    open: span,
                    start: self.stack.len(),
                });
            }
            Item::Close(span) => match self.levels.pop() {
                Some(level) => self.close(level, out),
                None => {
                    self.flush_pending(out);
                    diags.error(DiagKind::Syntax, span, "'}' closes no block");
                }
            },
        }
    }

    /// Ends the input: reports blocks left open and hands out what remains.
    pub fn finish(&mut self, diags: &mut Diagnostics, out: &mut Vec<Node>) {
        while let Some(level) = self.levels.pop() {
            let what = level
                .owner
                .as_ref()
                .map(|n| format!("block of '{}' is never closed: missing '}}'", n.name()))
                .unwrap_or_else(|| "block is never closed: missing '}'".to_string());
            diags.error(DiagKind::Syntax, level.open, what);
            self.close(level, out);
        }
        self.flush_pending(out);
    }

    fn flush_pending(&mut self, out: &mut Vec<Node>) {
        if let Some(n) = self.pending_top.take() {
            out.push(n);
        }
    }

    fn close(&mut self, level: Level, out: &mut Vec<Node>) {
        let Some(mut owner) = level.owner else {
            self.stack.truncate(level.start);
            return;
        };
        owner.block = Some(Block {
            open: level.open,
            // One copy of the whole range, into a vector of exactly its size.
            children: self.stack.split_off(level.start),
        });
        match self.levels.last() {
            Some(_) => self.stack.push(owner),
            None => out.push(owner),
        }
    }
}

/// Builds the whole tree at once (tests and small inputs).
pub fn build(items: Vec<Item>, diags: &mut Diagnostics) -> Vec<Node> {
    let mut b = TreeBuilder::new();
    let mut out = Vec::new();
    for item in items {
        b.push(item, diags, &mut out);
    }
    b.finish(diags, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn sp(line: u32) -> Span {
        Span::new(FileId(0), line, 1, 1)
    }

    fn line(n: u32, words: &[&str]) -> Item {
        let mut words = words.iter().map(|w| Token {
            text: (*w).into(),
            span: sp(n),
        });
        Item::Line(Line {
            keyword: words.next().expect("a keyword"),
            args: words.collect(),
            raw: None,
        })
    }

    #[test]
    fn blocks_nest_and_braces_may_be_on_the_next_line() {
        let mut d = Diagnostics::new();
        let t = build(
            vec![
                line(1, &["vrrp_instance", "A"]),
                Item::Open(sp(2)),
                line(3, &["virtual_ipaddress"]),
                Item::Open(sp(3)),
                line(3, &["10.0.0.1"]),
                Item::Close(sp(3)),
                Item::Close(sp(4)),
                line(5, &["x"]),
            ],
            &mut d,
        );
        assert!(d.is_empty());
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].children()[0].name(), "virtual_ipaddress");
        assert_eq!(t[0].children()[0].children()[0].name(), "10.0.0.1");
        assert_eq!(t[1].name(), "x");
    }

    #[test]
    fn unbalanced_braces_are_reported() {
        let mut d = Diagnostics::new();
        let t = build(
            vec![
                Item::Close(sp(1)),
                line(2, &["a"]),
                Item::Open(sp(2)),
                line(3, &["b"]),
            ],
            &mut d,
        );
        let msgs: Vec<_> = d.iter().map(|d| d.message.clone()).collect();
        assert_eq!(
            msgs,
            [
                "'}' closes no block",
                "block of 'a' is never closed: missing '}'"
            ]
        );
        assert_eq!(t[0].children()[0].name(), "b");
    }
}
