//! Debian's keepalived package ships sample configurations. All of them must load, in
//! `--lenient` mode, except the few that carry real mistakes, which must be refused
//! for exactly those mistakes. (The samples are read from the installed package at test
//! time; they are keepalived's text and are not copied into this repository.)
//!
//! Needs the `keepalived` package (`scripts/test` installs it). Set
//! `RK_SKIP_KEEPALIVED_SAMPLES=1` to skip on a machine without it.

use std::path::Path;

use rk_config::{LoadOptions, Severity, load_file};

const SAMPLES: &str = "/usr/share/doc/keepalived/samples";

/// Samples that keepalived itself reports errors for, and an error we must give.
const REFUSED: &[(&str, &str)] = &[
    // `state MASTER` with AH: keepalived resets the state and reports a config error.
    (
        "keepalived.conf.SSL_GET",
        "AH authentication cannot start in state MASTER",
    ),
    // 192.168.200.18 is listed twice in one instance.
    ("keepalived.conf.vrrp", "lists 192.168.200.18 twice"),
    // Without `-i high` or `-i low`, the script line is conditioned away.
    (
        "keepalived.conf.conditional_conf",
        "vrrp_script check_VI_0 has no 'script'",
    ),
    // The old `vrrp_sync_group NAME { VI_1 VI_2 }` form without `group { }`.
    ("keepalived.conf.vrrp.lvs_syncd", "has no member instances"),
    // `192.168.100./24` is not an address.
    (
        "keepalived.conf.vrrp.rules",
        "is not an address with an optional /prefix length",
    ),
];

#[test]
fn keepalived_samples_load_or_fail_for_their_known_mistakes() {
    if std::env::var_os("RK_SKIP_KEEPALIVED_SAMPLES").is_some() {
        return;
    }
    let dir = Path::new(SAMPLES);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| {
            panic!("{SAMPLES}: {e}; install keepalived or set RK_SKIP_KEEPALIVED_SAMPLES=1")
        })
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("keepalived.conf."))
        .collect();
    names.sort();
    assert!(
        names.len() >= 20,
        "expected Debian's 25 samples, found {}",
        names.len()
    );
    let opts = LoadOptions {
        lenient: true,
        ..LoadOptions::for_tests()
    };
    for name in &names {
        let result = load_file(&dir.join(name), &opts);
        match (REFUSED.iter().find(|(n, _)| n == name), result) {
            (None, Ok(_)) => {}
            (None, Err(e)) => panic!("{name} was refused:\n{}", e.render()),
            (Some(_), Ok(_)) => panic!("{name} loaded but carries a known mistake"),
            (Some((_, why)), Err(e)) => {
                let errors: Vec<&str> = e
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .map(|d| d.message.as_str())
                    .collect();
                assert!(
                    errors.iter().any(|m| m.contains(why)),
                    "{name}: expected an error containing '{why}', got {errors:?}"
                );
            }
        }
    }
}
