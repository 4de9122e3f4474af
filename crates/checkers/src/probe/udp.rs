//! `UDP_CHECK` (`check_udp.c`, `layer4.c` `udp_bind_connect` / `udp_socket_state`).
//!
//! A datagram goes to the target (the `payload`, else 32 bytes of `"keepalived check - "`
//! repeated, as keepalived sends). An ICMP destination unreachable coming back (seen as an
//! error on the connected socket) means down. Without `require_reply`, silence until the
//! timeout means up; with it, a reply must arrive, be within `min_reply_length ..=
//! max_reply_length` and match the `require_reply` pattern (hex, `X` nibbles are wildcards)
//! on the bytes both have.
//!
//! Deviation: keepalived checks the reply lengths only when a reply pattern is given; here
//! they apply whenever `require_reply` is set, as its configuration dump suggests they should.

use super::{ConnOpts, ProbeError, ProbeSuccess};

/// keepalived's filler for datagrams without a configured payload (`set_buf`, 32 bytes).
pub fn default_payload() -> Vec<u8> {
    b"keepalived check - "
        .iter()
        .copied()
        .cycle()
        .take(32)
        .collect()
}

/// An expected reply: bytes and a mask whose set bits are wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyPattern {
    /// Expected bytes (wildcard nibbles are 0).
    pub data: Vec<u8>,
    /// Wildcard bits.
    pub mask: Vec<u8>,
}

impl ReplyPattern {
    /// Parses keepalived's hex syntax with `X` wildcards (`read_hex_str`).
    pub fn parse(hex: &str) -> Result<Self, String> {
        let (data, mask) = parse_hex(hex, true)?;
        Ok(ReplyPattern { data, mask })
    }

    /// Whether `reply` matches on the bytes both have.
    pub fn matches(&self, reply: &[u8]) -> bool {
        self.data
            .iter()
            .zip(&self.mask)
            .zip(reply)
            .all(|((d, m), r)| (d ^ r) & !m == 0)
    }
}

/// keepalived's `read_hex_str`: blanks separate groups; each group of two characters is a
/// byte, a lone character is a byte's low nibble; `X`/`x` (only when `wildcards`) matches
/// any nibble. Returns the bytes and the wildcard mask.
pub fn parse_hex(s: &str, wildcards: bool) -> Result<(Vec<u8>, Vec<u8>), String> {
    let nibble = |c: u8| -> Result<(u8, u8), String> {
        match c {
            b'0'..=b'9' => Ok((c - b'0', 0)),
            b'a'..=b'f' => Ok((c - b'a' + 10, 0)),
            b'A'..=b'F' => Ok((c - b'A' + 10, 0)),
            b'x' | b'X' if wildcards => Ok((0, 0x0f)),
            _ => Err(format!("invalid hex digit {:?} in {s:?}", c as char)),
        }
    };
    let (mut data, mut mask) = (vec![], vec![]);
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' || b[i] == b'\t' {
            i += 1;
            continue;
        }
        let (mut v, mut m) = nibble(b[i])?;
        i += 1;
        if i < b.len() && b[i] != b' ' && b[i] != b'\t' {
            let (v2, m2) = nibble(b[i])?;
            i += 1;
            v = (v << 4) | v2;
            m = (m << 4) | m2;
        }
        data.push(v);
        mask.push(m);
    }
    if data.is_empty() {
        return Err(format!("empty hex string {s:?}"));
    }
    Ok((data, mask))
}

/// A `UDP_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpSpec {
    /// Target, binding and the reply timeout.
    pub conn: ConnOpts,
    /// `payload`; [`default_payload`] when unset.
    pub payload: Option<Vec<u8>>,
    /// `require_reply`: a reply must arrive.
    pub require_reply: bool,
    /// The `require_reply` pattern.
    pub reply: Option<ReplyPattern>,
    /// `min_reply_length` (default 0).
    pub min_reply_len: u16,
    /// `max_reply_length` (default 255).
    pub max_reply_len: u16,
}

impl UdpSpec {
    /// keepalived's defaults: random payload, no reply required, lengths 0..=255.
    pub fn new(conn: ConnOpts) -> Self {
        UdpSpec {
            conn,
            payload: None,
            require_reply: false,
            reply: None,
            min_reply_len: 0,
            max_reply_len: 255,
        }
    }
}

pub(crate) async fn probe(spec: &UdpSpec) -> Result<ProbeSuccess, ProbeError> {
    let sock = spec.conn.udp_connect()?;
    let payload = spec.payload.clone().unwrap_or_else(default_payload);
    match sock.send(&payload).await {
        Ok(n) if n == payload.len() => {}
        Ok(_) => {
            return Err(ProbeError::Io {
                stage: "send",
                kind: std::io::ErrorKind::WriteZero,
            });
        }
        Err(e) => return Err(ProbeError::Connect(e.kind())),
    }
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(spec.conn.timeout, sock.recv(&mut buf)).await {
        Err(_) if spec.require_reply => Err(ProbeError::UdpReply("no reply")),
        Err(_) => Ok(ProbeSuccess::default()),
        // On a connected UDP socket an ICMP unreachable surfaces as ECONNREFUSED (port) or
        // EHOSTUNREACH / ENETUNREACH.
        Ok(Err(e)) if is_unreachable(&e) => Err(ProbeError::Unreachable),
        Ok(Err(e)) => Err(ProbeError::io("receive", &e)),
        Ok(Ok(n)) => {
            if !spec.require_reply {
                return Ok(ProbeSuccess::default());
            }
            let reply = &buf[..n];
            if n < usize::from(spec.min_reply_len) {
                return Err(ProbeError::UdpReply("too short"));
            }
            if n > usize::from(spec.max_reply_len) {
                return Err(ProbeError::UdpReply("too long"));
            }
            if let Some(p) = &spec.reply
                && !p.matches(reply)
            {
                return Err(ProbeError::UdpReply("data mismatch"));
            }
            Ok(ProbeSuccess::default())
        }
    }
}

fn is_unreachable(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_payload_is_keepalived_filler() {
        assert_eq!(default_payload(), b"keepalived check - keepalived ch");
    }

    #[test]
    fn hex_with_wildcards() {
        let p = ReplyPattern::parse("01 2X x3 f").unwrap();
        assert_eq!(p.data, vec![0x01, 0x20, 0x03, 0x0f]);
        assert_eq!(p.mask, vec![0x00, 0x0f, 0xf0, 0x00]);
        assert!(p.matches(&[0x01, 0x2a, 0x73, 0x0f, 0xff]));
        assert!(
            p.matches(&[0x01, 0x2a]),
            "only the common prefix is compared"
        );
        assert!(!p.matches(&[0x01, 0x3a]));
        assert!(parse_hex("0x", false).is_err());
        assert!(parse_hex("  ", false).is_err());
        assert_eq!(
            parse_hex("deadbeef", false).unwrap().0,
            vec![0xde, 0xad, 0xbe, 0xef]
        );
    }
}
