//! The few socket calls no safe wrapper covers: link-layer (`AF_PACKET`) addresses and
//! options. Everything else goes through `socket2` and `nix`.
#![allow(unsafe_code)]

use std::io;
use std::mem::size_of;
use std::os::fd::AsRawFd;

use socket2::{SockAddr, SockAddrStorage, Socket};

/// A `sockaddr_ll` for interface `ifindex`, EtherType `ethertype` (host order) and, for
/// sends, destination MAC `dst`.
pub(crate) fn packet_addr(ifindex: u32, ethertype: u16, dst: [u8; 6]) -> SockAddr {
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: sockaddr_ll is one of the platform's sockaddr types and fits in the storage;
    // view_as only reinterprets the zeroed bytes we then fill in.
    let ll: &mut libc::sockaddr_ll = unsafe { storage.view_as() };
    ll.sll_family = libc::AF_PACKET as u16;
    ll.sll_protocol = ethertype.to_be();
    ll.sll_ifindex = i32::try_from(ifindex).unwrap_or(0);
    ll.sll_halen = 6;
    ll.sll_addr[..6].copy_from_slice(&dst);
    let len = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    // SAFETY: the storage holds an initialised sockaddr_ll of `len` bytes with its family set.
    unsafe { SockAddr::new(storage, len) }
}

fn setsockopt<T>(s: &Socket, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live, initialised T of the size passed, and the fd is open
    // for the duration of the call (borrowed from `s`).
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `PACKET_ADD_MEMBERSHIP` / `PACKET_MR_MULTICAST`: the interface accepts frames to `mac`
/// without any IGMP/MLD being sent (unlike an IP-level group join).
pub(crate) fn packet_add_multicast(s: &Socket, ifindex: u32, mac: [u8; 6]) -> io::Result<()> {
    let mut mr = libc::packet_mreq {
        mr_ifindex: i32::try_from(ifindex).unwrap_or(0),
        mr_type: libc::PACKET_MR_MULTICAST as u16,
        mr_alen: 6,
        mr_address: [0; 8],
    };
    mr.mr_address[..6].copy_from_slice(&mac);
    setsockopt(s, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mr)
}

/// `PACKET_IGNORE_OUTGOING`: do not see our own transmissions.
pub(crate) fn packet_ignore_outgoing(s: &Socket) -> io::Result<()> {
    let one: libc::c_int = 1;
    setsockopt(s, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &one)
}

/// `IPV6_FREEBIND`: send with a source address that lives on another interface (the
/// parent's link-local address, from a VMAC that has none of its own).
pub(crate) fn ipv6_freebind(s: &Socket) -> io::Result<()> {
    let one: libc::c_int = 1;
    setsockopt(s, libc::IPPROTO_IPV6, libc::IPV6_FREEBIND, &one)
}

/// Registers a socket with the tokio reactor of the current runtime.
pub(crate) fn async_fd(s: Socket) -> io::Result<tokio::io::unix::AsyncFd<Socket>> {
    // Readable only: sends never wait (a full buffer drops the advert, counted), so
    // writable-readiness events would only be wake-ups for nothing.
    let interest = tokio::io::Interest::READABLE;
    // SAFETY: a socket2::Socket owns its descriptor: it stays open and the same for as
    // long as the Socket lives, and the AsyncFd owns the Socket.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(s, interest) }
        .map_err(|e| e.into_parts().1)
}

/// A timerfd that owns its descriptor (nix's `TimerFd` only offers `AsFd`).
#[derive(Debug)]
pub(crate) struct OwnedTimerFd(pub nix::sys::timerfd::TimerFd);

impl AsRawFd for OwnedTimerFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
    }
}

/// Registers a timerfd with the tokio reactor of the current runtime.
pub(crate) fn async_timerfd(t: OwnedTimerFd) -> io::Result<tokio::io::unix::AsyncFd<OwnedTimerFd>> {
    let interest = tokio::io::Interest::READABLE;
    // SAFETY: the TimerFd owns its descriptor (an OwnedFd) for as long as it lives, and
    // the AsyncFd owns the TimerFd.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(t, interest) }
        .map_err(|e| e.into_parts().1)
}

/// Puts the calling thread in the `SCHED_RR` real-time class at `priority` (1..=99), as
/// keepalived's `vrrp_rt_priority` does for its VRRP process.
pub(crate) fn set_rt_priority(priority: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param for the call.
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_RR, &param) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets the calling thread's nice value (keepalived's `vrrp_priority`, -20..=19).
pub(crate) fn set_nice(nice: i32) -> io::Result<()> {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    // SAFETY: PRIO_PROCESS with a thread id sets that thread's nice value on Linux; the
    // arguments are plain integers.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_addr_layout() {
        let a = packet_addr(7, 0x0806, [0xff; 6]);
        assert_eq!(a.family(), libc::AF_PACKET as u16);
        assert_eq!(a.len() as usize, size_of::<libc::sockaddr_ll>());
    }
}
