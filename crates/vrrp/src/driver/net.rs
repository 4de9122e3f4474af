//! The driver's view of the namespace: links and addresses (read at start and after an
//! overrun, then kept current from netlink events), VMACs, the advert channels, and the
//! start-up clean-up of addresses left behind by a crash.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Instant;

use rk_netlink::{Address, DelOutcome, Event, VmacSpec};
use rk_vrrp_proto::{Delivery, Family, Input, StateKind};

use super::Driver;
use crate::error::Error;
use crate::sockets::{Channel, ChannelKey, RxMode};
use crate::spec::ADDR_PROTO;

impl Driver {
    /// Re-reads every link and address, then brings instances, channels and VMACs in line.
    pub(super) async fn resync(&mut self) -> Result<(), Error> {
        let links = self.nl.links().await?;
        self.links = links.into_iter().map(|l| (l.name.clone(), l)).collect();
        self.addrs = self.nl.addresses(None).await?;
        Ok(())
    }

    /// The link called `name`.
    pub(super) fn link(&self, name: &str) -> Option<&rk_netlink::Link> {
        self.links.get(name)
    }

    /// The address an instance on `ifname` advertises from when none is configured:
    /// IPv4, the first primary address that is not a VIP of ours (keepalived's interface
    /// address); IPv6, the first link-local address (RFC 9568 §5.1.2.1).
    pub(super) fn interface_address(&self, ifname: &str, family: Family) -> Option<IpAddr> {
        let index = self.link(ifname)?.index;
        let mut candidates = self
            .addrs
            .iter()
            .filter(|a| a.ifindex == index && !self.all_vips.contains(&a.addr));
        match family {
            Family::V4 => {
                let v4: Vec<&Address> = candidates.by_ref().filter(|a| a.addr.is_ipv4()).collect();
                v4.iter()
                    .find(|a| !a.is_secondary())
                    .or(v4.first())
                    .map(|a| a.addr)
            }
            Family::V6 => candidates
                .find(|a| a.is_link_local_v6() && !a.is_tentative())
                .map(|a| a.addr),
        }
    }

    /// Whether `addr` is configured on any interface.
    pub(super) fn address_present(&self, addr: IpAddr) -> bool {
        self.addrs.iter().any(|a| a.addr == addr)
    }

    /// Creates the VMACs whose parent exists and that are not up yet.
    pub(super) async fn setup_vmacs(&mut self) {
        for i in 0..self.insts.len() {
            let inst = &self.insts[i];
            let Some(plan) = inst.spec.vmac.clone() else {
                continue;
            };
            if inst.vmac.is_some() && self.links.contains_key(&plan.name) {
                continue;
            }
            let Some(parent) = self.link(&inst.spec.interface).cloned() else {
                continue;
            };
            let spec = VmacSpec {
                name: plan.name.clone(),
                parent,
                mac: plan.mac,
            };
            match self.nl.ensure_vmac(&spec).await {
                Ok(v) => {
                    self.links.insert(v.link.name.clone(), v.link.clone());
                    self.insts[i].vmac = Some(v);
                }
                Err(e) => tracing::error!(
                    "({}) cannot set up VMAC {}: {e}",
                    self.insts[i].spec.name,
                    plan.name
                ),
            }
        }
    }

    /// The channel an instance uses.
    pub(super) fn channel_key(&self, i: usize) -> ChannelKey {
        let s = &self.insts[i].spec;
        let mode = match &s.vmac {
            Some(v) if !v.xmit_base => RxMode::Link,
            _ => RxMode::Raw,
        };
        ChannelKey {
            ifname: s.advert_interface().to_string(),
            family: s.proto.family,
            ah: s.proto.auth.is_ah(),
            mode,
        }
    }

    /// Opens the channels whose interface exists (or re-opens those whose interface was
    /// re-created with another index) and closes those whose interface is gone.
    pub(super) async fn refresh_channels(&mut self) {
        let mut wanted: Vec<(ChannelKey, BTreeSet<IpAddr>)> = Vec::new();
        for i in 0..self.insts.len() {
            let key = self.channel_key(i);
            let group = match &self.insts[i].spec.proto.delivery {
                Delivery::Multicast { group } => Some(*group),
                Delivery::Unicast { .. } => None,
            };
            match wanted.iter_mut().find(|(k, _)| *k == key) {
                Some((_, g)) => g.extend(group),
                None => wanted.push((key, group.into_iter().collect())),
            }
        }
        self.channels.retain(|k, (_, c)| {
            wanted.iter().any(|(w, _)| w == k)
                && self
                    .links
                    .get(&k.ifname)
                    .is_some_and(|l| l.index == c.ifindex)
        });
        for (key, groups) in wanted {
            if self.channels.contains_key(&key) {
                continue;
            }
            let Some(link) = self.links.get(&key.ifname) else {
                continue;
            };
            let id = self.next_channel;
            self.next_channel += 1;
            let groups: Vec<IpAddr> = groups.into_iter().collect();
            match Channel::open(key.clone(), link.index, &groups, id, self.rx_tx.clone()) {
                Ok(c) => {
                    tracing::info!(
                        "VRRP socket: {} {:?}{} index {} groups {:?}",
                        key.ifname,
                        key.family,
                        if key.ah { " AH" } else { "" },
                        link.index,
                        groups
                    );
                    self.channels.insert(key, (id, c));
                }
                Err(e) => tracing::error!(
                    "cannot open the VRRP socket on {} ({:?}): {e}",
                    key.ifname,
                    key.family
                ),
            }
        }
    }

    /// Start-up clean-up of addresses left by an earlier run that crashed. Ours are the
    /// addresses carrying our `IFA_PROTO` marker ("proto keepalived") on an interface one
    /// of our instances puts VIPs on, that no instance of this configuration holds: a
    /// VIP of a previous configuration. Configured VIPs left behind are released by the
    /// state machine itself (every instance that does not start as MASTER removes its
    /// addresses at start, as keepalived does).
    pub(super) async fn remove_stale_addresses(&mut self) {
        let devs: BTreeSet<u32> = self
            .insts
            .iter()
            .flat_map(|i| i.spec.vips.iter())
            .filter_map(|v| self.links.get(&v.dev).map(|l| l.index))
            .collect();
        let stale: Vec<Address> = self
            .addrs
            .iter()
            .filter(|a| {
                a.proto == Some(ADDR_PROTO)
                    && devs.contains(&a.ifindex)
                    && !self.all_vips.contains(&a.addr)
                    && !self.statics.addresses.iter().any(|s| s.addr == a.addr)
            })
            .cloned()
            .collect();
        for a in stale {
            let mut spec = rk_netlink::AddressSpec::new(a.ifindex, a.addr, a.prefix_len);
            spec.label = a.label.clone();
            match self.nl.del_address(&spec).await {
                Ok(DelOutcome::Removed) => {
                    tracing::info!("removed {}/{} left by an earlier run", a.addr, a.prefix_len);
                    self.expected_deletes.push((a.ifindex, a.addr));
                }
                Ok(DelOutcome::NotPresent) => {}
                Err(e) => tracing::warn!(
                    "cannot remove {}/{} left by an earlier run: {e}",
                    a.addr,
                    a.prefix_len
                ),
            }
        }
    }

    /// Instances whose every VIP is on its interface with our marker: this node's previous
    /// process held them as MASTER and did not release them (it was killed, or stopped with
    /// `-V`). They start with [`Input::Resume`]: the VIPs stay while the instance listens
    /// one advert interval for another master. An address owner goes MASTER anyway.
    pub(super) fn mark_resumable(&mut self) {
        for i in 0..self.insts.len() {
            let spec = &self.insts[i].spec;
            let held = !spec.vips.is_empty()
                && !spec.proto.is_owner()
                && spec.vips.iter().all(|v| {
                    let index = self.links.get(&v.dev).map(|l| l.index);
                    self.addrs.iter().any(|a| {
                        Some(a.ifindex) == index && a.addr == v.addr && a.proto == Some(ADDR_PROTO)
                    })
                });
            if held {
                tracing::info!(
                    "({}) its VIPs are still up from this node's previous run: keeping them while listening for another master",
                    spec.name
                );
                self.insts[i].resume = true;
            }
        }
    }

    /// A netlink event.
    pub(super) async fn on_event(&mut self, ev: Event) {
        let now = Instant::now();
        match ev {
            Event::LinkChanged(l) => {
                let old = self.links.insert(l.name.clone(), l.clone());
                let changed = old
                    .as_ref()
                    .is_none_or(|o| o.index != l.index || o.is_up() != l.is_up() || o.mac != l.mac);
                if !changed {
                    return;
                }
                if let Some(o) = &old
                    && o.is_up() != l.is_up()
                {
                    tracing::info!("{} is {}", l.name, if l.is_up() { "up" } else { "down" });
                }
                if old.is_none_or(|o| o.index != l.index) {
                    // New, or re-created: VMACs on it, channels, addresses.
                    self.setup_vmacs().await;
                    self.refresh_channels().await;
                }
            }
            Event::LinkRemoved { index, name } => {
                if self.links.get(&name).is_some_and(|l| l.index == index) {
                    self.links.remove(&name);
                    tracing::info!("{name} was removed");
                }
                self.addrs.retain(|a| a.ifindex != index);
                for inst in &mut self.insts {
                    if inst.vmac.as_ref().is_some_and(|v| v.link.index == index) {
                        tracing::warn!(
                            "({}) its VMAC {name} was deleted; re-creating it",
                            inst.spec.name
                        );
                        // Its sysctl changes died with it, apart from the parent's.
                        if let Some(v) = inst.vmac.take() {
                            v.changes.restore();
                        }
                    }
                }
                self.setup_vmacs().await;
                self.refresh_channels().await;
            }
            Event::AddressAdded(a) => {
                if self.options.address_monitoring {
                    tracing::info!(
                        "address {}/{} added on index {}",
                        a.addr,
                        a.prefix_len,
                        a.ifindex
                    );
                }
                self.addrs
                    .retain(|x| !(x.ifindex == a.ifindex && x.addr == a.addr));
                self.addrs.push(a);
            }
            Event::AddressRemoved(a) => {
                if self.options.address_monitoring {
                    tracing::info!(
                        "address {}/{} removed from index {}",
                        a.addr,
                        a.prefix_len,
                        a.ifindex
                    );
                }
                self.addrs
                    .retain(|x| !(x.ifindex == a.ifindex && x.addr == a.addr));
                self.on_address_removed(now, &a);
            }
            Event::Overrun => {
                tracing::warn!("netlink events were lost; re-reading links and addresses");
                if let Err(e) = self.resync().await {
                    tracing::error!("netlink: {e}");
                }
                self.setup_vmacs().await;
                self.refresh_channels().await;
            }
        }
        for i in 0..self.insts.len() {
            self.refresh_inputs(i, now);
        }
    }

    /// An address went away: ours (expected), or a VIP of a MASTER removed behind our back
    /// (keepalived `set_vrrp_backup`: priority 0, then BACKUP).
    fn on_address_removed(&mut self, now: Instant, a: &Address) {
        if let Some(p) = self
            .expected_deletes
            .iter()
            .position(|(i, x)| *i == a.ifindex && *x == a.addr)
        {
            self.expected_deletes.swap_remove(p);
            return;
        }
        for n in 0..self.insts.len() {
            let inst = &self.insts[n];
            if inst.vi.state() != StateKind::Master {
                continue;
            }
            let lost = inst.spec.vips.iter().any(|v| {
                v.addr == a.addr
                    && !v.no_track
                    && self.links.get(&v.dev).is_some_and(|l| l.index == a.ifindex)
            });
            if lost {
                tracing::warn!(
                    "({}) VIP {} was deleted behind our back; leaving MASTER",
                    inst.spec.name,
                    a.addr
                );
                self.insts[n].vi.handle(now, Input::VipsLost);
            }
        }
    }
}
