//! Statically linked builds of workspace binaries for the VM.

use std::path::PathBuf;
use std::process::Command;

use super::host::run;
use crate::error::VmError;
use crate::workspace_root;

/// Target triple of the static build (glibc, `+crt-static` gives static-pie).
pub const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";

/// Binaries built by [`build_static`].
#[derive(Debug, Clone)]
pub struct StaticBins {
    dir: PathBuf,
}

impl StaticBins {
    /// Host path of a built binary.
    pub fn path(&self, bin: &str) -> PathBuf {
        self.dir.join(bin)
    }
}

/// Build `bins` of workspace `package` as static release binaries, in their
/// own target directory (`target/vm`) so the normal build is not thrashed
/// by the different `RUSTFLAGS`.
pub fn build_static(package: &str, bins: &[&str]) -> Result<StaticBins, VmError> {
    let root = workspace_root();
    let target_dir = root.join("target").join("vm");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            STATIC_TARGET,
            "-p",
            package,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        // Cargo's jobserver of the enclosing `cargo test` must not leak in.
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS");
    for b in bins {
        cmd.args(["--bin", b]);
    }
    run(&mut cmd)?;
    Ok(StaticBins {
        dir: target_dir.join(STATIC_TARGET).join("release"),
    })
}
