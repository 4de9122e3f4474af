//! `$NAME=value` definitions and their substitution (`${NAME}`, `$NAME`), with keepalived's
//! predefined names `${_PWD}`, `${_INSTANCE}`, `${_RANDOM [min [max]]}`, `${_HASH}`,
//! `${_BANG}` and (from keepalived 2.3) `${_ENV NAME}`.
//!
//! Substitution is lazy and recursive, as in keepalived: a value is expanded when used,
//! and the text it produced is scanned again. An undefined `$NAME` stays as written, so
//! `$HOME` in a script line survives.

use std::collections::HashMap;

use nom::bytes::complete::{tag, take_while};
use nom::character::complete::satisfy;
use nom::combinator::recognize;
use nom::sequence::pair;
use nom::{IResult, Parser};

/// What a name stands for.
#[derive(Debug, Clone)]
enum Value {
    /// One line of text.
    Line(String),
    /// Several lines (a definition continued with `\`).
    Lines(Vec<String>),
    /// A predefined name whose text is computed at each use.
    Builtin(Builtin),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    Pwd,
    Instance,
    Random,
    Env,
}

/// The definitions in force at a point of the configuration.
#[derive(Debug, Clone)]
pub struct Defs {
    map: HashMap<String, Value>,
    instance: String,
    rng: u64,
}

/// Context a predefined name needs.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Directory of the file being read, for `${_PWD}`.
    pub pwd: &'a str,
}

/// Result of scanning one line for references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Substituted {
    /// Nothing was replaced.
    Unchanged,
    /// The line after replacement, plus the further lines a multi-line definition
    /// produced (processed after it, in order).
    Changed(String, Vec<String>),
}

/// Substitution went round in circles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("definition of ${name} expands without end (it refers to itself)")]
pub struct Recursive {
    /// The name whose expansion looped.
    pub name: String,
}

/// What `${_HASH}` stands for until the words are cut (a private-use character).
pub const HASH: char = '\u{E000}';
/// What `${_BANG}` stands for until the words are cut.
pub const BANG: char = '\u{E001}';

/// More replacements than this on one line means a definition refers to itself.
const MAX_REPLACEMENTS: usize = 10_000;
/// A line longer than this after substitution is a runaway expansion.
const MAX_LINE: usize = 1 << 20;

fn name(i: &str) -> IResult<&str, &str> {
    recognize(pair(
        satisfy(|c| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(i)
}

/// Parses a definition line `$NAME=value` (blanks allowed before `=`), returning the
/// name and the value text.
pub fn parse_definition(line: &str) -> Option<(&str, &str)> {
    let (rest, (_, n, _, _)) = (
        tag::<_, _, nom::error::Error<&str>>("$"),
        name,
        take_while(|c| c == ' ' || c == '\t'),
        tag("="),
    )
        .parse(line)
        .ok()?;
    Some((n, rest.trim_start_matches([' ', '\t'])))
}

impl Defs {
    /// The predefined names, for config id `instance`; `seed` drives `${_RANDOM}`.
    pub fn new(instance: &str, seed: u64) -> Self {
        let mut map = HashMap::new();
        map.insert("_PWD".to_string(), Value::Builtin(Builtin::Pwd));
        map.insert("_INSTANCE".to_string(), Value::Builtin(Builtin::Instance));
        map.insert("_RANDOM".to_string(), Value::Builtin(Builtin::Random));
        map.insert("_ENV".to_string(), Value::Builtin(Builtin::Env));
        // Stand-ins that survive the comment stripping done after each substitution;
        // `emit` turns them into '#' and '!' (keepalived 2.2.7 strips them instead,
        // contrary to its manual).
        map.insert("_HASH".to_string(), Value::Line(HASH.to_string()));
        map.insert("_BANG".to_string(), Value::Line(BANG.to_string()));
        Defs {
            map,
            instance: instance.to_string(),
            rng: seed | 1,
        }
    }

    /// Defines (or redefines) a one-line name.
    pub fn set(&mut self, name: &str, value: &str) {
        self.map
            .insert(name.to_string(), Value::Line(value.to_string()));
    }

    /// Defines a multi-line name. A single line is stored as a one-line definition.
    pub fn set_lines(&mut self, name: &str, mut lines: Vec<String>) {
        let v = if lines.len() == 1 {
            Value::Line(lines.remove(0))
        } else {
            Value::Lines(lines)
        };
        self.map.insert(name.to_string(), v);
    }

    fn next_random(&mut self, min: u64, max: u64) -> u64 {
        // xorshift64*: deterministic for a given seed, good enough for spreading values.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        if max <= min {
            min
        } else {
            min + r % (max - min + 1)
        }
    }

    fn builtin(&mut self, b: Builtin, params: &[&str], cx: Context<'_>) -> String {
        match b {
            Builtin::Pwd => cx.pwd.to_string(),
            Builtin::Instance => self.instance.clone(),
            Builtin::Random => {
                let min = params.first().and_then(|p| p.parse().ok()).unwrap_or(0);
                let max = params.get(1).and_then(|p| p.parse().ok()).unwrap_or(32767);
                self.next_random(min, max).to_string()
            }
            Builtin::Env => params
                .first()
                .and_then(|v| std::env::var(v).ok())
                .unwrap_or_default(),
        }
    }

    /// Replaces every reference in `line`. A multi-line definition is only expanded when
    /// its reference ends the line (keepalived's rule).
    pub fn substitute(&mut self, line: &str, cx: Context<'_>) -> Result<Substituted, Recursive> {
        let mut buf = line.to_string();
        let mut extra: Vec<String> = Vec::new();
        let mut pos = 0;
        let mut replaced = 0usize;
        while let Some(rel) = buf[pos..].find('$') {
            let at = pos + rel;
            let Some(r) = self.reference(&buf[at..]) else {
                pos = at + 1;
                continue;
            };
            replaced += 1;
            if replaced > MAX_REPLACEMENTS || buf.len() > MAX_LINE {
                return Err(Recursive {
                    name: r.name.to_string(),
                });
            }
            let name = r.name.to_string();
            let params: Vec<String> = r.params.iter().map(|s| s.to_string()).collect();
            let end = at + r.len;
            let at_line_end = buf[end..].is_empty();
            let value = match self.map.get(&name).cloned() {
                Some(Value::Line(v)) => v,
                Some(Value::Lines(lines)) if at_line_end => {
                    let mut it = lines.into_iter();
                    let first = it.next().unwrap_or_default();
                    // The lines already queued come after the new definition's lines.
                    let mut more: Vec<String> = it.collect();
                    more.append(&mut extra);
                    extra = more;
                    first
                }
                Some(Value::Lines(_)) | None => {
                    pos = at + 1;
                    continue;
                }
                Some(Value::Builtin(b)) => {
                    let p: Vec<&str> = params.iter().map(String::as_str).collect();
                    self.builtin(b, &p, cx)
                }
            };
            let stop = value.trim_start_matches([' ', '\t']).starts_with('~');
            buf.replace_range(at..end, &value);
            // Re-scan from the same place: the value may hold further references.
            pos = at;
            if stop {
                // A value that starts a ~SEQ/~LST is expanded by the sequence first.
                break;
            }
        }
        if replaced == 0 {
            Ok(Substituted::Unchanged)
        } else {
            Ok(Substituted::Changed(buf, extra))
        }
    }

    /// Recognises a reference at the start of `s` (which begins with `$`).
    fn reference<'s>(&self, s: &'s str) -> Option<Reference<'s>> {
        let body = &s[1..];
        if let Some(inner) = body.strip_prefix('{') {
            let (rest, n) = name(inner).ok()?;
            let close = rest.find('}')?;
            let params_text = &rest[..close];
            let params: Vec<&str> = params_text.split_whitespace().collect();
            let v = self.map.get(n)?;
            if !params.is_empty() {
                // Only predefined names take parameters; user ones would be text.
                match v {
                    Value::Builtin(Builtin::Random) => {
                        if !params.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
                            return None;
                        }
                    }
                    Value::Builtin(Builtin::Env) => {}
                    _ => return None,
                }
                if !params_text.starts_with([' ', '\t']) {
                    return None;
                }
            }
            let len = 1 + 1 + n.len() + close + 1;
            return Some(Reference {
                name: n,
                params,
                len,
            });
        }
        let (rest, n) = name(body).ok()?;
        if !(rest.is_empty() || rest.starts_with([' ', '\t', ',', ')'])) {
            return None;
        }
        self.map.get(n)?;
        Some(Reference {
            name: n,
            params: Vec::new(),
            len: 1 + n.len(),
        })
    }
}

struct Reference<'s> {
    name: &'s str,
    params: Vec<&'s str>,
    len: usize,
}

/// Whether `s` begins with a name (used by `~SEQ` variable names).
pub fn is_name(s: &str) -> bool {
    matches!(name(s), Ok(("", _)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CX: Context<'static> = Context {
        pwd: "/etc/keepalived",
    };

    fn sub(d: &mut Defs, s: &str) -> String {
        match d.substitute(s, CX).unwrap() {
            Substituted::Unchanged => s.to_string(),
            Substituted::Changed(l, extra) => {
                let mut v = vec![l];
                v.extend(extra);
                v.join("\n")
            }
        }
    }

    #[test]
    fn definitions_are_recognised() {
        assert_eq!(parse_definition("$PRIO=100"), Some(("PRIO", "100")));
        assert_eq!(parse_definition("$A_1 = x y"), Some(("A_1", "x y")));
        assert_eq!(parse_definition("$1=x"), None);
        assert_eq!(parse_definition("priority $PRIO"), None);
    }

    #[test]
    fn substitution_is_lazy_and_recursive() {
        let mut d = Defs::new("node1", 7);
        d.set("ADDRESS_BASE", "10.2.${ADDRESS_BASE_SUB}");
        d.set("ADDRESS_BASE_SUB", "0");
        assert_eq!(sub(&mut d, "${ADDRESS_BASE}.100/32"), "10.2.0.100/32");
        d.set("ADDRESS_BASE_SUB", "10");
        assert_eq!(sub(&mut d, "${ADDRESS_BASE}.100/32"), "10.2.10.100/32");
    }

    #[test]
    fn bare_references_need_a_separator_after_them() {
        let mut d = Defs::new("n", 1);
        d.set("P", "240");
        assert_eq!(sub(&mut d, "priority $P"), "priority 240");
        assert_eq!(sub(&mut d, "x $P,y"), "x 240,y");
        assert_eq!(sub(&mut d, "x $Pz"), "x $Pz");
        assert_eq!(sub(&mut d, "echo $HOME"), "echo $HOME");
        assert_eq!(
            d.substitute("echo $HOME", CX).unwrap(),
            Substituted::Unchanged
        );
    }

    #[test]
    fn predefined_names() {
        let mut d = Defs::new("node1", 3);
        assert_eq!(
            sub(&mut d, "${_PWD}/x ${_INSTANCE}"),
            "/etc/keepalived/x node1"
        );
        assert_eq!(sub(&mut d, "a${_HASH}b${_BANG}"), format!("a{HASH}b{BANG}"));
        let r: u64 = sub(&mut d, "${_RANDOM 5 9}").parse().unwrap();
        assert!((5..=9).contains(&r));
    }

    #[test]
    fn multi_line_definitions_expand_only_at_line_end() {
        let mut d = Defs::new("n", 1);
        d.set_lines("BLOCK", vec!["a {".into(), "b".into(), "}".into()]);
        assert_eq!(sub(&mut d, "$BLOCK"), "a {\nb\n}");
        assert_eq!(sub(&mut d, "$BLOCK x"), "$BLOCK x");
    }

    #[test]
    fn self_reference_is_an_error_not_a_hang() {
        let mut d = Defs::new("n", 1);
        d.set("A", "x$A");
        assert_eq!(d.substitute("$A", CX), Err(Recursive { name: "A".into() }));
    }
}
