//! Where the daemon's notices go besides scripts — the notify FIFOs ([`super::fifo`]) and
//! e-mail ([`rk_smtp`]) — and the script security policy every script runs under
//! ([`rk_track::security`]). One set per configuration: opened at start, replaced by a
//! reload ([`install`]), closed at stop.
//!
//! Both sides of the daemon (VRRP notifies, real-server and quorum notifies) reach the
//! current set through [`current`] rather than through parameters, so a reload changes
//! FIFOs, mail settings and `enable_script_security` for every user at once.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rk_config::Config;
use rk_config::model::GlobalDefs;
use rk_smtp::alert::Alert;
use rk_smtp::client::Settings;
use rk_smtp::mailer::{MailConfig, Mailer, Policy};
use rk_track::security::Security;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::fifo::Fifos;

/// How long the mail queue may take to empty at stop; a dead SMTP server must not hold
/// up a stop longer than this.
pub const MAIL_FLUSH_AT_STOP: Duration = Duration::from_secs(2);

/// E-mail, when `notification_email` and `smtp_server` are both set.
#[derive(Debug)]
pub struct Mail {
    mailer: Mailer,
    task: Mutex<Option<JoinHandle<()>>>,
    /// `no_email_faults`.
    pub no_email_faults: bool,
    /// `no_checker_emails`.
    pub no_checker_emails: bool,
}

impl Mail {
    /// Queues `alert` unless `no_email_faults` rules it out.
    pub fn send(&self, alert: Alert) {
        if self.no_email_faults && alert.is_fault() {
            return;
        }
        self.mailer.alert(alert);
    }
}

/// The FIFOs, mail and script policy of one configuration.
#[derive(Debug)]
pub struct Outlets {
    /// `enable_script_security`.
    pub security: Arc<Security>,
    /// The notify FIFOs.
    pub fifos: Arc<Fifos>,
    /// E-mail.
    pub mail: Option<Mail>,
}

static CURRENT: RwLock<Option<Arc<Outlets>>> = RwLock::new(None);

/// The outlets in use; `None` before the daemon installed any (unit tests).
pub fn current() -> Option<Arc<Outlets>> {
    CURRENT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Makes `o` the outlets in use; returns the previous ones (to close).
pub fn install(o: Arc<Outlets>) -> Option<Arc<Outlets>> {
    let mut c = CURRENT.write().unwrap_or_else(|e| e.into_inner());
    c.replace(o)
}

/// Takes the outlets out of use (at stop).
pub fn uninstall() -> Option<Arc<Outlets>> {
    CURRENT.write().unwrap_or_else(|e| e.into_inner()).take()
}

/// The security policy in use (off before any is installed).
pub fn security() -> Arc<Security> {
    current().map_or_else(|| Arc::new(Security::new(false)), |o| o.security.clone())
}

/// Writes a VRRP line to the FIFOs in use.
pub fn fifo_vrrp(line: &str) {
    if let Some(o) = current() {
        o.fifos.vrrp(line);
    }
}

/// Writes an LVS line to the FIFOs in use.
pub fn fifo_lvs(line: &str) {
    if let Some(o) = current() {
        o.fifos.lvs(line);
    }
}

/// Queues an e-mail alert, if mail is configured.
pub fn mail(alert: Alert) {
    if let Some(o) = current()
        && let Some(m) = &o.mail
    {
        m.send(alert);
    }
}

/// Whether checker transitions that leave the real server's state unchanged are mailed
/// (`no_checker_emails` off).
pub fn checker_emails() -> bool {
    current().is_some_and(|o| o.mail.as_ref().is_some_and(|m| !m.no_checker_emails))
}

/// This machine's name (keepalived's default `router_id`, HELO name and sender domain).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The mail settings of `g`, when mail is on.
pub fn mail_config(g: &GlobalDefs) -> Option<MailConfig> {
    let server = g.smtp_server.as_ref()?;
    if g.notification_email.is_empty() {
        return None;
    }
    let host = hostname();
    Some(MailConfig {
        server: Settings {
            host: server.host.clone(),
            port: server.port,
            helo: g.smtp_helo_name.clone().unwrap_or_else(|| host.clone()),
            timeout: g.smtp_connect_timeout,
        },
        // keepalived: the daemon's user name at the host name (`root@lb1`).
        from: g.notification_email_from.clone().unwrap_or_else(|| {
            let user = nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map_or_else(|| "root".to_string(), |u| u.name);
            format!("{user}@{host}")
        }),
        to: g.notification_email.clone(),
        router_id: g.router_id.clone().unwrap_or(host),
    })
}

impl Outlets {
    /// Opens the FIFOs (starting their reader scripts) and the mail queue of `cfg`
    /// (inside the runtime).
    pub fn open(cfg: &Config) -> Arc<Outlets> {
        let g = &cfg.global;
        let security = Arc::new(Security::new(g.enable_script_security));
        let fifos = Arc::new(Fifos::open(&g.fifos, g, &security));
        let mail = mail_config(g).map(|mc| {
            tracing::info!(
                "e-mail alerts to {} through {}:{}",
                mc.to.join(", "),
                mc.server.host,
                mc.server.port
            );
            let (mailer, task) = Mailer::spawn(mc, Policy::default());
            Mail {
                mailer,
                task: Mutex::new(Some(task)),
                no_email_faults: g.no_email_faults,
                no_checker_emails: g.no_checker_emails,
            }
        });
        Arc::new(Outlets {
            security,
            fifos,
            mail,
        })
    }

    /// At stop or after a reload replaced them: waits up to [`MAIL_FLUSH_AT_STOP`] for
    /// queued mail, stops the FIFO readers and removes the FIFOs we created.
    pub async fn close(&self) {
        if let Some(m) = &self.mail
            && let Some(task) = m.task.lock().await.take()
        {
            // The mailer ends once its queue is empty and every sender is gone; ours is
            // the last sender left at stop, so wait on the queue with a bound instead.
            let abort = task.abort_handle();
            if tokio::time::timeout(MAIL_FLUSH_AT_STOP, m.mailer.flushed())
                .await
                .is_err()
            {
                tracing::warn!("mail still queued after {MAIL_FLUSH_AT_STOP:?} at stop: dropped");
            }
            abort.abort();
        }
        self.fifos.close().await;
    }
}
