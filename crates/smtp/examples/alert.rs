//! Sends one keepalived alert through an SMTP relay and says how it went.
//!
//! `cargo run -p rk-smtp --example alert -- 127.0.0.1 25 ops@example.com`

use std::time::Duration;

use rk_smtp::alert::{Alert, VrrpState};
use rk_smtp::client::{Settings, send};
use rk_smtp::message::Message;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, port, to] = args.as_slice() else {
        eprintln!("usage: alert HOST PORT RECIPIENT");
        std::process::exit(2);
    };
    let Ok(port) = port.parse() else {
        eprintln!("bad port {port}");
        std::process::exit(2);
    };
    let alert = Alert::Instance {
        name: "VI_1".into(),
        state: VrrpState::Master,
    };
    let msg = Message::new(
        "keepalived@localhost",
        std::slice::from_ref(to),
        &alert.subject("example"),
        &alert.body(),
    );
    let settings = Settings {
        host: host.clone(),
        port,
        helo: "localhost".into(),
        timeout: Duration::from_secs(10),
    };
    match send(&settings, &msg).await {
        Ok(()) => println!("sent: {}", msg.subject),
        Err(e) => {
            eprintln!("not sent: {e}");
            std::process::exit(1);
        }
    }
}
