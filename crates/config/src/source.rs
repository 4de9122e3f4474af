//! Where configuration text came from: the files read (main file and includes) and
//! positions inside them.

use std::fmt;
use std::path::{Path, PathBuf};

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A position in a configuration file: 1-based line and column (in characters), and the
/// length of the text it covers (in characters, at least 1 for underlining).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, counted in characters (not bytes).
    pub col: u32,
    /// Length in characters of the text this span covers.
    pub len: u32,
}

impl Span {
    /// A span of `len` characters at `line:col` in `file`.
    pub fn new(file: FileId, line: u32, col: u32, len: u32) -> Self {
        Span {
            file,
            line,
            col,
            len,
        }
    }
}

/// One file that was read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as it was opened (absolute if it was given so, else relative to the
    /// working directory).
    pub path: PathBuf,
    /// The file's text, kept for diagnostics snippets.
    pub text: String,
    /// Byte offsets of the start of each line, computed when a diagnostic first needs
    /// them (most loads need none).
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

impl SourceFile {
    fn new(path: PathBuf, text: String) -> Self {
        SourceFile {
            path,
            text,
            line_starts: std::sync::OnceLock::new(),
        }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            let mut starts = vec![0];
            starts.extend(self.text.match_indices('\n').map(|(i, _)| i + 1));
            starts
        })
    }

    /// The text of 1-based line `line`, without its line terminator.
    pub fn line(&self, line: u32) -> Option<&str> {
        let idx = (line as usize).checked_sub(1)?;
        let starts = self.line_starts();
        let start = *starts.get(idx)?;
        let end = starts
            .get(idx + 1)
            .map(|e| e - 1)
            .unwrap_or(self.text.len());
        let s = self.text.get(start..end)?;
        Some(s.strip_suffix('\r').unwrap_or(s))
    }

    /// Number of lines in the file.
    pub fn line_count(&self) -> usize {
        if self.text.is_empty() {
            0
        } else if self.text.ends_with('\n') {
            self.line_starts().len() - 1
        } else {
            self.line_starts().len()
        }
    }
}

/// Every file read while loading one configuration.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a file's text and returns its id.
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile::new(path, text));
        id
    }

    /// Sets the text of a file registered with an empty text (lets the reader use the
    /// text while it reports into the map, without copying it).
    pub fn set_text(&mut self, id: FileId, text: String) {
        if let Some(f) = self.files.get_mut(id.0 as usize) {
            let path = std::mem::take(&mut f.path);
            *f = SourceFile::new(path, text);
        }
    }

    /// The file behind `id`.
    pub fn file(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// The path of `id`, or `<unknown>`.
    pub fn path(&self, id: FileId) -> &Path {
        self.file(id)
            .map(|f| f.path.as_path())
            .unwrap_or(Path::new("<unknown>"))
    }

    /// All files, in the order they were read.
    pub fn files(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter()
    }

    /// `file:line:column` for a span.
    pub fn locate(&self, span: Span) -> Location<'_> {
        Location {
            path: self.path(span.file),
            line: span.line,
            col: span.col,
        }
    }
}

/// A displayable `file:line:column`.
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    /// File path.
    pub path: &'a Path,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_found_with_and_without_trailing_newline() {
        let mut m = SourceMap::new();
        let a = m.add("a".into(), "one\r\ntwo\nthree".into());
        let f = m.file(a).unwrap();
        assert_eq!(f.line(1), Some("one"));
        assert_eq!(f.line(2), Some("two"));
        assert_eq!(f.line(3), Some("three"));
        assert_eq!(f.line(4), None);
        assert_eq!(f.line(0), None);
        assert_eq!(f.line_count(), 3);
        let b = m.add("b".into(), "x\n".into());
        assert_eq!(m.file(b).unwrap().line_count(), 1);
        assert_eq!(
            m.locate(Span::new(b, 1, 1, 1)).to_string(),
            "b:1:1".to_string()
        );
    }
}
