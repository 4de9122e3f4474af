//! Carrying out the state machines' actions: adverts on the channel sockets, VIPs through
//! netlink, gratuitous ARPs / unsolicited NAs on a link-layer socket, state changes to
//! the log and to subscribers.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use rk_netlink::{AddOutcome, DelOutcome};
use rk_vrrp_proto::{Action, Family, Reason, StateKind, Transmit, track::group_state};

use super::Driver;
use crate::frames::{ETH_P_ARP, ETH_P_IPV6, garp, unsolicited_na};
use crate::sockets::FrameSender;
use crate::status::{VrrpEvent, reason_text};

impl Driver {
    /// Carries out every pending action of every instance, until none is left (an action
    /// can cause inputs to other instances: sync groups).
    pub(super) async fn run_actions(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.insts.len() {
                while let Some(a) = self.insts[i].vi.poll_action() {
                    any = true;
                    self.act(i, a).await;
                }
            }
            if !any {
                break;
            }
        }
        self.update_group_states();
    }

    /// Reports each sync group whose derived state changed, once its members have settled
    /// (every action of the transition carried out), so that the group's event follows
    /// its members' (keepalived: `send_group_notifies` after the members moved).
    fn update_group_states(&mut self) {
        for g in 0..self.sync_groups.len() {
            let state = group_state(
                self.sync_groups[g]
                    .members
                    .iter()
                    .map(|m| self.insts[*m].vi.state()),
            );
            let Some(to) = state else {
                continue;
            };
            let from = self.group_states[g];
            if from == Some(to) {
                continue;
            }
            self.group_states[g] = Some(to);
            let group = self.sync_groups[g].name.clone();
            tracing::info!("VRRP_Group({group}) Syncing instances to {to} state");
            self.emit(VrrpEvent::GroupStateChange { group, from, to });
        }
    }

    /// Sends an event to the subscribers and the sink.
    pub(super) fn emit(&self, ev: VrrpEvent) {
        if let Some(sink) = &self.sink {
            let _ = sink.send(ev.clone());
        }
        let _ = self.events.send(ev);
    }

    async fn act(&mut self, i: usize, a: Action) {
        match a {
            Action::SendAdvert(tx) => self.send_advert(i, &tx),
            Action::AddVips(addrs) => {
                self.add_vips(i, &addrs).await;
                // Also on a reload's partial add: routes the kernel dropped with an
                // address come back (keepalived re-adds them all on reload too).
                self.add_routes(i).await;
            }
            Action::RemoveVips(addrs) => {
                // A release (leaving MASTER, stop, FAULT, start-up, a resumed instance
                // hearing a master) takes the routes and rules first; a reload removing
                // some VIPs from a MASTER or a resumed instance keeps them (the reload
                // applies route changes itself).
                let vi = &self.insts[i].vi;
                if vi.state() != StateKind::Master && !vi.is_holding() {
                    self.remove_routes(i).await;
                }
                self.remove_vips(i, &addrs).await;
            }
            Action::SendGarp { addresses, repeat } => self.send_garps(i, &addresses, repeat),
            Action::StateChange {
                from,
                to,
                reason,
                priority,
            } => self.on_state_change(i, from, to, reason, priority),
            Action::PriorityChanged { from, to } => {
                let instance = self.insts[i].spec.name.clone();
                tracing::info!("({instance}) Changing effective priority from {from} to {to}");
                let state = self.insts[i].vi.state();
                self.emit(VrrpEvent::PriorityChanged {
                    instance,
                    state,
                    from,
                    to,
                });
            }
            Action::MasterRxLowerPriority { from, priority } => {
                let instance = self.insts[i].spec.name.clone();
                tracing::info!(
                    "({instance}) received lower priority ({priority}) advert from {from} while MASTER; answering"
                );
                let own_priority = self.insts[i].vi.effective_priority();
                self.emit(VrrpEvent::MasterRxLowerPriority {
                    instance,
                    from,
                    priority,
                    own_priority,
                });
            }
            Action::WantMaster => self.on_want_master(i),
        }
    }

    fn send_advert(&mut self, i: usize, tx: &Transmit) {
        let key = self.channel_key(i);
        let inst = &mut self.insts[i];
        let Some((_, ch)) = self.channels.get(&key) else {
            inst.stats.send_errors += 1;
            return;
        };
        let mut buf = [0u8; 2048];
        for dst in &tx.destinations {
            let r = tx
                .encode(*dst, &mut buf)
                .map_err(|e| e.to_string())
                .and_then(|n| {
                    ch.send(&buf[..n], tx.src, *dst, tx.ttl)
                        .map_err(|e| e.to_string())
                });
            if let Err(e) = r {
                inst.stats.send_errors += 1;
                // One line per failing send is at most one per advert interval.
                tracing::warn!(
                    "({}) cannot send advert to {dst} on {}: {e}",
                    inst.spec.name,
                    key.ifname
                );
            }
        }
        if tx.advert.priority == 0 {
            tracing::info!("({}) sent 0 priority", inst.spec.name);
        }
    }

    async fn add_vips(&mut self, i: usize, addrs: &[IpAddr]) {
        let name = self.insts[i].spec.name.clone();
        tracing::info!("({name}) setting VIPs.");
        for addr in addrs {
            let Some(v) = self.insts[i]
                .spec
                .vips
                .iter()
                .find(|v| v.addr == *addr)
                .cloned()
            else {
                continue;
            };
            let Some(index) = self.link(&v.dev).map(|l| l.index) else {
                tracing::error!("({name}) cannot add {addr}: no interface {}", v.dev);
                self.insts[i].stats.vip_errors += 1;
                continue;
            };
            match self.nl.add_address(&v.address_spec(index)).await {
                Ok(AddOutcome::Added) => {
                    tracing::debug!("({name}) added {addr}/{} on {}", v.prefix_len, v.dev)
                }
                Ok(AddOutcome::AlreadyPresent) => {
                    tracing::debug!("({name}) {addr} was already on {}", v.dev)
                }
                Err(e) => {
                    tracing::error!("({name}) {e}");
                    self.insts[i].stats.vip_errors += 1;
                }
            }
        }
    }

    async fn remove_vips(&mut self, i: usize, addrs: &[IpAddr]) {
        if !self.options.release_vips && self.insts[i].vi.state() == StateKind::Stopped {
            // `-V`: leave the addresses in place on stop.
            return;
        }
        let name = self.insts[i].spec.name.clone();
        let mut said = false;
        for addr in addrs {
            let Some(v) = self.insts[i]
                .spec
                .vips
                .iter()
                .find(|v| v.addr == *addr)
                .cloned()
            else {
                continue;
            };
            let Some(index) = self.link(&v.dev).map(|l| l.index) else {
                continue;
            };
            match self.nl.del_address(&v.address_spec(index)).await {
                Ok(DelOutcome::Removed) => {
                    if !said {
                        tracing::info!("({name}) removing VIPs.");
                        said = true;
                    }
                    self.expected_deletes.push((index, *addr));
                }
                Ok(DelOutcome::NotPresent) => {}
                Err(e) => {
                    tracing::error!("({name}) {e}");
                    self.insts[i].stats.vip_errors += 1;
                }
            }
        }
    }

    fn send_garps(&mut self, i: usize, addresses: &[IpAddr], repeat: u32) {
        let spec = &self.insts[i].spec;
        let mut frames: Vec<(u32, u16, Vec<u8>)> = Vec::new();
        let (mut garps, mut nas) = (0u64, 0u64);
        let mut devs: Vec<&str> = Vec::new();
        for addr in addresses {
            // A VIP, or our own source address (sent when leaving FAULT in unicast mode).
            let dev = spec
                .vips
                .iter()
                .find(|v| v.addr == *addr)
                .map_or(spec.interface.as_str(), |v| v.dev.as_str());
            let Some(link) = self.link(dev) else {
                continue;
            };
            let Some(mac) = link.mac else {
                continue;
            };
            let frame = match addr {
                IpAddr::V4(a) => {
                    garps += u64::from(repeat);
                    (ETH_P_ARP, garp(mac, *a).to_vec())
                }
                IpAddr::V6(a) => {
                    let src = self
                        .interface_address(dev, Family::V6)
                        .or_else(|| self.interface_address(&spec.interface, Family::V6));
                    let Some(IpAddr::V6(src)) = src else {
                        tracing::warn!(
                            "({}) no link-local address on {dev} to send an NA for {a}",
                            spec.name
                        );
                        continue;
                    };
                    nas += u64::from(repeat);
                    (
                        ETH_P_IPV6,
                        unsolicited_na(mac, src, *a, forwarding(dev)).to_vec(),
                    )
                }
            };
            if !devs.contains(&dev) {
                devs.push(dev);
            }
            for _ in 0..repeat {
                frames.push((link.index, frame.0, frame.1.clone()));
            }
        }
        if frames.is_empty() {
            return;
        }
        tracing::info!(
            "({}) sending {repeat} gratuitous ARP/NA per address on {} for {}",
            spec.name,
            devs.join(","),
            addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let gap = if garps > 0 {
            self.garp_interval
        } else {
            self.gna_interval
        };
        let stats = &mut self.insts[i].stats;
        stats.garp_sent += garps;
        stats.na_sent += nas;
        if gap.is_zero() {
            for (index, ethertype, f) in &frames {
                send_frame(&self.frames, *index, *ethertype, f);
            }
        } else {
            // `vrrp_garp_interval`: spread them out, without holding up the driver.
            let sender = Arc::clone(&self.frames);
            tokio::spawn(async move {
                for (n, (index, ethertype, f)) in frames.iter().enumerate() {
                    if n > 0 {
                        tokio::time::sleep(gap).await;
                    }
                    send_frame(&sender, *index, *ethertype, f);
                }
            });
        }
    }

    fn on_state_change(
        &mut self,
        i: usize,
        from: StateKind,
        to: StateKind,
        reason: Reason,
        priority: u8,
    ) {
        let inst = &mut self.insts[i];
        let name = inst.spec.name.clone();
        match to {
            StateKind::Stopped => tracing::info!("({name}) Stopped"),
            _ => tracing::info!("({name}) Entering {to} STATE ({})", reason_text(reason)),
        }
        match to {
            StateKind::Backup => inst.stats.became_backup += 1,
            StateKind::Fault => inst.stats.became_fault += 1,
            _ => {}
        }
        // Dropped-advert warnings start afresh in each state (keepalived logs once per
        // state).
        inst.last_drop_log = None;
        self.emit(VrrpEvent::StateChange {
            instance: name,
            from,
            to,
            reason,
            priority,
        });
        self.sync_after_change(i, from, to, reason, Instant::now());
    }
}

fn send_frame(sender: &FrameSender, index: u32, ethertype: u16, frame: &[u8]) {
    if let Err(e) = sender.send(index, ethertype, frame) {
        tracing::warn!("cannot send a gratuitous ARP/NA on interface index {index}: {e}");
    }
}

/// Whether IPv6 forwarding is on for `dev` (the NA then carries the Router flag).
fn forwarding(dev: &str) -> bool {
    rk_netlink::sysctl::read(&rk_netlink::sysctl::ipv6_conf(dev, "forwarding"))
        .is_ok_and(|v| v == "1")
}
