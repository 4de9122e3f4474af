//! Runs the VRRP instances of a keepalived.conf in the foreground until Ctrl-C, printing
//! every state change: the library behind `rkeepalived -P`, in thirty lines. Needs root.
//!
//! `cargo run -p rk-vrrp --example run -- /etc/keepalived/keepalived.conf`

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| rk_config::DEFAULT_CONFIG_FILE.into());
    let loaded =
        rk_config::load_file(&path, &rk_config::LoadOptions::default()).map_err(|e| e.render())?;
    let (plan, warnings) = rk_vrrp::from_config::plan(&loaded.config)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let vrrp = rk_vrrp::start(plan, rk_vrrp::Options::default())?;
    let mut events = vrrp.subscribe();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                Ok(rk_vrrp::VrrpEvent::StateChange { instance, from, to, reason, .. }) = events.recv() => {
                    println!("({instance}) {from} -> {to} ({})", rk_vrrp::status::reason_text(reason));
                }
            }
        }
    });
    // Priority 0 from masters, VIPs removed, VMACs deleted.
    vrrp.stop();
    Ok(())
}
