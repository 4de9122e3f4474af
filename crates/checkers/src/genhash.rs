//! `rkeepalived genhash`: keepalived's `genhash` (`check_genhash.c`), same options, same
//! output, same exit codes, computing the digest with the same HTTP client the checker uses
//! (so a digest printed here is the digest `HTTP_GET` / `SSL_GET` will compare).
//!
//! The binary calls [`main_with_args`] with `argv` (its first element is the name shown in
//! the usage text, e.g. `"genhash"` or `"rkeepalived genhash"`).

use std::ffi::OsString;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::probe::http::wire::Observer;
use crate::probe::http::{HttpProtocol, HttpSpec, PreparedHttp, TlsOpts, UrlSpec, hex};
use crate::probe::{ConnOpts, ProbeError};

const DELIM_BEGIN: &str = "-----------------------[";
const DELIM_END: &str = "]-----------------------\n";

/// genhash's default timeout: keepalived leaves `connection_to` at `UINT_MAX` microseconds.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_micros(u32::MAX as u64);

/// Parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-s`
    pub server: IpAddr,
    /// `-p`
    pub port: u16,
    /// `-u` (the last one given)
    pub url: String,
    /// `-S`
    pub ssl: bool,
    /// `-I`
    pub sni: bool,
    /// `-V`
    pub virtualhost: Option<String>,
    /// `-v`
    pub verbose: bool,
    /// `-m`
    pub fwmark: Option<u32>,
    /// `-P`
    pub protocol: HttpProtocol,
    /// `-t`
    pub timeout: Duration,
}

fn usage(prog: &str, err: &mut dyn Write) {
    let _ = write!(
        err,
        "Usage: {prog} COMMAND [OPTIONS]\n\
         Commands:\n   -s server-address -p port -u url\n   -S -s server-address -p port -u url\n   -h\n\n\
         Options:\n\
         Either long or short options are allowed.\n\
         \x20  --use-ssl         -S       Use SSL connection to remote server.\n\
         \x20  --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).\n\
         \x20  --server          -s       Use the specified remote server address.\n\
         \x20  --port            -p       Use the specified remote server port.\n\
         \x20  --url             -u       Use the specified remote server url.\n\
         \x20  --use-virtualhost -V       Use the specified virtualhost in GET query.\n\
         \x20  --verbose         -v       Use verbose mode output.\n\
         \x20  --help            -h       Display this short inlined help screen.\n\
         \x20  --fwmark          -m       Use the specified FW mark.\n\
         \x20  --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.\n\
         \x20                               1.0c means 1.0 with 'Connection: close'\n\
         \x20  --timeout         -t       Timeout in seconds\n"
    );
}

const LONG: &[(&str, char, bool)] = &[
    ("help", 'h', false),
    ("verbose", 'v', false),
    ("use-ssl", 'S', false),
    ("use-sni", 'I', false),
    ("server", 's', true),
    ("use-virtualhost", 'V', true),
    ("port", 'p', true),
    ("url", 'u', true),
    ("fwmark", 'm', true),
    ("protocol", 'P', true),
    ("timeout", 't', true),
];

fn takes_arg(c: char) -> Option<bool> {
    LONG.iter().find(|l| l.1 == c).map(|l| l.2)
}

/// Why parsing stopped: print the usage (after any message already written) and exit 1.
#[derive(Debug)]
struct Usage;

/// `strtoul` after leading blanks, rejecting signs and trailing junk, as genhash's `-m`/`-t`.
fn unsigned(s: &str) -> Option<u64> {
    let t = s.trim_start_matches([' ', '\t']);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn apply(opt: char, arg: Option<&str>, o: &mut Partial, err: &mut dyn Write) -> Result<(), Usage> {
    let arg = arg.unwrap_or_default();
    match opt {
        'h' => o.bad = true,
        'v' => o.verbose = true,
        'S' => o.ssl = true,
        'I' => o.sni = true,
        's' => match arg.parse::<IpAddr>() {
            Ok(ip) => o.server = Some(ip),
            Err(_) => {
                let _ = writeln!(err, "server should be an IP, not {arg}");
                return Err(Usage);
            }
        },
        'V' => o.virtualhost = Some(arg.to_owned()),
        'p' => match arg.parse::<i64>() {
            Ok(p @ 1..=65535) => o.port = Some(p as u16),
            _ => {
                let _ = writeln!(err, "invalid port number '{arg}'");
                return Err(Usage);
            }
        },
        'u' => o.url = Some(arg.to_owned()),
        'm' => match unsigned(arg).and_then(|v| u32::try_from(v).ok()) {
            Some(m) => o.fwmark = Some(m),
            None => {
                let _ = writeln!(err, "invalid fwmark '{arg}'");
                return Err(Usage);
            }
        },
        'P' => match arg.parse::<HttpProtocol>() {
            Ok(p) => o.protocol = p,
            Err(_) => {
                let _ = writeln!(err, "invalid HTTP protocol version '{arg}'");
                return Err(Usage);
            }
        },
        't' => match unsigned(arg) {
            Some(t) => o.timeout = Some(Duration::from_secs(t)),
            None => {
                let _ = writeln!(err, "invalid timeout '{arg}'");
                return Err(Usage);
            }
        },
        _ => o.bad = true,
    }
    Ok(())
}

#[derive(Default)]
struct Partial {
    server: Option<IpAddr>,
    port: Option<u16>,
    url: Option<String>,
    ssl: bool,
    sni: bool,
    virtualhost: Option<String>,
    verbose: bool,
    fwmark: Option<u32>,
    protocol: HttpProtocol,
    timeout: Option<Duration>,
    bad: bool,
}

/// Parses genhash's command line like `getopt_long` with optstring `":hvSs:V:p:u:m:P:t:I"`:
/// clustered short options, attached or separate arguments, `--long=value` or
/// `--long value`, unambiguous long-option prefixes, operands permuted to the end.
fn parse(args: &[String], err: &mut dyn Write) -> Result<Options, Usage> {
    if args.len() <= 2 {
        return Err(Usage);
    }
    let mut o = Partial::default();
    let mut operands = vec![];
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let exact = LONG.iter().find(|l| l.0 == name);
            let prefixed: Vec<_> = LONG.iter().filter(|l| l.0.starts_with(name)).collect();
            let Some(&(lname, c, has_arg)) = exact.or(if prefixed.len() == 1 {
                prefixed.first().copied()
            } else {
                None
            }) else {
                let _ = writeln!(err, "Unknown option {a}");
                o.bad = true;
                continue;
            };
            let value = match (has_arg, inline) {
                (false, _) => None,
                (true, Some(v)) => Some(v.to_owned()),
                (true, None) if i < args.len() => {
                    i += 1;
                    Some(args[i - 1].clone())
                }
                (true, None) => {
                    let _ = writeln!(err, "Missing parameter for option --{lname}");
                    o.bad = true;
                    continue;
                }
            };
            apply(c, value.as_deref(), &mut o, err)?;
            continue;
        }
        if a.len() < 2 || !a.starts_with('-') {
            operands.push(a.clone());
            continue;
        }
        let chars: Vec<char> = a[1..].chars().collect();
        let mut k = 0;
        while k < chars.len() {
            let c = chars[k];
            k += 1;
            match takes_arg(c) {
                None => {
                    let _ = writeln!(err, "Unknown option -{c}");
                    o.bad = true;
                }
                Some(false) => apply(c, None, &mut o, err)?,
                Some(true) => {
                    let value = if k < chars.len() {
                        let v: String = chars[k..].iter().collect();
                        k = chars.len();
                        v
                    } else if i < args.len() {
                        i += 1;
                        args[i - 1].clone()
                    } else {
                        let _ = writeln!(err, "Missing parameter for option -{c}");
                        o.bad = true;
                        continue;
                    };
                    apply(c, Some(&value), &mut o, err)?;
                }
            }
        }
    }
    if o.bad {
        return Err(Usage);
    }
    if !operands.is_empty() {
        let _ = writeln!(err, "Unexpected argument(s): {}", operands.join(" "));
        return Err(Usage);
    }
    match (o.server, o.port, o.url) {
        (Some(server), Some(port), Some(url)) => Ok(Options {
            server,
            port,
            url,
            ssl: o.ssl,
            sni: o.sni,
            virtualhost: o.virtualhost,
            verbose: o.verbose,
            fwmark: o.fwmark,
            protocol: o.protocol,
            timeout: o.timeout.unwrap_or(DEFAULT_TIMEOUT),
        }),
        _ => Err(Usage),
    }
}

/// keepalived's `dump_buffer`: offset, 16 hex bytes split by " -", then printable ASCII.
pub fn dump_buffer(buf: &[u8], out: &mut dyn Write) {
    let total = buf.len().div_ceil(16) * 16;
    let mut line = String::new();
    for i in 0..total {
        if i % 16 == 0 {
            line.push_str(&format!("{:04} ", i & 0xffff));
        }
        match buf.get(i) {
            Some(b) => line.push_str(&format!(" {b:02x}")),
            None => line.push_str("   "),
        }
        if (i + 1) % 8 == 0 {
            if (i + 1) % 16 != 0 {
                line.push_str(" -");
            } else {
                line.push_str("   ");
                for j in i - 15..=i {
                    line.push(match buf.get(j) {
                        Some(&b) if (0x20..=0x7e).contains(&b) => b as char,
                        Some(_) => '.',
                        None => ' ',
                    });
                }
                line.push('\n');
            }
        }
    }
    let _ = out.write_all(line.as_bytes());
}

/// genhash's `-v` output, produced as the response is read.
struct Verbose<'a> {
    out: &'a mut (dyn Write + Send),
}

impl Observer for Verbose<'_> {
    fn header_pending(&mut self) {
        let _ = write!(
            self.out,
            "{DELIM_BEGIN}    HTTP Header Buffer    {DELIM_END}"
        );
    }
    fn header(&mut self, raw: &[u8]) {
        dump_buffer(raw, self.out);
        let _ = write!(
            self.out,
            "{DELIM_BEGIN} HTTP Header Ascii Buffer {DELIM_END}"
        );
        let _ = self.out.write_all(raw);
        let _ = self.out.write_all(b"\n");
    }
    fn body_start(&mut self) {
        let _ = write!(
            self.out,
            "{DELIM_BEGIN}        HTML Buffer        {DELIM_END}"
        );
    }
    fn body_chunk(&mut self, hashed: &[u8]) {
        dump_buffer(hashed, self.out);
    }
    fn digest(&mut self, md5: &[u8; 16]) {
        let _ = write!(
            self.out,
            "\n{DELIM_BEGIN}    HTML hash resulting    {DELIM_END}"
        );
        dump_buffer(md5, self.out);
        let _ = write!(
            self.out,
            "{DELIM_BEGIN} HTML hash final resulting {DELIM_END}"
        );
    }
}

/// keepalived's message for a failed fetch (`timeout_epilog`'s `debug_msg`).
fn failure_message(e: &ProbeError, tls: bool) -> &'static str {
    match e {
        ProbeError::Connect(_) => "Connection failed",
        ProbeError::Timeout {
            stage: "connect" | "TLS handshake",
            ..
        } => "Timeout connecting",
        ProbeError::Tls(_) => "SSL handshake/communication error connecting to",
        ProbeError::Timeout { stage: "send", .. } | ProbeError::Io { stage: "send", .. } => {
            "Cannot send get request to"
        }
        ProbeError::Timeout {
            stage: "response", ..
        } => "Timeout WEB read",
        ProbeError::Timeout { .. } if tls => "Timeout SSL read",
        ProbeError::Timeout { .. } => "Timeout HTTP read",
        ProbeError::Setup(_) => "Error connecting",
        _ => "Read error with",
    }
}

/// Runs genhash with `args` (`args[0]` is the program name), writing to `out` and `err`
/// as keepalived's genhash writes to stdout and stderr. Returns the exit code.
pub async fn run(
    args: &[String],
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> u8 {
    let prog = args.first().map(String::as_str).unwrap_or("genhash");
    let opts = match parse(args, err) {
        Ok(o) => o,
        Err(Usage) => {
            usage(prog, err);
            return 1;
        }
    };
    let mut conn =
        ConnOpts::new(SocketAddr::new(opts.server, opts.port)).with_timeout(opts.timeout);
    conn.fwmark = opts.fwmark;
    let spec = HttpSpec {
        conn,
        tls: opts.ssl.then(|| TlsOpts {
            enable_sni: opts.sni,
            ..TlsOpts::default()
        }),
        protocol: opts.protocol,
        virtualhost: opts.virtualhost.clone(),
        urls: vec![UrlSpec::new(opts.url.clone())],
        fast_recovery: false,
    };
    let prepared = match PreparedHttp::new(&spec) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "Cannot initialize SSL context.\n{e}");
            return 1;
        }
    };
    let started = Instant::now();
    let fetched = if opts.verbose {
        prepared
            .fetch(0, true, &mut Verbose { out: &mut *out })
            .await
    } else {
        prepared.fetch(0, true, &mut ()).await
    };
    match fetched {
        Ok(f) => match f.response.and_then(|r| r.digest) {
            Some(d) => {
                let _ = writeln!(out, "{}", hex(&d));
            }
            None => {
                let _ = writeln!(err, "no data received from remote webserver");
            }
        },
        Err(e) => {
            let _ = writeln!(out, "{}", failure_message(&e, opts.ssl));
        }
    }
    if opts.verbose {
        let _ = write!(
            out,
            "\nGlobal response time for [{}] = {} usecs\n",
            opts.url,
            started.elapsed().as_micros()
        );
    }
    let _ = out.flush();
    0
}

/// Entry point for the binary: parses `args`, runs on a current-thread runtime, writes to
/// stdout/stderr. `args[0]` is the name shown in the usage text.
pub fn main_with_args<I, S>(args: I) -> ExitCode
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.into().to_string_lossy().into_owned())
        .collect();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("genhash: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    ExitCode::from(rt.block_on(run(&args, &mut out, &mut err)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> (Result<Options, Usage>, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut err = vec![];
        let r = parse(&args, &mut err);
        (r, String::from_utf8(err).unwrap())
    }

    #[test]
    fn getopt_long_forms() {
        let (o, _) = p(&["genhash", "-p", "80", "-s", "127.0.0.1", "-u", "/x"]);
        let o = o.unwrap();
        assert_eq!(
            (o.port, o.url.as_str(), o.timeout),
            (80, "/x", DEFAULT_TIMEOUT)
        );
        let (o, _) = p(&[
            "genhash",
            "--serv",
            "::1",
            "--port=443",
            "-vSI",
            "-V",
            "h.example",
            "-u/y",
            "-P1.1",
            "-t",
            "3",
        ]);
        let o = o.unwrap();
        assert!(o.verbose && o.ssl && o.sni);
        assert_eq!(
            (o.server, o.virtualhost.as_deref(), o.protocol),
            ("::1".parse().unwrap(), Some("h.example"), HttpProtocol::V11)
        );
        assert_eq!(o.timeout, Duration::from_secs(3));
    }

    #[test]
    fn errors_match_genhash_messages() {
        assert!(p(&["genhash", "-s"]).0.is_err(), "argc <= 2: usage only");
        assert_eq!(
            p(&["genhash", "-s", "localhost", "-p", "1", "-u", "/"]).1,
            "server should be an IP, not localhost\n"
        );
        assert_eq!(
            p(&["genhash", "-s", "127.0.0.1", "-p", "0", "-u", "/"]).1,
            "invalid port number '0'\n"
        );
        assert_eq!(
            p(&["genhash", "-x", "-s", "127.0.0.1", "-p", "1", "-u", "/"]).1,
            "Unknown option -x\n"
        );
        assert_eq!(
            p(&["genhash", "-s", "127.0.0.1", "-p", "1", "-u", "/", "a", "b"]).1,
            "Unexpected argument(s): a b\n"
        );
        assert_eq!(
            p(&["genhash", "-s", "127.0.0.1", "-p", "1", "-u"]).1,
            "Missing parameter for option -u\n"
        );
        assert_eq!(
            p(&[
                "genhash",
                "-s",
                "127.0.0.1",
                "-p",
                "1",
                "-u",
                "/",
                "-P",
                "2"
            ])
            .1,
            "invalid HTTP protocol version '2'\n"
        );
        assert!(
            p(&["genhash", "-s", "127.0.0.1", "-p", "1"]).0.is_err(),
            "url is mandatory"
        );
    }

    #[test]
    fn dump_buffer_matches_keepalived_layout() {
        let mut out = vec![];
        dump_buffer(b"hello world\n", &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0000  68 65 6c 6c 6f 20 77 6f - 72 6c 64 0a               hello world.    \n"
        );
    }
}
