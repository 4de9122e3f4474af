//! The checker/IPVS side of the SIGUSR1 state dump (keepalived's
//! `/tmp/keepalived_check.data`): every virtual server with its quorum and where its rules
//! are, every real server with its health, weight and checkers. keepalived calls its
//! format unstable; this one is a readable summary in the same spirit.

use std::collections::HashMap;
use std::fmt::Write as _;

use rk_checkers::CheckerStatus;
use rk_checkers::runner::Snapshot;
use rk_config::model::{Forwarding, VirtualServer};
use rk_coordinator::{Engine, RsId, VsId};

use super::checks::Mapping;
use super::lvs::alive;

/// IPVS services of one virtual server.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    configured: usize,
    wanted: usize,
    held: usize,
}

/// The dump text.
pub fn render(
    engine: &Engine,
    ipvs_state: &str,
    mapping: &Mapping,
    checkers: Option<&Snapshot>,
) -> String {
    let cfg = engine.config();
    let statuses: HashMap<_, &CheckerStatus> = checkers
        .map(|s| s.checkers.iter().map(|c| (c.checker, c)).collect())
        .unwrap_or_default();
    let mut o = String::from("------< Health checkers and IPVS >------\n");
    let _ = writeln!(o, " IPVS = {ipvs_state}");
    if let Some(s) = checkers {
        let _ = writeln!(
            o,
            " Checkers = {} ({} distinct probes, {} probes run)",
            s.stats.checkers, s.stats.probes, s.stats.probes_started
        );
    }
    // One pass over the tables, not one per virtual server (10,000 of them).
    let mut counts: HashMap<&VsId, Counts> = HashMap::new();
    for s in engine.desired().configured.values() {
        counts.entry(&s.origin).or_default().configured += 1;
    }
    for s in engine.desired().services.values() {
        let c = counts.entry(&s.origin).or_default();
        if s.hold {
            c.held += 1;
        } else {
            c.wanted += 1;
        }
    }
    for vs in &cfg.virtual_servers {
        virtual_server(&mut o, engine, vs, mapping, &statuses, &counts);
    }
    o
}

fn virtual_server(
    o: &mut String,
    engine: &Engine,
    vs: &VirtualServer,
    mapping: &Mapping,
    statuses: &HashMap<rk_checkers::CheckerId, &CheckerStatus>,
    counts: &HashMap<&VsId, Counts>,
) {
    let id = VsId::of(vs);
    let _ = writeln!(o, " Virtual server {id}");
    let _ = writeln!(
        o,
        "   lb_algo = {}, lb_kind = {}",
        vs.scheduler,
        method(&vs.forwarding)
    );
    let quorum = match engine.quorum().get(&id) {
        Some(true) => "up",
        Some(false) => "down",
        None => "not evaluated yet",
    };
    let _ = writeln!(
        o,
        "   Quorum = {quorum} (quorum {}, hysteresis {})",
        vs.quorum, vs.hysteresis
    );
    let c = counts.get(&id).copied().unwrap_or_default();
    let (configured, wanted, held) = (c.configured, c.wanted, c.held);
    let _ = writeln!(
        o,
        "   IPVS services = {configured} configured, {wanted} wanted on this node, {held} held (VRRP state not settled)"
    );
    if let Some(i) = &vs.track_instance {
        let _ = writeln!(o, "   Follows instance = {i}");
    }
    for rs in &vs.real_servers {
        let rs_id = RsId::of(vs, rs);
        let h = engine.health().get(&rs_id);
        let up = alive(engine.health(), vs, rs);
        let weight = h.and_then(|h| h.weight);
        let entry = mapping
            .by_rs
            .get(&rs_id)
            .and_then(|r| mapping.real_servers.get(r));
        // "Not checked yet" only when the runner says none of its checkers has run.
        let unchecked = entry.is_some_and(|e| {
            !e.checkers.is_empty()
                && e.checkers
                    .iter()
                    .all(|c| statuses.get(c).is_some_and(|s| !s.has_run))
        });
        let _ = writeln!(o, "   Real server {}", rs_id_addr(&rs_id));
        let _ = writeln!(
            o,
            "     Health = {}{}",
            if up { "up" } else { "down" },
            if h.is_none() && unchecked {
                " (not checked yet)"
            } else {
                ""
            }
        );
        match weight {
            Some(w) => {
                let _ = writeln!(o, "     Weight = {w} (dynamic; configured {})", rs.weight);
            }
            None => {
                let _ = writeln!(o, "     Weight = {}", rs.weight);
            }
        }
        if rs.inhibit_on_failure {
            let _ = writeln!(o, "     Inhibit on failure = yes");
        }
        let Some(entry) = entry else {
            continue;
        };
        for c in &entry.checkers {
            let Some(info) = mapping.checkers.get(c) else {
                continue;
            };
            let _ = write!(o, "     {} {}", info.kind, info.target);
            match statuses.get(c) {
                Some(s) => {
                    let state = match (s.has_run, s.up) {
                        _ if s.suspended => "suspended (ha_suspend)",
                        (false, true) => "up (not run yet)",
                        (false, false) => "down (not run yet)",
                        (true, true) => "up",
                        (true, false) => "down",
                    };
                    let _ = write!(o, ": {state}, {} runs, {} failures", s.runs, s.failures);
                    if let Some(l) = s.last_latency {
                        let _ = write!(o, ", last latency {l:?}");
                    }
                    if let Some(e) = &s.last_error {
                        let _ = write!(o, ", last error: {e}");
                    }
                    let _ = writeln!(o);
                }
                // Out of the runner: its spec was refused.
                None => {
                    let _ = writeln!(o, ": not running");
                }
            }
        }
    }
    if let Some(s) = &vs.sorry_server {
        let _ = writeln!(
            o,
            "   Sorry server {}{}",
            rs_id_addr(&RsId {
                vs: id.clone(),
                addr: s.addr,
                port: s.port
            }),
            if s.inhibit { " (inhibit)" } else { "" }
        );
    }
}

/// `10.0.0.2:80` / `[2001:db8::2]:80`.
fn rs_id_addr(r: &RsId) -> String {
    match r.addr {
        std::net::IpAddr::V4(a) => format!("{a}:{}", r.port),
        std::net::IpAddr::V6(a) => format!("[{a}]:{}", r.port),
    }
}

fn method(f: &Forwarding) -> &'static str {
    match f {
        Forwarding::Nat => "NAT",
        Forwarding::Dr => "DR",
        Forwarding::Tun { .. } => "TUN",
    }
}
