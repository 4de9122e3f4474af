//! `virtual_server_group NAME { IP [PORT] | IP-IP [PORT] | IP/len [PORT] | fwmark N }`.

use std::net::IpAddr;

use crate::diag::DiagKind;
use crate::lower::cx::Cx;
use crate::model::{Config, Family, VirtualServerGroup, VsgEntry};
use crate::tree::{Node, Token};

pub(in crate::lower) fn virtual_server_group(c: &mut Config, n: &Node, cx: &mut Cx<'_>) {
    let Some(name) = cx.block_name(n) else { return };
    let Some(lines) = crate::lower::named_value_lines(n, cx) else {
        return;
    };
    let mut g = VirtualServerGroup {
        name: name.text.to_string(),
        entries: Vec::new(),
        span: name.span,
    };
    let written = lines.len();
    for words in lines {
        if let Some(e) = vsg_entry(&words, cx) {
            g.entries.push(e);
        }
    }
    if written == 0 {
        cx.error(
            DiagKind::Arguments,
            name.span,
            format!("virtual_server_group {} is empty", name.text),
        );
        return;
    }
    c.virtual_server_groups.push(g);
}

fn vsg_entry(words: &[&Token], cx: &mut Cx<'_>) -> Option<VsgEntry> {
    let first = words[0];
    if first.text == "fwmark" {
        let Some(m) = words.get(1) else {
            cx.error(DiagKind::Arguments, first.span, "fwmark needs a number");
            return None;
        };
        let mark = cx.u32(m, 1, u32::MAX, "fwmark")?;
        let family = match words.get(2) {
            Some(t) => Some(match cx.choice(t, &["inet", "inet6"], "family")? {
                "inet" => Family::Inet,
                _ => Family::Inet6,
            }),
            None => None,
        };
        return Some(VsgEntry::Fwmark { mark, family });
    }
    let port = match words.get(1) {
        Some(p) => cx.u16(p, 0, 65535, "port")?,
        None => 0,
    };
    if let Some(extra) = words.get(2) {
        cx.error(
            DiagKind::Arguments,
            extra.span,
            format!("unexpected '{}'", extra.text),
        );
        return None;
    }
    let bad = |cx: &mut Cx<'_>| {
        cx.error(
            DiagKind::Value,
            first.span,
            format!(
                "'{}' is not an address, a range (A-B) or a prefix (A/len)",
                first.text
            ),
        );
    };
    let text = first.text.as_str();
    let (first_a, last_a) = if let Some((a, b)) = text.split_once('-') {
        let Ok(a) = a.parse::<IpAddr>() else {
            bad(cx);
            return None;
        };
        let last = if let Ok(b) = b.parse::<IpAddr>() {
            b
        } else {
            // `10.0.0.1-10`: the last octet (or IPv6 group) only.
            match a {
                IpAddr::V4(v4) => {
                    let Ok(o) = b.parse::<u8>() else {
                        bad(cx);
                        return None;
                    };
                    let mut oct = v4.octets();
                    oct[3] = o;
                    IpAddr::V4(oct.into())
                }
                IpAddr::V6(v6) => {
                    let Ok(s) = u16::from_str_radix(b, 16) else {
                        bad(cx);
                        return None;
                    };
                    let mut seg = v6.segments();
                    seg[7] = s;
                    IpAddr::V6(seg.into())
                }
            }
        };
        (a, last)
    } else if let Some(p) = crate::model::IpPrefix::parse(text) {
        let (lo, hi) = prefix_range(p);
        (lo, hi)
    } else {
        bad(cx);
        return None;
    };
    if Family::of(&first_a) != Family::of(&last_a) || ip_ord(last_a) < ip_ord(first_a) {
        cx.error(
            DiagKind::Value,
            first.span,
            format!("range '{text}' ends before it starts"),
        );
        return None;
    }
    Some(VsgEntry::Range {
        first: first_a,
        last: last_a,
        port,
    })
}

fn ip_ord(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v) => u32::from(v).into(),
        IpAddr::V6(v) => u128::from(v),
    }
}

fn prefix_range(p: crate::model::IpPrefix) -> (IpAddr, IpAddr) {
    match p.addr {
        IpAddr::V4(v) => {
            let host = if p.len >= 32 { 0 } else { u32::MAX >> p.len };
            let base = u32::from(v) & !host;
            (IpAddr::V4(base.into()), IpAddr::V4((base | host).into()))
        }
        IpAddr::V6(v) => {
            let host = if p.len >= 128 { 0 } else { u128::MAX >> p.len };
            let base = u128::from(v) & !host;
            (IpAddr::V6(base.into()), IpAddr::V6((base | host).into()))
        }
    }
}
