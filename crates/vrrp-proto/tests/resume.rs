//! `Input::Resume`: a restarted daemon whose VIPs are still on the interfaces (its previous
//! process was killed while MASTER) keeps them when no other master exists, and gives them
//! up as soon as one is heard (issue 8, "restart adopts the kernel").

mod util;

use std::time::Duration;

use rk_vrrp_proto::{FaultSource, Input, Instance, Reason, StateKind, TrackerId, Version};
use util::{Lan, config};

const V4: rk_vrrp_proto::Family = rk_vrrp_proto::Family::V4;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// The daemon of node `i` dies without a word (SIGKILL): no advert, no release; the kernel
/// keeps the addresses, so the VIPs stay where they were.
fn kill(lan: &mut Lan, i: usize) {
    let vips = lan.nodes[i].vips.clone();
    lan.crash(i);
    lan.nodes[i].vips = vips;
}

/// A new process on node `i`, starting with `input` (Start or Resume).
fn restart(lan: &mut Lan, i: usize, cfg: rk_vrrp_proto::InstanceConfig, input: Input) {
    let mut vi = Instance::new(cfg).expect("valid config");
    vi.handle(lan.now, Input::InterfaceAddress(Some(lan.nodes[i].addr)));
    lan.nodes[i].vi = vi;
    lan.nodes[i].alive = true;
    lan.input(i, input);
}

#[test]
fn quick_restart_of_the_master_keeps_the_vips_and_the_backup_never_takes_over() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 150));
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    lan.assert_single_master(a);
    let vip = lan.nodes[a].vi.config().vips[0];

    kill(&mut lan, a);
    lan.run_for(secs(0.5));
    restart(&mut lan, a, config(Version::V2, V4, 150), Input::Resume);
    assert_eq!(lan.state(a), StateKind::Backup);
    assert!(lan.nodes[a].vi.is_holding());
    assert!(lan.nodes[a].vips.contains(&vip), "VIPs kept while resuming");
    // Its own advert interval plus skew, then MASTER without ever releasing the VIP.
    let resumed_at = lan.now;
    lan.run_for(secs(1.5));
    lan.assert_single_master(a);
    let m = lan.entered(a, StateKind::Master).unwrap();
    assert_eq!(
        m.at - resumed_at,
        // (256 − 150) / 256 s of skew.
        Duration::from_nanos(1_414_062_500)
    );
    assert!(!lan.nodes[a].vi.is_holding());
    lan.run_for(secs(30.0));
    lan.assert_single_master(a);
    assert!(
        lan.entered(b, StateKind::Master).is_none(),
        "the backup never took over"
    );
}

#[test]
fn a_plain_start_releases_the_vips_and_the_backup_takes_over() {
    // What Resume avoids: keepalived's start-up rule drops the VIPs and waits the full
    // down timer, by which time the backup's timer (running since the last advert) fired.
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 150));
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    kill(&mut lan, a);
    lan.run_for(secs(0.5));
    restart(&mut lan, a, config(Version::V2, V4, 150), Input::Start);
    assert!(lan.nodes[a].vips.is_empty());
    lan.run_for(secs(30.0));
    assert!(lan.entered(b, StateKind::Master).is_some());
    lan.assert_single_master(a);
}

#[test]
fn resuming_when_another_master_took_over_releases_and_elects_as_usual() {
    // Higher-priority peer took over while we were dead: we hear it, release, stay BACKUP.
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    lan.assert_single_master(a);
    kill(&mut lan, a);
    let b = lan.start(config(Version::V2, V4, 200));
    lan.run_for(secs(10.0));
    assert_eq!(lan.state(b), StateKind::Master);
    restart(&mut lan, a, config(Version::V2, V4, 100), Input::Resume);
    assert!(!lan.nodes[a].vips.is_empty());
    // b's next advert arrives within a second: a releases before its own timer fires.
    lan.run_for(secs(1.2));
    assert!(lan.nodes[a].vips.is_empty(), "released on hearing b");
    assert!(!lan.nodes[a].vi.is_holding());
    lan.run_for(secs(30.0));
    lan.assert_single_master(b);
    assert!(
        lan.entered(a, StateKind::Master)
            .is_some_and(|c| c.at < lan.secs(10.0))
    );
}

#[test]
fn resuming_with_nopreempt_does_not_take_back_from_a_lower_master() {
    let mut ca = config(Version::V2, V4, 200);
    ca.preempt = false;
    let mut lan = Lan::new();
    let a = lan.start(ca.clone());
    lan.run_for(secs(10.0));
    kill(&mut lan, a);
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    assert_eq!(lan.state(b), StateKind::Master);
    restart(&mut lan, a, ca, Input::Resume);
    lan.run_for(secs(60.0));
    lan.assert_single_master(b);
}

#[test]
fn resuming_with_preempt_takes_over_from_a_lower_master_after_the_full_timer() {
    let mut lan = Lan::new();
    let a = lan.start(config(Version::V2, V4, 200));
    lan.run_for(secs(10.0));
    kill(&mut lan, a);
    let b = lan.start(config(Version::V2, V4, 100));
    lan.run_for(secs(10.0));
    assert_eq!(lan.state(b), StateKind::Master);
    restart(&mut lan, a, config(Version::V2, V4, 200), Input::Resume);
    let t = lan.now;
    lan.run_for(secs(20.0));
    lan.assert_single_master(a);
    let took = lan.entered(a, StateKind::Master).unwrap();
    assert_eq!(took.reason, Reason::Preempted);
    // Released on b's first advert (within a second), then the ordinary 3 × 1 s + skew.
    assert!(took.at - t > secs(3.2), "{:?}", took.at - t);
}

#[test]
fn resuming_in_a_fault_releases_the_vips() {
    let mut lan = Lan::new();
    let a = lan.add(config(Version::V2, V4, 150));
    let v = lan.nodes[a].vi.config().vips[0];
    lan.nodes[a].vips.insert(v);
    lan.input(
        a,
        Input::Fault {
            source: FaultSource::Tracker(TrackerId(0)),
            active: true,
        },
    );
    lan.input(a, Input::Resume);
    assert_eq!(lan.state(a), StateKind::Fault);
    assert!(lan.nodes[a].vips.is_empty());
}

#[test]
fn a_fault_or_a_stop_while_resuming_releases_the_vips() {
    for stop in [false, true] {
        let mut lan = Lan::new();
        let a = lan.add(config(Version::V2, V4, 150));
        let v = lan.nodes[a].vi.config().vips[0];
        lan.nodes[a].vips.insert(v);
        lan.input(a, Input::Resume);
        assert!(lan.nodes[a].vi.is_holding());
        lan.run_for(secs(0.5));
        if stop {
            lan.input(a, Input::Shutdown);
            assert_eq!(lan.state(a), StateKind::Stopped);
            // Never MASTER in this process: no priority-0 advert.
            assert!(lan.nodes[a].sent.is_empty());
        } else {
            lan.input(
                a,
                Input::Fault {
                    source: FaultSource::Interface,
                    active: true,
                },
            );
            assert_eq!(lan.state(a), StateKind::Fault);
        }
        assert!(lan.nodes[a].vips.is_empty(), "stop={stop}");
    }
}

#[test]
fn a_reload_while_resuming_releases_dropped_vips() {
    let mut lan = Lan::new();
    let mut c = config(Version::V2, V4, 150);
    let extra: std::net::IpAddr = "10.0.0.101".parse().unwrap();
    c.vips.push(extra);
    let a = lan.add(c.clone());
    lan.nodes[a].vips.extend(c.vips.iter().copied());
    lan.input(a, Input::Resume);
    c.vips.retain(|v| *v != extra);
    let now = lan.now;
    lan.nodes[a].vi.reconfigure(now, c).unwrap();
    lan.input(a, Input::Timer);
    assert!(!lan.nodes[a].vips.contains(&extra));
    assert_eq!(lan.nodes[a].vips.len(), 1);
    lan.run_for(secs(2.0));
    lan.assert_single_master(a);
}
