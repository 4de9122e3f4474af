//! Runs one probe and prints its result and latency.
//!
//! ```text
//! cargo run -p rk-checkers --example probe -- tcp 127.0.0.1:80
//! cargo run -p rk-checkers --example probe -- http 127.0.0.1:8080 /health
//! cargo run -p rk-checkers --example probe -- ping 127.0.0.1
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use rk_checkers::probe::{
    ConnOpts, HttpProtocol, HttpSpec, PingSpec, PreparedProbe, ProbeSpec, TcpSpec, UrlSpec,
};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: probe tcp ADDR:PORT | http ADDR:PORT PATH | ping ADDR";
    let (Some(kind), Some(target)) = (args.first(), args.get(1)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let addr: SocketAddr = match kind.as_str() {
        "ping" => format!("{target}:0")
            .parse()
            .or_else(|_| format!("[{target}]:0").parse()),
        _ => target.parse(),
    }
    .unwrap_or_else(|e| {
        eprintln!("{target}: {e}\n{usage}");
        std::process::exit(2);
    });
    let conn = ConnOpts::new(addr).with_timeout(Duration::from_secs(3));
    let spec = match kind.as_str() {
        "tcp" => ProbeSpec::Tcp(TcpSpec { conn }),
        "ping" => ProbeSpec::Ping(PingSpec { conn }),
        "http" => ProbeSpec::Http(HttpSpec {
            conn,
            tls: None,
            protocol: HttpProtocol::V10,
            virtualhost: None,
            urls: vec![UrlSpec::new(
                args.get(2).cloned().unwrap_or_else(|| "/".into()),
            )],
            fast_recovery: false,
        }),
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let probe = match PreparedProbe::new(&spec) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let report = probe.run(0).await;
    match report.result {
        Ok(_) => println!("{} UP in {:?}", spec.kind(), report.latency),
        Err(e) => println!("{} DOWN in {:?}: {e}", spec.kind(), report.latency),
    }
}
