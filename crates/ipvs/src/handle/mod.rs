//! The async handle: the one owner of the kernel's IPVS table.

mod socket;
pub(crate) mod wire;

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

/// An async handle on the kernel's IPVS table (one generic-netlink socket).
///
/// Methods take `&mut self`: requests on one socket are strictly ordered, and
/// the coordinator is the single caller (dump → diff → apply).
#[derive(Debug)]
pub struct IpvsHandle {
    sock: Socket,
    family: u16,
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
        Ok(IpvsHandle { sock, family })
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
        let seq = self.sock.next_seq(1);
        let flags = if dump {
            NLM_F_REQUEST | NLM_F_DUMP
        } else {
            NLM_F_REQUEST | NLM_F_ACK
        };
        let mut buf = Vec::new();
        frame(&mut buf, msg, self.family, flags, seq);
        self.sock.send(&buf, op).await?;
        let mut out = Vec::new();
        let mut status: Option<Result<(), IpvsError>> = None;
        let family = self.family;
        let sock = &mut self.sock;
        let received = tokio::time::timeout(REPLY_TIMEOUT, async {
            while status.is_none() {
                sock.recv_with(op, |reply| {
                    match reply {
                        Reply::Data {
                            seq: s,
                            msg_type,
                            bytes,
                        } if s == seq && msg_type == family => {
                            out.push(bytes.to_vec());
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
            Ok::<(), IpvsError>(())
        })
        .await;
        match received {
            Err(_) => {
                return Err(IpvsError::Unknown {
                    op: op.to_owned(),
                    reason: "no reply from the kernel".into(),
                });
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(())) => {}
        }
        status.unwrap_or(Ok(())).map(|()| out)
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

    /// All services (one dump), without destinations.
    pub async fn services(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        let op = "dump services";
        let replies = self
            .request(IpvsMessage::new(IpvsCmd::GetService, vec![]), true, op)
            .await?;
        replies
            .iter()
            .filter_map(|m| service_attrs(m))
            .map(|a| ServiceEntry::from_attrs(a).map_err(model(op)))
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

    /// The destinations of one service (one dump).
    pub async fn destinations(
        &mut self,
        key: &ServiceKey,
    ) -> Result<Vec<DestinationEntry>, IpvsError> {
        let op = format!("dump destinations of {key}");
        let msg = IpvsMessage::new(IpvsCmd::GetDest, vec![IpvsAttr::Service(key.to_attrs())]);
        let replies = self.request(msg, true, &op).await?;
        let family = key.family();
        let mut dests = Vec::with_capacity(replies.len());
        for m in &replies {
            for a in &m.attrs {
                if let IpvsAttr::Dest(d) = a {
                    dests.push(DestinationEntry::from_attrs(d, family).map_err(model(&op))?);
                }
            }
        }
        Ok(dests)
    }

    /// The whole table: every service with its destinations. One service
    /// dump, then one destination dump per service (the kernel has no
    /// all-destinations dump, and a netlink socket runs one dump at a time).
    pub async fn dump(&mut self) -> Result<Vec<DumpedService>, IpvsError> {
        let services = self.services().await?;
        let mut out = Vec::with_capacity(services.len());
        for service in services {
            let dests = self.destinations(&service.service.key).await?;
            out.push(DumpedService { service, dests });
        }
        Ok(out)
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

fn errno_result(op: &str, errno: i32, extack: Option<String>) -> Result<(), IpvsError> {
    match errno {
        0 => Ok(()),
        1 => Err(IpvsError::Op {
            op: op.to_owned(),
            kind: crate::OpErrorKind::Permission,
        }),
        3 => Err(IpvsError::Op {
            op: op.to_owned(),
            kind: crate::OpErrorKind::ServiceNotFound,
        }),
        22 => Err(IpvsError::Op {
            op: op.to_owned(),
            kind: crate::OpErrorKind::Invalid(extack),
        }),
        e => Err(IpvsError::Op {
            op: op.to_owned(),
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
