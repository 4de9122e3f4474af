//! From files to lines of words: comments, continuations, `include`, `@id` conditional
//! lines, `$NAME=` definitions and their substitution, `~SEQ`/`~LST` repetition, and
//! splitting at braces. The output is a flat list of [`Item`]s for the tree builder.
//!
//! Order of work on each line follows keepalived's `read_line` (`lib/parser.c`):
//! conditional prefix, definition, sequence, substitution (then the result is looked at
//! again from the top), include, and finally the split at `{` / `}`.
//!
//! Two deliberate differences from keepalived, both stricter or more useful:
//! * a trailing `\` continues any line, not only a `$NAME=` definition (keepalived glues
//!   the backslash to the last word, which is never what was meant);
//! * a plain `include` of a file that does not exist is an error (see `include.rs`).

mod defs;
mod include;
mod seq;

use std::path::{Path, PathBuf};

use crate::diag::{DiagKind, Diagnostics};
use crate::lexer::{self, Piece};
use crate::source::{FileId, SourceMap, Span};
use crate::tree::{Args, Item, Line, RawArgs, Token};

pub use include::Checks as IncludeChecks;

/// Deepest nesting of includes and expansions before we call it a loop.
const MAX_DEPTH: u32 = 64;

/// Where a logical line came from, to turn byte offsets into columns.
#[derive(Debug, Clone, Copy)]
struct Origin {
    file: FileId,
    line: u32,
    /// Characters of the physical line before the text's first byte.
    col0: u32,
    /// Offsets in the text still match the physical line (no substitution, no removed
    /// escape). When false, every word points at the start of the line.
    exact: bool,
    /// The text is ASCII, so byte offsets are columns.
    ascii: bool,
}

impl Origin {
    fn span(&self, text: &str, off: usize, len: usize) -> Span {
        if self.exact {
            let count = |r: Option<&str>, n: usize| match r {
                _ if self.ascii => n,
                Some(s) => s.chars().count(),
                None => 0,
            };
            let before = count(text.get(..off), off);
            let len = count(text.get(off..off + len), len);
            Span::new(
                self.file,
                self.line,
                self.col0 + before as u32 + 1,
                len.max(1) as u32,
            )
        } else {
            Span::new(self.file, self.line, self.col0 + 1, 1)
        }
    }

    fn advanced(mut self, text: &str, bytes: usize) -> Origin {
        self.col0 += text.get(..bytes).map(|s| s.chars().count()).unwrap_or(0) as u32;
        self
    }

    fn inexact(mut self) -> Origin {
        self.exact = false;
        self
    }
}

impl std::fmt::Debug for Preprocessor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Preprocessor")
            .field("config_id", &self.config_id)
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct PendingDef {
    name: String,
    lines: Vec<String>,
}

/// Where the lines and braces go, in order (usually a [`crate::tree::TreeBuilder`],
/// possibly on another thread).
pub type ItemSink<'a> = dyn FnMut(Item) + 'a;

/// Turns configuration files into lines of words and braces, handed to a sink as they
/// are produced.
pub struct Preprocessor<'a> {
    sources: &'a mut SourceMap,
    diags: &'a mut Diagnostics,
    config_id: String,
    defs: defs::Defs,
    sink: &'a mut ItemSink<'a>,
    /// Canonical paths of the files being read, innermost last.
    stack: Vec<PathBuf>,
    include_default: include::Checks,
    /// `${_PWD}`: the absolute directory of the file being read.
    pwd: String,
    /// Where relative includes are resolved: the directory of the file being read, as
    /// it was named (so diagnostics show the paths the user wrote).
    dir: PathBuf,
    pending: Option<PendingDef>,
    /// Logical lines left before expansion counts as runaway (`~SEQ` in `~SEQ` ...).
    budget: usize,
    over_budget: bool,
}

/// Default limit on logical lines after expansion; keepalived's own `~SEQ` example
/// (65,024 instances) stays far below it.
pub const DEFAULT_MAX_LINES: usize = 5_000_000;

impl<'a> Preprocessor<'a> {
    /// A preprocessor for config id `config_id` (`@id` lines, `${_INSTANCE}`).
    pub fn new(
        sources: &'a mut SourceMap,
        diags: &'a mut Diagnostics,
        config_id: &str,
        random_seed: u64,
        sink: &'a mut ItemSink<'a>,
    ) -> Self {
        Preprocessor {
            sources,
            diags,
            config_id: config_id.to_string(),
            defs: defs::Defs::new(config_id, random_seed),
            sink,
            stack: Vec::new(),
            include_default: include::Checks::STRICT_DEFAULT,
            pwd: String::new(),
            dir: PathBuf::from("."),
            pending: None,
            budget: DEFAULT_MAX_LINES,
            over_budget: false,
        }
    }

    /// Limits the number of logical lines expansion may produce.
    pub fn with_max_lines(mut self, max: usize) -> Self {
        self.budget = max;
        self
    }

    /// Reads `path` and everything it includes.
    pub fn run(mut self, path: &Path) {
        self.file(path, None);
    }

    /// Reads configuration text that did not come from a file (tests, fuzzing).
    pub fn run_text(mut self, name: &str, text: &str) {
        let id = self.sources.add(PathBuf::from(name), String::new());
        self.pwd = ".".into();
        self.lines(id, text);
        self.sources.set_text(id, text.to_string());
    }

    fn item(&mut self, item: Item) {
        (self.sink)(item);
    }

    fn file(&mut self, path: &Path, included_at: Option<Span>) {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canonical) {
            self.diags.error(
                DiagKind::Include,
                included_at,
                format!("include cycle: '{}' includes itself", path.display()),
            );
            return;
        }
        if self.stack.len() as u32 >= MAX_DEPTH {
            self.diags.error(
                DiagKind::Include,
                included_at,
                format!("includes nested more than {MAX_DEPTH} deep"),
            );
            return;
        }
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                self.diags.error(
                    DiagKind::Include,
                    included_at,
                    format!("cannot read configuration file '{}': {e}", path.display()),
                );
                return;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let good = e.utf8_error().valid_up_to();
                let bytes = e.into_bytes();
                let prefix = String::from_utf8_lossy(&bytes[..good]).into_owned();
                let line = prefix.matches('\n').count() as u32 + 1;
                let col = prefix
                    .rsplit('\n')
                    .next()
                    .map(|l| l.chars().count())
                    .unwrap_or(0) as u32
                    + 1;
                let id = self.sources.add(
                    path.to_path_buf(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                );
                self.diags.error(
                    DiagKind::Syntax,
                    Span::new(id, line, col, 1),
                    "configuration files must be UTF-8; this byte is not",
                );
                return;
            }
        };
        let id = self.sources.add(path.to_path_buf(), String::new());
        let saved_pwd = std::mem::replace(
            &mut self.pwd,
            canonical
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|| ".".into()),
        );
        let saved_dir = std::mem::replace(
            &mut self.dir,
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
        );
        let saved_checks = self.include_default;
        self.stack.push(canonical);
        self.lines(id, &text);
        self.sources.set_text(id, text);
        self.stack.pop();
        self.include_default = saved_checks;
        self.pwd = saved_pwd;
        self.dir = saved_dir;
    }

    fn lines(&mut self, file: FileId, text: &str) {
        // Physical lines joined by a trailing `\` (raw text, so a quote may span them),
        // with the origin of the first.
        let mut join: Option<(String, Origin)> = None;
        for (idx, raw) in physical_lines(text).enumerate() {
            let lineno = idx as u32 + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if self.pending.is_some() {
                self.definition_line(raw);
                continue;
            }
            if join.is_none() && self.simple_line(file, lineno, raw) {
                continue;
            }
            let (joined, origin): (std::borrow::Cow<'_, str>, Origin) = match join.take() {
                Some((mut acc, first)) => {
                    acc.push(' ');
                    acc.push_str(raw.trim_start_matches([' ', '\t']));
                    (acc.into(), first.inexact())
                }
                None => {
                    let lead = raw.len() - raw.trim_start_matches([' ', '\t']).len();
                    let origin = Origin {
                        file,
                        line: lineno,
                        col0: raw[..lead].chars().count() as u32,
                        exact: true,
                        ascii: false,
                    };
                    (raw.into(), origin)
                }
            };
            let d = lexer::decomment(&joined);
            let origin = Origin {
                exact: origin.exact && !d.escapes_removed,
                ..origin
            };
            if d.continued {
                // `$NAME= \` starts a multi-line definition: its lines stay separate.
                if origin.exact {
                    match self.condition(&d.text) {
                        None => continue,
                        Some((_, body)) => {
                            if let Some((name, value)) = defs::parse_definition(body) {
                                self.pending = Some(PendingDef {
                                    name: name.to_string(),
                                    lines: if value.is_empty() {
                                        Vec::new()
                                    } else {
                                        vec![value.to_string()]
                                    },
                                });
                                continue;
                            }
                        }
                    }
                }
                let keep = joined.trim_end_matches([' ', '\t']);
                let keep = keep.strip_suffix('\\').unwrap_or(keep);
                join = Some((keep.to_string(), origin));
                continue;
            }
            if d.unterminated_quote {
                let at = d.text.find('"').unwrap_or(0);
                self.diags.error(
                    DiagKind::Syntax,
                    origin.span(&d.text, at, 1),
                    "unterminated quote: '\"' is never closed on this line",
                );
                continue;
            }
            if !d.text.is_empty() {
                self.logical(&d.text, origin, 0);
            }
        }
        if let Some((joined, origin)) = join {
            let d = lexer::decomment(&joined);
            if !d.text.is_empty() {
                self.logical(&d.text, origin, 0);
            }
        }
        self.finish_definition();
    }

    /// The common line in one pass: ASCII words and braces, nothing to decomment,
    /// substitute, expand or include. Hands over exactly what `decomment`, `logical` and
    /// `emit` would; returns false, having done nothing, for any other line.
    fn simple_line(&mut self, file: FileId, line: u32, raw: &str) -> bool {
        let b = raw.as_bytes();
        if !b.iter().all(|&c| SIMPLE[c as usize]) {
            return false;
        }
        let Some(lead) = b.iter().position(|&c| c != b' ' && c != b'\t') else {
            // Blank: nothing to hand over.
            return true;
        };
        if raw[lead..].starts_with("include") || self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        // ASCII: a byte offset is a column.
        let span = |at: usize, len: usize| Span::new(file, line, at as u32 + 1, len.max(1) as u32);
        let mut keyword: Option<Token> = None;
        let mut args = Args::new();
        // Where the text after the keyword starts and ends, and whether its words are one
        // space apart (then the words say it: `RawArgs`).
        let (mut raw_at, mut raw_end, mut one_space) = (0, 0, true);
        let flush = |this: &mut Self,
                     keyword: &mut Option<Token>,
                     args: &mut Args,
                     (raw_at, raw_end, one_space): (usize, usize, bool)| {
            if let Some(keyword) = keyword.take() {
                this.item(Item::Line(Line {
                    keyword,
                    args: std::mem::take(args),
                    raw: (!one_space).then(|| {
                        Box::new(RawArgs {
                            text: raw[raw_at..raw_end].into(),
                            span: span(raw_at, raw_end - raw_at),
                        })
                    }),
                }));
            }
        };
        let mut i = lead;
        while i < b.len() {
            match b[i] {
                b' ' | b'\t' => i += 1,
                c @ (b'{' | b'}') => {
                    flush(self, &mut keyword, &mut args, (raw_at, raw_end, one_space));
                    let s = span(i, 1);
                    self.item(if c == b'{' {
                        Item::Open(s)
                    } else {
                        Item::Close(s)
                    });
                    i += 1;
                }
                _ => {
                    let at = i;
                    while i < b.len() && !matches!(b[i], b' ' | b'\t' | b'{' | b'}') {
                        i += 1;
                    }
                    let token = Token {
                        text: raw[at..i].into(),
                        span: span(at, i - at),
                    };
                    if keyword.is_none() {
                        keyword = Some(token);
                        (raw_at, raw_end, one_space) = (i, i, true);
                    } else {
                        if args.is_empty() {
                            raw_at = at;
                        } else {
                            one_space &= at == raw_end + 1 && b[raw_end] == b' ';
                        }
                        args.push(token);
                        raw_end = i;
                    }
                }
            }
        }
        flush(self, &mut keyword, &mut args, (raw_at, raw_end, one_space));
        true
    }

    /// A line inside a multi-line `$NAME=` definition.
    fn definition_line(&mut self, raw: &str) {
        // A truly empty line ends the definition (keepalived's rule); a blank or
        // comment-only line is skipped.
        if raw.is_empty() {
            self.finish_definition();
            return;
        }
        let d = lexer::decomment(raw);
        if let Some(p) = self.pending.as_mut()
            && !d.text.is_empty()
        {
            p.lines.push(d.text.into_owned());
        }
        if !d.continued {
            self.finish_definition();
        }
    }

    fn finish_definition(&mut self) {
        if let Some(p) = self.pending.take() {
            self.defs.set_lines(&p.name, p.lines);
        }
    }

    /// Applies an `@id` / `@^id` prefix: `None` drops the line, else the bytes cut and
    /// the rest.
    fn condition<'t>(&self, text: &'t str) -> Option<(usize, &'t str)> {
        let Some(after_at) = text.strip_prefix('@') else {
            return Some((0, text));
        };
        let (negate, id_and_rest) = match after_at.strip_prefix('^') {
            Some(r) => (true, r),
            None => (false, after_at),
        };
        let blank = id_and_rest.find([' ', '\t'])?;
        let id = &id_and_rest[..blank];
        let matches = id == self.config_id;
        if matches == negate {
            return None;
        }
        let rest = id_and_rest[blank..].trim_start_matches([' ', '\t']);
        Some((text.len() - rest.len(), rest))
    }

    fn logical(&mut self, text: &str, origin: Origin, depth: u32) {
        if self.budget == 0 {
            if !self.over_budget {
                self.over_budget = true;
                self.diags.error(
                    DiagKind::Syntax,
                    origin.span(text, 0, text.len()),
                    "the configuration expands to too many lines (runaway ~SEQ/~LST or definitions?)",
                );
            }
            return;
        }
        self.budget -= 1;
        if depth > MAX_DEPTH {
            self.diags.error(
                DiagKind::Syntax,
                origin.span(text, 0, text.len()),
                format!("definitions and sequences nest more than {MAX_DEPTH} deep here"),
            );
            return;
        }
        let Some((cut, body)) = self.condition(text) else {
            return;
        };
        if body.is_empty() {
            return;
        }
        let origin = origin.advanced(text, cut);

        if body.starts_with('$')
            && let Some((name, value)) = defs::parse_definition(body)
        {
            self.defs.set(name, value);
            return;
        }
        if body.starts_with('~') {
            self.repeat(body, origin, depth);
            return;
        }
        if body.contains('$') {
            let cx = defs::Context { pwd: &self.pwd };
            match self.defs.substitute(body, cx) {
                Err(e) => {
                    self.diags.error(
                        DiagKind::Syntax,
                        origin.span(body, 0, body.len()),
                        e.to_string(),
                    );
                    return;
                }
                Ok(defs::Substituted::Unchanged) => {}
                Ok(defs::Substituted::Changed(first, extra)) => {
                    for l in std::iter::once(first).chain(extra) {
                        let d = lexer::decomment(&l);
                        if !d.text.is_empty() {
                            self.logical(&d.text, origin.inexact(), depth + 1);
                        }
                    }
                    return;
                }
            }
        }
        if self.include(body, origin) {
            return;
        }
        self.emit(body, origin);
    }

    fn repeat(&mut self, body: &str, origin: Origin, depth: u32) {
        // Definitions may be used inside the parentheses: ~SEQ(I, 1, $COUNT).
        let mut text = body.to_string();
        if let Some(close) = text.find(')') {
            let head = &text[..=close];
            let cx = defs::Context { pwd: &self.pwd };
            if let Ok(defs::Substituted::Changed(h, _)) = self.defs.substitute(head, cx) {
                text = format!("{h}{}", &text[close + 1..]);
            }
        }
        match seq::parse(&text) {
            None => {
                let word = text.split([' ', '\t', '(']).next().unwrap_or("~");
                self.diags.error(
                    DiagKind::Syntax,
                    origin.span(body, 0, word.len()),
                    format!("unknown directive '{word}': expected ~SEQ, ~SEQx or ~LST"),
                );
            }
            Some(Err(e)) => {
                self.diags
                    .error(DiagKind::Syntax, origin.span(body, 0, 4), e.to_string());
            }
            Some(Ok(rep)) => {
                let rest = rep.rest.to_string();
                if rest.is_empty() {
                    self.diags.warning(
                        DiagKind::Syntax,
                        origin.span(body, 0, 4),
                        "sequence repeats an empty line",
                    );
                }
                for values in rep.values {
                    for (var, val) in rep.vars.iter().zip(values) {
                        self.defs.set(var, &val);
                    }
                    self.logical(&rest, origin.inexact(), depth + 1);
                }
            }
        }
    }

    /// Handles `include` lines; returns whether the line was one.
    fn include(&mut self, body: &str, origin: Origin) -> bool {
        if !body.starts_with("include") {
            return false;
        }
        let Some(blank) = body.find([' ', '\t']) else {
            return false;
        };
        let word = &body[..blank];
        let Some(checks) = include::Checks::for_keyword(word, self.include_default) else {
            return false;
        };
        let pattern = body[blank..].trim_start_matches([' ', '\t']);
        let span = origin.span(body, body.len() - pattern.len(), pattern.len());
        let base = self.dir.clone();
        let (files, problems) = include::resolve(pattern, &base, checks);
        for p in problems {
            self.diags.error(DiagKind::Include, span, p.to_string());
        }
        for f in files {
            self.file(&f, Some(span));
        }
        true
    }

    /// Splits at braces, tokenizes, and hands the pieces over.
    fn emit(&mut self, text: &str, origin: Origin) {
        let owned;
        // 0xEE leads the UTF-8 of both stand-ins: a cheap test before the real one.
        let text = if text.as_bytes().contains(&0xEE) && text.contains([defs::HASH, defs::BANG]) {
            owned = text.replace(defs::HASH, "#").replace(defs::BANG, "!");
            owned.as_str()
        } else {
            text
        };
        let origin = Origin {
            ascii: text.is_ascii(),
            ..origin
        };
        lexer::split_braces_with(text, |piece| self.piece(text, origin, piece));
    }

    /// Hands over one piece of a line: a brace, or a statement's words.
    fn piece(&mut self, text: &str, origin: Origin, piece: Piece<'_>) {
        match piece {
            Piece::Open(at) => self.item(Item::Open(origin.span(text, at, 1))),
            Piece::Close(at) => self.item(Item::Close(origin.span(text, at, 1))),
            Piece::Text(at, t) => {
                let mut keyword: Option<(Token, usize)> = None;
                let mut args = Args::new();
                let lexed = lexer::words_with(t, |w_at, w_len, w_text| {
                    let token = Token {
                        span: origin.span(text, at + w_at, w_len),
                        text: w_text.into(),
                    };
                    match keyword {
                        None => keyword = Some((token, w_at + w_len)),
                        Some(_) => args.push(token),
                    }
                });
                if let Err(e) = lexed {
                    let off = match e {
                        lexer::LexError::UnterminatedQuote { at: o, .. }
                        | lexer::LexError::DanglingEscape { at: o } => o,
                    };
                    self.diags.error(
                        DiagKind::Syntax,
                        origin.span(text, at + off, 1),
                        e.to_string(),
                    );
                    return;
                }
                let Some((keyword, first_end)) = keyword else {
                    return;
                };
                if keyword.text == "include_check" {
                    let ws = args.iter().map(|w| w.text.as_str());
                    if let Ok(c) = include::Checks::default().apply_option_words(ws) {
                        self.include_default = c;
                    }
                }
                let raw = t[first_end..].trim_start_matches([' ', '\t']);
                let raw_at = at + (t.len() - raw.len());
                let raw = RawArgs::unless_derived(
                    &keyword,
                    &args,
                    raw,
                    origin.span(text, raw_at, raw.len()),
                );
                self.item(Item::Line(Line { keyword, args, raw }));
            }
        }
    }
}

/// Bytes a line may hold to take [`Preprocessor::simple_line`]: printable ASCII and
/// blanks, but none the preprocessor or the lexer treats specially (quotes, escapes,
/// comments, definitions, sequences, conditions).
static SIMPLE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0x21;
    while c < 0x7f {
        t[c] = !matches!(c as u8, b'"' | b'\\' | b'#' | b'!' | b'$' | b'~' | b'@');
        c += 1;
    }
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t
};

/// The text between `\n`s (like `str::split('\n')`, cheaper on short lines).
fn physical_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|b| b == b'\n') {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// The default config id: the host name up to its first dot, as keepalived computes it.
pub fn default_config_id() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    name.split('.').next().unwrap_or("localhost").to_string()
}

#[cfg(test)]
mod tests {
    use crate::{LoadOptions, load_str};

    fn items(text: &str) -> (Vec<crate::tree::Item>, usize) {
        let mut sources = crate::SourceMap::new();
        let mut diags = crate::Diagnostics::new();
        let mut out = Vec::new();
        let mut sink = |i| out.push(i);
        super::Preprocessor::new(&mut sources, &mut diags, "test", 1, &mut sink)
            .run_text("k.conf", text);
        (out, diags.iter().count())
    }

    #[test]
    fn the_text_after_a_keyword_is_kept_as_written() {
        let text = "notify_up /bin/x -a\nnotify_up  /bin/x\t-a\nnotify_up \"/bin/x -a\" root\n\
                    notify_deleted\nx a # c\ny\ta  b";
        let (items, _) = items(text);
        let mut d = crate::Diagnostics::new();
        let nodes = crate::tree::build(items, &mut d);
        let raw: Vec<(String, u32, u32)> = nodes
            .iter()
            .map(|n| {
                (
                    n.raw_args().into_owned(),
                    n.raw_span().col,
                    n.raw_span().len,
                )
            })
            .collect();
        let want = [
            ("/bin/x -a", 11, 9),
            ("/bin/x\t-a", 12, 9),
            ("\"/bin/x -a\" root", 11, 16),
            ("", 15, 1),
            ("a", 3, 1),
            ("a  b", 3, 4),
        ];
        let want: Vec<(String, u32, u32)> = want
            .iter()
            .map(|(t, c, l)| (t.to_string(), *c, *l))
            .collect();
        assert_eq!(raw, want);
    }

    #[test]
    fn plain_lines_read_as_the_general_path_reads_them() {
        // A comment sends a line down the general path (decomment, logical, emit); the
        // same line without it takes the one-pass path. Both must hand over the same.
        let lines = [
            "virtual_server 10.0.0.1 80 {",
            "\t  real_server   172.16.0.1\t80{ weight 1 }",
            "    TCP_CHECK {",
            "        connect_timeout 5",
            "}}",
            "a{b}c d  {  e\tf }",
            "notify_up /bin/x -a  --b=c",
            "misc_path",
            "    ",
            "",
            "} {",
        ];
        let plain = lines.join("\n");
        let commented: Vec<String> = lines.iter().map(|l| format!("{l} # c")).collect();
        let (a, da) = items(&plain);
        let (b, db) = items(&commented.join("\n"));
        assert!(!a.is_empty());
        assert_eq!(a, b);
        assert_eq!((da, db), (0, 0));
    }

    #[test]
    fn runaway_expansion_is_an_error_not_a_hang() {
        let opts = LoadOptions {
            max_lines: 1000,
            ..LoadOptions::for_tests()
        };
        let text = "~SEQ(A, 1, 1000) ~SEQ(B, 1, 1000) ~SEQ(C, 1, 1000) x\n";
        let err = load_str("k.conf", text, &opts).unwrap_err();
        assert!(
            err.render().contains("expands to too many lines"),
            "{}",
            err.render()
        );
    }

    #[test]
    fn a_device_cannot_be_included() {
        let err = load_str(
            "k.conf",
            "include_check -readable\ninclude /dev/zero\n",
            &LoadOptions::for_tests(),
        )
        .unwrap_err();
        assert!(
            err.render().contains("not a regular file"),
            "{}",
            err.render()
        );
    }
}
