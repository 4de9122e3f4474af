//! The sockets adverts travel on.
//!
//! * IPv4: a raw socket of protocol 112 (51 for AH) with `IP_HDRINCL` (we build the IP
//!   header, as keepalived does, so TTL 255, TOS 0xC0 and the source address are ours),
//!   bound to the interface, multicast loop off, `IP_MULTICAST_ALL` off so only the
//!   groups this socket joined are delivered.
//! * IPv6: a raw socket of protocol 112 bound to the interface; hop limit 255; the
//!   source and outgoing interface per packet with `IPV6_PKTINFO`, destination and hop
//!   limit of received packets from `IPV6_PKTINFO` / `IPV6_HOPLIMIT`. `IPV6_CHECKSUM` stays
//!   off so packets with a bad checksum reach us and are counted.
//! * On a VMAC (without `vmac_xmit_base`) the receive side is a link-layer socket that
//!   adds the group's MAC to the VMAC's filter instead of joining the IP group: an IP join
//!   would send IGMP/MLD reports from the shared virtual MAC on every backup and teach the
//!   switches to send the master's traffic there (keepalived blocks those reports with a
//!   firewall rule; we never send them).

use std::io::{self, IoSlice, IoSliceMut, Read};
use std::net::{IpAddr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn6, recvmsg, sendmsg, setsockopt,
    sockopt,
};
use rk_vrrp_proto::{Family, RxMeta};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::frames::{ETH_P_IP, ETH_P_IPV6, ipv4_multicast_mac, ipv6_multicast_mac};
use crate::sys;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// IP protocol number of AH.
pub const IPPROTO_AH: u8 = 51;
/// Receive buffer: the largest advert is well under 1500 bytes; a larger buffer lets us
/// see (and count as too long) oversized packets instead of truncating them silently.
const RX_BUF: usize = 9000;

/// How a channel receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum RxMode {
    /// A raw IP socket that joins the groups (base interfaces).
    Raw,
    /// A link-layer socket with the groups' MACs (VMAC interfaces).
    Link,
}

/// What a channel is for: one per (interface, family, AH or not, receive mode).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ChannelKey {
    pub ifname: String,
    pub family: Family,
    pub ah: bool,
    pub mode: RxMode,
}

/// A packet handed from a channel's reader task to the driver.
#[derive(Debug)]
pub(crate) struct RxPacket {
    pub channel: u64,
    pub bytes: Vec<u8>,
    pub meta: RxMeta,
    pub at: Instant,
}

/// The sockets of one channel and its reader task.
#[derive(Debug)]
pub(crate) struct Channel {
    pub ifindex: u32,
    tx: Arc<AsyncFd<Socket>>,
    reader: JoinHandle<()>,
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Channel {
    /// Opens the channel's sockets on interface `ifindex`, joins `groups`, and starts a
    /// reader task that forwards packets to `out` tagged with `id`.
    pub fn open(
        key: ChannelKey,
        ifindex: u32,
        groups: &[IpAddr],
        id: u64,
        out: mpsc::Sender<RxPacket>,
    ) -> io::Result<Channel> {
        let proto = if key.ah { IPPROTO_AH } else { IPPROTO_VRRP };
        let tx = match key.family {
            Family::V4 => raw_v4(&key.ifname, proto)?,
            Family::V6 => raw_v6(&key.ifname, ifindex)?,
        };
        let rx = match key.mode {
            RxMode::Raw => {
                for g in groups {
                    match g {
                        IpAddr::V4(g) => {
                            tx.join_multicast_v4_n(g, &InterfaceIndexOrAddress::Index(ifindex))?
                        }
                        IpAddr::V6(g) => tx.join_multicast_v6(g, ifindex)?,
                    }
                }
                None
            }
            RxMode::Link => {
                if key.family == Family::V6 {
                    // No link-local on a VMAC: send with the parent's.
                    sys::ipv6_freebind(&tx)?;
                }
                Some(link_rx(ifindex, key.family, groups)?)
            }
        };
        let tx = Arc::new(sys::async_fd(tx)?);
        let rx_fd = match rx {
            Some(s) => Arc::new(sys::async_fd(s)?),
            None => tx.clone(),
        };
        let (family, mode) = (key.family, key.mode);
        let reader = tokio::spawn(read_loop(rx_fd, id, family, mode, proto, out));
        Ok(Channel {
            ifindex,
            tx,
            reader,
        })
    }

    /// Sends one encoded advert (IPv4: the whole packet; IPv6: the VRRP message) to `dst`
    /// from `src` (IPv6), with hop limit `ttl` (IPv6; IPv4 carries it in its header).
    pub fn send(&self, buf: &[u8], src: IpAddr, dst: IpAddr, ttl: u8) -> io::Result<()> {
        let s = self.tx.get_ref();
        match (dst, src) {
            (IpAddr::V4(d), _) => {
                s.send_to(buf, &SockAddr::from(SocketAddrV4::new(d, 0)))?;
            }
            (IpAddr::V6(d), IpAddr::V6(src)) => {
                let scope = if is_link_scope(&d) { self.ifindex } else { 0 };
                let addr = SockaddrIn6::from(SocketAddrV6::new(d, 0, 0, scope));
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: self.ifindex,
                };
                let hl = libc::c_int::from(ttl);
                let cmsgs = [
                    ControlMessage::Ipv6PacketInfo(&info),
                    ControlMessage::Ipv6HopLimit(&hl),
                ];
                sendmsg(
                    s.as_raw_fd(),
                    &[IoSlice::new(buf)],
                    &cmsgs,
                    MsgFlags::MSG_DONTWAIT,
                    Some(&addr),
                )
                .map_err(io::Error::from)?;
            }
            (IpAddr::V6(_), IpAddr::V4(_)) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "IPv6 destination with an IPv4 source",
                ));
            }
        }
        Ok(())
    }
}

fn is_link_scope(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80 || (a.is_multicast() && a.segments()[0] & 0x000f <= 2)
}

fn raw_v4(ifname: &str, proto: u8) -> io::Result<Socket> {
    let s = Socket::new(
        Domain::IPV4,
        Type::RAW,
        Some(Protocol::from(i32::from(proto))),
    )?;
    s.set_header_included_v4(true)?;
    s.bind_device(Some(ifname.as_bytes()))?;
    s.set_multicast_loop_v4(false)?;
    s.set_multicast_all_v4(false)?;
    s.set_nonblocking(true)?;
    s.set_cloexec(true)?;
    Ok(s)
}

fn raw_v6(ifname: &str, ifindex: u32) -> io::Result<Socket> {
    let s = Socket::new(
        Domain::IPV6,
        Type::RAW,
        Some(Protocol::from(i32::from(IPPROTO_VRRP))),
    )?;
    s.bind_device(Some(ifname.as_bytes()))?;
    s.set_multicast_if_v6(ifindex)?;
    s.set_multicast_hops_v6(255)?;
    s.set_unicast_hops_v6(255)?;
    s.set_multicast_loop_v6(false)?;
    s.set_multicast_all_v6(false)?;
    setsockopt(&s, sockopt::Ipv6RecvPacketInfo, &true).map_err(io::Error::from)?;
    s.set_recv_hoplimit_v6(true)?;
    s.set_nonblocking(true)?;
    s.set_cloexec(true)?;
    Ok(s)
}

/// A link-layer (cooked, `SOCK_DGRAM`) socket on `ifindex` receiving IPv4 or IPv6
/// packets, with the groups' MACs added to the interface's filter.
fn link_rx(ifindex: u32, family: Family, groups: &[IpAddr]) -> io::Result<Socket> {
    let ethertype = match family {
        Family::V4 => ETH_P_IP,
        Family::V6 => ETH_P_IPV6,
    };
    let s = Socket::new(
        Domain::PACKET,
        Type::DGRAM,
        Some(Protocol::from(i32::from(ethertype.to_be()))),
    )?;
    s.bind(&sys::packet_addr(ifindex, ethertype, [0; 6]))?;
    sys::packet_ignore_outgoing(&s)?;
    for g in groups {
        let mac = match g {
            IpAddr::V4(g) => ipv4_multicast_mac(g),
            IpAddr::V6(g) => ipv6_multicast_mac(g),
        };
        sys::packet_add_multicast(&s, ifindex, mac)?;
    }
    s.set_nonblocking(true)?;
    s.set_cloexec(true)?;
    Ok(s)
}

async fn read_loop(
    fd: Arc<AsyncFd<Socket>>,
    id: u64,
    family: Family,
    mode: RxMode,
    proto: u8,
    out: mpsc::Sender<RxPacket>,
) {
    let mut buf = vec![0u8; RX_BUF];
    loop {
        let Ok(mut guard) = fd.readable().await else {
            return;
        };
        loop {
            let r = guard.try_io(|s| recv_one(s.get_ref(), &mut buf, family, mode, proto));
            match r {
                Ok(Ok(Some((n, meta)))) => {
                    let pkt = RxPacket {
                        channel: id,
                        bytes: buf[..n].to_vec(),
                        meta,
                        at: Instant::now(),
                    };
                    // The driver is gone: stop.
                    if out.send(pkt).await.is_err() {
                        return;
                    }
                }
                // Not for us (a link-layer socket sees all IP traffic of the VMAC).
                Ok(Ok(None)) => {}
                // A transient error (ENETDOWN while the link flaps, …): keep reading, but
                // let the driver run first so a persistent error cannot spin this task.
                Ok(Err(_)) => tokio::task::yield_now().await,
                // Would block: wait for readiness again.
                Err(_) => break,
            }
        }
    }
}

/// Reads one packet: `Some((len, meta))` with the buffer holding what the codec expects
/// (IPv4: from the IP header; IPv6: the VRRP message), `None` for traffic to ignore.
fn recv_one(
    s: &Socket,
    buf: &mut [u8],
    family: Family,
    mode: RxMode,
    proto: u8,
) -> io::Result<Option<(usize, RxMeta)>> {
    match (family, mode) {
        (Family::V4, RxMode::Raw) => {
            let n = (&*s).read(buf)?;
            Ok(Some((n, RxMeta::Ipv4)))
        }
        (Family::V4, RxMode::Link) => {
            let n = (&*s).read(buf)?;
            let ours = n >= 20 && buf[0] >> 4 == 4 && buf[9] == proto;
            Ok(ours.then_some((n, RxMeta::Ipv4)))
        }
        (Family::V6, RxMode::Raw) => {
            let mut cbuf = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int);
            let mut iov = [IoSliceMut::new(buf)];
            let m = recvmsg::<SockaddrIn6>(
                s.as_raw_fd(),
                &mut iov,
                Some(&mut cbuf),
                MsgFlags::MSG_DONTWAIT,
            )
            .map_err(io::Error::from)?;
            let n = m.bytes;
            let Some(src) = m.address.map(|a| a.ip()) else {
                return Ok(None);
            };
            let mut dst = None;
            let mut hop_limit = None;
            for c in m.cmsgs().map_err(io::Error::from)? {
                match c {
                    ControlMessageOwned::Ipv6PacketInfo(i) => {
                        dst = Some(Ipv6Addr::from(i.ipi6_addr.s6_addr))
                    }
                    ControlMessageOwned::Ipv6HopLimit(h) => hop_limit = u8::try_from(h).ok(),
                    _ => {}
                }
            }
            let Some(dst) = dst else {
                return Ok(None);
            };
            Ok(Some((
                n,
                RxMeta::Ipv6 {
                    src,
                    dst,
                    hop_limit,
                },
            )))
        }
        (Family::V6, RxMode::Link) => {
            let n = (&*s).read(buf)?;
            // A fixed 40-byte header straight followed by VRRP (adverts carry no extension
            // headers); anything else is not for us.
            if n < 40 || buf[0] >> 4 != 6 || buf[6] != IPPROTO_VRRP {
                return Ok(None);
            }
            let plen = usize::from(u16::from_be_bytes([buf[4], buf[5]]));
            let mut a = [0u8; 16];
            a.copy_from_slice(&buf[8..24]);
            let src = Ipv6Addr::from(a);
            a.copy_from_slice(&buf[24..40]);
            let dst = Ipv6Addr::from(a);
            let hop_limit = Some(buf[7]);
            let end = (40 + plen).min(n);
            buf.copy_within(40..end, 0);
            Ok(Some((
                end - 40,
                RxMeta::Ipv6 {
                    src,
                    dst,
                    hop_limit,
                },
            )))
        }
    }
}

/// A link-layer socket for gratuitous ARPs and unsolicited NAs. Protocol 0: it sends
/// only and never queues received frames.
#[derive(Debug)]
pub(crate) struct FrameSender {
    sock: Socket,
}

impl FrameSender {
    pub fn open() -> io::Result<FrameSender> {
        let sock = Socket::new(Domain::PACKET, Type::RAW, None)?;
        sock.set_nonblocking(true)?;
        sock.set_cloexec(true)?;
        Ok(FrameSender { sock })
    }

    /// Sends a whole Ethernet frame out of `ifindex`.
    pub fn send(&self, ifindex: u32, ethertype: u16, frame: &[u8]) -> io::Result<()> {
        let mut dst = [0u8; 6];
        dst.copy_from_slice(&frame[..6]);
        self.sock
            .send_to(frame, &sys::packet_addr(ifindex, ethertype, dst))?;
        Ok(())
    }
}
