//! VRRP virtual MAC interfaces (keepalived's `use_vmac`): a private-mode macvlan carrying
//! the RFC 5798 §7.3 virtual router MAC, and the sysctls that make ARP and reverse-path
//! filtering work with it.

use crate::error::{Error, Result};
use crate::handle::Netlink;
use crate::link::{Link, MacvlanMode, format_mac};
use crate::sysctl::{self, Changes};

/// The virtual router MAC of RFC 5798 §7.3: `00:00:5e:00:01:VRID` for IPv4,
/// `00:00:5e:00:02:VRID` for IPv6.
pub fn virtual_mac(ipv6: bool, vrid: u8) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// A VMAC to set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmacSpec {
    /// Interface name (`vrrp.VRID` by default).
    pub name: String,
    /// The parent (base) interface.
    pub parent: Link,
    /// The MAC (normally [`virtual_mac`]).
    pub mac: [u8; 6],
}

/// A VMAC that is up, with what was changed to get there.
#[derive(Debug)]
pub struct Vmac {
    /// The macvlan link as it was once up.
    pub link: Link,
    /// Whether we created it (rather than reusing one left by an earlier run).
    pub created: bool,
    /// Sysctl changes to undo when it is removed.
    pub changes: Changes,
}

impl Netlink {
    /// Creates the VMAC (or reuses one with the same name, parent and MAC left by an
    /// earlier run), sets the sysctls keepalived sets, and brings it up:
    ///
    /// * parent: `arp_ignore=1` (answer ARP only for addresses of the receiving
    ///   interface, so the VIPs on the VMAC are answered with the virtual MAC),
    ///   `arp_filter=1`, and — beyond keepalived — `arp_announce=2`, so ARP requests the
    ///   parent sends for traffic sourced from a VIP name the parent's own address;
    /// * VMAC: `arp_ignore=1`, `accept_local=1` (adverts from our own VMAC's MAC seen via
    ///   the parent are not martians), `rp_filter=0`, and IPv6 `addr_gen_mode=1` so the
    ///   VMAC never sends from the shared MAC on a backup (no link-local, no DAD, no MLD).
    ///
    /// Every change is logged at info level.
    pub async fn ensure_vmac(&self, spec: &VmacSpec) -> Result<Vmac> {
        let (link, created) = match self.link_by_name(&spec.name).await? {
            Some(l) => {
                let ours = l.kind.as_deref() == Some("macvlan")
                    && l.parent == Some(spec.parent.index)
                    && l.mac == Some(spec.mac);
                if !ours {
                    return Err(Error::VmacConflict {
                        name: spec.name.clone(),
                        detail: format!(
                            "kind {:?}, parent index {:?}, MAC {:?}; expected a macvlan of {} with {}",
                            l.kind,
                            l.parent,
                            l.mac_string(),
                            spec.parent.name,
                            format_mac(&spec.mac)
                        ),
                    });
                }
                tracing::info!(
                    "reusing VMAC {} ({}) on {}",
                    spec.name,
                    format_mac(&spec.mac),
                    spec.parent.name
                );
                (l, false)
            }
            None => {
                let l = self
                    .add_macvlan(
                        &spec.name,
                        spec.parent.index,
                        spec.mac,
                        MacvlanMode::Private,
                    )
                    .await?;
                tracing::info!(
                    "created VMAC {} ({}) on {} in private mode",
                    spec.name,
                    format_mac(&spec.mac),
                    spec.parent.name
                );
                (l, true)
            }
        };
        let mut changes = Changes::new();
        let r = self
            .configure_vmac(&spec.parent.name, &link, &mut changes)
            .await;
        if let Err(e) = r {
            // Leave nothing half-done behind.
            changes.restore();
            if created {
                let _ = self.del_link(link.index).await;
            }
            return Err(e);
        }
        let link = self.link_by_index(link.index).await?.unwrap_or(link);
        Ok(Vmac {
            link,
            created,
            changes,
        })
    }

    async fn configure_vmac(&self, parent: &str, link: &Link, changes: &mut Changes) -> Result<()> {
        changes.set(&sysctl::ipv4_conf(parent, "arp_ignore"), "1")?;
        changes.set(&sysctl::ipv4_conf(parent, "arp_filter"), "1")?;
        // Replies from a VIP leave through the parent (its prefix route is older); without
        // this, the ARP request for their destination would carry the VIP as sender with
        // the parent's MAC and teach the whole LAN the wrong MAC for the VIP.
        changes.set(&sysctl::ipv4_conf(parent, "arp_announce"), "2")?;
        let v = &link.name;
        // IPv6 may be disabled on the host: then there is nothing to silence.
        let gen_mode = sysctl::ipv6_conf(v, "addr_gen_mode");
        if gen_mode.exists() {
            changes.set(&gen_mode, "1")?;
        }
        changes.set(&sysctl::ipv4_conf(v, "arp_ignore"), "1")?;
        changes.set(&sysctl::ipv4_conf(v, "accept_local"), "1")?;
        changes.set(&sysctl::ipv4_conf(v, "rp_filter"), "0")?;
        changes.extend(sysctl::lower_all_rp_filter()?);
        self.set_link_up(link.index, true).await
    }

    /// Deletes a VMAC we created (a reused one is deleted too: it was ours) and undoes the
    /// sysctl changes.
    pub async fn remove_vmac(&self, vmac: Vmac) -> Result<()> {
        let r = self.del_link(vmac.link.index).await;
        tracing::info!("removed VMAC {}", vmac.link.name);
        vmac.changes.restore();
        match r {
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_macs() {
        assert_eq!(virtual_mac(false, 33), [0, 0, 0x5e, 0, 1, 33]);
        assert_eq!(virtual_mac(true, 255), [0, 0, 0x5e, 0, 2, 255]);
    }
}
