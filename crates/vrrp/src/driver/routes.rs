//! `virtual_routes` and `virtual_rules`: added after the VIPs when an instance takes its
//! addresses (MASTER), removed before the VIPs when it releases them (keepalived's
//! `vrrp_state_become_master` / `vrrp_restore_interface` order: VIPs, routes, rules up;
//! rules, routes, VIPs down).
//!
//! What is removed is the configured set, not a record of what we added: removal
//! requests carry `proto keepalived`, so they only match routes and rules added that way,
//! and a route left by a process that was killed is removed when the new one releases.

use std::time::Instant;

use rk_netlink::{AddOutcome, DelOutcome, RouteEvent, RouteKey, RouteMonitor, RouteSpec, RuleKey};
use rk_vrrp_proto::{Input, StateKind};

use super::Driver;
use crate::spec::{RoutePlan, RulePlan};

impl Driver {
    /// Adds the instance's routes then its rules (after its VIPs: a route may use a VIP
    /// as `src`). Already present is fine; failures are logged and counted.
    pub(super) async fn add_routes(&mut self, i: usize) {
        let routes = self.insts[i].spec.routes.clone();
        let rules = self.insts[i].spec.rules.clone();
        self.add_route_list(i, &routes).await;
        self.add_rule_list(i, &rules).await;
    }

    pub(super) async fn add_route_list(&mut self, i: usize, routes: &[RoutePlan]) {
        let name = self.insts[i].spec.name.clone();
        if !routes.is_empty() {
            tracing::info!("({name}) setting virtual routes.");
        }
        for r in routes {
            let Some(spec) = self.resolve_route(i, r, "add") else {
                continue;
            };
            match self.nl.add_route(&spec).await {
                Ok(AddOutcome::Added) => tracing::debug!("({name}) added route {r}"),
                Ok(AddOutcome::AlreadyPresent) => {
                    tracing::debug!("({name}) route {r} was already there")
                }
                Err(e) => {
                    tracing::error!("({name}) {e} ({r})");
                    self.insts[i].stats.route_errors += 1;
                }
            }
        }
    }

    pub(super) async fn add_rule_list(&mut self, i: usize, rules: &[RulePlan]) {
        let name = self.insts[i].spec.name.clone();
        if !rules.is_empty() {
            tracing::info!("({name}) setting virtual rules.");
        }
        for r in rules {
            match self.nl.add_rule(&r.rule).await {
                Ok(AddOutcome::Added) => tracing::debug!("({name}) added rule {}", r.rule),
                Ok(AddOutcome::AlreadyPresent) => {
                    tracing::debug!("({name}) rule {} was already there", r.rule)
                }
                Err(e) => {
                    tracing::error!("({name}) {e}");
                    self.insts[i].stats.route_errors += 1;
                }
            }
        }
    }

    /// Removes the instance's rules then its routes, unless `-V` keeps them at stop (as
    /// it keeps the VIPs).
    pub(super) async fn remove_routes(&mut self, i: usize) {
        if !self.options.release_vips && self.insts[i].vi.state() == StateKind::Stopped {
            return;
        }
        let routes = self.insts[i].spec.routes.clone();
        let rules = self.insts[i].spec.rules.clone();
        self.remove_rule_list(i, &rules).await;
        self.remove_route_list(i, &routes).await;
    }

    pub(super) async fn remove_rule_list(&mut self, i: usize, rules: &[RulePlan]) {
        let name = self.insts[i].spec.name.clone();
        let mut said = false;
        for r in rules {
            if self.held_elsewhere(i, |s| s.rules.iter().any(|o| o.rule == r.rule))
                || self.statics.rules.iter().any(|o| o.rule == r.rule)
            {
                continue;
            }
            match self.nl.del_rule(&r.rule).await {
                Ok(DelOutcome::Removed) => {
                    if !said {
                        tracing::info!("({name}) removing virtual rules.");
                        said = true;
                    }
                    if self.route_monitor.is_some() {
                        self.expected_rule_deletes.push(RuleKey::of(&r.rule));
                    }
                }
                Ok(DelOutcome::NotPresent) => {}
                Err(e) => {
                    tracing::error!("({name}) {e}");
                    self.insts[i].stats.route_errors += 1;
                }
            }
        }
    }

    pub(super) async fn remove_route_list(&mut self, i: usize, routes: &[RoutePlan]) {
        let name = self.insts[i].spec.name.clone();
        let mut said = false;
        for r in routes {
            if self.held_elsewhere(i, |s| s.routes.iter().any(|o| same_route(o, r)))
                || self.statics.routes.iter().any(|o| same_route(o, r))
            {
                continue;
            }
            // An interface that is gone took its routes with it.
            let Ok(spec) = r.resolve(|d| self.link(d).map(|l| l.index)) else {
                continue;
            };
            match self.nl.del_route(&spec).await {
                Ok(DelOutcome::Removed) => {
                    if !said {
                        tracing::info!("({name}) removing virtual routes.");
                        said = true;
                    }
                    if self.route_monitor.is_some() {
                        self.expected_route_deletes.push(RouteKey::of(&spec));
                    }
                }
                Ok(DelOutcome::NotPresent) => {}
                Err(e) => {
                    tracing::error!("({name}) {e} ({r})");
                    self.insts[i].stats.route_errors += 1;
                }
            }
        }
    }

    /// Whether another instance that holds its addresses (MASTER or resumed) has this
    /// route or rule too (checked with `static_routes`/`static_rules` by the callers):
    /// releasing ours must not take theirs.
    fn held_elsewhere(&self, i: usize, has: impl Fn(&crate::spec::InstanceSpec) -> bool) -> bool {
        self.insts.iter().enumerate().any(|(j, o)| {
            j != i && (o.vi.state() == StateKind::Master || o.vi.is_holding()) && has(&o.spec)
        })
    }

    fn resolve_route(&mut self, i: usize, r: &RoutePlan, verb: &str) -> Option<RouteSpec> {
        match r.resolve(|d| self.link(d).map(|l| l.index)) {
            Ok(s) => Some(s),
            Err(dev) => {
                tracing::error!(
                    "({}) cannot {verb} route {r}: no interface {dev}",
                    self.insts[i].spec.name
                );
                self.insts[i].stats.route_errors += 1;
                None
            }
        }
    }
}

impl Driver {
    /// A reload changed the routes or rules of instance `i`: while it holds its
    /// addresses (MASTER, or resumed after a restart), the ones no longer configured go
    /// (rules first) and, on a MASTER, the new ones come (routes first).
    pub(super) async fn reload_routes(
        &mut self,
        i: usize,
        old_routes: &[RoutePlan],
        old_rules: &[RulePlan],
    ) {
        let vi = &self.insts[i].vi;
        let master = vi.state() == StateKind::Master;
        if !master && !vi.is_holding() {
            return;
        }
        let spec = &self.insts[i].spec;
        let gone_rules: Vec<RulePlan> = old_rules
            .iter()
            .filter(|r| !spec.rules.iter().any(|n| n.rule == r.rule))
            .cloned()
            .collect();
        let gone_routes: Vec<RoutePlan> = old_routes
            .iter()
            .filter(|r| !spec.routes.iter().any(|n| same_route(n, r)))
            .cloned()
            .collect();
        let new_routes: Vec<RoutePlan> = spec
            .routes
            .iter()
            .filter(|r| !old_routes.iter().any(|o| same_route(o, r)))
            .cloned()
            .collect();
        let new_rules: Vec<RulePlan> = spec
            .rules
            .iter()
            .filter(|r| !old_rules.iter().any(|o| o.rule == r.rule))
            .cloned()
            .collect();
        self.remove_rule_list(i, &gone_rules).await;
        self.remove_route_list(i, &gone_routes).await;
        if master {
            self.add_route_list(i, &new_routes).await;
            self.add_rule_list(i, &new_rules).await;
        }
    }
}

/// The same route on the same interfaces (`no_track` aside).
fn same_route(a: &RoutePlan, b: &RoutePlan) -> bool {
    a.route == b.route && a.dev == b.dev && a.nexthop_devs == b.nexthop_devs
}

/// A tracked route: keepalived tracks a route only when it names its interface
/// (`vrrp_iproute.c`: "cannot track route with no interface specified").
fn tracked_route(r: &RoutePlan) -> bool {
    !r.no_track && r.dev.is_some()
}

/// The next removal event, for the driver's `select!` (only polled while the monitor
/// runs).
pub(super) async fn next_route_event(m: Option<&mut RouteMonitor>) -> Option<RouteEvent> {
    match m {
        Some(m) => m.next().await,
        None => std::future::pending().await,
    }
}

impl Driver {
    /// Runs the route/rule removal monitor while some instance tracks a route or rule,
    /// and only then (a busy router's route changes would otherwise wake this thread).
    pub(super) fn refresh_route_monitor(&mut self) {
        let wanted = self.insts.iter().any(|i| {
            i.spec.routes.iter().any(tracked_route) || i.spec.rules.iter().any(|r| !r.no_track)
        }) || self.statics.routes.iter().any(tracked_route)
            || self.statics.rules.iter().any(|r| !r.no_track);
        match (wanted, self.route_monitor.is_some()) {
            (true, false) => match RouteMonitor::start() {
                Ok(m) => self.route_monitor = Some(m),
                Err(e) => tracing::error!(
                    "cannot watch routes and rules; one deleted behind our back will go unnoticed: {e}"
                ),
            },
            (false, true) => {
                self.route_monitor = None;
                self.expected_route_deletes.clear();
                self.expected_rule_deletes.clear();
            }
            _ => {}
        }
    }

    /// keepalived (`netlink_route_filter`, `netlink_rule_filter`): a tracked route or rule
    /// of a MASTER deleted behind our back makes it leave MASTER as when its VIPs are
    /// deleted: priority 0, then BACKUP (another router, or we after the down timer, puts
    /// everything back).
    /// The tracked route of `routes` that `k` names, with the interfaces as they are now.
    fn tracked_route_named<'a>(
        &self,
        routes: &'a [RoutePlan],
        k: &RouteKey,
    ) -> Option<&'a RoutePlan> {
        routes.iter().filter(|r| tracked_route(r)).find(|r| {
            r.resolve(|d| self.link(d).map(|l| l.index))
                .is_ok_and(|s| k.matches(&RouteKey::of(&s)))
        })
    }

    pub(super) async fn on_route_event(&mut self, ev: RouteEvent) {
        let now = Instant::now();
        match ev {
            RouteEvent::RouteRemoved(k) => {
                if let Some(p) = self
                    .expected_route_deletes
                    .iter()
                    .position(|e| k.matches(e))
                {
                    self.expected_route_deletes.swap_remove(p);
                    return;
                }
                for n in 0..self.insts.len() {
                    let inst = &self.insts[n];
                    if inst.vi.state() != StateKind::Master {
                        continue;
                    }
                    let lost = self.tracked_route_named(&inst.spec.routes, &k);
                    if let Some(r) = lost {
                        tracing::warn!(
                            "({}) virtual route {r} was deleted behind our back; leaving MASTER",
                            inst.spec.name
                        );
                        self.insts[n].vi.handle(now, Input::VipsLost);
                    }
                }
                let lost = self.tracked_route_named(&self.statics.routes, &k);
                if let Some(r) = lost.cloned() {
                    tracing::info!("Restoring deleted static route {r}");
                    self.add_static_route(&r).await;
                }
            }
            RouteEvent::RuleRemoved(k) => {
                if let Some(p) = self.expected_rule_deletes.iter().position(|e| *e == k) {
                    self.expected_rule_deletes.swap_remove(p);
                    return;
                }
                for n in 0..self.insts.len() {
                    let inst = &self.insts[n];
                    if inst.vi.state() != StateKind::Master {
                        continue;
                    }
                    let lost = inst
                        .spec
                        .rules
                        .iter()
                        .find(|r| !r.no_track && RuleKey::of(&r.rule) == k);
                    if let Some(r) = lost {
                        tracing::warn!(
                            "({}) virtual rule {} was deleted behind our back; leaving MASTER",
                            inst.spec.name,
                            r.rule
                        );
                        self.insts[n].vi.handle(now, Input::VipsLost);
                    }
                }
                let lost = self
                    .statics
                    .rules
                    .iter()
                    .find(|r| !r.no_track && RuleKey::of(&r.rule) == k);
                if let Some(r) = lost.cloned() {
                    tracing::info!("Restoring deleted static rule {}", r.rule);
                    self.add_static_rule(&r).await;
                }
            }
            RouteEvent::Overrun => {
                tracing::warn!(
                    "route/rule events were lost: a virtual route or rule deleted meanwhile goes unnoticed"
                );
                // Their events may be among the lost ones.
                self.expected_route_deletes.clear();
                self.expected_rule_deletes.clear();
            }
        }
    }
}
