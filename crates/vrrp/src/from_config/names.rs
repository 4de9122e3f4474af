//! iproute2's names for routing tables and route protocols (`/etc/iproute2/rt_tables`,
//! `rt_protos` and their `.d/*.conf` directories), as `ip route` and keepalived resolve
//! them.

use std::collections::HashMap;
use std::path::Path;

/// Names of tables and protocols.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtNames {
    tables: HashMap<String, u32>,
    protos: HashMap<String, u8>,
}

impl Default for RtNames {
    /// The names built into iproute2, which every system has even without the files.
    fn default() -> Self {
        let tables = [
            ("unspec", 0),
            ("default", 253),
            ("main", 254),
            ("local", 255),
        ];
        let protos = [
            ("unspec", 0),
            ("redirect", 1),
            ("kernel", 2),
            ("boot", 3),
            ("static", 4),
            ("gated", 8),
            ("ra", 9),
            ("mrt", 10),
            ("zebra", 11),
            ("bird", 12),
            ("dnrouted", 13),
            ("xorp", 14),
            ("ntk", 15),
            ("dhcp", 16),
            ("keepalived", 18),
            ("babel", 42),
            ("bgp", 186),
            ("isis", 187),
            ("ospf", 188),
            ("rip", 189),
            ("eigrp", 192),
        ];
        RtNames {
            tables: tables.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
            protos: protos.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        }
    }
}

impl RtNames {
    /// The built-in names, then those of `dir` (normally `/etc/iproute2`): `rt_tables`,
    /// `rt_tables.d/*.conf`, `rt_protos`, `rt_protos.d/*.conf`. Missing or unreadable
    /// files add nothing (a minimal system has none).
    pub fn load(dir: &Path) -> RtNames {
        let mut n = RtNames::default();
        for (file, sub) in [("rt_tables", "rt_tables.d"), ("rt_protos", "rt_protos.d")] {
            let mut texts = Vec::new();
            if let Ok(t) = std::fs::read_to_string(dir.join(file)) {
                texts.push(t);
            }
            if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
                let mut paths: Vec<_> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                    .collect();
                paths.sort();
                texts.extend(paths.iter().filter_map(|p| std::fs::read_to_string(p).ok()));
            }
            for t in texts {
                if file == "rt_tables" {
                    n.add_tables(&t);
                } else {
                    n.add_protos(&t);
                }
            }
        }
        n
    }

    /// The system's names (`/etc/iproute2`).
    pub fn system() -> RtNames {
        RtNames::load(Path::new("/etc/iproute2"))
    }

    /// Adds `NUMBER NAME` lines (`#` comments), as in `rt_tables`.
    pub fn add_tables(&mut self, text: &str) {
        for (num, name) in entries(text) {
            if let Ok(v) = parse_number::<u32>(num) {
                self.tables.insert(name.to_string(), v);
            }
        }
    }

    /// Adds `NUMBER NAME` lines, as in `rt_protos`.
    pub fn add_protos(&mut self, text: &str) {
        for (num, name) in entries(text) {
            if let Ok(v) = parse_number::<u8>(num) {
                self.protos.insert(name.to_string(), v);
            }
        }
    }

    /// A table by name or number (`ip route`'s rules: a number is a number).
    pub fn table(&self, s: &str) -> Option<u32> {
        parse_number(s).ok().or_else(|| self.tables.get(s).copied())
    }

    /// A route protocol by name or number.
    pub fn proto(&self, s: &str) -> Option<u8> {
        parse_number(s).ok().or_else(|| self.protos.get(s).copied())
    }
}

fn entries(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|l| {
        let l = l.split('#').next().unwrap_or("");
        let mut w = l.split_whitespace();
        Some((w.next()?, w.next()?))
    })
}

/// A decimal or `0x` hexadecimal number.
pub(super) fn parse_number<T: TryFrom<u64>>(s: &str) -> Result<T, ()> {
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).map_err(|_| ())?,
        None => s.parse::<u64>().map_err(|_| ())?,
    };
    T::try_from(v).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_and_file_names() {
        let mut n = RtNames::default();
        assert_eq!(n.table("main"), Some(254));
        assert_eq!(n.table("local"), Some(255));
        assert_eq!(n.table("default"), Some(253));
        assert_eq!(n.table("1000"), Some(1000));
        assert_eq!(n.table("0x10"), Some(16));
        assert_eq!(n.table("vpn"), None);
        n.add_tables("# comment\n100\tvpn # the VPN\n 0x200 big\nbad line\n");
        assert_eq!(n.table("vpn"), Some(100));
        assert_eq!(n.table("big"), Some(512));
        assert_eq!(n.proto("keepalived"), Some(18));
        assert_eq!(n.proto("static"), Some(4));
        assert_eq!(n.proto("300"), None);
        n.add_protos("99 mine\n");
        assert_eq!(n.proto("mine"), Some(99));
    }

    #[test]
    fn load_reads_the_files_and_their_directories() {
        let dir = std::env::temp_dir().join(format!("rk-rtnames-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rt_tables.d")).unwrap();
        std::fs::write(dir.join("rt_tables"), "200 isp1\n").unwrap();
        std::fs::write(dir.join("rt_tables.d/x.conf"), "201 isp2\n").unwrap();
        std::fs::write(dir.join("rt_tables.d/x.txt"), "202 isp3\n").unwrap();
        let n = RtNames::load(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(n.table("isp1"), Some(200));
        assert_eq!(n.table("isp2"), Some(201));
        assert_eq!(n.table("isp3"), None, "only .conf files count");
        assert_eq!(n.table("main"), Some(254));
    }
}
