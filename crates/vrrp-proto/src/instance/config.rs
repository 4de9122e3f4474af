//! [`InstanceConfig`]: the plain description of one VRRP instance. The daemon maps the
//! config crate's model onto it (defaults, `vrrp_strict`, global fall-backs); nothing here
//! parses text.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use thiserror::Error;

use crate::auth::Auth;
use crate::packet::{Family, MCAST_GROUP_V4, MCAST_GROUP_V6, PRIORITY_OWNER, VRRP_TTL, Version};
use crate::time::Centisecs;

/// A unicast peer (`unicast_peer { IP [min_ttl N] [max_ttl N] }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnicastPeer {
    /// The peer's address.
    pub addr: IpAddr,
    /// Lowest TTL accepted from it (checked with `check_unicast_src`).
    pub min_ttl: u8,
    /// Highest TTL accepted from it (checked with `check_unicast_src`).
    pub max_ttl: u8,
}

impl UnicastPeer {
    /// A peer with no TTL restriction.
    pub fn new(addr: IpAddr) -> Self {
        UnicastPeer {
            addr,
            min_ttl: 0,
            max_ttl: 255,
        }
    }
}

/// Where adverts go and how they are received.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Multicast to `group` (224.0.0.18 / ff02::12 or `vrrp_mcast_group4/6`, `mcast_dst_ip`).
    Multicast {
        /// The group.
        group: IpAddr,
    },
    /// One copy to each peer, in order (`unicast_peer`). Never falls back to multicast.
    Unicast {
        /// The peers.
        peers: Vec<UnicastPeer>,
        /// TTL / hop limit of unicast adverts (`unicast_ttl`, default 255).
        ttl: u8,
        /// `check_unicast_src`: accept adverts only from `peers` (and within their TTLs).
        check_src: bool,
    },
}

impl Delivery {
    /// The default multicast group of `family`.
    pub fn default_multicast(family: Family) -> Self {
        let group = match family {
            Family::V4 => IpAddr::V4(MCAST_GROUP_V4),
            Family::V6 => IpAddr::V6(MCAST_GROUP_V6),
        };
        Delivery::Multicast { group }
    }

    /// True for unicast.
    pub fn is_unicast(&self) -> bool {
        matches!(self, Delivery::Unicast { .. })
    }
}

/// The gratuitous ARP / unsolicited NA schedule (`garp_master_*`, `garp_lower_prio_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GarpConfig {
    /// Sends per address on entering MASTER (`garp_master_repeat`, default 5).
    pub master_repeat: u32,
    /// Delay of the second burst; zero disables it (`garp_master_delay`, default 5 s).
    pub master_delay: Duration,
    /// Period of refresh bursts while MASTER (`garp_master_refresh`, default off).
    pub refresh: Option<Duration>,
    /// Sends per address in a refresh burst (`garp_master_refresh_repeat`, default 1).
    pub refresh_repeat: u32,
    /// Sends per address when a lower-priority advert is heard while MASTER
    /// (`garp_lower_prio_repeat`; keepalived's default is `master_repeat`).
    pub lower_prio_repeat: u32,
    /// Delay of the second lower-priority burst (`garp_lower_prio_delay`, default
    /// `master_delay`); zero disables it.
    pub lower_prio_delay: Duration,
}

impl Default for GarpConfig {
    fn default() -> Self {
        GarpConfig {
            master_repeat: 5,
            master_delay: Duration::from_secs(5),
            refresh: None,
            refresh_repeat: 1,
            lower_prio_repeat: 5,
            lower_prio_delay: Duration::from_secs(5),
        }
    }
}

/// What to do when a received advert's address list differs from ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum VipCheckMode {
    /// Reject the advert (keepalived ≤ 2.3.2, including our interop peer 2.2.7; RFC 3768
    /// §7.1 for non-owner senders). The default, so that a pair mixing rkeepalived and
    /// keepalived 2.2.7 elects exactly as a pure 2.2.7 pair does: a node replacing a
    /// keepalived node must not change which node ends up MASTER.
    #[default]
    Reject,
    /// Count and accept (keepalived ≥ 2.3.3, RFC 9568 §7.1 "SHOULD log").
    CountOnly,
}

/// keepalived ≤ 1.3.5 computed the VRRPv3 IPv4 unicast checksum over the multicast group
/// instead of the peer address (`old_unicast_checksum`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OldUnicastChecksum {
    /// Use the standard form, switch to the old one if a peer's adverts only verify that way
    /// (keepalived's default when built with checksum compatibility, as Debian's is).
    #[default]
    Auto,
    /// Always the old form (`old_unicast_checksum`).
    Always,
    /// Never (`old_unicast_checksum never`).
    Never,
}

/// VRRPv3 IPv4 checksum options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChecksumConfig {
    /// `v3_checksum_as_v2`: leave the pseudo-header out.
    pub v3_as_v2: bool,
    /// Old unicast form handling.
    pub old_unicast: OldUnicastChecksum,
    /// The group the old form puts in the pseudo-header (`vrrp_mcast_group4`).
    pub old_unicast_group: Ipv4Addr,
}

impl Default for ChecksumConfig {
    fn default() -> Self {
        ChecksumConfig {
            v3_as_v2: false,
            old_unicast: OldUnicastChecksum::Auto,
            old_unicast_group: MCAST_GROUP_V4,
        }
    }
}

/// One VRRP instance's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceConfig {
    /// Virtual Router ID, 1..=255.
    pub vrid: u8,
    /// VRRP version (IPv6 requires 3).
    pub version: Version,
    /// Address family of the instance and of `vips`.
    pub family: Family,
    /// Base priority, 1..=255; 255 = address owner, whose priority never changes.
    pub priority: u8,
    /// `state MASTER`. Only an owner (priority 255) starts as MASTER; on any other instance
    /// it changes nothing here (keepalived uses it to default the priority to 255, which the
    /// config mapping does). Defaults to `priority == 255`.
    pub wants_master: bool,
    /// Advertisement interval (v2: whole seconds ≤ 255; v3: ≤ 40.95 s).
    pub advert_interval: Centisecs,
    /// Preempt a lower-priority master (default). `nopreempt` sets false.
    pub preempt: bool,
    /// `preempt_delay`: after first hearing a lower-priority master, keep accepting it this
    /// long before preempting.
    pub preempt_delay: Duration,
    /// v2 authentication.
    pub auth: Auth,
    /// Addresses advertised and held while MASTER (`virtual_ipaddress`), all of `family`.
    pub vips: Vec<IpAddr>,
    /// Addresses held while MASTER but not advertised (`virtual_ipaddress_excluded`).
    pub excluded_vips: Vec<IpAddr>,
    /// Configured source address (`mcast_src_ip` / `unicast_src_ip`); otherwise the
    /// interface's primary address, given by [`crate::Input::InterfaceAddress`].
    pub src_addr: Option<IpAddr>,
    /// Multicast or unicast.
    pub delivery: Delivery,
    /// GARP / NA schedule.
    pub garp: GarpConfig,
    /// Advert intervals in the master-down timer (`down_timer_adverts`, 1..=100, default 3).
    pub down_timer_adverts: u8,
    /// Advertised-address mismatch handling.
    pub vip_check: VipCheckMode,
    /// `skip_check_adv_addr`: don't re-check the addresses of adverts from the master we
    /// already accepted.
    pub skip_check_adv_addr: bool,
    /// VRRPv3 IPv4 checksum options.
    pub checksum: ChecksumConfig,
    /// `higher_prio_send_advert`: a MASTER that hears a higher priority sends one advert
    /// before yielding (default off, as in keepalived).
    pub higher_prio_send_advert: bool,
    /// `lower_prio_no_advert`: a MASTER that hears a lower priority does not answer with an
    /// advert (default off: it answers).
    pub lower_prio_no_advert: bool,
    /// Go to FAULT when the instance's interface is down (default; `dont_track_primary`
    /// sets false).
    pub track_interface: bool,
    /// Member of a sync group: the down timer does not take the instance to MASTER by
    /// itself; it emits [`crate::Action::WantMaster`] and waits for
    /// [`crate::SyncCommand::GoMaster`] (keepalived's `vrrp_sync_can_goto_master`).
    pub sync_member: bool,
}

impl InstanceConfig {
    /// A configuration with keepalived's defaults: priority 100, 1 s adverts, preempt on,
    /// no auth, multicast to the family's group, GARP 5 + 5 after 5 s.
    pub fn new(vrid: u8, version: Version, family: Family, vips: Vec<IpAddr>) -> Self {
        InstanceConfig {
            vrid,
            version,
            family,
            priority: 100,
            wants_master: false,
            advert_interval: Centisecs(100),
            preempt: true,
            preempt_delay: Duration::ZERO,
            auth: Auth::None,
            vips,
            excluded_vips: Vec::new(),
            src_addr: None,
            delivery: Delivery::default_multicast(family),
            garp: GarpConfig::default(),
            down_timer_adverts: 3,
            vip_check: VipCheckMode::default(),
            skip_check_adv_addr: false,
            checksum: ChecksumConfig::default(),
            higher_prio_send_advert: false,
            lower_prio_no_advert: false,
            track_interface: true,
            sync_member: false,
        }
    }

    /// True when the base priority is 255.
    pub fn is_owner(&self) -> bool {
        self.priority == PRIORITY_OWNER
    }

    /// All addresses the instance holds while MASTER: advertised then excluded.
    pub fn all_vips(&self) -> Vec<IpAddr> {
        let mut v = self.vips.clone();
        v.extend(
            self.excluded_vips
                .iter()
                .copied()
                .filter(|a| !self.vips.contains(a)),
        );
        v
    }

    /// TTL of outgoing adverts.
    pub(crate) fn tx_ttl(&self) -> u8 {
        match &self.delivery {
            Delivery::Multicast { .. } => VRRP_TTL,
            Delivery::Unicast { ttl, .. } => *ttl,
        }
    }

    /// Checks what the codec and the state machine rely on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.vrid == 0 {
            return Err(ConfigError::Vrid);
        }
        if self.priority == 0 {
            return Err(ConfigError::Priority);
        }
        if self.version == Version::V2 && self.family == Family::V6 {
            return Err(ConfigError::V2OverIpv6);
        }
        if self.version == Version::V3 && self.auth != Auth::None {
            return Err(ConfigError::AuthWithV3);
        }
        let interval_ok = match self.version {
            Version::V2 => self.advert_interval.as_whole_secs().is_some_and(|s| s > 0),
            Version::V3 => {
                self.advert_interval.get() > 0 && self.advert_interval <= Centisecs::V3_MAX
            }
        };
        if !interval_ok {
            return Err(ConfigError::Interval(self.advert_interval));
        }
        if self.vips.len() > 255 {
            return Err(ConfigError::TooManyVips(self.vips.len()));
        }
        if let Some(a) = self.vips.iter().find(|a| Family::of(a) != self.family) {
            return Err(ConfigError::Family(*a));
        }
        if let Some(a) = self.src_addr.filter(|a| Family::of(a) != self.family) {
            return Err(ConfigError::Family(a));
        }
        match &self.delivery {
            Delivery::Multicast { group } => {
                if Family::of(group) != self.family || !group.is_multicast() {
                    return Err(ConfigError::Group(*group));
                }
            }
            Delivery::Unicast { peers, .. } => {
                if peers.is_empty() {
                    return Err(ConfigError::NoPeers);
                }
                if let Some(p) = peers.iter().find(|p| Family::of(&p.addr) != self.family) {
                    return Err(ConfigError::Family(p.addr));
                }
            }
        }
        if !(1..=100).contains(&self.down_timer_adverts) {
            return Err(ConfigError::DownTimerAdverts(self.down_timer_adverts));
        }
        // Deadlines are `Instant + Duration`, which panics on overflow: bound every delay
        // (keepalived: preempt_delay ≤ 1000 s; GARP delays are whole seconds in an int).
        let g = &self.garp;
        let delays = [
            ("preempt_delay", self.preempt_delay, MAX_PREEMPT_DELAY),
            ("garp_master_delay", g.master_delay, MAX_GARP_DELAY),
            ("garp_lower_prio_delay", g.lower_prio_delay, MAX_GARP_DELAY),
            (
                "garp_master_refresh",
                g.refresh.unwrap_or_default(),
                MAX_GARP_DELAY,
            ),
        ];
        if let Some((name, _, max)) = delays.iter().find(|(_, d, max)| d > max) {
            return Err(ConfigError::Delay { name, max: *max });
        }
        Ok(())
    }
}

/// Longest `preempt_delay` (keepalived's limit).
pub const MAX_PREEMPT_DELAY: Duration = Duration::from_secs(1000);
/// Longest GARP delay or refresh period accepted (one day).
pub const MAX_GARP_DELAY: Duration = Duration::from_secs(86_400);

/// A configuration the state machine cannot run.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// VRID 0.
    #[error("virtual_router_id must be 1..=255")]
    Vrid,
    /// Priority 0 (reserved for "master stopping").
    #[error("priority must be 1..=255")]
    Priority,
    /// VRRPv2 over IPv6.
    #[error("VRRPv2 is IPv4 only; IPv6 needs version 3")]
    V2OverIpv6,
    /// Authentication with VRRPv3.
    #[error("authentication needs VRRPv2")]
    AuthWithV3,
    /// Interval not carriable by the version.
    #[error("advert interval {0} is not valid for this version")]
    Interval(Centisecs),
    /// More than 255 advertised addresses.
    #[error("{0} virtual addresses: at most 255 can be advertised")]
    TooManyVips(usize),
    /// An address of the wrong family.
    #[error("address {0} is not of the instance's family")]
    Family(IpAddr),
    /// The multicast group is not a multicast address of the family.
    #[error("{0} is not a multicast group of the instance's family")]
    Group(IpAddr),
    /// Unicast with no peers (keepalived would silently fall back to multicast).
    #[error("unicast delivery needs at least one peer")]
    NoPeers,
    /// `down_timer_adverts` outside 1..=100.
    #[error("down_timer_adverts {0} outside 1..=100")]
    DownTimerAdverts(u8),
    /// A delay above its maximum.
    #[error("{name} longer than {max:?}")]
    Delay {
        /// The keyword.
        name: &'static str,
        /// Its maximum.
        max: Duration,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> InstanceConfig {
        InstanceConfig::new(
            1,
            Version::V2,
            Family::V4,
            vec!["192.0.2.1".parse().unwrap()],
        )
    }

    #[test]
    fn defaults_are_keepalived_defaults_and_valid() {
        let c = base();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(
            (
                c.priority,
                c.advert_interval,
                c.preempt,
                c.down_timer_adverts
            ),
            (100, Centisecs(100), true, 3)
        );
        assert_eq!(
            c.delivery,
            Delivery::Multicast {
                group: IpAddr::V4(MCAST_GROUP_V4)
            }
        );
        assert_eq!(c.garp, GarpConfig::default());
        assert_eq!(c.vip_check, VipCheckMode::Reject);
        assert!(!c.is_owner());
    }

    #[test]
    fn each_error() {
        let check = |f: &dyn Fn(&mut InstanceConfig), want: ConfigError| {
            let mut c = base();
            f(&mut c);
            assert_eq!(c.validate(), Err(want));
        };
        check(&|c| c.vrid = 0, ConfigError::Vrid);
        check(&|c| c.priority = 0, ConfigError::Priority);
        check(&|c| c.family = Family::V6, ConfigError::V2OverIpv6);
        check(
            &|c| {
                c.version = Version::V3;
                c.auth = Auth::Pass(crate::AuthKey::new(b"x"));
            },
            ConfigError::AuthWithV3,
        );
        check(
            &|c| c.advert_interval = Centisecs(150),
            ConfigError::Interval(Centisecs(150)),
        );
        check(
            &|c| c.advert_interval = Centisecs(0),
            ConfigError::Interval(Centisecs(0)),
        );
        check(
            &|c| {
                c.version = Version::V3;
                c.advert_interval = Centisecs(4096);
            },
            ConfigError::Interval(Centisecs(4096)),
        );
        check(
            &|c| c.vips = vec!["192.0.2.1".parse().unwrap(); 256],
            ConfigError::TooManyVips(256),
        );
        check(
            &|c| c.vips.push("::1".parse().unwrap()),
            ConfigError::Family("::1".parse().unwrap()),
        );
        check(
            &|c| c.src_addr = Some("::1".parse().unwrap()),
            ConfigError::Family("::1".parse().unwrap()),
        );
        check(
            &|c| {
                c.delivery = Delivery::Multicast {
                    group: "10.0.0.1".parse().unwrap(),
                }
            },
            ConfigError::Group("10.0.0.1".parse().unwrap()),
        );
        check(
            &|c| {
                c.delivery = Delivery::Unicast {
                    peers: vec![],
                    ttl: 255,
                    check_src: false,
                }
            },
            ConfigError::NoPeers,
        );
        check(
            &|c| c.down_timer_adverts = 0,
            ConfigError::DownTimerAdverts(0),
        );
        check(
            &|c| c.preempt_delay = Duration::from_secs(1001),
            ConfigError::Delay {
                name: "preempt_delay",
                max: MAX_PREEMPT_DELAY,
            },
        );
        check(
            &|c| c.garp.refresh = Some(Duration::MAX),
            ConfigError::Delay {
                name: "garp_master_refresh",
                max: MAX_GARP_DELAY,
            },
        );
    }

    #[test]
    fn all_vips_lists_excluded_after_advertised_without_duplicates() {
        let mut c = base();
        c.excluded_vips = vec![
            "192.0.2.1".parse().unwrap(),
            "198.51.100.1".parse().unwrap(),
        ];
        assert_eq!(
            c.all_vips(),
            vec![
                "192.0.2.1".parse::<IpAddr>().unwrap(),
                "198.51.100.1".parse().unwrap()
            ]
        );
    }
}
