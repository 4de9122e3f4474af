//! `ipvsadm` rule syntax (`ipvsadm -S -n`, `ipvsadm -R`) to and from the
//! typed model, so both directions of the round trip compare structures,
//! not screen text.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rk_ipvs::{
    DestKey, Destination, DumpedService, Family, Forward, Persistence, Protocol, Service,
    ServiceFlags, ServiceKey, TunnelFlags, TunnelType,
};

/// A table: each service with its destinations sorted by key.
pub type Table = BTreeMap<ServiceKey, (Service, BTreeMap<DestKey, Destination>)>;

/// The table our dump returned, in comparable form.
pub fn table_of_dump(dump: &[DumpedService]) -> Table {
    dump.iter()
        .map(|d| {
            let dests = d.dests.iter().map(|e| (e.dest.key, e.dest)).collect();
            (d.service.service.key, (d.service.service.clone(), dests))
        })
        .collect()
}

fn split_addr_port(s: &str) -> Result<(IpAddr, u16), String> {
    let (addr, port) = if let Some(rest) = s.strip_prefix('[') {
        let (a, p) = rest.split_once("]:").ok_or(format!("bad address {s}"))?;
        (a, p)
    } else {
        s.rsplit_once(':').ok_or(format!("bad address {s}"))?
    };
    Ok((
        addr.parse().map_err(|e| format!("{s}: {e}"))?,
        port.parse().map_err(|e| format!("{s}: {e}"))?,
    ))
}

fn prefix_of(netmask: &str, family: Family) -> Result<u8, String> {
    match family {
        Family::Inet => {
            let m: std::net::Ipv4Addr = netmask
                .parse()
                .map_err(|e| format!("netmask {netmask}: {e}"))?;
            Ok(u32::from(m).leading_ones() as u8)
        }
        Family::Inet6 => netmask
            .parse()
            .map_err(|e| format!("prefix {netmask}: {e}")),
    }
}

/// Parse `ipvsadm -S -n` output (or the same syntax written by hand).
pub fn parse_rules(text: &str) -> Result<Table, String> {
    let mut table = Table::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut key: Option<ServiceKey> = None;
        let mut is_dest = false;
        let mut sched = "wlc".to_string();
        let mut persistent: Option<u32> = None;
        let mut netmask: Option<String> = None;
        let mut flags = ServiceFlags::NONE;
        let mut pe = None;
        let mut real: Option<(IpAddr, u16)> = None;
        // ipvsadm's default forwarding method is direct routing.
        let mut forward = Forward::DirectRoute;
        let (mut weight, mut upper, mut lower) = (1u32, 0u32, 0u32);
        let (mut tun_type, mut tun_port, mut tun_flags) =
            (TunnelType::Ipip, 0u16, TunnelFlags::NOCSUM);
        let mut v6 = false;
        let mut i = 0;
        let next = |i: &mut usize| -> Result<&str, String> {
            *i += 1;
            words
                .get(*i)
                .copied()
                .ok_or(format!("{line}: missing value"))
        };
        while i < words.len() {
            match words[i] {
                "-A" => {}
                "-a" => is_dest = true,
                "-t" | "-u" | "--sctp-service" => {
                    let proto = match words[i] {
                        "-t" => Protocol::Tcp,
                        "-u" => Protocol::Udp,
                        _ => Protocol::Sctp,
                    };
                    let (addr, port) = split_addr_port(next(&mut i)?)?;
                    key = Some(ServiceKey::Tuple { proto, addr, port });
                }
                "-f" => {
                    let mark = next(&mut i)?.parse().map_err(|e| format!("{line}: {e}"))?;
                    key = Some(ServiceKey::Fwmark {
                        af: Family::Inet,
                        mark,
                    });
                }
                "-6" => v6 = true,
                "-s" => sched = next(&mut i)?.to_string(),
                "-p" => {
                    persistent = Some(next(&mut i)?.parse().map_err(|e| format!("{line}: {e}"))?)
                }
                "-M" => netmask = Some(next(&mut i)?.to_string()),
                "-o" => flags = flags | ServiceFlags::ONE_PACKET,
                "--pe" => pe = Some(next(&mut i)?.to_string()),
                "-b" => {
                    for f in next(&mut i)?.split(',') {
                        flags = flags
                            | match f {
                                "sh-fallback" | "mh-fallback" | "flag-1" => ServiceFlags::SCHED1,
                                "sh-port" | "mh-port" | "flag-2" => ServiceFlags::SCHED2,
                                "flag-3" => ServiceFlags::SCHED3,
                                other => return Err(format!("{line}: unknown flag {other}")),
                            };
                    }
                }
                "-r" => real = Some(split_addr_port(next(&mut i)?)?),
                "-g" => forward = Forward::DirectRoute,
                "-m" => forward = Forward::Masq,
                "-i" => forward = Forward::IPIP,
                "-w" => weight = next(&mut i)?.parse().map_err(|e| format!("{line}: {e}"))?,
                "-x" => upper = next(&mut i)?.parse().map_err(|e| format!("{line}: {e}"))?,
                "-y" => lower = next(&mut i)?.parse().map_err(|e| format!("{line}: {e}"))?,
                "--tun-type" => {
                    tun_type = match next(&mut i)? {
                        "ipip" => TunnelType::Ipip,
                        "gue" => TunnelType::Gue,
                        "gre" => TunnelType::Gre,
                        other => return Err(format!("{line}: tunnel type {other}")),
                    }
                }
                "--tun-port" => {
                    tun_port = next(&mut i)?.parse().map_err(|e| format!("{line}: {e}"))?
                }
                "--tun-nocsum" => tun_flags = TunnelFlags::NOCSUM,
                "--tun-csum" => tun_flags = TunnelFlags::CSUM,
                "--tun-remcsum" => tun_flags = TunnelFlags::REMCSUM,
                other => return Err(format!("{line}: unknown word {other}")),
            }
            i += 1;
        }
        let mut key = key.ok_or(format!("{line}: no service"))?;
        if let (true, ServiceKey::Fwmark { af, .. }) = (v6, &mut key) {
            *af = Family::Inet6;
        }
        if is_dest {
            let (addr, port) = real.ok_or(format!("{line}: no -r"))?;
            if let Forward::Tunnel { .. } = forward {
                forward = Forward::Tunnel {
                    tun_type,
                    port: tun_port,
                    flags: tun_flags,
                };
            }
            let dest = Destination {
                key: DestKey { addr, port },
                forward,
                weight,
                upper_threshold: upper,
                lower_threshold: lower,
            };
            let entry = table
                .get_mut(&key)
                .ok_or(format!("{line}: destination before its service"))?;
            entry.1.insert(dest.key, dest);
        } else {
            let family = key.family();
            let persistence = match persistent {
                Some(timeout) => Some(Persistence {
                    timeout,
                    prefix_len: match &netmask {
                        Some(m) => prefix_of(m, family)?,
                        None => family.full_prefix(),
                    },
                }),
                None => None,
            };
            let service = Service {
                key,
                scheduler: sched,
                flags,
                persistence,
                pe_name: pe,
            };
            table.insert(key, (service, BTreeMap::new()));
        }
    }
    Ok(table)
}

/// A readable difference between two tables ("" when equal).
pub fn diff(expected: &Table, actual: &Table) -> String {
    let mut out = String::new();
    for (k, (s, d)) in expected {
        match actual.get(k) {
            None => out.push_str(&format!("missing service {k}\n")),
            Some((s2, d2)) => {
                if s != s2 {
                    out.push_str(&format!(
                        "service {k}:\n  expected {s:?}\n  actual   {s2:?}\n"
                    ));
                }
                for (dk, dv) in d {
                    match d2.get(dk) {
                        None => out.push_str(&format!("{k}: missing destination {dk}\n")),
                        Some(dv2) if dv2 != dv => out.push_str(&format!(
                            "{k} -> {dk}:\n  expected {dv:?}\n  actual   {dv2:?}\n"
                        )),
                        Some(_) => {}
                    }
                }
                for dk in d2.keys().filter(|dk| !d.contains_key(dk)) {
                    out.push_str(&format!("{k}: unexpected destination {dk}\n"));
                }
            }
        }
    }
    for k in actual.keys().filter(|k| !expected.contains_key(k)) {
        out.push_str(&format!("unexpected service {k}\n"));
    }
    out
}
