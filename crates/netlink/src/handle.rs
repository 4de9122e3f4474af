//! [`Netlink`]: a connection to the kernel's rtnetlink, and the request/response plumbing
//! every operation shares.

use std::fmt;

use futures::StreamExt;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::{Error, Result};

/// A connection to rtnetlink in the current network namespace.
///
/// Cheap to clone: clones share one socket, whose connection task runs on the tokio
/// runtime [`Netlink::connect`] was called on. Requests may be issued concurrently.
#[derive(Clone)]
pub struct Netlink {
    handle: rtnetlink::Handle,
}

impl fmt::Debug for Netlink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Netlink").finish_non_exhaustive()
    }
}

impl Netlink {
    /// Opens a netlink socket and spawns its connection task on the current tokio runtime.
    ///
    /// Panics outside a tokio runtime (as `tokio::spawn` does).
    pub fn connect() -> Result<Self> {
        let (conn, handle, _unsolicited) = rtnetlink::new_connection().map_err(Error::Socket)?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// Sends `msg` with `flags` and collects the inner messages of the answer; an
    /// `NLMSG_ERROR` with an errno becomes [`Error::Kernel`] naming `op`.
    pub(crate) async fn request(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
        op: impl Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = flags;
        let mut handle = self.handle.clone();
        let mut answer = handle
            .request(req)
            .map_err(|e| Error::from_rtnetlink(op(), e))?;
        let mut out = Vec::new();
        while let Some(m) = answer.next().await {
            match m.payload {
                NetlinkPayload::InnerMessage(inner) => out.push(inner),
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        return Err(Error::Kernel {
                            op: op(),
                            source: std::io::Error::from_raw_os_error(-code.get()),
                        });
                    }
                    // An ACK (code 0) ends a request that returns no data.
                }
                NetlinkPayload::Done(_) => break,
                NetlinkPayload::Overrun(_) => {
                    return Err(Error::UnexpectedReply {
                        op: op(),
                        detail: "overrun".into(),
                    });
                }
                // Noop and future payload kinds carry nothing for us.
                _ => {}
            }
        }
        Ok(out)
    }
}
