//! The SMTP dialogue keepalived has (`core/smtp.c`): greeting 220, `HELO` 250,
//! `MAIL FROM` 250, `RCPT TO` 250/251 per recipient, `DATA` 354, the message 250,
//! `QUIT` 221. No EHLO, no TLS, no authentication: a relay on the local network, as
//! keepalived expects. Multi-line replies (`250-...`) are read to their last line.
//!
//! `smtp_connect_timeout` bounds the connection and each reply; after an error the client
//! still says `QUIT` when it can.

use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::message::{Message, envelope};

/// Where and how to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `smtp_server` host (name or address).
    pub host: String,
    /// `smtp_server` port (25).
    pub port: u16,
    /// `smtp_helo_name`.
    pub helo: String,
    /// `smtp_connect_timeout`.
    pub timeout: Duration,
}

/// A step of the dialogue, for errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Connecting (and the greeting).
    Connect,
    /// `HELO`.
    Helo,
    /// `MAIL FROM`.
    Mail,
    /// `RCPT TO`.
    Rcpt,
    /// `DATA`.
    Data,
    /// The message itself.
    Body,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connect",
            Stage::Helo => "HELO",
            Stage::Mail => "MAIL FROM",
            Stage::Rcpt => "RCPT TO",
            Stage::Data => "DATA",
            Stage::Body => "message",
        })
    }
}

/// Why a mail was not delivered.
#[derive(Debug, Error)]
pub enum SmtpError {
    /// The name did not resolve, or nothing accepted the connection.
    #[error("cannot connect to {server}: {source}")]
    Connect {
        /// `host:port`.
        server: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No answer within `smtp_connect_timeout`.
    #[error("{server}: no answer at {stage} within {timeout:?}")]
    Timeout {
        /// `host:port`.
        server: String,
        /// Where.
        stage: Stage,
        /// The timeout.
        timeout: Duration,
    },
    /// The server refused a step.
    #[error("{server} refused {stage}: {code} {text}")]
    Refused {
        /// `host:port`.
        server: String,
        /// Where.
        stage: Stage,
        /// Its reply code.
        code: u16,
        /// Its text.
        text: String,
    },
    /// The connection broke, or the reply was not SMTP.
    #[error("{server} at {stage}: {detail}")]
    Protocol {
        /// `host:port`.
        server: String,
        /// Where.
        stage: Stage,
        /// What happened.
        detail: String,
    },
}

/// Longest reply accepted (lines and bytes): a server that talks endlessly is broken.
const MAX_REPLY_LINES: usize = 100;
const MAX_LINE: usize = 2048;

struct Conn {
    io: BufReader<TcpStream>,
    server: String,
    timeout: Duration,
}

impl Conn {
    fn proto(&self, stage: Stage, detail: impl Into<String>) -> SmtpError {
        SmtpError::Protocol {
            server: self.server.clone(),
            stage,
            detail: detail.into(),
        }
    }

    /// One reply: (code, text of the last line).
    async fn reply(&mut self, stage: Stage) -> Result<(u16, String), SmtpError> {
        let timeout = self.timeout;
        let server = self.server.clone();
        let read = async {
            for _ in 0..MAX_REPLY_LINES {
                let mut line = String::new();
                let n = (&mut self.io)
                    .take(u64::try_from(MAX_LINE).unwrap_or(u64::MAX))
                    .read_line(&mut line)
                    .await
                    .map_err(|e| self.proto(stage, e.to_string()))?;
                if n == 0 {
                    return Err(self.proto(stage, "connection closed"));
                }
                let line = line.trim_end_matches(['\r', '\n']);
                let code = line
                    .get(..3)
                    .and_then(|c| c.parse::<u16>().ok())
                    .ok_or_else(|| self.proto(stage, format!("not an SMTP reply: {line:?}")))?;
                match line.as_bytes().get(3) {
                    Some(b'-') => continue,
                    None | Some(b' ') => {
                        return Ok((code, line.get(4..).unwrap_or("").to_string()));
                    }
                    Some(_) => {
                        return Err(self.proto(stage, format!("not an SMTP reply: {line:?}")));
                    }
                }
            }
            Err(self.proto(stage, "reply too long"))
        };
        tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| SmtpError::Timeout {
                server,
                stage,
                timeout,
            })?
    }

    async fn send(&mut self, stage: Stage, text: &str) -> Result<(), SmtpError> {
        let timeout = self.timeout;
        let server = self.server.clone();
        let write = self.io.get_mut().write_all(text.as_bytes());
        match tokio::time::timeout(timeout, write).await {
            Ok(r) => r.map_err(|e| self.proto(stage, e.to_string())),
            Err(_) => Err(SmtpError::Timeout {
                server,
                stage,
                timeout,
            }),
        }
    }

    /// A command and the reply it must get.
    async fn step(&mut self, stage: Stage, text: &str, ok: &[u16]) -> Result<(), SmtpError> {
        self.send(stage, text).await?;
        self.expect(stage, ok).await
    }

    async fn expect(&mut self, stage: Stage, ok: &[u16]) -> Result<(), SmtpError> {
        let (code, text) = self.reply(stage).await?;
        if ok.contains(&code) {
            Ok(())
        } else {
            Err(SmtpError::Refused {
                server: self.server.clone(),
                stage,
                code,
                text,
            })
        }
    }
}

/// Delivers `msg` through the server of `settings`.
pub async fn send(settings: &Settings, msg: &Message) -> Result<(), SmtpError> {
    let server = if settings.host.contains(':') {
        format!("[{}]:{}", settings.host, settings.port)
    } else {
        format!("{}:{}", settings.host, settings.port)
    };
    let connect = TcpStream::connect((settings.host.as_str(), settings.port));
    let stream = match tokio::time::timeout(settings.timeout, connect).await {
        Ok(Ok(s)) => s,
        Ok(Err(source)) => return Err(SmtpError::Connect { server, source }),
        Err(_) => {
            return Err(SmtpError::Timeout {
                server,
                stage: Stage::Connect,
                timeout: settings.timeout,
            });
        }
    };
    let mut c = Conn {
        io: BufReader::new(stream),
        server,
        timeout: settings.timeout,
    };
    let result = dialogue(&mut c, settings, msg).await;
    // Polite either way; the answer does not matter.
    let _ = c.step(Stage::Body, "QUIT\r\n", &[221]).await;
    result
}

async fn dialogue(c: &mut Conn, settings: &Settings, msg: &Message) -> Result<(), SmtpError> {
    c.expect(Stage::Connect, &[220]).await?;
    c.step(Stage::Helo, &format!("HELO {}\r\n", settings.helo), &[250])
        .await?;
    c.step(
        Stage::Mail,
        &format!("MAIL FROM:{}\r\n", envelope(&msg.from)),
        &[250],
    )
    .await?;
    for to in &msg.to {
        c.step(
            Stage::Rcpt,
            &format!("RCPT TO:{}\r\n", envelope(to)),
            &[250, 251],
        )
        .await?;
    }
    c.step(Stage::Data, "DATA\r\n", &[354]).await?;
    c.step(Stage::Body, &msg.data(), &[250]).await
}
