//! The kernel's process events connector (`NETLINK_CONNECTOR`, `CN_IDX_PROC`): a message
//! for every fork, exec, `comm` change and exit, which keepalived's `track_process.c`
//! listens to. Needs `CAP_NET_ADMIN` and the initial network namespace (the kernel only
//! delivers these events there); [`Connector::open`] fails otherwise and the tracker falls
//! back to scanning `/proc`.
//!
//! The wire format (`linux/netlink.h`, `linux/connector.h`, `linux/cn_proc.h`), native
//! byte order:
//!
//! ```text
//! nlmsghdr   len:u32 type:u16 flags:u16 seq:u32 pid:u32              16 bytes
//! cn_msg     idx:u32 val:u32 seq:u32 ack:u32 len:u16 flags:u16        20 bytes
//! proc_event what:u32 cpu:u32 timestamp_ns:u64                        16 bytes
//!            then per event: fork  parent_pid parent_tgid child_pid child_tgid
//!                            exec  pid tgid
//!                            comm  pid tgid comm[16]
//!                            exit  pid tgid code signal parent_pid parent_tgid
//! ```

use std::io;

use netlink_sys::{AsyncSocket, AsyncSocketExt, SocketAddr, TokioSocket, protocols};

const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDR: usize = 16;
const CN_MSG: usize = 20;
const EVENT_HDR: usize = 16;

const PROC_EVENT_FORK: u32 = 0x0000_0001;
const PROC_EVENT_EXEC: u32 = 0x0000_0002;
const PROC_EVENT_COMM: u32 = 0x0000_0200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// A process event that matters to process tracking. Threads are left out: only events
/// whose pid is its thread group's (a process) are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcEvent {
    /// A new process (`child`) forked from `parent`.
    Fork {
        /// Parent process.
        parent: u32,
        /// New process.
        child: u32,
    },
    /// `pid` executed a new program.
    Exec(u32),
    /// `pid` changed its name (`prctl(PR_SET_NAME)`).
    Comm(u32),
    /// `pid` exited.
    Exit(u32),
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let bytes: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
    Some(u32::from_ne_bytes(bytes))
}

/// Decodes one datagram: the events it carries (one per netlink message).
pub fn decode(mut buf: &[u8]) -> Vec<ProcEvent> {
    let mut out = Vec::new();
    while buf.len() >= NLMSG_HDR {
        let Some(len) = u32_at(buf, 0).and_then(|l| usize::try_from(l).ok()) else {
            break;
        };
        if len < NLMSG_HDR || len > buf.len() {
            break;
        }
        let msg = &buf[..len];
        if let Some(ev) = decode_one(msg) {
            out.push(ev);
        }
        // Netlink messages are 4-byte aligned.
        let next = (len + 3) & !3;
        buf = buf.get(next..).unwrap_or(&[]);
    }
    out
}

fn decode_one(msg: &[u8]) -> Option<ProcEvent> {
    let cn = NLMSG_HDR;
    if u32_at(msg, cn)? != CN_IDX_PROC || u32_at(msg, cn + 4)? != CN_VAL_PROC {
        return None;
    }
    let ev = cn + CN_MSG;
    let what = u32_at(msg, ev)?;
    let d = ev + EVENT_HDR;
    match what {
        PROC_EVENT_FORK => {
            let (parent, child_pid, child_tgid) = (
                u32_at(msg, d + 4)?,
                u32_at(msg, d + 8)?,
                u32_at(msg, d + 12)?,
            );
            (child_pid == child_tgid).then_some(ProcEvent::Fork {
                parent,
                child: child_pid,
            })
        }
        PROC_EVENT_EXEC | PROC_EVENT_COMM | PROC_EVENT_EXIT => {
            let (pid, tgid) = (u32_at(msg, d)?, u32_at(msg, d + 4)?);
            if pid != tgid {
                return None;
            }
            Some(match what {
                PROC_EVENT_EXEC => ProcEvent::Exec(pid),
                PROC_EVENT_COMM => ProcEvent::Comm(pid),
                _ => ProcEvent::Exit(pid),
            })
        }
        _ => None,
    }
}

/// The listen request.
fn listen_request() -> Vec<u8> {
    let total = NLMSG_HDR + CN_MSG + 4;
    let mut b = Vec::with_capacity(total);
    b.extend_from_slice(&u32::try_from(total).unwrap_or(0).to_ne_bytes());
    b.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    b.extend_from_slice(&0u16.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&std::process::id().to_ne_bytes());
    b.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    b.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&4u16.to_ne_bytes());
    b.extend_from_slice(&0u16.to_ne_bytes());
    b.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    b
}

/// A subscription to process events.
pub struct Connector {
    sock: TokioSocket,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector")
    }
}

impl Connector {
    /// Subscribes (must run inside a tokio runtime).
    pub async fn open() -> io::Result<Connector> {
        let mut sock = TokioSocket::new(protocols::NETLINK_CONNECTOR)?;
        sock.socket_mut().bind(&SocketAddr::new(0, CN_IDX_PROC))?;
        // A busy machine forks a lot: a larger buffer before ENOBUFS.
        let _ = sock.socket_ref().set_rx_buf_sz(1i32 << 20);
        sock.send(&listen_request()).await?;
        Ok(Connector { sock })
    }

    /// The next batch of events. `Err` with `ENOBUFS` means events were lost: rescan.
    pub async fn next(&self) -> io::Result<Vec<ProcEvent>> {
        let (buf, _) = self.sock.recv_from_full().await?;
        Ok(decode(&buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(what: u32, data: &[u32]) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&what.to_ne_bytes());
        d.extend_from_slice(&0u32.to_ne_bytes());
        d.extend_from_slice(&0u64.to_ne_bytes());
        for v in data {
            d.extend_from_slice(&v.to_ne_bytes());
        }
        let total = NLMSG_HDR + CN_MSG + d.len();
        let mut b = Vec::new();
        b.extend_from_slice(&u32::try_from(total).unwrap().to_ne_bytes());
        b.extend_from_slice(&[0u8; 12]);
        b.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
        b.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
        b.extend_from_slice(&[0u8; 8]);
        b.extend_from_slice(&u16::try_from(d.len()).unwrap().to_ne_bytes());
        b.extend_from_slice(&[0u8; 2]);
        b.extend_from_slice(&d);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b
    }

    #[test]
    fn decodes_process_events_and_skips_threads() {
        let mut buf = event(PROC_EVENT_FORK, &[10, 10, 11, 11]);
        buf.extend(event(PROC_EVENT_FORK, &[10, 10, 12, 10])); // a thread
        buf.extend(event(PROC_EVENT_EXEC, &[11, 11]));
        buf.extend(event(PROC_EVENT_COMM, &[11, 11, 0x6f6f_6f66, 0, 0, 0]));
        buf.extend(event(PROC_EVENT_EXIT, &[12, 10, 0, 0, 1, 1])); // a thread's exit
        buf.extend(event(PROC_EVENT_EXIT, &[11, 11, 0, 17, 10, 10]));
        buf.extend(event(0x40, &[1, 1])); // uid change: not ours
        assert_eq!(
            decode(&buf),
            vec![
                ProcEvent::Fork {
                    parent: 10,
                    child: 11
                },
                ProcEvent::Exec(11),
                ProcEvent::Comm(11),
                ProcEvent::Exit(11),
            ]
        );
        // Truncated input never panics.
        for n in 0..buf.len() {
            let _ = decode(&buf[..n]);
        }
    }

    /// With the connector (root, initial network namespace: how the tests run), a child's
    /// fork, exec and exit arrive, in that order.
    #[tokio::test]
    async fn sees_a_child_fork_exec_and_exit() {
        let c = match Connector::open().await {
            Ok(c) => c,
            Err(e) if !nix::unistd::Uid::effective().is_root() => {
                eprintln!("not root ({e}): the proc connector needs CAP_NET_ADMIN");
                return;
            }
            Err(e) => panic!("proc connector: {e}"),
        };
        let mut child = std::process::Command::new("/bin/true").spawn().unwrap();
        let pid = child.id();
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while !seen.contains(&ProcEvent::Exit(pid)) {
            let batch = tokio::time::timeout_at(deadline, c.next())
                .await
                .expect("events in time")
                .unwrap();
            seen.extend(batch.into_iter().filter(|e| match e {
                ProcEvent::Fork { child, .. } => *child == pid,
                ProcEvent::Exec(p) | ProcEvent::Comm(p) | ProcEvent::Exit(p) => *p == pid,
            }));
        }
        let _ = child.wait();
        let kinds: Vec<&str> = seen
            .iter()
            .map(|e| match e {
                ProcEvent::Fork { .. } => "fork",
                ProcEvent::Exec(_) => "exec",
                ProcEvent::Comm(_) => "comm",
                ProcEvent::Exit(_) => "exit",
            })
            .collect();
        assert_eq!(kinds.first(), Some(&"fork"), "{seen:?}");
        assert!(kinds.contains(&"exec"), "{seen:?}");
        assert_eq!(kinds.last(), Some(&"exit"), "{seen:?}");
    }

    #[test]
    fn listen_request_layout() {
        let r = listen_request();
        assert_eq!(r.len(), 40);
        assert_eq!(u32_at(&r, 0), Some(40));
        assert_eq!(u32_at(&r, 16), Some(CN_IDX_PROC));
        assert_eq!(u32_at(&r, 36), Some(PROC_CN_MCAST_LISTEN));
    }
}
