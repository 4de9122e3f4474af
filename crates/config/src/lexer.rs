//! The words of one line, as keepalived reads them (`lib/parser.c`).
//!
//! * `decomment`: `#` and `!` start a comment anywhere outside double quotes; `\#` and
//!   `\!` outside quotes are literal; a trailing `\` marks a continued line.
//! * `split_braces`: a line is split at every `{` and `}` outside double quotes, so
//!   `virtual_ipaddress { 10.0.0.1 }` reads as four pieces.
//! * `tokenize`: words are separated by blanks; `"..."` is one word without its quotes.
//! * `script_words`: script keywords (`script`, `notify_*`, `misc_path`, ...) re-read their
//!   text with single and double quotes and shell-like escapes.
//!
//! Offsets are byte offsets into the text handed in; callers turn them into columns.

use nom::branch::alt;
use nom::bytes::complete::take_while1;
use nom::character::complete::{char, multispace0};
use nom::combinator::{map, opt};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

/// A line with its comment removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decommented<'a> {
    /// The text without leading/trailing blanks and without the comment; borrowed from
    /// the line unless an escape had to be removed.
    pub text: std::borrow::Cow<'a, str>,
    /// Bytes of leading blanks removed (to map offsets back to the physical line).
    pub lead: usize,
    /// The line ended with a `\` (outside a comment): it continues on the next line.
    pub continued: bool,
    /// A `\#` or `\!` escape was removed, so offsets after it are shifted by one.
    pub escapes_removed: bool,
    /// A double quote was opened and never closed.
    pub unterminated_quote: bool,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Removes the comment and surrounding blanks from a physical line.
pub fn decomment(line: &str) -> Decommented<'_> {
    let trimmed = line.trim_start_matches(is_blank);
    let lead = line.len() - trimmed.len();
    // First pass over bytes (every character that matters is ASCII, and no byte of a
    // multi-byte UTF-8 character is): where the text ends, and whether an escape must
    // be removed, which is rare and needs a copy.
    let b = trimmed.as_bytes();
    let mut quote = false;
    let mut end = b.len();
    let mut continued = false;
    let mut escape = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => quote = !quote,
            b'\\' => {
                if i + 1 == b.len() {
                    continued = true;
                    end = i;
                    break;
                }
                if !quote && (b[i + 1] == b'#' || b[i + 1] == b'!') {
                    escape = true;
                }
                i += 2;
                continue;
            }
            b'#' | b'!' if !quote => {
                end = i;
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let kept = trimmed[..end].trim_end_matches(is_blank);
    let text = if escape {
        let mut out = String::with_capacity(kept.len());
        let mut chars = kept.chars().peekable();
        let mut q = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    q = !q;
                    out.push(c);
                }
                '\\' => match chars.next() {
                    Some(n @ ('#' | '!')) if !q => out.push(n),
                    Some(n) => {
                        out.push('\\');
                        out.push(n);
                    }
                    None => out.push('\\'),
                },
                _ => out.push(c),
            }
        }
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(kept)
    };
    Decommented {
        text,
        lead,
        continued,
        escapes_removed: escape,
        unterminated_quote: quote,
    }
}

/// One piece of a line after splitting at braces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text between braces (trimmed, never empty), with its byte offset.
    Text(usize, &'a str),
    /// `{` at a byte offset.
    Open(usize),
    /// `}` at a byte offset.
    Close(usize),
}

/// Splits a decommented line at every `{` and `}` outside double quotes.
pub fn split_braces(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::with_capacity(2);
    split_braces_with(text, |p| pieces.push(p));
    pieces
}

/// Like [`split_braces`], handing each piece to `f` in order (no vector per line).
pub fn split_braces_with<'t>(text: &'t str, mut f: impl FnMut(Piece<'t>)) {
    let mut start = 0;
    let mut quote = false;
    fn push_text<'t>(f: &mut impl FnMut(Piece<'t>), text: &'t str, from: usize, to: usize) {
        let seg = &text[from..to];
        let t = seg.trim_start_matches(is_blank);
        let off = from + (seg.len() - t.len());
        let t = t.trim_end_matches(is_blank);
        if !t.is_empty() {
            f(Piece::Text(off, t));
        }
    }
    // Bytes, not chars: the three that matter are ASCII and never part of a multi-byte
    // character, so every split point is a character boundary.
    for (i, &b) in text.as_bytes().iter().enumerate() {
        match b {
            b'"' => quote = !quote,
            b'{' | b'}' if !quote => {
                push_text(&mut f, text, start, i);
                f(if b == b'{' {
                    Piece::Open(i)
                } else {
                    Piece::Close(i)
                });
                start = i + 1;
            }
            _ => {}
        }
    }
    push_text(&mut f, text, start, text.len());
}

/// A lexing failure, at a byte offset of the text handed in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    /// A quote opened at this offset is never closed.
    #[error("missing terminating {quote} for the string starting here")]
    UnterminatedQuote {
        /// Byte offset of the opening quote.
        at: usize,
        /// The quote character.
        quote: char,
    },
    /// A backslash at the very end of a script string.
    #[error("'\\' at the end of the text escapes nothing")]
    DanglingEscape {
        /// Byte offset of the backslash.
        at: usize,
    },
}

/// A word of a line and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Byte offset of the word's first character (the quote, for a quoted word).
    pub at: usize,
    /// Byte length of the word as written (quotes included).
    pub len: usize,
    /// The word's value (quotes removed).
    pub text: compact_str::CompactString,
}

/// Splits a piece of text into words, the way keepalived's `alloc_strvec` does.
pub fn tokenize(text: &str) -> Result<Vec<Word>, LexError> {
    tokenize_with(text, |at, len, text| Word { at, len, text }).map(|w| w.into_vec())
}

/// Like [`tokenize`], building each word with `f(offset, length as written, value)`
/// (saves a second vector on the hot path).
pub fn tokenize_with<T>(
    text: &str,
    mut f: impl FnMut(usize, usize, compact_str::CompactString) -> T,
) -> Result<smallvec::SmallVec<[T; 3]>, LexError> {
    let mut words = smallvec::SmallVec::new();
    words_with(text, |at, len, value| words.push(f(at, len, value.into())))?;
    Ok(words)
}

/// The words of `text`, each handed to `f(offset, length as written, value)` as a slice
/// of `text`: blanks (space, tab) separate words; `"..."` is one word without its quotes,
/// and a quote also ends a bare word (`ab"c d"` is `ab`, `c d`).
pub fn words_with(text: &str, mut f: impl FnMut(usize, usize, &str)) -> Result<(), LexError> {
    // The grammar runs on bytes: blanks and quotes are ASCII, so every offset it finds is
    // a character boundary of the text, and no UTF-8 decoding is needed on this hot path.
    let bytes = text.as_bytes();
    let mut rest = bytes;
    loop {
        rest = blanks(rest);
        if rest.is_empty() {
            return Ok(());
        }
        let at = bytes.len() - rest.len();
        let Ok((r, w)) = word(rest) else {
            return Err(LexError::UnterminatedQuote { at, quote: '"' });
        };
        let end = bytes.len() - r.len();
        // A quoted word's value sits between its quotes; a bare word is itself.
        let from = if bytes[at] == b'"' { at + 1 } else { at };
        f(at, end - at, &text[from..from + w.len()]);
        rest = r;
    }
}

fn blanks(i: &[u8]) -> &[u8] {
    let r: IResult<&[u8], &[u8]> =
        nom::bytes::complete::take_while(|b| b == b' ' || b == b'\t').parse(i);
    r.map_or(i, |(rest, _)| rest)
}

/// One word: `"..."` (its value without the quotes; a quote also ends a bare word) or a
/// run of anything but blanks and quotes.
fn word(i: &[u8]) -> IResult<&[u8], &[u8]> {
    alt((
        delimited(
            char('"'),
            nom::bytes::complete::take_till(|b| b == b'"'),
            char('"'),
        ),
        take_while1(|b| b != b' ' && b != b'\t' && b != b'"'),
    ))
    .parse(i)
}

/// Splits a script command line into arguments: blanks separate words, `'...'` and
/// `"..."` group (and can be glued to other text: `a'b c'` is `ab c`), and shell escapes
/// (`\n`, `\t`, `\xHH`, `\nnn`, `\cC`, `\C`) are honoured everywhere.
pub fn script_words(text: &str) -> Result<Vec<String>, LexError> {
    let mut words = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(is_blank);
        if rest.is_empty() {
            return Ok(words);
        }
        let mut word = Vec::<u8>::new();
        let mut quote: Option<(char, usize)> = None;
        let mut iter = rest.char_indices();
        let mut consumed = rest.len();
        while let Some((i, c)) = iter.next() {
            match (quote, c) {
                (_, '\\') => {
                    let tail = &rest[i + 1..];
                    if tail.is_empty() {
                        return Err(LexError::DanglingEscape {
                            at: text.len() - rest.len() + i,
                        });
                    }
                    let (byte, used) = escape(tail);
                    word.extend_from_slice(&byte);
                    for _ in 0..used {
                        iter.next();
                    }
                }
                (Some((q, _)), c) if c == q => quote = None,
                (Some(_), c) => push_char(&mut word, c),
                (None, '"' | '\'') => quote = Some((c, text.len() - rest.len() + i)),
                (None, c) if is_blank(c) => {
                    consumed = i;
                    break;
                }
                (None, c) => push_char(&mut word, c),
            }
        }
        if let Some((q, at)) = quote {
            return Err(LexError::UnterminatedQuote { at, quote: q });
        }
        words.push(String::from_utf8_lossy(&word).into_owned());
        rest = &rest[consumed..];
    }
}

fn push_char(word: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    word.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Decodes the escape after a backslash: returns the bytes produced and how many
/// characters of `tail` were used.
fn escape(tail: &str) -> (Vec<u8>, usize) {
    let mut chars = tail.chars();
    let Some(c) = chars.next() else {
        return (Vec::new(), 0);
    };
    match c {
        'x' => {
            let hex: String = tail[1..]
                .chars()
                .take_while(|c| c.is_ascii_hexdigit())
                .collect();
            if hex.is_empty() {
                return (vec![b'x'], 1);
            }
            // keepalived keeps shifting into one byte: only the last two digits count.
            let v = hex.bytes().fold(0u8, |acc, d| (acc << 4) | hex_digit(d));
            (vec![v], 1 + hex.len())
        }
        'c' => match chars.next() {
            Some(n) if n.is_ascii() => (vec![(n as u8) & 0x1f], 2),
            _ => (vec![b'c'], 1),
        },
        '0'..='7' => {
            let oct: String = tail
                .chars()
                .take(3)
                .take_while(|c| ('0'..='7').contains(c))
                .collect();
            let v = oct
                .bytes()
                .fold(0u8, |acc, d| acc.wrapping_shl(3).wrapping_add(d - b'0'));
            (vec![v], oct.len())
        }
        'a' => (vec![0x07], 1),
        'b' => (vec![0x08], 1),
        'E' => (vec![0x1b], 1),
        'f' => (vec![0x0c], 1),
        'n' => (vec![b'\n'], 1),
        'r' => (vec![b'\r'], 1),
        't' => (vec![b'\t'], 1),
        'v' => (vec![0x0b], 1),
        other => {
            let mut v = Vec::new();
            push_char(&mut v, other);
            (v, 1)
        }
    }
}

fn hex_digit(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        b'A'..=b'F' => d - b'A' + 10,
        _ => 0,
    }
}

/// Parses a comma-separated, parenthesised argument list such as `(I, 0, 3)` or
/// `({A, B}, {1, 2}, {3, 4})`, returning the items and the rest of the line.
/// Items in braces are kept as groups.
pub fn paren_list(i: &str) -> IResult<&str, Vec<ListItem<'_>>> {
    delimited(
        char('('),
        nom::multi::separated_list1(preceded(multispace0, char(',')), list_item),
        preceded(multispace0, char(')')),
    )
    .parse(i)
}

fn list_item(i: &str) -> IResult<&str, ListItem<'_>> {
    preceded(
        multispace0,
        alt((map(group, ListItem::Group), map(plain_item, ListItem::One))),
    )
    .parse(i)
}

fn group(i: &str) -> IResult<&str, Vec<&str>> {
    delimited(
        char('{'),
        nom::multi::separated_list1(
            preceded(multispace0, char(',')),
            preceded(
                multispace0,
                take_while1(|c: char| !matches!(c, ',' | '}' | ' ' | '\t')),
            ),
        ),
        preceded(multispace0, char('}')),
    )
    .parse(i)
}

fn plain_item(i: &str) -> IResult<&str, &str> {
    map(
        opt(take_while1(|c: char| !matches!(c, ',' | ')' | '{' | '}'))),
        |s: Option<&str>| s.unwrap_or("").trim_end_matches(is_blank),
    )
    .parse(i)
}

/// One item of a parenthesised list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListItem<'a> {
    /// A plain item (may be empty).
    One(&'a str),
    /// `{a, b, ...}`.
    Group(Vec<&'a str>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_anywhere_outside_quotes() {
        let d = decomment("  virtual_router_id 33#comment");
        assert_eq!(d.text, "virtual_router_id 33");
        assert_eq!(d.lead, 2);
        assert_eq!(decomment("a \"b # c\" d ! e").text, "a \"b # c\" d");
        assert_eq!(decomment("! whole line").text, "");
        assert_eq!(decomment("label eth0:0#别名为eth0:0").text, "label eth0:0");
    }

    #[test]
    fn escaped_comment_characters_are_literal() {
        let d = decomment(r"auth_pass ab\#cd\!e # real comment");
        assert_eq!(d.text, "auth_pass ab#cd!e");
        assert!(d.escapes_removed);
        // Inside quotes the escape is kept for the script reader.
        assert_eq!(decomment(r#"x "a\#b""#).text, r#"x "a\#b""#);
    }

    #[test]
    fn trailing_backslash_continues() {
        let d = decomment(r"$DEF= \");
        assert!(d.continued);
        assert_eq!(d.text, "$DEF=");
        assert!(!decomment(r"a \\").continued);
        assert!(decomment("a \"b").unterminated_quote);
    }

    #[test]
    fn braces_split_lines() {
        assert_eq!(
            split_braces("virtual_ipaddress { 10.0.0.1 }"),
            vec![
                Piece::Text(0, "virtual_ipaddress"),
                Piece::Open(18),
                Piece::Text(20, "10.0.0.1"),
                Piece::Close(29)
            ]
        );
        assert_eq!(
            split_braces("misc_path \"/bin/x {a}\" {"),
            vec![Piece::Text(0, "misc_path \"/bin/x {a}\""), Piece::Open(23)]
        );
        assert_eq!(
            split_braces("VI_2{"),
            vec![Piece::Text(0, "VI_2"), Piece::Open(4)]
        );
    }

    #[test]
    fn words_and_double_quotes() {
        let w = tokenize("notify \"/a b/c d\" root").unwrap();
        let t: Vec<_> = w.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(t, ["notify", "/a b/c d", "root"]);
        assert_eq!((w[1].at, w[1].len), (7, 10));
        // keepalived splits a bare word at a quote
        let t: Vec<_> = tokenize("ab\"c d\"")
            .unwrap()
            .into_iter()
            .map(|w| w.text)
            .collect();
        assert_eq!(t, ["ab", "c d"]);
        assert_eq!(tokenize("\"\"").unwrap()[0].text, "");
        assert_eq!(
            tokenize("a \"b"),
            Err(LexError::UnterminatedQuote { at: 2, quote: '"' })
        );
    }

    #[test]
    fn script_words_quote_and_escape_like_a_shell() {
        assert_eq!(
            script_words(r#"/bin/check 'arg with space' "x y" a'b c'd"#).unwrap(),
            ["/bin/check", "arg with space", "x y", "ab cd"]
        );
        assert_eq!(
            script_words(r"a\tb \x41\101 \cA").unwrap(),
            ["a\tb", "AA", "\u{1}"]
        );
        assert_eq!(script_words(r#"'it\'s'"#).unwrap(), ["it's"]);
        assert!(matches!(
            script_words("'open"),
            Err(LexError::UnterminatedQuote { .. })
        ));
        assert!(matches!(
            script_words("x\\"),
            Err(LexError::DanglingEscape { .. })
        ));
    }

    #[test]
    fn paren_lists() {
        let (rest, items) = paren_list("(I, 0, 3) ip 10.0.${I}.1").unwrap();
        assert_eq!(rest, " ip 10.0.${I}.1");
        assert_eq!(
            items,
            vec![ListItem::One("I"), ListItem::One("0"), ListItem::One("3")]
        );
        let (_, items) = paren_list("({IP, IP1}, {10,1},{20,4}) x").unwrap();
        assert_eq!(
            items,
            vec![
                ListItem::Group(vec!["IP", "IP1"]),
                ListItem::Group(vec!["10", "1"]),
                ListItem::Group(vec!["20", "4"])
            ]
        );
    }
}
