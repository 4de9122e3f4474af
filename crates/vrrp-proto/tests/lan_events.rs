//! Events on the in-memory LAN: split brain, the lower-priority answer, GARP schedules,
//! reload, trackers and faults, hostile packets, authentication, IPv6, unicast, sync-group
//! hooks, and a long randomized run.

mod util;

use std::net::IpAddr;
use std::time::Duration;

use rk_vrrp_proto::packet::{TxAuth, TxChecksum};
use rk_vrrp_proto::{
    Advert, Auth, AuthKey, Centisecs, Family, FaultSource, GarpConfig, Input, Reason, ReloadError,
    RxMeta, StateKind, SyncCommand, TrackerId, Transmit, Version,
};
use util::{LATENCY, Lan, config, node_addr, unicast, vip};

const V4: Family = Family::V4;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A valid v2 advert as node `from` would send it, with `priority`.
fn advert_from(from: usize, priority: u8) -> Vec<u8> {
    let t = Transmit {
        advert: Advert {
            version: Version::V2,
            vrid: 51,
            priority,
            interval: Centisecs(100),
            addresses: vec![vip(V4)],
        },
        src: node_addr(V4, from),
        destinations: vec!["224.0.0.18".parse().unwrap()],
        ttl: 255,
        ip_id: 9,
        auth: TxAuth::None,
        checksum: TxChecksum::Standard,
        unicast: false,
    };
    let mut buf = vec![0u8; 100];
    let n = t.encode(t.destinations[0], &mut buf).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn split_brain_heals_at_once_with_advert_and_garp() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    lan.assert_single_master(a);
    lan.nodes[a].linked = false;
    lan.run_for(secs(10.0));
    assert_eq!(lan.masters(), vec![a, b], "partitioned: both master");
    // Heal just after A's advert, so B's advert comes first: A hears the lower priority.
    let after_a = lan.nodes[a].vi.poll_timeout().unwrap() + Duration::from_millis(1);
    lan.run_until(after_a);
    lan.nodes[a].linked = true;
    let healed = lan.now;
    lan.run_for(secs(1.1));
    lan.assert_single_master(a);
    // A heard B's lower priority, answered with an advert and a GARP burst at that moment.
    let (at, from, prio) = lan.nodes[a].lower_prio_heard[0];
    assert_eq!((from, prio), (node_addr(V4, b), 100));
    assert!(at >= healed);
    let garp = lan.nodes[a]
        .garps
        .iter()
        .find(|g| g.at == at)
        .expect("GARP burst on hearing B");
    assert_eq!((garp.addresses.clone(), garp.repeat), (vec![vip(V4)], 5));
    assert!(
        lan.nodes[a].sent.iter().any(|s| s.at == at),
        "advert sent at once"
    );
    // The second lower-priority burst follows after garp_lower_prio_delay (5 s).
    lan.run_for(secs(6.0));
    assert!(
        lan.nodes[a]
            .garps
            .iter()
            .any(|g| g.at == at + Duration::from_secs(5))
    );
}

#[test]
fn lower_priority_answer_is_rate_limited() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    lan.add(config(Version::V2, V4, 100)); // node 1 exists but never starts
    lan.run_for(secs(10.0));
    let bursts = |lan: &Lan| lan.nodes[a].garps.len();
    let before = (lan.nodes[a].sent.len(), bursts(&lan));
    for _ in 0..50 {
        lan.inject(1, advert_from(1, 100), RxMeta::Ipv4);
        lan.run_for(secs(0.01));
    }
    // 50 lower-priority adverts in 0.5 s: one answer, plus at most one periodic advert.
    assert_eq!(lan.nodes[a].lower_prio_heard.len(), 50);
    assert_eq!(bursts(&lan), before.1 + 1);
    assert!(lan.nodes[a].sent.len() <= before.0 + 2);
    // A while later, another one is answered again.
    lan.run_for(secs(1.5));
    lan.inject(1, advert_from(1, 100), RxMeta::Ipv4);
    lan.run_for(LATENCY);
    assert_eq!(bursts(&lan), before.1 + 2);
}

#[test]
fn garp_schedule_initial_delayed_and_refresh() {
    let mut lan = Lan::new();
    let mut c = config(Version::V2, V4, 200);
    c.garp = GarpConfig {
        master_repeat: 3,
        master_delay: Duration::from_secs(5),
        refresh: Some(Duration::from_secs(10)),
        refresh_repeat: 2,
        ..GarpConfig::default()
    };
    c.excluded_vips = vec!["192.0.2.7".parse().unwrap()];
    let a = lan.start(c);
    lan.run_for(secs(30.0));
    let m = lan.entered(a, StateKind::Master).unwrap().at;
    let g: Vec<(Duration, u32)> = lan.nodes[a]
        .garps
        .iter()
        .map(|g| (g.at - m, g.repeat))
        .collect();
    let s = Duration::from_secs;
    assert_eq!(g, vec![(s(0), 3), (s(5), 3), (s(10), 2), (s(20), 2)]);
    // GARPs cover the excluded VIPs too, and VIPs were added before the first burst.
    assert_eq!(lan.nodes[a].garps[0].addresses.len(), 2);
    assert_eq!(lan.nodes[a].vips.len(), 2);
}

#[test]
fn reload_keeps_state_and_schedule() {
    let mut lan = Lan::new();
    let ca = config(Version::V2, V4, 200);
    let a = lan.start(ca.clone());
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.3));
    lan.assert_single_master(a);
    let next = lan.nodes[a].vi.poll_timeout();
    let now = lan.now;

    // Unchanged: nothing happens at all.
    lan.nodes[a].vi.reconfigure(now, ca.clone()).unwrap();
    assert_eq!(lan.nodes[a].vi.poll_action(), None);
    assert_eq!(lan.nodes[a].vi.poll_timeout(), next);

    // Another VRID is another virtual router.
    let mut other = ca.clone();
    other.vrid = 52;
    assert_eq!(
        lan.nodes[a].vi.reconfigure(now, other),
        Err(ReloadError::IdentityChanged)
    );

    // A new VIP while MASTER: added and announced; the state and schedule stay.
    let mut more = ca.clone();
    let new_vip: IpAddr = "10.0.0.101".parse().unwrap();
    more.vips.push(new_vip);
    lan.nodes[a].vi.reconfigure(now, more.clone()).unwrap();
    lan.input(a, Input::Timer); // not due: only drains the reload's actions
    assert!(lan.nodes[a].vips.contains(&new_vip));
    assert_eq!(lan.nodes[a].garps.last().unwrap().addresses, vec![new_vip]);
    assert_eq!(lan.nodes[a].vi.poll_timeout(), next);
    assert_eq!(lan.state(a), StateKind::Master);

    // B must learn the new VIP list too, or it rejects A's adverts (2.2.7 behaviour).
    let mut cb = config(Version::V2, V4, 100);
    cb.vips.push(new_vip);
    lan.nodes[b].vi.reconfigure(now, cb).unwrap();

    // A lower priority takes effect in the next advert; B then preempts.
    let mut lower = more;
    lower.priority = 90;
    lan.nodes[a].vi.reconfigure(now, lower).unwrap();
    lan.input(a, Input::Timer);
    assert_eq!(lan.nodes[a].priority_changes, vec![(200, 90)]);
    assert_eq!(lan.state(a), StateKind::Master);
    lan.run_for(secs(1.0));
    assert_eq!(lan.nodes[a].sent.last().unwrap().priority, 90);
    lan.run_for(secs(5.0));
    lan.assert_single_master(b);
    assert_eq!(
        lan.entered(b, StateKind::Master).unwrap().reason,
        Reason::Preempted
    );
}

#[test]
fn tracker_weights_move_the_master() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 150));
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    lan.assert_single_master(a);

    // B's tracker adds 60: 160 > 150, B preempts when its down timer runs out.
    lan.input(
        b,
        Input::PriorityAdjustment {
            tracker: TrackerId(1),
            delta: 60,
        },
    );
    assert_eq!(lan.nodes[b].vi.effective_priority(), 160);
    lan.run_for(secs(5.0));
    lan.assert_single_master(b);

    // A second tracker on B subtracts 30: 130 < 150, A preempts back.
    lan.input(
        b,
        Input::PriorityAdjustment {
            tracker: TrackerId(2),
            delta: -30,
        },
    );
    lan.run_for(secs(6.0));
    lan.assert_single_master(a);

    // Clamping: 1..=254.
    lan.input(
        b,
        Input::PriorityAdjustment {
            tracker: TrackerId(3),
            delta: -1000,
        },
    );
    assert_eq!(lan.nodes[b].vi.effective_priority(), 1);
    lan.input(
        b,
        Input::PriorityAdjustment {
            tracker: TrackerId(3),
            delta: 1000,
        },
    );
    assert_eq!(lan.nodes[b].vi.effective_priority(), 254);
    lan.input(
        b,
        Input::PriorityAdjustment {
            tracker: TrackerId(3),
            delta: 0,
        },
    );
    assert_eq!(lan.nodes[b].vi.effective_priority(), 130);
    assert_eq!(lan.nodes[b].priority_changes.first(), Some(&(100, 160)));
}

#[test]
fn weight_zero_tracker_forces_fault_with_priority_zero() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    let src = FaultSource::Tracker(TrackerId(7));
    lan.input(
        a,
        Input::Fault {
            source: src,
            active: true,
        },
    );
    assert_eq!(lan.state(a), StateKind::Fault);
    assert!(lan.nodes[a].vips.is_empty());
    // keepalived sends two priority-0 adverts on the way to FAULT.
    let zeros = lan.nodes[a].sent.iter().filter(|s| s.priority == 0).count();
    assert_eq!(zeros, 2);
    lan.run_for(secs(5.0));
    let took = lan.entered(b, StateKind::Master).unwrap();
    assert_eq!(
        (took.reason, took.at - lan.secs(10.0)),
        (
            Reason::MasterStopped,
            LATENCY + Duration::from_micros(609_375)
        )
    );
    // A FAULT instance ignores adverts and sends none.
    let sent = lan.nodes[a].sent.len();
    lan.run_for(secs(10.0));
    assert_eq!(lan.nodes[a].sent.len(), sent);
    assert!(lan.nodes[a].vi.counters().ignored_not_running > 0);
    // Cleared: BACKUP, then preempts B (200 > 100).
    lan.input(
        a,
        Input::Fault {
            source: src,
            active: false,
        },
    );
    assert_eq!(
        lan.entered(a, StateKind::Backup).unwrap().reason,
        Reason::FaultCleared
    );
    lan.run_for(secs(5.0));
    lan.assert_single_master(a);
}

#[test]
fn interface_down_is_a_fault_unless_untracked() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    lan.run_for(secs(5.0));
    lan.input(a, Input::InterfaceDown);
    assert_eq!(lan.state(a), StateKind::Fault);
    // Two sources: both must clear.
    lan.input(
        a,
        Input::Fault {
            source: FaultSource::SourceAddress,
            active: true,
        },
    );
    lan.input(a, Input::InterfaceUp);
    assert_eq!(lan.state(a), StateKind::Fault);
    lan.input(
        a,
        Input::Fault {
            source: FaultSource::SourceAddress,
            active: false,
        },
    );
    assert_eq!(lan.state(a), StateKind::Backup);

    let mut c = config(Version::V2, V4, 200);
    c.track_interface = false;
    let b = lan.start(c);
    lan.input(b, Input::InterfaceDown);
    assert_eq!(lan.state(b), StateKind::Backup);

    // A fault present at start-up: FAULT from INIT; the owner goes straight to MASTER
    // when it clears.
    let o = lan.add(config(Version::V2, V4, 255));
    lan.input(o, Input::InterfaceDown);
    lan.input(o, Input::Start);
    assert_eq!(lan.state(o), StateKind::Fault);
    lan.input(o, Input::InterfaceUp);
    assert_eq!(
        lan.entered(o, StateKind::Master).unwrap().reason,
        Reason::Owner
    );
}

#[test]
fn hostile_packets_are_counted_and_change_nothing() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    let b = lan.start(config(Version::V2, V4, 100));
    lan.add(config(Version::V2, V4, 100)); // node 2: the attacker's address
    lan.run_for(secs(10.0));
    lan.assert_single_master(a);
    let good = advert_from(2, 250);
    let mut kinds: Vec<Vec<u8>> = Vec::new();
    let mut p = good.clone();
    p[8] = 64; // TTL
    kinds.push(p);
    let mut p = good.clone();
    p[27] ^= 0xff; // checksum
    kinds.push(p);
    let mut p = good.clone();
    p[21] = 52; // VRID
    kinds.push(p);
    // A well-formed VRRPv3 advert on a v2 instance.
    let v3 = Transmit {
        advert: Advert {
            version: Version::V3,
            vrid: 51,
            priority: 250,
            interval: Centisecs(100),
            addresses: vec![vip(V4)],
        },
        src: node_addr(V4, 2),
        destinations: vec!["224.0.0.18".parse().unwrap()],
        ttl: 255,
        ip_id: 9,
        auth: TxAuth::None,
        checksum: TxChecksum::Standard,
        unicast: false,
    };
    let mut p = vec![0u8; 100];
    let n = v3.encode(v3.destinations[0], &mut p).unwrap();
    p.truncate(n);
    kinds.push(p);
    kinds.push(good[..30].to_vec()); // truncated
    let mut p = good.clone();
    p[23] = 2; // address count
    kinds.push(p);
    let mut p = good.clone();
    p[24] = 1; // auth type PASS on a no-auth instance
    kinds.push(p);
    let before: Vec<usize> = lan.nodes.iter().map(|n| n.changes.len()).collect();
    let sent_before = lan.nodes[a].sent.len();
    // 10 000 packets in one second, round-robin over the kinds.
    for i in 0..10_000 {
        lan.inject(2, kinds[i % kinds.len()].clone(), RxMeta::Ipv4);
        lan.run_for(Duration::from_micros(100));
    }
    lan.run_for(LATENCY);
    let after: Vec<usize> = lan.nodes.iter().map(|n| n.changes.len()).collect();
    assert_eq!(before, after, "no state change");
    lan.assert_single_master(a);
    // The master's adverts kept their schedule: one per second.
    assert_eq!(lan.nodes[a].sent.len() - sent_before, 1);
    for i in [a, b] {
        let c = lan.nodes[i].vi.counters().decode;
        assert_eq!(c.total(), 10_000, "node {i}: {c:?}");
        assert!(
            c.bad_ttl > 0 && c.bad_checksum > 0 && c.vrid_mismatch > 0 && c.version_mismatch > 0
        );
        assert!(c.truncated > 0 && c.auth_type_mismatch > 0);
        assert!(c.address_count_mismatch + c.truncated + c.too_long > 0);
    }
}

#[test]
fn ah_pair_fails_over_and_back_with_shared_sequence() {
    let mut lan = Lan::new();
    let auth = Auth::Ah(AuthKey::new(b"ahsecret"));
    let mut ca = config(Version::V2, V4, 200);
    ca.auth = auth;
    let mut cb = config(Version::V2, V4, 100);
    cb.auth = auth;
    let a = lan.start(ca.clone());
    let b = lan.start(cb);
    lan.run_for(secs(20.0));
    lan.assert_single_master(a);
    lan.crash(a);
    lan.run_for(secs(20.0));
    lan.assert_single_master(b);
    // A reboots with its sequence at 0; it learns B's sequence from B's adverts and
    // continues above it when it preempts, so B accepts it.
    lan.restart(a, ca);
    lan.run_for(secs(10.0));
    lan.assert_single_master(a);
    let d = lan.nodes[b].vi.counters().decode;
    assert_eq!((d.ah_icv, d.ah_replay, d.ah_spi), (0, 0, 0));
    // The sequence restarted from 0 at A's reboot: B refused nothing A sent after it
    // had learned B's sequence.
    assert!(lan.nodes[b].vi.counters().adverts_received > 20);
}

#[test]
fn pass_pair_with_wrong_password_is_two_masters() {
    let mut lan = Lan::new();
    let mut ca = config(Version::V2, V4, 200);
    ca.auth = Auth::Pass(AuthKey::new(b"one"));
    let mut cb = config(Version::V2, V4, 100);
    cb.auth = Auth::Pass(AuthKey::new(b"two"));
    let a = lan.start(ca);
    let b = lan.start(cb);
    lan.run_for(secs(10.0));
    assert_eq!(lan.masters(), vec![a, b]);
    assert!(lan.nodes[b].vi.counters().decode.bad_password > 0);
}

#[test]
fn v3_ipv6_election_and_failover() {
    let mut lan = Lan::new();
    let v6 = Family::V6;
    let a = lan.start(config(Version::V3, v6, 200));
    let b = lan.start(config(Version::V3, v6, 100));
    lan.run_for(secs(10.0));
    lan.assert_single_master(a);
    lan.input(a, Input::Shutdown);
    lan.run_for(secs(2.0));
    lan.assert_single_master(b);
    // v3 skew = 156 × 100 / 256 cs.
    assert_eq!(
        lan.entered(b, StateKind::Master).unwrap().at - lan.secs(10.0),
        LATENCY + Duration::from_micros(609_375)
    );
}

#[test]
fn unicast_pair_elects_and_fails_over() {
    let mut lan = Lan::new();
    let (aa, ba) = (node_addr(V4, 0), node_addr(V4, 1));
    let mut ca = config(Version::V3, V4, 200);
    ca.delivery = unicast(&[ba]);
    let mut cb = config(Version::V3, V4, 100);
    cb.delivery = unicast(&[aa]);
    let a = lan.start(ca.clone());
    let b = lan.start(cb);
    lan.run_for(secs(10.0));
    lan.assert_single_master(a);
    assert!(lan.nodes[a].sent.iter().all(|s| s.dst == ba));
    lan.crash(a);
    lan.run_for(secs(10.0));
    lan.assert_single_master(b);
    lan.restart(a, ca);
    lan.run_for(secs(10.0));
    lan.assert_single_master(a);
    assert_eq!(lan.nodes[b].vi.counters().decode.total(), 0);
}

#[test]
fn sync_member_waits_for_the_group() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    let mut cb = config(Version::V2, V4, 100);
    cb.sync_member = true;
    let b = lan.start(cb);
    lan.run_for(secs(10.0));
    lan.crash(a);
    lan.run_for(secs(10.0));
    // The down timer ran out (and was re-armed) but the group did not say so.
    assert_eq!(lan.state(b), StateKind::Backup);
    assert!(lan.nodes[b].want_master >= 2);
    lan.input(b, Input::Sync(SyncCommand::GoMaster));
    assert_eq!(
        lan.entered(b, StateKind::Master).unwrap().reason,
        Reason::SyncGroup
    );
    lan.input(b, Input::Sync(SyncCommand::GoBackup));
    assert_eq!(lan.state(b), StateKind::Backup);
    assert!(lan.nodes[b].vips.is_empty());
}

#[test]
fn vips_lost_gives_up_with_priority_zero() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    lan.input(a, Input::VipsLost);
    assert_eq!(
        lan.entered(a, StateKind::Backup).unwrap().reason,
        Reason::VipsLost
    );
    lan.run_for(secs(1.0));
    assert_eq!(
        lan.entered(b, StateKind::Master).unwrap().reason,
        Reason::MasterStopped
    );
    // A has the higher priority: it preempts back after its down timer.
    lan.run_for(secs(5.0));
    lan.assert_single_master(a);
}

/// A small deterministic generator (64-bit LCG) so the long run is reproducible.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn long_run_random_crashes_and_partitions_always_converge() {
    // 4 routers, 20 000 simulated seconds of crashes, reboots, partitions and heals. After
    // every event plus 15 s of quiet, each connected group of live routers has exactly one
    // MASTER, the one with the highest priority (preemption is on), and only it holds the VIP.
    let prios = [50u8, 100, 150, 200];
    let mut lan = Lan::new();
    for p in prios {
        lan.start(config(Version::V2, V4, p));
    }
    let mut rng = Lcg(0x5eed);
    let mut events = 0;
    while lan.elapsed() < secs(20_000.0) {
        let i = rng.next(4) as usize;
        match rng.next(4) {
            0 if lan.nodes[i].alive => lan.crash(i),
            0 => lan.restart(i, config(Version::V2, V4, prios[i])),
            1 => lan.nodes[i].linked = !lan.nodes[i].linked,
            2 => lan.input(
                i,
                Input::PriorityAdjustment {
                    tracker: TrackerId(1),
                    delta: 0,
                },
            ),
            _ => {}
        }
        events += 1;
        lan.run_for(secs(15.0 + rng.next(60) as f64));
        let live = |i: usize| lan.nodes[i].alive;
        let linked: Vec<usize> = (0..4).filter(|&i| live(i) && lan.nodes[i].linked).collect();
        if let Some(&best) = linked.iter().max_by_key(|&&i| prios[i]) {
            for &i in &linked {
                let want = if i == best {
                    StateKind::Master
                } else {
                    StateKind::Backup
                };
                assert_eq!(lan.state(i), want, "node {i} at {:?}", lan.elapsed());
                assert_eq!(lan.nodes[i].vips.contains(&vip(V4)), i == best);
            }
        }
        for i in (0..4).filter(|&i| live(i) && !lan.nodes[i].linked) {
            assert_eq!(
                lan.state(i),
                StateKind::Master,
                "isolated node {i} is its own master"
            );
        }
    }
    assert!(events > 400);
}
