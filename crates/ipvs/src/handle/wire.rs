//! Framing: requests into one send buffer, replies out of a receive buffer.
//!
//! Requests are framed by hand rather than through `NetlinkMessage` so a
//! batch of thousands of operations is written straight into one buffer
//! without cloning each payload; `tests::framing_matches_library` checks the
//! bytes are the ones `NetlinkMessage::serialize` produces.

use netlink_packet_core::{
    DecodeError, Emitable, NLM_F_ACK_TLVS, NLMSG_DONE, NLMSG_ERROR, NetlinkBuffer, NetlinkMessage,
};
use netlink_packet_generic::{GenlFamily, GenlMessage};

use crate::codec::IpvsMessage;

/// Netlink header length.
pub(crate) const NLMSG_HDRLEN: usize = 16;
/// Generic netlink header length.
pub(crate) const GENL_HDRLEN: usize = 4;
/// `NLMSGERR_ATTR_MSG`: extended ack text.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// Append one framed request to `out`.
pub(crate) fn frame(out: &mut Vec<u8>, msg: &IpvsMessage, family: u16, flags: u16, seq: u32) {
    let total = NLMSG_HDRLEN + GENL_HDRLEN + msg.buffer_len();
    let start = out.len();
    out.resize(start + total, 0);
    let b = &mut out[start..];
    b[0..4].copy_from_slice(&(total as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&family.to_ne_bytes());
    b[6..8].copy_from_slice(&flags.to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    // Port id 0: the message is for the kernel.
    b[16] = msg.command();
    b[17] = msg.version();
    msg.emit(&mut b[NLMSG_HDRLEN + GENL_HDRLEN..]);
}

/// One message out of a receive buffer.
#[derive(Debug)]
pub(crate) enum Reply<'a> {
    /// `NLMSG_ERROR`: errno 0 is an ack.
    Error {
        seq: u32,
        errno: i32,
        extack: Option<String>,
    },
    /// `NLMSG_DONE`, ending a dump; `errno` is the dump's final status.
    Done { seq: u32, errno: i32 },
    /// A message of the family (or another type), raw bytes including the header.
    Data {
        seq: u32,
        msg_type: u16,
        bytes: &'a [u8],
    },
}

/// Split a receive buffer into messages.
pub(crate) fn split(buf: &[u8]) -> impl Iterator<Item = Result<Reply<'_>, DecodeError>> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        if at >= buf.len() {
            return None;
        }
        let rest = &buf[at..];
        let nl = match NetlinkBuffer::new_checked(rest) {
            Ok(nl) => nl,
            Err(e) => {
                at = buf.len();
                return Some(Err(e));
            }
        };
        let len = nl.length() as usize;
        let bytes = &rest[..len];
        at += (len + 3) & !3;
        let seq = nl.sequence_number();
        let payload = &bytes[NLMSG_HDRLEN..];
        Some(Ok(match nl.message_type() {
            NLMSG_ERROR => {
                let Some(code) = payload.get(..4) else {
                    return Some(Err(DecodeError::from("truncated NLMSG_ERROR")));
                };
                // wrapping: a hostile i32::MIN must not panic.
                let errno = i32::from_ne_bytes([code[0], code[1], code[2], code[3]]).wrapping_neg();
                let extack = if nl.flags() & NLM_F_ACK_TLVS != 0 {
                    extack_msg(payload)
                } else {
                    None
                };
                Reply::Error { seq, errno, extack }
            }
            NLMSG_DONE => {
                let errno = payload
                    .get(..4)
                    .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]).wrapping_neg())
                    .unwrap_or(0);
                Reply::Done { seq, errno }
            }
            msg_type => Reply::Data {
                seq,
                msg_type,
                bytes,
            },
        }))
    })
}

/// The extended-ack message of an `NLMSG_ERROR` payload: after the errno
/// and the echoed request header (we ask for capped acks, so only the
/// header is echoed unless the kernel ignored that).
fn extack_msg(payload: &[u8]) -> Option<String> {
    let orig_len = payload
        .get(4..8)
        .map(|l| u32::from_ne_bytes([l[0], l[1], l[2], l[3]]) as usize)?;
    // NLM_F_CAPPED (0x100) on the error message says the echo is header-only;
    // we cannot see that flag here, so try header-only first, then full.
    for echoed in [NLMSG_HDRLEN, (orig_len + 3) & !3] {
        let Some(tlvs) = payload.get(4 + echoed..) else {
            continue;
        };
        if let Some(m) = find_msg_tlv(tlvs) {
            return Some(m);
        }
    }
    None
}

fn find_msg_tlv(mut tlvs: &[u8]) -> Option<String> {
    while tlvs.len() >= 4 {
        let len = u16::from_ne_bytes([tlvs[0], tlvs[1]]) as usize;
        let kind = u16::from_ne_bytes([tlvs[2], tlvs[3]]) & 0x3fff;
        if len < 4 || len > tlvs.len() {
            return None;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let v = &tlvs[4..len];
            let v = v.strip_suffix(&[0]).unwrap_or(v);
            return std::str::from_utf8(v).ok().map(str::to_owned);
        }
        tlvs = tlvs.get((len + 3) & !3..)?;
    }
    None
}

/// One message of a received datagram, decoded as the handle decodes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatagramMessage {
    /// `NLMSG_ERROR`: errno 0 is an ack; `extack` is the kernel's text.
    Error {
        /// Sequence number of the request answered.
        seq: u32,
        /// Positive errno, 0 for an ack.
        errno: i32,
        /// Extended-ack message.
        extack: Option<String>,
    },
    /// `NLMSG_DONE` ending a dump.
    Done {
        /// Sequence number of the dump request.
        seq: u32,
        /// The dump's final status (positive errno).
        errno: i32,
    },
    /// A message of the given (family) type, decoded as IPVS.
    Ipvs(IpvsMessage),
}

/// Decode every message of one received datagram: the reply decoder the
/// handle uses on kernel input, public so it can be fuzzed. Non-error,
/// non-done messages are decoded as IPVS whatever their type.
pub fn decode_datagram(buf: &[u8]) -> Vec<Result<DatagramMessage, DecodeError>> {
    split(buf)
        .map(|r| {
            r.and_then(|reply| match reply {
                Reply::Error { seq, errno, extack } => {
                    Ok(DatagramMessage::Error { seq, errno, extack })
                }
                Reply::Done { seq, errno } => Ok(DatagramMessage::Done { seq, errno }),
                Reply::Data { bytes, .. } => decode_message(bytes).map(DatagramMessage::Ipvs),
            })
        })
        .collect()
}

/// One request as the handle frames it (netlink header, generic header,
/// attributes), for tests, tools and fuzzing.
pub fn encode_message(msg: &IpvsMessage, family: u16, flags: u16, seq: u32) -> Vec<u8> {
    let mut out = Vec::new();
    frame(&mut out, msg, family, flags, seq);
    out
}

/// Decode one family message (raw bytes with the netlink header).
pub fn decode_message(bytes: &[u8]) -> Result<IpvsMessage, DecodeError> {
    let msg = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(bytes)?;
    match msg.payload {
        netlink_packet_core::NetlinkPayload::InnerMessage(genl) => Ok(genl.payload),
        other => Err(DecodeError::from(format!(
            "not an IPVS message: type {}",
            other.message_type()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{IpvsAttr, IpvsCmd, SvcAttr};
    use netlink_packet_core::{NLM_F_ACK, NLM_F_REQUEST, NetlinkHeader, NetlinkPayload};

    #[test]
    fn framing_matches_library() {
        let msg = IpvsMessage::new(
            IpvsCmd::DelService,
            vec![IpvsAttr::Service(vec![
                SvcAttr::Af(2),
                SvcAttr::Fwmark(7),
                SvcAttr::SchedName("wlc".into()),
            ])],
        );
        let mut ours = Vec::new();
        frame(&mut ours, &msg, 0x1c, NLM_F_REQUEST | NLM_F_ACK, 42);

        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK;
        header.sequence_number = 42;
        let mut genl = GenlMessage::from_payload(msg.clone());
        genl.set_resolved_family_id(0x1c);
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(genl));
        nl.finalize();
        let mut theirs = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut theirs);
        assert_eq!(ours, theirs);
        assert_eq!(decode_message(&ours).expect("decodes"), msg);
    }

    #[test]
    fn error_with_extack_text() {
        // nlmsghdr(error) + errno -22 + echoed header (capped) + MSG tlv.
        let mut b = Vec::new();
        let tlv_text = b"bad weight\0";
        let tlv_len = 4 + tlv_text.len();
        let total = 16 + 4 + 16 + ((tlv_len + 3) & !3);
        b.extend_from_slice(&(total as u32).to_ne_bytes());
        b.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        b.extend_from_slice(&(0x100u16 | NLM_F_ACK_TLVS).to_ne_bytes());
        b.extend_from_slice(&9u32.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&(-22i32).to_ne_bytes());
        b.extend_from_slice(&[0u8; 16]);
        b[20..24].copy_from_slice(&60u32.to_ne_bytes()); // echoed header: original length 60
        b.extend_from_slice(&(tlv_len as u16).to_ne_bytes());
        b.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        b.extend_from_slice(tlv_text);
        b.resize(total, 0);
        let replies: Vec<_> = split(&b).collect::<Result<_, _>>().expect("splits");
        match &replies[..] {
            [
                Reply::Error {
                    seq: 9,
                    errno: 22,
                    extack: Some(m),
                },
            ] => assert_eq!(m, "bad weight"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn errno_of_i32_min_does_not_overflow() {
        // Found by the fuzzer: NLMSG_DONE / NLMSG_ERROR carrying i32::MIN.
        for msg_type in [NLMSG_DONE, NLMSG_ERROR] {
            let mut b = Vec::new();
            b.extend_from_slice(&36u32.to_ne_bytes());
            b.extend_from_slice(&msg_type.to_ne_bytes());
            b.extend_from_slice(&[0u8; 10]);
            b.extend_from_slice(&i32::MIN.to_ne_bytes());
            b.resize(36, 0);
            assert_eq!(decode_datagram(&b).len(), 1);
        }
    }

    #[test]
    fn split_rejects_truncated_without_panicking() {
        for cut in 0..20 {
            let buf = [
                0x14u8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ];
            let _ = split(&buf[..cut]).count();
        }
    }
}
