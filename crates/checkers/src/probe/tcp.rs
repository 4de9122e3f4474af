//! `TCP_CHECK` (`check_tcp.c`): up when a TCP connect completes within `connect_timeout`.
//! The connection is closed at once; nothing is sent.

use super::{ConnOpts, ProbeError, ProbeSuccess};

/// A TCP connect check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TcpSpec {
    /// Target, binding and timeout.
    pub conn: ConnOpts,
}

pub(crate) async fn probe(spec: &TcpSpec) -> Result<ProbeSuccess, ProbeError> {
    let stream = spec.conn.tcp_connect().await?;
    drop(stream);
    Ok(ProbeSuccess::default())
}
