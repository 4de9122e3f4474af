//! Typed protocol time.
//!
//! VRRP intervals are carried as [`Centisecs`] everywhere: VRRPv3 puts centiseconds on the
//! wire (RFC 9568 §5.2.7) and VRRPv2's whole seconds (RFC 3768 §5.3.7) are converted once, at
//! the boundary (config and codec). Deadlines are [`std::time::Instant`]s handed in by the
//! caller, so the state machine never reads a clock itself.

use std::fmt;
use std::time::Duration;

use crate::packet::Version;

/// An interval in centiseconds (1/100 s), VRRP's unit of time.
///
/// The full `u16` range is allowed so that VRRPv2 intervals up to 255 s (25 500 cs) fit;
/// VRRPv3 can only carry 12 bits ([`Centisecs::V3_MAX`], 40.95 s) and the encoder refuses more.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Centisecs(pub u16);

impl Centisecs {
    /// The largest interval VRRPv3's 12-bit Max Advertise Interval field can carry (40.95 s).
    pub const V3_MAX: Centisecs = Centisecs(0x0FFF);

    /// Whole seconds, as VRRPv2 carries them.
    pub const fn from_secs(secs: u8) -> Self {
        Centisecs(secs as u16 * 100)
    }

    /// The number of centiseconds.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Whole seconds when the interval is a whole number of seconds that fits VRRPv2's
    /// 8-bit Adver Int field, else `None`.
    pub const fn as_whole_secs(self) -> Option<u8> {
        if self.0.is_multiple_of(100) && self.0 / 100 <= u8::MAX as u16 {
            Some((self.0 / 100) as u8)
        } else {
            None
        }
    }

    /// The interval as a [`Duration`].
    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0 as u64 * 10)
    }
}

impl fmt::Display for Centisecs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}s", self.0 / 100, self.0 % 100)
    }
}

/// Skew_Time for a router of `priority` (RFC 3768 §6.1, RFC 9568 §6.1).
///
/// * v2: `(256 − priority) / 256` seconds, independent of the advert interval.
/// * v3: `((256 − priority) × Master_Adver_Interval) / 256` centiseconds.
///
/// The result is exact to the nanosecond rather than truncated to whole centiseconds:
/// with short v3 intervals (e.g. 10 ms) truncation would give every priority the same
/// zero skew and let all backups fire at once, which is what the skew exists to prevent.
/// keepalived computes it the same way, in microseconds (`VRRP_TIMER_SKEW_CALC`).
pub fn skew(version: Version, priority: u8, master_adver_int: Centisecs) -> Duration {
    let weight = 256 - u64::from(priority);
    match version {
        // 1 s / 256 = 3 906 250 ns exactly.
        Version::V2 => Duration::from_nanos(weight * 3_906_250),
        // 10 ms / 256 = 39 062.5 ns: multiply first, divide last.
        Version::V3 => {
            Duration::from_nanos(weight * u64::from(master_adver_int.0) * 10_000_000 / 256)
        }
    }
}

/// Master_Down_Interval = `down_timer_adverts` × Master_Adver_Interval + Skew_Time
/// (RFC 9568 §6.1 with keepalived's `down_timer_adverts` in place of the RFC's 3).
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_int: Centisecs,
    down_timer_adverts: u8,
) -> Duration {
    master_adver_int.as_duration() * u32::from(down_timer_adverts)
        + skew(version, priority, master_adver_int)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_skew_is_fraction_of_a_second() {
        assert_eq!(
            skew(Version::V2, 100, Centisecs(100)),
            Duration::from_micros(609_375)
        );
        // Independent of the interval in v2.
        assert_eq!(
            skew(Version::V2, 100, Centisecs(300)),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew(Version::V2, 255, Centisecs(100)),
            Duration::from_nanos(3_906_250)
        );
    }

    #[test]
    fn v3_skew_scales_with_interval() {
        // 100 ms adverts at priority 100: 156 × 10 cs / 256 = 6.09375 cs.
        assert_eq!(
            skew(Version::V3, 100, Centisecs(10)),
            Duration::from_micros(60_937) + Duration::from_nanos(500)
        );
        // 10 ms adverts: still distinct per priority (no truncation to whole centiseconds).
        assert!(skew(Version::V3, 200, Centisecs(1)) < skew(Version::V3, 100, Centisecs(1)));
        assert_ne!(skew(Version::V3, 200, Centisecs(1)), Duration::ZERO);
    }

    #[test]
    fn down_interval_matches_rfc_example() {
        // keepalived's default: advert_int 1, priority 100 → 3.609375 s.
        assert_eq!(
            master_down_interval(Version::V2, 100, Centisecs(100), 3),
            Duration::from_micros(3_609_375)
        );
        // 1000 ms at priority 200: FRR documents 3 210 ms because it truncates the skew to
        // whole centiseconds; the exact value is 3 218.75 ms.
        assert_eq!(
            master_down_interval(Version::V3, 200, Centisecs(100), 3),
            Duration::from_micros(3_218_750)
        );
    }

    #[test]
    fn whole_secs_conversion() {
        assert_eq!(Centisecs::from_secs(3).as_whole_secs(), Some(3));
        assert_eq!(Centisecs(150).as_whole_secs(), None);
        assert_eq!(Centisecs(25_600).as_whole_secs(), None);
        assert_eq!(Centisecs(25_500).as_whole_secs(), Some(255));
    }
}
