//! `PING_CHECK` (`check_ping.c`): one ICMP (or ICMPv6) echo request, up when the matching
//! echo reply arrives within `connect_timeout`.
//!
//! keepalived uses unprivileged ping sockets and widens `net.ipv4.ping_group_range` to make
//! them usable. We do not change sysctls: a ping socket is tried first and, when the range
//! forbids it, a raw socket (we run as root with CAP_NET_RAW). With a raw socket every ICMP
//! packet of the host arrives, so replies are matched on source, identifier and sequence;
//! a destination unreachable quoting our request means down. Both socket kinds are driven
//! through tokio's `UdpSocket`, which only needs a datagram-like fd: no `unsafe`.

use std::net::{IpAddr, SocketAddr};

use socket2::{Protocol, Type};
use tokio::net::UdpSocket;

use super::{ConnOpts, ProbeError, ProbeSuccess};

/// Payload length of our echo requests (keepalived's `ICMP_BUFSIZE`).
const PAYLOAD: usize = 56;

/// A `PING_CHECK`: only the target address, binding and timeout matter (the port is not used).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PingSpec {
    /// Target, binding and timeout.
    pub conn: ConnOpts,
}

/// The RFC 1071 Internet checksum.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request (type 8, or 128 for ICMPv6) with identifier `id` and sequence `seq`.
/// The ICMPv6 checksum is left to the kernel, as it must be.
pub fn echo_request(v6: bool, id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend(b"keepalived check - ".iter().copied().cycle().take(PAYLOAD));
    if !v6 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// What a received ICMP message means for our request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Our echo reply.
    Echo,
    /// A destination unreachable quoting our request.
    Unreachable,
    /// Anything else.
    Other,
}

/// Classifies `icmp` (starting at the ICMP header). `check_id` is false for ping sockets,
/// where the kernel rewrites the identifier and filters replies itself.
pub fn classify(v6: bool, icmp: &[u8], id: u16, seq: u16, check_id: bool) -> Reply {
    let (echo_reply, unreach, echo_req, inner_ip) =
        if v6 { (129, 1, 128, 40) } else { (0, 3, 8, 20) };
    let ours = |h: &[u8]| {
        h.len() >= 8 && (!check_id || h[4..6] == id.to_be_bytes()) && h[6..8] == seq.to_be_bytes()
    };
    match icmp.first() {
        Some(&t) if t == echo_reply && ours(icmp) => Reply::Echo,
        Some(&t) if t == unreach && icmp.len() > 8 => {
            let inner = &icmp[8..];
            let hdr = if v6 {
                inner_ip
            } else {
                usize::from(inner[0] & 0x0f) * 4
            };
            match inner.get(hdr..) {
                Some(q) if q.first() == Some(&echo_req) && ours(q) => Reply::Unreachable,
                _ => Reply::Other,
            }
        }
        _ => Reply::Other,
    }
}

fn open(conn: &ConnOpts) -> Result<(UdpSocket, bool), ProbeError> {
    let proto = if conn.dst.is_ipv6() {
        Protocol::ICMPV6
    } else {
        Protocol::ICMPV4
    };
    let (sock, raw) = match conn.socket(Type::DGRAM, proto) {
        Ok(s) => (s, false),
        // EACCES: our group is outside net.ipv4.ping_group_range.
        Err(_) => (conn.socket(Type::RAW, proto)?, true),
    };
    let std_sock: std::net::UdpSocket = sock.into();
    let sock =
        UdpSocket::from_std(std_sock).map_err(|e| ProbeError::Setup(format!("register: {e}")))?;
    Ok((sock, raw))
}

pub(crate) async fn probe(spec: &PingSpec) -> Result<ProbeSuccess, ProbeError> {
    let timeout = spec.conn.timeout;
    let v6 = spec.conn.dst.is_ipv6();
    let (sock, raw) = open(&spec.conn)?;
    let r = crate::rand_u64();
    let (id, seq) = (r as u16, (r >> 16) as u16);
    let dst = SocketAddr::new(spec.conn.dst.ip(), 0);
    if let Err(e) = sock.send_to(&echo_request(v6, id, seq), dst).await {
        return Err(ProbeError::Connect(e.kind()));
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, from) = match tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await {
            Err(_) => {
                return Err(ProbeError::Timeout {
                    stage: "echo reply",
                    after: timeout,
                });
            }
            Ok(Err(e)) => return Err(ProbeError::io("receive", &e)),
            Ok(Ok(v)) => v,
        };
        let pkt = &buf[..n];
        // Raw IPv4 sockets deliver the IP header too.
        let icmp = if raw && !v6 {
            pkt.get(usize::from(pkt[0] & 0x0f) * 4..)
                .unwrap_or_default()
        } else {
            pkt
        };
        match classify(v6, icmp, id, seq, raw) {
            Reply::Echo if same_host(from.ip(), spec.conn.dst.ip()) => {
                return Ok(ProbeSuccess::default());
            }
            Reply::Unreachable => return Err(ProbeError::Unreachable),
            _ => continue,
        }
    }
}

fn same_host(a: IpAddr, b: IpAddr) -> bool {
    a == b || a.to_canonical() == b.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_request_checksum_verifies() {
        let p = echo_request(false, 0x1234, 7);
        assert_eq!(p.len(), 8 + PAYLOAD);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
    }

    #[test]
    fn classify_matches_id_and_sequence() {
        let mut reply = echo_request(false, 9, 5);
        reply[0] = 0;
        assert_eq!(classify(false, &reply, 9, 5, true), Reply::Echo);
        assert_eq!(classify(false, &reply, 9, 6, true), Reply::Other);
        assert_eq!(classify(false, &reply, 8, 5, true), Reply::Other);
        assert_eq!(
            classify(false, &reply, 8, 5, false),
            Reply::Echo,
            "ping sockets rewrite the id"
        );
        // Unreachable quoting a 20-byte IPv4 header and our request.
        let mut unreach = vec![3, 1, 0, 0, 0, 0, 0, 0, 0x45];
        unreach.extend_from_slice(&[0; 19]);
        unreach.extend_from_slice(&echo_request(false, 9, 5)[..8]);
        assert_eq!(classify(false, &unreach, 9, 5, true), Reply::Unreachable);
        assert_eq!(classify(false, &unreach, 9, 4, true), Reply::Other);
        let mut r6 = echo_request(true, 1, 2);
        r6[0] = 129;
        assert_eq!(classify(true, &r6, 1, 2, true), Reply::Echo);
    }
}
