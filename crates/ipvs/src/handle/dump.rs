//! Listing the table: the service dump, the per-service destination dumps,
//! and reading their replies straight into the model types.
//!
//! Where the time went (10,000 services × 5 destinations, measured in the
//! test VM, see `BENCHMARKS-ipvs.md`): the kernel has no "all destinations"
//! dump, so the table costs one `GET_DEST` dump per service (a send and two
//! receives), and decoding through the generic codec (a `Vec<DestAttr>` per
//! destination, a `Vec<StatsAttr>` per stats nest, then `from_attrs`) cost
//! about as much as all those round trips. So:
//!
//! * replies are read attribute by attribute into [`DestFields`] /
//!   [`SvcFields`], the gatherers `from_attrs` uses too, so both readings
//!   agree (`dump_tests.rs` checks it on captured, generated and mutated
//!   replies);
//! * the service dump runs on a socket of its own with large receives (see
//!   [`BULK_RECV_CAPACITY`]);
//! * the per-request operation label is formatted only on error.
//!
//! Tried and dropped for lack of a measurable gain in the VM: destination
//! dumps on 8 or 16 sockets at once (netlink answers synchronously inside
//! the send and receive calls, so on one thread there is no latency to
//! hide), and `recvmmsg` taking a reply and its `NLMSG_DONE` in one call.

use std::fmt;

use netlink_packet_core::{DecodeError, NLM_F_DUMP, NLM_F_REQUEST, NlaBuffer};
use netlink_packet_generic::GenlHeader;

use super::socket::{BULK_RECV_CAPACITY, Socket};
use super::wire::{GENL_HDRLEN, NLMSG_HDRLEN, frame};
use super::{DumpedService, IpvsHandle, receive_reply, within_timeout};
use crate::codec::{
    DestAttr, IPVS_CMD_ATTR_DEST, IPVS_CMD_ATTR_SERVICE, IPVS_DEST_ATTR_STATS,
    IPVS_DEST_ATTR_STATS64, IPVS_SVC_ATTR_STATS, IPVS_SVC_ATTR_STATS64, IpvsAttr, IpvsCmd,
    IpvsMessage, RawAttr, SvcAttr, walk,
};
use crate::error::{IpvsError, ModelError};
use crate::model::{
    DestFields, DestinationEntry, Family, ServiceEntry, ServiceKey, Stats, SvcFields,
};

/// Why a dump reply could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// Malformed netlink or attribute bytes.
    #[error("{0}")]
    Codec(#[from] DecodeError),
    /// Well-formed attributes that do not make a service or destination.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// `op` of [`IpvsError::Decode`] for a reply that could not be read.
fn read_err(op: &(impl fmt::Display + ?Sized), e: ReadError) -> IpvsError {
    IpvsError::Decode {
        op: op.to_string(),
        reason: e.to_string(),
    }
}

/// The label of one destination dump, formatted only if it fails.
struct DestDump<'a>(&'a ServiceKey);

impl fmt::Display for DestDump<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dump destinations of {}", self.0)
    }
}

impl IpvsHandle {
    /// All services (one dump), without destinations. The dump runs on a
    /// socket opened for it (see [`BULK_RECV_CAPACITY`]).
    pub async fn services(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        let op = "dump services";
        let mut sock = Socket::open_with(BULK_RECV_CAPACITY)?;
        let seq = sock.next_seq(1);
        let mut buf = Vec::new();
        let msg = IpvsMessage::new(IpvsCmd::GetService, vec![]);
        frame(&mut buf, &msg, self.family, NLM_F_REQUEST | NLM_F_DUMP, seq);
        let mut out = Vec::new();
        within_timeout(op, async {
            sock.send(&buf, op).await?;
            receive_reply(&mut sock, self.family, seq, op, |bytes| {
                if let Some(s) = service_of_message(bytes).map_err(|e| read_err(op, e))? {
                    out.push(s);
                }
                Ok(())
            })
            .await
        })
        .await?;
        Ok(out)
    }

    /// The destinations of one service (one dump).
    pub async fn destinations(
        &mut self,
        key: &ServiceKey,
    ) -> Result<Vec<DestinationEntry>, IpvsError> {
        let op = DestDump(key);
        let family = key.family();
        let mut dests = Vec::new();
        self.exchange(&get_dests(key), true, &op, |bytes| {
            dests_of_message(bytes, family, &mut dests).map_err(|e| read_err(&op, e))
        })
        .await?;
        Ok(dests)
    }

    /// The whole table: every service with its destinations, in kernel
    /// order. One service dump, then one destination dump per service (the
    /// kernel has no all-destinations dump, and a netlink socket runs one
    /// dump at a time).
    pub async fn dump(&mut self) -> Result<Vec<DumpedService>, IpvsError> {
        let services = self.services().await?;
        let mut out = Vec::with_capacity(services.len());
        for service in services {
            // Netlink answers within the send and receive calls, so the socket is always
            // ready and this loop would never yield: seconds at 36,800 destinations in an
            // emulated VM, during which a caller's `select!` (a stop, a reload that goes
            // first) is never polled. Yield every tokio budget's worth of services.
            tokio::task::coop::consume_budget().await;
            let dests = self.destinations(&service.service.key).await?;
            out.push(DumpedService { service, dests });
        }
        Ok(out)
    }
}

/// `GET_DEST` for one service.
fn get_dests(key: &ServiceKey) -> IpvsMessage {
    IpvsMessage::new(IpvsCmd::GetDest, vec![IpvsAttr::Service(key.to_attrs())])
}

/// The top-level attributes of one family message (`bytes` with its
/// netlink header, as the receive loop hands it over), and whether they use
/// the info numbering (see [`IpvsCmd::uses_info_attrs`]). The same checks
/// as [`crate::decode_message`].
fn top_attrs(
    bytes: &[u8],
) -> Result<(impl Iterator<Item = Result<RawAttr<'_>, DecodeError>>, bool), DecodeError> {
    let payload = bytes
        .get(NLMSG_HDRLEN..)
        .ok_or_else(|| DecodeError::from("message shorter than its netlink header"))?;
    let header = GenlHeader::parse(payload)?;
    let info = IpvsCmd::from(header.cmd).uses_info_attrs();
    Ok((walk(&payload[GENL_HDRLEN..]), info))
}

/// The service of one `GET_SERVICE` dump reply: its first
/// `IPVS_CMD_ATTR_SERVICE`. Every other attribute is still parsed, so a
/// malformed one fails as decoding the whole message does.
pub(crate) fn service_of_message(bytes: &[u8]) -> Result<Option<ServiceEntry>, ReadError> {
    let (attrs, info) = top_attrs(bytes)?;
    let mut found = None;
    for a in attrs {
        let a = a?;
        if !info && a.kind == IPVS_CMD_ATTR_SERVICE && found.is_none() {
            found = Some(service_nest(a.value)?);
        } else {
            IpvsAttr::parse_top(&NlaBuffer::new(a.raw), info)?;
        }
    }
    Ok(found)
}

/// Append the destinations of one `GET_DEST` dump reply (every
/// `IPVS_CMD_ATTR_DEST` in it) to `out`.
pub(crate) fn dests_of_message(
    bytes: &[u8],
    service_family: Family,
    out: &mut Vec<DestinationEntry>,
) -> Result<(), ReadError> {
    let (attrs, info) = top_attrs(bytes)?;
    for a in attrs {
        let a = a?;
        if !info && a.kind == IPVS_CMD_ATTR_DEST {
            out.push(dest_nest(a.value, service_family)?);
        } else {
            IpvsAttr::parse_top(&NlaBuffer::new(a.raw), info)?;
        }
    }
    Ok(())
}

/// A service from the value of its nest: every attribute parsed as
/// [`SvcAttr::parse`] does (unknown ones skipped: they never fail and are
/// ignored), stats nests straight into [`Stats`].
fn service_nest(nest: &[u8]) -> Result<ServiceEntry, ReadError> {
    let mut fields = SvcFields::default();
    for a in walk(nest) {
        let a = a?;
        match a.kind {
            IPVS_SVC_ATTR_STATS => fields.take_stats(false, Stats::decode_nest(a.value)?),
            IPVS_SVC_ATTR_STATS64 => fields.take_stats(true, Stats::decode_nest(a.value)?),
            kind => {
                if let Some(attr) = SvcAttr::parse_known(kind, a.value)? {
                    fields.take(&attr);
                }
            }
        }
    }
    Ok(fields.finish()?)
}

/// A destination from the value of its nest: every attribute parsed as
/// [`DestAttr::parse`] does (unknown ones skipped: they never fail and are
/// ignored), stats nests straight into [`Stats`].
fn dest_nest(nest: &[u8], service_family: Family) -> Result<DestinationEntry, ReadError> {
    let mut fields = DestFields::default();
    for a in walk(nest) {
        let a = a?;
        match a.kind {
            IPVS_DEST_ATTR_STATS => fields.take_stats(false, Stats::decode_nest(a.value)?),
            IPVS_DEST_ATTR_STATS64 => fields.take_stats(true, Stats::decode_nest(a.value)?),
            kind => {
                if let Some(attr) = DestAttr::parse_known(kind, a.value)? {
                    fields.take(&attr);
                }
            }
        }
    }
    Ok(fields.finish(service_family)?)
}

#[cfg(test)]
#[path = "dump_tests.rs"]
mod tests;
