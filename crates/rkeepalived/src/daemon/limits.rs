//! The open-file limit. Every check in flight holds a socket (or a pipe for a script),
//! so a director with a few thousand real servers needs more than the usual soft limit
//! of 1,024: without it checks fail to start exactly when many real servers are slow.
//! keepalived raises the limit the same way (`set_max_file_limit`), never lowering it.

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use rk_config::model::Config;

/// Descriptors the daemon itself holds whatever the configuration: netlink and signal
/// sockets, log, pid files, FIFOs, the runtime's own.
const BASE: u64 = 64;

/// Descriptors `cfg` may need at once: one per checker plus one for its connect or
/// child pipes, two sockets per VRRP instance, one per notify or alert in flight.
pub fn needed(cfg: &Config) -> u64 {
    let checkers: usize = cfg
        .virtual_servers
        .iter()
        .flat_map(|vs| &vs.real_servers)
        .map(|rs| rs.checkers.len())
        .sum();
    let instances = cfg.vrrp_instances.len();
    BASE + 2 * checkers as u64 + 2 * instances as u64 + 16
}

/// The new (soft, hard) limits when (`soft`, `hard`) is short of `want`: keepalived's
/// rule, the soft limit up to `want` and the hard one with it if needed (we run as root).
fn raised(soft: u64, hard: u64, want: u64) -> Option<(u64, u64)> {
    (soft < want).then_some((want, hard.max(want)))
}

/// Raises `RLIMIT_NOFILE` to what `cfg` needs; logs what it did or why it could not.
/// Never lowers it. Children (scripts) inherit the raised soft limit.
pub fn raise_open_files(cfg: &Config) {
    let want = needed(cfg);
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("cannot read the open-file limit: {e}");
            return;
        }
    };
    let Some((new_soft, new_hard)) = raised(soft, hard, want) else {
        return;
    };
    match setrlimit(Resource::RLIMIT_NOFILE, new_soft, new_hard) {
        Ok(()) => tracing::info!(
            "open-file limit raised from {soft} to {new_soft}: the configuration's checks and instances may need that many"
        ),
        Err(e) => tracing::warn!(
            "cannot raise the open-file limit from {soft} to {new_soft} ({e}): checks may fail to start when many run at once"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rk_config::{LoadOptions, load_str};

    fn cfg(services: usize) -> Config {
        let mut t = String::from(
            "vrrp_instance A {\n interface lo\n virtual_router_id 1\n priority 100\n \
             virtual_ipaddress { 10.9.9.1 }\n}\n",
        );
        for i in 0..services {
            t.push_str(&format!(
                "virtual_server 10.9.9.1 {} {{\n protocol TCP\n lb_kind DR\n \
                 real_server 10.9.8.1 80 {{\n TCP_CHECK {{\n connect_timeout 5\n }}\n \
                 HTTP_GET {{\n url {{\n path /\n status_code 200\n }}\n }}\n }}\n}}\n",
                1000 + i
            ));
        }
        match load_str("t.conf", &t, &LoadOptions::for_tests()) {
            Ok(l) => l.config,
            Err(e) => panic!("{}", e.render()),
        }
    }

    #[test]
    fn needs_grow_with_checkers_and_instances() {
        assert_eq!(needed(&cfg(0)), BASE + 2 + 16);
        // 600 services × 2 checkers: more than the common soft limit of 1,024.
        assert_eq!(needed(&cfg(600)), BASE + 2 * 1200 + 2 + 16);
    }

    #[test]
    fn raised_never_lowers() {
        assert_eq!(raised(1024, 4096, 2466), Some((2466, 4096)));
        assert_eq!(raised(1024, 2048, 2466), Some((2466, 2466)));
        assert_eq!(raised(4096, 4096, 2466), None);
        assert_eq!(raised(2466, 4096, 2466), None);
    }

    #[test]
    fn the_process_limit_ends_at_least_at_the_need() {
        // Only ever raises, so it is safe beside the other tests of this process.
        let big = cfg(600);
        raise_open_files(&big);
        let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert!(soft >= needed(&big), "{soft}");
    }
}
