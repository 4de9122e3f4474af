//! # rk-testkit: test beds shared by rkeepalived's crates
//!
//! This crate **owns** the throw-away qemu VM that gives tests a real kernel
//! with IPVS (the build machines' own kernel has none, see
//! `shared/LAB-FACTS.md`). It never runs anything on the host beyond
//! installing its tools with apt, building our binaries and starting qemu,
//! and it never sends traffic outside the VM.
//!
//! ## The VM runner
//!
//! ```no_run
//! use std::path::Path;
//! use std::time::Duration;
//! use rk_testkit::vm::{IPVS_MODULES, VmSpec, build_static};
//!
//! # fn main() -> Result<(), rk_testkit::VmError> {
//! // Our test program, statically linked (own target dir: target/vm).
//! let bins = build_static("rk-ipvs", &["ipvs-vm-suite"])?;
//! let outcome = VmSpec::new()
//!     .modules(IPVS_MODULES)                        // + dependencies, loaded in order at boot
//!     .host_program(Path::new("/usr/sbin/ipvsadm"))? // with its shared libraries (ldd)
//!     .host_file(&bins.path("ipvs-vm-suite"), "/rk/ipvs-vm-suite", 0o755)?
//!     .script("/rk/ipvs-vm-suite && ipvsadm -Ln")   // busybox sh; its exit status is the result
//!     .timeout(Duration::from_secs(120))
//!     .run()?;                                      // boots, waits, powers off
//! assert_eq!(outcome.exit_code, 0, "{}", outcome.serial);
//! for line in outcome.lines_with_prefix("RESULT ") { println!("{line}"); }
//! # Ok(()) }
//! ```
//!
//! What [`vm::VmSpec::run`] does:
//! 1. installs `qemu-system-x86` and `busybox-static` with apt when missing
//!    (`vm::host::ensure_packages` is public for other tools, e.g. `ipvsadm`);
//! 2. fetches the kernel Debian's `linux-image-amd64` depends on with
//!    `apt-get download` + `dpkg-deb -x` into the cache (`$RK_VM_CACHE`, default
//!    `target/vm-cache`), once, under a lock file, and runs `depmod` there;
//! 3. builds an uncompressed `newc` initramfs in memory: static busybox,
//!    `/dev/console`, the requested modules and their dependencies (from
//!    `modules.dep`) plus a `modules.dep` for `modprobe`, the given files, and
//!    an `/init` that mounts proc/sys/dev/tmp/run, `insmod`s the modules in
//!    dependency order (a failure prints `RK-VM-MODULE-FAILED name`), runs
//!    `/rk/scenario.sh` and prints `RK-VM-EXIT=<status>`;
//! 4. boots `qemu-system-x86_64 -accel tcg -cpu max -nodefaults -no-reboot`
//!    with the serial console on stdout (`RK_VM_ECHO=1` mirrors it to stderr),
//!    kills it at the timeout, and returns the serial text and exit status.
//!
//! ## The LVS lab
//!
//! [`lvs_lab`] builds on the runner: a client, two directors and three web
//! servers in network namespaces of one VM (LVS-DR and LVS-NAT), directors
//! running keepalived 2.2.7 or rkeepalived on generated configurations (the
//! basic pairs are shipped as `conf/lvs-dr/` and `conf/lvs-nat/`), and shell
//! scenarios that report `RK-CHECK` / `RK-FIGURE` lines. The end-to-end tests,
//! the benchmark and `scripts/demo` use it; `examples/lvs_shell.rs` runs your
//! own steps in it.
//!
//! Busybox's `ip` has no `netns`: scenarios that need namespaces copy
//! iproute2's `/usr/sbin/ip` with `host_program` and call it by full path.
//! Set `RK_SKIP_VM_TESTS=1` to skip VM tests on a laptop; CI never does.

mod command;
pub mod confgen;
mod error;
pub mod lvs_lab;
pub mod netns;
pub mod procfs;
pub mod vm;

use std::path::PathBuf;

pub use error::VmError;

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or(here)
}

/// Cache for the kernel and VM scratch files.
pub(crate) fn cache_dir() -> PathBuf {
    std::env::var_os("RK_VM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/vm-cache"))
}
