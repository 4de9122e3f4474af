//! The checks, in the order they run (each leaves the table flushed).

use std::fmt::Write as _;

use rk_ipvs::{
    Daemon, DestKey, Destination, Forward, IpvsError, IpvsHandle, IpvsOp, OpErrorKind, Protocol,
    Service, ServiceKey, SyncRole, Timeouts,
};

use crate::rules::{Table, diff, parse_rules, table_of_dump};
use crate::{Suite, sh};

const IPVSADM: &str = "/usr/sbin/ipvsadm";

/// Every service and destination option `ipvsadm` can express, in its own
/// syntax. Non-NAT destinations use the service port: `ipvsadm` forces it.
const OPTIONS_TABLE: &str = "\
-A -t 10.0.0.1:80 -s wlc
-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m -w 1
-a -t 10.0.0.1:80 -r 10.1.0.2:8080 -m -w 5 -x 100 -y 10
-a -t 10.0.0.1:80 -r 10.1.0.3:80 -g -w 0
-A -u 10.0.0.2:53 -s rr -p 300 -M 255.255.255.0
-a -u 10.0.0.2:53 -r 10.1.0.3:53 -g -w 2
-A --sctp-service 10.0.0.3:3868 -s sh -b sh-fallback,sh-port
-a --sctp-service 10.0.0.3:3868 -r 10.1.0.4:3868 -i -w 1
-A -t [2001:db8::1]:443 -s mh -b mh-port -p 600 -M 64
-a -t [2001:db8::1]:443 -r [2001:db8:1::1]:443 -g -w 3
-a -t [2001:db8::1]:443 -r [2001:db8:1::2]:443 -i --tun-type gue --tun-port 6080 --tun-csum -w 1
-a -t [2001:db8::1]:443 -r [2001:db8:1::3]:443 -i --tun-type gre --tun-csum -w 1
-a -t [2001:db8::1]:443 -r [2001:db8:1::4]:443 -i --tun-type gue --tun-port 6081 --tun-remcsum -w 1
-A -f 42 -s lc -p 60
-a -f 42 -r 10.1.0.5:0 -g -w 1
-A -f 43 -6 -s wrr
-a -f 43 -6 -r [2001:db8:1::5]:0 -g -w 4
-A -u 10.0.0.4:0 -s rr -o -p 120
-a -u 10.0.0.4:0 -r 10.1.0.6:0 -g -w 1
-A -t 10.0.0.5:80 -s wlc
-a -t 10.0.0.5:80 -r [2001:db8:1::6]:80 -i -w 1
-A -u 10.0.0.9:5060 -s rr -p 60 --pe sip
-a -u 10.0.0.9:5060 -r 10.1.0.9:5060 -g -w 1
";

fn full_table() -> Result<Table, String> {
    parse_rules(&table_text())
}

/// The schedulers Debian's 6.1 kernel ships (same list as rk-testkit's
/// `IPVS_SCHEDULERS`; repeated because this binary runs inside the VM).
fn rk_testkit_schedulers() -> [&'static str; 13] {
    [
        "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
    ]
}

/// The operations that create `table` from empty.
pub(crate) fn ops_for(table: &Table) -> Vec<IpvsOp> {
    let mut ops: Vec<IpvsOp> = table
        .values()
        .map(|(s, _)| IpvsOp::AddService(s.clone()))
        .collect();
    for (key, (_, dests)) in table {
        ops.extend(dests.values().map(|d| IpvsOp::AddDest {
            service: *key,
            dest: *d,
        }));
    }
    ops
}

pub(crate) async fn flush(h: &mut IpvsHandle) -> Result<(), String> {
    h.apply_one(&IpvsOp::Flush).await.map_err(|e| e.to_string())
}

pub(crate) fn all_ok(results: Vec<Result<(), IpvsError>>) -> Result<(), String> {
    let errs: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err())
        .map(|e| e.to_string())
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("\n"))
    }
}

pub async fn run_all(suite: &mut Suite) {
    let mut h = match IpvsHandle::connect().await {
        Ok(h) => h,
        Err(e) => {
            suite.check("connect", Err(e.to_string()));
            return;
        }
    };
    suite.check("connect", Ok(()));
    suite.check("info matches ipvsadm", info(&mut h).await);
    let table = match full_table() {
        Ok(t) => t,
        Err(e) => {
            suite.check("options table parses", Err(e));
            return;
        }
    };
    suite.check(
        "ours -> ipvsadm -S -n and -Ln",
        ours_to_ipvsadm(&mut h, &table).await,
    );
    suite.check(
        "ipvsadm -R -> our dump",
        ipvsadm_to_ours(&mut h, &table).await,
    );
    suite.check("edit service and destination in place", edits(&mut h).await);
    suite.check(
        "batch maps each error to its operation",
        batch_errors(&mut h).await,
    );
    suite.check(
        "typed errors name the operation",
        typed_errors(&mut h).await,
    );
    suite.check("timeouts get/set", timeouts(&mut h).await);
    suite.check("sync daemons start/stop both ways", daemons(&mut h).await);
    suite.check("zero and flush", zero_and_flush(&mut h, &table).await);
    suite.check(
        "kernel replies round-trip byte for byte",
        crate::fixtures::fixtures(&mut h, &table).await,
    );
    let _ = flush(&mut h).await;
}

async fn info(h: &mut IpvsHandle) -> Result<(), String> {
    let info = h.info().await.map_err(|e| e.to_string())?;
    let (a, b, c) = info.version_triple();
    let line = format!(
        "IP Virtual Server version {a}.{b}.{c} (size={})",
        info.conn_tab_size
    );
    let out = sh(&[IPVSADM, "-Ln"])?;
    if out.lines().next() != Some(line.as_str()) {
        return Err(format!(
            "we say {line:?}, ipvsadm says {:?}",
            out.lines().next()
        ));
    }
    Ok(())
}

async fn ours_to_ipvsadm(h: &mut IpvsHandle, table: &Table) -> Result<(), String> {
    flush(h).await?;
    all_ok(h.apply(&ops_for(table)).await)?;
    let saved = sh(&[IPVSADM, "-S", "-n"])?;
    let theirs = parse_rules(&saved)?;
    // `ipvsadm -S` has no syntax for thresholds; they are checked below
    // with `-Ln --thresholds`.
    let mut no_thresholds = table.clone();
    for (_, dests) in no_thresholds.values_mut() {
        for d in dests.values_mut() {
            d.upper_threshold = 0;
            d.lower_threshold = 0;
        }
    }
    let d = diff(&no_thresholds, &theirs);
    if !d.is_empty() {
        return Err(format!("ipvsadm -S -n differs:\n{d}\n{saved}"));
    }
    // `-Ln`: one line per service and per destination, with method and weight.
    let listed = sh(&[IPVSADM, "-Ln"])?;
    for (key, (svc, dests)) in table {
        let head = match key {
            ServiceKey::Fwmark {
                mark,
                af: rk_ipvs::Family::Inet,
            } => format!("FWM  {mark} {}", svc.scheduler),
            ServiceKey::Fwmark {
                mark,
                af: rk_ipvs::Family::Inet6,
            } => format!("FWM  {mark} IPv6 {}", svc.scheduler),
            ServiceKey::Tuple { proto, addr, port } => {
                let p = match proto {
                    Protocol::Sctp => "SCTP".to_string(),
                    p => p.to_string(),
                };
                match addr {
                    std::net::IpAddr::V4(a) => format!("{p}  {a}:{port} {}", svc.scheduler),
                    std::net::IpAddr::V6(a) => format!("{p}  [{a}]:{port} {}", svc.scheduler),
                }
            }
        };
        let head: Vec<&str> = head.split_whitespace().collect();
        if !listed.lines().any(|l| {
            l.split_whitespace()
                .take(head.len())
                .eq(head.iter().copied())
        }) {
            return Err(format!(
                "no line starting {head:?} in ipvsadm -Ln:\n{listed}"
            ));
        }
        for d in dests.values() {
            let method = match d.forward {
                Forward::Masq => "Masq",
                Forward::DirectRoute => "Route",
                Forward::Tunnel { .. } => "Tunnel",
                Forward::Local => "Local",
                Forward::Bypass => "Bypass",
            };
            let want = [
                format!("{}", d.key),
                method.to_string(),
                d.weight.to_string(),
            ];
            let found = listed.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() >= 4
                    && w[0] == "->"
                    && w[1] == want[0]
                    && w[2] == want[1]
                    && w[3] == want[2]
            });
            if !found {
                return Err(format!(
                    "no destination line {want:?} in ipvsadm -Ln:\n{listed}"
                ));
            }
        }
    }
    let thresholds = sh(&[IPVSADM, "-Ln", "--thresholds"])?;
    for d in table.values().flat_map(|(_, d)| d.values()) {
        let want = [
            d.key.to_string(),
            d.upper_threshold.to_string(),
            d.lower_threshold.to_string(),
        ];
        let found = thresholds.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() >= 4 && w[0] == "->" && w[1..4] == want
        });
        if !found {
            return Err(format!(
                "no threshold line {want:?} in ipvsadm -Ln --thresholds:\n{thresholds}"
            ));
        }
    }
    // And our own dump agrees with what we asked for.
    let ours = table_of_dump(&h.dump().await.map_err(|e| e.to_string())?);
    let d = diff(table, &ours);
    if d.is_empty() {
        Ok(())
    } else {
        Err(format!("our dump differs:\n{d}"))
    }
}

async fn ipvsadm_to_ours(h: &mut IpvsHandle, table: &Table) -> Result<(), String> {
    flush(h).await?;
    std::fs::write("/tmp/rules", table_text()).map_err(|e| e.to_string())?;
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("{IPVSADM} -R < /tmp/rules")])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "ipvsadm -R: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let ours = table_of_dump(&h.dump().await.map_err(|e| e.to_string())?);
    let d = diff(table, &ours);
    if d.is_empty() {
        Ok(())
    } else {
        Err(format!("our dump of ipvsadm's table differs:\n{d}"))
    }
}

fn table_text() -> String {
    let mut text = OPTIONS_TABLE.to_string();
    for (i, sched) in rk_testkit_schedulers().iter().enumerate() {
        let _ = writeln!(text, "-A -t 10.0.2.{}:80 -s {sched}", i + 1);
        let _ = writeln!(
            text,
            "-a -t 10.0.2.{}:80 -r 10.1.2.{}:8080 -m -w 2",
            i + 1,
            i + 1
        );
    }
    text
}

fn svc_key(last: u8) -> ServiceKey {
    ServiceKey::Tuple {
        proto: Protocol::Tcp,
        addr: std::net::IpAddr::from([10, 9, 0, last]),
        port: 80,
    }
}

fn dest(last: u8) -> Destination {
    Destination::new(std::net::IpAddr::from([10, 9, 1, last]), 80, Forward::Masq)
}

async fn edits(h: &mut IpvsHandle) -> Result<(), String> {
    flush(h).await?;
    let key = svc_key(1);
    let mut svc = Service::new(key, "rr");
    all_ok(
        h.apply(&[
            IpvsOp::AddService(svc.clone()),
            IpvsOp::AddDest {
                service: key,
                dest: dest(1),
            },
        ])
        .await,
    )?;
    svc.scheduler = "wlc".into();
    svc.persistence = Some(rk_ipvs::Persistence {
        timeout: 90,
        prefix_len: 24,
    });
    let mut d = dest(1);
    d.weight = 7;
    d.upper_threshold = 50;
    d.forward = Forward::Tunnel {
        tun_type: rk_ipvs::TunnelType::Gre,
        port: 0,
        flags: rk_ipvs::TunnelFlags::CSUM,
    };
    all_ok(
        h.apply(&[
            IpvsOp::EditService(svc.clone()),
            IpvsOp::EditDest {
                service: key,
                dest: d,
            },
        ])
        .await,
    )?;
    let got = h
        .service(&key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("service gone")?;
    if got.service != svc {
        return Err(format!("edited service reads back as {:?}", got.service));
    }
    let dests = h.destinations(&key).await.map_err(|e| e.to_string())?;
    if dests.len() != 1 || dests[0].dest != d {
        return Err(format!("edited destination reads back as {dests:?}"));
    }
    if h.service(&svc_key(99))
        .await
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Err("a missing service reads as present".into());
    }
    flush(h).await
}

async fn batch_errors(h: &mut IpvsHandle) -> Result<(), String> {
    flush(h).await?;
    let ops = vec![
        IpvsOp::AddService(Service::new(svc_key(1), "rr")),
        IpvsOp::AddService(Service::new(svc_key(1), "rr")), // duplicate
        IpvsOp::AddDest {
            service: svc_key(1),
            dest: dest(1),
        },
        IpvsOp::AddDest {
            service: svc_key(2),
            dest: dest(1),
        }, // no such service
        IpvsOp::AddService(Service::new(svc_key(3), "no-such-sched")),
        IpvsOp::AddDest {
            service: svc_key(1),
            dest: dest(2),
        },
        IpvsOp::DelDest {
            service: svc_key(1),
            dest: DestKey {
                addr: std::net::IpAddr::from([10, 9, 1, 99]),
                port: 80,
            },
        },
        IpvsOp::AddService(Service::new(svc_key(4), "wrr")),
    ];
    let results = h.apply(&ops).await;
    let kinds: Vec<Option<OpErrorKind>> = results
        .iter()
        .map(|r| r.as_ref().err().and_then(|e| e.kind().cloned()))
        .collect();
    let expected = vec![
        None,
        Some(OpErrorKind::Exists),
        None,
        Some(OpErrorKind::ServiceNotFound),
        Some(OpErrorKind::SchedulerMissing("no-such-sched".into())),
        None,
        Some(OpErrorKind::DestNotFound),
        None,
    ];
    if kinds != expected {
        return Err(format!("got {results:?}"));
    }
    // The successful ones really happened.
    let dump = h.dump().await.map_err(|e| e.to_string())?;
    let n_dests: usize = dump.iter().map(|s| s.dests.len()).sum();
    if dump.len() != 2 || n_dests != 2 {
        return Err(format!(
            "expected 2 services and 2 destinations, dump is {dump:?}"
        ));
    }
    // A batch larger than one sendmsg: 5000 services, every 1000th a duplicate.
    flush(h).await?;
    let mut big: Vec<IpvsOp> = (0..5000u32)
        .map(|i| {
            let key = ServiceKey::Fwmark {
                af: rk_ipvs::Family::Inet,
                mark: 1 + i - u32::from(i % 1000 == 999),
            };
            IpvsOp::AddService(Service::new(key, "rr"))
        })
        .collect();
    big.push(IpvsOp::DelService(ServiceKey::Fwmark {
        af: rk_ipvs::Family::Inet,
        mark: 1,
    }));
    let results = h.apply(&big).await;
    let failed: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .map(|(i, _)| i)
        .collect();
    if failed != [999, 1999, 2999, 3999, 4999] {
        return Err(format!("large batch failures at {failed:?}"));
    }
    if !results[999].as_ref().is_err_and(|e| {
        e.to_string()
            .starts_with("add service FWM 999 (rr): already exists")
    }) {
        return Err(format!("{:?}", results[999]));
    }
    let n = h.services().await.map_err(|e| e.to_string())?.len();
    if n != 4994 {
        return Err(format!("{n} services after the large batch, expected 4994"));
    }
    flush(h).await
}

async fn typed_errors(h: &mut IpvsHandle) -> Result<(), String> {
    flush(h).await?;
    let key = svc_key(1);
    let cases: Vec<(IpvsOp, OpErrorKind, &str)> = vec![
        (
            IpvsOp::AddService(Service::new(key, "rr")),
            OpErrorKind::Exists,
            "add service TCP 10.9.0.1:80",
        ),
        (
            IpvsOp::AddDest {
                service: svc_key(2),
                dest: dest(1),
            },
            OpErrorKind::ServiceNotFound,
            "add destination 10.9.1.1:80 to TCP 10.9.0.2:80",
        ),
        (
            IpvsOp::AddService(Service::new(svc_key(3), "bogus")),
            OpErrorKind::SchedulerMissing("bogus".into()),
            "add service TCP 10.9.0.3:80 (bogus)",
        ),
        (
            IpvsOp::DelService(svc_key(4)),
            OpErrorKind::ServiceNotFound,
            "delete service TCP 10.9.0.4:80",
        ),
        (
            IpvsOp::DelDest {
                service: key,
                dest: dest(9).key,
            },
            OpErrorKind::DestNotFound,
            "delete destination 10.9.1.9:80 from TCP 10.9.0.1:80",
        ),
        (
            IpvsOp::EditDest {
                service: key,
                dest: dest(9),
            },
            OpErrorKind::DestNotFound,
            "edit destination 10.9.1.9:80",
        ),
        (
            IpvsOp::AddDest {
                service: key,
                dest: dest(1),
            },
            OpErrorKind::Exists,
            "add destination 10.9.1.1:80",
        ),
        (
            IpvsOp::StopDaemon(SyncRole::Backup),
            OpErrorKind::DaemonNotRunning,
            "stop sync daemon backup",
        ),
    ];
    all_ok(
        h.apply(&[
            IpvsOp::AddService(Service::new(key, "rr")),
            IpvsOp::AddDest {
                service: key,
                dest: dest(1),
            },
        ])
        .await,
    )?;
    for (op, kind, text) in &cases {
        match h.apply_one(op).await {
            Err(e) if e.kind() == Some(kind) && e.to_string().starts_with(text) => {
                if matches!(
                    kind,
                    OpErrorKind::Exists
                        | OpErrorKind::ServiceNotFound
                        | OpErrorKind::DestNotFound
                        | OpErrorKind::DaemonNotRunning
                ) && matches!(
                    op,
                    IpvsOp::AddService(_)
                        | IpvsOp::DelService(_)
                        | IpvsOp::DelDest { .. }
                        | IpvsOp::StopDaemon(_)
                ) && !e.is_already_done(op)
                {
                    return Err(format!("{e} should count as already done"));
                }
            }
            other => return Err(format!("{op}: expected {kind} ({text}), got {other:?}")),
        }
    }
    // A weight the kernel refuses (it is an int there).
    let mut heavy = dest(5);
    heavy.weight = u32::MAX;
    match h
        .apply_one(&IpvsOp::AddDest {
            service: key,
            dest: heavy,
        })
        .await
    {
        Err(e) if e.kind() == Some(&OpErrorKind::OutOfRange) => {}
        other => {
            return Err(format!(
                "weight u32::MAX: expected OutOfRange, got {other:?}"
            ));
        }
    }
    flush(h).await
}

async fn timeouts(h: &mut IpvsHandle) -> Result<(), String> {
    let before = h.timeouts().await.map_err(|e| e.to_string())?;
    let want = Timeouts {
        tcp: 901,
        tcp_fin: 121,
        udp: 301,
    };
    h.apply_one(&IpvsOp::SetTimeouts(want))
        .await
        .map_err(|e| e.to_string())?;
    let got = h.timeouts().await.map_err(|e| e.to_string())?;
    if got != want {
        return Err(format!("set {want:?}, read {got:?}"));
    }
    let listed = sh(&[IPVSADM, "-L", "--timeout"])?;
    if !listed.contains("Timeout (tcp tcpfin udp): 901 121 301") {
        return Err(format!("ipvsadm -L --timeout says {listed:?}"));
    }
    // Zero leaves a value alone; ipvsadm's changes read back too.
    h.apply_one(&IpvsOp::SetTimeouts(Timeouts {
        tcp: 0,
        tcp_fin: 0,
        udp: 55,
    }))
    .await
    .map_err(|e| e.to_string())?;
    sh(&[IPVSADM, "--set", "0", "33", "0"])?;
    let got = h.timeouts().await.map_err(|e| e.to_string())?;
    if got
        != (Timeouts {
            tcp: 901,
            tcp_fin: 33,
            udp: 55,
        })
    {
        return Err(format!("after partial sets: {got:?}"));
    }
    h.apply_one(&IpvsOp::SetTimeouts(before))
        .await
        .map_err(|e| e.to_string())
}

async fn daemons(h: &mut IpvsHandle) -> Result<(), String> {
    sh(&["ip", "link", "add", "rkd0", "type", "dummy"])?;
    sh(&["ip", "link", "set", "rkd0", "up"])?;
    // A master sync daemon sends from the interface's address.
    sh(&["ip", "addr", "add", "192.0.2.1/24", "dev", "rkd0"])?;
    let mut master = Daemon::new(SyncRole::Master, "rkd0", 7);
    master.sync_maxlen = Some(1000);
    master.mcast_group = Some("239.1.2.3".parse().map_err(|_| "addr")?);
    master.mcast_port = Some(8850);
    master.mcast_ttl = Some(3);
    h.apply_one(&IpvsOp::StartDaemon(master.clone()))
        .await
        .map_err(|e| e.to_string())?;
    match h.apply_one(&IpvsOp::StartDaemon(master.clone())).await {
        Err(e) if e.kind() == Some(&OpErrorKind::Exists) => {}
        other => return Err(format!("second master start: {other:?}")),
    }
    sh(&[
        IPVSADM,
        "--start-daemon",
        "backup",
        "--mcast-interface",
        "rkd0",
        "--syncid",
        "9",
    ])?;
    let got = h.daemons().await.map_err(|e| e.to_string())?;
    let m = got
        .iter()
        .find(|d| d.role == SyncRole::Master)
        .ok_or(format!("no master in {got:?}"))?;
    if *m != master {
        return Err(format!("master reads back as {m:?}, started {master:?}"));
    }
    let b = got
        .iter()
        .find(|d| d.role == SyncRole::Backup)
        .ok_or(format!("no backup in {got:?}"))?;
    if b.mcast_ifn != "rkd0" || b.syncid != 9 {
        return Err(format!("ipvsadm's backup reads back as {b:?}"));
    }
    let listed = sh(&[IPVSADM, "-L", "--daemon"])?;
    if !listed.contains(
        "master sync daemon (mcast=rkd0, syncid=7, maxlen=1000, group=239.1.2.3, port=8850, ttl=3)",
    ) || !listed.contains("backup sync daemon (mcast=rkd0, syncid=9")
    {
        return Err(format!("ipvsadm -L --daemon says {listed:?}"));
    }
    // The sync protocol cannot carry mixed-family services: while a
    // daemon runs, the kernel refuses an IPv6 tunnel destination for an
    // IPv4 service.
    flush(h).await?;
    let key = svc_key(1);
    let mixed = Destination::new(
        "2001:db8::9".parse().map_err(|_| "addr")?,
        80,
        Forward::IPIP,
    );
    let results = h
        .apply(&[
            IpvsOp::AddService(Service::new(key, "rr")),
            IpvsOp::AddDest {
                service: key,
                dest: mixed,
            },
        ])
        .await;
    if !(results[0].is_ok()
        && matches!(
            results[1].as_ref().err().and_then(|e| e.kind()),
            Some(OpErrorKind::Invalid(_))
        ))
    {
        return Err(format!(
            "mixed-family destination with a sync daemon running: {results:?}"
        ));
    }
    flush(h).await?;
    h.apply_one(&IpvsOp::StopDaemon(SyncRole::Master))
        .await
        .map_err(|e| e.to_string())?;
    h.apply_one(&IpvsOp::StopDaemon(SyncRole::Backup))
        .await
        .map_err(|e| e.to_string())?;
    let left = h.daemons().await.map_err(|e| e.to_string())?;
    if !left.is_empty() {
        return Err(format!("daemons left after stop: {left:?}"));
    }
    Ok(())
}

async fn zero_and_flush(h: &mut IpvsHandle, table: &Table) -> Result<(), String> {
    flush(h).await?;
    all_ok(h.apply(&ops_for(table)).await)?;
    let first = *table.keys().next().ok_or("empty table")?;
    all_ok(
        h.apply(&[IpvsOp::Zero(Some(first)), IpvsOp::Zero(None)])
            .await,
    )?;
    let dump = h.dump().await.map_err(|e| e.to_string())?;
    if dump
        .iter()
        .any(|s| s.service.stats.is_none() || s.service.stats64.is_none())
    {
        return Err("a service without stats".into());
    }
    flush(h).await?;
    if !h.dump().await.map_err(|e| e.to_string())?.is_empty() {
        return Err("services left after flush".into());
    }
    let listed = sh(&[IPVSADM, "-Ln"])?;
    if listed.lines().count() != 3 {
        return Err(format!("ipvsadm -Ln after flush:\n{listed}"));
    }
    Ok(())
}
