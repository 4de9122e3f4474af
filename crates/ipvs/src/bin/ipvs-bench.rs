//! Benchmark inside the test VM (driven by `tests/vm_bench.rs`): program N
//! services × 5 destinations from an empty table with `ipvsadm -R` and with
//! `IpvsHandle::apply`, and list the full table with `ipvsadm -Ln` and with
//! `IpvsHandle::dump`, all in the same VM run. Prints one `RK-BENCH` line per
//! size. Only ratios within one run mean anything: the VM is emulated.
//!
//! Usage: `RK_IN_VM=1 ipvs-bench 1000 10000 50000`

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use rk_ipvs::{Destination, Forward, IpvsHandle, IpvsOp, Protocol, Service, ServiceKey};

const DESTS: u32 = 5;

fn service_key(i: u32) -> ServiceKey {
    ServiceKey::Tuple {
        proto: Protocol::Tcp,
        addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)),
        port: 80,
    }
}

fn dest_addr(i: u32, j: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0xac10_0000 + i * DESTS + j))
}

fn ops(n: u32) -> Vec<IpvsOp> {
    let mut ops = Vec::with_capacity((n * (DESTS + 1)) as usize);
    for i in 0..n {
        let key = service_key(i);
        ops.push(IpvsOp::AddService(Service::new(key, "wlc")));
        for j in 0..DESTS {
            ops.push(IpvsOp::AddDest {
                service: key,
                dest: Destination::new(dest_addr(i, j), 80, Forward::Masq),
            });
        }
    }
    ops
}

/// The same table in `ipvsadm -R` syntax.
fn rules(n: u32) -> String {
    let mut s = String::with_capacity(n as usize * 300);
    for i in 0..n {
        let vip = Ipv4Addr::from(0x0a00_0000 + i);
        s.push_str(&format!("-A -t {vip}:80 -s wlc\n"));
        for j in 0..DESTS {
            s.push_str(&format!(
                "-a -t {vip}:80 -r {}:80 -m -w 1\n",
                dest_addr(i, j)
            ));
        }
    }
    s
}

fn shell(cmd: &str) -> Result<Duration, String> {
    let t = Instant::now();
    let out = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    let took = t.elapsed();
    if !out.status.success() {
        return Err(format!(
            "{cmd}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(took)
}

async fn check_table(h: &mut IpvsHandle, n: u32) -> Result<Duration, String> {
    let t = Instant::now();
    let dump = h.dump().await.map_err(|e| e.to_string())?;
    let took = t.elapsed();
    let dests: usize = dump.iter().map(|s| s.dests.len()).sum();
    if dump.len() != n as usize || dests != (n * DESTS) as usize {
        return Err(format!(
            "dump has {} services, {dests} destinations; expected {n}, {}",
            dump.len(),
            n * DESTS
        ));
    }
    Ok(took)
}

async fn bench(h: &mut IpvsHandle, n: u32) -> Result<String, String> {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    h.apply_one(&IpvsOp::Flush)
        .await
        .map_err(|e| e.to_string())?;
    std::fs::write("/tmp/bench.rules", rules(n)).map_err(|e| e.to_string())?;
    let ops = ops(n);

    // ipvsadm programs the table, then both list it.
    let restore = shell("/usr/sbin/ipvsadm -R < /tmp/bench.rules")?;
    let list_theirs_1 = shell("/usr/sbin/ipvsadm -Ln > /tmp/list.txt")?;
    let dump_1 = check_table(h, n).await?;
    h.apply_one(&IpvsOp::Flush)
        .await
        .map_err(|e| e.to_string())?;

    // We program the same table, then both list it again.
    let t = Instant::now();
    let results = h.apply(&ops).await;
    let apply = t.elapsed();
    if let Some(e) = results.into_iter().find_map(Result::err) {
        return Err(e.to_string());
    }
    let dump_2 = check_table(h, n).await?;
    let list_theirs_2 = shell("/usr/sbin/ipvsadm -Ln > /tmp/list.txt")?;
    h.apply_one(&IpvsOp::Flush)
        .await
        .map_err(|e| e.to_string())?;

    let list_theirs = list_theirs_1.min(list_theirs_2);
    let dump = dump_1.min(dump_2);
    Ok(format!(
        "n={n} dests={} ops={} ipvsadm_restore_ms={:.0} rk_apply_ms={:.0} apply_speedup={:.1} \
         ipvsadm_list_ms={:.0} rk_dump_ms={:.0} dump_speedup={:.1}",
        n * DESTS,
        ops.len(),
        ms(restore),
        ms(apply),
        restore.as_secs_f64() / apply.as_secs_f64(),
        ms(list_theirs),
        ms(dump),
        list_theirs.as_secs_f64() / dump.as_secs_f64(),
    ))
}

fn main() -> ExitCode {
    if std::env::var_os("RK_IN_VM").is_none() {
        eprintln!(
            "ipvs-bench flushes the IPVS table; it runs in the test VM (set RK_IN_VM=1 to force)"
        );
        return ExitCode::from(2);
    }
    let sizes: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(async {
        let mut h = match IpvsHandle::connect().await {
            Ok(h) => h,
            Err(e) => {
                println!("RK-BENCH-ERROR {e}");
                return ExitCode::FAILURE;
            }
        };
        for n in sizes {
            match bench(&mut h, n).await {
                Ok(line) => println!("RK-BENCH {line}"),
                Err(e) => {
                    println!("RK-BENCH-ERROR n={n}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        ExitCode::SUCCESS
    })
}
