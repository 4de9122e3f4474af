//! The netlink socket: options, send, receive, family resolution.

use std::fmt;
use std::io;
use std::time::Duration;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload, ParseableParametrized,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlHeader, GenlMessage};
use netlink_sys::{Socket as NlSocket, SocketAddr, protocols::NETLINK_GENERIC};
use tokio::io::unix::AsyncFd;

use super::wire::{GENL_HDRLEN, NLMSG_HDRLEN, Reply, split};
use crate::codec::IPVS_GENL_NAME;
use crate::error::IpvsError;

/// Receive buffer size requested with `SO_RCVBUFFORCE`. A batch sends no
/// acks for successful operations, only errors; each error costs the
/// receive queue about 1 KiB of `truesize`, so this holds the replies of a
/// whole batch even if every operation in it fails.
const RCVBUF: usize = 8 << 20;
/// Receive buffer. The kernel sizes dump skbs after the largest buffer a
/// socket has passed to `recvmsg` (capped at 32 KiB, an order-4 page
/// allocation per dump chunk); at 4 KiB it uses `NLMSG_GOODSIZE` skbs, which
/// made the per-service destination dumps markedly cheaper. Larger
/// datagrams are detected (`MSG_TRUNC`) and reported, never cut silently.
const RECV_CAPACITY: usize = 4096;
/// Receive buffer of a socket opened for the service dump alone. The
/// kernel's service dump restarts its walk of the service table at every
/// skb and skips what it already sent, so the number of skbs makes it
/// quadratic: in the test VM, dumping 50,000 services took 11.3 s in 4 KiB
/// skbs and 1.7–2.0 s in 32 KiB ones (10,000: 380 ms and 100 ms). The
/// larger allocation is paid per ~130 services there, not per reply.
pub(crate) const BULK_RECV_CAPACITY: usize = 32 << 10;
/// How long to wait for the kernel before declaring a reply lost (one
/// deadline per request or batch, not per datagram: reading the clock is
/// expensive under emulation and adds up over thousands of receives).
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// A generic-netlink socket bound to the kernel.
pub(crate) struct Socket {
    sock: AsyncFd<NlSocket>,
    recv_buf: Vec<u8>,
    recv_capacity: usize,
    seq: u32,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

// `op` (what the socket is doing, for error messages) is any `Display` and
// is formatted only when an error happens: the dump issues one request per
// service, and formatting its address for every request is a measurable
// share of the work.
fn io_err(op: &(impl fmt::Display + ?Sized), source: io::Error) -> IpvsError {
    IpvsError::Io {
        op: op.to_string(),
        source,
    }
}

impl Socket {
    /// Open and configure the socket (needs a tokio runtime).
    pub(crate) fn open() -> Result<Socket, IpvsError> {
        Socket::open_with(RECV_CAPACITY)
    }

    /// Open a socket that receives into `recv_capacity` bytes (see
    /// [`BULK_RECV_CAPACITY`]; the kernel remembers the largest, so a socket
    /// keeps the skb size of its largest receive for good).
    pub(crate) fn open_with(recv_capacity: usize) -> Result<Socket, IpvsError> {
        let op = "open generic netlink socket";
        let mut sock = NlSocket::new(NETLINK_GENERIC).map_err(|e| io_err(op, e))?;
        {
            let s = &mut sock;
            s.set_non_blocking(true).map_err(|e| io_err(op, e))?;
            s.bind_auto().map_err(|e| io_err(op, e))?;
            s.connect(&SocketAddr::new(0, 0))
                .map_err(|e| io_err(op, e))?;
            // Error replies echo only the request header, and carry the
            // kernel's explanation text (NLM_F_ACK_TLVS).
            s.set_cap_ack(true).map_err(|e| io_err(op, e))?;
            s.set_ext_ack(true).map_err(|e| io_err(op, e))?;
            // SO_RCVBUFFORCE needs CAP_NET_ADMIN, which IPVS needs anyway for
            // changes; read-only users fall back to what rmem_max allows.
            if nix::sys::socket::setsockopt(&*s, nix::sys::socket::sockopt::RcvBufForce, &RCVBUF)
                .is_err()
            {
                s.set_rx_buf_sz(RCVBUF).map_err(|e| io_err(op, e))?;
            }
        }
        // `AsyncFd::new` is deprecated because a `T: AsRawFd` need not own its
        // descriptor; `netlink_sys::Socket` does (it closes it on drop), so
        // the descriptor lives exactly as long as the registration. The
        // replacement, `AsyncFd::register`, is `unsafe`, which this crate
        // forbids.
        #[allow(deprecated)]
        let sock = AsyncFd::new(sock).map_err(|e| io_err(op, e))?;
        Ok(Socket {
            sock,
            recv_buf: Vec::with_capacity(recv_capacity),
            recv_capacity,
            seq: 0,
        })
    }

    /// Reserve `n` consecutive sequence numbers; returns the first.
    pub(crate) fn next_seq(&mut self, n: u32) -> u32 {
        // Sequence numbers wrap; replies are matched within a window that
        // never spans more than one batch, so wrapping is harmless.
        let first = self.seq.wrapping_add(1);
        self.seq = self.seq.wrapping_add(n.max(1));
        first
    }

    /// Send one buffer holding one or more requests.
    pub(crate) async fn send(
        &mut self,
        buf: &[u8],
        op: &(impl fmt::Display + ?Sized),
    ) -> Result<(), IpvsError> {
        let n = loop {
            let mut guard = self.sock.writable().await.map_err(|e| io_err(op, e))?;
            match guard.try_io(|s| s.get_ref().send(buf, 0)) {
                Ok(r) => break r.map_err(|e| io_err(op, e))?,
                Err(_would_block) => continue,
            }
        };
        if n != buf.len() {
            return Err(io_err(
                op,
                io::Error::other(format!("short netlink send: {n} of {} bytes", buf.len())),
            ));
        }
        Ok(())
    }

    /// Receive one datagram and hand each message in it to `each`; stops
    /// early if `each` returns `false`. Returns whether to keep receiving.
    pub(crate) async fn recv_with(
        &mut self,
        op: &(impl fmt::Display + ?Sized),
        mut each: impl FnMut(Reply<'_>) -> Result<bool, IpvsError>,
    ) -> Result<bool, IpvsError> {
        let Socket {
            sock,
            recv_buf,
            recv_capacity,
            ..
        } = self;
        let n = loop {
            let mut guard = sock.readable().await.map_err(|e| io_err(op, e))?;
            recv_buf.clear();
            recv_buf.reserve(*recv_capacity);
            match guard.try_io(|s| s.get_ref().recv(recv_buf, libc::MSG_TRUNC)) {
                Ok(r) => break r.map_err(|e| io_err(op, e))?,
                Err(_would_block) => continue,
            }
        };
        if n > self.recv_buf.len() {
            return Err(IpvsError::Decode {
                op: op.to_string(),
                reason: format!(
                    "datagram of {n} bytes exceeds the {} byte receive buffer",
                    self.recv_buf.len()
                ),
            });
        }
        for reply in split(&self.recv_buf) {
            let reply = reply.map_err(|e| IpvsError::Decode {
                op: op.to_string(),
                reason: e.to_string(),
            })?;
            if !each(reply)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Resolve the id of the `IPVS` generic-netlink family.
    pub(crate) async fn resolve_family(&mut self) -> Result<u16, IpvsError> {
        let op = "resolve generic netlink family IPVS";
        let seq = self.next_seq(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK;
        header.sequence_number = seq;
        let genl = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(IPVS_GENL_NAME.to_owned())],
        });
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(genl));
        msg.finalize();
        let mut buf = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut buf);
        self.send(&buf, op).await?;

        let mut family = None;
        let mut outcome: Option<Result<(), IpvsError>> = None;
        while outcome.is_none() {
            self.recv_with(op, |reply| {
                match reply {
                    Reply::Error { seq: s, errno, .. } if s == seq => {
                        outcome = Some(match errno {
                            0 => Ok(()),
                            2 => Err(IpvsError::NotAvailable),
                            e => Err(io_err(op, io::Error::from_raw_os_error(e))),
                        });
                        return Ok(false);
                    }
                    Reply::Data { seq: s, bytes, .. } if s == seq => {
                        let body = bytes.get(NLMSG_HDRLEN..).unwrap_or_default();
                        let decode = |e: netlink_packet_core::DecodeError| IpvsError::Decode {
                            op: op.to_owned(),
                            reason: e.to_string(),
                        };
                        let gh = GenlHeader::parse(body).map_err(decode)?;
                        let ctrl =
                            GenlCtrl::parse_with_param(&body[GENL_HDRLEN..], gh).map_err(decode)?;
                        family = ctrl.nlas.iter().find_map(|a| match a {
                            GenlCtrlAttrs::FamilyId(id) => Some(*id),
                            _ => None,
                        });
                    }
                    _ => {}
                }
                Ok(true)
            })
            .await?;
        }
        match outcome {
            Some(Err(e)) => Err(e),
            _ => family.ok_or_else(|| IpvsError::Decode {
                op: op.to_owned(),
                reason: "CTRL_CMD_NEWFAMILY without CTRL_ATTR_FAMILY_ID".into(),
            }),
        }
    }
}
