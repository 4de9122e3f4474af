//! Generated keepalived.conf files for the reload benchmarks: the same text for the
//! daemon's reload benchmark (`crates/rkeepalived/tests/reload_bench.rs`) and the
//! configuration reader's (`crates/config/benches/load.rs`).

use std::fmt::Write as _;

/// One VRRP instance holding the VIP 10.0.0.100, then `services` LVS-NAT virtual servers
/// on it (ports from 1024, `delay_loop 3600`) with `reals` real servers each. With
/// `checks`, each real server has a TCP_CHECK against 10.0.0.11:80 (web1's httpd in the
/// lab). Real server number `n` (counting through the whole file) has weight 2 when
/// `changed(n)`, else 1.
pub fn reload_bench_conf(
    services: usize,
    reals: usize,
    checks: bool,
    changed: impl Fn(usize) -> bool,
) -> String {
    let mut t = String::with_capacity(services * reals * 160);
    t.push_str(
        "vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    virtual_router_id 51\n    \
         priority 150\n    advert_int 1\n    virtual_ipaddress {\n        10.0.0.100/24\n    }\n}\n",
    );
    let mut n = 0;
    for s in 0..services {
        let port = 1024 + s;
        let _ = writeln!(
            t,
            "virtual_server 10.0.0.100 {port} {{\n    delay_loop 3600\n    lb_algo rr\n    \
             lb_kind NAT\n    protocol TCP"
        );
        for r in 0..reals {
            let weight = if changed(n) { 2 } else { 1 };
            n += 1;
            let _ = write!(
                t,
                "    real_server 172.16.{}.{} {port} {{\n        weight {weight}\n",
                r / 250,
                r % 250 + 1
            );
            if checks {
                t.push_str(
                    "        TCP_CHECK {\n            connect_ip 10.0.0.11\n            \
                     connect_port 80\n            connect_timeout 5\n        }\n",
                );
            }
            t.push_str("    }\n");
        }
        t.push_str("}\n");
    }
    t
}
