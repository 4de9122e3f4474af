//! Drain before delete with a real connection: a client namespace talks
//! through an IPVS-NAT service on this (director) namespace to a real
//! server namespace; a reload removes the real server that carries the
//! connection.

use std::fs::File;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rk_coordinator::{Engine, Input, Policy, Reconciler, ReconcilerOptions};
use rk_ipvs::{DestKey, IpvsHandle, Protocol, ServiceKey};
use tokio::sync::mpsc;

use crate::Suite;
use crate::util::{IP, config, kernel, ms, sh, wait_for};

const WITH_A: &str = r#"
virtual_server 10.99.0.1 8080 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    real_server 10.98.0.2 8080 { }
}
"#;

const RECEIVED: &str = "/tmp/rkc-received";

/// The namespaces and links; removed on drop, also when a check failed.
struct Topology {
    children: Vec<Child>,
}

impl Topology {
    fn up() -> Result<Topology, String> {
        let t = Topology {
            children: Vec::new(),
        };
        for cmd in [
            "link set lo up",
            "netns add rkc-rs",
            "netns add rkc-cl",
            "link add d-rs type veth peer name rs0 netns rkc-rs",
            "link add d-cl type veth peer name cl0 netns rkc-cl",
            "addr add 10.98.0.1/24 dev d-rs",
            "addr add 10.97.0.1/24 dev d-cl",
            "link set d-rs up",
            "link set d-cl up",
            "addr add 10.99.0.1/32 dev lo",
            "-n rkc-rs link set lo up",
            "-n rkc-rs addr add 10.98.0.2/24 dev rs0",
            "-n rkc-rs addr add 10.98.0.3/24 dev rs0",
            "-n rkc-rs link set rs0 up",
            "-n rkc-rs route add default via 10.98.0.1",
            "-n rkc-cl link set lo up",
            "-n rkc-cl addr add 10.97.0.2/24 dev cl0",
            "-n rkc-cl link set cl0 up",
            "-n rkc-cl route add default via 10.97.0.1",
        ] {
            let mut args = vec![IP];
            args.extend(cmd.split(' '));
            sh(&args)?;
        }
        // NAT replies are forwarded (and de-NATed) by this namespace.
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").map_err(|e| e.to_string())?;
        Ok(t)
    }

    fn spawn(&mut self, ns: &str, args: &[&str], stdout: Stdio) -> Result<usize, String> {
        let child = Command::new(IP)
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{args:?}: {e}"))?;
        self.children.push(child);
        Ok(self.children.len() - 1)
    }

    fn send(&mut self, which: usize, text: &str) -> Result<(), String> {
        self.children[which]
            .stdin
            .as_mut()
            .ok_or("no stdin")?
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string())
    }

    fn kill(&mut self, which: usize) {
        let c = &mut self.children[which];
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for args in [
            ["netns", "del", "rkc-rs"],
            ["netns", "del", "rkc-cl"],
            ["addr", "del", "10.99.0.1/32"],
        ] {
            let mut a = vec![IP];
            a.extend(args);
            if args[0] == "addr" {
                a.extend(["dev", "lo"]);
            }
            let _ = sh(&a);
        }
    }
}

pub async fn run(suite: &mut Suite) {
    let result = scenario(suite).await;
    suite.check(
        "removed real server drains: weight 0, connection kept, deleted when it closes",
        result,
    );
}

async fn scenario(suite: &Suite) -> Result<(), String> {
    let mut topo = Topology::up()?;
    let received = File::create(RECEIVED).map_err(|e| e.to_string())?;
    let server = topo.spawn(
        "rkc-rs",
        &["busybox", "nc", "-l", "-p", "8080"],
        Stdio::from(received),
    )?;
    let _ = server;

    let policy = Policy {
        drain_timeout: Duration::from_secs(30),
        ..Policy::default()
    };
    let cfg_a = config(WITH_A)?;
    let cfg_b = config(&WITH_A.replace("10.98.0.2", "10.98.0.3"))?;
    let ipvs = IpvsHandle::connect().await.map_err(|e| e.to_string())?;
    let mut probe = IpvsHandle::connect().await.map_err(|e| e.to_string())?;
    // A period longer than the scenario: only the drain poll (which reads
    // the draining service alone) can see the connection end.
    let opts = ReconcilerOptions {
        period: Duration::from_secs(600),
        drain_poll: Duration::from_millis(500),
        ..ReconcilerOptions::default()
    };
    let r = Reconciler::start(ipvs, Engine::new(cfg_a, policy.clone()), opts)
        .await
        .map_err(|e| e.to_string())?;
    let counters = r.counters();
    let (tx, rx) = mpsc::channel(8);
    let task = tokio::spawn(r.run(rx, None));

    let vs = ServiceKey::Tuple {
        proto: Protocol::Tcp,
        addr: "10.99.0.1".parse().map_err(|_| "addr")?,
        port: 8080,
    };
    let a = DestKey {
        addr: "10.98.0.2".parse().map_err(|_| "addr")?,
        port: 8080,
    };
    let b = DestKey {
        addr: "10.98.0.3".parse().map_err(|_| "addr")?,
        port: 8080,
    };
    let dest = |k: &rk_coordinator::ActualTable, d: &DestKey| {
        k.services.get(&vs).and_then(|s| s.dests.get(d)).copied()
    };
    wait_for(&mut probe, Duration::from_secs(5), |k| {
        dest(k, &a).is_some()
    })
    .await
    .map_err(|e| format!("service not installed: {e}"))?;

    let client = topo.spawn(
        "rkc-cl",
        &["busybox", "nc", "10.99.0.1", "8080"],
        Stdio::null(),
    )?;
    topo.send(client, "hello\n")?;
    wait_for(&mut probe, Duration::from_secs(5), |k| {
        dest(k, &a).is_some_and(|d| d.active_conns == 1)
    })
    .await
    .map_err(|e| format!("no connection through the service: {e}"))?;

    // Reload without A: A drains at weight 0, B comes in.
    tx.send(Input::Config {
        config: cfg_b,
        policy,
    })
    .await
    .map_err(|e| e.to_string())?;
    wait_for(&mut probe, Duration::from_secs(3), |k| {
        dest(k, &a).is_some_and(|d| d.dest.weight == 0 && d.active_conns == 1)
            && dest(k, &b).is_some_and(|d| d.dest.weight == 1)
    })
    .await
    .map_err(|e| format!("not draining after the reload: {e}"))?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let k = kernel(&mut probe).await?;
    if dest(&k, &a).is_none() {
        return Err("deleted while its connection is open".into());
    }
    // The connection still carries data.
    topo.send(client, "world\n")?;
    let mut got = String::new();
    for _ in 0..60 {
        got = std::fs::read_to_string(RECEIVED).map_err(|e| e.to_string())?;
        if got.contains("world") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if got != "hello\nworld\n" {
        return Err(format!("the real server received {got:?}"));
    }
    // The client goes: A is deleted at the next read of the counts.
    topo.kill(client);
    let t = wait_for(&mut probe, Duration::from_secs(5), |k| {
        dest(k, &a).is_none()
    })
    .await
    .map_err(|e| format!("not deleted after its connection closed: {e}"))?;
    suite.figure("drain_delete_after_close_ms", ms(t));
    let c = counters.snapshot();
    if c.dumps != 1 || c.drain_polls == 0 || c.repairs != 0 {
        return Err(format!("expected one full read and drain polls: {c:?}"));
    }

    tx.send(Input::Shutdown { keep_rules: false })
        .await
        .map_err(|e| e.to_string())?;
    task.await.map_err(|e| e.to_string())?.ok_or("rules kept")?;
    let left = kernel(&mut probe).await?;
    if !left.services.is_empty() {
        return Err(format!(
            "left after shutdown: {:?}",
            left.services.keys().collect::<Vec<_>>()
        ));
    }
    Ok(())
}
