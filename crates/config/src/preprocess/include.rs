//! `include PATTERN` and its variants: csh-style brace expansion (`{a,b}`, nested), then
//! a glob per alternative, relative to the directory of the including file.
//!
//! keepalived's plain `include` silently ignores a file that is not there; we do not:
//! a pattern without wildcards must name a readable file (keepalived's `includem`
//! behaviour). A wildcard that matches nothing is fine, so `include conf.d/*.conf` on an
//! empty directory still works. The variants add keepalived's checks:
//! `includer` (readable), `includem` (match), `includew` (wildcard match),
//! `includeb` (brace match), `includea` (all).

use std::path::{Path, PathBuf};

/// Which checks an include applies (keepalived's `include_check` options).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checks {
    /// Every match must be a readable regular file.
    pub readable: bool,
    /// A pattern without wildcards must match.
    pub matched: bool,
    /// A pattern with wildcards must match at least one file.
    pub wildcard_match: bool,
    /// Every alternative of a brace expansion must match.
    pub brace_match: bool,
}

impl Checks {
    /// All checks (`includea`).
    pub const ALL: Checks = Checks {
        readable: true,
        matched: true,
        wildcard_match: true,
        brace_match: true,
    };

    /// Our default for plain `include`: the file must exist and be readable.
    pub const STRICT_DEFAULT: Checks = Checks {
        readable: true,
        matched: true,
        wildcard_match: false,
        brace_match: false,
    };

    /// The checks a keyword (`include`, `includer`, ...) asks for, or `None` if the word
    /// is not an include keyword.
    pub fn for_keyword(word: &str, default: Checks) -> Option<Checks> {
        Some(match word {
            "include" => default,
            "includer" => Checks {
                readable: true,
                ..default
            },
            "includem" => Checks {
                readable: true,
                matched: true,
                ..default
            },
            "includew" => Checks {
                readable: true,
                matched: true,
                wildcard_match: true,
                ..default
            },
            "includeb" => Checks {
                readable: true,
                brace_match: true,
                ..default
            },
            "includea" => Checks::ALL,
            _ => return None,
        })
    }

    /// Applies an `include_check` argument list (`readable`, `+match`, `-wildcard_match`,
    /// ...). No argument means all checks. Returns the unknown word on error.
    pub fn apply_option_words<'w>(
        mut self,
        words: impl IntoIterator<Item = &'w str>,
    ) -> Result<Checks, String> {
        let mut any = false;
        for w in words {
            any = true;
            let (on, name) = match w.strip_prefix('-') {
                Some(n) => (false, n),
                None => (true, w.strip_prefix('+').unwrap_or(w)),
            };
            match name {
                "readable" => self.readable = on,
                "match" => self.matched = on,
                "wildcard_match" => self.wildcard_match = on,
                "brace_match" => self.brace_match = on,
                _ => return Err(w.to_string()),
            }
            // match, wildcard_match and brace_match include the readable check.
            if on && name != "readable" {
                self.readable = true;
            }
        }
        Ok(if any { self } else { Checks::ALL })
    }
}

/// Expands csh-style braces: `a{b,c{d,e}}f` → `abf`, `acdf`, `acef`. Unbalanced braces
/// are left as they are.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let bytes = pattern.as_bytes();
    let Some(open) = bytes.iter().position(|&b| b == b'{') else {
        return vec![pattern.to_string()];
    };
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let prefix = &pattern[..open];
    let suffix = &pattern[close + 1..];
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt = &pattern[w[0] + 1..w[1]];
        for tail in expand_braces(&format!("{alt}{suffix}")) {
            out.push(format!("{prefix}{tail}"));
        }
    }
    out
}

/// Whether a pattern uses glob wildcards.
pub fn has_wildcard(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// A problem with one include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncludeProblem {
    /// A pattern without wildcards names no file.
    Missing(String),
    /// A wildcard pattern matches nothing (with `wildcard_match`).
    NoMatch(String),
    /// A brace alternative matches nothing (with `brace_match`).
    BraceNoMatch(String),
    /// A match is not a readable regular file.
    Unreadable(PathBuf, String),
    /// The pattern is not a valid glob.
    BadPattern(String, String),
}

impl std::fmt::Display for IncludeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IncludeProblem::Missing(p) => write!(f, "included file '{p}' does not exist"),
            IncludeProblem::NoMatch(p) => write!(f, "include pattern '{p}' matches no file"),
            IncludeProblem::BraceNoMatch(p) => {
                write!(f, "brace alternative '{p}' of the include matches no file")
            }
            IncludeProblem::Unreadable(p, why) => {
                write!(f, "included file '{}' cannot be read: {why}", p.display())
            }
            IncludeProblem::BadPattern(p, why) => {
                write!(f, "include pattern '{p}' is invalid: {why}")
            }
        }
    }
}

/// Resolves an include pattern relative to `base`, applying `checks`. Returns the files
/// to read, in order, and the problems found.
pub fn resolve(pattern: &str, base: &Path, checks: Checks) -> (Vec<PathBuf>, Vec<IncludeProblem>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let alternatives = expand_braces(pattern);
    let braced = alternatives.len() > 1;
    let mut any = false;
    for alt in &alternatives {
        let full = if Path::new(alt).is_absolute() || base == Path::new(".") {
            PathBuf::from(alt)
        } else {
            base.join(alt)
        };
        let full_s = full.to_string_lossy().into_owned();
        let mut matched = Vec::new();
        if has_wildcard(alt) {
            match glob::glob(&full_s) {
                Ok(paths) => {
                    for p in paths.flatten() {
                        matched.push(p);
                    }
                }
                Err(e) => {
                    problems.push(IncludeProblem::BadPattern(alt.clone(), e.to_string()));
                    continue;
                }
            }
            matched.sort();
            if matched.is_empty() && checks.wildcard_match {
                problems.push(IncludeProblem::NoMatch(alt.clone()));
            }
        } else if full.exists() {
            matched.push(full.clone());
        } else if braced && checks.brace_match {
            problems.push(IncludeProblem::BraceNoMatch(alt.clone()));
        } else if !braced && checks.matched {
            problems.push(IncludeProblem::Missing(alt.clone()));
        }
        for m in matched {
            // Only regular files, whatever the checks say: a device or FIFO would never end.
            if !m.is_file() {
                problems.push(IncludeProblem::Unreadable(m, "not a regular file".into()));
                continue;
            }
            if checks.readable {
                match std::fs::metadata(&m) {
                    Ok(md) if md.is_file() => {}
                    Ok(_) => {
                        problems.push(IncludeProblem::Unreadable(m, "not a regular file".into()));
                        continue;
                    }
                    Err(e) => {
                        problems.push(IncludeProblem::Unreadable(m, e.to_string()));
                        continue;
                    }
                }
            }
            any = true;
            files.push(m);
        }
    }
    if braced
        && !any
        && checks.matched
        && !alternatives.iter().any(|a| has_wildcard(a))
        && !checks.brace_match
    {
        problems.push(IncludeProblem::Missing(pattern.to_string()));
    }
    (files, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_in_order_and_nest() {
        assert_eq!(expand_braces("a{b,c}d"), ["abd", "acd"]);
        assert_eq!(
            expand_braces("{foo/{,cat,dog},bar}"),
            ["foo/", "foo/cat", "foo/dog", "bar"]
        );
        assert_eq!(expand_braces("x{y"), ["x{y"]);
        assert_eq!(expand_braces("plain"), ["plain"]);
    }

    #[test]
    fn include_check_words() {
        let c = Checks::default()
            .apply_option_words(["+match", "-wildcard_match"])
            .unwrap();
        assert!(c.matched && c.readable && !c.wildcard_match);
        assert_eq!(
            Checks::default().apply_option_words([]).unwrap(),
            Checks::ALL
        );
        assert_eq!(
            Checks::default().apply_option_words(["bogus"]),
            Err("bogus".to_string())
        );
    }

    #[test]
    fn resolves_globs_relative_to_base() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        for n in ["b.conf", "a.conf", "c.txt"] {
            std::fs::write(dir.path().join("conf.d").join(n), "").unwrap();
        }
        let (files, problems) = resolve("conf.d/*.conf", dir.path(), Checks::STRICT_DEFAULT);
        assert!(problems.is_empty());
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.conf", "b.conf"]);
        let (files, problems) = resolve("missing.conf", dir.path(), Checks::STRICT_DEFAULT);
        assert!(files.is_empty());
        assert_eq!(problems, [IncludeProblem::Missing("missing.conf".into())]);
        let (_, problems) = resolve("none/*.conf", dir.path(), Checks::STRICT_DEFAULT);
        assert!(problems.is_empty());
        let (_, problems) = resolve("none/*.conf", dir.path(), Checks::ALL);
        assert_eq!(problems, [IncludeProblem::NoMatch("none/*.conf".into())]);
        let (files, problems) = resolve("conf.d/{a,z}.conf", dir.path(), Checks::ALL);
        assert_eq!(files.len(), 1);
        assert_eq!(
            problems,
            [IncludeProblem::BraceNoMatch("conf.d/z.conf".into())]
        );
    }
}
