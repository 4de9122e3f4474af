//! A `newc` cpio writer: the format the kernel unpacks as initramfs.
//!
//! Written here rather than shelling out to `cpio` so device nodes
//! (`/dev/console`) can be added without root-owned files on disk, and so
//! the archive is built in memory in one pass.

/// Kind of an archive entry.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// A directory.
    Dir,
    /// A regular file with content and permission bits.
    File { data: Vec<u8>, mode: u32 },
    /// A symbolic link to `target`.
    Symlink { target: String },
    /// A character device node.
    CharDev { major: u32, minor: u32 },
}

/// Append-only `newc` archive.
#[derive(Debug, Default)]
pub(crate) struct Cpio {
    out: Vec<u8>,
    ino: u32,
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

impl Cpio {
    /// Add one entry; `path` is relative to the archive root (no leading `/`).
    pub(crate) fn add(&mut self, path: &str, entry: &Entry) {
        self.ino += 1;
        let (mode, data, rdev): (u32, &[u8], (u32, u32)) = match entry {
            Entry::Dir => (0o040_755, &[], (0, 0)),
            Entry::File { data, mode } => (0o100_000 | (mode & 0o7777), data, (0, 0)),
            Entry::Symlink { target } => (0o120_777, target.as_bytes(), (0, 0)),
            Entry::CharDev { major, minor } => (0o020_600, &[], (*major, *minor)),
        };
        let nlink = if matches!(entry, Entry::Dir) { 2 } else { 1 };
        self.header(path, mode, nlink, data.len(), rdev);
        self.out.extend_from_slice(data);
        pad4(&mut self.out);
    }

    fn header(&mut self, path: &str, mode: u32, nlink: u32, size: usize, rdev: (u32, u32)) {
        let fields = [
            self.ino,
            mode,
            0,
            0,
            nlink,
            0,
            size as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            path.len() as u32 + 1,
            0,
        ];
        self.out.extend_from_slice(b"070701");
        for f in fields {
            self.out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.out.extend_from_slice(path.as_bytes());
        self.out.push(0);
        pad4(&mut self.out);
    }

    /// Close the archive and return its bytes.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.ino += 1;
        self.header("TRAILER!!!", 0, 1, 0, (0, 0));
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_layout() {
        let mut c = Cpio::default();
        c.add(
            "a",
            &Entry::File {
                data: b"xyz".to_vec(),
                mode: 0o755,
            },
        );
        let bytes = c.finish();
        // header 110 bytes + "a\0" = 112 (aligned), then data 3 padded to 4.
        assert_eq!(&bytes[..6], b"070701");
        assert_eq!(&bytes[14..22], b"000081ed"); // mode 0100755
        assert_eq!(&bytes[54..62], b"00000003"); // size
        assert_eq!(&bytes[112..115], b"xyz");
        assert_eq!(&bytes[116..122], b"070701");
        assert!(bytes.windows(10).any(|w| w == b"TRAILER!!!"));
        assert_eq!(bytes.len() % 4, 0);
    }
}
