//! The per-interface sysctls VRRP needs (`/proc/sys/net/ipv4/conf/IF/…`), each change
//! logged and remembered so it can be undone.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// `/proc/sys/net/ipv4/conf/<ifname>/<key>`.
pub fn ipv4_conf(ifname: &str, key: &str) -> PathBuf {
    Path::new("/proc/sys/net/ipv4/conf").join(ifname).join(key)
}

/// `/proc/sys/net/ipv6/conf/<ifname>/<key>`.
pub fn ipv6_conf(ifname: &str, key: &str) -> PathBuf {
    Path::new("/proc/sys/net/ipv6/conf").join(ifname).join(key)
}

/// Reads a sysctl, trimmed.
pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| Error::Sysctl {
            path: path.to_path_buf(),
            source,
        })
}

/// The `net.ipv4.conf.eth0.arp_ignore` form of a `/proc/sys` path, for logs.
pub fn dotted(path: &Path) -> String {
    path.strip_prefix("/proc/sys")
        .unwrap_or(path)
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(".")
}

/// Sysctl changes to undo later, most recent last.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    entries: Vec<(PathBuf, String)>,
}

impl Changes {
    /// No changes.
    pub fn new() -> Self {
        Changes::default()
    }

    /// Sets `path` to `value`; when it held something else, logs the change (info) and
    /// remembers the previous value.
    pub fn set(&mut self, path: &Path, value: &str) -> Result<()> {
        let old = read(path)?;
        if old == value {
            return Ok(());
        }
        std::fs::write(path, value).map_err(|source| Error::Sysctl {
            path: path.to_path_buf(),
            source,
        })?;
        tracing::info!("set {} = {value} (was {old})", dotted(path));
        self.entries.push((path.to_path_buf(), old));
        Ok(())
    }

    /// Whether nothing was changed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The changed paths with their previous values, oldest first.
    pub fn entries(&self) -> &[(PathBuf, String)] {
        &self.entries
    }

    /// Appends `other`'s changes (to be undone before ours).
    pub fn extend(&mut self, other: Changes) {
        self.entries.extend(other.entries);
    }

    /// Puts every previous value back, newest first. Paths that disappeared (the
    /// interface was deleted) are skipped; other failures are logged and the rest still
    /// restored.
    pub fn restore(self) {
        for (path, old) in self.entries.into_iter().rev() {
            if !path.exists() {
                continue;
            }
            match std::fs::write(&path, &old) {
                Ok(()) => tracing::info!("restored {} = {old}", dotted(&path)),
                Err(e) => tracing::warn!("cannot restore {} = {old}: {e}", dotted(&path)),
            }
        }
    }
}

/// keepalived's `clear_rp_filter`: reverse-path filtering would drop traffic to VIPs on a
/// VMAC, and `all.rp_filter` overrides a lower per-interface value (the effective value is
/// the maximum). So when `all.rp_filter` is set, every interface gets
/// max(own, all) — its effective value does not change — and `all` goes to 0; the VMAC's
/// own 0 then takes effect. Returns the changes to undo at exit.
pub fn lower_all_rp_filter() -> Result<Changes> {
    let mut changes = Changes::new();
    let all = ipv4_conf("all", "rp_filter");
    let all_value: u32 = read(&all)?.parse().unwrap_or(0);
    if all_value == 0 {
        return Ok(changes);
    }
    let dir = Path::new("/proc/sys/net/ipv4/conf");
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Sysctl {
        path: dir.to_path_buf(),
        source,
    })?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "all" {
            continue;
        }
        let p = ipv4_conf(&name, "rp_filter");
        let own: u32 = read(&p)?.parse().unwrap_or(0);
        if own < all_value {
            changes.set(&p, &all_value.to_string())?;
        }
    }
    changes.set(&all, "0")?;
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_names() {
        assert_eq!(
            dotted(&ipv4_conf("vrrp.33", "arp_ignore")),
            "net.ipv4.conf.vrrp.33.arp_ignore"
        );
        assert_eq!(
            dotted(&ipv6_conf("eth0", "addr_gen_mode")),
            "net.ipv6.conf.eth0.addr_gen_mode"
        );
    }

    #[test]
    fn set_and_restore_a_file() {
        let dir = std::env::temp_dir().join(format!("rk-netlink-sysctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("arp_ignore");
        std::fs::write(&p, "0\n").unwrap();
        let mut c = Changes::new();
        c.set(&p, "1").unwrap();
        c.set(&p, "1").unwrap();
        assert_eq!(c.entries().len(), 1, "an unchanged value is not recorded");
        assert_eq!(read(&p).unwrap(), "1");
        c.restore();
        assert_eq!(read(&p).unwrap(), "0");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
