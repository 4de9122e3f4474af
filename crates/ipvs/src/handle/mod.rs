//! The async handle: the one owner of the kernel's IPVS table.

mod dump;
mod socket;
pub(crate) mod wire;

use std::fmt;

use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};

use self::socket::{REPLY_TIMEOUT, Socket};
use self::wire::{Reply, decode_message, frame};
use crate::codec::{IpvsAttr, IpvsCmd, IpvsMessage};
use crate::error::{IpvsError, ModelError};
use crate::model::{Daemon, DestinationEntry, Info, ServiceEntry, ServiceKey, Timeouts};
use crate::op::IpvsOp;

/// At most this many operations share one `sendmsg`.
const MAX_BATCH_OPS: usize = 2048;
/// At most this many bytes share one `sendmsg` (below the default
/// `wmem_default` of 208 KiB, which bounds a netlink send).
const MAX_BATCH_BYTES: usize = 192 << 10;

/// A service with its destinations, as one dump returns them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpedService {
    /// The service.
    pub service: ServiceEntry,
    /// Its destinations, in kernel order.
    pub dests: Vec<DestinationEntry>,
}

/// An async handle on the kernel's IPVS table: one generic-netlink socket,
/// plus a short-lived one for each service dump (see [`IpvsHandle::services`]).
///
/// Methods take `&mut self`: requests on one socket are strictly ordered, and
/// the coordinator is the single caller (dump → diff → apply).
#[derive(Debug)]
pub struct IpvsHandle {
    sock: Socket,
    family: u16,
    /// The sequence number of a dump sent on `sock` and not read to its end: set while
    /// it is read, left set when the caller drops it half-way (a read abandoned for a
    /// stop or a reload). The kernel runs one dump per socket and refuses the next with
    /// `EBUSY` until the reader has taken the rest, so the next request on `sock` first
    /// finishes it (see [`IpvsHandle::finish_abandoned`]).
    unfinished_dump: Option<u32>,
}

impl IpvsHandle {
    /// Open a socket and resolve the `IPVS` family. Fails with
    /// [`IpvsError::NotAvailable`] when the kernel has no IPVS (module not
    /// loaded, or not built).
    pub async fn connect() -> Result<IpvsHandle, IpvsError> {
        let mut sock = Socket::open()?;
        let family = tokio::time::timeout(REPLY_TIMEOUT, sock.resolve_family())
            .await
            .map_err(|_| IpvsError::Unknown {
                op: "resolve generic netlink family IPVS".into(),
                reason: "no reply from the kernel".into(),
            })??;
        Ok(IpvsHandle {
            sock,
            family,
            unfinished_dump: None,
        })
    }

    /// The resolved generic-netlink family id.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// Apply operations in order, many per `sendmsg`. Returns one result per
    /// operation, in the same order; a failure does not stop the operations
    /// after it (the kernel processes every message of a batch).
    ///
    /// Only errors are acknowledged, plus the last message of each batch as a
    /// sync point: when its ack arrives, every earlier message of the batch
    /// was processed and every silent one succeeded.
    pub async fn apply(&mut self, ops: &[IpvsOp]) -> Vec<Result<(), IpvsError>> {
        // Its reply would be skipped as stale anyway; finishing it first keeps the
        // bookkeeping of `unfinished_dump` simple (its end is never consumed elsewhere).
        self.finish_abandoned().await;
        let mut results: Vec<Option<Result<(), IpvsError>>> = Vec::with_capacity(ops.len());
        results.resize_with(ops.len(), || None);
        let messages: Vec<IpvsMessage> = ops.iter().map(IpvsOp::to_message).collect();
        let mut buf = Vec::with_capacity(MAX_BATCH_BYTES + 4096);
        let mut start = 0;
        while start < ops.len() {
            // Cut the batch by count and bytes.
            buf.clear();
            let first_seq = self.sock.next_seq(MAX_BATCH_OPS as u32);
            let mut end = start;
            while end < ops.len() && end - start < MAX_BATCH_OPS && buf.len() < MAX_BATCH_BYTES {
                let last = end + 1 == ops.len()
                    || end + 1 - start == MAX_BATCH_OPS
                    || buf.len() + 1024 >= MAX_BATCH_BYTES;
                let flags = if last {
                    NLM_F_REQUEST | NLM_F_ACK
                } else {
                    NLM_F_REQUEST
                };
                frame(
                    &mut buf,
                    &messages[end],
                    self.family,
                    flags,
                    first_seq.wrapping_add((end - start) as u32),
                );
                end += 1;
                if last {
                    break;
                }
            }
            self.run_batch(&ops[start..end], &buf, first_seq, &mut results[start..end])
                .await;
            start = end;
        }
        results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
    }

    async fn run_batch(
        &mut self,
        ops: &[IpvsOp],
        buf: &[u8],
        first_seq: u32,
        results: &mut [Option<Result<(), IpvsError>>],
    ) {
        let last_seq = first_seq.wrapping_add(ops.len() as u32 - 1);
        let label = || format!("batch of {} operations starting with {}", ops.len(), ops[0]);
        if let Err(e) = self.sock.send(buf, &label()).await {
            let reason = e.to_string();
            for (r, op) in results.iter_mut().zip(ops) {
                *r = Some(Err(IpvsError::Unknown {
                    op: op.to_string(),
                    reason: reason.clone(),
                }));
            }
            return;
        }
        let mut done = false;
        let received = tokio::time::timeout(REPLY_TIMEOUT, async {
            while !done {
                self.sock
                    .recv_with(&label(), |reply| {
                        if let Reply::Error { seq, errno, extack } = reply {
                            let idx = seq.wrapping_sub(first_seq) as usize;
                            if idx < ops.len() {
                                if errno != 0 {
                                    let op = &ops[idx];
                                    results[idx] = Some(Err(IpvsError::Op {
                                        op: op.to_string(),
                                        kind: op.classify(errno, extack),
                                    }));
                                }
                                if seq == last_seq {
                                    done = true;
                                    return Ok(false);
                                }
                            }
                        }
                        // Anything else is a stale reply of an abandoned request.
                        Ok(true)
                    })
                    .await?;
            }
            Ok::<(), IpvsError>(())
        })
        .await
        .unwrap_or_else(|_| {
            Err(IpvsError::Unknown {
                op: label(),
                reason: "no reply from the kernel".into(),
            })
        });
        if let Err(e) = received {
            // ENOBUFS (replies dropped) or no reply: what happened to the
            // operations not yet answered is unknown; say so for each.
            let reason = e.to_string();
            for (r, op) in results.iter_mut().zip(ops) {
                if r.is_none() {
                    *r = Some(Err(IpvsError::Unknown {
                        op: op.to_string(),
                        reason: reason.clone(),
                    }));
                }
            }
        }
    }

    /// Apply one operation.
    pub async fn apply_one(&mut self, op: &IpvsOp) -> Result<(), IpvsError> {
        self.apply(std::slice::from_ref(op))
            .await
            .pop()
            .unwrap_or(Ok(()))
    }

    /// Send one request and collect the raw family messages of its reply
    /// (each with its netlink header). `dump` asks for `NLM_F_DUMP`.
    /// Public so tests can capture kernel bytes as fixtures.
    pub async fn request_raw(
        &mut self,
        msg: &IpvsMessage,
        dump: bool,
        op: &str,
    ) -> Result<Vec<Vec<u8>>, IpvsError> {
        let mut out = Vec::new();
        self.exchange(msg, dump, op, |bytes| {
            out.push(bytes.to_vec());
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Send one request on the handle's socket and hand each family message
    /// of its reply to `each`, within one [`REPLY_TIMEOUT`].
    async fn exchange(
        &mut self,
        msg: &IpvsMessage,
        dump: bool,
        op: &(impl fmt::Display + ?Sized),
        each: impl FnMut(&[u8]) -> Result<(), IpvsError>,
    ) -> Result<(), IpvsError> {
        self.finish_abandoned().await;
        let seq = self.sock.next_seq(1);
        let flags = if dump {
            NLM_F_REQUEST | NLM_F_DUMP
        } else {
            NLM_F_REQUEST | NLM_F_ACK
        };
        let mut buf = Vec::new();
        frame(&mut buf, msg, self.family, flags, seq);
        let family = self.family;
        let Self {
            sock,
            unfinished_dump,
            ..
        } = self;
        let result = within_timeout(op, async {
            sock.send(&buf, op).await?;
            // Sent: from here until its end, dropping this future leaves the dump
            // running on the socket. (A request dropped before the send never reached
            // the kernel; the stale replies of other requests are skipped by sequence.)
            if dump {
                *unfinished_dump = Some(seq);
            }
            receive_reply(sock, family, seq, op, each).await
        })
        .await;
        // Ended (or timed out: then nothing more is coming for it).
        *unfinished_dump = None;
        result
    }

    /// Reads the rest of a dump a dropped caller left running (see `unfinished_dump`), so the
    /// kernel ends it and accepts the next one. Something is always queued while a dump
    /// runs (each receive makes the kernel queue its next part), so this never waits for
    /// the kernel beyond the usual deadline.
    async fn finish_abandoned(&mut self) {
        let Some(seq) = self.unfinished_dump else {
            return;
        };
        let op = "finish an abandoned dump";
        // Its outcome is nobody's any more: an error only means it ended.
        let _ = within_timeout(
            op,
            receive_reply(&mut self.sock, self.family, seq, op, |_| Ok(())),
        )
        .await;
        self.unfinished_dump = None;
    }

    async fn request(
        &mut self,
        msg: IpvsMessage,
        dump: bool,
        op: &str,
    ) -> Result<Vec<IpvsMessage>, IpvsError> {
        self.request_raw(&msg, dump, op)
            .await?
            .iter()
            .map(|b| {
                decode_message(b).map_err(|e| IpvsError::Decode {
                    op: op.to_owned(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// One service, or `None` if it does not exist.
    pub async fn service(&mut self, key: &ServiceKey) -> Result<Option<ServiceEntry>, IpvsError> {
        let op = format!("get service {key}");
        let msg = IpvsMessage::new(IpvsCmd::GetService, vec![IpvsAttr::Service(key.to_attrs())]);
        match self.request(msg, false, &op).await {
            Ok(replies) => match replies.iter().find_map(service_attrs) {
                Some(a) => ServiceEntry::from_attrs(a).map(Some).map_err(model(&op)),
                None => Ok(None),
            },
            Err(IpvsError::Op {
                kind: crate::OpErrorKind::ServiceNotFound,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Running sync daemons.
    pub async fn daemons(&mut self) -> Result<Vec<Daemon>, IpvsError> {
        let op = "dump sync daemons";
        let replies = self
            .request(IpvsMessage::new(IpvsCmd::GetDaemon, vec![]), true, op)
            .await?;
        let mut out = Vec::new();
        for m in &replies {
            for a in &m.attrs {
                if let IpvsAttr::Daemon(d) = a {
                    out.push(Daemon::from_attrs(d).map_err(model(op))?);
                }
            }
        }
        Ok(out)
    }

    /// Connection timeouts.
    pub async fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        let op = "get timeouts";
        let replies = self
            .request(IpvsMessage::new(IpvsCmd::GetConfig, vec![]), false, op)
            .await?;
        let m = replies.first().ok_or_else(|| empty(op))?;
        Timeouts::from_attrs(&m.attrs).map_err(model(op))
    }

    /// Version and connection table size.
    pub async fn info(&mut self) -> Result<Info, IpvsError> {
        let op = "get info";
        let replies = self
            .request(IpvsMessage::new(IpvsCmd::GetInfo, vec![]), false, op)
            .await?;
        let m = replies.first().ok_or_else(|| empty(op))?;
        Info::from_attrs(&m.attrs).map_err(model(op))
    }
}

fn service_attrs(m: &IpvsMessage) -> Option<&[crate::codec::SvcAttr]> {
    m.attrs.iter().find_map(|a| match a {
        IpvsAttr::Service(s) => Some(s.as_slice()),
        _ => None,
    })
}

/// Run `work` (a request and its reply) within one [`REPLY_TIMEOUT`].
async fn within_timeout<T>(
    op: &(impl fmt::Display + ?Sized),
    work: impl Future<Output = Result<T, IpvsError>>,
) -> Result<T, IpvsError> {
    tokio::time::timeout(REPLY_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| {
            Err(IpvsError::Unknown {
                op: op.to_string(),
                reason: "no reply from the kernel".into(),
            })
        })
}

/// Receive the reply to request `seq` on `sock`, handing each message of
/// the family to `each`, up to the `NLMSG_DONE` or ack that ends it; returns
/// the kernel's status. An error from `each` is returned only once the
/// reply is complete, so no dump is left running on the socket (the kernel
/// would refuse the next one with `EBUSY`). Replies to other sequence
/// numbers are stale (an abandoned request) and skipped.
async fn receive_reply(
    sock: &mut Socket,
    family: u16,
    seq: u32,
    op: &(impl fmt::Display + ?Sized),
    mut each: impl FnMut(&[u8]) -> Result<(), IpvsError>,
) -> Result<(), IpvsError> {
    let mut status: Option<Result<(), IpvsError>> = None;
    let mut failed: Option<IpvsError> = None;
    while status.is_none() {
        sock.recv_with(op, |reply| {
            match reply {
                Reply::Data {
                    seq: s,
                    msg_type,
                    bytes,
                } if s == seq && msg_type == family && failed.is_none() => {
                    // After a failure the rest of the reply is drained unread.
                    failed = each(bytes).err();
                }
                Reply::Error {
                    seq: s,
                    errno,
                    extack,
                } if s == seq => {
                    status = Some(errno_result(op, errno, extack));
                    return Ok(false);
                }
                Reply::Done { seq: s, errno } if s == seq => {
                    status = Some(errno_result(op, errno, None));
                    return Ok(false);
                }
                _ => {}
            }
            Ok(true)
        })
        .await?;
    }
    match (status, failed) {
        (Some(Err(e)), _) | (_, Some(e)) => Err(e),
        _ => Ok(()),
    }
}

fn errno_result(
    op: &(impl fmt::Display + ?Sized),
    errno: i32,
    extack: Option<String>,
) -> Result<(), IpvsError> {
    if errno == 0 {
        return Ok(());
    }
    let op = op.to_string();
    match errno {
        1 => Err(IpvsError::Op {
            op,
            kind: crate::OpErrorKind::Permission,
        }),
        3 => Err(IpvsError::Op {
            op,
            kind: crate::OpErrorKind::ServiceNotFound,
        }),
        22 => Err(IpvsError::Op {
            op,
            kind: crate::OpErrorKind::Invalid(extack),
        }),
        e => Err(IpvsError::Op {
            op,
            kind: crate::OpErrorKind::Errno(e),
        }),
    }
}

fn model(op: &str) -> impl Fn(ModelError) -> IpvsError + '_ {
    move |e| IpvsError::Decode {
        op: op.to_owned(),
        reason: e.to_string(),
    }
}

fn empty(op: &str) -> IpvsError {
    IpvsError::Decode {
        op: op.to_owned(),
        reason: "no reply message".into(),
    }
}
