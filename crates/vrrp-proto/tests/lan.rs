//! Election, preemption and timer rules on the in-memory LAN (RFC 3768 §6, RFC 9568 §6,
//! keepalived-behaviour §3.1-§3.4).

mod util;

use std::time::Duration;

use rk_vrrp_proto::{Centisecs, Family, Input, Reason, StateKind, Version};
use util::{LATENCY, Lan, config, node_addr};

const V4: Family = Family::V4;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn election_highest_priority_wins_after_its_down_timer() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 100));
    let b = lan.start(config(Version::V2, V4, 150));
    let c = lan.start(config(Version::V2, V4, 200));
    for i in [a, b, c] {
        assert_eq!(lan.state(i), StateKind::Backup);
        // Start-up releases leftovers of a previous run.
        assert!(lan.nodes[i].vips.is_empty());
    }
    lan.run_for(secs(30.0));
    lan.assert_single_master(c);
    // 3 × 1 s + (256 − 200)/256 s: the shortest down timer.
    let m = lan.entered(c, StateKind::Master).unwrap();
    assert_eq!(m.at - lan.t0, Duration::from_micros(3_218_750));
    assert_eq!(m.reason, Reason::MasterNoResponse);
    // Nobody else ever became master.
    assert!(lan.entered(a, StateKind::Master).is_none());
    assert!(lan.entered(b, StateKind::Master).is_none());
    // The master advertises every second.
    let sent = &lan.nodes[c].sent;
    assert!(
        sent.windows(2)
            .all(|w| w[1].at - w[0].at == Duration::from_secs(1))
    );
}

#[test]
fn preemption_by_a_higher_priority_newcomer() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    lan.assert_single_master(a);
    let b = lan.start(config(Version::V2, V4, 200));
    lan.run_for(secs(20.0));
    lan.assert_single_master(b);
    let took = lan.entered(b, StateKind::Master).unwrap();
    assert_eq!(took.reason, Reason::Preempted);
    // B discarded A's lower-priority adverts and its down timer ran out.
    assert_eq!(took.at - lan.secs(10.0), Duration::from_micros(3_218_750));
    let gave = lan.entered(a, StateKind::Backup).unwrap();
    assert_eq!(gave.reason, Reason::HigherPriority);
    assert_eq!(gave.at, took.at + LATENCY);
}

#[test]
fn nopreempt_keeps_the_current_master() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    let mut cb = config(Version::V2, V4, 200);
    cb.preempt = false;
    let b = lan.start(cb);
    lan.run_for(secs(300.0));
    lan.assert_single_master(a);
    // It still takes over when the master dies.
    lan.crash(a);
    lan.run_for(secs(10.0));
    lan.assert_single_master(b);
    assert_eq!(
        lan.entered(b, StateKind::Master).unwrap().reason,
        Reason::MasterNoResponse
    );
}

#[test]
fn preempt_delay_waits_before_preempting() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    let mut cb = config(Version::V2, V4, 200);
    cb.preempt_delay = Duration::from_secs(15);
    let b = lan.start(cb);
    lan.run_for(secs(12.0));
    lan.assert_single_master(a);
    lan.run_for(secs(30.0));
    lan.assert_single_master(b);
    let took = lan.entered(b, StateKind::Master).unwrap();
    assert_eq!(took.reason, Reason::Preempted);
    // First advert heard within 1 s of joining; the delay runs 15 s from it; the last
    // accepted advert then needs its down timer (3.22 s) to run out.
    let after_join = took.at - lan.secs(10.0);
    assert!(
        after_join > secs(15.0) && after_join < secs(1.0 + 15.0 + 1.0 + 3.3),
        "{after_join:?}"
    );
}

/// keepalived #1893: `preempt_delay` is honoured again when a fault clears (the link comes
/// back): the higher priority waits the delay from the first advert it hears before taking
/// the VIPs back, rather than preempting after its down timer.
#[test]
fn preempt_delay_applies_after_a_fault_clears() {
    let mut lan = Lan::new();
    let mut ca = config(Version::V2, V4, 200);
    ca.preempt_delay = Duration::from_secs(10);
    let a = lan.start(ca);
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(20.0));
    lan.assert_single_master(a);
    lan.input(a, Input::InterfaceDown);
    lan.run_for(secs(5.0));
    assert_eq!(lan.masters(), vec![b]);
    let up = lan.now;
    lan.input(a, Input::InterfaceUp);
    assert_eq!(lan.state(a), StateKind::Backup);
    // Its down timer (3.2 s) has run out long before the delay: still b's.
    lan.run_for(secs(9.0));
    lan.assert_single_master(b);
    lan.run_for(secs(10.0));
    lan.assert_single_master(a);
    let took = lan.entered(a, StateKind::Master).unwrap();
    assert_eq!(took.reason, Reason::Preempted);
    let after_up = took.at - up;
    assert!(
        after_up > secs(10.0) && after_up < secs(1.0 + 10.0 + 3.3),
        "{after_up:?}"
    );
}

#[test]
fn equal_priorities_higher_address_wins() {
    // Started together: both time out at once, both claim MASTER, the lower address yields.
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 100));
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    lan.assert_single_master(b);
    assert_eq!(
        lan.entered(a, StateKind::Backup).unwrap().reason,
        Reason::HigherPriority
    );
    assert!(node_addr(V4, b) > node_addr(V4, a));
}

#[test]
fn equal_priority_newcomer_does_not_preempt() {
    // RFC 9568 §6.4.2: a Backup accepts adverts of priority ≥ its own, so an equal-priority
    // master keeps the role even if the newcomer has a higher address.
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    let _b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(60.0));
    lan.assert_single_master(a);
}

#[test]
fn owner_starts_master_at_once_and_takes_over() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 150));
    lan.run_for(secs(10.0));
    let b = lan.start(config(Version::V2, V4, 255));
    // No down timer for the owner (RFC 9568 §6.4.1).
    let m = lan.entered(b, StateKind::Master).unwrap();
    assert_eq!(
        (m.at, m.from, m.reason),
        (lan.secs(10.0), StateKind::Init, Reason::Owner)
    );
    lan.run_for(secs(1.0));
    lan.assert_single_master(b);
    assert_eq!(
        lan.entered(a, StateKind::Backup).unwrap().at,
        lan.secs(10.0) + LATENCY
    );
    // Trackers never change an owner's priority.
    lan.input(
        b,
        Input::PriorityAdjustment {
            tracker: rk_vrrp_proto::TrackerId(1),
            delta: -100,
        },
    );
    assert_eq!(lan.nodes[b].vi.effective_priority(), 255);
}

#[test]
fn state_master_on_a_non_owner_waits_the_down_timer() {
    let mut lan = Lan::new();
    let mut c = config(Version::V2, V4, 100);
    c.wants_master = true;
    let a = lan.start(c);
    assert_eq!(lan.state(a), StateKind::Backup);
    lan.run_for(secs(10.0));
    assert_eq!(
        lan.entered(a, StateKind::Master).unwrap().at - lan.t0,
        Duration::from_micros(3_609_375)
    );
}

#[test]
fn priority_zero_on_shutdown_takeover_after_skew_only() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(20.0));
    lan.assert_single_master(a);
    lan.input(a, Input::Shutdown);
    assert_eq!(lan.state(a), StateKind::Stopped);
    assert!(lan.nodes[a].vips.is_empty());
    assert_eq!(lan.nodes[a].sent.last().unwrap().priority, 0);
    lan.run_for(secs(5.0));
    let took = lan.entered(b, StateKind::Master).unwrap();
    assert_eq!(took.reason, Reason::MasterStopped);
    // Skew_Time = 156/256 s after the priority-0 advert arrives, not 3 × 1 s + skew.
    assert_eq!(
        took.at - lan.secs(20.0),
        LATENCY + Duration::from_micros(609_375)
    );
    assert_eq!(lan.masters(), vec![b]);
}

#[test]
fn master_answers_priority_zero_and_stays() {
    // Two backups and a master: a stopping backup-turned-master is not the case here; a
    // MASTER that hears priority 0 (RFC 9568 §6.4.3) sends an advert at once.
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.5));
    lan.assert_single_master(a);
    // B claims mastership (its sync group says so) and shuts down at once: A hears its
    // priority-100 advert (lower: answered) and its priority-0 advert (answered too).
    lan.input(b, Input::Sync(rk_vrrp_proto::SyncCommand::GoMaster));
    lan.input(b, Input::Shutdown);
    let before = lan.nodes[a].sent.len();
    lan.run_for(LATENCY);
    assert_eq!(lan.nodes[a].sent.len(), before + 2, "an advert for each");
    assert_eq!(lan.nodes[a].lower_prio_heard.len(), 1);
    lan.run_for(secs(5.0));
    assert_eq!(lan.masters(), vec![a]);
}

#[test]
fn v3_backup_learns_the_master_interval() {
    let mut lan = Lan::new();
    let mut ca = config(Version::V3, V4, 200);
    ca.advert_interval = Centisecs(50);
    let a = lan.start(ca);
    let b = lan.start(config(Version::V3, V4, 100)); // configured 1 s
    lan.run_for(secs(10.0));
    lan.assert_single_master(a);
    assert_eq!(lan.nodes[b].vi.master_adver_int(), Some(Centisecs(50)));
    let last = lan.nodes[a].sent.last().unwrap().at;
    lan.crash(a);
    lan.run_for(secs(10.0));
    let took = lan.entered(b, StateKind::Master).unwrap();
    // 3 × 0.5 s + (156 × 50 / 256) cs = 1.5 s + 304.6875 ms, from the last advert heard.
    assert_eq!(
        took.at - last,
        LATENCY + Duration::from_micros(1_804_687) + Duration::from_nanos(500)
    );
    // As MASTER it advertises its own interval again (RFC 9568 §6.4.3).
    let s = &lan.nodes[b].sent;
    assert_eq!(
        s[s.len() - 1].at - s[s.len() - 2].at,
        Duration::from_secs(1)
    );
}

#[test]
fn down_timer_adverts_sets_the_number_of_missed_adverts() {
    let mut lan = Lan::new();
    let mut ca = config(Version::V3, V4, 200);
    ca.advert_interval = Centisecs(10);
    let a = lan.start(ca.clone());
    let mut cb = config(Version::V3, V4, 100);
    cb.advert_interval = Centisecs(10);
    cb.down_timer_adverts = 10;
    let b = lan.start(cb);
    lan.run_for(secs(5.0));
    lan.assert_single_master(a);
    let last = lan.nodes[a].sent.last().unwrap().at;
    lan.crash(a);
    lan.run_for(secs(5.0));
    let took = lan.entered(b, StateKind::Master).unwrap();
    // 10 × 100 ms + (156 × 10 / 256) cs.
    assert_eq!(
        took.at - last,
        LATENCY + Duration::from_micros(1_060_937) + Duration::from_nanos(500)
    );
}

#[test]
fn v2_interval_mismatch_is_not_a_master() {
    // RFC 3768 §7.1: a v2 advert with another interval is discarded, so the backup with the
    // other interval does not see the master and takes over (counted, as keepalived logs).
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    let mut cb = config(Version::V2, V4, 100);
    cb.advert_interval = Centisecs(200);
    let b = lan.start(cb);
    lan.run_for(secs(20.0));
    assert_eq!(lan.masters(), vec![a, b]);
    assert!(lan.nodes[b].vi.counters().decode.advert_interval_mismatch > 0);
}

#[test]
fn vip_mismatch_rejects_by_default_like_keepalived_2_2_7() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    let mut cb = config(Version::V2, V4, 100);
    cb.vips = vec!["10.0.0.200".parse().unwrap()];
    let b = lan.start(cb.clone());
    lan.run_for(secs(20.0));
    assert_eq!(
        lan.masters(),
        vec![a, b],
        "2.2.7: a backup with other VIPs becomes a second master"
    );
    assert!(lan.nodes[b].vi.counters().decode.address_list_mismatch > 0);

    // With CountOnly (keepalived ≥ 2.3.3) the same pair elects one master.
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    cb.vip_check = rk_vrrp_proto::VipCheckMode::CountOnly;
    let b = lan.start(cb);
    lan.run_for(secs(20.0));
    assert_eq!(lan.masters(), vec![a]);
    assert_eq!(lan.state(b), StateKind::Backup);
    assert!(lan.nodes[b].vi.counters().decode.address_list_mismatch > 0);
}

#[test]
fn skip_check_adv_addr_trusts_the_known_master() {
    for skip in [false, true] {
        let mut lan = Lan::new();
        let ca = config(Version::V2, V4, 200);
        let a = lan.start(ca.clone());
        let mut cb = config(Version::V2, V4, 100);
        cb.skip_check_adv_addr = skip;
        let b = lan.start(cb);
        lan.run_for(secs(10.0));
        lan.assert_single_master(a);
        // A's VIP list changes; B's does not.
        let mut more = ca.clone();
        more.vips.push("10.0.0.150".parse().unwrap());
        let now = lan.now;
        lan.nodes[a].vi.reconfigure(now, more).unwrap();
        lan.run_for(secs(10.0));
        if skip {
            lan.assert_single_master(a);
        } else {
            assert_eq!(lan.masters(), vec![a, b]);
        }
    }
}

#[test]
fn old_unicast_checksum_is_detected_and_adopted() {
    use rk_vrrp_proto::OldUnicastChecksum;
    // A behaves like keepalived ≤ 1.3.5 (group address in the v3 unicast pseudo-header);
    // B starts with the standard form, detects A's and switches, so they agree.
    let mut lan = Lan::new();
    let (aa, ba) = (node_addr(V4, 0), node_addr(V4, 1));
    let mut ca = config(Version::V3, V4, 100);
    ca.delivery = util::unicast(&[ba]);
    ca.checksum.old_unicast = OldUnicastChecksum::Always;
    let mut cb = config(Version::V3, V4, 200);
    cb.delivery = util::unicast(&[aa]);
    let a = lan.start(ca);
    let b = lan.start(cb);
    lan.run_for(secs(20.0));
    lan.assert_single_master(b);
    assert_eq!(lan.nodes[b].vi.counters().decode.bad_checksum, 0);
    assert!(lan.nodes[a].vi.counters().adverts_received > 10);
}

#[test]
fn v3_zero_interval_is_not_learned() {
    use rk_vrrp_proto::packet::{TxAuth, TxChecksum};
    use rk_vrrp_proto::{Advert, RxMeta, Transmit};
    let mut lan = Lan::new();
    let b = lan.start(config(Version::V3, V4, 100));
    lan.add(config(Version::V3, V4, 200));
    let t = Transmit {
        advert: Advert {
            version: Version::V3,
            vrid: 51,
            priority: 200,
            interval: Centisecs(0),
            addresses: vec![util::vip(V4)],
        },
        src: node_addr(V4, 1),
        destinations: vec!["224.0.0.18".parse().unwrap()],
        ttl: 255,
        ip_id: 1,
        auth: TxAuth::None,
        checksum: TxChecksum::Standard,
        unicast: false,
    };
    let mut buf = vec![0u8; 100];
    let n = t.encode(t.destinations[0], &mut buf).unwrap();
    buf.truncate(n);
    lan.inject(1, buf, RxMeta::Ipv4);
    lan.run_for(secs(1.0));
    assert_eq!(lan.nodes[b].vi.master_adver_int(), Some(Centisecs(100)));
    assert_eq!(lan.state(b), StateKind::Backup);
    assert_eq!(lan.nodes[b].vi.master(), Some((node_addr(V4, 1), 200)));
}
