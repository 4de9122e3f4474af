//! `enable_script_security`: a script that runs with root privileges (as uid 0, as gid 0,
//! or set-uid/set-gid root) must not be modifiable by anyone but root — neither the file
//! nor any directory on its path, nor any symbolic link on the way (keepalived
//! `check_security` in `core/notify.c`).
//!
//! What counts as "modifiable by a non-root user" (keepalived's rule):
//! * the object is not owned by root;
//! * a regular file, or a directory *without* the sticky bit, is writable by its group
//!   (when that group is not root) or by everyone.
//!
//! (A sticky directory such as `/tmp` is fine: others cannot replace what root owns in
//! it.) Both the path as written and the path it resolves to are walked, so a symbolic
//! link cannot lead around the check.
//!
//! The check runs **before every execution** ([`crate::exec::spawn`]), not only at
//! start-up (keepalived issue #2438): a permission changed later is caught at the next run.
//! Without `enable_script_security` an unsafe script still runs, and the same finding is
//! logged once as a warning (keepalived: "SECURITY VIOLATION").
//!
//! The window between this check and `execve` remains; closing it would need `execveat`
//! on an `O_PATH` descriptor, which interpreted scripts (`#!`) cannot use reliably.

use std::collections::HashSet;
use std::fmt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use thiserror::Error;

use crate::users::RunAs;

/// The directories searched for a script written without a `/` (keepalived's default
/// `PATH` for scripts).
pub const SCRIPT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why a path is unsafe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsafe {
    /// Owned by a non-root user.
    Owner {
        /// The owner's uid.
        uid: u32,
    },
    /// Writable by a non-root group.
    GroupWritable {
        /// The group.
        gid: u32,
        /// The permission bits.
        mode: u32,
    },
    /// Writable by everyone.
    WorldWritable {
        /// The permission bits.
        mode: u32,
    },
}

impl fmt::Display for Unsafe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsafe::Owner { uid } => write!(f, "is owned by uid {uid}, not root"),
            Unsafe::GroupWritable { gid, mode } => {
                write!(f, "is writable by group {gid} (mode {mode:04o})")
            }
            Unsafe::WorldWritable { mode } => {
                write!(f, "is writable by everyone (mode {mode:04o})")
            }
        }
    }
}

/// A script refused by the check.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Refusal {
    /// A path element a non-root user could change.
    #[error(
        "refusing to run {script} as root: {path} {why}, so a non-root user could replace what runs (enable_script_security)"
    )]
    Insecure {
        /// The script as written.
        script: String,
        /// The unsafe file, directory or link.
        path: PathBuf,
        /// What is wrong with it.
        why: Unsafe,
    },
    /// A path element is neither a directory nor where a directory is needed, or the file
    /// is not a regular file.
    #[error("refusing to run {script}: {path} is not a {expected} (enable_script_security)")]
    WrongType {
        /// The script as written.
        script: String,
        /// The element.
        path: PathBuf,
        /// What it should have been.
        expected: &'static str,
    },
    /// The script cannot be found or examined.
    #[error("cannot run {script}: {detail}")]
    NotFound {
        /// The script as written.
        script: String,
        /// Why.
        detail: String,
    },
}

/// The script security policy, shared by everything that runs scripts.
#[derive(Debug)]
pub struct Security {
    enforce: bool,
    /// Unsafe scripts already warned about (when not enforcing): once each.
    warned: Mutex<HashSet<String>>,
}

impl Security {
    /// `enable_script_security` on (`enforce`) or off.
    pub fn new(enforce: bool) -> Self {
        Security {
            enforce,
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// Whether unsafe scripts are refused.
    pub fn enforced(&self) -> bool {
        self.enforce
    }

    /// Checks `program` run as `run_as` (`None`: as the daemon, root). `Err` only when
    /// enforcing; otherwise a finding is logged once per script.
    pub fn check(&self, program: &str, run_as: Option<RunAs>) -> Result<(), Refusal> {
        match check(program, run_as, &search_path()) {
            Ok(()) => Ok(()),
            Err(r) if self.enforce => Err(r),
            Err(r @ Refusal::NotFound { .. }) => {
                // Not a security matter: the spawn will fail and say so.
                let _ = r;
                Ok(())
            }
            Err(r) => {
                let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
                if warned.insert(program.to_string()) {
                    tracing::warn!(
                        "SECURITY VIOLATION - {} (running it anyway: enable_script_security is off)",
                        r.to_string().replace(" (enable_script_security)", "")
                    );
                }
                Ok(())
            }
        }
    }
}

fn search_path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| SCRIPT_PATH.to_string())
}

/// Finds a program written without `/` in `path` (like `execvp`).
pub fn find_in_path(program: &str, path: &str) -> Option<PathBuf> {
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// The check itself (see the module documentation), searching `path` for bare names.
pub fn check(program: &str, run_as: Option<RunAs>, path: &str) -> Result<(), Refusal> {
    let not_found = |detail: String| Refusal::NotFound {
        script: program.to_string(),
        detail,
    };
    let written = if program.contains('/') {
        PathBuf::from(program)
    } else {
        find_in_path(program, path).ok_or_else(|| not_found(format!("not found in {path}")))?
    };
    let written = if written.is_absolute() {
        written
    } else {
        std::env::current_dir()
            .map_err(|e| not_found(e.to_string()))?
            .join(written)
    };
    let real = std::fs::canonicalize(&written).map_err(|e| not_found(e.to_string()))?;
    let meta = std::fs::metadata(&real).map_err(|e| not_found(e.to_string()))?;
    let (uid, gid) = run_as.unwrap_or((0, 0));
    let mode = meta.permissions().mode();
    let setuid_root = meta.uid() == 0 && mode & 0o4100 == 0o4100;
    let setgid_root = meta.gid() == 0 && mode & 0o2010 == 0o2010;
    if uid != 0 && gid != 0 && !setuid_root && !setgid_root {
        // Runs without root privileges: whoever can change it gains nothing.
        return Ok(());
    }
    walk(program, &written, false)?;
    if real != written {
        walk(program, &real, true)?;
    }
    Ok(())
}

/// Checks every element of `path`, from `/` down. `resolved`: the path has no symbolic
/// links, so metadata follows nothing; otherwise each element is examined as it is (a
/// link's own owner), the kernel then following it into a path `check` walks as `real`.
fn walk(script: &str, path: &Path, resolved: bool) -> Result<(), Refusal> {
    let mut cur = PathBuf::new();
    let components: Vec<Component<'_>> = path.components().collect();
    for (i, c) in components.iter().enumerate() {
        match c {
            Component::RootDir => cur.push("/"),
            Component::Normal(n) => cur.push(n),
            // `.` and `..` in the written path: the resolved path covers what they reach.
            Component::CurDir | Component::ParentDir | Component::Prefix(_) => continue,
        }
        let last = i + 1 == components.len();
        let meta = if resolved {
            std::fs::metadata(&cur)
        } else {
            std::fs::symlink_metadata(&cur)
        }
        .map_err(|e| Refusal::NotFound {
            script: script.to_string(),
            detail: format!("{}: {e}", cur.display()),
        })?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            // A link cannot be re-pointed, only replaced through its directory (checked
            // as the previous element); its owner still must be root, as keepalived
            // requires.
            if meta.uid() != 0 {
                return Err(insecure(script, &cur, Unsafe::Owner { uid: meta.uid() }));
            }
            continue;
        }
        if !last && !ft.is_dir() {
            return Err(Refusal::WrongType {
                script: script.to_string(),
                path: cur,
                expected: "directory",
            });
        }
        if last && !ft.is_file() {
            return Err(Refusal::WrongType {
                script: script.to_string(),
                path: cur,
                expected: "regular file",
            });
        }
        if let Some(why) = unsafe_bits(
            meta.uid(),
            meta.gid(),
            meta.permissions().mode(),
            ft.is_dir(),
        ) {
            return Err(insecure(script, &cur, why));
        }
    }
    Ok(())
}

fn insecure(script: &str, path: &Path, why: Unsafe) -> Refusal {
    Refusal::Insecure {
        script: script.to_string(),
        path: path.to_path_buf(),
        why,
    }
}

/// keepalived's rule for one element.
pub fn unsafe_bits(uid: u32, gid: u32, mode: u32, dir: bool) -> Option<Unsafe> {
    if uid != 0 {
        return Some(Unsafe::Owner { uid });
    }
    let sticky = dir && mode & 0o1000 != 0;
    if sticky {
        return None;
    }
    let perm = mode & 0o7777;
    if mode & 0o002 != 0 {
        return Some(Unsafe::WorldWritable { mode: perm });
    }
    if gid != 0 && mode & 0o020 != 0 {
        return Some(Unsafe::GroupWritable { gid, mode: perm });
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{chown, symlink};

    use super::*;

    #[test]
    fn element_rules() {
        assert_eq!(unsafe_bits(0, 0, 0o755, false), None);
        assert_eq!(unsafe_bits(0, 0, 0o775, true), None, "root group may write");
        assert_eq!(
            unsafe_bits(1000, 0, 0o755, false),
            Some(Unsafe::Owner { uid: 1000 })
        );
        assert_eq!(
            unsafe_bits(0, 50, 0o775, true),
            Some(Unsafe::GroupWritable {
                gid: 50,
                mode: 0o775
            })
        );
        assert_eq!(
            unsafe_bits(0, 0, 0o777, true),
            Some(Unsafe::WorldWritable { mode: 0o777 })
        );
        assert_eq!(unsafe_bits(0, 0, 0o1777, true), None, "sticky like /tmp");
        assert_eq!(
            unsafe_bits(0, 0, 0o1777, false),
            Some(Unsafe::WorldWritable { mode: 0o1777 }),
            "the sticky bit means nothing on a file"
        );
    }

    /// A root-owned tree under a root-owned private directory: accepted. The directory
    /// made world-writable, the file given to another user, a symbolic link owned by
    /// another user: each refused, naming the element and the reason.
    #[test]
    fn paths_are_walked_at_each_check() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("not root: skipping (the check is about root-owned files)");
            return;
        }
        let base = tempfile::tempdir().unwrap();
        std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = base.path().join("scripts");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let file = dir.join("chk.sh");
        std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        let f = file.to_str().unwrap();
        assert_eq!(check(f, None, SCRIPT_PATH), Ok(()));

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check(f, None, SCRIPT_PATH).unwrap_err();
        assert_eq!(
            e,
            Refusal::Insecure {
                script: f.into(),
                path: dir.clone(),
                why: Unsafe::WorldWritable { mode: 0o777 }
            }
        );
        assert!(
            e.to_string().contains(&format!(
                "{} is writable by everyone (mode 0777)",
                dir.display()
            )),
            "{e}"
        );
        // The same script run as a non-root user: nothing to protect.
        assert_eq!(check(f, Some((65534, 65534)), SCRIPT_PATH), Ok(()));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();

        chown(&file, Some(1000), None).unwrap();
        let e = check(f, None, SCRIPT_PATH).unwrap_err();
        assert!(
            e.to_string().contains(&format!(
                "{} is owned by uid 1000, not root",
                file.display()
            )),
            "{e}"
        );
        chown(&file, Some(0), None).unwrap();

        let link = base.path().join("link.sh");
        symlink(&file, &link).unwrap();
        assert_eq!(check(link.to_str().unwrap(), None, SCRIPT_PATH), Ok(()));
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            &link,
            Some(nix::unistd::Uid::from_raw(1000)),
            None,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .unwrap();
        let e = check(link.to_str().unwrap(), None, SCRIPT_PATH).unwrap_err();
        assert!(
            matches!(e, Refusal::Insecure { ref path, .. } if *path == link),
            "{e}"
        );

        // A bare name is looked up in the path.
        assert_eq!(check("chk.sh", None, dir.to_str().unwrap()), Ok(()));
        assert!(matches!(
            check("no-such-script-rk", None, dir.to_str().unwrap()),
            Err(Refusal::NotFound { .. })
        ));
    }

    /// Not enforcing: the unsafe script is allowed (and logged once).
    #[test]
    fn off_means_warn_and_run() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let f = dir.path().join("x");
        std::fs::write(&f, "").unwrap();
        let s = Security::new(false);
        assert_eq!(s.check(f.to_str().unwrap(), None), Ok(()));
        let s = Security::new(true);
        if nix::unistd::Uid::effective().is_root() {
            assert!(s.check(f.to_str().unwrap(), None).is_err());
        }
    }
}
