//! Counters the driver and the daemon expose: one per [`DecodeError`] variant, plus the
//! protocol events keepalived keeps in its `vrrp_stats` (RFC 2787 / RFC 6527 MIB counters).

use crate::packet::DecodeError;

/// One counter per [`DecodeError`] variant.
///
/// [`crate::Instance`] keeps one for its own packets; the driver keeps another for packets
/// it could not hand to an instance (too short to read a VRID, unknown VRID, …).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeCounters {
    /// [`DecodeError::Truncated`].
    pub truncated: u64,
    /// [`DecodeError::TooLong`].
    pub too_long: u64,
    /// [`DecodeError::NotIpv4`].
    pub not_ipv4: u64,
    /// [`DecodeError::BadIhl`].
    pub bad_ihl: u64,
    /// [`DecodeError::BadProtocol`].
    pub bad_protocol: u64,
    /// [`DecodeError::VridMismatch`].
    pub vrid_mismatch: u64,
    /// [`DecodeError::AhPresenceMismatch`].
    pub ah_presence_mismatch: u64,
    /// [`DecodeError::BadTtl`].
    pub bad_ttl: u64,
    /// [`DecodeError::VersionMismatch`].
    pub version_mismatch: u64,
    /// [`DecodeError::InvalidAuthType`].
    pub invalid_auth_type: u64,
    /// [`DecodeError::AuthTypeMismatch`].
    pub auth_type_mismatch: u64,
    /// [`DecodeError::BadPassword`].
    pub bad_password: u64,
    /// [`DecodeError::AhNextHeader`].
    pub ah_next_header: u64,
    /// [`DecodeError::AhIcv`].
    pub ah_icv: u64,
    /// [`DecodeError::AhSpi`].
    pub ah_spi: u64,
    /// [`DecodeError::AhReplay`].
    pub ah_replay: u64,
    /// [`DecodeError::AdvertIntervalMismatch`].
    pub advert_interval_mismatch: u64,
    /// [`DecodeError::BadType`].
    pub bad_type: u64,
    /// [`DecodeError::AddressCountMismatch`]; also counts mismatches accepted under
    /// [`crate::packet::VipCheck::CountOnly`].
    pub address_count_mismatch: u64,
    /// [`DecodeError::IpTotalLength`].
    pub ip_total_length: u64,
    /// [`DecodeError::BadChecksum`].
    pub bad_checksum: u64,
    /// [`DecodeError::DeliveryMismatch`].
    pub delivery_mismatch: u64,
    /// [`DecodeError::AddressListMismatch`]; also counts mismatches accepted under
    /// [`crate::packet::VipCheck::CountOnly`].
    pub address_list_mismatch: u64,
    /// [`DecodeError::UnknownPeer`].
    pub unknown_peer: u64,
    /// [`DecodeError::TtlOutOfRange`].
    pub ttl_out_of_range: u64,
    /// [`DecodeError::FamilyMismatch`].
    pub family_mismatch: u64,
}

impl DecodeCounters {
    /// Counts `e` under its variant.
    pub fn record(&mut self, e: &DecodeError) {
        let c = match e {
            DecodeError::Truncated { .. } => &mut self.truncated,
            DecodeError::TooLong { .. } => &mut self.too_long,
            DecodeError::NotIpv4(_) => &mut self.not_ipv4,
            DecodeError::BadIhl(_) => &mut self.bad_ihl,
            DecodeError::BadProtocol(_) => &mut self.bad_protocol,
            DecodeError::VridMismatch { .. } => &mut self.vrid_mismatch,
            DecodeError::AhPresenceMismatch { .. } => &mut self.ah_presence_mismatch,
            DecodeError::BadTtl(_) => &mut self.bad_ttl,
            DecodeError::VersionMismatch { .. } => &mut self.version_mismatch,
            DecodeError::InvalidAuthType(_) => &mut self.invalid_auth_type,
            DecodeError::AuthTypeMismatch { .. } => &mut self.auth_type_mismatch,
            DecodeError::BadPassword => &mut self.bad_password,
            DecodeError::AhNextHeader(_) => &mut self.ah_next_header,
            DecodeError::AhIcv => &mut self.ah_icv,
            DecodeError::AhSpi => &mut self.ah_spi,
            DecodeError::AhReplay { .. } => &mut self.ah_replay,
            DecodeError::AdvertIntervalMismatch { .. } => &mut self.advert_interval_mismatch,
            DecodeError::BadType(_) => &mut self.bad_type,
            DecodeError::AddressCountMismatch { .. } => &mut self.address_count_mismatch,
            DecodeError::IpTotalLength { .. } => &mut self.ip_total_length,
            DecodeError::BadChecksum(_) => &mut self.bad_checksum,
            DecodeError::DeliveryMismatch { .. } => &mut self.delivery_mismatch,
            DecodeError::AddressListMismatch(_) => &mut self.address_list_mismatch,
            DecodeError::UnknownPeer(_) => &mut self.unknown_peer,
            DecodeError::TtlOutOfRange { .. } => &mut self.ttl_out_of_range,
            DecodeError::FamilyMismatch => &mut self.family_mismatch,
        };
        *c = c.saturating_add(1);
    }

    /// Sum of all counters (packets that were dropped or flagged).
    pub fn total(&self) -> u64 {
        let f = [
            self.truncated,
            self.too_long,
            self.not_ipv4,
            self.bad_ihl,
            self.bad_protocol,
            self.vrid_mismatch,
            self.ah_presence_mismatch,
            self.bad_ttl,
            self.version_mismatch,
            self.invalid_auth_type,
            self.auth_type_mismatch,
            self.bad_password,
            self.ah_next_header,
            self.ah_icv,
            self.ah_spi,
            self.ah_replay,
            self.advert_interval_mismatch,
            self.bad_type,
            self.address_count_mismatch,
            self.ip_total_length,
            self.bad_checksum,
            self.delivery_mismatch,
            self.address_list_mismatch,
            self.unknown_peer,
            self.ttl_out_of_range,
            self.family_mismatch,
        ];
        f.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }
}

/// An instance's protocol counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Dropped (or flagged) packets, by reason.
    pub decode: DecodeCounters,
    /// Valid adverts received.
    pub adverts_received: u64,
    /// Adverts sent (one per send, whatever the number of unicast peers).
    pub adverts_sent: u64,
    /// Valid adverts with priority 0 received.
    pub priority_zero_received: u64,
    /// Adverts with priority 0 sent.
    pub priority_zero_sent: u64,
    /// Transitions into MASTER.
    pub became_master: u64,
    /// Transitions out of MASTER.
    pub released_master: u64,
    /// Packets ignored because the instance was in INIT, FAULT or stopped (keepalived drops
    /// them before any check).
    pub ignored_not_running: u64,
    /// Adverts from a lower-priority master heard while MASTER (split brain healed).
    pub lower_priority_heard: u64,
    /// Adverts with our own priority and our own address while MASTER (a loop or a
    /// duplicate address).
    pub own_address_heard: u64,
}
