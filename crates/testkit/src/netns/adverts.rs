//! Timing VRRP adverts on the wire: a packet tap that records when each IPv4 VRRP packet of
//! one sender passes, and the gaps between them. Shared by the VRRP benchmark
//! (`crates/vrrp/benches/lab`), the tracking tests and the checkers-vs-VRRP benchmark.
//!
//! Run [`capture`] or [`capture_on`] on a thread inside the sender's namespace
//! ([`super::Netns::run_in`]): outgoing frames are time-stamped by the kernel as they are
//! handed to the device, in the sender's context, so the tap's own scheduling does not
//! count. [`capture`] taps every interface of the namespace; where other traffic is heavy
//! (thousands of health-check connections a second on `lo`), use [`capture_on`] with the
//! VRRP interface: a tap that copies every packet overflows its buffer and loses adverts,
//! which would show as gaps of whole advert intervals.

#![allow(unsafe_code)]

use std::io::{self, IoSliceMut};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};

/// IP protocol number of VRRP.
const IPPROTO_VRRP: u8 = 112;

/// ETH_P_ALL: only "all protocols" taps see outgoing frames.
const ETH_P_ALL: u16 = 0x0003;

/// Kernel time stamps (since the epoch) of the IPv4 VRRP packets sent by `src` on any
/// interface, for `dur`, in the order they passed.
pub fn capture(src: Ipv4Addr, dur: Duration) -> io::Result<Vec<Duration>> {
    tap(None, src, dur)
}

/// [`capture`] on interface `ifname` only: the kernel hands the tap nothing else.
pub fn capture_on(ifname: &str, src: Ipv4Addr, dur: Duration) -> io::Result<Vec<Duration>> {
    let index = nix::net::if_::if_nametoindex(ifname)?;
    tap(Some(index), src, dur)
}

fn tap(ifindex: Option<u32>, src: Ipv4Addr, dur: Duration) -> io::Result<Vec<Duration>> {
    let s = Socket::new(
        Domain::PACKET,
        Type::DGRAM,
        Some(Protocol::from(i32::from(ETH_P_ALL.to_be()))),
    )?;
    if let Some(index) = ifindex {
        let mut sll: nix::libc::sockaddr_ll =
            // SAFETY: sockaddr_ll is plain data; all zeroes is a valid value.
            unsafe { std::mem::zeroed() };
        sll.sll_family = nix::libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex =
            i32::try_from(index).map_err(|_| io::Error::other("interface index out of range"))?;
        // SAFETY: the pointer and length describe `sll`, which outlives the call.
        let r = unsafe {
            nix::libc::bind(
                s.as_raw_fd(),
                std::ptr::from_ref(&sll).cast::<nix::libc::sockaddr>(),
                std::mem::size_of::<nix::libc::sockaddr_ll>() as nix::libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // Room for bursts while this thread is not scheduled.
    let _ = s.set_recv_buffer_size(4 << 20);
    setsockopt(&s, sockopt::ReceiveTimestampns, &true)?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    let end = Instant::now() + dur;
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let Ok(m) = recvmsg::<()>(s.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty())
        else {
            continue;
        };
        let n = m.bytes;
        let mut ts = None;
        if let Ok(c) = m.cmsgs() {
            for c in c {
                if let ControlMessageOwned::ScmTimestampns(t) = c {
                    ts = Some(Duration::new(
                        u64::try_from(t.tv_sec()).unwrap_or(0),
                        u32::try_from(t.tv_nsec()).unwrap_or(0),
                    ));
                }
            }
        }
        let p = &buf[..n];
        if n >= 20
            && p[0] >> 4 == 4
            && p[9] == IPPROTO_VRRP
            && p[12..16] == src.octets()
            && let Some(ts) = ts
        {
            out.push(ts);
        }
    }
    Ok(out)
}

/// The gaps between consecutive adverts of a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gaps {
    /// Every gap, in capture order.
    pub gaps: Vec<Duration>,
    sorted: Vec<Duration>,
}

impl Gaps {
    /// The gaps between consecutive `stamps` (as [`capture`] returns them).
    pub fn of(stamps: &[Duration]) -> Gaps {
        let gaps: Vec<Duration> = stamps
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .collect();
        let mut sorted = gaps.clone();
        sorted.sort();
        Gaps { gaps, sorted }
    }

    /// Number of gaps (adverts − 1).
    pub fn len(&self) -> usize {
        self.gaps.len()
    }

    /// No gap at all (fewer than two adverts).
    pub fn is_empty(&self) -> bool {
        self.gaps.is_empty()
    }

    /// The largest gap (zero when empty).
    pub fn worst(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }

    /// The gap at percentile `p` (0..=100, nearest rank below; zero when empty).
    pub fn percentile(&self, p: usize) -> Duration {
        self.sorted
            .get(self.sorted.len().saturating_sub(1) * p.min(100) / 100)
            .copied()
            .unwrap_or_default()
    }

    /// How far each gap is from `schedule` (early or late), sorted ascending.
    pub fn deviations(&self, schedule: Duration) -> Vec<Duration> {
        let mut d: Vec<Duration> = self.gaps.iter().map(|g| g.abs_diff(schedule)).collect();
        d.sort();
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_statistics() {
        let ms = Duration::from_millis;
        let stamps: Vec<Duration> = [0, 100, 200, 305, 400, 500].map(ms).to_vec();
        let g = Gaps::of(&stamps);
        assert_eq!(g.len(), 5);
        assert_eq!(g.gaps, [100, 100, 105, 95, 100].map(ms).to_vec());
        assert_eq!(g.worst(), ms(105));
        assert_eq!(g.percentile(0), ms(95));
        assert_eq!(g.percentile(50), ms(100));
        assert_eq!(g.percentile(100), ms(105));
        assert_eq!(g.deviations(ms(100)), [0, 0, 0, 5, 5].map(ms).to_vec());
        let none = Gaps::of(&[ms(7)]);
        assert!(none.is_empty());
        assert_eq!(none.worst(), Duration::ZERO);
        assert_eq!(none.percentile(99), Duration::ZERO);
    }
}
