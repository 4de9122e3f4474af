//! Helpers shared by the table-driven tests: configurations are written as
//! keepalived.conf text and loaded with rk-config, so the tests exercise the
//! same model the daemon gets.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use rk_config::{Config, LoadOptions, load_str};
use rk_coordinator::{
    ActualTable, Desired, DesiredTable, Health, Inputs, Ownership, Policy, QuorumStates, desired,
};
use rk_ipvs::{DestKey, IpvsOp, Protocol, ServiceKey};

/// Load a configuration, panicking with the rendered diagnostics.
pub fn load(text: &str) -> Config {
    match load_str("test.conf", text, &LoadOptions::for_tests()) {
        Ok(l) => l.config,
        Err(e) => panic!("configuration rejected:\n{}", e.render()),
    }
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

pub fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Tuple {
        proto: Protocol::Tcp,
        addr: ip(addr),
        port,
    }
}

pub fn dk(addr: &str, port: u16) -> DestKey {
    DestKey {
        addr: ip(addr),
        port,
    }
}

/// `desired()` with fresh quorum states.
pub fn run(cfg: &Config, ownership: &Ownership, health: &Health, policy: &Policy) -> Desired {
    desired(
        &Inputs {
            config: cfg,
            ownership,
            health,
            policy,
        },
        &QuorumStates::new(),
    )
}

/// `desired()` with nothing known and the default policy.
pub fn run_default(cfg: &Config) -> Desired {
    run(cfg, &Ownership::new(), &Health::new(), &Policy::default())
}

/// The destinations of a desired service as `addr:port → weight`.
pub fn weights(table: &DesiredTable, key: &ServiceKey) -> BTreeMap<String, u32> {
    table
        .services
        .get(key)
        .unwrap_or_else(|| panic!("no service {key} in {:?}", table.services.keys()))
        .dests
        .values()
        .map(|d| (d.key.to_string(), d.weight))
        .collect()
}

/// `[("a:p", w), ...]` as a map.
pub fn wmap(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(k, w)| (k.to_string(), *w)).collect()
}

/// The table a kernel would have after `ops` from `start` (every op accepted).
pub fn kernel_after(start: &ActualTable, ops: &[IpvsOp]) -> ActualTable {
    let mut t = start.clone();
    for op in ops {
        t.apply(op);
    }
    t
}

/// Short names of operations, for order assertions.
pub fn kinds(ops: &[IpvsOp]) -> Vec<&'static str> {
    ops.iter()
        .map(|op| match op {
            IpvsOp::AddService(_) => "AddService",
            IpvsOp::EditService(_) => "EditService",
            IpvsOp::DelService(_) => "DelService",
            IpvsOp::AddDest { .. } => "AddDest",
            IpvsOp::EditDest { .. } => "EditDest",
            IpvsOp::DelDest { .. } => "DelDest",
            IpvsOp::SetTimeouts(_) => "SetTimeouts",
            IpvsOp::StartDaemon(_) => "StartDaemon",
            IpvsOp::StopDaemon(_) => "StopDaemon",
            IpvsOp::Zero(_) => "Zero",
            IpvsOp::Flush => "Flush",
        })
        .collect()
}
