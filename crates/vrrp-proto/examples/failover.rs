//! Two VRRP routers wired back to back in memory, on a virtual clock: election, then the
//! master shuts down and the backup takes over after the skew time.
//!
//! `cargo run -p rk-vrrp-proto --example failover`

use std::time::{Duration, Instant};

use rk_vrrp_proto::{Action, Family, Input, Instance, InstanceConfig, RxMeta, StateKind, Version};

fn router(priority: u8, addr: &str) -> Instance {
    let mut cfg = InstanceConfig::new(
        51,
        Version::V3,
        Family::V4,
        vec!["192.0.2.100".parse().unwrap()],
    );
    cfg.priority = priority;
    let mut vi = Instance::new(cfg).expect("valid config");
    vi.handle(
        Instant::now(),
        Input::InterfaceAddress(Some(addr.parse().unwrap())),
    );
    vi
}

/// Carries out `from`'s actions: adverts are encoded and handed to `to`'s receive path.
fn drain(name: &str, t0: Instant, now: Instant, from: &mut Instance, to: &mut Instance) {
    while let Some(action) = from.poll_action() {
        let at = (now - t0).as_secs_f64();
        match action {
            Action::SendAdvert(tx) => {
                let mut buf = [0u8; 1500];
                for dst in &tx.destinations {
                    let n = tx.encode(*dst, &mut buf).expect("valid advert");
                    println!(
                        "{at:8.3}s {name}: advert prio {} ({n} bytes)",
                        tx.advert.priority
                    );
                    to.handle_packet(now, &buf[..n], &RxMeta::Ipv4);
                }
            }
            Action::StateChange {
                from, to, reason, ..
            } => {
                println!("{at:8.3}s {name}: {from} -> {to} ({reason:?})");
            }
            other => println!("{at:8.3}s {name}: {other:?}"),
        }
    }
}

fn main() {
    let t0 = Instant::now();
    let mut a = router(200, "192.0.2.1");
    let mut b = router(100, "192.0.2.2");
    a.handle(t0, Input::Start);
    b.handle(t0, Input::Start);
    let mut now = t0;
    let mut shut_down = false;
    while now - t0 < Duration::from_secs(12) {
        drain("A", t0, now, &mut a, &mut b);
        drain("B", t0, now, &mut b, &mut a);
        if !shut_down && now - t0 >= Duration::from_secs(8) {
            shut_down = true;
            a.handle(now, Input::Shutdown);
            continue;
        }
        // Sleep until the earliest deadline, as a driver's select! would.
        let next = [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { break };
        now = next;
        a.handle(now, Input::Timer);
        b.handle(now, Input::Timer);
    }
    assert_eq!(b.state(), StateKind::Master);
}
