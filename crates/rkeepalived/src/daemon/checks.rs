//! The configuration's checker blocks as [`CheckerSpec`]s for the checker runner, with
//! identities that stay the same across reloads.
//!
//! Identities: a checker is named by its virtual server, its real server, its type and its
//! rank among that real server's checkers of that type (keepalived's `migrate_checkers`
//! matches them the same way). [`Ids`] hands out a number per name and remembers it, so
//! mapping an unchanged configuration again (a reload) gives the same [`CheckerId`]s and
//! [`RealServerId`]s, and the runner carries every checker's state over.
//!
//! What cannot run is reported, not guessed: `BFD_CHECK` (no BFD in rkeepalived), a MISC
//! user that does not exist, an HTTP digest or regex option we cannot honour. The real
//! server then runs without that checker, as keepalived runs it after a configuration
//! error that skipped the checker.

use rustc_hash::FxHashMap as HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use rk_checkers::fsm::Timing;
use rk_checkers::probe::http::RegexSpec;
use rk_checkers::probe::{
    ConnOpts, DnsSpec, DnsType, FileSpec, HttpProtocol, HttpSpec, MiscSpec, PingSpec, ProbeSpec,
    ReplyPattern, SmtpSpec, StatusCodes, TcpSpec, TlsOpts, UdpSpec, UrlSpec,
};
use rk_checkers::{CheckerId, CheckerSpec, RealServerId};
use rk_config::Config;
use rk_config::model::{self, Checker, CheckerKind, Connection, HttpCheck};
use rk_coordinator::RsId;

use super::users;

/// A checker's name, stable across reloads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CheckerKey {
    rs: RsId,
    kind: &'static str,
    rank: usize,
}

/// Numbers for checker and real-server names, kept for the life of the daemon so a reload
/// of an unchanged configuration maps to the same numbers.
#[derive(Debug, Default)]
pub struct Ids {
    checkers: HashMap<CheckerKey, CheckerId>,
    real_servers: HashMap<RsId, RealServerId>,
    next: u64,
}

impl Ids {
    /// No name known yet.
    pub fn new() -> Ids {
        Ids::default()
    }

    /// Room for this many real servers and checkers in all (those already named count).
    fn reserve(&mut self, real_servers: usize, checkers: usize) {
        self.real_servers
            .reserve(real_servers.saturating_sub(self.real_servers.len()));
        self.checkers
            .reserve(checkers.saturating_sub(self.checkers.len()));
    }

    fn checker(&mut self, key: CheckerKey) -> CheckerId {
        let next = &mut self.next;
        *self.checkers.entry(key).or_insert_with(|| {
            *next += 1;
            CheckerId(*next)
        })
    }

    fn real_server(&mut self, rs: &RsId) -> RealServerId {
        if let Some(id) = self.real_servers.get(rs) {
            return *id;
        }
        self.next += 1;
        let id = RealServerId(self.next);
        self.real_servers.insert(rs.clone(), id);
        id
    }

    /// Forget names the latest mapping no longer uses (a reload removed them), so the
    /// tables do not grow with every reload. A name that comes back gets a new number and
    /// starts afresh, as a new checker does in keepalived.
    fn retain(&mut self, mapping: &Mapping) {
        self.checkers
            .retain(|_, id| mapping.checkers.contains_key(id));
        self.real_servers
            .retain(|_, id| mapping.real_servers.contains_key(id));
    }
}

/// One configured real server, as the daemon tracks it.
#[derive(Clone, Debug)]
pub struct RsEntry {
    /// The coordinator's identity.
    pub id: RsId,
    /// Index of its virtual server in `Config::virtual_servers`.
    pub vs: usize,
    /// Index in that virtual server's `real_servers`.
    pub rs: usize,
    /// Its checkers that run (in configuration order).
    pub checkers: Vec<CheckerId>,
}

/// One checker that runs.
#[derive(Clone, Debug)]
pub struct CheckerEntry {
    /// Its real server.
    pub rs: RealServerId,
    /// keepalived's type name (`TCP_CHECK`, ...).
    pub kind: &'static str,
    /// `alpha`: starts down.
    pub alpha: bool,
    /// Where it connects (or what it runs), for logs: `127.0.0.1:80`, `/bin/check`.
    pub target: String,
    /// `log_all_failures` (or the global `checker_log_all_failures`).
    pub log_all_failures: bool,
}

/// The result of mapping a configuration.
#[derive(Debug, Default)]
pub struct Mapping {
    /// What the runner runs.
    pub specs: Vec<CheckerSpec>,
    /// Every configured real server (with or without checkers).
    pub real_servers: HashMap<RealServerId, RsEntry>,
    /// Every checker in `specs`.
    pub checkers: HashMap<CheckerId, CheckerEntry>,
    /// Real servers by identity.
    pub by_rs: HashMap<RsId, RealServerId>,
    /// Checkers that cannot run, one line each (logged at start).
    pub problems: Vec<String>,
}

/// Maps every checker of `cfg`, naming them through `ids`.
pub fn map(cfg: &Config, ids: &mut Ids) -> Mapping {
    // Sized up front: a reload at 2,300 × 16 maps 36,800 checkers, and the four tables
    // and the vector need not grow (and rehash) step by step.
    let (n_rs, n_checkers) = cfg.virtual_servers.iter().fold((0, 0), |(r, c), vs| {
        (
            r + vs.real_servers.len(),
            c + vs
                .real_servers
                .iter()
                .map(|rs| rs.checkers.len())
                .sum::<usize>(),
        )
    });
    let mut m = Mapping {
        specs: Vec::with_capacity(n_checkers),
        real_servers: HashMap::with_capacity_and_hasher(n_rs, Default::default()),
        checkers: HashMap::with_capacity_and_hasher(n_checkers, Default::default()),
        by_rs: HashMap::with_capacity_and_hasher(n_rs, Default::default()),
        problems: Vec::new(),
    };
    ids.reserve(n_rs, n_checkers);
    let ctx = Ctx::new(cfg);
    // Checkers of one type seen so far on the current real server (most have one or two
    // checkers: a short list, not a table per real server).
    let mut ranks: Vec<(&'static str, usize)> = Vec::new();
    for (vi, vs) in cfg.virtual_servers.iter().enumerate() {
        for (ri, rs) in vs.real_servers.iter().enumerate() {
            let id = RsId::of(vs, rs);
            let rs_id = ids.real_server(&id);
            let mut entry = RsEntry {
                id: id.clone(),
                vs: vi,
                rs: ri,
                checkers: Vec::with_capacity(rs.checkers.len()),
            };
            ranks.clear();
            for c in &rs.checkers {
                let kind = c.kind.keyword();
                let rank = match ranks.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, n)) => {
                        *n += 1;
                        *n
                    }
                    None => {
                        ranks.push((kind, 0));
                        0
                    }
                };
                let key = CheckerKey {
                    rs: id.clone(),
                    kind,
                    rank,
                };
                let probe = match ctx.probe(c) {
                    Ok(p) => p,
                    Err(why) => {
                        m.problems.push(format!(
                            "{kind} of real server {id} cannot run ({why}); the real server runs without it"
                        ));
                        continue;
                    }
                };
                let checker = ids.checker(key);
                m.checkers.insert(
                    checker,
                    CheckerEntry {
                        rs: rs_id,
                        kind,
                        alpha: c.timing.alpha,
                        target: probe.target(),
                        log_all_failures: c.log_all_failures || cfg.global.checker_log_all_failures,
                    },
                );
                m.specs.push(CheckerSpec {
                    id: checker,
                    real_server: rs_id,
                    timing: timing(c),
                    probe,
                });
                entry.checkers.push(checker);
            }
            m.by_rs.insert(id, rs_id);
            m.real_servers.insert(rs_id, entry);
        }
    }
    ids.retain(&m);
    m
}

fn timing(c: &Checker) -> Timing {
    let t = &c.timing;
    Timing {
        delay_loop: t.delay_loop,
        delay_before_retry: t.delay_before_retry,
        retry: t.retry,
        warmup: t.warmup,
        alpha: t.alpha,
    }
}

/// What the probes need from outside their checker block.
struct Ctx<'a> {
    cfg: &'a Config,
}

impl<'a> Ctx<'a> {
    fn new(cfg: &'a Config) -> Self {
        Ctx { cfg }
    }

    fn probe(&self, c: &Checker) -> Result<ProbeSpec, String> {
        let conn = || {
            c.connection
                .as_ref()
                .map(|k| conn_opts(k, c))
                .ok_or_else(|| "no connection settings".to_string())
        };
        Ok(match &c.kind {
            CheckerKind::TcpCheck => ProbeSpec::Tcp(TcpSpec { conn: conn()? }),
            CheckerKind::HttpGet(h) => ProbeSpec::Http(self.http(h, conn()?, false)?),
            CheckerKind::SslGet(h) => ProbeSpec::Http(self.http(h, conn()?, true)?),
            CheckerKind::DnsCheck { query_type, name } => ProbeSpec::Dns(DnsSpec {
                conn: conn()?,
                qtype: query_type.parse::<DnsType>()?,
                name: name.clone(),
                require_answer: false,
            }),
            CheckerKind::MiscCheck {
                script,
                timeout,
                dynamic,
                user,
            } => {
                // The checker's `user`, else the script's own, else `script_user`, else
                // keepalived's `keepalived_script` user when it exists.
                let run_as = match user {
                    Some(u) => Some(users::resolve(&u.user, u.group.as_deref())?),
                    None => users::for_script(script, &self.cfg.global)?,
                };
                ProbeSpec::Misc(MiscSpec {
                    argv: script.argv.clone(),
                    timeout: *timeout,
                    dynamic: *dynamic,
                    user: run_as,
                    security: self.cfg.global.enable_script_security,
                })
            }
            CheckerKind::SmtpCheck { helo_name } => ProbeSpec::Smtp(SmtpSpec {
                conn: conn()?,
                helo_name: helo_name.clone(),
            }),
            CheckerKind::UdpCheck {
                payload,
                require_reply,
                min_reply_length,
                max_reply_length,
            } => ProbeSpec::Udp(UdpSpec {
                conn: conn()?,
                payload: payload.clone(),
                require_reply: require_reply.is_some(),
                // The configuration's mask marks the bits that matter; the probe's marks
                // the wildcard bits.
                reply: require_reply
                    .as_ref()
                    .and_then(|p| p.as_ref())
                    .map(|p| ReplyPattern {
                        data: p.bytes.clone(),
                        mask: p.mask.iter().map(|m| !m).collect(),
                    }),
                min_reply_len: u16::try_from(*min_reply_length).unwrap_or(u16::MAX),
                max_reply_len: u16::try_from(*max_reply_length).unwrap_or(u16::MAX),
            }),
            CheckerKind::PingCheck => ProbeSpec::Ping(PingSpec { conn: conn()? }),
            CheckerKind::FileCheck {
                track_file,
                weight,
                reverse,
                dynamic: _,
            } => {
                let tf = self
                    .cfg
                    .track_files
                    .iter()
                    .find(|f| &f.name == track_file)
                    .ok_or_else(|| format!("track_file {track_file} is not defined"))?;
                ProbeSpec::File(FileSpec {
                    path: PathBuf::from(&tf.file),
                    weight: i32::try_from(*weight).map_err(|_| format!("weight {weight}"))?,
                    reverse: *reverse,
                })
            }
            CheckerKind::BfdCheck { .. } => {
                return Err("BFD is not supported by rkeepalived".into());
            }
        })
    }

    fn http(&self, h: &HttpCheck, conn: ConnOpts, tls: bool) -> Result<HttpSpec, String> {
        let tls = tls.then(|| TlsOpts {
            enable_sni: h.enable_sni,
            sni_name: h.sni_name.clone(),
            verify_cert: h.verify_cert,
            ca_file: self
                .cfg
                .ssl
                .as_ref()
                .and_then(|s| s.ca.as_ref())
                .map(PathBuf::from),
        });
        let urls = h.urls.iter().map(url).collect::<Result<Vec<_>, _>>()?;
        Ok(HttpSpec {
            conn,
            tls,
            protocol: match h.http_protocol {
                model::HttpProtocol::Http10 => HttpProtocol::V10,
                model::HttpProtocol::Http10Close => HttpProtocol::V10Close,
                model::HttpProtocol::Http11 => HttpProtocol::V11,
            },
            virtualhost: h.virtualhost.clone(),
            urls,
            fast_recovery: h.fast_recovery,
        })
    }
}

fn conn_opts(k: &Connection, c: &Checker) -> ConnOpts {
    ConnOpts {
        dst: SocketAddr::new(k.addr, k.port),
        bindto: k.bindto,
        bind_port: k.bind_port,
        bind_if: k.bind_if.clone(),
        fwmark: k.fwmark,
        timeout: c.timing.connect_timeout,
    }
}

fn url(u: &model::Url) -> Result<UrlSpec, String> {
    let digest = match &u.digest {
        None => None,
        Some(hex) => {
            Some(md5_hex(hex).ok_or_else(|| format!("digest {hex} is not 32 hex digits"))?)
        }
    };
    let regex = match &u.regex {
        None => None,
        Some(p) => Some(RegexSpec {
            pattern: format!("{}{p}", regex_flags(&u.regex_options)?),
            no_match: u.regex_no_match,
            min_offset: u.regex_min_offset.unwrap_or(0) as usize,
            max_offset: u.regex_max_offset.unwrap_or(0) as usize,
        }),
    };
    Ok(UrlSpec {
        path: u.path.clone(),
        digest,
        status_codes: if u.status_codes.is_empty() {
            StatusCodes::default()
        } else {
            StatusCodes(u.status_codes.clone())
        },
        virtualhost: u.virtualhost.clone(),
        regex,
    })
}

/// keepalived's PCRE2 `regex_options` as inline flags of Rust's regex syntax. Options
/// with no equivalent are refused rather than ignored: the check would mean something
/// else.
fn regex_flags(opts: &[String]) -> Result<String, String> {
    let mut flags = String::new();
    for o in opts {
        let f = match o.as_str() {
            "caseless" => 'i',
            "multiline" => 'm',
            "dotall" => 's',
            "extended" => 'x',
            "ungreedy" => 'U',
            other => return Err(format!("regex option {other} is not supported")),
        };
        if !flags.contains(f) {
            flags.push(f);
        }
    }
    Ok(if flags.is_empty() {
        flags
    } else {
        format!("(?{flags})")
    })
}

fn md5_hex(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
