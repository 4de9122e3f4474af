//! What tests ask of a namespace: MACs, addresses, neighbour entries (through `ip -j`).

use serde_json::Value;

use super::{Netns, NetnsError};

/// An address as `ip addr` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfAddr {
    /// `addr/prefix`.
    pub cidr: String,
    /// The label (`eth0:0`; the interface name when none was set).
    pub label: Option<String>,
}

fn json(ns: &Netns, argv: &[&str]) -> Result<Value, NetnsError> {
    let out = ns.cmd(argv)?;
    serde_json::from_str(&out).map_err(|e| NetnsError::Command {
        command: argv.join(" "),
        detail: format!("unreadable JSON ({e}): {out}"),
    })
}

impl Netns {
    /// The MAC of `ifname`, lower case.
    pub fn mac(&self, ifname: &str) -> Result<String, NetnsError> {
        let v = json(self, &["ip", "-j", "link", "show", "dev", ifname])?;
        v.get(0)
            .and_then(|l| l.get("address"))
            .and_then(Value::as_str)
            .map(str::to_lowercase)
            .ok_or_else(|| NetnsError::Command {
                command: format!("ip link show dev {ifname}"),
                detail: format!("no address in {v}"),
            })
    }

    /// The addresses of `ifname` (both families); empty if the interface does not exist.
    pub fn addresses(&self, ifname: &str) -> Vec<IfAddr> {
        let Ok(v) = json(self, &["ip", "-j", "addr", "show", "dev", ifname]) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for link in v.as_array().into_iter().flatten() {
            for a in link
                .get("addr_info")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(local), Some(len)) = (
                    a.get("local").and_then(Value::as_str),
                    a.get("prefixlen").and_then(Value::as_u64),
                ) else {
                    continue;
                };
                out.push(IfAddr {
                    cidr: format!("{local}/{len}"),
                    label: a.get("label").and_then(Value::as_str).map(String::from),
                });
            }
        }
        out
    }

    /// Whether `ifname` holds `addr` (with any prefix length).
    pub fn has_addr(&self, ifname: &str, addr: &str) -> bool {
        let want = format!("{addr}/");
        self.addresses(ifname)
            .iter()
            .any(|a| a.cidr.starts_with(&want))
    }

    /// The link-layer address the neighbour table holds for `ip` (lower case), if any.
    pub fn neigh(&self, ip: &str) -> Option<String> {
        let v = json(self, &["ip", "-j", "neigh", "show", ip]).ok()?;
        v.as_array()?
            .iter()
            .find_map(|n| n.get("lladdr").and_then(Value::as_str))
            .map(str::to_lowercase)
    }
}
