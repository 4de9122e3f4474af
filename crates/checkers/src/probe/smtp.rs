//! `SMTP_CHECK` (`check_smtp.c`): expect a 220 banner, send `HELO helo_name`, expect 250,
//! send `QUIT`, expect any reply line. Each read and write is bounded by `connect_timeout`.
//!
//! Deviation: keepalived reads only the first line of each reply, so a multi-line banner
//! (`220-…` continuation lines, RFC 5321 §4.2) fails there; here continuation lines are read
//! up to the final `220 …` line.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::conn::timed;
use super::{ConnOpts, ProbeError, ProbeSuccess};

/// keepalived's default HELO name.
pub const DEFAULT_HELO: &str = "smtpchecker.keepalived.org";

/// Longest reply line accepted.
const MAX_LINE: usize = 4096;

/// An `SMTP_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SmtpSpec {
    /// Server, binding and timeout.
    pub conn: ConnOpts,
    /// `helo_name`.
    pub helo_name: String,
}

impl SmtpSpec {
    /// A check of `conn` with the default HELO name.
    pub fn new(conn: ConnOpts) -> Self {
        SmtpSpec {
            conn,
            helo_name: DEFAULT_HELO.to_owned(),
        }
    }
}

/// The reply code of a line, as `smtp_get_status`: three digits, then a space, a hyphen
/// (continuation), a CR or the end of the line.
pub fn reply_code(line: &[u8]) -> Option<(u16, bool)> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None | Some(b' ') | Some(b'\r') => Some((code, false)),
        Some(b'-') => Some((code, true)),
        Some(_) => None,
    }
}

struct Lines {
    stream: TcpStream,
    buf: Vec<u8>,
    conn: ConnOpts,
}

impl Lines {
    async fn line(&mut self) -> Result<Vec<u8>, ProbeError> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(ProbeError::TooLarge(MAX_LINE));
            }
            let mut chunk = [0u8; 512];
            let n = timed("read", self.conn.timeout, self.stream.read(&mut chunk)).await?;
            if n == 0 {
                return Err(ProbeError::Io {
                    stage: "read",
                    kind: std::io::ErrorKind::UnexpectedEof,
                });
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads a (possibly multi-line) reply and checks its final code.
    async fn expect(&mut self, stage: &'static str, code: u16) -> Result<(), ProbeError> {
        loop {
            let line = self.line().await?;
            match reply_code(&line) {
                Some((c, true)) if c == code => continue,
                Some((c, false)) if c == code => return Ok(()),
                _ => {
                    let text = String::from_utf8_lossy(&line[..line.len().min(80)])
                        .trim_end()
                        .to_owned();
                    return Err(ProbeError::Smtp { stage, line: text });
                }
            }
        }
    }

    async fn send(&mut self, cmd: &str) -> Result<(), ProbeError> {
        timed(
            "write",
            self.conn.timeout,
            self.stream.write_all(cmd.as_bytes()),
        )
        .await
    }
}

pub(crate) async fn probe(spec: &SmtpSpec) -> Result<ProbeSuccess, ProbeError> {
    let stream = spec.conn.tcp_connect().await?;
    let mut l = Lines {
        stream,
        buf: Vec::new(),
        conn: spec.conn.clone(),
    };
    l.expect("banner", 220).await?;
    l.send(&format!("HELO {}\r\n", spec.helo_name)).await?;
    l.expect("HELO", 250).await?;
    l.send("QUIT\r\n").await?;
    // Any reply to QUIT will do; keepalived does not look at it.
    l.line().await?;
    Ok(ProbeSuccess::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_codes() {
        assert_eq!(reply_code(b"220 mx.example ESMTP\r\n"), Some((220, false)));
        assert_eq!(reply_code(b"220-first line\r\n"), Some((220, true)));
        assert_eq!(reply_code(b"250\r\n"), Some((250, false)));
        assert_eq!(reply_code(b"2500 x"), None);
        assert_eq!(reply_code(b"hello"), None);
    }
}
