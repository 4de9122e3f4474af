//! One configuration with every kind of service, driven through health,
//! quorum and VRRP changes, foreign objects, drift, and a clean stop.

use std::sync::Arc;
use std::time::Duration;

use rk_config::Config;
use rk_coordinator::{
    Engine, Input, InstanceRole, Policy, Reconciler, ReconcilerOptions, RsHealth, RsId, VsId,
};
use rk_ipvs::{DestKey, Family, IpvsHandle, Protocol, ServiceKey, Timeouts};
use tokio::sync::mpsc;

use crate::Suite;
use crate::util::{IPVSADM, config, ipvsadm_has, kernel, matches, ms, sh, wait_for};

const CONF: &str = r#"
global_defs {
    lvs_timeouts tcp 7200 tcpfin 60 udp 120
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress { 192.0.2.10/24 }
}
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_algo rr
    lb_kind DR
    real_server 198.51.100.1 80 {
        weight 3
        TCP_CHECK { }
    }
    real_server 198.51.100.2 80 {
        weight 1
        inhibit_on_failure
        TCP_CHECK { }
    }
}
virtual_server 192.0.2.11 443 {
    protocol TCP
    lb_algo sh
    sh-port
    sh-fallback
    lb_kind NAT
    persistence_timeout 300
    persistence_granularity 255.255.255.0
    quorum 2
    sorry_server 10.9.9.9 8443
    real_server 10.0.0.1 8443 {
        TCP_CHECK { }
    }
    real_server 10.0.0.2 8443 {
        TCP_CHECK { }
    }
}
virtual_server 2001:db8::10 53 {
    protocol UDP
    lb_algo wrr
    lb_kind TUN type gue port 6080 csum
    ops
    real_server 2001:db8:1::1 53 { weight 2 }
}
virtual_server 192.0.2.12 3868 {
    protocol SCTP
    lb_algo mh
    mh-port
    lb_kind DR
    real_server 198.51.100.3 3868 { }
}
virtual_server fwmark 42 {
    lb_algo lc
    lb_kind DR
    persistence_timeout 60
    real_server 198.51.100.4 { }
}
virtual_server_group WEB {
    10.0.1.1-4 80
    fwmark 43
}
virtual_server group WEB {
    protocol TCP
    lb_algo wlc
    lb_kind NAT
    real_server 10.0.2.1 80 { weight 2 }
    real_server 10.0.2.2 80 {
        weight 5
        uthreshold 100
        lthreshold 10
    }
}
virtual_server 192.0.2.13 5060 {
    protocol UDP
    lb_algo rr
    lb_kind DR
    persistence_timeout 60
    persistence_engine sip
    real_server 198.51.100.5 5060 { }
}
"#;

const PERIOD: Duration = Duration::from_secs(2);

fn tcp(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Tuple {
        proto: Protocol::Tcp,
        addr: addr
            .parse()
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
        port,
    }
}

/// The identity of real server `rs` of the TCP virtual server `vs`.
fn rs_id(cfg: &Config, vs: (&str, u16), rs: &str) -> Result<RsId, String> {
    let v = cfg
        .virtual_servers
        .iter()
        .find(|v| matches!(VsId::of(v), VsId::Addr { addr, port, .. } if addr.to_string() == vs.0 && port == vs.1))
        .ok_or(format!("no virtual server {vs:?}"))?;
    let r = v
        .real_servers
        .iter()
        .find(|r| r.addr.to_string() == rs)
        .ok_or(format!("no real server {rs}"))?;
    Ok(RsId::of(v, r))
}

struct Ctx {
    r: Reconciler,
    probe: IpvsHandle,
    cfg: Arc<Config>,
}

impl Ctx {
    /// Reconcile with a fresh read; fail on refusals.
    async fn pass(&mut self) -> Result<rk_coordinator::PassReport, String> {
        self.r.request_read();
        let rep = self.r.reconcile().await.map_err(|e| e.to_string())?;
        if rep.failed > 0 {
            return Err(format!("{} operations refused: {rep:?}", rep.failed));
        }
        Ok(rep)
    }

    async fn same_as_desired(&mut self, foreign: &[ServiceKey]) -> Result<(), String> {
        let k = kernel(&mut self.probe).await?;
        matches(self.r.engine().desired(), &k, foreign)
    }

    fn health(&mut self, vs: (&str, u16), rs: &str, h: Option<RsHealth>) -> Result<(), String> {
        let id = rs_id(&self.cfg, vs, rs)?;
        self.r.engine_mut().set_health(id, h);
        Ok(())
    }
}

pub async fn run(suite: &mut Suite) {
    let setup = async {
        let cfg = config(CONF)?;
        let ipvs = IpvsHandle::connect().await.map_err(|e| e.to_string())?;
        let probe = IpvsHandle::connect().await.map_err(|e| e.to_string())?;
        let mut engine = Engine::new(Arc::clone(&cfg), Policy::default());
        engine.set_role("VI_1", Some(InstanceRole::Master));
        let opts = ReconcilerOptions {
            period: PERIOD,
            ..ReconcilerOptions::default()
        };
        let r = Reconciler::start(ipvs, engine, opts)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<Ctx, String>(Ctx { r, probe, cfg })
    }
    .await;
    let mut cx = match setup {
        Ok(cx) => cx,
        Err(e) => {
            suite.check("functional setup", Err(e));
            return;
        }
    };
    let before = match sh(&[IPVSADM, "-L", "--timeout"]) {
        Ok(t) => t,
        Err(e) => {
            suite.check("read timeouts", Err(e));
            return;
        }
    };

    suite.check(
        "desired table applied equals the kernel's",
        applied(&mut cx).await,
    );
    suite.check(
        "second pass against the kernel sends nothing",
        async {
            let rep = cx.pass().await?;
            if rep.ops != 0 {
                return Err(format!("{rep:?}"));
            }
            Ok(())
        }
        .await,
    );
    suite.check("ipvsadm -Ln shows it", smoke());
    suite.check("lvs_timeouts set", {
        sh(&[IPVSADM, "-L", "--timeout"]).and_then(|t| {
            if t.contains("7200 60 120") {
                Ok(())
            } else {
                Err(t)
            }
        })
    });
    suite.check(
        "real server down: out, or weight 0 with inhibit_on_failure",
        down(&mut cx).await,
    );
    suite.check(
        "one dynamic weight change is exactly one EditDest",
        one_edit(&mut cx).await,
    );
    suite.check(
        "quorum lost: sorry server in, real servers out; regained: back",
        quorum(&mut cx).await,
    );
    suite.check("rules follow the VIP", follow_vip(&mut cx).await);
    let foreign = tcp("203.0.113.1", 25);
    suite.check(
        "foreign service and destination are left alone",
        foreign_untouched(&mut cx, foreign).await,
    );
    let Ctx { r, mut probe, .. } = cx;
    let counters = r.counters();
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(r.run(rx, None));
    suite.check(
        "drift repaired within one period (ipvsadm -d, -e, -D)",
        drift(suite, &mut probe, &counters).await,
    );
    suite.check(
        "shutdown removes only ours and restores the timeouts",
        async {
            tx.send(Input::Shutdown { keep_rules: false })
                .await
                .map_err(|e| e.to_string())?;
            let report = task
                .await
                .map_err(|e| e.to_string())?
                .ok_or("rules were kept")?;
            suite.figure("shutdown_functional_ms", ms(report.elapsed));
            let k = kernel(&mut probe).await?;
            let left: Vec<ServiceKey> = k.services.keys().copied().collect();
            if left != [foreign] || k.services[&foreign].dests.len() != 1 {
                return Err(format!("left in the kernel: {left:?}"));
            }
            let after = sh(&[IPVSADM, "-L", "--timeout"])?;
            if after != before {
                return Err(format!("timeouts {after:?}, were {before:?}"));
            }
            if k.timeouts
                != Some(Timeouts {
                    tcp: 900,
                    tcp_fin: 120,
                    udp: 300,
                })
            {
                return Err(format!("timeouts {:?}", k.timeouts));
            }
            sh(&[IPVSADM, "-D", "-t", "203.0.113.1:25"]).map(|_| ())
        }
        .await,
    );
}

async fn applied(cx: &mut Ctx) -> Result<(), String> {
    let rep = cx.r.reconcile().await.map_err(|e| e.to_string())?;
    if !rep.read || rep.failed != 0 {
        return Err(format!("{rep:?}"));
    }
    // 11 services (the group is four addresses and a fwmark) and their 18
    // destinations, plus the timeouts.
    if rep.ops != 11 + 18 + 1 {
        return Err(format!("{} operations: {rep:?}", rep.ops));
    }
    cx.same_as_desired(&[]).await
}

fn smoke() -> Result<(), String> {
    ipvsadm_has(
        &[
            "TCP 192.0.2.10:80 rr",
            "-> 198.51.100.1:80 Route 3 0 0",
            "-> 198.51.100.2:80 Route 1 0 0",
            "TCP 192.0.2.11:443 sh",
            "-> 10.0.0.1:8443 Masq 1 0 0",
            "UDP [2001:db8::10]:53 wrr",
            "-> [2001:db8:1::1]:53 Tunnel 2 0 0",
            "SCTP 192.0.2.12:3868 mh",
            "FWM 42 lc persistent 60",
            "-> 198.51.100.4:0 Route 1 0 0",
            "TCP 10.0.1.1:80 wlc",
            "TCP 10.0.1.4:80 wlc",
            "FWM 43 wlc",
            "-> 10.0.2.2:80 Masq 5 0 0",
            "UDP 192.0.2.13:5060 rr persistent 60",
        ],
        &[],
    )
}

async fn down(cx: &mut Ctx) -> Result<(), String> {
    cx.health(("192.0.2.10", 80), "198.51.100.1", Some(RsHealth::DOWN))?;
    cx.health(("192.0.2.10", 80), "198.51.100.2", Some(RsHealth::DOWN))?;
    let rep = cx.pass().await?;
    if rep.ops != 2 {
        return Err(format!("{rep:?}"));
    }
    ipvsadm_has(&["-> 198.51.100.2:80 Route 0 0 0"], &["-> 198.51.100.1:80"])?;
    cx.same_as_desired(&[]).await?;
    cx.health(("192.0.2.10", 80), "198.51.100.1", Some(RsHealth::UP))?;
    cx.health(("192.0.2.10", 80), "198.51.100.2", Some(RsHealth::UP))?;
    cx.pass().await?;
    ipvsadm_has(
        &[
            "-> 198.51.100.1:80 Route 3 0 0",
            "-> 198.51.100.2:80 Route 1 0 0",
        ],
        &[],
    )
}

async fn one_edit(cx: &mut Ctx) -> Result<(), String> {
    let before = cx.r.counters().snapshot();
    cx.health(
        ("192.0.2.10", 80),
        "198.51.100.1",
        Some(RsHealth {
            up: true,
            weight: Some(8),
        }),
    )?;
    cx.pass().await?;
    let after = cx.r.counters().snapshot();
    if after.ops() - before.ops() != 1 || after.edit_dest - before.edit_dest != 1 {
        return Err(format!("before {before:?}\nafter {after:?}"));
    }
    ipvsadm_has(&["-> 198.51.100.1:80 Route 8 0 0"], &[])?;
    cx.health(("192.0.2.10", 80), "198.51.100.1", Some(RsHealth::UP))?;
    cx.pass().await.map(|_| ())
}

async fn quorum(cx: &mut Ctx) -> Result<(), String> {
    cx.health(("192.0.2.11", 443), "10.0.0.1", Some(RsHealth::DOWN))?;
    let rep = cx.pass().await?;
    if !rep.events.iter().any(|e| !e.up && !e.initial) {
        return Err(format!("no quorum-lost event: {rep:?}"));
    }
    ipvsadm_has(
        &["-> 10.9.9.9:8443 Masq 1 0 0"],
        &["-> 10.0.0.1:8443", "-> 10.0.0.2:8443"],
    )?;
    cx.same_as_desired(&[]).await?;
    cx.health(("192.0.2.11", 443), "10.0.0.1", Some(RsHealth::UP))?;
    let rep = cx.pass().await?;
    if !rep.events.iter().any(|e| e.up && !e.initial) {
        return Err(format!("no quorum-gained event: {rep:?}"));
    }
    ipvsadm_has(
        &["-> 10.0.0.1:8443 Masq 1 0 0", "-> 10.0.0.2:8443 Masq 1 0 0"],
        &["-> 10.9.9.9:8443"],
    )?;
    cx.same_as_desired(&[]).await
}

async fn follow_vip(cx: &mut Ctx) -> Result<(), String> {
    cx.r.engine_mut()
        .set_role("VI_1", Some(InstanceRole::Backup));
    let rep = cx.pass().await?;
    if rep.ops != 1 {
        return Err(format!("leaving MASTER: {rep:?}"));
    }
    ipvsadm_has(&["TCP 192.0.2.11:443"], &["TCP 192.0.2.10:80"])?;
    cx.same_as_desired(&[]).await?;
    cx.r.engine_mut()
        .set_role("VI_1", Some(InstanceRole::Master));
    let rep = cx.pass().await?;
    if rep.ops != 3 {
        return Err(format!("becoming MASTER: {rep:?}"));
    }
    cx.same_as_desired(&[]).await
}

async fn foreign_untouched(cx: &mut Ctx, foreign: ServiceKey) -> Result<(), String> {
    sh(&[IPVSADM, "-A", "-t", "203.0.113.1:25", "-s", "rr"])?;
    sh(&[
        IPVSADM,
        "-a",
        "-t",
        "203.0.113.1:25",
        "-r",
        "10.0.0.9:25",
        "-m",
    ])?;
    sh(&[
        IPVSADM,
        "-a",
        "-t",
        "192.0.2.11:443",
        "-r",
        "10.0.0.77:8443",
        "-m",
        "-w",
        "4",
    ])?;
    let rep = cx.pass().await?;
    if rep.ops != 0 {
        return Err(format!("{rep:?}"));
    }
    ipvsadm_has(
        &[
            "TCP 203.0.113.1:25 rr",
            "-> 10.0.0.9:25 Masq 1 0 0",
            "-> 10.0.0.77:8443 Masq 4 0 0",
        ],
        &[],
    )?;
    let hand = DestKey {
        addr: "10.0.0.77".parse().map_err(|_| "addr")?,
        port: 8443,
    };
    if cx
        .r
        .engine()
        .owned()
        .has_dest(&tcp("192.0.2.11", 443), &hand)
        || cx.r.engine().owned().has_service(&foreign)
    {
        return Err("a foreign object counts as ours".into());
    }
    // The hand-added destination goes, so later comparisons are exact.
    sh(&[
        IPVSADM,
        "-d",
        "-t",
        "192.0.2.11:443",
        "-r",
        "10.0.0.77:8443",
    ])?;
    cx.same_as_desired(&[foreign]).await
}

async fn drift(
    suite: &Suite,
    probe: &mut IpvsHandle,
    counters: &Arc<rk_coordinator::Counters>,
) -> Result<(), String> {
    // Let the loop settle into its period.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let repairs0 = counters.snapshot().repairs;
    let limit = PERIOD + Duration::from_millis(1500);
    let key80 = tcp("192.0.2.10", 80);
    let rs1 = DestKey {
        addr: "198.51.100.1".parse().map_err(|_| "addr")?,
        port: 80,
    };
    sh(&[
        IPVSADM,
        "-d",
        "-t",
        "192.0.2.10:80",
        "-r",
        "198.51.100.1:80",
    ])?;
    let t = wait_for(probe, limit, |k| {
        k.services
            .get(&key80)
            .is_some_and(|s| s.dests.get(&rs1).is_some_and(|d| d.dest.weight == 3))
    })
    .await
    .map_err(|e| format!("ipvsadm -d not repaired: {e}"))?;
    suite.figure("drift_repair_ms", ms(t));

    let fwm = ServiceKey::Fwmark {
        af: Family::Inet,
        mark: 42,
    };
    sh(&[
        IPVSADM,
        "-e",
        "-f",
        "42",
        "-r",
        "198.51.100.4:0",
        "-g",
        "-w",
        "9",
    ])?;
    wait_for(probe, limit, |k| {
        k.services
            .get(&fwm)
            .is_some_and(|s| s.dests.values().all(|d| d.dest.weight == 1))
    })
    .await
    .map_err(|e| format!("ipvsadm -e not repaired: {e}"))?;

    let sip = ServiceKey::Tuple {
        proto: Protocol::Udp,
        addr: "192.0.2.13".parse().map_err(|_| "addr")?,
        port: 5060,
    };
    sh(&[IPVSADM, "-D", "-u", "192.0.2.13:5060"])?;
    wait_for(probe, limit, |k| {
        k.services.get(&sip).is_some_and(|s| s.dests.len() == 1)
    })
    .await
    .map_err(|e| format!("ipvsadm -D not repaired: {e}"))?;
    // AddDest, EditDest, AddService + AddDest.
    let repairs = counters.snapshot().repairs - repairs0;
    if repairs != 4 {
        return Err(format!("{repairs} repairs counted, 4 made"));
    }
    Ok(())
}
