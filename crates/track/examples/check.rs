//! Runs a command as a `vrrp_script` would — every interval, killed with its process
//! group at the timeout, rise 2 / fall 2, under script security — and prints each state
//! change, until Ctrl-C.
//!
//! `cargo run -p rk-track --example check -- /usr/bin/pgrep haproxy`

use std::sync::Arc;
use std::time::Duration;

use rk_track::exec::Script;
use rk_track::script::ScriptTracker;
use rk_track::security::Security;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() {
        eprintln!("usage: check PROGRAM [ARGS...]");
        std::process::exit(2);
    }
    let t = ScriptTracker {
        name: "check".into(),
        script: Script { argv, run_as: None },
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        rise: 2,
        fall: 2,
        init_fail: false,
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(t.run(
        Arc::new(Security::new(true)),
        |state| println!("check is {state:?}"),
        stop,
    ));
    let _ = tokio::signal::ctrl_c().await;
    let _ = stop_tx.send(true);
    let _ = run.await;
}
