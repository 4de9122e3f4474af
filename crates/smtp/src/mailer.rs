//! The mail queue: alerts are queued without waiting (a dead or slow SMTP server delays
//! nothing else) and sent one after the other, in the order they happened, by a task of
//! their own.
//!
//! * The queue holds [`Policy::queue`] alerts; beyond that new ones are dropped, each with
//!   a log line.
//! * A failed delivery is retried after each delay of [`Policy::retries`], then dropped
//!   with a log line. Once one has been dropped the server counts as down: the following
//!   alerts get a single attempt each until one gets through, so a dead server does not
//!   hold every alert for the whole retry schedule. (keepalived tries each alert once.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::alert::Alert;
use crate::client::{Settings, send};
use crate::message::Message;

/// Where alerts go and who they come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailConfig {
    /// The SMTP server.
    pub server: Settings,
    /// `notification_email_from`.
    pub from: String,
    /// `notification_email`.
    pub to: Vec<String>,
    /// `router_id` (subjects start with `[router_id]`).
    pub router_id: String,
}

/// Queueing and retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Alerts waiting at most.
    pub queue: usize,
    /// Delays before each retry.
    pub retries: Vec<Duration>,
}

impl Default for Policy {
    /// 64 alerts; retries after 5 s and 30 s.
    fn default() -> Self {
        Policy {
            queue: 64,
            retries: vec![Duration::from_secs(5), Duration::from_secs(30)],
        }
    }
}

/// Queues alerts for the mail task. Cheap to clone; dropping every clone ends the task once
/// the queue is empty.
#[derive(Clone, Debug)]
pub struct Mailer {
    tx: mpsc::Sender<Alert>,
    idle: Arc<Idle>,
}

/// Alerts queued or being sent, and a wake-up when that drops to zero.
#[derive(Debug, Default)]
struct Idle {
    outstanding: AtomicUsize,
    notify: Notify,
}

impl Idle {
    fn done(&self) {
        if self.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.notify.notify_waiters();
        }
    }
}

impl Mailer {
    /// Starts the mail task on the current runtime.
    pub fn spawn(cfg: MailConfig, policy: Policy) -> (Mailer, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(policy.queue.max(1));
        let idle = Arc::new(Idle::default());
        (
            Mailer {
                tx,
                idle: idle.clone(),
            },
            tokio::spawn(run(cfg, policy, rx, idle)),
        )
    }

    /// Resolves once every alert queued so far has been sent or dropped (bound it with a
    /// timeout: a dead server keeps it waiting through the retries).
    pub async fn flushed(&self) {
        loop {
            let woken = self.idle.notify.notified();
            if self.idle.outstanding.load(Ordering::Acquire) == 0 {
                return;
            }
            woken.await;
        }
    }

    /// Queues `alert`; never waits.
    pub fn alert(&self, alert: Alert) {
        self.idle.outstanding.fetch_add(1, Ordering::AcqRel);
        match self.tx.try_send(alert) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(a)) => {
                self.idle.done();
                tracing::error!(
                    "SMTP alert queue full (the server is slow or down): dropping \"{}\"",
                    a.subject("…")
                );
            }
            Err(mpsc::error::TrySendError::Closed(a)) => {
                self.idle.done();
                tracing::warn!(
                    "SMTP alerts have stopped: not sending \"{}\"",
                    a.subject("…")
                );
            }
        }
    }
}

async fn run(cfg: MailConfig, policy: Policy, mut rx: mpsc::Receiver<Alert>, idle: Arc<Idle>) {
    let mut server_down = false;
    while let Some(alert) = rx.recv().await {
        let subject = alert.subject(&cfg.router_id);
        let msg = Message::new(&cfg.from, &cfg.to, &subject, &alert.body());
        let attempts = if server_down {
            1
        } else {
            1 + policy.retries.len()
        };
        for n in 0..attempts {
            match send(&cfg.server, &msg).await {
                Ok(()) => {
                    tracing::info!("SMTP alert sent: {subject}");
                    server_down = false;
                    break;
                }
                Err(e) if n + 1 < attempts => {
                    let wait = policy.retries[n];
                    tracing::warn!("SMTP alert \"{subject}\": {e}; retrying in {wait:?}");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    tracing::error!("SMTP alert \"{subject}\" dropped: {e}");
                    server_down = true;
                }
            }
        }
        idle.done();
    }
}
