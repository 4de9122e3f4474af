//! From a configured virtual server to IPVS objects: its service keys
//! (`virtual_server_group` expanded), service settings and destinations.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rk_config::Config;
use rk_config::model::{
    Forwarding, RealServer, SchedFlags, SorryServer, TunnelCsum, TunnelType as CfgTunnel,
    VirtualServer, VsKey, VsgEntry,
};
use rk_ipvs::{
    DestKey, Destination, Forward, Persistence, Service, ServiceFlags, ServiceKey, TunnelFlags,
    TunnelType,
};

use crate::desired::Problem;
use crate::ids::{VsId, family, protocol};

/// Most addresses one `virtual_server_group` range entry may expand to.
/// Each address is one IPVS service; keepalived has no limit, but a `/8`
/// (or any IPv6 prefix) written by mistake would be millions of services.
pub const MAX_RANGE: u128 = 65_536;

/// The service keys of a virtual server, in configuration order, and the
/// problems met (entries skipped).
pub(crate) fn service_keys(vs: &VirtualServer, config: &Config) -> (Vec<ServiceKey>, Vec<Problem>) {
    let proto = protocol(vs.protocol);
    match &vs.key {
        VsKey::Addr { addr, port } => (
            vec![ServiceKey::Tuple {
                proto,
                addr: *addr,
                port: *port,
            }],
            vec![],
        ),
        VsKey::Fwmark { mark } => (
            vec![ServiceKey::Fwmark {
                af: family(vs.family),
                mark: *mark,
            }],
            vec![],
        ),
        VsKey::Group { name } => {
            let Some(group) = config
                .virtual_server_groups
                .iter()
                .find(|g| &g.name == name)
            else {
                return (
                    vec![],
                    vec![Problem::UnknownGroup {
                        vs: VsId::of(vs),
                        group: name.clone(),
                    }],
                );
            };
            let mut keys = Vec::new();
            let mut problems = Vec::new();
            for entry in &group.entries {
                match *entry {
                    VsgEntry::Fwmark { mark, family: f } => keys.push(ServiceKey::Fwmark {
                        af: family(f.unwrap_or(vs.family)),
                        mark,
                    }),
                    VsgEntry::Range { first, last, port } => match range(first, last) {
                        Some(addrs) => {
                            keys.extend(addrs.map(|addr| ServiceKey::Tuple { proto, addr, port }))
                        }
                        None => problems.push(Problem::RangeTooLarge {
                            vs: VsId::of(vs),
                            first,
                            last,
                        }),
                    },
                }
            }
            (keys, problems)
        }
    }
}

/// Every address from `first` to `last` inclusive, or `None` when that is
/// more than [`MAX_RANGE`] addresses (or the bounds are of different
/// families or reversed, which the configuration rejects).
fn range(first: IpAddr, last: IpAddr) -> Option<Box<dyn Iterator<Item = IpAddr>>> {
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let (a, b) = (u32::from(a), u32::from(b));
            (b >= a && u128::from(b - a) < MAX_RANGE)
                .then(|| Box::new((a..=b).map(|n| IpAddr::V4(Ipv4Addr::from(n)))) as Box<_>)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let (a, b) = (u128::from(a), u128::from(b));
            (b >= a && b - a < MAX_RANGE)
                .then(|| Box::new((a..=b).map(|n| IpAddr::V6(Ipv6Addr::from(n)))) as Box<_>)
        }
        _ => None,
    }
}

/// The IPVS settings of one service key of `vs`.
pub(crate) fn service(vs: &VirtualServer, key: ServiceKey) -> Service {
    let full = key.family().full_prefix();
    Service {
        key,
        scheduler: vs.scheduler.clone(),
        flags: flags(&vs.sched_flags),
        persistence: vs.persistence_timeout.map(|timeout| Persistence {
            timeout,
            // A group may mix families (all-tunnel real servers): a granularity
            // written for one cannot exceed the other's address size.
            prefix_len: vs.persistence_granularity.unwrap_or(full).min(full),
        }),
        pe_name: vs.persistence_engine.clone(),
    }
}

/// Scheduler flags: keepalived's names are aliases of the three kernel
/// flags (`sh-fallback`/`mh-fallback` = flag-1, `sh-port`/`mh-port` =
/// flag-2); `hashed` is obsolete and ignored, as keepalived does.
pub(crate) fn flags(f: &SchedFlags) -> ServiceFlags {
    let mut out = ServiceFlags::NONE;
    if f.flag_1 || f.sh_fallback || f.mh_fallback {
        out = out | ServiceFlags::SCHED1;
    }
    if f.flag_2 || f.sh_port || f.mh_port {
        out = out | ServiceFlags::SCHED2;
    }
    if f.flag_3 {
        out = out | ServiceFlags::SCHED3;
    }
    if f.ops {
        out = out | ServiceFlags::ONE_PACKET;
    }
    out
}

/// The IPVS forwarding method of a configured one.
pub(crate) fn forward(f: &Forwarding) -> Forward {
    match *f {
        Forwarding::Nat => Forward::Masq,
        Forwarding::Dr => Forward::DirectRoute,
        Forwarding::Tun {
            tun_type,
            port,
            csum,
        } => Forward::Tunnel {
            tun_type: match tun_type {
                CfgTunnel::Ipip => TunnelType::Ipip,
                CfgTunnel::Gue => TunnelType::Gue,
                CfgTunnel::Gre => TunnelType::Gre,
            },
            port: port.unwrap_or(0),
            flags: match csum {
                None | Some(TunnelCsum::Nocsum) => TunnelFlags::NOCSUM,
                Some(TunnelCsum::Csum) => TunnelFlags::CSUM,
                Some(TunnelCsum::Remcsum) => TunnelFlags::REMCSUM,
            },
        },
    }
}

/// keepalived's `real_weight`: negative dynamic weights count as 0, and
/// the kernel refuses anything above `i32::MAX`.
pub(crate) fn real_weight(w: i64) -> u32 {
    w.clamp(0, i64::from(i32::MAX)) as u32
}

/// A real server as a destination with `weight`.
pub(crate) fn rs_dest(rs: &RealServer, weight: u32) -> Destination {
    Destination {
        key: DestKey {
            addr: rs.addr,
            port: rs.port,
        },
        forward: forward(&rs.forwarding),
        weight,
        upper_threshold: rs.uthreshold,
        lower_threshold: rs.lthreshold,
    }
}

/// Weight keepalived gives a sorry server (`alloc_ssvr`).
pub const SORRY_WEIGHT: u32 = 1;

/// The sorry server as a destination with `weight`.
pub(crate) fn sorry_dest(s: &SorryServer, weight: u32) -> Destination {
    Destination {
        key: DestKey {
            addr: s.addr,
            port: s.port,
        },
        forward: forward(&s.forwarding),
        weight,
        upper_threshold: 0,
        lower_threshold: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        let v: Vec<IpAddr> = range(a("10.0.0.254"), a("10.0.1.1")).unwrap().collect();
        assert_eq!(
            v,
            vec![
                a("10.0.0.254"),
                a("10.0.0.255"),
                a("10.0.1.0"),
                a("10.0.1.1")
            ]
        );
        let v6: Vec<IpAddr> = range(a("2001:db8::ffff"), a("2001:db8::1:1"))
            .unwrap()
            .collect();
        assert_eq!(v6.len(), 3);
        assert!(
            range(a("10.0.0.0"), a("10.1.0.0")).is_none(),
            "65,537 addresses"
        );
        assert_eq!(
            range(a("10.0.0.0"), a("10.0.255.255")).unwrap().count(),
            65_536
        );
        assert!(range(a("10.0.0.2"), a("10.0.0.1")).is_none());
        assert!(range(a("10.0.0.1"), a("::1")).is_none());
    }

    #[test]
    fn weights_clamp_like_keepalived() {
        assert_eq!(real_weight(-5), 0);
        assert_eq!(real_weight(7), 7);
        assert_eq!(real_weight(i64::MAX), i32::MAX as u32);
    }
}
