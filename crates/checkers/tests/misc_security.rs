//! MISC_CHECK under `enable_script_security` (rk-track's check, made before every run): a
//! root-run script that a non-root user could modify — the file, or a directory on its
//! path — is refused with a message naming the path and why, and the refusal is a failed
//! check; fixing the permission lets the next run go ahead. Scripts run as a non-root
//! `user`, or with the option off, are not refused.
//!
//! These tests need root (to own the files as root and give them to another uid); they
//! say so and return early otherwise.

use std::io::Write;
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rk_checkers::probe::*;
use rk_checkers::{CheckerId, CheckerSpec, EventKind, RealServerId, Runner, RunnerOptions, Timing};
use tokio::sync::mpsc;

const MS: Duration = Duration::from_millis(1);

fn is_root() -> bool {
    nix::unistd::Uid::effective().is_root()
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `BASE/scripts/check.sh` (exit 0), everything root-owned and 0755; `BASE` itself is
/// 0755 under the sticky /tmp.
fn safe_script() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let base = tempfile::tempdir().unwrap();
    chmod(base.path(), 0o755);
    let dir = base.path().join("scripts");
    std::fs::create_dir(&dir).unwrap();
    chmod(&dir, 0o755);
    let file = dir.join("check.sh");
    std::fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap();
    chmod(&file, 0o755);
    (base, dir, file)
}

fn misc(file: &Path, user: Option<(u32, u32)>, security: bool) -> ProbeSpec {
    ProbeSpec::Misc(MiscSpec {
        argv: vec![file.display().to_string()],
        timeout: MS * 5000,
        dynamic: false,
        user,
        security,
    })
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Log lines of this thread at INFO and above (each test sets its own, so the callsites'
/// cached interest never depends on which test ran first).
fn capture_logs() -> (Buf, tracing::subscriber::DefaultGuard) {
    let buf = Buf::default();
    let sink = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .without_time()
        .with_writer(move || sink.clone())
        .finish();
    (buf, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn an_unsafe_misc_script_is_refused_at_each_run_naming_the_path() {
    if !is_root() {
        eprintln!("not root: skipping (the check is about root-owned files)");
        return;
    }
    let (log, _guard) = capture_logs();
    let (_base, dir, file) = safe_script();
    let probe = PreparedProbe::new(&misc(&file, None, true)).unwrap();
    assert_eq!(probe.run(0).await.result, Ok(ProbeSuccess::default()));

    // A parent directory made world-writable after start: the next run is refused.
    chmod(&dir, 0o777);
    let r = probe.run(0).await.result;
    let Err(ProbeError::Refused(why)) = &r else {
        panic!("{r:?}")
    };
    assert!(
        why.contains(&format!(
            "{} is writable by everyone (mode 0777)",
            dir.display()
        )) && why.contains(&file.display().to_string()),
        "{why}"
    );
    // Group-writable by a non-root group.
    chmod(&dir, 0o775);
    chown(&dir, None, Some(1000)).unwrap();
    let r = probe.run(0).await.result;
    assert!(
        matches!(&r, Err(ProbeError::Refused(w)) if w.contains(&format!("{} is writable by group 1000", dir.display()))),
        "{r:?}"
    );
    chown(&dir, None, Some(0)).unwrap();
    chmod(&dir, 0o755);
    assert_eq!(probe.run(0).await.result, Ok(ProbeSuccess::default()));

    // The script itself owned by another user.
    chown(&file, Some(1000), None).unwrap();
    let r = probe.run(0).await.result;
    assert!(
        matches!(&r, Err(ProbeError::Refused(w)) if w.contains(&format!("{} is owned by uid 1000, not root", file.display()))),
        "{r:?}"
    );

    // The same unsafe script, run as a non-root user: nothing to protect, it runs.
    chmod(&dir, 0o777);
    let as_nobody = PreparedProbe::new(&misc(&file, Some((65534, 65534)), true)).unwrap();
    assert_eq!(as_nobody.run(0).await.result, Ok(ProbeSuccess::default()));
    // Without enable_script_security it runs as root, and is warned about once.
    let open = PreparedProbe::new(&misc(&file, None, false)).unwrap();
    assert_eq!(open.run(0).await.result, Ok(ProbeSuccess::default()));
    assert_eq!(open.run(0).await.result, Ok(ProbeSuccess::default()));
    let text = log.text();
    let warned: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("SECURITY VIOLATION"))
        .collect();
    assert_eq!(warned.len(), 1, "{text}");
    assert!(
        warned[0].trim_start().starts_with("WARN ") && warned[0].contains("writable by everyone"),
        "{text}"
    );
}

/// Through the runner: a refused script takes its checker down with the refusal as the
/// reason, logged once at error level while it lasts; fixed, the checker comes back up.
#[tokio::test]
async fn a_refused_misc_script_is_a_failing_check_and_is_logged() {
    if !is_root() {
        eprintln!("not root: skipping (the check is about root-owned files)");
        return;
    }
    // The runner runs on this test's thread: a thread-local subscriber sees its lines.
    let (buf, _guard) = capture_logs();
    let text = || buf.text();

    let (_base, dir, file) = safe_script();
    chmod(&dir, 0o777);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner::spawn(RunnerOptions { seed: Some(9) }, tx);
    let timing = Timing {
        delay_loop: MS * 100,
        delay_before_retry: MS * 100,
        retry: 0,
        warmup: Duration::ZERO,
        alpha: false,
    };
    runner
        .apply(vec![CheckerSpec {
            id: CheckerId(1),
            real_server: RealServerId(1),
            timing,
            probe: misc(&file, None, true),
        }])
        .await
        .unwrap();
    let next = async |rx: &mut mpsc::UnboundedReceiver<_>| {
        tokio::time::timeout(MS * 3000, rx.recv())
            .await
            .expect("event in time")
            .expect("runner alive")
    };
    let ev: rk_checkers::CheckerEvent = next(&mut rx).await;
    assert_eq!(ev.kind, EventKind::Down);
    assert!(
        matches!(&ev.reason, Some(ProbeError::Refused(w)) if w.contains(&dir.display().to_string())),
        "{ev:?}"
    );
    // Several refused runs, one log line.
    tokio::time::sleep(MS * 450).await;
    let log = text();
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("refusing to run"))
        .collect();
    assert_eq!(refusals.len(), 1, "{log}");
    assert!(
        refusals[0].starts_with("ERROR ")
            && refusals[0].contains(&format!("MISC_CHECK {}", file.display()))
            && refusals[0].contains("writable by everyone"),
        "{log}"
    );

    chmod(&dir, 0o755);
    let ev = next(&mut rx).await;
    assert_eq!(ev.kind, EventKind::Up);
    assert!(
        text().contains("no longer refused by enable_script_security"),
        "{}",
        text()
    );
    runner.shutdown().await;
}
