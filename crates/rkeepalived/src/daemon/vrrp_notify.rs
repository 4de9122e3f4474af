//! VRRP's notices, for every transition in the order it happened (the VRRP thread's
//! lossless event sink, `rk_vrrp::Options::event_sink`):
//!
//! * instance: `notify_master` / `notify_backup` / `notify_fault` / `notify_stop` with their
//!   configured arguments, then the generic `notify` with `INSTANCE name STATE priority`
//!   appended; the FIFO line `INSTANCE "name" STATE priority`; an e-mail with `smtp_alert`
//!   (once per state, as keepalived's `last_email_state`; FAULT not with `no_email_faults`);
//! * sync group (after its members' own notices): the group's scripts, `notify` with
//!   `GROUP name STATE 0`, `GROUP "name" STATE 0`, e-mail;
//! * `notify_master_rx_lower_pri` (configured arguments) and `INSTANCE "name"
//!   MASTER_RX_LOWER_PRI priority`;
//! * with `notify_priority_changes`: `INSTANCE "name" MASTER_PRIORITY|BACKUP_PRIORITY
//!   priority`.
//!
//! Scripts go through one ordered queue ([`super::notify::Notifier`]): a `notify_backup`
//! never overtakes the `notify_master` before it, which keepalived (every script forked at
//! once) does not guarantee. At stop the `notify_stop` scripts run within 1 s, as
//! keepalived's.

use std::collections::HashMap;
use std::sync::Arc;

use rk_config::Config;
use rk_config::model::{Script, SyncGroup, VrrpInstance};
use rk_smtp::alert::{Alert, VrrpState};
use rk_vrrp::VrrpEvent;
use rk_vrrp_proto::StateKind;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::fifo::{group_line, instance_line};
use super::notify::{self, Job, Notifier};
use super::outlets;

/// keepalived's word for a state in scripts and FIFO lines; `None` for INIT.
pub fn state_word(s: StateKind) -> Option<&'static str> {
    match s {
        StateKind::Master => Some("MASTER"),
        StateKind::Backup => Some("BACKUP"),
        StateKind::Fault => Some("FAULT"),
        StateKind::Stopped => Some("STOP"),
        StateKind::Init => None,
    }
}

fn mail_state(s: StateKind) -> Option<VrrpState> {
    match s {
        StateKind::Master => Some(VrrpState::Master),
        StateKind::Backup => Some(VrrpState::Backup),
        StateKind::Fault => Some(VrrpState::Fault),
        StateKind::Stopped => Some(VrrpState::Stop),
        StateKind::Init => None,
    }
}

/// The VRRP notices task.
#[derive(Debug)]
pub struct VrrpNotices {
    config: watch::Sender<Arc<Config>>,
    finish: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    queue: JoinHandle<()>,
}

impl VrrpNotices {
    /// Starts following `events` with the scripts and settings of `cfg`.
    pub fn spawn(cfg: Arc<Config>, events: mpsc::UnboundedReceiver<VrrpEvent>) -> VrrpNotices {
        let (notifier, queue) = Notifier::spawn();
        let (config, cfg_rx) = watch::channel(cfg);
        let (finish, finish_rx) = oneshot::channel();
        let task = tokio::spawn(run(events, cfg_rx, finish_rx, notifier));
        VrrpNotices {
            config,
            finish: Some(finish),
            task,
            queue,
        }
    }

    /// A reload: the following events use `cfg`'s scripts and settings.
    pub fn set_config(&self, cfg: Arc<Config>) {
        let _ = self.config.send(cfg);
    }

    /// Once the VRRP thread has ended: handles the events left (the STOP notices, whose
    /// scripts run within 1 s), then drops the scripts still queued, as keepalived kills
    /// its scripts at stop.
    pub async fn finish(mut self) {
        if let Some(f) = self.finish.take() {
            let _ = f.send(());
        }
        let _ = (&mut self.task).await;
        self.queue.abort();
    }
}

struct State {
    cfg: Arc<Config>,
    notifier: Notifier,
    /// The state last mailed, per `I:name` / `G:name`.
    mailed: HashMap<String, VrrpState>,
    /// `notify_stop` jobs, run together within the stop timeout.
    stop_jobs: Vec<Job>,
}

async fn run(
    mut events: mpsc::UnboundedReceiver<VrrpEvent>,
    mut cfg_rx: watch::Receiver<Arc<Config>>,
    mut finish: oneshot::Receiver<()>,
    notifier: Notifier,
) {
    let mut st = State {
        cfg: cfg_rx.borrow_and_update().clone(),
        notifier,
        mailed: HashMap::new(),
        stop_jobs: Vec::new(),
    };
    loop {
        tokio::select! {
            biased;
            Ok(()) = cfg_rx.changed() => st.cfg = cfg_rx.borrow_and_update().clone(),
            ev = events.recv() => match ev {
                Some(ev) => st.on_event(ev),
                None => break,
            },
            _ = &mut finish => {
                while let Ok(ev) = events.try_recv() {
                    st.on_event(ev);
                }
                break;
            }
        }
    }
    let jobs = std::mem::take(&mut st.stop_jobs);
    if !jobs.is_empty() {
        notify::run_within(jobs, notify::STOP_TIMEOUT).await;
    }
}

impl State {
    fn instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.cfg.vrrp_instances.iter().find(|v| v.name == name)
    }

    fn group(&self, name: &str) -> Option<&SyncGroup> {
        self.cfg.sync_groups.iter().find(|g| g.name == name)
    }

    fn on_event(&mut self, ev: VrrpEvent) {
        match ev {
            VrrpEvent::StateChange {
                instance,
                to,
                priority,
                ..
            } => self.instance_change(&instance, to, priority),
            VrrpEvent::GroupStateChange { group, to, .. } => self.group_change(&group, to),
            VrrpEvent::MasterRxLowerPriority {
                instance,
                own_priority,
                ..
            } => {
                if let Some(s) = self
                    .instance(&instance)
                    .and_then(|v| v.notify.master_rx_lower_pri.clone())
                {
                    self.queue(
                        format!("notify_master_rx_lower_pri of {instance}"),
                        &s,
                        &[],
                        false,
                    );
                }
                outlets::fifo_vrrp(&instance_line(
                    &instance,
                    "MASTER_RX_LOWER_PRI",
                    own_priority,
                ));
            }
            VrrpEvent::PriorityChanged {
                instance,
                state,
                to,
                ..
            } => {
                let Some(vi) = self.instance(&instance) else {
                    return;
                };
                let group_says = vi
                    .sync_group
                    .as_deref()
                    .and_then(|g| self.group(g))
                    .and_then(|g| g.notify_priority_changes);
                if group_says.unwrap_or(vi.notify_priority_changes) {
                    let word = if state == StateKind::Master {
                        "MASTER_PRIORITY"
                    } else {
                        "BACKUP_PRIORITY"
                    };
                    outlets::fifo_vrrp(&instance_line(&instance, word, to));
                }
            }
        }
    }

    /// Queues a script (or keeps it for the stop-time run).
    fn queue(&mut self, what: String, script: &Script, extra: &[String], stop: bool) {
        match Job::with_args(what, script, &self.cfg.global, extra) {
            Ok(job) if stop => self.stop_jobs.push(job),
            Ok(job) => self.notifier.send(job),
            Err(e) => tracing::error!("{e}"),
        }
    }

    fn instance_change(&mut self, name: &str, to: StateKind, priority: u8) {
        let Some(word) = state_word(to) else {
            return;
        };
        let Some(vi) = self.instance(name).cloned() else {
            tracing::warn!("no configuration for instance {name}: no notices");
            return;
        };
        let n = &vi.notify;
        let specific = match to {
            StateKind::Master => n.master.as_ref(),
            StateKind::Backup => n.backup.as_ref(),
            StateKind::Fault => n.fault.as_ref(),
            StateKind::Stopped => n.stop.as_ref(),
            StateKind::Init => None,
        };
        let stop = to == StateKind::Stopped;
        if let Some(s) = specific {
            self.queue(
                format!("notify_{} of {name}", word.to_lowercase()),
                s,
                &[],
                stop,
            );
        }
        if let Some(s) = &n.any {
            let extra = [
                "INSTANCE".to_string(),
                name.to_string(),
                word.to_string(),
                priority.to_string(),
            ];
            self.queue(format!("notify of {name}"), s, &extra, stop);
        }
        outlets::fifo_vrrp(&instance_line(name, word, priority));
        if vi.smtp_alert {
            self.mail(format!("I:{name}"), to, |state| Alert::Instance {
                name: name.to_string(),
                state,
            });
        }
    }

    fn group_change(&mut self, name: &str, to: StateKind) {
        let Some(word) = state_word(to) else {
            return;
        };
        let Some(g) = self.group(name).cloned() else {
            return;
        };
        let specific = match to {
            StateKind::Master => g.notify_master.as_ref(),
            StateKind::Backup => g.notify_backup.as_ref(),
            StateKind::Fault => g.notify_fault.as_ref(),
            StateKind::Stopped => g.notify_stop.as_ref(),
            StateKind::Init => None,
        };
        let stop = to == StateKind::Stopped;
        if let Some(s) = specific {
            self.queue(
                format!("notify_{} of sync group {name}", word.to_lowercase()),
                s,
                &[],
                stop,
            );
        }
        if let Some(s) = &g.notify {
            let extra = [
                "GROUP".to_string(),
                name.to_string(),
                word.to_string(),
                "0".to_string(),
            ];
            self.queue(format!("notify of sync group {name}"), s, &extra, stop);
        }
        outlets::fifo_vrrp(&group_line(name, word));
        if g.smtp_alert {
            self.mail(format!("G:{name}"), to, |state| Alert::Group {
                name: name.to_string(),
                state,
            });
        }
    }

    /// One e-mail per state change (keepalived's `last_email_state`).
    fn mail(&mut self, key: String, to: StateKind, alert: impl FnOnce(VrrpState) -> Alert) {
        let Some(state) = mail_state(to) else {
            return;
        };
        if self.mailed.get(&key) == Some(&state) {
            return;
        }
        self.mailed.insert(key, state);
        outlets::mail(alert(state));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rk_config::{LoadOptions, load_str};
    use rk_vrrp_proto::Reason;

    use super::*;

    /// Scripts run in transition order with keepalived's arguments, group notices after
    /// the members', and the stop scripts at finish.
    #[tokio::test]
    async fn scripts_in_transition_order_with_keepalived_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let script = dir.path().join("n.sh");
        // The MASTER script is slow: started concurrently, BACKUP would overtake it.
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n[ \"$1\" = master ] && sleep 0.3\necho \"$*\" >> {}\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let s = script.display();
        let cfg = load_str(
            "t.conf",
            &format!(
                "vrrp_sync_group G {{\n group {{ VI_1\n }}\n notify \"{s} group\"\n}}\n\
                 vrrp_instance VI_1 {{\n interface lo\n virtual_router_id 1\n priority 100\n\
                 virtual_ipaddress {{ 10.1.1.1 }}\n notify_master \"{s} master\"\n\
                 notify_backup \"{s} backup\"\n notify_stop \"{s} stop\"\n notify {s}\n\
                 notify_master_rx_lower_pri \"{s} lower\"\n}}\n"
            ),
            &LoadOptions::for_tests(),
        )
        .unwrap()
        .config;
        let (tx, rx) = mpsc::unbounded_channel();
        let n = VrrpNotices::spawn(Arc::new(cfg), rx);
        let change = |from, to, priority| VrrpEvent::StateChange {
            instance: "VI_1".into(),
            from,
            to,
            reason: Reason::Startup,
            priority,
        };
        let group = |from, to| VrrpEvent::GroupStateChange {
            group: "G".into(),
            from,
            to,
        };
        tx.send(change(StateKind::Init, StateKind::Backup, 100))
            .unwrap();
        tx.send(group(None, StateKind::Backup)).unwrap();
        tx.send(change(StateKind::Backup, StateKind::Master, 100))
            .unwrap();
        tx.send(group(Some(StateKind::Backup), StateKind::Master))
            .unwrap();
        tx.send(VrrpEvent::MasterRxLowerPriority {
            instance: "VI_1".into(),
            from: "10.0.0.9".parse().unwrap(),
            priority: 50,
            own_priority: 100,
        })
        .unwrap();
        tx.send(change(StateKind::Master, StateKind::Backup, 90))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        tx.send(change(StateKind::Backup, StateKind::Stopped, 90))
            .unwrap();
        drop(tx);
        n.finish().await;
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "backup\n\
             INSTANCE VI_1 BACKUP 100\n\
             group GROUP G BACKUP 0\n\
             master\n\
             INSTANCE VI_1 MASTER 100\n\
             group GROUP G MASTER 0\n\
             lower\n\
             backup\n\
             INSTANCE VI_1 BACKUP 90\n\
             stop\n\
             INSTANCE VI_1 STOP 90\n"
        );
    }
}
