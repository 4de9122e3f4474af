//! Inputs of the runner's state besides the checker specs: `ha_suspend`,
//! `log_all_failures` and the SSL_GET client certificate. Each is declarative (the caller
//! passes the whole set each time) and keyed by [`CheckerId`], so it survives reloads
//! and may name checkers before they are configured.

use std::collections::{HashMap, HashSet};

use super::{Cohort, Engine, GroupId, ProbeSpec, State, Sub};
use crate::fsm::Transition;
use crate::probe::ProbeError;
use crate::probe::tls::ClientIdentity;
use crate::probe::{PreparedProbe, SpecError};
use crate::spec::CheckerId;

/// What [`State::set_suspended`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuspendReport {
    /// Configured checkers suspended now (FILE_CHECKs never are).
    pub suspended: usize,
    /// Configured checkers that were running and are now suspended.
    pub newly_suspended: usize,
    /// Configured checkers that were suspended and now run again.
    pub resumed: usize,
}

/// What [`State::set_tls_client`] changed.
#[derive(Debug, Default)]
pub struct TlsReport {
    /// SSL_GET probes rebuilt with the new client certificate.
    pub rebuilt: usize,
    /// Probes that could not be rebuilt (they keep their previous TLS configuration).
    pub errors: Vec<(CheckerId, SpecError)>,
}

impl State {
    /// keepalived's `ha_suspend`: makes exactly `ids` the suspended checkers (ids not
    /// configured yet are remembered and apply when they are). A suspended checker starts
    /// no probe of its own and reports nothing; on resume it carries on from the state it
    /// had, at its next tick (see the module docs). Sends no event by itself.
    pub fn set_suspended(&mut self, ids: HashSet<CheckerId>) -> SuspendReport {
        let mut report = SuspendReport::default();
        for (id, sub) in &mut self.subs {
            // FILE_CHECK ignores ha_suspend (keepalived's check_file.c does not look at it).
            let now = ids.contains(id)
                && self
                    .cohorts
                    .get(&sub.cohort)
                    .is_some_and(|c| c.cfg.is_some());
            match (sub.suspended, now) {
                (false, true) => report.newly_suspended += 1,
                (true, false) => report.resumed += 1,
                _ => {}
            }
            if now != sub.suspended {
                tracing::debug!(
                    checker = id.0,
                    "{} health checker",
                    if now { "suspending" } else { "activating" }
                );
            }
            sub.suspended = now;
            report.suspended += usize::from(now);
        }
        self.suspended = ids;
        report
    }

    /// `log_all_failures` (and the global `checker_log_all_failures`, by passing every
    /// checker): makes exactly `ids` the checkers whose failed attempts are all logged at
    /// INFO while they are up, not only the one that brings them down.
    pub fn set_log_all_failures(&mut self, ids: HashSet<CheckerId>) {
        for (id, sub) in &mut self.subs {
            sub.log_all_failures = ids.contains(id);
        }
        self.log_all = ids;
    }

    /// The client certificate every SSL_GET presents when a server asks for one (`None`:
    /// none, as keepalived's auto-generated context). Existing SSL_GET probes are rebuilt
    /// when it changes; runs in flight finish with the configuration they started with.
    /// A probe that cannot be rebuilt (its `ca_file` became unreadable) keeps its previous
    /// configuration and is reported.
    pub fn set_tls_client(&mut self, client: Option<ClientIdentity>) -> TlsReport {
        let mut report = TlsReport::default();
        if client == self.tls_client {
            return report;
        }
        self.tls_client = client;
        let subs = &self.subs;
        for (gid, g) in &mut self.groups {
            if !matches!(g.prepared.spec(), ProbeSpec::Http(h) if h.tls.is_some()) {
                continue;
            }
            match PreparedProbe::with_client(g.prepared.spec(), self.tls_client.as_ref()) {
                Ok(p) => {
                    g.prepared = p;
                    report.rebuilt += 1;
                }
                Err(e) => {
                    for id in group_checkers(subs, *gid) {
                        report.errors.push((id, e.clone()));
                    }
                }
            }
        }
        report
    }
}

/// The checkers subscribed to group `gid`.
fn group_checkers(subs: &HashMap<CheckerId, Sub>, gid: GroupId) -> Vec<CheckerId> {
    let mut ids: Vec<CheckerId> = subs
        .iter()
        .filter(|(_, s)| s.group == gid)
        .map(|(id, _)| *id)
        .collect();
    ids.sort();
    ids
}

/// Whether every checker of machine `c` is suspended: then it starts no probe. FILE_CHECK
/// machines (no timing) never are.
pub(super) fn all_suspended(subs: &HashMap<CheckerId, Sub>, c: &Cohort) -> bool {
    c.cfg.is_some()
        && !c.subs.is_empty()
        && c.subs
            .iter()
            .all(|id| subs.get(id).is_some_and(|s| s.suspended))
}

/// `log_all_failures`: one line per failed attempt of a machine that was up, naming the
/// checkers of it that asked for the log (none asked: no line).
pub(super) fn log_failure(
    subs: &HashMap<CheckerId, Sub>,
    c: &Cohort,
    spec: &ProbeSpec,
    error: &ProbeError,
    transition: Option<Transition>,
) {
    let checkers: Vec<u64> = c
        .subs
        .iter()
        .filter(|id| {
            subs.get(id)
                .is_some_and(|s| s.log_all_failures && !s.suspended)
        })
        .map(|id| id.0)
        .collect();
    if checkers.is_empty() {
        return;
    }
    let retry = c.cfg.map_or(0, |f| f.timing.retry);
    let kind = spec.kind();
    let target = spec.target();
    match (transition, &c.engine) {
        (Some(Transition::Down), _) => tracing::info!(
            kind,
            %target,
            ?checkers,
            %error,
            "{kind} to {target} failed: {error}; down (retry {retry})"
        ),
        (_, Engine::Fsm(f)) if f.is_up() => tracing::info!(
            kind,
            %target,
            ?checkers,
            %error,
            "{kind} to {target} failed: {error}; retry {} of {retry}",
            f.retry_count()
        ),
        _ => tracing::info!(
            kind,
            %target,
            ?checkers,
            %error,
            "{kind} to {target} failed: {error}"
        ),
    }
}

#[cfg(test)]
#[path = "settings_tests.rs"]
mod tests;
