//! VRRP states as the coordinator must hear them: only once settled.
//!
//! At start every instance but an address owner enters BACKUP and waits out its
//! master-down timer; reporting that first BACKUP would make the coordinator remove rules
//! a restarted master is about to keep serving. So an instance is reported when its state
//! means something:
//! * MASTER and FAULT at once;
//! * BACKUP reached by anything but start-up (a higher-priority advert, a fault cleared,
//!   the sync group) at once;
//! * the start-up BACKUP once its settle window has passed with the instance still
//!   BACKUP: it has heard a master it does not preempt, or it would be MASTER by then.
//!
//! The window is `vrrp_startup_delay` + (`down_timer_adverts` + 1) × `advert_int` + 1 s
//! (the largest skew, plus one interval for a sync group to move together) +
//! `preempt_delay`. An instance held in INIT (a tracking script has not answered yet)
//! has not started listening, so its window never ends before the window less the
//! start-up delay has run from the moment it was last seen in INIT or entered its
//! start-up BACKUP. INIT and STOP are never reported: the coordinator keeps what it has
//! (at stop the daemon's own shutdown decides what happens to the rules).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rk_coordinator::InstanceRole;
use rk_vrrp::Plan;
use rk_vrrp_proto::{Reason, StateKind};

/// Settles the instances of one VRRP plan.
#[derive(Debug)]
pub struct Settler {
    /// When each instance's start-up BACKUP counts as settled.
    deadlines: HashMap<String, Instant>,
    /// Each instance's window less `vrrp_startup_delay`: the least time its start-up
    /// BACKUP must last once it has left INIT.
    spans: HashMap<String, Duration>,
    /// Latest state seen, not reported yet because it had not settled.
    pending: HashMap<String, StateKind>,
    /// What the coordinator was told last.
    reported: HashMap<String, InstanceRole>,
}

/// The settle window of one instance (see the module docs).
pub fn window(plan: &Plan, index: usize) -> Duration {
    plan.startup_delay + span(plan, index)
}

/// The window less the start-up delay.
fn span(plan: &Plan, index: usize) -> Duration {
    let p = &plan.instances[index].proto;
    let adv = p.advert_interval.as_duration();
    let mut w = adv * (u32::from(p.down_timer_adverts) + 1) + Duration::from_secs(1);
    if p.preempt {
        w += p.preempt_delay;
    }
    w
}

impl Settler {
    /// For `plan`, whose VRRP side started at `start`.
    pub fn new(plan: &Plan, start: Instant) -> Settler {
        let deadlines = plan
            .instances
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), start + window(plan, i)))
            .collect();
        let spans = plan
            .instances
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), span(plan, i)))
            .collect();
        Settler {
            deadlines,
            spans,
            pending: HashMap::new(),
            reported: HashMap::new(),
        }
    }

    /// A state seen: from an event (with its reason) or from a status snapshot (`None`).
    /// Returns the role to report now, if any.
    pub fn observe(
        &mut self,
        name: &str,
        state: StateKind,
        reason: Option<Reason>,
        now: Instant,
    ) -> Option<InstanceRole> {
        let starting = state == StateKind::Init
            || (state == StateKind::Backup && reason == Some(Reason::Startup));
        if starting && !self.reported.contains_key(name) {
            self.extend(name, now);
        }
        let role = match state {
            StateKind::Master => InstanceRole::Master,
            StateKind::Fault => InstanceRole::Fault,
            StateKind::Backup => InstanceRole::Backup,
            StateKind::Init | StateKind::Stopped => return None,
        };
        let settled = role != InstanceRole::Backup
            || self.reported.contains_key(name)
            || reason.is_some_and(|r| r != Reason::Startup)
            || self.deadlines.get(name).is_none_or(|d| now >= *d);
        if !settled {
            self.pending.insert(name.to_string(), state);
            return None;
        }
        self.pending.remove(name);
        self.report(name, role)
    }

    /// An instance not started yet, or starting `now`: its window cannot end before its
    /// span has run from `now`.
    fn extend(&mut self, name: &str, now: Instant) {
        if let (Some(span), Some(deadline)) = (self.spans.get(name), self.deadlines.get_mut(name)) {
            *deadline = (*deadline).max(now + *span);
        }
    }

    fn report(&mut self, name: &str, role: InstanceRole) -> Option<InstanceRole> {
        match self.reported.insert(name.to_string(), role) {
            Some(old) if old == role => None,
            _ => Some(role),
        }
    }

    /// A reload replaced the plan: instances `added` get a start-up window from `now`;
    /// instances the new plan no longer has are forgotten, and those the coordinator was
    /// told about are returned (to be reported unknown). A renamed instance is forgotten
    /// under its old name; its state under the new one comes with the next snapshot.
    pub fn reload(&mut self, plan: &Plan, added: &[String], now: Instant) -> Vec<String> {
        for (i, s) in plan.instances.iter().enumerate() {
            self.spans.insert(s.name.clone(), span(plan, i));
            if added.contains(&s.name) {
                self.deadlines.insert(s.name.clone(), now + window(plan, i));
                self.pending.remove(&s.name);
                self.reported.remove(&s.name);
            }
        }
        let keep = |n: &String| plan.instances.iter().any(|s| &s.name == n);
        self.deadlines.retain(|n, _| keep(n));
        self.spans.retain(|n, _| keep(n));
        self.pending.retain(|n, _| keep(n));
        let mut forget: Vec<String> = self.reported.keys().filter(|n| !keep(n)).cloned().collect();
        forget.sort();
        self.reported.retain(|n, _| keep(n));
        forget
    }

    /// Start-up BACKUPs whose window has passed by `now`.
    pub fn tick(&mut self, now: Instant) -> Vec<(String, InstanceRole)> {
        let due: Vec<String> = self
            .pending
            .keys()
            .filter(|n| self.deadlines.get(*n).is_none_or(|d| now >= *d))
            .cloned()
            .collect();
        let mut out = Vec::new();
        for name in due {
            self.pending.remove(&name);
            if let Some(role) = self.report(&name, InstanceRole::Backup) {
                out.push((name, role));
            }
        }
        out
    }

    /// The next time [`Settler::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending
            .keys()
            .filter_map(|n| self.deadlines.get(n))
            .min()
            .copied()
    }
}

/// The state named in a status snapshot (`InstanceStatus::state`).
pub fn parse_state(s: &str) -> Option<StateKind> {
    Some(match s {
        "INIT" => StateKind::Init,
        "BACKUP" => StateKind::Backup,
        "MASTER" => StateKind::Master,
        "FAULT" => StateKind::Fault,
        "STOP" => StateKind::Stopped,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rk_config::{LoadOptions, load_str};

    fn plan() -> Plan {
        let text = "
vrrp_instance A {
    interface lo
    virtual_router_id 1
    priority 100
    advert_int 1
    virtual_ipaddress { 10.9.9.1 }
}
vrrp_instance B {
    interface lo
    virtual_router_id 2
    priority 100
    advert_int 2
    preempt_delay 5
    virtual_ipaddress { 10.9.9.2 }
}
";
        let cfg = load_str("t.conf", text, &LoadOptions::for_tests())
            .unwrap()
            .config;
        rk_vrrp::from_config::plan(&cfg).unwrap().0
    }

    #[test]
    fn windows() {
        let p = plan();
        // (3 + 1) × 1 s + 1 s.
        assert_eq!(window(&p, 0), Duration::from_secs(5));
        // (3 + 1) × 2 s + 1 s + preempt_delay 5 s.
        assert_eq!(window(&p, 1), Duration::from_secs(14));
    }

    #[test]
    fn startup_backup_waits_for_its_window() {
        let p = plan();
        let t0 = Instant::now();
        let mut s = Settler::new(&p, t0);
        // Snapshot right after start: both BACKUP (init).
        assert_eq!(s.observe("A", StateKind::Backup, None, t0), None);
        assert_eq!(
            s.observe("B", StateKind::Backup, Some(Reason::Startup), t0),
            None
        );
        assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(5)));
        // A takes over before its window ends: reported at once.
        let t1 = t0 + Duration::from_secs(4);
        assert_eq!(
            s.observe("A", StateKind::Master, Some(Reason::MasterNoResponse), t1),
            Some(InstanceRole::Master)
        );
        assert!(s.tick(t1).is_empty());
        // B is still BACKUP at the end of its window: settled as BACKUP.
        assert!(s.tick(t0 + Duration::from_secs(13)).is_empty());
        assert_eq!(
            s.tick(t0 + Duration::from_secs(14)),
            vec![("B".to_string(), InstanceRole::Backup)]
        );
        assert_eq!(s.next_deadline(), None);
        // Later changes are reported once each.
        let t2 = t0 + Duration::from_secs(20);
        assert_eq!(
            s.observe("A", StateKind::Backup, Some(Reason::HigherPriority), t2),
            Some(InstanceRole::Backup)
        );
        assert_eq!(s.observe("A", StateKind::Backup, None, t2), None);
        assert_eq!(
            s.observe("A", StateKind::Stopped, Some(Reason::Shutdown), t2),
            None
        );
    }

    #[test]
    fn reload_forgets_removed_and_windows_added_instances() {
        let p = plan();
        let t0 = Instant::now();
        let mut s = Settler::new(&p, t0);
        assert_eq!(
            s.observe("A", StateKind::Master, Some(Reason::MasterNoResponse), t0),
            Some(InstanceRole::Master)
        );
        // B renamed C (same virtual router), and a new instance D.
        let mut p2 = p.clone();
        p2.instances[1].name = "C".into();
        let mut d = p2.instances[0].clone();
        d.name = "D".into();
        p2.instances.push(d);
        let t1 = t0 + Duration::from_secs(60);
        assert!(s.reload(&p2, &["D".to_string()], t1).is_empty());
        // A is kept: its MASTER is not reported again.
        assert_eq!(s.observe("A", StateKind::Master, None, t1), None);
        // D's start-up BACKUP waits for its own window; C (renamed, no window) is settled.
        assert_eq!(s.observe("D", StateKind::Backup, None, t1), None);
        assert_eq!(
            s.observe("C", StateKind::Backup, None, t1),
            Some(InstanceRole::Backup)
        );
        assert_eq!(s.next_deadline(), Some(t1 + Duration::from_secs(5)));
        // A removed: it was reported, so the coordinator must forget it.
        let p3 = Plan {
            instances: p2.instances[1..].to_vec(),
            ..p2
        };
        assert_eq!(s.reload(&p3, &[], t1), vec!["A".to_string()]);
    }

    #[test]
    fn instance_held_in_init_gets_its_window_after_init() {
        let p = plan();
        let t0 = Instant::now();
        let mut s = Settler::new(&p, t0);
        // A waits 8 s in INIT for its first script result (its window from start: 5 s).
        assert_eq!(s.observe("A", StateKind::Init, None, t0), None);
        let t1 = t0 + Duration::from_secs(8);
        assert_eq!(s.observe("A", StateKind::Init, None, t1), None);
        // Then starts: its BACKUP has not heard anything yet, so it is not settled.
        let t2 = t1 + Duration::from_millis(300);
        assert_eq!(
            s.observe("A", StateKind::Backup, Some(Reason::Startup), t2),
            None
        );
        assert_eq!(s.next_deadline(), Some(t2 + Duration::from_secs(5)));
        assert!(s.tick(t2 + Duration::from_secs(4)).is_empty());
        assert_eq!(
            s.tick(t2 + Duration::from_secs(5)),
            vec![("A".to_string(), InstanceRole::Backup)]
        );
        // An instance already reported does not get a new window from a status snapshot.
        assert_eq!(s.observe("A", StateKind::Init, None, t2), None);
        assert_eq!(s.next_deadline(), None);
    }

    #[test]
    fn fault_and_non_startup_backup_are_settled() {
        let p = plan();
        let t0 = Instant::now();
        let mut s = Settler::new(&p, t0);
        assert_eq!(
            s.observe("A", StateKind::Fault, Some(Reason::Fault), t0),
            Some(InstanceRole::Fault)
        );
        assert_eq!(
            s.observe("A", StateKind::Backup, Some(Reason::FaultCleared), t0),
            Some(InstanceRole::Backup)
        );
        assert_eq!(s.observe("B", StateKind::Init, None, t0), None);
        assert_eq!(parse_state("MASTER"), Some(StateKind::Master));
        assert_eq!(parse_state("bogus"), None);
    }
}
