//! Benchmark inside the test VM (driven by `tests/vm_bench.rs`): program N
//! services × 5 destinations from an empty table with `ipvsadm -R` and with
//! `IpvsHandle::apply`, and list the full table with `ipvsadm -Ln` and with
//! `IpvsHandle::dump`, all in the same VM run. Prints one `RK-BENCH` line per
//! size. Only ratios within one run mean anything: the VM is emulated.
//!
//! Usage: `RK_IN_VM=1 unshare -n ipvs-bench theirs|ours N` (one fresh
//! network namespace, so one fresh IPVS table, per run).
//!
//! Besides the totals it prints `rk_services_ms`, the service dump alone
//! (part of `rk_dump_ms`), to show how the dump's time splits between the
//! one service dump and the per-service destination dumps.

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

/// One side of the comparison, run in a fresh network namespace (its own
/// IPVS table): `theirs` programs with `ipvsadm -R`, `ours` with `apply`;
/// both then list the table with `ipvsadm -Ln` and with `dump`.
///
/// A fresh namespace per side matters: the kernel keeps deleted
/// destinations in a per-namespace trash list for a minute and scans it on
/// every destination add, so whichever side ran second after a flush
/// would pay a quadratic penalty.
async fn bench(h: &mut IpvsHandle, side: &str, n: u32) -> Result<String, String> {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let program = match side {
        "theirs" => {
            std::fs::write("/tmp/bench.rules", rules(n)).map_err(|e| e.to_string())?;
            shell("/usr/sbin/ipvsadm -R < /tmp/bench.rules")?
        }
        _ => {
            let ops = ops(n);
            let t = Instant::now();
            let results = h.apply(&ops).await;
            let took = t.elapsed();
            if let Some(e) = results.into_iter().find_map(Result::err) {
                return Err(e.to_string());
            }
            took
        }
    };
    let list = shell("/usr/sbin/ipvsadm -Ln > /tmp/list.txt")?;
    let dump = check_table(h, n).await?;
    let t = Instant::now();
    let services = h.services().await.map_err(|e| e.to_string())?;
    let services_took = t.elapsed();
    if services.len() != n as usize {
        return Err(format!("{} services, expected {n}", services.len()));
    }
    Ok(format!(
        "side={side} n={n} program_ms={:.0} ipvsadm_list_ms={:.0} rk_dump_ms={:.0} rk_services_ms={:.0}",
        ms(program),
        ms(list),
        ms(dump),
        ms(services_took)
    ))
}

fn main() -> ExitCode {
    if std::env::var_os("RK_IN_VM").is_none() {
        eprintln!(
            "ipvs-bench flushes the IPVS table; it runs in the test VM (set RK_IN_VM=1 to force)"
        );
        return ExitCode::from(2);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (side, n) = match (
        args.first().map(String::as_str),
        args.get(1).and_then(|n| n.parse::<u32>().ok()),
    ) {
        (Some(side @ ("ours" | "theirs")), Some(n)) => (side.to_owned(), n),
        _ => {
            eprintln!("usage: ipvs-bench ours|theirs N");
            return ExitCode::from(2);
        }
    };
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
        match bench(&mut h, &side, n).await {
            Ok(line) => println!("RK-BENCH {line}"),
            Err(e) => {
                println!("RK-BENCH-ERROR {side} n={n}: {e}");
                return ExitCode::FAILURE;
            }
        }
        ExitCode::SUCCESS
    })
}
