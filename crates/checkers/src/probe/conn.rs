//! Connection options shared by the network checkers (`connect_ip`, `connect_port`,
//! `bindto`, `bind_port`, `bind_if`, `fwmark`, `connect_timeout`) and the sockets built
//! from them (keepalived's `layer4.c` `socket_bind_connect`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

use super::ProbeError;

/// Where and how a checker connects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnOpts {
    /// Target address and port (`connect_ip` / `connect_port`, defaulting to the real server).
    pub dst: SocketAddr,
    /// Source address (`bindto`).
    pub bindto: Option<IpAddr>,
    /// Source port (`bind_port`).
    pub bind_port: Option<u16>,
    /// Source interface (`bind_if`), needed for IPv6 link-local targets.
    pub bind_if: Option<String>,
    /// `SO_MARK` on the checker's packets (`fwmark`).
    pub fwmark: Option<u32>,
    /// Connect and I/O timeout (`connect_timeout`).
    pub timeout: Duration,
}

impl ConnOpts {
    /// Options for `dst` with keepalived's default 5 s timeout and no binding.
    pub fn new(dst: SocketAddr) -> Self {
        ConnOpts {
            dst,
            bindto: None,
            bind_port: None,
            bind_if: None,
            fwmark: None,
            timeout: Duration::from_secs(5),
        }
    }

    /// The same options with another timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn bind_addr(&self) -> Option<SocketAddr> {
        if self.bindto.is_none() && self.bind_port.is_none() {
            return None;
        }
        let ip = self.bindto.unwrap_or(match self.dst {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        });
        Some(SocketAddr::new(ip, self.bind_port.unwrap_or(0)))
    }

    /// A non-blocking socket of `ty`/`proto` for this target, marked, bound to its device
    /// and source address.
    pub(crate) fn socket(&self, ty: Type, proto: Protocol) -> Result<Socket, ProbeError> {
        let setup = |what: &str, e: io::Error| ProbeError::Setup(format!("{what}: {e}"));
        let sock = Socket::new(
            Domain::for_address(self.dst),
            ty.nonblocking().cloexec(),
            Some(proto),
        )
        .map_err(|e| setup("socket", e))?;
        if let Some(mark) = self.fwmark {
            sock.set_mark(mark).map_err(|e| setup("SO_MARK", e))?;
        }
        if let Some(dev) = &self.bind_if {
            sock.bind_device(Some(dev.as_bytes()))
                .map_err(|e| setup("SO_BINDTODEVICE", e))?;
        }
        if let Some(addr) = self.bind_addr() {
            if self.bind_port.is_some() {
                // A fixed source port is reused by every run; without this a run would fail
                // while the previous connection sits in TIME_WAIT.
                sock.set_reuse_address(true)
                    .map_err(|e| setup("SO_REUSEADDR", e))?;
            }
            sock.bind(&SockAddr::from(addr))
                .map_err(|e| setup("bind", e))?;
        }
        Ok(sock)
    }

    /// Connects a TCP stream within the timeout.
    pub(crate) async fn tcp_connect(&self) -> Result<TcpStream, ProbeError> {
        let sock = self.socket(Type::STREAM, Protocol::TCP)?;
        let std_stream: std::net::TcpStream = sock.into();
        let tsock = TcpSocket::from_std_stream(std_stream);
        match tokio::time::timeout(self.timeout, tsock.connect(self.dst)).await {
            Err(_) => Err(ProbeError::Timeout {
                stage: "connect",
                after: self.timeout,
            }),
            Ok(Err(e)) => Err(ProbeError::Connect(e.kind())),
            Ok(Ok(s)) => Ok(s),
        }
    }

    /// A UDP socket connected to the target.
    pub(crate) fn udp_connect(&self) -> Result<UdpSocket, ProbeError> {
        let sock = self.socket(Type::DGRAM, Protocol::UDP)?;
        sock.connect(&SockAddr::from(self.dst))
            .map_err(|e| ProbeError::Connect(e.kind()))?;
        let std_sock: std::net::UdpSocket = sock.into();
        UdpSocket::from_std(std_sock).map_err(|e| ProbeError::Setup(format!("register: {e}")))
    }
}

/// Runs `fut` with `after` as its timeout, naming the stage on expiry.
pub(crate) async fn timed<T>(
    stage: &'static str,
    after: Duration,
    fut: impl Future<Output = io::Result<T>>,
) -> Result<T, ProbeError> {
    match tokio::time::timeout(after, fut).await {
        Err(_) => Err(ProbeError::Timeout { stage, after }),
        Ok(Err(e)) => Err(ProbeError::io(stage, &e)),
        Ok(Ok(v)) => Ok(v),
    }
}
