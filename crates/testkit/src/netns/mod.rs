//! Network-namespace labs on the host: "hosts" made of network namespaces, joined by veth
//! pairs to a bridge that lives in a namespace of its own, so nothing is created in the
//! host's namespace and nothing can reach the host's networks.
//!
//! ```no_run
//! use rk_testkit::netns::Lab;
//! # fn main() -> Result<(), rk_testkit::netns::NetnsError> {
//! let mut lab = Lab::new("demo")?;            // sweeps leftovers of dead test processes
//! let lan = lab.lan("lan")?;                   // a namespace holding bridge br0
//! let a = lab.host("a")?;                      // an empty namespace, lo up
//! lab.attach(&lan, &a, "eth0", &["10.9.0.1/24"])?;
//! let out = a.cmd(&["ip", "-o", "addr", "show", "dev", "eth0"])?;
//! assert!(out.contains("10.9.0.1/24"));
//! let p = lab.spawn(&a, "sleeper", &["sleep", "60"])?; // killed when the lab drops
//! # drop(p); Ok(()) }
//! ```
//!
//! Everything carries the prefix `rkt-<pid>-<n>-`: [`Lab`]'s `Drop` kills every process it
//! started and every process left in its namespaces, then deletes the namespaces (and with
//! them the veths and the bridge) — also when the test panics. A lab that could not clean
//! up (the test process was killed) is swept by the next [`Lab::new`], which deletes the
//! `rkt-` namespaces whose creating process is gone.

pub mod adverts;
mod proc;
mod query;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use proc::Proc;
pub use query::IfAddr;

/// Prefix of every namespace a lab creates.
pub const PREFIX: &str = "rkt-";

/// Environment variable that skips namespace tests (developer machines without root).
/// CI never sets it, so there the tests run or fail.
pub const SKIP_ENV: &str = "RK_SKIP_NETNS_TESTS";

/// Whether namespace tests were asked to be skipped (prints why when they are).
pub fn skip_requested() -> bool {
    let skip = std::env::var_os(SKIP_ENV).is_some_and(|v| v == "1");
    if skip {
        eprintln!("{SKIP_ENV}=1: skipping the network namespace test");
    }
    skip
}

/// Why a lab could not be built or queried.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// A command failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Exit status and stderr.
        detail: String,
    },
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

static LAB_SEQ: AtomicU32 = AtomicU32::new(0);

/// A network namespace of a lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// The namespace's name (as `ip netns` knows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// Runs `argv` in the namespace (`ip netns exec`) and returns its stdout; a non-zero
    /// exit is an error carrying stderr.
    pub fn cmd(&self, argv: &[&str]) -> Result<String, NetnsError> {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(argv);
        run(&mut c)
    }

    /// Like [`Netns::cmd`] but returns the exit success and the combined output instead of
    /// failing.
    pub fn try_cmd(&self, argv: &[&str]) -> (bool, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(argv)
            .output();
        match out {
            Ok(o) => (
                o.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ),
            ),
            Err(e) => (false, e.to_string()),
        }
    }

    /// Runs `f` on a thread that has entered this namespace: sockets it opens live there.
    /// The calling thread's namespace does not change.
    pub fn run_in<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
        let file = fs::File::open(self.path()).map_err(|source| NetnsError::Io {
            what: format!("open {}", self.path().display()),
            source,
        })?;
        std::thread::scope(|s| {
            s.spawn(move || {
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                    NetnsError::Io {
                        what: "setns".into(),
                        source: e.into(),
                    }
                })?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

/// A host's connection to a LAN: the bridge port of its veth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    lan: String,
    name: String,
    mac: String,
}

impl Port {
    /// The MAC of the host side of the veth.
    pub fn mac(&self) -> &str {
        &self.mac
    }

    /// Cuts (`false`) or restores the cable: the bridge side goes down or up, so the host's
    /// interface loses or regains carrier.
    pub fn set_up(&self, up: bool) -> Result<(), NetnsError> {
        run(Command::new("ip").args([
            "-n",
            &self.lan,
            "link",
            "set",
            &self.name,
            if up { "up" } else { "down" },
        ]))?;
        Ok(())
    }
}

/// A set of namespaces, veths and processes, all removed on drop.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    namespaces: Vec<Netns>,
    procs: Vec<u32>,
    veth_seq: u32,
    dir: PathBuf,
}

impl Lab {
    /// A new empty lab; `tag` goes into the names to tell labs apart in `ip netns`.
    /// Sweeps namespaces left behind by test processes that no longer exist.
    pub fn new(tag: &str) -> Result<Lab, NetnsError> {
        sweep();
        let pid = std::process::id();
        let seq = LAB_SEQ.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("{PREFIX}{pid}-{seq}-{tag}-");
        let dir = std::env::temp_dir().join(format!("{}lab", prefix));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|source| NetnsError::Io {
            what: format!("create {}", dir.display()),
            source,
        })?;
        Ok(Lab {
            prefix,
            namespaces: Vec::new(),
            procs: Vec::new(),
            veth_seq: 0,
            dir,
        })
    }

    /// A scratch directory for this lab (config files, logs), removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new namespace with `lo` up.
    pub fn host(&mut self, name: &str) -> Result<Netns, NetnsError> {
        let ns = Netns {
            name: format!("{}{name}", self.prefix),
        };
        run(Command::new("ip").args(["netns", "add", &ns.name]))?;
        self.namespaces.push(ns.clone());
        run(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]))?;
        Ok(ns)
    }

    /// A namespace holding a bridge `br0` (up, no STP, no forwarding delay, no multicast
    /// snooping so multicast floods like on a plain hub): the LAN hosts attach to.
    pub fn lan(&mut self, name: &str) -> Result<Netns, NetnsError> {
        let ns = self.host(name)?;
        let n = ns.name.as_str();
        run(Command::new("ip").args([
            "-n",
            n,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
            "mcast_snooping",
            "0",
        ]))?;
        run(Command::new("ip").args(["-n", n, "link", "set", "br0", "up"]))?;
        Ok(ns)
    }

    /// Connects `host` to `lan`'s bridge with a veth named `ifname` on the host side,
    /// with `addrs` (CIDR) on it, and brings it up.
    pub fn attach(
        &mut self,
        lan: &Netns,
        host: &Netns,
        ifname: &str,
        addrs: &[&str],
    ) -> Result<Port, NetnsError> {
        self.veth_seq += 1;
        let port = format!("p{}", self.veth_seq);
        let l = lan.name.as_str();
        run(Command::new("ip").args([
            "-n", l, "link", "add", &port, "type", "veth", "peer", "name", ifname, "netns",
            &host.name,
        ]))?;
        run(Command::new("ip").args(["-n", l, "link", "set", &port, "master", "br0", "up"]))?;
        // Fast, deterministic IPv6: no DAD delay on the test LAN.
        let _ = host.cmd(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{ifname}.accept_dad=0"),
        ]);
        for a in addrs {
            run(Command::new("ip").args(["-n", &host.name, "addr", "add", a, "dev", ifname]))?;
        }
        run(Command::new("ip").args(["-n", &host.name, "link", "set", ifname, "up"]))?;
        Ok(Port {
            lan: lan.name.clone(),
            name: port,
            mac: host.mac(ifname)?,
        })
    }

    /// Starts `argv` in `ns` with stdout and stderr going to a log file named after
    /// `label`; the process is killed (SIGKILL) when the lab drops if still running.
    pub fn spawn(&mut self, ns: &Netns, label: &str, argv: &[&str]) -> Result<Proc, NetnsError> {
        let log = self.dir.join(format!("{label}.log"));
        let p = Proc::spawn(ns, label, argv, &log)?;
        self.procs.push(p.pid());
        Ok(p)
    }

    /// Writes `text` to a file of the lab's directory and returns its path.
    pub fn write_file(&self, name: &str, text: &str) -> Result<PathBuf, NetnsError> {
        let p = self.dir.join(name);
        fs::write(&p, text).map_err(|source| NetnsError::Io {
            what: format!("write {}", p.display()),
            source,
        })?;
        Ok(p)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for pid in &self.procs {
            kill(*pid);
        }
        for ns in self.namespaces.iter().rev() {
            remove_namespace(&ns.name);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(pid: u32) {
    if let Ok(p) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Kills what still runs in the namespace, then deletes it.
fn remove_namespace(name: &str) {
    if let Ok(o) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
            if let Ok(p) = pid.parse() {
                kill(p);
            }
        }
    }
    // A process that just got SIGKILL may hold the namespace for a moment; `ip netns del`
    // only unmounts the name, the kernel frees the namespace with its last user.
    let _ = Command::new("ip").args(["netns", "del", name]).output();
}

/// Deletes `rkt-<pid>-…` namespaces and scratch directories whose creating process is
/// gone.
fn sweep() {
    if let Ok(entries) = fs::read_dir(std::env::temp_dir()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix(PREFIX)
                .and_then(|r| r.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
                && name.ends_with("-lab")
                && !Path::new(&format!("/proc/{pid}")).exists()
            {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    let Ok(entries) = fs::read_dir("/run/netns") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            remove_namespace(&name);
        }
    }
}

/// Runs a command; stdout, or an error with its stderr.
pub(crate) fn run(cmd: &mut Command) -> Result<String, NetnsError> {
    crate::command::stdout_of(cmd).map_err(|f| NetnsError::Command {
        command: f.command,
        detail: f.detail,
    })
}
