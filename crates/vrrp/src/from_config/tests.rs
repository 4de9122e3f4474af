//! The mapping, checked on the seed's files and on one configuration per feature.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use rk_config::{LoadOptions, load_file, load_str};
use rk_netlink::Scope;
use rk_vrrp_proto::{
    Auth, AuthKey, Centisecs, Delivery, Family, OldUnicastChecksum, UnicastPeer, Version,
};

use rk_vrrp_proto::{TrackWeight, TrackerState};

use super::*;
use crate::spec::{TrackSource, Tracked, TrackerKind};

fn load(text: &str) -> Config {
    match load_str("test.conf", text, &LoadOptions::for_tests()) {
        Ok(l) => l.config,
        Err(e) => panic!("{}", e.render()),
    }
}

fn one(text: &str) -> InstanceSpec {
    let (p, _) = plan(&load(text)).expect("maps");
    p.instances.into_iter().next().expect("an instance")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn seed(name: &str) -> Config {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../config/tests/fixtures/seed")
        .join(name);
    load_file(&p, &LoadOptions::for_tests())
        .map_err(|e| e.render())
        .expect("seed file loads")
        .config
}

#[test]
fn seed_master_backup_node130() {
    let (p, warnings) = plan(&seed("master-backup.node130.conf")).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let s = &p.instances[0];
    assert_eq!((s.name.as_str(), s.interface.as_str()), ("VI_1", "eth0"));
    let c = &s.proto;
    assert_eq!(
        (c.vrid, c.priority, c.version, c.family),
        (33, 100, Version::V2, Family::V4)
    );
    assert!(c.wants_master && c.preempt);
    assert_eq!(c.advert_interval, Centisecs(100));
    assert_eq!(c.auth, Auth::Pass(AuthKey::new(b"a1b2c3d4")));
    assert_eq!(c.vips, vec![ip("172.16.15.99")]);
    assert_eq!(
        c.delivery,
        Delivery::Multicast {
            group: ip("224.1.101.33")
        }
    );
    assert_eq!(c.garp.master_repeat, 5);
    assert_eq!(c.garp.master_delay, Duration::from_secs(5));
    assert_eq!(c.down_timer_adverts, 3);
    assert!(c.track_interface);
    assert_eq!(s.vips.len(), 1);
    let v = &s.vips[0];
    assert_eq!((v.prefix_len, v.dev.as_str()), (16, "eth0"));
    assert_eq!(v.label.as_deref(), Some("eth0:0"));
    assert_eq!((v.broadcast, v.scope, v.flags), (None, Scope::Global, 0));
    assert!(s.vmac.is_none());
    assert_eq!(s.advert_interface(), "eth0");
    let a = v.address_spec(7);
    assert_eq!(a.proto, Some(crate::spec::ADDR_PROTO));
    assert_eq!(a.ifindex, 7);
}

#[test]
fn seed_master_backup_node131() {
    let (p, _) = plan(&seed("master-backup.node131.conf")).unwrap();
    let c = &p.instances[0].proto;
    assert_eq!((c.vrid, c.priority), (33, 96));
    assert!(!c.wants_master);
}

#[test]
fn shipped_master_master_has_two_instances() {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conf/master-master/node131.conf");
    let cfg = load_file(&p, &LoadOptions::for_tests()).unwrap().config;
    let (p, _) = plan(&cfg).unwrap();
    let names: Vec<_> = p
        .instances
        .iter()
        .map(|i| (i.name.as_str(), i.proto.vrid, i.proto.priority))
        .collect();
    assert_eq!(names, [("VI_1", 33, 96), ("VI_2", 34, 100)]);
    assert_eq!(p.instances[1].vips[0].label.as_deref(), Some("eth0:1"));
}

#[test]
fn v3_ipv6_with_learned_defaults() {
    let s = one("vrrp_instance V6 {
            interface eth0
            virtual_router_id 7
            version 3
            advert_int 0.1
            virtual_ipaddress {
                fe80::7/64
                2001:db8::7/128
                2001:db8::8/64 preferred_lft 30
            }
        }");
    let c = &s.proto;
    assert_eq!((c.version, c.family), (Version::V3, Family::V6));
    assert_eq!(c.advert_interval, Centisecs(10));
    assert_eq!(
        c.delivery,
        Delivery::Multicast {
            group: ip("ff02::12")
        }
    );
    assert_eq!(s.vips[0].preferred_lft, None);
    assert_eq!(s.vips[1].preferred_lft, Some(0), "a /128 is deprecated");
    assert_eq!(s.vips[2].preferred_lft, Some(30));
    assert_eq!(s.vips[1].label, None);
    assert!(
        s.vips.iter().all(|v| v.flags & IFA_F_NODAD != 0),
        "no DAD on IPv6 VIPs"
    );
}

#[test]
fn unicast_peers_ttl_and_checks() {
    let s = one("vrrp_instance U {
            interface eth0
            virtual_router_id 9
            unicast_src_ip 10.0.0.1
            unicast_ttl 10
            unicast_peer {
                10.0.0.2
                10.0.0.3 min_ttl 5 max_ttl 250
            }
            virtual_ipaddress { 10.0.0.100/24 }
        }");
    let c = &s.proto;
    assert_eq!(c.src_addr, Some(ip("10.0.0.1")));
    assert_eq!(
        c.delivery,
        Delivery::Unicast {
            peers: vec![
                UnicastPeer::new(ip("10.0.0.2")),
                UnicastPeer {
                    addr: ip("10.0.0.3"),
                    min_ttl: 5,
                    max_ttl: 250
                }
            ],
            ttl: 10,
            check_src: true,
        }
    );
    assert!(!s.fault_no_peer);
}

#[test]
fn ah_auth_strict_mode_and_checksum_options() {
    let s = one("global_defs { vrrp_mcast_group4 224.1.1.1 }
        vrrp_instance A {
            interface eth0
            virtual_router_id 9
            old_unicast_checksum never
            unicast_peer { 10.0.0.2 }
            authentication { auth_type AH
                auth_pass ahpass }
            virtual_ipaddress { 10.0.0.100 }
        }");
    assert_eq!(s.proto.auth, Auth::Ah(AuthKey::new(b"ahpass")));
    assert_eq!(s.proto.checksum.old_unicast, OldUnicastChecksum::Never);
    assert_eq!(s.proto.checksum.old_unicast_group, ip("224.1.1.1"));
    assert!(s.proto.delivery.is_unicast());
    assert_eq!(s.vips[0].prefix_len, 32);

    let strict = one("global_defs { vrrp_strict }
        vrrp_instance S {
            interface eth0
            virtual_router_id 9
            virtual_ipaddress { 10.0.0.100 }
        }");
    assert!(strict.proto.lower_prio_no_advert);
    assert_eq!(strict.proto.garp.lower_prio_repeat, 0);
}

#[test]
fn address_details_broadcast_scope_flags() {
    let s = one("vrrp_instance D {
            interface eth0
            virtual_router_id 9
            virtual_ipaddress {
                10.1.2.3/24 brd + scope link label eth0:5
                10.1.2.4/24 brd - dev eth1 no_track
                10.1.2.5/24 brd 10.1.2.200
            }
            virtual_ipaddress_excluded {
                2001:db8::9/64 -nodad noprefixroute home
            }
            garp_master_delay 0
            garp_master_refresh 30
            dont_track_primary
        }");
    let v = &s.vips;
    assert_eq!(v[0].broadcast, Some("10.1.2.255".parse().unwrap()));
    assert_eq!(v[0].scope, Scope::Link);
    assert_eq!(v[0].label.as_deref(), Some("eth0:5"));
    assert_eq!(v[1].broadcast, Some("10.1.2.0".parse().unwrap()));
    assert_eq!(v[1].dev, "eth1");
    assert!(v[1].no_track);
    assert_eq!(v[2].broadcast, Some("10.1.2.200".parse().unwrap()));
    assert_eq!(
        v[3].flags,
        IFA_F_NODAD | IFA_F_NOPREFIXROUTE | IFA_F_HOMEADDRESS
    );
    assert_eq!(s.proto.vips.len(), 3);
    assert_eq!(s.proto.excluded_vips, vec![ip("2001:db8::9")]);
    assert_eq!(s.proto.garp.master_delay, Duration::ZERO);
    assert_eq!(s.proto.garp.refresh, Some(Duration::from_secs(30)));
    assert!(!s.proto.track_interface);
}

#[test]
fn vmac_names_macs_and_vip_placement() {
    let (p, _) = plan(&load(
        "vrrp_instance V4 {
            interface eth0
            virtual_router_id 33
            use_vmac
            virtual_ipaddress { 10.0.0.100/24
                10.0.0.101/24 dev eth1 }
        }
        vrrp_instance V6 {
            interface eth0
            virtual_router_id 33
            use_vmac
            vmac_xmit_base
            virtual_ipaddress { fe80::33/64 }
        }
        vrrp_instance N {
            interface eth0
            virtual_router_id 40
            use_vmac vm40 02:00:00:00:00:28
            virtual_ipaddress { 10.0.0.140/24 }
        }",
    ))
    .unwrap();
    let v4 = p.instances[0].vmac.as_ref().unwrap();
    assert_eq!(v4.name, "vrrp.33");
    assert_eq!(v4.mac, [0, 0, 0x5e, 0, 1, 33]);
    assert!(!v4.xmit_base);
    assert_eq!(p.instances[0].advert_interface(), "vrrp.33");
    assert_eq!(
        p.instances[0].vips[0].dev, "vrrp.33",
        "VIPs move to the VMAC"
    );
    assert_eq!(p.instances[0].vips[1].dev, "eth1", "other devices stay");
    let v6 = p.instances[1].vmac.as_ref().unwrap();
    assert_eq!(v6.name, "vrrp6.33", "keepalived's name on a clash");
    assert_eq!(v6.mac, [0, 0, 0x5e, 0, 2, 33]);
    assert_eq!(p.instances[1].advert_interface(), "eth0", "vmac_xmit_base");
    let n = p.instances[2].vmac.as_ref().unwrap();
    assert_eq!((n.name.as_str(), n.mac), ("vm40", [2, 0, 0, 0, 0, 0x28]));
}

fn iface(name: &str, weight: i32, reverse: bool) -> Tracked {
    Tracked {
        source: TrackSource::Interface(name.into()),
        weight: TrackWeight::new(weight, reverse),
    }
}

fn tracker(index: usize, weight: i32, reverse: bool) -> Tracked {
    Tracked {
        source: TrackSource::Tracker(index),
        weight: TrackWeight::new(weight, reverse),
    }
}

const TRACKERS: &str = "vrrp_script chk { script /bin/true }
    vrrp_script heavy { script /bin/true
        weight -60 }
    vrrp_script fresh { script /bin/true
        weight 10 reverse
        init_fail }
    track_file tf { file /tmp/rk-tf }
    vrrp_track_process haproxy { process haproxy
        weight 5 }
";

/// Per-instance weights: the tracker's own, or the instance's override (also `reverse` /
/// `noreverse`); each tracker is listed once in the plan however many instances use it.
#[test]
fn trackers_and_weight_overrides() {
    let (p, warnings) = plan(&load(&format!(
        "{TRACKERS}
        vrrp_instance A {{
            interface eth0
            virtual_router_id 1
            track_interface {{ eth1 weight -20
                eth2
                eth3 weight 7 reverse }}
            track_script {{ chk
                heavy
                fresh weight -30 noreverse }}
            track_file {{ tf weight -2 }}
            track_process {{ haproxy }}
            virtual_ipaddress {{ 10.0.0.1 }}
        }}
        vrrp_instance B {{
            interface eth0
            virtual_router_id 2
            track_script {{ heavy weight 20 }}
            virtual_ipaddress {{ 10.0.0.2 }}
        }}"
    )))
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let names: Vec<(&str, TrackerKind, TrackerState)> = p
        .trackers
        .iter()
        .map(|t| (t.name.as_str(), t.kind, t.initial))
        .collect();
    assert_eq!(
        names,
        vec![
            ("chk", TrackerKind::Script, TrackerState::Unknown),
            ("heavy", TrackerKind::Script, TrackerState::Unknown),
            ("fresh", TrackerKind::Script, TrackerState::Down),
            ("tf", TrackerKind::File, TrackerState::Value(0)),
            ("haproxy", TrackerKind::Process, TrackerState::Down),
        ]
    );
    assert_eq!(
        p.instances[0].tracked,
        vec![
            iface("eth1", -20, false),
            iface("eth2", 0, false),
            iface("eth3", 7, true),
            tracker(0, 0, false),
            tracker(1, -60, false),
            tracker(2, -30, false),
            tracker(3, -2, false),
            tracker(4, 5, false),
        ]
    );
    assert_eq!(p.instances[1].tracked, vec![tracker(1, 20, false)]);
}

/// Sync group members without `sync_group_tracking_weight`: weighted interfaces count
/// unweighted, weighted scripts are dropped, a file's default weight 1 becomes 0 (another
/// weight drops it), processes keep theirs; the group's own trackers apply to every member.
#[test]
fn sync_group_tracking_rules() {
    let text = |extra: &str| {
        format!(
            "{TRACKERS}
            vrrp_sync_group G {{
                group {{ A B }}
                track_script {{ heavy }}
                track_interface {{ eth9 }}
                {extra}
            }}
            vrrp_instance A {{
                interface eth0
                virtual_router_id 1
                track_interface {{ eth1 weight -20
                    eth2 }}
                track_script {{ chk
                    heavy weight -10 }}
                track_file {{ tf }}
                track_process {{ haproxy }}
                virtual_ipaddress {{ 10.0.0.1 }}
            }}
            vrrp_instance B {{
                interface eth0
                virtual_router_id 2
                track_file {{ tf weight 3 }}
                virtual_ipaddress {{ 10.0.0.2 }}
            }}"
        )
    };
    let (p, warnings) = plan(&load(&text(""))).unwrap();
    assert_eq!(p.sync_groups.len(), 1);
    assert_eq!(p.sync_groups[0].members, vec![0, 1]);
    assert!(p.instances.iter().all(|i| i.proto.sync_member));
    let idx = |n: &str| p.trackers.iter().position(|t| t.name == n).unwrap();
    assert_eq!(
        p.instances[0].tracked,
        vec![
            iface("eth1", 0, false),
            iface("eth2", 0, false),
            tracker(idx("chk"), 0, false),
            tracker(idx("tf"), 0, false),
            tracker(idx("haproxy"), 5, false),
            // The group's, weights kept.
            iface("eth9", 0, false),
            tracker(idx("heavy"), -60, false),
        ]
    );
    assert_eq!(
        p.instances[1].tracked,
        vec![iface("eth9", 0, false), tracker(idx("heavy"), -60, false)]
    );
    let all = warnings.join("\n");
    for w in [
        "(A) ignoring weight of tracked interface eth1 due to SYNC group",
        "(A) ignoring tracked script heavy with weights due to SYNC group",
        "(A) ignoring weight from tracked file tf due to SYNC group; specify weight 0",
        "(B) ignoring tracked file tf with weight 3 due to SYNC group",
    ] {
        assert!(all.contains(w), "{w}\n{all}");
    }

    // With sync_group_tracking_weight, members keep their weights; a script tracked by
    // the instance and the group takes the group's weight (keepalived
    // `add_vrrp_to_track_script`), with a warning.
    let (p, warnings) = plan(&load(&text("sync_group_tracking_weight"))).unwrap();
    assert_eq!(p.instances[0].tracked[0], iface("eth1", -20, false));
    let heavy = p.trackers.iter().position(|t| t.name == "heavy").unwrap();
    assert_eq!(p.instances[0].tracked[3], tracker(heavy, -60, false));
    assert_eq!(p.instances[0].tracked.len(), 7);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("vrrp_script heavy is tracked by the instance and by sync group G")),
        "{warnings:?}"
    );
}

/// An address owner's priority never moves: weighted interfaces and scripts are dropped,
/// files with the default weight count unweighted; in its sync group the group's weighted
/// trackers are cleared to weight 0 for every member.
#[test]
fn owner_tracking_rules() {
    let (p, warnings) = plan(&load(&format!(
        "{TRACKERS}
        vrrp_instance O {{
            interface eth0
            virtual_router_id 1
            priority 255
            track_interface {{ eth1 weight 20
                eth2 }}
            track_script {{ heavy
                chk }}
            track_file {{ tf }}
            virtual_ipaddress {{ 10.0.0.1 }}
        }}"
    )))
    .unwrap();
    let idx = |n: &str| p.trackers.iter().position(|t| t.name == n).unwrap();
    assert_eq!(
        p.instances[0].tracked,
        vec![
            iface("eth2", 0, false),
            tracker(idx("chk"), 0, false),
            tracker(idx("tf"), 0, false),
        ]
    );
    assert!(
        warnings
            .iter()
            .any(|w| w == "(O) ignoring tracked interface eth1 due to address owner"),
        "{warnings:?}"
    );

    let (p, warnings) = plan(&load(&format!(
        "{TRACKERS}
        vrrp_sync_group G {{
            group {{ O B }}
            sync_group_tracking_weight
            track_script {{ heavy }}
        }}
        vrrp_instance O {{
            interface eth0
            virtual_router_id 1
            priority 255
            virtual_ipaddress {{ 10.0.0.1 }}
        }}
        vrrp_instance B {{
            interface eth0
            virtual_router_id 2
            virtual_ipaddress {{ 10.0.0.2 }}
        }}"
    )))
    .unwrap();
    assert_eq!(p.instances[1].tracked, vec![tracker(0, 0, false)]);
    assert!(
        warnings.iter().any(|w| w.contains("clearing weight")),
        "{warnings:?}"
    );
}

#[test]
fn global_tuning_and_unsupported_instance() {
    let (p, _) = plan(&load(
        "global_defs { vrrp_rt_priority 50
            vrrp_priority -10
            vrrp_garp_interval 0.01
            vrrp_startup_delay 2 }
        vrrp_instance A {
            interface eth0
            virtual_router_id 1
            virtual_ipaddress { 10.0.0.1 }
        }",
    ))
    .unwrap();
    assert_eq!(p.rt_priority, Some(50));
    assert_eq!(p.nice, Some(-10));
    assert_eq!(p.garp_interval, Duration::from_millis(10));
    assert_eq!(p.startup_delay, Duration::from_secs(2));

    let cfg = load(
        "vrrp_instance U {
            virtual_router_id 9
            unicast_src_ip 10.0.0.1
            unicast_peer { 10.0.0.2 }
            virtual_ipaddress { 10.0.0.100/24 dev eth0 }
        }",
    );
    let e = plan(&cfg).unwrap_err();
    assert!(e.to_string().contains("vrrp_instance U"), "{e}");
}

#[test]
fn keywords_without_effect_are_warned_about() {
    let inst = "vrrp_instance A {
            interface eth0
            virtual_router_id 1
            virtual_ipaddress { 10.0.0.1 }
        }";
    let (_, quiet) = plan(&load(inst)).unwrap();
    assert!(quiet.is_empty(), "{quiet:?}");
    let (_, warnings) = plan(&load(&format!(
        "global_defs {{ fifo_write_vrrp_states_on_reload }}
        linkbeat_interfaces {{ eth0 }}
        interface_up_down_delays {{ eth0 1 2 }}
        {inst}"
    )))
    .unwrap();
    for what in [
        "linkbeat_interfaces",
        "interface_up_down_delays",
        "fifo_write_vrrp_states_on_reload",
    ] {
        assert!(
            warnings.iter().any(|w| w.contains(what)),
            "{what}: {warnings:?}"
        );
    }
}

#[test]
fn macs_parse() {
    assert_eq!(
        parse_mac("00:00:5e:00:01:ff"),
        Some([0, 0, 0x5e, 0, 1, 0xff])
    );
    assert_eq!(parse_mac("00:00:5e:00:01"), None);
    assert_eq!(parse_mac("00:00:5e:00:01:02:03"), None);
    assert_eq!(parse_mac("zz:00:5e:00:01:02"), None);
}
