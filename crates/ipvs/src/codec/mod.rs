//! The `IPVS` generic-netlink family as typed messages.
//!
//! Layout follows `netlink-packet-generic`'s `ctrl` module: a command enum,
//! a payload implementing [`GenlFamily`], and one attribute enum per nesting
//! level, named after the kernel's `IPVS_*_ATTR_*` constants
//! (`include/uapi/linux/ip_vs.h`). Every attribute enum has an
//! `Other(DefaultNla)` arm so attributes added by newer kernels are kept and
//! re-emitted unchanged instead of failing the whole message.

mod attr;
mod constants;
mod daemon;
mod dest;
mod service;
mod stats;

pub use attr::{InetAddr, IpvsAttr};
pub use constants::*;
pub use daemon::DaemonAttr;
pub use dest::DestAttr;
pub use service::{SvcAttr, SvcFlagsAttr};
pub use stats::StatsAttr;

use netlink_packet_core::{
    DecodeError, Emitable, ErrorContext, NLA_ALIGNTO, NLA_HEADER_SIZE, NLA_TYPE_MASK, NlasIterator,
    ParseableParametrized,
};
use netlink_packet_generic::{GenlFamily, GenlHeader};

/// IPVS generic-netlink commands (`IPVS_CMD_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpvsCmd {
    /// `IPVS_CMD_NEW_SERVICE`: add a virtual service; also the reply to service gets/dumps.
    NewService,
    /// `IPVS_CMD_SET_SERVICE`: modify a virtual service.
    SetService,
    /// `IPVS_CMD_DEL_SERVICE`: delete a virtual service and its destinations.
    DelService,
    /// `IPVS_CMD_GET_SERVICE`: get one service, or dump all of them.
    GetService,
    /// `IPVS_CMD_NEW_DEST`: add a destination; also the reply to destination dumps.
    NewDest,
    /// `IPVS_CMD_SET_DEST`: modify a destination.
    SetDest,
    /// `IPVS_CMD_DEL_DEST`: delete a destination.
    DelDest,
    /// `IPVS_CMD_GET_DEST`: dump the destinations of one service.
    GetDest,
    /// `IPVS_CMD_NEW_DAEMON`: start a sync daemon; also the reply to daemon dumps.
    NewDaemon,
    /// `IPVS_CMD_DEL_DAEMON`: stop a sync daemon.
    DelDaemon,
    /// `IPVS_CMD_GET_DAEMON`: dump the running sync daemons.
    GetDaemon,
    /// `IPVS_CMD_SET_CONFIG`: set the timeouts; also the reply to `GetConfig`.
    SetConfig,
    /// `IPVS_CMD_GET_CONFIG`: get the timeouts.
    GetConfig,
    /// `IPVS_CMD_SET_INFO`: only used as the reply to `GetInfo`.
    SetInfo,
    /// `IPVS_CMD_GET_INFO`: version and connection table size.
    GetInfo,
    /// `IPVS_CMD_ZERO`: zero the counters of one service, or of all.
    Zero,
    /// `IPVS_CMD_FLUSH`: delete every service and destination.
    Flush,
    /// A command number this crate does not know (kept, not rejected).
    Other(u8),
}

impl From<IpvsCmd> for u8 {
    fn from(cmd: IpvsCmd) -> u8 {
        use IpvsCmd::*;
        match cmd {
            NewService => IPVS_CMD_NEW_SERVICE,
            SetService => IPVS_CMD_SET_SERVICE,
            DelService => IPVS_CMD_DEL_SERVICE,
            GetService => IPVS_CMD_GET_SERVICE,
            NewDest => IPVS_CMD_NEW_DEST,
            SetDest => IPVS_CMD_SET_DEST,
            DelDest => IPVS_CMD_DEL_DEST,
            GetDest => IPVS_CMD_GET_DEST,
            NewDaemon => IPVS_CMD_NEW_DAEMON,
            DelDaemon => IPVS_CMD_DEL_DAEMON,
            GetDaemon => IPVS_CMD_GET_DAEMON,
            SetConfig => IPVS_CMD_SET_CONFIG,
            GetConfig => IPVS_CMD_GET_CONFIG,
            SetInfo => IPVS_CMD_SET_INFO,
            GetInfo => IPVS_CMD_GET_INFO,
            Zero => IPVS_CMD_ZERO,
            Flush => IPVS_CMD_FLUSH,
            Other(n) => n,
        }
    }
}

impl From<u8> for IpvsCmd {
    fn from(value: u8) -> IpvsCmd {
        use IpvsCmd::*;
        match value {
            IPVS_CMD_NEW_SERVICE => NewService,
            IPVS_CMD_SET_SERVICE => SetService,
            IPVS_CMD_DEL_SERVICE => DelService,
            IPVS_CMD_GET_SERVICE => GetService,
            IPVS_CMD_NEW_DEST => NewDest,
            IPVS_CMD_SET_DEST => SetDest,
            IPVS_CMD_DEL_DEST => DelDest,
            IPVS_CMD_GET_DEST => GetDest,
            IPVS_CMD_NEW_DAEMON => NewDaemon,
            IPVS_CMD_DEL_DAEMON => DelDaemon,
            IPVS_CMD_GET_DAEMON => GetDaemon,
            IPVS_CMD_SET_CONFIG => SetConfig,
            IPVS_CMD_GET_CONFIG => GetConfig,
            IPVS_CMD_SET_INFO => SetInfo,
            IPVS_CMD_GET_INFO => GetInfo,
            IPVS_CMD_ZERO => Zero,
            IPVS_CMD_FLUSH => Flush,
            n => Other(n),
        }
    }
}

impl IpvsCmd {
    /// Whether the top-level attributes of this command use the
    /// `IPVS_INFO_ATTR_*` numbering instead of `IPVS_CMD_ATTR_*`.
    ///
    /// The kernel answers `GET_INFO` with `SET_INFO` whose attributes are
    /// info attributes placed directly at the top level, and their numbers
    /// collide with the command attributes (1 is both `IPVS_CMD_ATTR_SERVICE`
    /// and `IPVS_INFO_ATTR_VERSION`), so the command decides.
    pub fn uses_info_attrs(self) -> bool {
        matches!(self, IpvsCmd::SetInfo | IpvsCmd::GetInfo)
    }
}

/// One `IPVS` generic-netlink message: a command and its attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpvsMessage {
    /// The command.
    pub cmd: IpvsCmd,
    /// The top-level attributes, in wire order.
    pub attrs: Vec<IpvsAttr>,
}

impl IpvsMessage {
    /// A message with the given command and attributes.
    pub fn new(cmd: IpvsCmd, attrs: Vec<IpvsAttr>) -> Self {
        IpvsMessage { cmd, attrs }
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        IPVS_GENL_NAME
    }

    fn command(&self) -> u8 {
        self.cmd.into()
    }

    fn version(&self) -> u8 {
        IPVS_GENL_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let cmd = IpvsCmd::from(header.cmd);
        let info = cmd.uses_info_attrs();
        let attrs = NlasIterator::new(buf)
            .map(|nla| nla.and_then(|nla| IpvsAttr::parse_top(&nla, info)))
            .collect::<Result<Vec<_>, _>>()
            .context("failed to parse IPVS message attributes")?;
        Ok(IpvsMessage { cmd, attrs })
    }
}

/// Parse the attributes of a nested attribute with `parse` per attribute.
pub(crate) fn parse_nested<T>(
    buf: &[u8],
    what: &'static str,
    parse: impl Fn(&netlink_packet_core::NlaBuffer<&[u8]>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    NlasIterator::new(buf)
        .map(|nla| nla.and_then(|nla| parse(&nla)))
        .collect::<Result<Vec<_>, _>>()
        .context(what)
}

/// One attribute as [`walk`] yields it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawAttr<'a> {
    /// Its type, without the `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER` flags
    /// (as `NlaBuffer::kind`).
    pub kind: u16,
    /// Its value, without padding.
    pub value: &'a [u8],
    /// The whole attribute, header included, without padding.
    pub raw: &'a [u8],
}

/// The attributes of `buf`, as `NlasIterator` reads them: the same checks
/// (header present, length at least the header, within the buffer), the
/// same end after the first malformed one, the same alignment. It reads
/// each header once; `NlaBuffer` re-reads and re-checks the header on every
/// accessor, which made up a good part of decoding a large dump.
pub(crate) fn walk(buf: &[u8]) -> impl Iterator<Item = Result<RawAttr<'_>, DecodeError>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let header = match rest {
            [l0, l1, t0, t1, ..] => Some((
                usize::from(u16::from_ne_bytes([*l0, *l1])),
                u16::from_ne_bytes([*t0, *t1]),
            )),
            _ => None,
        };
        let attr = match header {
            Some((len, kind)) if (NLA_HEADER_SIZE..=rest.len()).contains(&len) => RawAttr {
                kind: kind & NLA_TYPE_MASK,
                value: &rest[NLA_HEADER_SIZE..len],
                raw: &rest[..len],
            },
            _ => {
                let len = rest.len();
                rest = &[];
                return Some(Err(DecodeError::from(format!(
                    "malformed attribute header in the last {len} bytes"
                ))));
            }
        };
        rest = rest
            .get(attr.raw.len().next_multiple_of(NLA_ALIGNTO)..)
            .unwrap_or_default();
        Some(Ok(attr))
    })
}

/// Length of a NUL-terminated string attribute value, as `nla_put_string` writes it.
pub(crate) fn string_len(s: &str) -> usize {
    s.len() + 1
}

/// Write a NUL-terminated string attribute value.
pub(crate) fn emit_string(buffer: &mut [u8], s: &str) {
    buffer[..s.len()].copy_from_slice(s.as_bytes());
    buffer[s.len()] = 0;
}
