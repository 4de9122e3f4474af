//! Writes a large LVS configuration for benchmarks: N virtual servers, each with R real
//! servers carrying a TCP_CHECK, plus a VRRP pair of instances.
//!
//! `cargo run --release -p rk-config --example gen_lvs_config -- 10000 4 > big.conf`

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let services: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let reals: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let mut out = BufWriter::new(std::io::stdout().lock());
    writeln!(out, "global_defs {{\n    router_id bench\n}}")?;
    writeln!(
        out,
        "vrrp_instance VI_1 {{\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    priority 150\n    advert_int 1\n    virtual_ipaddress {{\n        10.255.255.1/32\n    }}\n}}"
    )?;
    for s in 0..services {
        // 10.x.y.z VIPs, 172.16.x.y real servers: unique and valid for any count < 2^24.
        let vip = 0x0a00_0000u32 + s + 1;
        writeln!(
            out,
            "virtual_server {}.{}.{}.{} 80 {{\n    delay_loop 6\n    lb_algo wrr\n    lb_kind DR\n    persistence_timeout 50\n    protocol TCP\n",
            vip >> 24,
            (vip >> 16) & 0xff,
            (vip >> 8) & 0xff,
            vip & 0xff
        )?;
        for r in 0..reals {
            let rip = 0xac10_0000u32 + s * reals + r + 1;
            writeln!(
                out,
                "    real_server {}.{}.{}.{} 80 {{\n        weight 1\n        TCP_CHECK {{\n            connect_timeout 3\n            retry 3\n            delay_before_retry 3\n        }}\n    }}",
                rip >> 24,
                (rip >> 16) & 0xff,
                (rip >> 8) & 0xff,
                rip & 0xff
            )?;
        }
        writeln!(out, "}}")?;
    }
    out.flush()
}
