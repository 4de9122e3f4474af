//! The generic syntax tree: every statement is a keyword, its arguments, and maybe a
//! `{ ... }` block of further statements. Nothing here knows what a keyword means; the
//! `lower` module gives the tree its meaning.

use crate::diag::{DiagKind, Diagnostics};
use crate::source::Span;

/// A word of the configuration and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The word (quotes removed).
    pub text: String,
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
    pub args: Vec<Token>,
    /// The text after the keyword as written, for keywords that re-read it with shell
    /// quoting (scripts).
    pub raw_args: String,
    /// Where `raw_args` starts.
    pub raw_span: Span,
    /// The `{ ... }` block, if the statement has one.
    pub block: Option<Block>,
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
    /// The words; never empty.
    pub words: Vec<Token>,
    /// The text after the first word, as written.
    pub raw_args: String,
    /// Where that text starts.
    pub raw_span: Span,
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
    nodes: Vec<Node>,
}

/// Builds the tree, reporting unbalanced braces.
pub fn build(items: Vec<Item>, diags: &mut Diagnostics) -> Vec<Node> {
    let mut top: Vec<Node> = Vec::new();
    let mut levels: Vec<Level> = Vec::new();
    for item in items {
        match item {
            Item::Line(line) => {
                let mut words = line.words.into_iter();
                let Some(keyword) = words.next() else {
                    continue;
                };
                let node = Node {
                    keyword,
                    args: words.collect(),
                    raw_args: line.raw_args,
                    raw_span: line.raw_span,
                    block: None,
                };
                match levels.last_mut() {
                    Some(l) => l.nodes.push(node),
                    None => top.push(node),
                }
            }
            Item::Open(span) => {
                let current = match levels.last_mut() {
                    Some(l) => &mut l.nodes,
                    None => &mut top,
                };
                let owner = match current.last() {
                    Some(n) if n.block.is_none() => current.pop(),
                    _ => {
                        diags.error(DiagKind::Syntax, span, "'{' without a keyword before it");
                        None
                    }
                };
                levels.push(Level {
                    owner,
                    open: span,
                    nodes: Vec::new(),
                });
            }
            Item::Close(span) => match levels.pop() {
                Some(level) => close(level, &mut levels, &mut top),
                None => diags.error(DiagKind::Syntax, span, "'}' closes no block"),
            },
        }
    }
    while let Some(level) = levels.pop() {
        let what = level
            .owner
            .as_ref()
            .map(|n| format!("block of '{}' is never closed: missing '}}'", n.name()))
            .unwrap_or_else(|| "block is never closed: missing '}'".to_string());
        diags.error(DiagKind::Syntax, level.open, what);
        close(level, &mut levels, &mut top);
    }
    top
}

fn close(level: Level, levels: &mut [Level], top: &mut Vec<Node>) {
    let Some(mut owner) = level.owner else {
        return;
    };
    owner.block = Some(Block {
        open: level.open,
        children: level.nodes,
    });
    match levels.last_mut() {
        Some(l) => l.nodes.push(owner),
        None => top.push(owner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn sp(line: u32) -> Span {
        Span::new(FileId(0), line, 1, 1)
    }

    fn line(n: u32, words: &[&str]) -> Item {
        Item::Line(Line {
            words: words
                .iter()
                .map(|w| Token {
                    text: w.to_string(),
                    span: sp(n),
                })
                .collect(),
            raw_args: String::new(),
            raw_span: sp(n),
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
