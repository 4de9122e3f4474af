//! Timing VRRP adverts on the wire: a packet tap that records when each IPv4 VRRP packet of
//! one sender passes, and the gaps between them. Shared by the VRRP benchmark
//! (`crates/vrrp/benches/lab`), the tracking tests and the checkers-vs-VRRP benchmark.
//!
//! Run [`capture`] on a thread inside the sender's namespace ([`super::Netns::run_in`]):
//! the tap sees every interface there, and outgoing frames are time-stamped by the kernel
//! as they are handed to the device, in the sender's context, so the tap's own scheduling
//! does not count.

use std::io::{self, IoSliceMut};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};

/// IP protocol number of VRRP.
const IPPROTO_VRRP: u8 = 112;

/// Kernel time stamps (since the epoch) of the IPv4 VRRP packets sent by `src`, for `dur`,
/// in the order they passed.
pub fn capture(src: Ipv4Addr, dur: Duration) -> io::Result<Vec<Duration>> {
    // ETH_P_ALL: only "all protocols" taps see outgoing frames.
    let s = Socket::new(
        Domain::PACKET,
        Type::DGRAM,
        Some(Protocol::from(i32::from(0x0003u16.to_be()))),
    )?;
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
