//! Golden tests: every `tests/fixtures/**/NAME.conf` is loaded and compared with
//! `NAME.json` (the model, when it loads) or `NAME.err` (the rendered diagnostics, when
//! it is refused); warnings of a configuration that loads go to `NAME.warn`.
//!
//! A first line `# rk-test: config-id=ID lenient` sets load options. Files under a
//! directory named `inc` are only included by others.
//!
//! `RK_UPDATE_GOLDEN=1 cargo test -p rk-config --test golden` rewrites the expected files;
//! review the diff before committing.

use std::path::{Path, PathBuf};

use rk_config::{LoadOptions, load_file};

fn fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "inc") {
                fixtures(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "conf") {
            out.push(p);
        }
    }
}

fn options(path: &Path) -> LoadOptions {
    let mut o = LoadOptions::for_tests();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    if let Some(rest) = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# rk-test:"))
    {
        for word in rest.split_whitespace() {
            match word.split_once('=') {
                Some(("config-id", id)) => o.config_id = id.to_string(),
                None if word == "lenient" => o.lenient = true,
                _ => panic!("{}: unknown rk-test option '{word}'", path.display()),
            }
        }
    }
    o
}

/// Compares `actual` with the file at `expected`, or rewrites it when asked.
fn check(expected: &Path, actual: &str, failures: &mut Vec<String>) {
    let update = std::env::var_os("RK_UPDATE_GOLDEN").is_some();
    match std::fs::read_to_string(expected) {
        Ok(e) if e == actual => {}
        _ if update => std::fs::write(expected, actual).unwrap(),
        Ok(e) => failures.push(format!(
            "{} differs:\n--- expected\n{e}\n--- actual\n{actual}",
            expected.display()
        )),
        Err(_) => failures.push(format!(
            "{} is missing; actual:\n{actual}",
            expected.display()
        )),
    }
}

fn remove_if_stale(p: &Path, failures: &mut Vec<String>) {
    if p.exists() {
        if std::env::var_os("RK_UPDATE_GOLDEN").is_some() {
            std::fs::remove_file(p).unwrap();
        } else {
            failures.push(format!("{} should not exist", p.display()));
        }
    }
}

#[test]
fn fixtures_match_their_expected_output() {
    // Paths in diagnostics are relative to the crate, so they are the same everywhere.
    let root = Path::new("tests/fixtures");
    let mut all = Vec::new();
    fixtures(root, &mut all);
    let mut failures = Vec::new();
    for conf in &all {
        let json = conf.with_extension("json");
        let err = conf.with_extension("err");
        let warn = conf.with_extension("warn");
        match load_file(conf, &options(conf)) {
            Ok(loaded) => {
                let mut model = serde_json::to_string_pretty(&loaded.config).unwrap();
                model.push('\n');
                check(&json, &model, &mut failures);
                remove_if_stale(&err, &mut failures);
                if loaded.diagnostics.is_empty() {
                    remove_if_stale(&warn, &mut failures);
                } else {
                    check(&warn, &loaded.render_warnings(), &mut failures);
                }
            }
            Err(rejected) => {
                check(&err, &rejected.render(), &mut failures);
                remove_if_stale(&json, &mut failures);
                remove_if_stale(&warn, &mut failures);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(all.len() >= 40, "fixtures went missing: only {}", all.len());
}
