//! Logging as keepalived does it: to the console with `-l`, to syslog (`/dev/log`,
//! facility from `-S`, default daemon) unless `-G`; `-D` adds detail (debug level).
//! `RUST_LOG` overrides the level.

use std::io::{self, IsTerminal, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

use crate::cli::Cli;

/// Installs the global subscriber for the daemon; `ident` names us in syslog
/// (keepalived's `Keepalived_vrrp`, `Keepalived_healthcheckers`, `Keepalived`).
pub fn init(cli: &Cli, ident: &'static str) {
    let level = if cli.log_detail { "debug" } else { "info" };
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let console = cli.log_console.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(io::stderr)
            .with_target(false)
            .with_ansi(io::stderr().is_terminal())
            .with_filter(filter())
    });
    let syslog = (!cli.no_syslog).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(Syslog::new(ident, facility(cli.log_facility.as_deref())))
            .with_target(false)
            .without_time()
            .with_level(false)
            .with_ansi(false)
            .with_filter(filter())
    });
    let _ = tracing_subscriber::registry()
        .with(console)
        .with(syslog)
        .try_init();
}

/// syslog facility number from `-S` (0-7 and local0-local7 are local0..local7).
fn facility(s: Option<&str>) -> u8 {
    match s {
        None | Some("daemon") => 3,
        Some("user") => 1,
        Some(x) => {
            let n: u8 = x.strip_prefix("local").unwrap_or(x).parse().unwrap_or(0);
            16 + n.min(7)
        }
    }
}

/// Sends each formatted event as one datagram to `/dev/log` in the RFC 3164 form
/// (`<PRI>Keepalived_vrrp[PID]: message`). A missing syslog daemon is not an error: the
/// message is dropped, as keepalived's are.
struct Syslog {
    ident: &'static str,
    facility: u8,
    sock: Mutex<Option<UnixDatagram>>,
}

impl Syslog {
    fn new(ident: &'static str, facility: u8) -> Self {
        Syslog {
            ident,
            facility,
            sock: Mutex::new(None),
        }
    }
}

/// One event being formatted.
struct Line<'a> {
    owner: &'a Syslog,
    severity: u8,
    buf: Vec<u8>,
}

impl Write for Line<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line<'_> {
    fn drop(&mut self) {
        let msg = String::from_utf8_lossy(&self.buf);
        let pri = u16::from(self.owner.facility) * 8 + u16::from(self.severity);
        let datagram = format!(
            "<{pri}>{}[{}]: {}",
            self.owner.ident,
            std::process::id(),
            msg.trim_end()
        );
        let mut guard = self.owner.sock.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = UnixDatagram::unbound()
                .and_then(|s| s.connect("/dev/log").map(|()| s))
                .ok();
        }
        if let Some(s) = guard.as_ref()
            && s.send(datagram.as_bytes()).is_err()
        {
            // syslogd restarted: reconnect next time.
            *guard = None;
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            owner: self,
            severity: 6,
            buf: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        let severity = match *meta.level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            Level::DEBUG | Level::TRACE => 7,
        };
        Line {
            owner: self,
            severity,
            buf: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities() {
        assert_eq!(facility(None), 3);
        assert_eq!(facility(Some("daemon")), 3);
        assert_eq!(facility(Some("user")), 1);
        assert_eq!(facility(Some("local3")), 19);
        assert_eq!(facility(Some("5")), 21);
    }
}
