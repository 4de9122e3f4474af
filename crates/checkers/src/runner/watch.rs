//! inotify watches for FILE_CHECK's tracked files (keepalived's `track_file.c`): the
//! directory of each file is watched for close-after-write, delete and moves, so a change
//! is seen at once and an atomic `mv tmp file` works.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::io::unix::AsyncFd;

struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// The directory to watch and the file name within it.
fn split(path: &Path) -> (PathBuf, Option<&OsStr>) {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    (dir.to_path_buf(), path.file_name())
}

/// Watches the directories of tracked files.
pub struct Watcher {
    fd: AsyncFd<Fd>,
    dirs: HashMap<PathBuf, (WatchDescriptor, usize)>,
    by_wd: HashMap<WatchDescriptor, PathBuf>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("dirs", &self.dirs.keys())
            .finish()
    }
}

impl Watcher {
    /// An inotify instance registered with the runtime.
    pub fn new() -> std::io::Result<Self> {
        let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        // `AsyncFd::new` is deprecated because a `T: AsRawFd` may not own its fd; `Fd` owns
        // the inotify instance, so the fd lives exactly as long as the AsyncFd, which is the
        // condition the unsafe `register` asks for, without writing `unsafe` here.
        #[allow(deprecated)]
        let fd = AsyncFd::new(Fd(ino))?;
        Ok(Watcher {
            fd,
            dirs: HashMap::new(),
            by_wd: HashMap::new(),
        })
    }

    /// Starts watching `path`'s directory (reference-counted per directory).
    pub fn watch(&mut self, path: &Path) -> std::io::Result<()> {
        let (dir, _) = split(path);
        if let Some((_, n)) = self.dirs.get_mut(&dir) {
            *n += 1;
            return Ok(());
        }
        let flags =
            AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVE;
        let wd = self.fd.get_ref().0.add_watch(&dir, flags)?;
        self.by_wd.insert(wd, dir.clone());
        self.dirs.insert(dir, (wd, 1));
        Ok(())
    }

    /// Stops watching `path`'s directory once no tracked file needs it.
    pub fn unwatch(&mut self, path: &Path) {
        let (dir, _) = split(path);
        if let Some((wd, n)) = self.dirs.get_mut(&dir) {
            *n -= 1;
            if *n == 0 {
                let wd = *wd;
                let _ = self.fd.get_ref().0.rm_watch(wd);
                self.by_wd.remove(&wd);
                self.dirs.remove(&dir);
            }
        }
    }

    /// Waits for changes; returns the paths (as `dir/name`) that changed.
    pub async fn changed(&mut self) -> Vec<PathBuf> {
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                return vec![];
            };
            match guard.try_io(|fd| fd.get_ref().0.read_events().map_err(std::io::Error::from)) {
                Ok(Ok(events)) => {
                    let paths: Vec<PathBuf> = events
                        .into_iter()
                        .filter_map(|e| Some(self.by_wd.get(&e.wd)?.join(e.name?)))
                        .collect();
                    if !paths.is_empty() {
                        return paths;
                    }
                }
                Ok(Err(_)) | Err(_) => continue,
            }
        }
    }
}

/// Whether the change to `changed` concerns the tracked file `path`.
pub fn same_file(path: &Path, changed: &Path) -> bool {
    let (dir, name) = split(path);
    name.is_some_and(|n| dir.join(n) == changed)
}
