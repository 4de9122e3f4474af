//! Host-side helpers: running commands, installing what the VM needs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::error::VmError;

/// Run a command; return stdout, or an error carrying its stderr.
pub(crate) fn run(cmd: &mut Command) -> Result<String, VmError> {
    crate::command::stdout_of(cmd).map_err(|f| VmError::Command {
        command: f.command,
        detail: f.detail,
    })
}

/// Serialises apt use within one test process (apt takes its own lock too,
/// but fails instead of waiting on it).
static APT: Mutex<()> = Mutex::new(());

fn apt_get(args: &[&str]) -> Result<String, VmError> {
    let _guard = APT.lock().unwrap_or_else(|p| p.into_inner());
    let mut cmd = Command::new("apt-get");
    cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    match run(&mut cmd) {
        Ok(out) => Ok(out),
        // A fresh machine has no package lists yet: update once and retry.
        Err(_) => {
            run(Command::new("apt-get")
                .arg("update")
                .env("DEBIAN_FRONTEND", "noninteractive"))?;
            run(&mut cmd)
        }
    }
}

/// Make sure the Debian packages providing `paths` are installed: each
/// `(path, package)` pair is checked by the path's existence.
pub fn ensure_packages(needs: &[(&str, &str)]) -> Result<(), VmError> {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(&missing);
    apt_get(&args)?;
    Ok(())
}

/// `apt-get download PACKAGE` into `dir`.
pub(crate) fn apt_download(package: &str, dir: &Path) -> Result<(), VmError> {
    let _guard = APT.lock().unwrap_or_else(|p| p.into_inner());
    let mut cmd = Command::new("apt-get");
    cmd.arg("download").arg(package).current_dir(dir);
    match run(&mut cmd) {
        Ok(_) => Ok(()),
        Err(_) => {
            run(Command::new("apt-get").arg("update"))?;
            run(&mut cmd).map(|_| ())
        }
    }
}

/// The name of the kernel image package Debian's `linux-image-amd64` points at.
pub(crate) fn kernel_package() -> Result<String, VmError> {
    let find = || -> Result<Option<String>, VmError> {
        let out = run(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
        Ok(out.lines().find_map(|l| {
            l.trim()
                .strip_prefix("Depends: ")
                .filter(|p| p.starts_with("linux-image-"))
                .map(str::to_owned)
        }))
    };
    if let Ok(Some(p)) = find() {
        return Ok(p);
    }
    apt_get(&["update"])?;
    find()?.ok_or_else(|| VmError::Kernel("apt-cache knows no linux-image-amd64 dependency".into()))
}

/// Shared libraries a dynamically linked program needs, from `ldd`
/// (including the dynamic loader). Empty for static programs.
pub(crate) fn shared_libs(program: &Path) -> Result<Vec<PathBuf>, VmError> {
    let out = Command::new("ldd")
        .arg(program)
        .output()
        .map_err(|e| VmError::Command {
            command: format!("ldd {}", program.display()),
            detail: e.to_string(),
        })?;
    // ldd exits non-zero for static binaries ("not a dynamic executable").
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = match l.split_once("=>") {
                Some((_, rhs)) => rhs.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}
