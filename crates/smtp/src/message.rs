//! The message keepalived sends (`core/smtp.c` `body_cmd`): headers `Date`, `From`,
//! `Subject`, `X-Mailer: Keepalived`, `To` (every recipient, comma-separated), a blank
//! line, the body. Lines end in CRLF; lines of the body starting with `.` are doubled
//! (RFC 5321 §4.5.2; keepalived does not, so a body line "." would end its message early).

use std::time::{SystemTime, UNIX_EPOCH};

/// One alert, ready for the DATA command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// `From:` (`notification_email_from`).
    pub from: String,
    /// `To:` (`notification_email`).
    pub to: Vec<String>,
    /// `Subject:`.
    pub subject: String,
    /// The text.
    pub body: String,
    /// `Date:` as RFC 5322 text.
    pub date: String,
}

impl Message {
    /// A message dated now.
    pub fn new(from: &str, to: &[String], subject: &str, body: &str) -> Message {
        Message {
            from: from.to_string(),
            to: to.to_vec(),
            subject: one_line(subject),
            body: body.to_string(),
            date: rfc5322_date(SystemTime::now()),
        }
    }

    /// What follows `DATA`, up to and including the terminating `.` line.
    pub fn data(&self) -> String {
        let mut out = format!(
            "Date: {}\r\nFrom: {}\r\nSubject: {}\r\nX-Mailer: Keepalived\r\nTo: {}\r\n\r\n",
            self.date,
            one_line(&self.from),
            self.subject,
            self.to
                .iter()
                .map(|t| one_line(t))
                .collect::<Vec<_>>()
                .join(",\r\n "),
        );
        for line in self.body.lines() {
            if line.starts_with('.') {
                out.push('.');
            }
            out.push_str(line);
            out.push_str("\r\n");
        }
        out.push_str(".\r\n");
        out
    }
}

/// A header value on one line: CR and LF become spaces, so no text can add headers.
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// The SMTP envelope form of an address: `<addr>`, or the `<...>` part of
/// `Name <addr>` (keepalived `mail_cmd` / `rcpt_cmd`).
pub fn envelope(addr: &str) -> String {
    let a = one_line(addr.trim());
    match (a.ends_with('>'), a.rfind('<')) {
        (true, Some(i)) => a[i..].to_string(),
        _ => format!("<{a}>"),
    }
}

/// RFC 5322 date, in UTC: `Mon, 01 Mar 2021 09:44:08 +0000`. (keepalived writes local
/// time; the zone is part of the value, so mail clients show the same instant.)
pub fn rfc5322_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = DAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    let mon = MONTHS[usize::try_from(m - 1).unwrap_or(0)];
    format!(
        "{wd}, {d:02} {mon} {y} {:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn dates() {
        let at = |s: u64| rfc5322_date(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(at(1_614_591_848), "Mon, 01 Mar 2021 09:44:08 +0000");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(at(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 +0000");
    }

    #[test]
    fn envelope_addresses() {
        assert_eq!(envelope("ops@example.com"), "<ops@example.com>");
        assert_eq!(envelope("Ops Team <ops@example.com>"), "<ops@example.com>");
        // No line break survives: no command can be smuggled in.
        assert_eq!(envelope(" a@b\r\nRCPT TO:<x@y> "), "<x@y>");
    }

    /// keepalived's headers in its order, CRLF everywhere, dot-stuffing, and no header
    /// injection through a subject.
    #[test]
    fn data_layout() {
        let mut m = Message::new(
            "keepalived@lb1",
            &["ops@example.com".into(), "noc@example.com".into()],
            "[lb1] VRRP Instance VI_1 - Entering MASTER state\r\nBcc: x@y",
            "=> VRRP Instance is now owning VRRP VIPs <=\n.\n..x",
        );
        m.date = "Mon, 01 Mar 2021 09:44:08 +0000".into();
        assert_eq!(
            m.data(),
            "Date: Mon, 01 Mar 2021 09:44:08 +0000\r\n\
             From: keepalived@lb1\r\n\
             Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state  Bcc: x@y\r\n\
             X-Mailer: Keepalived\r\n\
             To: ops@example.com,\r\n noc@example.com\r\n\
             \r\n\
             => VRRP Instance is now owning VRRP VIPs <=\r\n\
             ..\r\n\
             ...x\r\n\
             .\r\n"
        );
    }
}
