//! rk-netlink against the real kernel, inside a network namespace of its own (needs root;
//! `RK_SKIP_NETNS_TESTS=1` skips). Each test builds its own lab, so they run in parallel.

use std::net::IpAddr;
use std::time::Duration;

use rk_netlink::addr::{IFA_F_NODAD, IFA_F_NOPREFIXROUTE};
use rk_netlink::{
    AddOutcome, AddressSpec, DelOutcome, Event, Monitor, Netlink, Scope, VmacSpec, sysctl,
    virtual_mac,
};
use rk_testkit::netns::{Lab, Netns, skip_requested};

fn lab(tag: &str) -> (Lab, Netns) {
    let mut lab = Lab::new(tag).expect("lab");
    let lan = lab.lan("lan").expect("lan");
    let h = lab.host("h").expect("host");
    lab.attach(&lan, &h, "eth0", &["10.9.0.1/24", "fd00::1/64"])
        .expect("attach");
    (lab, h)
}

/// Runs an async body on a current-thread runtime inside `ns`.
fn in_ns<T: Send>(ns: &Netns, f: impl AsyncFnOnce() -> T + Send) -> T {
    ns.run_in(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f())
    })
    .expect("setns")
}

#[test]
fn addresses_with_label_scope_flags_and_proto() {
    if skip_requested() {
        return;
    }
    let (_lab, h) = lab("nladdr");
    in_ns(&h, async || {
        let nl = Netlink::connect().unwrap();
        let eth0 = nl.link_by_name("eth0").await.unwrap().expect("eth0");
        assert!(eth0.is_up());
        assert_eq!(eth0.mtu, Some(1500));
        assert_eq!(eth0.kind.as_deref(), Some("veth"));
        assert!(nl.link_by_name("nope0").await.unwrap().is_none());
        assert_eq!(
            nl.link_by_index(eth0.index).await.unwrap().map(|l| l.name),
            Some("eth0".to_string())
        );

        let mut vip = AddressSpec::new(eth0.index, "10.9.0.99".parse().unwrap(), 24);
        vip.label = Some("eth0:0".into());
        vip.proto = Some(18);
        assert_eq!(nl.add_address(&vip).await.unwrap(), AddOutcome::Added);
        assert_eq!(
            nl.add_address(&vip).await.unwrap(),
            AddOutcome::AlreadyPresent
        );
        let mut v6 = AddressSpec::new(eth0.index, "fd00::99".parse().unwrap(), 64);
        v6.flags = IFA_F_NODAD | IFA_F_NOPREFIXROUTE;
        v6.scope = Scope::Global;
        v6.preferred_lft = Some(0);
        nl.add_address(&v6).await.unwrap();

        let addrs = nl.addresses(Some(eth0.index)).await.unwrap();
        let a = addrs
            .iter()
            .find(|a| a.addr == vip.addr)
            .expect("vip listed");
        assert_eq!(a.label.as_deref(), Some("eth0:0"));
        assert_eq!(a.prefix_len, 24);
        assert!(a.is_secondary(), "second address of the subnet");
        assert_eq!(a.proto, Some(18));
        let b = addrs.iter().find(|a| a.addr == v6.addr).expect("v6 listed");
        assert_ne!(b.flags & IFA_F_NODAD, 0);
        assert_ne!(b.flags & IFA_F_NOPREFIXROUTE, 0);

        assert_eq!(nl.del_address(&vip).await.unwrap(), DelOutcome::Removed);
        assert_eq!(nl.del_address(&vip).await.unwrap(), DelOutcome::NotPresent);
        assert_eq!(nl.del_address(&v6).await.unwrap(), DelOutcome::Removed);
        let left: Vec<IpAddr> = nl
            .addresses(Some(eth0.index))
            .await
            .unwrap()
            .iter()
            .map(|a| a.addr)
            .collect();
        assert!(!left.contains(&vip.addr) && !left.contains(&v6.addr));
        // An address on a missing interface: the kernel's error comes back typed.
        let bad = AddressSpec::new(9999, "10.9.0.98".parse().unwrap(), 24);
        let e = nl.add_address(&bad).await.unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENODEV), "{e}");
        assert!(e.to_string().contains("10.9.0.98/24"), "{e}");
    });
    // The kernel shows the label as `ip` would: check from outside too.
    assert!(!h.has_addr("eth0", "10.9.0.99"));
}

#[test]
fn monitor_reports_links_and_addresses() {
    if skip_requested() {
        return;
    }
    let (_lab, h) = lab("nlmon");
    let hn = h.clone();
    in_ns(&h, async move || {
        let mut mon = Monitor::start().unwrap();
        let nl = Netlink::connect().unwrap();
        let eth0 = nl.link_by_name("eth0").await.unwrap().unwrap();
        let vip = AddressSpec::new(eth0.index, "10.9.0.77".parse().unwrap(), 32);
        nl.add_address(&vip).await.unwrap();
        let added = next_matching(
            &mut mon,
            |e| matches!(e, Event::AddressAdded(a) if a.addr == vip.addr),
        )
        .await;
        assert!(added, "address added event");
        // Deleted behind our back, by `ip`.
        let (ok, out) = hn.try_cmd(&["ip", "addr", "del", "10.9.0.77/32", "dev", "eth0"]);
        assert!(ok, "{out}");
        let removed = next_matching(&mut mon, |e| {
            matches!(e, Event::AddressRemoved(a) if a.addr == vip.addr && a.ifindex == eth0.index)
        })
        .await;
        assert!(removed, "address removed event");
        nl.set_link_up(eth0.index, false).await.unwrap();
        let down = next_matching(
            &mut mon,
            |e| matches!(e, Event::LinkChanged(l) if l.name == "eth0" && !l.admin_up),
        )
        .await;
        assert!(down, "link down event");
        nl.set_link_up(eth0.index, true).await.unwrap();
        let up = next_matching(
            &mut mon,
            |e| matches!(e, Event::LinkChanged(l) if l.name == "eth0" && l.is_up()),
        )
        .await;
        assert!(up, "link up event (with carrier)");
    });
}

async fn next_matching(mon: &mut Monitor, f: impl Fn(&Event) -> bool) -> bool {
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = mon.next().await {
            if f(&e) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false)
}

#[test]
fn vmac_is_a_private_macvlan_with_the_rfc_mac_and_sysctls() {
    if skip_requested() {
        return;
    }
    let (_lab, h) = lab("nlvmac");
    let hn = h.clone();
    in_ns(&h, async move || {
        let nl = Netlink::connect().unwrap();
        let eth0 = nl.link_by_name("eth0").await.unwrap().unwrap();
        let spec = VmacSpec {
            name: "vrrp.33".into(),
            parent: eth0.clone(),
            mac: virtual_mac(false, 33),
        };
        let before = sysctl::read(&sysctl::ipv4_conf("eth0", "arp_ignore")).unwrap();
        let vmac = nl.ensure_vmac(&spec).await.unwrap();
        assert!(vmac.created);
        assert_eq!(vmac.link.mac_string().as_deref(), Some("00:00:5e:00:01:21"));
        assert_eq!(vmac.link.kind.as_deref(), Some("macvlan"));
        assert_eq!(
            vmac.link.macvlan_mode,
            Some(rk_netlink::MacvlanMode::Private)
        );
        assert_eq!(vmac.link.parent, Some(eth0.index));
        assert!(vmac.link.admin_up);
        let rd = |i: &str, k: &str| sysctl::read(&sysctl::ipv4_conf(i, k)).unwrap();
        assert_eq!(rd("eth0", "arp_ignore"), "1");
        assert_eq!(rd("eth0", "arp_filter"), "1");
        assert_eq!(rd("eth0", "arp_announce"), "2");
        assert_eq!(rd("vrrp.33", "arp_ignore"), "1");
        assert_eq!(rd("vrrp.33", "accept_local"), "1");
        assert_eq!(rd("vrrp.33", "rp_filter"), "0");
        // No IPv6 link-local on the VMAC: it must not send from the shared MAC.
        assert!(
            !hn.addresses("vrrp.33")
                .iter()
                .any(|a| a.cidr.starts_with("fe80")),
            "{:?}",
            hn.addresses("vrrp.33")
        );
        // A second run finds it and reuses it.
        let again = nl.ensure_vmac(&spec).await.unwrap();
        assert!(!again.created);
        // Another MAC under the same name is not ours.
        let other = VmacSpec {
            mac: virtual_mac(false, 34),
            ..spec.clone()
        };
        assert!(matches!(
            nl.ensure_vmac(&other).await,
            Err(rk_netlink::Error::VmacConflict { .. })
        ));
        drop(again);
        nl.remove_vmac(vmac).await.unwrap();
        assert!(nl.link_by_name("vrrp.33").await.unwrap().is_none());
        assert_eq!(rd("eth0", "arp_ignore"), before, "restored");
    });
}
