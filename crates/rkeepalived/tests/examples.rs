//! The example configurations shipped in `conf/` pass `rkeepalived -t`.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn shipped_examples_are_valid() {
    let conf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conf");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&conf).unwrap().flatten() {
        if dir.path().is_dir() {
            for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
                if f.path().extension().is_some_and(|e| e == "conf") {
                    files.push(f.path());
                }
            }
        }
    }
    assert!(files.len() >= 4, "examples went missing: {files:?}");
    for f in files {
        let out = Command::new(env!("CARGO_BIN_EXE_rkeepalived"))
            .arg("-t")
            .arg("-f")
            .arg(&f)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}:\n{}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
