//! `rkeepalived -t` end to end: exit codes, diagnostics on stderr, the JSON dump on
//! stdout, and that it never hangs.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn rkeepalived(args: &[&str]) -> Output {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rkeepalived"))
        .args(args)
        .output()
        .expect("run rkeepalived");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "rkeepalived {args:?} took too long"
    );
    out
}

fn fixture(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../config/tests/fixtures")
        .join(rel);
    p.to_string_lossy().into_owned()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn valid_config_exits_zero() {
    let out = rkeepalived(&["-t", "-f", &fixture("seed/master-backup.node130.conf")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("configuration is valid (1 vrrp_instance"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn invalid_config_exits_three_with_located_diagnostics() {
    let out = rkeepalived(&[
        "--config-test",
        "-f",
        &fixture("seed/master-master.node130.conf"),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("master-master.node130.conf:39:9"), "{err}");
    assert!(err.contains("172.16.15.99 is a VIP of vrrp_instance VI_1 and of vrrp_instance VI_2"));
    assert!(err.contains("configuration refused"));
}

#[test]
fn missing_file_is_an_error() {
    let out = rkeepalived(&["-t", "-f", "/nonexistent/rk-test/keepalived.conf"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

#[test]
fn dump_conf_prints_the_model_as_json() {
    let out = rkeepalived(&[
        "-t",
        "-d",
        "-f",
        &fixture("seed/master-backup.node131.conf"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let vi = &v["vrrp_instances"][0];
    assert_eq!(vi["name"], "VI_1");
    assert_eq!(vi["priority"], 96);
    assert_eq!(vi["state"], "BACKUP");
    assert_eq!(vi["mcast_group"], "224.1.101.33");
    assert_eq!(vi["virtual_ipaddress"][0]["label"], "eth0:0");
}

#[test]
fn lenient_turns_unknown_keywords_into_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        &dir,
        "k.conf",
        "global_defs {\n    lvs_id LVS_1\n}\nvrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 1\n    virtual_ipaddress { 10.0.0.1 }\n}\n",
    );
    let strict = rkeepalived(&["-t", "-f", &conf]);
    assert_eq!(strict.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&strict.stderr)
            .contains("error: unknown keyword 'lvs_id' in global_defs")
    );
    let lenient = rkeepalived(&["-t", "--lenient", "-f", &conf]);
    assert_eq!(lenient.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&lenient.stderr).contains("warning: unknown keyword 'lvs_id'"));
}

#[test]
fn config_id_selects_conditional_lines() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        &dir,
        "k.conf",
        "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 1\n    @main priority 200\n    @^main priority 100\n    virtual_ipaddress { 10.0.0.1 }\n}\n",
    );
    for (id, prio) in [("main", 200), ("backup", 100)] {
        let out = rkeepalived(&["-t", "-d", "-i", id, "-f", &conf]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["vrrp_instances"][0]["priority"], prio, "config id {id}");
    }
}

#[test]
fn config_test_log_file_receives_the_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(&dir, "k.conf", "vrrp_instance VI_1 {\n  prority 1\n}\n");
    let log = dir.path().join("test.log");
    let arg = format!("--config-test={}", log.display());
    let out = rkeepalived(&[&arg, "-f", &conf]);
    assert_eq!(out.status.code(), Some(3));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("k.conf:2:3"), "{text}");
    assert!(text.contains("did you mean 'priority'?"));
}

#[test]
fn signum_and_version() {
    let out = rkeepalived(&["--signum=RELOAD"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    let out = rkeepalived(&["--signum=BOGUS"]);
    assert_ne!(out.status.code(), Some(0));
    let out = rkeepalived(&["-v"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("rkeepalived "));
}

/// What starting would refuse is refused by `-t` too: a `virtual_routes` option the
/// kernel would not get (here `rtt`) is named with its instance and line.
#[test]
fn unsupported_route_option_is_refused_by_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let conf = |route: &str| {
        format!(
            "vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 51\n    priority 100\n    \
             virtual_ipaddress {{\n        10.0.0.100/24\n    }}\n    virtual_routes {{\n        {route}\n    }}\n}}\n"
        )
    };
    let good = write(
        &dir,
        "good.conf",
        &conf("10.1.0.0/16 via 10.0.0.254 table 100"),
    );
    let out = rkeepalived(&["-t", "-f", &good]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = write(&dir, "bad.conf", &conf("10.1.0.0/16 via 10.0.0.254 rtt 3"));
    let out = rkeepalived(&["-t", "-f", &bad]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("vrrp_instance VI_1: virtual_routes line 9 (10.1.0.0/16): option 'rtt 3' is not supported by rkeepalived"),
        "{err}"
    );
}
