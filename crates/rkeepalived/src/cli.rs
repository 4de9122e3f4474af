//! keepalived's command line, flag for flag, plus our own options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// rkeepalived: keepalived reimplemented — VRRP, IPVS and health checks.
#[derive(Debug, Parser)]
#[command(name = "rkeepalived", version, disable_version_flag = true, about, long_about = None)]
pub struct Cli {
    /// Use the specified configuration file.
    #[arg(short = 'f', long = "use-file", value_name = "FILE", default_value = rk_config::DEFAULT_CONFIG_FILE)]
    pub use_file: PathBuf,

    /// Only run the VRRP subsystem.
    #[arg(short = 'P', long = "vrrp")]
    pub vrrp: bool,

    /// Only run the health-checker (IPVS) subsystem.
    #[arg(short = 'C', long = "check")]
    pub check: bool,

    /// Don't run the BFD subsystem.
    #[arg(short = 'B', long = "no_bfd")]
    pub no_bfd: bool,

    /// Run every subsystem, even those with no configuration.
    #[arg(long = "all")]
    pub all: bool,

    /// Log messages to the console (stderr).
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,

    /// Detailed log messages.
    #[arg(short = 'D', long = "log-detail")]
    pub log_detail: bool,

    /// Syslog facility: 0-7, local0-local7, user or daemon (default).
    #[arg(short = 'S', long = "log-facility", value_name = "FACILITY", value_parser = parse_facility)]
    pub log_facility: Option<String>,

    /// Don't log via syslog.
    #[arg(short = 'G', long = "no-syslog")]
    pub no_syslog: bool,

    /// umask for file creation (numeric).
    #[arg(short = 'u', long = "umask", value_name = "MASK")]
    pub umask: Option<String>,

    /// Remove VIPs on transition from a signal.
    #[arg(short = 'X', long = "release-vips")]
    pub release_vips: bool,

    /// Don't remove VRRP VIPs and routes when stopping.
    #[arg(short = 'V', long = "dont-release-vrrp")]
    pub dont_release_vrrp: bool,

    /// Don't remove the IPVS table when stopping.
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,

    /// Don't respawn child processes.
    #[arg(short = 'R', long = "dont-respawn")]
    pub dont_respawn: bool,

    /// Stay in the foreground.
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,

    /// Dump the configuration (as JSON on stdout with -t).
    #[arg(short = 'd', long = "dump-conf")]
    pub dump_conf: bool,

    /// Pid file of the main process.
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub pid: Option<PathBuf>,

    /// Pid file of the VRRP subsystem.
    #[arg(short = 'r', long = "vrrp_pid", value_name = "FILE")]
    pub vrrp_pid: Option<PathBuf>,

    /// Pid file of the checker subsystem.
    #[arg(short = 'c', long = "checkers_pid", value_name = "FILE")]
    pub checkers_pid: Option<PathBuf>,

    /// Pid file of the BFD subsystem.
    #[arg(short = 'b', long = "bfd_pid", value_name = "FILE")]
    pub bfd_pid: Option<PathBuf>,

    /// Report every address added or removed, as netlink tells it.
    #[arg(short = 'a', long = "address-monitoring")]
    pub address_monitoring: bool,

    /// Run in network namespace NAME.
    #[arg(short = 's', long = "namespace", value_name = "NAME")]
    pub namespace: Option<String>,

    /// Any missing included file is an error (rkeepalived is this strict by default for
    /// files named without wildcards).
    #[arg(short = 'e', long = "all-config")]
    pub all_config: bool,

    /// Config id for '@id' lines (default: host name up to the first dot).
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub config_id: Option<String>,

    /// Enable SNMP (not supported by rkeepalived).
    #[arg(short = 'x', long = "snmp")]
    pub snmp: bool,

    /// SNMP master agent socket (not supported by rkeepalived).
    #[arg(short = 'A', long = "snmp-agent-socket", value_name = "FILE")]
    pub snmp_agent_socket: Option<String>,

    /// Produce a core dump on abnormal termination.
    #[arg(short = 'm', long = "core-dump")]
    pub core_dump: bool,

    /// Also set /proc/sys/kernel/core_pattern.
    #[arg(short = 'M', long = "core-dump-pattern", value_name = "PATTERN", num_args = 0..=1, require_equals = true, default_missing_value = "core")]
    pub core_dump_pattern: Option<String>,

    /// Print the signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR or JSON.
    #[arg(long = "signum", value_name = "SIGFUNC", require_equals = true)]
    pub signum: Option<String>,

    /// Check the configuration and exit: 0 when valid, 3 when refused. Diagnostics go
    /// to stderr, or to LOG_FILE.
    #[arg(short = 't', long = "config-test", value_name = "LOG_FILE", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub config_test: Option<String>,

    /// Unknown keywords are warnings, not errors (for migrating from keepalived).
    #[arg(long = "lenient")]
    pub lenient: bool,

    /// Display the version number.
    #[arg(short = 'v', long = "version")]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Our own tools.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute the MD5 digest of a web page, like keepalived's genhash.
    Genhash(GenhashArgs),
}

/// Arguments of `rkeepalived genhash`, as keepalived's genhash takes them.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct GenhashArgs {
    /// Arguments passed to genhash (-s SERVER -p PORT -u URL [-S] [-I] [-V VHOST] ...).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

fn parse_facility(s: &str) -> Result<String, String> {
    let ok = matches!(s, "user" | "daemon")
        || s.strip_prefix("local")
            .unwrap_or(s)
            .parse::<u8>()
            .is_ok_and(|n| n <= 7);
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("'{s}' is not 0-7, local0-local7, user or daemon"))
    }
}

/// The signal number keepalived uses for a function (`--signum`).
pub fn signum(name: &str) -> Option<i32> {
    Some(match name {
        "STOP" => libc_sig::SIGTERM,
        "RELOAD" => libc_sig::SIGHUP,
        "DATA" => libc_sig::SIGUSR1,
        "STATS" => libc_sig::SIGUSR2,
        "STATS_CLEAR" => libc_sig::sigrtmax() - 1,
        "JSON" => libc_sig::sigrtmin() + 2,
        _ => return None,
    })
}

mod libc_sig {
    pub const SIGHUP: i32 = 1;
    pub const SIGUSR1: i32 = 10;
    pub const SIGUSR2: i32 = 12;
    pub const SIGTERM: i32 = 15;
    /// glibc reserves two real-time signals, so SIGRTMIN is 34 and SIGRTMAX 64 on Linux.
    pub fn sigrtmin() -> i32 {
        34
    }
    pub fn sigrtmax() -> i32 {
        64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_flags_parse() {
        let c = Cli::try_parse_from([
            "rkeepalived",
            "-P",
            "-C",
            "-l",
            "-D",
            "-S",
            "local3",
            "-n",
            "-d",
            "-p",
            "/run/k.pid",
            "-r",
            "/run/v.pid",
            "-c",
            "/run/c.pid",
            "-i",
            "node1",
            "-f",
            "/tmp/k.conf",
            "-t",
        ])
        .unwrap();
        assert!(c.vrrp && c.check && c.log_console && c.log_detail && c.dont_fork && c.dump_conf);
        assert_eq!(c.config_test.as_deref(), Some(""));
        assert_eq!(c.config_id.as_deref(), Some("node1"));
        let c = Cli::try_parse_from(["rkeepalived", "--config-test=/tmp/log", "--use-file", "x"])
            .unwrap();
        assert_eq!(c.config_test.as_deref(), Some("/tmp/log"));
        assert!(Cli::try_parse_from(["rkeepalived", "-S", "local9"]).is_err());
        let c = Cli::try_parse_from(["rkeepalived", "--signum=RELOAD"]).unwrap();
        assert_eq!(signum(c.signum.as_deref().unwrap()), Some(1));
        assert_eq!(signum("STATS_CLEAR"), Some(63));
        assert_eq!(signum("JSON"), Some(36));
    }

    #[test]
    fn genhash_subcommand_takes_genhash_flags() {
        let c = Cli::try_parse_from([
            "rkeepalived",
            "genhash",
            "-s",
            "127.0.0.1",
            "-p",
            "80",
            "-u",
            "/",
        ])
        .unwrap();
        let Some(Command::Genhash(g)) = c.command else {
            panic!()
        };
        assert_eq!(g.args, ["-s", "127.0.0.1", "-p", "80", "-u", "/"]);
    }
}
