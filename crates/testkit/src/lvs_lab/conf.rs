//! Director configurations for the LVS lab, generated per scenario so that every test
//! runs a readable keepalived.conf. The basic LVS-DR and LVS-NAT pairs are also shipped
//! as examples (`conf/lvs-dr/`, `conf/lvs-nat/`); a unit test keeps those files equal to
//! what this module renders, so the examples are exactly what the end-to-end tests run.

use std::fmt::Write as _;

/// Which program reads the configuration. keepalived refuses rkeepalived's own
/// keywords, so they are left out of its copy (it always behaves as
/// `lvs_rules_everywhere` anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// Debian's keepalived 2.2.7, copied into the VM with its libraries.
    Keepalived,
    /// Our daemon, built statically.
    Rkeepalived,
}

impl Daemon {
    /// The name the lab's shell functions use (`DAEMON=`).
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Keepalived => "keepalived",
            Daemon::Rkeepalived => "rkeepalived",
        }
    }

    /// A short tag for phase names.
    pub fn tag(self) -> &'static str {
        match self {
            Daemon::Keepalived => "ka",
            Daemon::Rkeepalived => "rk",
        }
    }
}

/// The IPVS forwarding method of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Direct routing: the real servers carry the VIP on `lo` and answer the client directly.
    Dr,
    /// Masquerading: the directors are the real servers' gateway on an inside network.
    Nat,
}

/// One of the two directors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Director {
    /// `dir1`, 10.0.0.2: the master of the first instance.
    Dir1,
    /// `dir2`, 10.0.0.3: the backup (or, master/master, the master of the second instance).
    Dir2,
}

impl Director {
    /// Namespace and router_id.
    pub fn name(self) -> &'static str {
        match self {
            Director::Dir1 => "dir1",
            Director::Dir2 => "dir2",
        }
    }

    fn other(self) -> Director {
        match self {
            Director::Dir1 => Director::Dir2,
            Director::Dir2 => Director::Dir1,
        }
    }
}

/// The lab's addresses (the shell library `lab.sh` uses the same ones).
pub mod addr {
    /// The service VIP (first instance).
    pub const VIP: &str = "10.0.0.100";
    /// The second VIP of the master/master layout.
    pub const VIP2: &str = "10.0.0.101";
    /// The inside gateway VIP of the NAT layout.
    pub const GATEWAY_VIP: &str = "192.168.10.1";
    /// The web servers on the outside LAN (LVS-DR).
    pub const WEB_DR: [&str; 3] = ["10.0.0.11", "10.0.0.12", "10.0.0.13"];
    /// The web servers on the inside LAN (LVS-NAT).
    pub const WEB_NAT: [&str; 3] = ["192.168.10.11", "192.168.10.12", "192.168.10.13"];
    /// The sorry server (LVS-DR).
    pub const SORRY_DR: &str = "10.0.0.14";
}

/// Checker timers of the lab's HTTP_GET checks (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckTimers {
    /// `delay_loop`
    pub delay_loop: u32,
    /// `connect_timeout`
    pub connect_timeout: u32,
    /// `retry`
    pub retry: u32,
    /// `delay_before_retry`
    pub delay_before_retry: u32,
}

impl CheckTimers {
    /// Short timers, so a failing web server leaves the pool within seconds.
    pub const LAB: CheckTimers = CheckTimers {
        delay_loop: 2,
        connect_timeout: 1,
        retry: 1,
        delay_before_retry: 1,
    };

    /// Longest time, in seconds, from a web server's death to its removal: the check
    /// that notices (up to a delay_loop away), then `retry` more attempts, each up to
    /// connect_timeout, with delay_before_retry between them.
    pub fn leave_bound(&self) -> u32 {
        self.delay_loop
            + (self.retry + 1) * self.connect_timeout
            + self.retry * self.delay_before_retry
    }

    /// Longest time, in seconds, from a web server's return to its re-addition (one
    /// success suffices): the next check, up to delay_loop away, plus its connect.
    pub fn return_bound(&self) -> u32 {
        self.delay_loop + self.connect_timeout
    }
}

/// What the pair's configuration holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One instance (or, NAT, one sync group), dir1 MASTER and dir2 BACKUP, one
    /// virtual server on port 80.
    ActiveBackup,
    /// Like [`Layout::ActiveBackup`] (DR), plus `inhibit_on_failure` on port 80 and a
    /// second virtual server on port 81 with `quorum 3` and a sorry server.
    Features,
    /// Two instances, one VIP each: dir1 masters VI_1 (10.0.0.100), dir2 VI_2
    /// (10.0.0.101); a virtual server on port 80 of each VIP.
    MasterMaster,
}

/// A director pair's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairConf {
    /// DR or NAT (NAT only with [`Layout::ActiveBackup`]).
    pub method: Method,
    /// What the configuration holds.
    pub layout: Layout,
    /// `lvs_rules_everywhere` (rkeepalived's keyword: keepalived's behaviour).
    pub rules_everywhere: bool,
    /// The HTTP_GET timers.
    pub timers: CheckTimers,
}

impl PairConf {
    /// The LVS-DR pair (`conf/lvs-dr/`).
    pub fn dr() -> PairConf {
        PairConf {
            method: Method::Dr,
            layout: Layout::ActiveBackup,
            rules_everywhere: false,
            timers: CheckTimers::LAB,
        }
    }

    /// The LVS-NAT pair with its sync group (`conf/lvs-nat/`).
    pub fn nat() -> PairConf {
        PairConf {
            method: Method::Nat,
            ..PairConf::dr()
        }
    }

    /// LVS-DR with inhibit_on_failure, quorum and a sorry server.
    pub fn features() -> PairConf {
        PairConf {
            layout: Layout::Features,
            ..PairConf::dr()
        }
    }

    /// LVS-DR master/master, one VIP per instance.
    pub fn master_master() -> PairConf {
        PairConf {
            layout: Layout::MasterMaster,
            ..PairConf::dr()
        }
    }

    /// The same with `lvs_rules_everywhere`.
    pub fn everywhere(self) -> PairConf {
        PairConf {
            rules_everywhere: true,
            ..self
        }
    }

    /// The configuration of one director, for one daemon.
    pub fn render(&self, dir: Director, daemon: Daemon) -> String {
        let mut out = String::new();
        self.header(&mut out, dir);
        out.push_str("global_defs {\n");
        let _ = writeln!(out, "    router_id {}", dir.name());
        if self.rules_everywhere && daemon == Daemon::Rkeepalived {
            out.push_str("    # keepalived's behaviour: the rules on both directors\n");
            out.push_str("    lvs_rules_everywhere\n");
        }
        if self.method == Method::Nat {
            out.push_str(
                "    # The kernel's connection sync: master on the director holding VI_IN, backup\n\
                 \x20   # on the other, so connections survive a failover\n\
                 \x20   lvs_sync_daemon eth1 VI_IN\n",
            );
        }
        out.push_str("}\n\n");
        match (self.method, self.layout) {
            (Method::Nat, _) => self.nat_vrrp(&mut out, dir),
            (Method::Dr, Layout::MasterMaster) => {
                let (p1, p2) = priorities(dir);
                instance(&mut out, "VI_1", "eth0", 51, p1, addr::VIP);
                instance(&mut out, "VI_2", "eth0", 52, p2, addr::VIP2);
            }
            (Method::Dr, _) => {
                let (p, _) = priorities(dir);
                instance(&mut out, "VI_WEB", "eth0", 51, p, addr::VIP);
            }
        }
        match (self.method, self.layout) {
            (Method::Nat, _) => {
                self.virtual_server(&mut out, addr::VIP, 80, "NAT", &addr::WEB_NAT, &[]);
            }
            (Method::Dr, Layout::ActiveBackup) => {
                self.virtual_server(&mut out, addr::VIP, 80, "DR", &addr::WEB_DR, &[]);
            }
            (Method::Dr, Layout::Features) => {
                self.virtual_server(
                    &mut out,
                    addr::VIP,
                    80,
                    "DR",
                    &addr::WEB_DR,
                    &[
                        "# a failing web server keeps its connections: weight 0, not removed",
                        "inhibit_on_failure",
                    ],
                );
                let sorry = format!("sorry_server {} 81", addr::SORRY_DR);
                self.virtual_server(
                    &mut out,
                    addr::VIP,
                    81,
                    "DR",
                    &addr::WEB_DR,
                    &[
                        "# fewer than 3 web servers up: the sorry server instead of them",
                        "quorum 3",
                        "hysteresis 0",
                        &sorry,
                    ],
                );
                refused_by_kernel(&mut out);
            }
            (Method::Dr, Layout::MasterMaster) => {
                self.virtual_server(&mut out, addr::VIP, 80, "DR", &addr::WEB_DR, &[]);
                self.virtual_server(&mut out, addr::VIP2, 80, "DR", &addr::WEB_DR, &[]);
            }
        }
        // One trailing newline, not two.
        while out.ends_with("\n\n") {
            out.pop();
        }
        out
    }

    fn header(&self, out: &mut String, dir: Director) {
        let other = dir.other().name();
        let me = dir.name();
        let role = match (self.layout, dir) {
            (Layout::MasterMaster, Director::Dir1) => "MASTER of VI_1 (10.0.0.100), BACKUP of VI_2",
            (Layout::MasterMaster, Director::Dir2) => "MASTER of VI_2 (10.0.0.101), BACKUP of VI_1",
            (_, Director::Dir1) => "the MASTER",
            (_, Director::Dir2) => "the BACKUP",
        };
        let title = match (self.method, self.layout) {
            (Method::Nat, _) => "LVS-NAT director pair",
            (Method::Dr, Layout::ActiveBackup) => "LVS-DR director pair",
            (Method::Dr, Layout::Features) => {
                "LVS-DR director pair with inhibit_on_failure, quorum and a sorry server"
            }
            (Method::Dr, Layout::MasterMaster) => "LVS-DR master/master pair, one VIP per instance",
        };
        let file = |d: Director| {
            self.example_path(d)
                .unwrap_or_else(|| format!("{}.conf", d.name()))
        };
        let _ = writeln!(out, "! {title}: {me}, {role}.");
        let _ = writeln!(
            out,
            "! Use: rkeepalived -n -l -f {}   ({} on the other director)",
            file(dir),
            file(dir.other()).rsplit('/').next().unwrap_or(other)
        );
        match self.method {
            Method::Dr => out.push_str(
                "! Three web servers 10.0.0.11-13 behind the VIP, direct routing. Each web server\n\
                 ! carries the VIP on lo and neither answers ARP for it nor uses it as ARP source:\n\
                 !   ip addr add 10.0.0.100/32 dev lo\n\
                 !   sysctl -w net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2\n",
            ),
            Method::Nat => out.push_str(
                "! Clients reach the VIP 10.0.0.100 on eth0; three web servers 192.168.10.11-13 on\n\
                 ! eth1 use the gateway VIP 192.168.10.1 as their default route, so their replies\n\
                 ! come back through the director that holds both VIPs (the sync group keeps them\n\
                 ! together). The directors forward: sysctl -w net.ipv4.ip_forward=1\n",
            ),
        }
        if self.rules_everywhere {
            out.push_str(
                "! The IPVS rules are on both directors, as keepalived does (lvs_rules_everywhere).\n",
            );
        } else {
            out.push_str(
                "! The IPVS rules follow the VIP: only the director holding it has them (add\n\
                 ! lvs_rules_everywhere to global_defs for keepalived's rules on both directors).\n",
            );
        }
        out.push_str(
            "! The end-to-end tests run this file as it is (crates/rkeepalived/tests/lvs_e2e.rs),\n\
             ! with checker timers kept short for the lab; delay_loop 6 is a common choice.\n\n",
        );
    }

    /// Where this configuration is shipped as an example (`conf/lvs-dr/dir1.conf`, …),
    /// if it is.
    pub fn example_path(&self, dir: Director) -> Option<String> {
        if self.rules_everywhere || self.timers != CheckTimers::LAB {
            return None;
        }
        let folder = match (self.method, self.layout) {
            (Method::Dr, Layout::ActiveBackup) => "lvs-dr",
            (Method::Nat, Layout::ActiveBackup) => "lvs-nat",
            _ => return None,
        };
        Some(format!("conf/{folder}/{}.conf", dir.name()))
    }

    fn nat_vrrp(&self, out: &mut String, dir: Director) {
        let (p, _) = priorities(dir);
        out.push_str(
            "# The outside VIP and the inside gateway VIP move together.\n\
             vrrp_sync_group VG_NAT {\n    group {\n        VI_OUT\n        VI_IN\n    }\n}\n\n",
        );
        instance(out, "VI_OUT", "eth0", 61, p, addr::VIP);
        instance(out, "VI_IN", "eth1", 62, p, addr::GATEWAY_VIP);
    }

    fn virtual_server(
        &self,
        out: &mut String,
        vip: &str,
        port: u16,
        method: &str,
        reals: &[&str],
        extra: &[&str],
    ) {
        let t = self.timers;
        let _ = writeln!(out, "virtual_server {vip} {port} {{");
        let _ = writeln!(out, "    delay_loop {}", t.delay_loop);
        out.push_str("    lvs_sched rr\n");
        let _ = writeln!(out, "    lvs_method {method}");
        out.push_str("    protocol TCP\n");
        for e in extra {
            let _ = writeln!(out, "    {e}");
        }
        for rs in reals {
            let _ = writeln!(out, "\n    real_server {rs} {port} {{");
            out.push_str("        weight 1\n        HTTP_GET {\n");
            out.push_str("            url {\n                path /\n                status_code 200\n            }\n");
            let _ = writeln!(out, "            connect_timeout {}", t.connect_timeout);
            let _ = writeln!(out, "            retry {}", t.retry);
            let _ = writeln!(
                out,
                "            delay_before_retry {}",
                t.delay_before_retry
            );
            out.push_str("        }\n    }\n");
        }
        out.push_str("}\n\n");
    }
}

/// A service with one real server the kernel refuses (`lthreshold` above `uthreshold`:
/// ERANGE) and two it takes, without checkers: the refusal must be logged and the rest
/// installed.
fn refused_by_kernel(out: &mut String) {
    let _ = writeln!(out, "virtual_server {} 82 {{", addr::VIP);
    out.push_str("    lvs_sched rr\n    lvs_method DR\n    protocol TCP\n");
    for (i, rs) in addr::WEB_DR.iter().enumerate() {
        let _ = writeln!(out, "    real_server {rs} 82 {{");
        out.push_str("        weight 1\n");
        if i == 0 {
            out.push_str("        # the kernel refuses it: the lower threshold above the upper\n");
            out.push_str("        uthreshold 10\n        lthreshold 20\n");
        }
        out.push_str("    }\n");
    }
    out.push_str("}\n\n");
}

/// (priority of the first instance, priority of the second) on a director.
fn priorities(dir: Director) -> (u8, u8) {
    match dir {
        Director::Dir1 => (150, 100),
        Director::Dir2 => (100, 150),
    }
}

fn instance(out: &mut String, name: &str, iface: &str, vrid: u8, priority: u8, vip: &str) {
    let state = if priority > 100 { "MASTER" } else { "BACKUP" };
    let _ = writeln!(out, "vrrp_instance {name} {{");
    let _ = writeln!(out, "    state {state}");
    let _ = writeln!(out, "    interface {iface}");
    let _ = writeln!(out, "    virtual_router_id {vrid}");
    let _ = writeln!(out, "    priority {priority}");
    out.push_str("    advert_int 1\n");
    let _ = writeln!(
        out,
        "    virtual_ipaddress {{\n        {vip}/24 dev {iface}\n    }}"
    );
    out.push_str("}\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_gets_no_keyword_of_ours() {
        let pair = PairConf::dr().everywhere();
        assert!(
            pair.render(Director::Dir1, Daemon::Rkeepalived)
                .contains("\n    lvs_rules_everywhere\n")
        );
        assert!(
            !pair
                .render(Director::Dir1, Daemon::Keepalived)
                .contains("\n    lvs_rules_everywhere\n")
        );
    }

    #[test]
    fn master_and_backup_priorities() {
        let c1 = PairConf::nat().render(Director::Dir1, Daemon::Rkeepalived);
        let c2 = PairConf::nat().render(Director::Dir2, Daemon::Rkeepalived);
        assert_eq!(c1.matches("state MASTER").count(), 2, "{c1}");
        assert_eq!(c2.matches("state BACKUP").count(), 2, "{c2}");
        let mm = PairConf::master_master().render(Director::Dir2, Daemon::Rkeepalived);
        assert!(
            mm.contains("vrrp_instance VI_2 {\n    state MASTER"),
            "{mm}"
        );
        assert!(
            mm.contains("vrrp_instance VI_1 {\n    state BACKUP"),
            "{mm}"
        );
    }

    /// The shipped examples are exactly what the lab runs. After changing this module:
    /// `RK_UPDATE_EXAMPLES=1 cargo test -p rk-testkit --lib` rewrites them.
    #[test]
    fn shipped_examples_are_what_the_lab_runs() {
        let root = crate::workspace_root();
        let update = std::env::var_os("RK_UPDATE_EXAMPLES").is_some_and(|v| v == "1");
        for pair in [PairConf::dr(), PairConf::nat()] {
            for d in [Director::Dir1, Director::Dir2] {
                let Some(rel) = pair.example_path(d) else {
                    panic!("{pair:?} is shipped")
                };
                let path = root.join(&rel);
                let want = pair.render(d, Daemon::Rkeepalived);
                if update {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent).unwrap();
                    }
                    std::fs::write(&path, &want).unwrap();
                }
                let have = std::fs::read_to_string(&path).unwrap_or_default();
                assert!(
                    have == want,
                    "{rel} differs from what the lab runs; refresh with \
                     RK_UPDATE_EXAMPLES=1 cargo test -p rk-testkit --lib"
                );
            }
        }
        assert_eq!(PairConf::features().example_path(Director::Dir1), None);
    }

    #[test]
    fn timer_bounds() {
        // delay_loop 2 + 2 attempts x 1 s + 1 retry gap of 1 s
        assert_eq!(CheckTimers::LAB.leave_bound(), 5);
        assert_eq!(CheckTimers::LAB.return_bound(), 3);
    }
}
