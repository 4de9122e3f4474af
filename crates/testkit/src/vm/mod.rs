//! The throw-away qemu VM: Debian's kernel (which has IPVS), a busybox
//! initramfs, our static binaries, one scenario script.

mod cpio;
pub mod host;
mod kernel;
mod static_build;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use kernel::{Kernel, Module};
pub use static_build::{STATIC_TARGET, StaticBins, build_static};

use self::cpio::{Cpio, Entry};
use self::host::{ensure_packages, shared_libs};
use crate::error::{VmError, io_err};

/// Modules for IPVS work: the LAB-FACTS.md set (dependencies are added
/// automatically), every scheduler Debian's 6.1 kernel ships, the SIP
/// persistence engine, and the link types topologies use.
/// `crc32c_generic` comes first: `libcrc32c` only soft-depends on it.
pub const IPVS_MODULES: &[&str] = &[
    "crc32c_generic",
    "ip_vs",
    "ip_vs_rr",
    "ip_vs_wrr",
    "ip_vs_lc",
    "ip_vs_wlc",
    "ip_vs_lblc",
    "ip_vs_lblcr",
    "ip_vs_dh",
    "ip_vs_sh",
    "ip_vs_sed",
    "ip_vs_nq",
    "ip_vs_fo",
    "ip_vs_ovf",
    "ip_vs_mh",
    "ip_vs_pe_sip",
    "veth",
    "bridge",
    "dummy",
    "macvlan",
];

/// The schedulers in [`IPVS_MODULES`], by the name `ipvsadm -s` takes.
pub const IPVS_SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
];

/// Environment variable that skips VM tests (developer laptops without
/// root or apt). CI never sets it, so there the tests run or fail.
pub const SKIP_ENV: &str = "RK_SKIP_VM_TESTS";

/// Whether VM tests were asked to be skipped (prints why when they are).
pub fn skip_requested() -> bool {
    let skip = std::env::var_os(SKIP_ENV).is_some_and(|v| v == "1");
    if skip {
        eprintln!("{SKIP_ENV}=1: skipping the VM test");
    }
    skip
}

/// Marker the init script prints with the scenario's exit status.
const EXIT_MARKER: &str = "RK-VM-EXIT=";

/// What to boot: files, modules, the scenario. Build it, then [`VmSpec::run`].
#[derive(Debug, Clone)]
pub struct VmSpec {
    modules: Vec<String>,
    files: BTreeMap<String, Entry>,
    script: String,
    memory_mb: u32,
    cpus: u32,
    timeout: Duration,
    line_hook: Option<LineHook>,
}

/// A function called with each complete serial line while the VM runs.
#[derive(Clone)]
struct LineHook(Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for LineHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LineHook")
    }
}

impl Default for VmSpec {
    fn default() -> Self {
        VmSpec::new()
    }
}

impl VmSpec {
    /// An empty VM: busybox, no modules, an empty scenario, 1 GiB, 1 CPU, 3 minutes.
    pub fn new() -> VmSpec {
        VmSpec {
            modules: Vec::new(),
            files: BTreeMap::new(),
            script: String::new(),
            memory_mb: 1024,
            cpus: 1,
            timeout: Duration::from_secs(180),
            line_hook: None,
        }
    }

    /// Call `hook` with each serial line (without its line end) as it arrives, for
    /// live output such as the demo's; the whole text is still in [`VmOutcome::serial`].
    pub fn on_serial_line(&mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> &mut Self {
        self.line_hook = Some(LineHook(Arc::new(hook)));
        self
    }

    /// Load these modules (and their dependencies) before the scenario, in order.
    pub fn modules(&mut self, names: &[&str]) -> &mut Self {
        self.modules.extend(names.iter().map(|s| s.to_string()));
        self
    }

    /// Put bytes at `guest_path` with permission bits `mode`.
    pub fn file(&mut self, guest_path: &str, data: Vec<u8>, mode: u32) -> &mut Self {
        self.files
            .insert(rel(guest_path), Entry::File { data, mode });
        self
    }

    /// Copy a host file to `guest_path` (executable if `mode` says so).
    pub fn host_file(
        &mut self,
        host: &Path,
        guest_path: &str,
        mode: u32,
    ) -> Result<&mut Self, VmError> {
        let data = fs::read(host).map_err(io_err(host))?;
        Ok(self.file(guest_path, data, mode))
    }

    /// Copy a host program to the same path in the guest, with the shared
    /// libraries `ldd` lists (nothing extra for static binaries).
    pub fn host_program(&mut self, host: &Path) -> Result<&mut Self, VmError> {
        let guest = host
            .to_str()
            .ok_or_else(|| VmError::Kernel(format!("non-UTF-8 path {}", host.display())))?;
        self.host_file(host, guest, 0o755)?;
        for lib in shared_libs(host)? {
            let guest = lib.to_string_lossy().into_owned();
            if !self.files.contains_key(&rel(&guest)) {
                // fs::read follows symlinks, so the soname gets the real content.
                self.host_file(&lib, &guest, 0o755)?;
            }
        }
        Ok(self)
    }

    /// A symbolic link at `guest_path` pointing to `target`.
    pub fn symlink(&mut self, guest_path: &str, target: &str) -> &mut Self {
        self.files.insert(
            rel(guest_path),
            Entry::Symlink {
                target: target.to_owned(),
            },
        );
        self
    }

    /// The scenario: a busybox `sh` script run after boot and module
    /// loading, from `/tmp`. Its exit status is the VM's result.
    pub fn script(&mut self, sh: &str) -> &mut Self {
        self.script = sh.to_owned();
        self
    }

    /// Guest memory.
    pub fn memory_mb(&mut self, mb: u32) -> &mut Self {
        self.memory_mb = mb;
        self
    }

    /// Guest CPUs (TCG runs one host thread per CPU).
    pub fn cpus(&mut self, n: u32) -> &mut Self {
        self.cpus = n.max(1);
        self
    }

    /// Hard limit for the whole run, boot to power-off.
    pub fn timeout(&mut self, t: Duration) -> &mut Self {
        self.timeout = t;
        self
    }

    /// Install what is missing (qemu, busybox-static), fetch the kernel,
    /// build the initramfs, boot, wait for the scenario, return its output.
    pub fn run(&self) -> Result<VmOutcome, VmError> {
        ensure_packages(&[
            ("/usr/bin/qemu-system-x86_64", "qemu-system-x86"),
            ("/bin/busybox", "busybox-static"),
        ])?;
        let kernel = Kernel::debian()?;
        let initrd = self.initramfs(&kernel)?;
        let work = crate::cache_dir().join("runs");
        fs::create_dir_all(&work).map_err(io_err(&work))?;
        let initrd_path = work.join(format!("initrd-{}-{}.cpio", std::process::id(), unique()));
        fs::write(&initrd_path, &initrd).map_err(io_err(&initrd_path))?;
        let outcome = self.boot(&kernel, &initrd_path);
        let _ = fs::remove_file(&initrd_path);
        outcome
    }

    fn initramfs(&self, kernel: &Kernel) -> Result<Vec<u8>, VmError> {
        let names: Vec<&str> = self.modules.iter().map(String::as_str).collect();
        let modules = kernel.module_closure(&names)?;
        let mut files = self.files.clone();
        let busybox = fs::read("/bin/busybox").map_err(io_err("/bin/busybox"))?;
        files.insert(
            "bin/busybox".into(),
            Entry::File {
                data: busybox,
                mode: 0o755,
            },
        );
        let mod_root = format!("lib/modules/{}", kernel.release);
        let mut insmods = String::new();
        for m in &modules {
            let host = kernel.modules_dir().join(&m.rel_path);
            let data = fs::read(&host).map_err(io_err(&host))?;
            files.insert(
                format!("{mod_root}/{}", m.rel_path),
                Entry::File { data, mode: 0o644 },
            );
            insmods.push_str(&format!(
                "insmod /{mod_root}/{} || echo \"RK-VM-MODULE-FAILED {}\"\n",
                m.rel_path, m.name
            ));
        }
        files.insert(
            format!("{mod_root}/modules.dep"),
            Entry::File {
                data: kernel.modules_dep_for(&modules)?.into_bytes(),
                mode: 0o644,
            },
        );
        files.insert(
            "init".into(),
            Entry::File {
                data: init_script(&insmods).into_bytes(),
                mode: 0o755,
            },
        );
        files.insert(
            "rk/scenario.sh".into(),
            Entry::File {
                data: self.script.clone().into_bytes(),
                mode: 0o755,
            },
        );
        files.insert("dev/console".into(), Entry::CharDev { major: 5, minor: 1 });

        // Parent directories first: the kernel's unpacker does not create them.
        let mut dirs = std::collections::BTreeSet::new();
        let extra = [
            "proc", "sys", "dev", "tmp", "run", "sbin", "usr/bin", "usr/sbin", "var/run",
        ];
        for path in files
            .keys()
            .map(String::as_str)
            .chain(extra.iter().copied())
        {
            dirs.extend(extra.iter().filter(|d| **d == path).map(|d| d.to_string()));
            let mut p = Path::new(path);
            while let Some(parent) = p.parent() {
                if parent.as_os_str().is_empty() {
                    break;
                }
                dirs.insert(parent.to_string_lossy().into_owned());
                p = parent;
            }
        }
        let mut cpio = Cpio::default();
        for d in &dirs {
            cpio.add(d, &Entry::Dir);
        }
        for (path, entry) in &files {
            cpio.add(path, entry);
        }
        Ok(cpio.finish())
    }

    fn boot(&self, kernel: &Kernel, initrd: &Path) -> Result<VmOutcome, VmError> {
        let started = Instant::now();
        let mut child = Command::new("qemu-system-x86_64")
            .args([
                "-accel",
                "tcg",
                "-cpu",
                "max",
                "-nodefaults",
                "-display",
                "none",
                "-no-reboot",
            ])
            .args([
                "-serial",
                "stdio",
                "-m",
                &self.memory_mb.to_string(),
                "-smp",
                &self.cpus.to_string(),
            ])
            .arg("-kernel")
            .arg(&kernel.vmlinuz)
            .arg("-initrd")
            .arg(initrd)
            .args(["-append", "console=ttyS0 panic=-1 quiet"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| VmError::Command {
                command: "qemu-system-x86_64".into(),
                detail: e.to_string(),
            })?;
        let serial = Arc::new(Mutex::new(Vec::<u8>::new()));
        let reader = child.stdout.take().map(|mut out| {
            let serial = Arc::clone(&serial);
            let echo = std::env::var_os("RK_VM_ECHO").is_some();
            let hook = self.line_hook.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                let mut line = Vec::new();
                while let Ok(n) = out.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    if echo {
                        eprint!("{}", String::from_utf8_lossy(&chunk[..n]));
                    }
                    if let Some(LineHook(hook)) = &hook {
                        for &b in &chunk[..n] {
                            match b {
                                b'\n' => {
                                    hook(&String::from_utf8_lossy(&line));
                                    line.clear();
                                }
                                b'\r' => {}
                                _ => line.push(b),
                            }
                        }
                    }
                    serial
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(&chunk[..n]);
                }
            })
        });
        let text = |serial: &Arc<Mutex<Vec<u8>>>| {
            String::from_utf8_lossy(&serial.lock().unwrap_or_else(|p| p.into_inner()))
                .replace('\r', "")
        };
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() > self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    if let Some(r) = reader {
                        let _ = r.join();
                    }
                    return Err(VmError::Timeout {
                        seconds: self.timeout.as_secs(),
                        serial: text(&serial),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => {
                    return Err(VmError::Command {
                        command: "qemu wait".into(),
                        detail: e.to_string(),
                    });
                }
            }
        };
        if let Some(r) = reader {
            let _ = r.join();
        }
        let serial = text(&serial);
        let exit_code = serial
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix(EXIT_MARKER)?.parse::<i32>().ok());
        match exit_code {
            Some(exit_code) => Ok(VmOutcome {
                serial,
                exit_code,
                elapsed: started.elapsed(),
            }),
            None => {
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut stderr);
                }
                Err(VmError::NoExitMarker {
                    serial: format!("{serial}\n[qemu {status}] {stderr}"),
                })
            }
        }
    }
}

/// What a VM run produced.
#[derive(Debug, Clone)]
pub struct VmOutcome {
    /// Everything the serial console printed (kernel, init, scenario), `\r` removed.
    pub serial: String,
    /// The scenario's exit status.
    pub exit_code: i32,
    /// Wall time from qemu start to power-off.
    pub elapsed: Duration,
}

impl VmOutcome {
    /// The rest of each serial line that starts with `prefix`.
    pub fn lines_with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.serial
            .lines()
            .filter_map(move |l| l.strip_prefix(prefix))
    }
}

/// The `/init` of the initramfs: mount the basics, install busybox applets,
/// load modules, run the scenario, print its status, power off.
fn init_script(insmods: &str) -> String {
    format!(
        r#"#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s 2>/dev/null
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mkdir -p /dev/pts /dev/shm /run/netns /var/run/netns
mount -t tmpfs run /run
mkdir -p /run/netns
ip link set lo up
echo RK-VM-BOOTED
{insmods}cd /tmp
sh /rk/scenario.sh
echo "{EXIT_MARKER}$?"
sync
poweroff -f
"#
    )
}

fn rel(guest_path: &str) -> String {
    guest_path.trim_start_matches('/').to_owned()
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The cache directory for kernels and per-run scratch files:
/// `$RK_VM_CACHE`, or `target/vm-cache` in the workspace.
pub fn vm_cache_dir() -> PathBuf {
    crate::cache_dir()
}
