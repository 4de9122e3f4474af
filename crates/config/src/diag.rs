//! Diagnostics: every problem found in a configuration, with the place it was found.
//!
//! Loading never stops at the first problem: all of them are collected, then rendered
//! as `file:line:column` followed by the offending line and a caret under the text.

use std::fmt::{self, Write as _};

use serde::Serialize;

use crate::source::{SourceMap, Span};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something worth knowing that does not stop the configuration from loading.
    Warning,
    /// The configuration is refused.
    Error,
}

/// What kind of problem a diagnostic reports; stable, so tests and tools can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiagKind {
    /// Broken syntax: quotes, braces, definitions, sequences.
    Syntax,
    /// An `include` that cannot be honoured.
    Include,
    /// A keyword the block does not know.
    UnknownKeyword,
    /// Too few or too many arguments, or a block where none belongs (or the reverse).
    Arguments,
    /// A value of the wrong type or out of range.
    Value,
    /// Something defined or set twice where once is the rule.
    Duplicate,
    /// A name that refers to nothing defined (script, group, instance, track file...).
    UnknownReference,
    /// A combination of settings that cannot work.
    Conflict,
    /// A fact of this machine (interface, file) that does not hold here.
    Host,
    /// A keyword keepalived accepts but that is deprecated or has no effect here.
    Deprecated,
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Category.
    pub kind: DiagKind,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where, if the problem has a place in the text.
    #[serde(skip)]
    pub span: Option<Span>,
    /// A suggestion ("did you mean ...").
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error of `kind` at `span`.
    pub fn error(
        kind: DiagKind,
        span: impl Into<Option<Span>>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Error,
            kind,
            message: message.into(),
            span: span.into(),
            help: None,
        }
    }

    /// A warning of `kind` at `span`.
    pub fn warning(
        kind: DiagKind,
        span: impl Into<Option<Span>>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(kind, span, message)
        }
    }

    /// Adds a suggestion.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Renders the diagnostic with its location and the offending line.
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{label}: {}", self.message);
        let Some(span) = self.span else {
            if let Some(help) = &self.help {
                let _ = writeln!(out, "  = help: {help}");
            }
            return out;
        };
        let _ = writeln!(out, "  --> {}", sources.locate(span));
        let line_text = sources.file(span.file).and_then(|f| f.line(span.line));
        if let Some(text) = line_text {
            let num = span.line.to_string();
            let pad = " ".repeat(num.len());
            let (shown, caret_at, caret_len) = layout(text, span.col, span.len);
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{num} | {shown}");
            let _ = write!(
                out,
                "{pad} | {}{}",
                " ".repeat(caret_at),
                "^".repeat(caret_len.max(1))
            );
            match &self.help {
                Some(help) => {
                    let _ = writeln!(out, " help: {help}");
                }
                None => out.push('\n'),
            }
        } else if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }
}

/// Expands tabs and measures display width so the caret lands under the right text
/// (the seed configurations carry CJK comments, two columns wide each).
fn layout(text: &str, col: u32, len: u32) -> (String, usize, usize) {
    let mut shown = String::with_capacity(text.len());
    let mut width = 0usize;
    let mut caret_at = None;
    let mut caret_end = None;
    let start = col.saturating_sub(1) as usize;
    let end = start + len.max(1) as usize;
    for (i, c) in text.chars().enumerate() {
        if i == start {
            caret_at = Some(width);
        }
        if i == end {
            caret_end = Some(width);
        }
        if c == '\t' {
            shown.push_str("    ");
            width += 4;
        } else {
            shown.push(c);
            width += char_width(c);
        }
    }
    let caret_at = caret_at.unwrap_or(width);
    let caret_end = caret_end.unwrap_or(width).max(caret_at + 1);
    (shown, caret_at, caret_end - caret_at)
}

fn char_width(c: char) -> usize {
    let u = c as u32;
    let wide = matches!(u,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x1F300..=0x1F64F | 0x1F900..=0x1F9FF | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

/// All diagnostics of one load, in the order found.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// No diagnostics yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Moves every diagnostic of `other` in.
    pub fn append(&mut self, mut other: Diagnostics) {
        self.items.append(&mut other.items);
    }

    /// Records an error.
    pub fn error(&mut self, kind: DiagKind, span: impl Into<Option<Span>>, msg: impl Into<String>) {
        self.push(Diagnostic::error(kind, span, msg));
    }

    /// Records a warning.
    pub fn warning(
        &mut self,
        kind: DiagKind,
        span: impl Into<Option<Span>>,
        msg: impl Into<String>,
    ) {
        self.push(Diagnostic::warning(kind, span, msg));
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    /// All diagnostics.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sorts by file, line and column, errors and warnings interleaved, so the report
    /// reads top to bottom; diagnostics without a place go last.
    pub fn sort(&mut self) {
        self.items
            .sort_by_key(|d| (d.span.is_none(), d.span.map(|s| (s.file, s.line, s.col))));
    }

    /// Renders every diagnostic, then a summary line.
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        for d in &self.items {
            out.push_str(&d.render(sources));
            out.push('\n');
        }
        let (e, w) = (self.error_count(), self.warning_count());
        if e > 0 || w > 0 {
            let _ = writeln!(
                out,
                "{} error{}, {} warning{}",
                e,
                if e == 1 { "" } else { "s" },
                w,
                if w == 1 { "" } else { "s" }
            );
        }
        out
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_line_and_caret() {
        let mut m = SourceMap::new();
        let f = m.add(
            "k.conf".into(),
            "vrrp_instance A {\n\tprority 100\n}\n".into(),
        );
        let d = Diagnostic::error(
            DiagKind::UnknownKeyword,
            Span::new(f, 2, 2, 7),
            "unknown keyword 'prority' in vrrp_instance",
        )
        .with_help("did you mean 'priority'?");
        assert_eq!(
            d.render(&m),
            "error: unknown keyword 'prority' in vrrp_instance\n  --> k.conf:2:2\n  |\n2 |     prority 100\n  |     ^^^^^^^ help: did you mean 'priority'?\n"
        );
    }

    #[test]
    fn caret_accounts_for_wide_characters() {
        let (_, at, len) = layout("a 中文 bc", 6, 2);
        assert_eq!((at, len), (7, 2));
    }
}
