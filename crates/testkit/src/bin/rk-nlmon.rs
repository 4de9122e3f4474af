//! `rk-nlmon`: what a daemon sends, seen from outside it, for the VM tests and benchmarks.
//!
//! ```text
//! rk-nlmon ipvs [--signal PID:SIG] [--quiet MS] [--max SECS]
//! rk-nlmon adverts --iface IF --interval-ms MS [--signal PID:SIG] --for SECS [--stop-file F]
//! ```
//!
//! `ipvs` counts the IPVS requests that change the kernel's table (new/set/delete of
//! services and destinations, daemons, config, zero, flush) on an `nlmon` interface of the
//! current network namespace (create it first: `ip link add nlmon0 type nlmon; ip link set
//! nlmon0 up`). Every netlink message a process sends goes through it, batched or not, so
//! the count is independent of the daemon's own counters. When the capture is ready it sends
//! `SIG` to `PID` (so nothing is missed), then counts until `--quiet` ms pass without a
//! request (after the first one), or `--max` seconds. It prints
//! `RK-NLMON requests=N first_ms=.. last_ms=.. new_service=.. ...`, times from the signal.
//!
//! `adverts` records when VRRP adverts leave `IF` (kernel timestamps of outgoing IP
//! protocol 112 frames) for `--for` seconds (or until file `F` exists), sending `SIG` to
//! `PID` once ready, and prints
//! `RK-ADVERTS count=N worst_late_ms=.. worst_gap_ms=..` where lateness is a gap beyond
//! `--interval-ms`.

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, LinkAddr, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
    SockType, recvfrom, recvmsg, sendto, setsockopt, socket, sockopt,
};
use nix::sys::time::TimeSpec;
use nix::unistd::Pid;

const NLM_F_REQUEST: u16 = 1;
const NETLINK_GENERIC: u16 = 16;
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

/// IPVS generic-netlink commands that change the table, by number (`linux/ip_vs.h`).
const MODIFY: [(u8, &str); 11] = [
    (1, "new_service"),
    (2, "set_service"),
    (3, "del_service"),
    (5, "new_dest"),
    (6, "set_dest"),
    (7, "del_dest"),
    (9, "new_daemon"),
    (10, "del_daemon"),
    (12, "set_config"),
    (16, "zero"),
    (17, "flush"),
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ipvs") => ipvs(&args[1..]),
        Some("adverts") => adverts(&args[1..]),
        _ => Err("usage: rk-nlmon ipvs|adverts [options] (see the source)".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rk-nlmon: {e}");
            ExitCode::FAILURE
        }
    }
}

fn opt<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn num(args: &[String], name: &str, default: u64) -> Result<u64, String> {
    opt(args, name).map_or(Ok(default), |v| {
        v.parse().map_err(|_| format!("{name}: not a number: {v}"))
    })
}

/// `PID:SIG`, e.g. `123:HUP`.
fn signal_arg(args: &[String]) -> Result<Option<(Pid, Signal)>, String> {
    let Some(v) = opt(args, "--signal") else {
        return Ok(None);
    };
    let (pid, sig) = v.split_once(':').ok_or("--signal PID:SIG")?;
    let pid: i32 = pid.parse().map_err(|_| format!("bad pid {pid}"))?;
    let sig: Signal = format!("SIG{sig}")
        .parse()
        .map_err(|_| format!("bad signal {sig}"))?;
    Ok(Some((Pid::from_raw(pid), sig)))
}

fn send_signal(s: Option<(Pid, Signal)>) -> Result<(), String> {
    if let Some((pid, sig)) = s {
        kill(pid, sig).map_err(|e| format!("kill {pid} {sig}: {e}"))?;
    }
    Ok(())
}

fn packet_socket(ifname: &str) -> Result<(OwnedFd, u32), String> {
    let index = nix::net::if_::if_nametoindex(ifname).map_err(|e| format!("{ifname}: {e}"))?;
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::empty(),
        SockProtocol::EthAll,
    )
    .map_err(|e| format!("packet socket: {e}"))?;
    // Bursts of tens of thousands of messages (keepalived sends one per object).
    let _ = setsockopt(&fd, sockopt::RcvBufForce, &(64 << 20));
    let timeout = nix::sys::time::TimeVal::new(0, 100_000);
    setsockopt(&fd, sockopt::ReceiveTimeout, &timeout).map_err(|e| e.to_string())?;
    Ok((fd, index))
}

/// The IPVS family's id, asked of the generic-netlink controller.
fn ipvs_family() -> Result<u16, String> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::empty(),
        SockProtocol::NetlinkGeneric,
    )
    .map_err(|e| format!("generic netlink socket: {e}"))?;
    let name = b"IPVS\0";
    let attr_len = 4 + name.len();
    let len = 16 + 4 + attr_len.div_ceil(4) * 4;
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&(len as u32).to_ne_bytes());
    msg.extend_from_slice(&GENL_ID_CTRL.to_ne_bytes());
    msg.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&[CTRL_CMD_GETFAMILY, 1, 0, 0]);
    msg.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    msg.extend_from_slice(&CTRL_ATTR_FAMILY_NAME.to_ne_bytes());
    msg.extend_from_slice(name);
    msg.resize(len, 0);
    sendto(
        fd.as_raw_fd(),
        &msg,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )
    .map_err(|e| format!("ask for the IPVS family: {e}"))?;
    let mut buf = vec![0u8; 8192];
    let (n, _) = recvfrom::<NetlinkAddr>(fd.as_raw_fd(), &mut buf).map_err(|e| e.to_string())?;
    let buf = &buf[..n];
    let mut at = 20;
    while at + 4 <= buf.len() {
        let alen = usize::from(u16::from_ne_bytes([buf[at], buf[at + 1]]));
        let atype = u16::from_ne_bytes([buf[at + 2], buf[at + 3]]) & 0x3fff;
        if alen < 4 {
            break;
        }
        if atype == CTRL_ATTR_FAMILY_ID && at + 6 <= buf.len() {
            return Ok(u16::from_ne_bytes([buf[at + 4], buf[at + 5]]));
        }
        at += alen.div_ceil(4) * 4;
    }
    Err("no IPVS family (is ip_vs loaded?)".into())
}

fn ipvs(args: &[String]) -> Result<(), String> {
    let quiet = Duration::from_millis(num(args, "--quiet", 2000)?);
    let max = Duration::from_secs(num(args, "--max", 60)?);
    let signal = signal_arg(args)?;
    let family = ipvs_family()?;
    let (fd, index) = packet_socket(opt(args, "--iface").unwrap_or("nlmon0"))?;
    let mut counts = [0u64; MODIFY.len()];
    let mut first: Option<Duration> = None;
    let mut last: Option<Duration> = None;
    let mut buf = vec![0u8; 1 << 20];
    // Drain what the socket holds from before (nothing should: it is new).
    let t0 = Instant::now();
    send_signal(signal)?;
    loop {
        let now = t0.elapsed();
        if now >= max || last.is_some_and(|l| now >= l + quiet) {
            break;
        }
        let n = match recvfrom::<LinkAddr>(fd.as_raw_fd(), &mut buf) {
            // Only generic netlink: nlmon taps every netlink protocol, and an rtnetlink
            // message type can equal the IPVS family's id.
            Ok((n, Some(addr)))
                if addr.ifindex() == index as usize
                    && u16::from_be(addr.protocol()) == NETLINK_GENERIC =>
            {
                n
            }
            Ok(_) => continue,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("capture: {e}")),
        };
        let at = t0.elapsed();
        let mut off = 0;
        while off + 20 <= n {
            let len =
                u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
            let kind = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
            let flags = u16::from_ne_bytes([buf[off + 6], buf[off + 7]]);
            let cmd = buf[off + 16];
            if kind == family
                && flags & NLM_F_REQUEST != 0
                && let Some(i) = MODIFY.iter().position(|(c, _)| *c == cmd)
            {
                counts[i] += 1;
                first.get_or_insert(at);
                last = Some(at);
            }
            if len < 16 {
                break;
            }
            off += len.div_ceil(4) * 4;
        }
    }
    let total: u64 = counts.iter().sum();
    let ms = |d: Option<Duration>| {
        d.map_or("-".to_string(), |d| format!("{:.1}", d.as_secs_f64() * 1e3))
    };
    let mut line = format!(
        "RK-NLMON requests={total} first_ms={} last_ms={}",
        ms(first),
        ms(last)
    );
    for ((_, name), c) in MODIFY.iter().zip(counts) {
        if c > 0 {
            line.push_str(&format!(" {name}={c}"));
        }
    }
    println!("{line}");
    Ok(())
}

fn adverts(args: &[String]) -> Result<(), String> {
    let ifname = opt(args, "--iface").ok_or("--iface IF")?;
    let interval = Duration::from_millis(num(args, "--interval-ms", 1000)?);
    let span = Duration::from_secs(num(args, "--for", 10)?);
    let signal = signal_arg(args)?;
    let stop_file = opt(args, "--stop-file").map(std::path::Path::new);
    let (fd, index) = packet_socket(ifname)?;
    setsockopt(&fd, sockopt::ReceiveTimestampns, &true).map_err(|e| e.to_string())?;
    let mut stamps: Vec<Duration> = Vec::new();
    let mut frame = vec![0u8; 2048];
    let mut cmsg = nix::cmsg_space!(TimeSpec);
    let t0 = Instant::now();
    send_signal(signal)?;
    while t0.elapsed() < span && !stop_file.is_some_and(|f| f.exists()) {
        let mut iov = [IoSliceMut::new(&mut frame)];
        let msg =
            match recvmsg::<LinkAddr>(fd.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty())
            {
                Ok(m) => m,
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(format!("capture: {e}")),
            };
        let Some(addr) = msg.address else {
            continue;
        };
        // Outgoing (PACKET_OUTGOING = 4) IPv4 frames with protocol 112.
        if addr.ifindex() != index as usize || addr.pkttype() != 4 {
            continue;
        }
        let stamp = msg.cmsgs().ok().and_then(|mut c| {
            c.find_map(|m| match m {
                ControlMessageOwned::ScmTimestampns(ts) => Some(Duration::from(ts)),
                _ => None,
            })
        });
        let n = msg.bytes;
        let data = iov[0].as_ref();
        if n >= 34
            && data[12] == 0x08
            && data[13] == 0x00
            && data[23] == 112
            && let Some(s) = stamp
        {
            stamps.push(s);
        }
    }
    let gaps: Vec<Duration> = stamps
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .collect();
    let worst_gap = gaps.iter().max().copied().unwrap_or_default();
    let late = worst_gap.saturating_sub(interval);
    println!(
        "RK-ADVERTS count={} worst_late_ms={:.1} worst_gap_ms={:.1}",
        stamps.len(),
        late.as_secs_f64() * 1e3,
        worst_gap.as_secs_f64() * 1e3
    );
    Ok(())
}
