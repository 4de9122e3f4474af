//! The bytes of keepalived's HTTP exchange: the request it sends and the way it reads the
//! response (`check_http.c` `http_request`, `http_process_response`, `lib/html.c`).
//!
//! Why a hand-written client rather than reqwest: the digest users put in their
//! configurations was computed by keepalived's `genhash`, which hashes the raw body bytes
//! after the header — no chunked decoding, truncated at a case-sensitive `Content-Length:`,
//! read until the server closes. reqwest decodes chunked bodies, lowercases and adds headers
//! (`accept: */*`) and cannot send keepalived's exact request. Reproducing genhash's digest
//! byte for byte needs the raw stream, so this module reads it directly.

use std::net::SocketAddr;

use md5::{Digest, Md5};

use super::HttpProtocol;
use crate::probe::ProbeError;

/// Largest response header accepted (keepalived: 4095 bytes; larger headers fail there).
pub const MAX_HEADER: usize = 64 * 1024;
/// Largest response accepted: bounds a probe against an endless body.
pub const MAX_RESPONSE: usize = 64 * 1024 * 1024;
/// Body bytes kept for a regex check (keepalived matches across its 4 KiB reads).
pub const MAX_REGEX_BODY: usize = 1024 * 1024;
/// Size of each read, as keepalived's (`MAX_BUFFER_LENGTH - 1`): it shapes genhash's
/// verbose chunk dumps.
pub const READ_CHUNK: usize = 4095;

/// The `Host:` header value: the virtual host as given, else `ip:port` (`[ip]:port` for
/// IPv6, RFC 2732).
pub fn host_header(vhost: Option<&str>, dst: SocketAddr) -> String {
    match (vhost, dst) {
        (Some(v), _) => v.to_owned(),
        (None, SocketAddr::V4(a)) => format!("{}:{}", a.ip(), a.port()),
        (None, SocketAddr::V6(a)) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

/// keepalived's request, byte for byte: request line, `User-Agent: KeepAliveClient`,
/// `Connection: close` for 1.0C and 1.1, then `Host:`.
pub fn request(path: &str, protocol: HttpProtocol, host: &str) -> Vec<u8> {
    let minor = if protocol == HttpProtocol::V11 { 1 } else { 0 };
    let close = match protocol {
        HttpProtocol::V10 => "",
        HttpProtocol::V10Close | HttpProtocol::V11 => "Connection: close\r\n",
    };
    format!(
        "GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {host}\r\n\r\n"
    )
    .into_bytes()
}

/// Offset just past the `\r\n\r\n` ending the header (`extract_html`).
pub fn header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// The status code as `extract_status_code` reads it: the token after the first space must
/// be three digits followed by a space; anything else is 0 (so a status line without a
/// reason phrase fails, as in keepalived).
pub fn status_code(buf: &[u8]) -> u16 {
    let Some(sp) = buf.iter().position(|&b| b == b' ' || b == b'\r') else {
        return 0;
    };
    if buf[sp] != b' ' {
        return 0;
    }
    let code = &buf[sp + 1..];
    if code.len() <= 3 || code[3] != b' ' || !code[..3].iter().all(u8::is_ascii_digit) {
        return 0;
    }
    code[..3]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'))
}

/// `Content-Length:` as `extract_content_length` reads it: case-sensitive, digits after
/// optional blanks, then end of line; anything else means "unknown".
pub fn content_length(header: &[u8]) -> Option<usize> {
    const TAG: &[u8] = b"Content-Length:";
    let at = header.windows(TAG.len()).position(|w| w == TAG)? + TAG.len();
    let rest = &header[at..];
    let start = rest.iter().position(|b| !matches!(b, b' ' | b'\t'))?;
    let digits = rest[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    match rest.get(start + digits) {
        None | Some(b'\r') | Some(b'\n') => {}
        Some(_) => return None,
    }
    std::str::from_utf8(&rest[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

/// Hooks for genhash's verbose output, called in keepalived's order. The checker uses `()`.
pub trait Observer {
    /// Before each read's data is examined while the header is still incomplete.
    fn header_pending(&mut self) {}
    /// The complete header, `\r\n\r\n` included.
    fn header(&mut self, _raw: &[u8]) {}
    /// The first read after the header carried body bytes that are hashed.
    fn body_start(&mut self) {}
    /// Body bytes fed to the digest, one call per read.
    fn body_chunk(&mut self, _hashed: &[u8]) {}
    /// The final digest, when the stream ended cleanly.
    fn digest(&mut self, _md5: &[u8; 16]) {}
}

impl Observer for () {}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code (0 when unparsable).
    pub status: u16,
    /// `Content-Length`, when present and well formed.
    pub content_length: Option<usize>,
    /// Body bytes received.
    pub rx_bytes: usize,
    /// MD5 of the body (up to `Content-Length`), when asked for.
    pub digest: Option<[u8; 16]>,
    /// The body's first [`MAX_REGEX_BODY`] bytes, when asked for.
    pub body: Option<Vec<u8>>,
}

/// Incremental response reader.
#[derive(Debug)]
pub struct Parser {
    head: Vec<u8>,
    status: Option<(u16, Option<usize>)>,
    rx_bytes: usize,
    total: usize,
    md5: Option<Md5>,
    body: Option<Vec<u8>>,
}

impl Parser {
    /// A reader that hashes the body when `digest` and keeps it when `keep_body`.
    pub fn new(digest: bool, keep_body: bool) -> Self {
        Parser {
            head: Vec::new(),
            status: None,
            rx_bytes: 0,
            total: 0,
            md5: digest.then(Md5::new),
            body: keep_body.then(Vec::new),
        }
    }

    /// Number of bytes of `r` new body bytes that fall within `Content-Length`.
    fn hashed_len(content_length: Option<usize>, rx_before: usize, r: usize) -> usize {
        match content_length {
            None => r,
            Some(cl) if cl >= rx_before + r => r,
            Some(cl) => cl.saturating_sub(rx_before),
        }
    }

    fn take_body(&mut self, body: &[u8], obs: &mut (dyn Observer + Send), first: bool) {
        let cl = self.status.and_then(|(_, cl)| cl);
        if let Some(md5) = &mut self.md5
            && !body.is_empty()
            && cl.is_none_or(|cl| cl > self.rx_bytes)
        {
            let n = Self::hashed_len(cl, self.rx_bytes, body.len());
            md5.update(&body[..n]);
            if first {
                obs.body_start();
            }
            obs.body_chunk(&body[..n]);
        }
        if let Some(keep) = &mut self.body {
            let room = MAX_REGEX_BODY.saturating_sub(keep.len());
            keep.extend_from_slice(&body[..body.len().min(room)]);
        }
        self.rx_bytes += body.len();
    }

    /// Feeds one read's bytes.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        obs: &mut (dyn Observer + Send),
    ) -> Result<(), ProbeError> {
        self.total += chunk.len();
        if self.total > MAX_RESPONSE {
            return Err(ProbeError::TooLarge(MAX_RESPONSE));
        }
        if self.status.is_some() {
            self.take_body(chunk, obs, false);
            return Ok(());
        }
        obs.header_pending();
        self.head.extend_from_slice(chunk);
        let Some(end) = header_end(&self.head) else {
            if self.head.len() > MAX_HEADER {
                return Err(ProbeError::TooLarge(MAX_HEADER));
            }
            return Ok(());
        };
        let head = std::mem::take(&mut self.head);
        self.status = Some((status_code(&head), content_length(&head[..end])));
        obs.header(&head[..end]);
        self.take_body(&head[end..], obs, true);
        Ok(())
    }

    /// Ends the stream; `None` when no complete header arrived. `clean` tells whether the
    /// stream ended with an orderly close (genhash prints the digest only then).
    pub fn finish(self, clean: bool, obs: &mut (dyn Observer + Send)) -> Option<Response> {
        let digest: Option<[u8; 16]> = self.md5.map(|m| m.finalize().into());
        if clean && let Some(d) = &digest {
            obs.digest(d);
        }
        let (status, content_length) = self.status?;
        Some(Response {
            status,
            content_length,
            rx_bytes: self.rx_bytes,
            digest,
            body: self.body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_matches_genhash_bytes() {
        // Captured from Debian's genhash 2.2.7 on this machine.
        let dst: SocketAddr = "127.0.0.1:18083".parse().unwrap();
        assert_eq!(
            request("/x", HttpProtocol::V10, &host_header(None, dst)),
            b"GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:18083\r\n\r\n"
        );
        assert_eq!(
            request("/x", HttpProtocol::V11, &host_header(Some("foo.example"), dst)),
            b"GET /x HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: foo.example\r\n\r\n"
        );
        assert_eq!(
            request("/x", HttpProtocol::V10Close, &host_header(None, dst)),
            b"GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: 127.0.0.1:18083\r\n\r\n"
        );
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(host_header(None, v6), "[::1]:80");
    }

    #[test]
    fn status_code_follows_extract_status_code() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK\r\n"), 200);
        assert_eq!(status_code(b"HTTP/1.0 404 Not Found\r\n"), 404);
        assert_eq!(status_code(b"HTTP/1.1 200\r\n"), 0);
        assert_eq!(status_code(b"HTTP/1.1 20 OK\r\n"), 0);
        assert_eq!(status_code(b"HTTP/1.1\r\n200 OK"), 0);
        assert_eq!(status_code(b"garbage"), 0);
        assert_eq!(status_code(b""), 0);
    }

    #[test]
    fn content_length_is_case_sensitive_and_strict() {
        assert_eq!(
            content_length(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"),
            Some(12)
        );
        assert_eq!(
            content_length(b"HTTP/1.1 200 OK\r\nContent-Length:7\r\n\r\n"),
            Some(7)
        );
        assert_eq!(
            content_length(b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n"),
            None
        );
        assert_eq!(
            content_length(b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n"),
            None
        );
        assert_eq!(
            content_length(b"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n"),
            None
        );
    }

    fn md5(data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }

    #[test]
    fn digest_covers_raw_body_up_to_content_length_across_reads() {
        let mut p = Parser::new(true, false);
        for chunk in [
            &b"HTTP/1.1 200 OK\r\nContent-Le"[..],
            b"ngth: 5\r\n\r\nhel",
            b"lo world",
        ] {
            p.feed(chunk, &mut ()).unwrap();
        }
        let r = p.finish(true, &mut ()).unwrap();
        assert_eq!((r.status, r.content_length, r.rx_bytes), (200, Some(5), 11));
        assert_eq!(r.digest, Some(md5(b"hello")));
        // Chunked encoding is not decoded: the digest covers the framing, as genhash's does.
        let mut p = Parser::new(true, false);
        let raw = b"5\r\nhello\r\n0\r\n\r\n";
        p.feed(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            &mut (),
        )
        .unwrap();
        p.feed(raw, &mut ()).unwrap();
        assert_eq!(p.finish(true, &mut ()).unwrap().digest, Some(md5(raw)));
    }

    #[test]
    fn no_header_means_no_response() {
        let mut p = Parser::new(true, false);
        p.feed(b"HTTP/1.1 200 OK\r\nServer: x\r\n", &mut ())
            .unwrap();
        assert_eq!(p.finish(true, &mut ()), None);
    }

    #[test]
    fn oversized_header_is_rejected() {
        let mut p = Parser::new(false, false);
        let junk = vec![b'a'; MAX_HEADER + 1];
        assert_eq!(
            p.feed(&junk, &mut ()),
            Err(ProbeError::TooLarge(MAX_HEADER))
        );
    }
}
