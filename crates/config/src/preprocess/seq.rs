//! `~SEQ(var, start, step, end)`, `~SEQx(...)` and `~LST(var, v1, v2, ...)` /
//! `~LST({a, b}, {1, 2}, ...)`: the rest of the line is repeated with the variables set
//! to each value in turn.

use crate::lexer::{ListItem, paren_list};

/// A parsed sequence or list: variables, the successive value sets, and the text to
/// repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat<'a> {
    /// Variable names.
    pub vars: Vec<String>,
    /// One value per variable, for each repetition.
    pub values: Vec<Vec<String>>,
    /// The text after the closing parenthesis.
    pub rest: &'a str,
}

/// Why a `~SEQ`/`~LST` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepeatError {
    /// The parenthesised part does not parse.
    #[error("invalid {0} specification: expected {1}")]
    Syntax(&'static str, &'static str),
    /// Bad numbers in a `~SEQ`.
    #[error("invalid ~SEQ values: {0}")]
    Values(String),
    /// More values than variables in a `~LST` group.
    #[error("~LST value set {0} has more values than there are variables")]
    TooManyValues(usize),
    /// The sequence would produce an unreasonable number of lines.
    #[error("~SEQ would produce {0} lines; the limit is {MAX_STEPS}")]
    TooLong(u64),
}

/// Upper bound on lines one sequence may produce (keepalived's example makes 65,024).
pub const MAX_STEPS: u64 = 1_000_000;

/// Parses a line starting with `~SEQ`, `~SEQx` or `~LST`. Returns `None` if the line
/// does not start with one of them.
pub fn parse(line: &str) -> Option<Result<Repeat<'_>, RepeatError>> {
    if let Some(rest) = line.strip_prefix("~SEQ") {
        let (hex, rest) = match rest.strip_prefix('x') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        Some(seq(rest.trim_start_matches([' ', '\t']), hex))
    } else {
        line.strip_prefix("~LST")
            .map(|rest| lst(rest.trim_start_matches([' ', '\t'])))
    }
}

/// Reads a number the way `strtol(s, 0)` does: optional sign, `0x` hex, leading-0 octal.
fn number(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

fn seq(text: &str, hex: bool) -> Result<Repeat<'_>, RepeatError> {
    const WHAT: &str = "~SEQ";
    let (rest, items) =
        paren_list(text).map_err(|_| RepeatError::Syntax(WHAT, "(var, [start,] [step,] end)"))?;
    let mut plain = Vec::new();
    for it in &items {
        match it {
            ListItem::One(s) => plain.push(*s),
            ListItem::Group(_) => return Err(RepeatError::Syntax(WHAT, "no {...} groups")),
        }
    }
    let (var, nums) = plain
        .split_first()
        .ok_or(RepeatError::Syntax(WHAT, "a variable name"))?;
    if !super::defs::is_name(var) {
        return Err(RepeatError::Syntax(WHAT, "a variable name first"));
    }
    let nums: Vec<i64> = nums
        .iter()
        .map(|n| number(n).ok_or_else(|| RepeatError::Values(format!("'{n}' is not a number"))))
        .collect::<Result<_, _>>()?;
    let (start, step, end) = match nums.as_slice() {
        [end] => (
            if *end < 0 { -1 } else { 1 },
            if *end < 1 { -1 } else { 1 },
            *end,
        ),
        [start, end] => (*start, if start <= end { 1 } else { -1 }, *end),
        [start, step, end] => {
            if *step == 0 || (start < end && *step < 0) || (start > end && *step > 0) {
                return Err(RepeatError::Values(format!(
                    "step {step} never gets from {start} to {end}"
                )));
            }
            (*start, *step, *end)
        }
        _ => {
            return Err(RepeatError::Syntax(
                WHAT,
                "1 to 3 numbers after the variable",
            ));
        }
    };
    if hex && (start < 0 || end < 0) {
        return Err(RepeatError::Values(
            "~SEQx only takes non-negative numbers".into(),
        ));
    }
    let steps = (end.abs_diff(start)) / step.unsigned_abs() + 1;
    if steps > MAX_STEPS {
        return Err(RepeatError::TooLong(steps));
    }
    let mut values = Vec::with_capacity(steps as usize);
    let mut v = start;
    loop {
        if (step > 0 && v > end) || (step < 0 && v < end) {
            break;
        }
        values.push(vec![if hex { format!("{v:x}") } else { v.to_string() }]);
        match v.checked_add(step) {
            Some(n) => v = n,
            None => break,
        }
    }
    Ok(Repeat {
        vars: vec![(*var).to_string()],
        values,
        rest: rest.trim_start_matches([' ', '\t']),
    })
}

fn lst(text: &str) -> Result<Repeat<'_>, RepeatError> {
    const WHAT: &str = "~LST";
    let (rest, items) =
        paren_list(text).map_err(|_| RepeatError::Syntax(WHAT, "(var, value, ...)"))?;
    let mut it = items.into_iter();
    let vars: Vec<String> = match it.next() {
        Some(ListItem::One(v)) => vec![v.to_string()],
        Some(ListItem::Group(vs)) => vs.iter().map(|v| v.to_string()).collect(),
        None => return Err(RepeatError::Syntax(WHAT, "a variable name")),
    };
    if vars.iter().any(|v| !super::defs::is_name(v)) {
        return Err(RepeatError::Syntax(WHAT, "variable names first"));
    }
    let mut values = Vec::new();
    for (n, item) in it.enumerate() {
        let mut set: Vec<String> = match item {
            ListItem::One(v) => vec![v.to_string()],
            ListItem::Group(vs) => vs.iter().map(|v| v.to_string()).collect(),
        };
        if set.len() > vars.len() {
            return Err(RepeatError::TooManyValues(n + 1));
        }
        // Missing values are blank, as in keepalived.
        set.resize(vars.len(), String::new());
        values.push(set);
    }
    if values.is_empty() {
        return Err(RepeatError::Syntax(WHAT, "at least one value"));
    }
    Ok(Repeat {
        vars,
        values,
        rest: rest.trim_start_matches([' ', '\t']),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(r: &Repeat<'_>) -> Vec<String> {
        r.values.iter().map(|v| v.join(",")).collect()
    }

    #[test]
    fn seq_forms() {
        let r = parse("~SEQ(SUBNET, 0, 3) ip_address 10.0.${SUBNET}.1")
            .unwrap()
            .unwrap();
        assert_eq!(r.vars, ["SUBNET"]);
        assert_eq!(vals(&r), ["0", "1", "2", "3"]);
        assert_eq!(r.rest, "ip_address 10.0.${SUBNET}.1");
        let r = parse("~SEQx(S, 0x90, 0x10, 0xc0) x").unwrap().unwrap();
        assert_eq!(vals(&r), ["90", "a0", "b0", "c0"]);
        let r = parse("~SEQx(AD1, 0x12, -1, 0x0c) x").unwrap().unwrap();
        assert_eq!(vals(&r), ["12", "11", "10", "f", "e", "d", "c"]);
        let r = parse("~SEQ(I,3) x").unwrap().unwrap();
        assert_eq!(vals(&r), ["1", "2", "3"]);
        let r = parse("~SEQ(I,-2) x").unwrap().unwrap();
        assert_eq!(vals(&r), ["-1", "-2"]);
    }

    #[test]
    fn seq_errors() {
        assert!(matches!(
            parse("~SEQ(I, 0, -1, 3) x"),
            Some(Err(RepeatError::Values(_)))
        ));
        assert!(matches!(
            parse("~SEQ I 0 3"),
            Some(Err(RepeatError::Syntax(..)))
        ));
        assert!(matches!(
            parse("~SEQ(I, a) x"),
            Some(Err(RepeatError::Values(_)))
        ));
        assert!(matches!(
            parse("~SEQ(I, 0, 99999999) x"),
            Some(Err(RepeatError::TooLong(_)))
        ));
        assert!(parse("~FOO(I)").is_none());
    }

    #[test]
    fn lst_forms() {
        let r = parse("~LST({IP, IP1}, {10,1},{20,4},{5,6},{12,8}) 192.168.${IP}.${IP1}")
            .unwrap()
            .unwrap();
        assert_eq!(r.vars, ["IP", "IP1"]);
        assert_eq!(vals(&r), ["10,1", "20,4", "5,6", "12,8"]);
        assert_eq!(r.rest, "192.168.${IP}.${IP1}");
        let r = parse("~LST(IP, 1, 2, 3, 4) x").unwrap().unwrap();
        assert_eq!(vals(&r), ["1", "2", "3", "4"]);
        let r = parse("~LST({A, B}, {1}) x").unwrap().unwrap();
        assert_eq!(vals(&r), ["1,"]);
        assert!(matches!(
            parse("~LST({A}, {1, 2}) x"),
            Some(Err(RepeatError::TooManyValues(1)))
        ));
    }
}
