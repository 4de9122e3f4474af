//! `static_ipaddress`, `static_routes`, `static_rules`: installed at start whatever the
//! instances do, removed at stop (keepalived removes them at stop even with `-V`, which
//! is about VRRP's addresses), and on reload those no longer configured go and the new
//! ones come. A tracked static route or rule deleted behind our back is put back
//! (keepalived's `reinstate_static_route`).

use rk_netlink::{AddOutcome, DelOutcome, RouteKey, RuleKey};
use rk_vrrp_proto::StateKind;

use super::Driver;
use crate::spec::{RoutePlan, RulePlan, StaticPlan, VipSpec};

impl Driver {
    /// Adds every static address, then route, then rule; already present is fine.
    pub(super) async fn install_statics(&mut self) {
        let s = self.statics.clone();
        for a in &s.addresses {
            let Some(index) = self.link(&a.dev).map(|l| l.index) else {
                tracing::error!(
                    "cannot add static address {}: no interface {}",
                    a.addr,
                    a.dev
                );
                continue;
            };
            match self.nl.add_address(&a.address_spec(index)).await {
                Ok(AddOutcome::Added) => {
                    tracing::info!(
                        "added static address {}/{} on {}",
                        a.addr,
                        a.prefix_len,
                        a.dev
                    )
                }
                Ok(AddOutcome::AlreadyPresent) => {}
                Err(e) => tracing::error!("static address: {e}"),
            }
        }
        for r in &s.routes {
            self.add_static_route(r).await;
        }
        for r in &s.rules {
            self.add_static_rule(r).await;
        }
    }

    pub(super) async fn add_static_route(&mut self, r: &RoutePlan) {
        let spec = match r.resolve(|d| self.link(d).map(|l| l.index)) {
            Ok(s) => s,
            Err(dev) => {
                tracing::error!("cannot add static route {r}: no interface {dev}");
                return;
            }
        };
        match self.nl.add_route(&spec).await {
            Ok(AddOutcome::Added) => tracing::info!("added static route {r}"),
            Ok(AddOutcome::AlreadyPresent) => {}
            Err(e) => tracing::error!("static route: {e} ({r})"),
        }
    }

    pub(super) async fn add_static_rule(&mut self, r: &RulePlan) {
        match self.nl.add_rule(&r.rule).await {
            Ok(AddOutcome::Added) => tracing::info!("added static rule {}", r.rule),
            Ok(AddOutcome::AlreadyPresent) => {}
            Err(e) => tracing::error!("static rule: {e}"),
        }
    }

    /// Removes the rules, routes and addresses of `s` (all of them at stop; at reload, the
    /// ones the new configuration no longer has), never one an instance holding its
    /// addresses also has.
    pub(super) async fn remove_statics(&mut self, s: &StaticPlan) {
        for r in &s.rules {
            if self.held_by_instance(|i| i.rules.iter().any(|o| o.rule == r.rule)) {
                continue;
            }
            match self.nl.del_rule(&r.rule).await {
                Ok(DelOutcome::Removed) => {
                    tracing::info!("removed static rule {}", r.rule);
                    if self.route_monitor.is_some() {
                        self.expected_rule_deletes.push(RuleKey::of(&r.rule));
                    }
                }
                Ok(DelOutcome::NotPresent) => {}
                Err(e) => tracing::error!("static rule: {e}"),
            }
        }
        for r in &s.routes {
            if self.held_by_instance(|i| i.routes.iter().any(|o| o.route == r.route)) {
                continue;
            }
            let Ok(spec) = r.resolve(|d| self.link(d).map(|l| l.index)) else {
                continue;
            };
            match self.nl.del_route(&spec).await {
                Ok(DelOutcome::Removed) => {
                    tracing::info!("removed static route {r}");
                    if self.route_monitor.is_some() {
                        self.expected_route_deletes.push(RouteKey::of(&spec));
                    }
                }
                Ok(DelOutcome::NotPresent) => {}
                Err(e) => tracing::error!("static route: {e} ({r})"),
            }
        }
        for a in &s.addresses {
            if self.held_by_instance(|i| i.vips.iter().any(|v| v.addr == a.addr)) {
                continue;
            }
            let Some(index) = self.link(&a.dev).map(|l| l.index) else {
                continue;
            };
            match self.nl.del_address(&a.address_spec(index)).await {
                Ok(DelOutcome::Removed) => {
                    tracing::info!("removed static address {}/{}", a.addr, a.prefix_len);
                    self.expected_deletes.push((index, a.addr));
                }
                Ok(DelOutcome::NotPresent) => {}
                Err(e) => tracing::error!("static address: {e}"),
            }
        }
    }

    /// A reload: the statics `old` had and the new plan lacks go, then all of the new
    /// plan's are installed (those present stay as they are).
    pub(super) async fn reload_statics(&mut self, old: StaticPlan) {
        let new = &self.statics;
        let gone = StaticPlan {
            addresses: old
                .addresses
                .iter()
                .filter(|a| !new.addresses.contains(a))
                .cloned()
                .collect::<Vec<VipSpec>>(),
            routes: old
                .routes
                .iter()
                .filter(|r| {
                    !new.routes
                        .iter()
                        .any(|n| n.route == r.route && n.dev == r.dev)
                })
                .cloned()
                .collect(),
            rules: old
                .rules
                .iter()
                .filter(|r| !new.rules.iter().any(|n| n.rule == r.rule))
                .cloned()
                .collect(),
        };
        self.remove_statics(&gone).await;
        self.install_statics().await;
    }

    /// Whether an instance that holds its addresses (MASTER, or resumed) has it too.
    fn held_by_instance(&self, has: impl Fn(&crate::spec::InstanceSpec) -> bool) -> bool {
        self.insts
            .iter()
            .any(|i| (i.vi.state() == StateKind::Master || i.vi.is_holding()) && has(&i.spec))
    }
}
