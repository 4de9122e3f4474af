//! # rk-smtp: keepalived's e-mail alerts
//!
//! * [`alert`]: what keepalived writes — `[router_id] VRRP Instance VI_1 - Entering
//!   MASTER state`, sync groups, real servers UP/DOWN, virtual server quorum;
//! * [`message`]: the message (keepalived's headers, CRLF, dot-stuffing, no header
//!   injection);
//! * [`client`]: the SMTP dialogue keepalived has (HELO, MAIL FROM, RCPT TO, DATA, QUIT;
//!   no TLS, no authentication), bounded by `smtp_connect_timeout`;
//! * [`mailer`]: a bounded queue with retries and back-off, on a task of its own, so a dead
//!   SMTP server delays nothing else.
//!
//! **Never does:** decide *when* to send (the daemon follows `smtp_alert`,
//! `no_email_faults`, `no_checker_emails`), or anything but outgoing SMTP.
//!
//! ```no_run
//! # async fn demo() {
//! use rk_smtp::{alert::{Alert, VrrpState}, client::Settings, mailer::{MailConfig, Mailer, Policy}};
//! let (mailer, _task) = Mailer::spawn(
//!     MailConfig {
//!         server: Settings {
//!             host: "127.0.0.1".into(),
//!             port: 25,
//!             helo: "lb1".into(),
//!             timeout: std::time::Duration::from_secs(30),
//!         },
//!         from: "keepalived@lb1".into(),
//!         to: vec!["ops@example.com".into()],
//!         router_id: "lb1".into(),
//!     },
//!     Policy::default(),
//! );
//! mailer.alert(Alert::Instance { name: "VI_1".into(), state: VrrpState::Master });
//! # }
//! ```

pub mod alert;
pub mod client;
pub mod mailer;
pub mod message;
