//! `track_file`: an integer read from a file, re-read whenever the file is written,
//! replaced or removed (inotify on its directory), as keepalived's `trackers/track_file.c`:
//!
//! * the value is the file's first line as C's `strtol(text, NULL, 0)` reads it (decimal,
//!   `0x` hex, leading-`0` octal, leading blanks and a sign allowed, trailing text
//!   ignored); an empty, missing or unreadable file is 0; a number outside the 32-bit range
//!   is logged and ignored (the previous value stays);
//! * a file deleted or moved away is 0; one written (closed after writing) or moved in is
//!   read again;
//! * `init_file [VALUE] [overwrite]` writes VALUE (0) at start-up when the file does not
//!   exist, or always with `overwrite`.
//!
//! What a value does to an instance (weight, `reverse`, FAULT at -254) is
//! [`rk_vrrp_proto::TrackWeight::file_effect`].

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use rk_config::model::{InitFile, TrackFile};
use rk_vrrp_proto::TrackerState;
use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

/// One tracked file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileTracker {
    /// `track_file NAME`.
    pub name: String,
    /// `file`.
    pub path: PathBuf,
    /// `init_file`.
    pub init: Option<InitFile>,
}

impl FileTracker {
    /// From the configuration.
    pub fn from_config(t: &TrackFile) -> Self {
        FileTracker {
            name: t.name.clone(),
            path: PathBuf::from(&t.file),
            init: t.init_file,
        }
    }
}

/// C's `strtol(text, NULL, 0)`, limited to what keepalived accepts: `None` for a number
/// outside `i32::MIN..=i32::MAX + 1`; text without a number is 0.
pub fn parse_value(text: &str) -> Option<i64> {
    let t = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(rest) = t.strip_prefix("0x").or(t.strip_prefix("0X")) {
        if rest.chars().next().is_some_and(|c| c.is_ascii_hexdigit()) {
            (16, rest)
        } else {
            // "0x" alone: strtol reads the 0.
            (10, "0")
        }
    } else if t.starts_with('0') {
        (8, t)
    } else {
        (10, t)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let digits = &digits[..end];
    if digits.is_empty() {
        return Some(0);
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let v = if neg { -magnitude } else { magnitude };
    let ok = (i128::from(i32::MIN)..=i128::from(i32::MAX) + 1).contains(&v);
    ok.then(|| i64::try_from(v).ok()).flatten()
}

/// The file's value now (`None`: an invalid number, to be ignored).
pub fn read_value(path: &Path) -> Option<i64> {
    let mut buf = [0u8; 127];
    let n = match std::fs::File::open(path).and_then(|mut f| f.read(&mut buf)) {
        Ok(n) => n,
        Err(_) => return Some(0),
    };
    parse_value(&String::from_utf8_lossy(&buf[..n]))
}

/// `init_file`: writes the value when the file is missing (always with `overwrite`).
pub fn init_file(path: &Path, init: InitFile) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(_) if !init.overwrite => return Ok(()),
        Ok(m) if !m.file_type().is_file() => {
            return Err(io::Error::other("not a regular file"));
        }
        _ => {}
    }
    std::fs::write(path, format!("{}\n", init.value))
}

struct Ino(Inotify);

impl AsRawFd for Ino {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Watches a set of tracked files.
pub struct FileWatcher {
    files: Vec<FileTracker>,
    values: Vec<i64>,
    ino: Option<AsyncFd<Ino>>,
    /// Watched directory → (tracker index, file name).
    watches: HashMap<WatchDescriptor, Vec<(usize, OsString)>>,
}

impl std::fmt::Debug for FileWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWatcher")
            .field("files", &self.files)
            .field("values", &self.values)
            .finish_non_exhaustive()
    }
}

impl FileWatcher {
    /// Applies `init_file`, reads every file and starts watching their directories (must
    /// run inside a tokio runtime). A file whose directory does not exist is logged and
    /// stays at 0.
    pub fn start(files: Vec<FileTracker>) -> io::Result<FileWatcher> {
        let mut values = Vec::with_capacity(files.len());
        let mut watches: HashMap<WatchDescriptor, Vec<(usize, OsString)>> = HashMap::new();
        let ino = if files.is_empty() {
            None
        } else {
            Some(Inotify::init(
                InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC,
            )?)
        };
        for (i, f) in files.iter().enumerate() {
            if let Some(init) = f.init
                && let Err(e) = init_file(&f.path, init)
            {
                tracing::error!(
                    "track_file {}: cannot initialise {}: {e}",
                    f.name,
                    f.path.display()
                );
            }
            let value = read_value(&f.path).unwrap_or_else(|| {
                tracing::warn!(
                    "track_file {}: invalid number in {}, using 0",
                    f.name,
                    f.path.display()
                );
                0
            });
            values.push(value);
            let (Some(ino), Some(name)) = (&ino, f.path.file_name()) else {
                continue;
            };
            let dir = match f.path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            match ino.add_watch(
                &dir,
                AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVE,
            ) {
                Ok(wd) => watches
                    .entry(wd)
                    .or_default()
                    .push((i, name.to_os_string())),
                Err(e) => tracing::error!(
                    "track_file {}: cannot watch {}: {e}; the value stays {value}",
                    f.name,
                    dir.display()
                ),
            }
        }
        // `AsyncFd::new` is deprecated because a `T: AsRawFd` need not own its descriptor;
        // `Ino` owns the inotify instance, so the descriptor lives exactly as long as the
        // registration, which is what the unsafe `register` asks for (as in rk-checkers).
        #[allow(deprecated)]
        let ino = match ino {
            Some(i) => Some(AsyncFd::new(Ino(i))?),
            None => None,
        };
        Ok(FileWatcher {
            files,
            values,
            ino,
            watches,
        })
    }

    /// The values read at start.
    pub fn values(&self) -> &[i64] {
        &self.values
    }

    /// Runs until `stop` turns true, calling `report(index, state)` when a file's value
    /// changes.
    pub async fn run(
        mut self,
        mut report: impl FnMut(usize, TrackerState) + Send,
        mut stop: watch::Receiver<bool>,
    ) {
        let Some(ino) = self.ino.take() else {
            return;
        };
        loop {
            let mut guard = tokio::select! {
                g = ino.readable() => match g {
                    Ok(g) => g,
                    Err(e) => {
                        tracing::error!("track_file: inotify: {e}; files are no longer followed");
                        return;
                    }
                },
                _ = stop.wait_for(|s| *s) => return,
            };
            let events = match guard.get_inner().0.read_events() {
                Ok(ev) => ev,
                Err(nix::errno::Errno::EAGAIN) => {
                    guard.clear_ready();
                    continue;
                }
                Err(e) => {
                    tracing::error!("track_file: reading inotify events: {e}");
                    guard.clear_ready();
                    continue;
                }
            };
            for ev in events {
                if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    for i in 0..self.files.len() {
                        self.reread(i, &mut report);
                    }
                    continue;
                }
                if ev.mask.contains(AddWatchFlags::IN_ISDIR) {
                    continue;
                }
                let Some(name) = &ev.name else { continue };
                let hits: Vec<usize> = self
                    .watches
                    .get(&ev.wd)
                    .map(|v| {
                        v.iter()
                            .filter(|(_, n)| n == name)
                            .map(|(i, _)| *i)
                            .collect()
                    })
                    .unwrap_or_default();
                for i in hits {
                    if ev
                        .mask
                        .intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM)
                    {
                        // Gone: treated as 0.
                        self.set(i, 0, &mut report);
                    } else {
                        self.reread(i, &mut report);
                    }
                }
            }
        }
    }

    fn reread(&mut self, i: usize, report: &mut impl FnMut(usize, TrackerState)) {
        match read_value(&self.files[i].path) {
            Some(v) => self.set(i, v, report),
            None => tracing::warn!(
                "track_file {}: invalid number in {}, ignored",
                self.files[i].name,
                self.files[i].path.display()
            ),
        }
    }

    fn set(&mut self, i: usize, v: i64, report: &mut impl FnMut(usize, TrackerState)) {
        if self.values[i] == v {
            return;
        }
        tracing::info!(
            "track_file {}: {} now holds {v}",
            self.files[i].name,
            self.files[i].path.display()
        );
        self.values[i] = v;
        report(i, TrackerState::Value(v));
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn values_as_strtol_reads_them() {
        for (text, want) in [
            ("", Some(0)),
            ("\n", Some(0)),
            ("abc", Some(0)),
            ("42", Some(42)),
            ("  -17\n", Some(-17)),
            ("+5 trailing", Some(5)),
            ("0x1f", Some(31)),
            ("0X10", Some(16)),
            ("010", Some(8)),
            ("09", Some(0)),
            ("0x", Some(0)),
            ("-254", Some(-254)),
            ("2147483648", Some(2_147_483_648)),
            ("2147483649", None),
            ("-2147483648", Some(-2_147_483_648)),
            ("-2147483649", None),
            ("99999999999999999999999999999999999999999", None),
        ] {
            assert_eq!(parse_value(text), want, "{text:?}");
        }
    }

    #[test]
    fn init_file_writes_only_when_told() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v");
        let init = |value, overwrite| InitFile { value, overwrite };
        init_file(&p, init(7, false)).unwrap();
        assert_eq!(read_value(&p), Some(7));
        init_file(&p, init(9, false)).unwrap();
        assert_eq!(read_value(&p), Some(7), "kept");
        init_file(&p, init(9, true)).unwrap();
        assert_eq!(read_value(&p), Some(9), "overwritten");
        assert_eq!(read_value(&dir.path().join("missing")), Some(0));
    }

    /// Written, replaced by rename, removed: each reported once; an invalid value changes
    /// nothing.
    #[tokio::test]
    async fn follows_writes_renames_and_removal() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("prio");
        std::fs::write(&p, "5\n").unwrap();
        let w = FileWatcher::start(vec![FileTracker {
            name: "tf".into(),
            path: p.clone(),
            init: None,
        }])
        .unwrap();
        assert_eq!(w.values(), &[5]);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(w.run(
            move |i, s| {
                let _ = tx.send((i, s));
            },
            stop,
        ));
        let mut next = async || {
            tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("an update")
                .expect("open")
        };
        std::fs::write(&p, "-300\n").unwrap();
        assert_eq!(next().await, (0, TrackerState::Value(-300)));
        // Out of range: logged and ignored.
        std::fs::write(&p, "99999999999\n").unwrap();
        let tmp = dir.path().join("prio.new");
        std::fs::write(&tmp, "12").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        assert_eq!(next().await, (0, TrackerState::Value(12)));
        std::fs::remove_file(&p).unwrap();
        assert_eq!(next().await, (0, TrackerState::Value(0)));
        stop_tx.send(true).unwrap();
        task.await.unwrap();
    }
}
