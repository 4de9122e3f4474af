//! The ownership record: what this daemon owns in the kernel's IPVS table, written to a
//! file so that the next process (after a crash, a `kill -9`, or a stop with
//! `lvs_keep_rules_on_stop`) knows its predecessor's leftovers from other tools' objects.
//!
//! IPVS has no field for a marker (VIPs carry `IFA_PROTO` 18; services and destinations
//! have nothing comparable), so the record is the marker. It is plain text, one object per
//! line, in key order:
//!
//! ```text
//! # rkeepalived IPVS ownership record 1
//! service tcp 192.0.2.10 80
//! dest 10.0.0.1 80
//! dest 10.0.0.2 80
//! service fwmark inet6 5
//! daemon master
//! ```
//!
//! `dest` lines belong to the `service` line above them. Protocols are `tcp`, `udp`,
//! `sctp` or a number; fwmark families `inet` or `inet6`; sync daemon roles `master` or
//! `backup`. Lines starting with `#` and blank lines are ignored.

use std::fmt::Write as _;
use std::net::IpAddr;

use rk_ipvs::{DestKey, Family, Protocol, ServiceKey, SyncRole};

use crate::table::Owned;

/// First line of a record; the number is the format's version.
pub const RECORD_HEADER: &str = "# rkeepalived IPVS ownership record 1";

/// A record that cannot be read. The daemon then claims nothing (leftovers stay, as
/// foreign objects do) and says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The first line is not [`RECORD_HEADER`] (another program's file, or a newer format).
    #[error("not an rkeepalived IPVS ownership record (first line {0:?})")]
    Header(String),
    /// A line that does not parse.
    #[error("line {line}: {why}: {text:?}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: &'static str,
        /// The line.
        text: String,
    },
}

impl Owned {
    /// The record of these objects (see the module docs).
    pub fn to_record(&self) -> String {
        let mut out = String::with_capacity(64 + self.service_count() * 48);
        out.push_str(RECORD_HEADER);
        out.push('\n');
        for s in self.services() {
            write_service(&mut out, s);
            for d in self.dests_of(s) {
                let _ = writeln!(out, "dest {} {}", d.addr, d.port);
            }
        }
        for role in self.daemons() {
            let _ = writeln!(
                out,
                "daemon {}",
                match role {
                    SyncRole::Master => "master",
                    SyncRole::Backup => "backup",
                }
            );
        }
        out
    }

    /// Reads a record written by [`Owned::to_record`].
    pub fn from_record(text: &str) -> Result<Owned, RecordError> {
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, l)) if l.trim_end() == RECORD_HEADER => {}
            other => {
                return Err(RecordError::Header(
                    other.map(|(_, l)| l).unwrap_or("").into(),
                ));
            }
        }
        let mut owned = Owned::new();
        let mut current: Option<ServiceKey> = None;
        for (n, raw) in lines {
            let bad = |why| RecordError::Line {
                line: n + 1,
                why,
                text: raw.to_string(),
            };
            let words: Vec<&str> = raw.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                [first, ..] if first.starts_with('#') => {}
                ["service", "fwmark", af, mark] => {
                    let af = match *af {
                        "inet" => Family::Inet,
                        "inet6" => Family::Inet6,
                        _ => return Err(bad("unknown family")),
                    };
                    let mark = mark.parse().map_err(|_| bad("bad mark"))?;
                    let key = ServiceKey::Fwmark { af, mark };
                    owned.claim_service(key);
                    current = Some(key);
                }
                ["service", proto, addr, port] => {
                    let proto = match *proto {
                        "tcp" => Protocol::Tcp,
                        "udp" => Protocol::Udp,
                        "sctp" => Protocol::Sctp,
                        n => Protocol::from_number(n.parse().map_err(|_| bad("bad protocol"))?),
                    };
                    let addr: IpAddr = addr.parse().map_err(|_| bad("bad address"))?;
                    let port = port.parse().map_err(|_| bad("bad port"))?;
                    let key = ServiceKey::Tuple { proto, addr, port };
                    owned.claim_service(key);
                    current = Some(key);
                }
                ["dest", addr, port] => {
                    let service = current.ok_or_else(|| bad("a dest before any service"))?;
                    let dest = DestKey {
                        addr: addr.parse().map_err(|_| bad("bad address"))?,
                        port: port.parse().map_err(|_| bad("bad port"))?,
                    };
                    owned.claim_dest(service, dest);
                }
                ["daemon", "master"] => owned.claim_daemon(SyncRole::Master),
                ["daemon", "backup"] => owned.claim_daemon(SyncRole::Backup),
                _ => return Err(bad("unknown line")),
            }
        }
        Ok(owned)
    }
}

fn write_service(out: &mut String, s: &ServiceKey) {
    let _ = match s {
        ServiceKey::Fwmark { af, mark } => writeln!(
            out,
            "service fwmark {} {mark}",
            match af {
                Family::Inet => "inet",
                Family::Inet6 => "inet6",
            }
        ),
        ServiceKey::Tuple { proto, addr, port } => {
            let _ = match proto {
                Protocol::Tcp => out.write_str("service tcp"),
                Protocol::Udp => out.write_str("service udp"),
                Protocol::Sctp => out.write_str("service sctp"),
                Protocol::Other(n) => write!(out, "service {n}"),
            };
            writeln!(out, " {addr} {port}")
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(a: &str, port: u16) -> ServiceKey {
        ServiceKey::Tuple {
            proto: Protocol::Tcp,
            addr: a.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn round_trip() {
        let mut o = Owned::new();
        let s = tcp("192.0.2.10", 80);
        o.claim_service(s);
        o.claim_dest(
            s,
            DestKey {
                addr: "10.0.0.1".parse().unwrap(),
                port: 80,
            },
        );
        o.claim_dest(
            s,
            DestKey {
                addr: "2001:db8::1".parse().unwrap(),
                port: 8080,
            },
        );
        o.claim_service(ServiceKey::Tuple {
            proto: Protocol::Other(33),
            addr: "2001:db8::10".parse().unwrap(),
            port: 0,
        });
        o.claim_service(ServiceKey::Tuple {
            proto: Protocol::Udp,
            addr: "192.0.2.11".parse().unwrap(),
            port: 53,
        });
        o.claim_service(ServiceKey::Fwmark {
            af: Family::Inet6,
            mark: 5,
        });
        o.claim_daemon(SyncRole::Backup);
        let text = o.to_record();
        assert!(text.starts_with(RECORD_HEADER));
        assert!(
            text.contains("service tcp 192.0.2.10 80\ndest 10.0.0.1 80\ndest 2001:db8::1 8080\n")
        );
        assert!(text.contains("service fwmark inet6 5\n"));
        assert!(text.contains("service 33 2001:db8::10 0\n"));
        assert_eq!(Owned::from_record(&text), Ok(o));
    }

    #[test]
    fn refuses_what_it_did_not_write() {
        assert!(matches!(
            Owned::from_record("hello\n"),
            Err(RecordError::Header(_))
        ));
        assert!(matches!(
            Owned::from_record(""),
            Err(RecordError::Header(_))
        ));
        let bad = format!("{RECORD_HEADER}\ndest 10.0.0.1 80\n");
        assert!(matches!(
            Owned::from_record(&bad),
            Err(RecordError::Line { line: 2, .. })
        ));
        let bad = format!("{RECORD_HEADER}\nservice tcp 10.0.0.300 80\n");
        assert!(matches!(
            Owned::from_record(&bad),
            Err(RecordError::Line { line: 2, .. })
        ));
        let ok = format!("{RECORD_HEADER}\n\n# comment\nservice udp 10.0.0.1 53\n");
        assert_eq!(Owned::from_record(&ok).map(|o| o.service_count()), Ok(1));
    }
}
