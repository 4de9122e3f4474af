//! What the coordinator is told: VRRP ownership, real-server health, and the
//! policy knobs of ours that the configuration language does not have yet.
//!
//! These are the coordinator's own small types: it does not depend on the
//! VRRP or checker crates. The daemon translates their notices into these.

use std::collections::HashMap;
use std::time::Duration;

use crate::ids::{RsId, VsId};

/// The state a VRRP instance reported. An instance never reported is
/// *unknown*: see [`Ownership`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstanceRole {
    /// MASTER: holds its VIPs.
    Master,
    /// BACKUP.
    Backup,
    /// FAULT.
    Fault,
}

/// Which VRRP instances are MASTER on this node.
///
/// An instance that was never reported (or was [`forget`](Ownership::forget)-ten)
/// is *unknown*. While an instance a virtual server follows is unknown, the
/// coordinator neither adds nor removes that virtual server's services: it
/// keeps what the kernel has (a restarted daemon must not delete rules the
/// node is about to keep serving). The daemon should report an instance only
/// once VRRP has settled its start-up state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ownership {
    roles: HashMap<String, InstanceRole>,
}

impl Ownership {
    /// Nothing known yet.
    pub fn new() -> Ownership {
        Ownership::default()
    }

    /// Record an instance's state.
    pub fn set(&mut self, instance: impl Into<String>, role: InstanceRole) {
        self.roles.insert(instance.into(), role);
    }

    /// Back to unknown.
    pub fn forget(&mut self, instance: &str) {
        self.roles.remove(instance);
    }

    /// The reported state, `None` if unknown.
    pub fn role(&self, instance: &str) -> Option<InstanceRole> {
        self.roles.get(instance).copied()
    }

    /// Whether `instance` is known to be MASTER.
    pub fn is_master(&self, instance: &str) -> bool {
        self.role(instance) == Some(InstanceRole::Master)
    }

    /// Builder form of [`Ownership::set`].
    pub fn with(mut self, instance: impl Into<String>, role: InstanceRole) -> Ownership {
        self.set(instance, role);
        self
    }
}

/// What the checkers say about one real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RsHealth {
    /// All of its checkers are up.
    pub up: bool,
    /// Dynamic weight (`MISC_CHECK misc_dynamic`, `FILE_CHECK` weights), which
    /// replaces the configured weight while set. Clamped to 0..=`i32::MAX`
    /// as keepalived's `real_weight` does.
    pub weight: Option<i64>,
}

impl RsHealth {
    /// Up, with the configured weight.
    pub const UP: RsHealth = RsHealth {
        up: true,
        weight: None,
    };
    /// Down.
    pub const DOWN: RsHealth = RsHealth {
        up: false,
        weight: None,
    };
}

/// Health of the real servers, keyed by identity so it survives reloads.
///
/// A real server with no entry has not been decided by its checkers yet: it
/// counts as up unless one of its checkers is `alpha` (keepalived's start-up
/// rule). A real server without checkers is always up, whatever this says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Health {
    map: rustc_hash::FxHashMap<RsId, RsHealth>,
}

impl Health {
    /// No checker has decided anything yet.
    pub fn new() -> Health {
        Health::default()
    }

    /// Record a real server's state.
    pub fn set(&mut self, rs: RsId, health: RsHealth) {
        self.map.insert(rs, health);
    }

    /// Forget a real server (back to its start-up state).
    pub fn remove(&mut self, rs: &RsId) {
        self.map.remove(rs);
    }

    /// The recorded state.
    pub fn get(&self, rs: &RsId) -> Option<RsHealth> {
        self.map.get(rs).copied()
    }

    /// Keep only the entries `keep` accepts (drop real servers a reload removed).
    pub fn retain(&mut self, mut keep: impl FnMut(&RsId) -> bool) {
        self.map.retain(|k, _| keep(k));
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Where the IPVS rules live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RulesMode {
    /// Rules follow the VIP (rkeepalived's default): a virtual server whose
    /// address is a VIP of an instance, or that [`Policy::track_instance`]
    /// ties to one, is installed only while that instance (and every other
    /// instance of its sync group) is MASTER. Other virtual servers are
    /// always installed.
    #[default]
    FollowVip,
    /// keepalived's behaviour: every virtual server on every node, whatever
    /// the VRRP state.
    Everywhere,
}

/// Coordinator settings that come from keywords of ours (see the crate docs
/// for the proposed names). `Policy::default()` is rules-follow-VIP, no
/// explicit bindings, no drain (keepalived's immediate delete).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Where the rules live.
    pub rules: RulesMode,
    /// Explicit bindings: the virtual server follows this instance (and its
    /// sync group) instead of, or in the absence of, its address's VIP owner.
    /// The only way fwmark and group services follow an instance.
    pub track_instance: HashMap<VsId, String>,
    /// Default drain timeout for destinations and services removed from the
    /// configuration; zero deletes at once.
    pub drain_timeout: Duration,
    /// Per-virtual-server drain timeouts, overriding the default.
    pub vs_drain_timeout: HashMap<VsId, Duration>,
}

impl Policy {
    /// The drain timeout that applies to `vs`.
    pub fn drain_timeout_of(&self, vs: &VsId) -> Duration {
        self.vs_drain_timeout
            .get(vs)
            .copied()
            .unwrap_or(self.drain_timeout)
    }
}
