//! `FILE_CHECK` (`check_file.c`, `track_file.c`): the real server's state and a weight
//! offset come from a number in a file, re-read whenever the file changes (the runner
//! watches its directory with inotify, as keepalived does; there is no polling period).
//!
//! keepalived's rules:
//! - The file's first 127 bytes are read as a C `strtol(…, 0)` number (decimal, `0x` hex or
//!   leading-0 octal, leading blanks, trailing junk ignored). A missing, empty or unreadable
//!   file reads as 0. A value outside `i32::MIN ..= i32::MAX + 1` is ignored (the previous
//!   value stays).
//! - `weight 0`: a non-zero value is FAULT (down), 0 is up; `reverse` swaps the two.
//! - Otherwise the status is `value × weight` (negated with `reverse`), clamped to the `i32`
//!   range: `i32::MIN` is FAULT, anything else is up with that offset added to the real
//!   server's weight.
//! - FILE_CHECK knows its state at once: no retries, no alpha.

use std::path::PathBuf;

use super::{DynamicWeight, ProbeError, ProbeSuccess};

/// A `FILE_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileSpec {
    /// The tracked file (`track_file`'s `file`).
    pub path: PathBuf,
    /// `weight` (from the FILE_CHECK, else the track_file; default 1).
    pub weight: i32,
    /// `weight N reverse`.
    pub reverse: bool,
}

/// `strtol(buf, NULL, 0)` on the file's content; `None` when the value is out of range.
pub fn parse_value(content: &[u8]) -> Option<i64> {
    let s = &content[..content.len().min(127)];
    let mut i = s
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .count();
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let (radix, start) = match (s.get(i), s.get(i + 1), s.get(i + 2)) {
        (Some(b'0'), Some(b'x' | b'X'), Some(c)) if c.is_ascii_hexdigit() => (16, i + 2),
        (Some(b'0'), _, _) => (8, i),
        _ => (10, i),
    };
    let mut v: i128 = 0;
    for &c in &s[start..] {
        let Some(d) = (c as char).to_digit(radix) else {
            break;
        };
        v = v * i128::from(radix) + i128::from(d);
        if v > i128::from(i64::MAX) + 1 {
            return None;
        }
    }
    let v = if neg { -v } else { v };
    (i128::from(i32::MIN)..=i128::from(i32::MAX) + 1)
        .contains(&v)
        .then_some(v as i64)
}

/// The checker state a tracked file's value gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Up, with this offset added to the real server's weight.
    Up(i64),
    /// keepalived's FAULT: down.
    Fault,
}

/// The checker state for `value` under `weight` / `reverse`.
pub fn status(value: i64, weight: i32, reverse: bool) -> FileStatus {
    if weight == 0 {
        return if (value != 0) != reverse {
            FileStatus::Fault
        } else {
            FileStatus::Up(0)
        };
    }
    let mult = if reverse { -1 } else { 1 };
    let s = (i128::from(value) * i128::from(weight) * mult)
        .clamp(i128::from(i32::MIN), i128::from(i32::MAX));
    if s == i128::from(i32::MIN) {
        FileStatus::Fault
    } else {
        FileStatus::Up(s as i64)
    }
}

/// Reads the file now. Returns `None` when its value must be ignored.
pub async fn read_value(spec: &FileSpec) -> Option<i64> {
    match tokio::fs::read(&spec.path).await {
        Ok(content) if !content.is_empty() => parse_value(&content),
        _ => Some(0),
    }
}

/// Judges a value read from the file.
pub fn judge(spec: &FileSpec, value: i64) -> Result<ProbeSuccess, ProbeError> {
    match status(value, spec.weight, spec.reverse) {
        FileStatus::Up(offset) => Ok(ProbeSuccess {
            weight: Some(DynamicWeight::Offset(offset)),
        }),
        FileStatus::Fault => Err(ProbeError::FileFault(value)),
    }
}

pub(crate) async fn probe(spec: &FileSpec) -> Result<ProbeSuccess, ProbeError> {
    judge(spec, read_value(spec).await.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_base_zero() {
        assert_eq!(parse_value(b"42\n"), Some(42));
        assert_eq!(parse_value(b"  -7 apples"), Some(-7));
        assert_eq!(parse_value(b"0x1F"), Some(31));
        assert_eq!(parse_value(b"010"), Some(8));
        assert_eq!(parse_value(b"junk"), Some(0));
        assert_eq!(parse_value(b"2147483648"), Some(2_147_483_648));
        assert_eq!(parse_value(b"2147483649"), None);
        assert_eq!(parse_value(b"99999999999999999999999"), None);
    }

    #[test]
    fn keepalived_status_rules() {
        assert_eq!(status(0, 0, false), FileStatus::Up(0));
        assert_eq!(status(3, 0, false), FileStatus::Fault);
        assert_eq!(status(0, 0, true), FileStatus::Fault);
        assert_eq!(status(3, 0, true), FileStatus::Up(0));
        assert_eq!(status(5, 2, false), FileStatus::Up(10));
        assert_eq!(status(5, 2, true), FileStatus::Up(-10));
        assert_eq!(status(-2_147_483_648, 1, false), FileStatus::Fault);
        assert_eq!(
            status(2_000_000_000, 254, true),
            FileStatus::Fault,
            "clamped to i32::MIN: fault"
        );
    }
}
