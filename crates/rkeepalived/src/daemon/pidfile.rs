//! Pid files (`-p`, `-r`), with keepalived's "already running" check.

use std::fs;
use std::path::{Path, PathBuf};

/// Pid files written at start and removed when dropped.
#[derive(Debug)]
pub struct PidFiles {
    paths: Vec<PathBuf>,
}

impl PidFiles {
    /// Writes our pid to each file. Fails if one names a live process other than us
    /// (another daemon with the same pid files is running), or cannot be written.
    pub fn create(paths: &[PathBuf]) -> Result<PidFiles, String> {
        let me = std::process::id();
        for p in paths {
            if let Some(pid) = read_pid(p)
                && pid != me
                && Path::new(&format!("/proc/{pid}")).exists()
            {
                return Err(format!(
                    "daemon is already running: {} holds pid {pid} (use -p/-r to give this one its own pid files)",
                    p.display()
                ));
            }
        }
        let mut written = PidFiles { paths: Vec::new() };
        for p in paths {
            if let Some(dir) = p.parent()
                && !dir.as_os_str().is_empty()
            {
                let _ = fs::create_dir_all(dir);
            }
            fs::write(p, format!("{me}\n"))
                .map_err(|e| format!("cannot write pid file {}: {e}", p.display()))?;
            written.paths.push(p.clone());
        }
        Ok(written)
    }
}

impl Drop for PidFiles {
    fn drop(&mut self) {
        let me = std::process::id();
        for p in &self.paths {
            // Only our own: another instance may have taken the name since.
            if read_pid(p) == Some(me) {
                let _ = fs::remove_file(p);
            }
        }
    }
}

fn read_pid(p: &Path) -> Option<u32> {
    fs::read_to_string(p).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_refuse_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("sub/a.pid");
        {
            let _p = PidFiles::create(std::slice::from_ref(&a)).unwrap();
            assert_eq!(read_pid(&a), Some(std::process::id()));
            // Our own pid in the file is not "another daemon".
            let again = PidFiles::create(std::slice::from_ref(&a)).unwrap();
            std::mem::forget(again);
        }
        assert!(!a.exists(), "removed on drop");
        // pid 1 is alive and not us.
        fs::write(&a, "1\n").unwrap();
        let e = PidFiles::create(std::slice::from_ref(&a)).unwrap_err();
        assert!(e.contains("already running"), "{e}");
        // A dead pid is stale: overwritten.
        fs::write(&a, "999999999\n").unwrap();
        let _p = PidFiles::create(std::slice::from_ref(&a)).unwrap();
    }
}
