//! `ha_suspend`: the checkers of such a virtual server run only while its address is
//! configured on an interface of this node (keepalived's `update_checker_activity`),
//! followed through rtnetlink's address events. At start they wait for the first read of
//! the addresses, as keepalived's wait for its first netlink dump.
//!
//! keepalived cannot suspend fwmark services (no address; the configuration refuses
//! it). A `virtual_server group` is not followed either: its checkers always run, and the
//! log says so (keepalived matches any address of the group's ranges).

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

use rk_config::Config;
use rk_config::model::VsKey;
use rk_netlink::Netlink;
use rk_netlink::monitor::{Event, Monitor};
use tokio::sync::mpsc;

/// A virtual server whose checkers follow its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watched {
    /// Index in `Config::virtual_servers`.
    pub vs: usize,
    /// Its address.
    pub addr: IpAddr,
}

/// The `ha_suspend` virtual servers that can be followed, and a log line for each that
/// cannot.
pub fn watched(cfg: &Config) -> (Vec<Watched>, Vec<String>) {
    let mut w = Vec::new();
    let mut problems = Vec::new();
    for (i, vs) in cfg.virtual_servers.iter().enumerate() {
        if !vs.ha_suspend {
            continue;
        }
        match &vs.key {
            VsKey::Addr { addr, .. } => w.push(Watched { vs: i, addr: *addr }),
            other => problems.push(format!(
                "virtual_server {other}: ha_suspend needs an address to follow; its checkers always run"
            )),
        }
    }
    (w, problems)
}

/// The virtual servers of `watched` whose address is on no interface.
pub fn suspended(watched: &[Watched], present: &HashSet<(u32, IpAddr)>) -> BTreeSet<usize> {
    watched
        .iter()
        .filter(|w| !present.iter().any(|(_, a)| *a == w.addr))
        .map(|w| w.vs)
        .collect()
}

/// Follows the addresses and sends the set of suspended virtual servers each time it
/// changes (the first time once the addresses were read). Without rtnetlink (an error
/// is logged) nothing is suspended.
pub async fn follow(watched: Vec<Watched>, tx: mpsc::UnboundedSender<BTreeSet<usize>>) {
    // Subscribe before reading, so nothing that happens in between is missed.
    let started = Monitor::start().and_then(|m| Ok((m, Netlink::connect()?)));
    let (mut monitor, nl) = match started {
        Ok(x) => x,
        Err(e) => {
            tracing::error!("ha_suspend: cannot follow the addresses ({e}); checkers run");
            let _ = tx.send(BTreeSet::new());
            return;
        }
    };
    let read = async |nl: &Netlink| -> HashSet<(u32, IpAddr)> {
        match nl.addresses(None).await {
            Ok(v) => v.into_iter().map(|a| (a.ifindex, a.addr)).collect(),
            Err(e) => {
                tracing::error!("ha_suspend: cannot read the addresses: {e}");
                HashSet::new()
            }
        }
    };
    let mut present = read(&nl).await;
    let mut last = suspended(&watched, &present);
    if tx.send(last.clone()).is_err() {
        return;
    }
    while let Some(ev) = monitor.next().await {
        match ev {
            Event::AddressAdded(a) => {
                present.insert((a.ifindex, a.addr));
            }
            Event::AddressRemoved(a) => {
                present.remove(&(a.ifindex, a.addr));
            }
            Event::LinkRemoved { index, .. } => present.retain(|(i, _)| *i != index),
            Event::Overrun => present = read(&nl).await,
            Event::LinkChanged(_) => continue,
        }
        let now = suspended(&watched, &present);
        if now != last {
            if tx.send(now.clone()).is_err() {
                return;
            }
            last = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rk_config::{LoadOptions, load_str};

    #[test]
    fn follows_addresses() {
        let cfg = load_str(
            "t.conf",
            "virtual_server 10.1.0.1 80 {\n protocol TCP\n ha_suspend\n real_server 10.2.0.1 80 {\n }\n}\n\
             virtual_server 10.1.0.2 80 {\n protocol TCP\n real_server 10.2.0.1 80 {\n }\n}\n\
             virtual_server_group G {\n 10.1.0.5 80\n}\n\
             virtual_server group G {\n protocol TCP\n ha_suspend\n real_server 10.2.0.1 80 {\n }\n}\n",
            &LoadOptions::for_tests(),
        )
        .unwrap()
        .config;
        let (w, problems) = watched(&cfg);
        assert_eq!(
            w,
            [Watched {
                vs: 0,
                addr: "10.1.0.1".parse().unwrap()
            }]
        );
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("group G"), "{problems:?}");
        let a: IpAddr = "10.1.0.1".parse().unwrap();
        let mut present = HashSet::new();
        assert_eq!(suspended(&w, &present), BTreeSet::from([0]));
        present.insert((2, a));
        present.insert((3, a));
        assert!(suspended(&w, &present).is_empty());
        // Still on one interface: still here.
        present.remove(&(2, a));
        assert!(suspended(&w, &present).is_empty());
        present.remove(&(3, a));
        assert_eq!(suspended(&w, &present), BTreeSet::from([0]));
    }
}
