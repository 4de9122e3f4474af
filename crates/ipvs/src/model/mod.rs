//! The typed layer above the codec: what the coordinator reasons about.
//!
//! Conversions go both ways: `to_attrs` builds request attributes,
//! `from_attrs` reads kernel replies. Reading is lenient about attributes it
//! does not need and strict about the ones that identify an object.

mod daemon;
mod dest;
mod service;
mod stats;

pub use daemon::{Daemon, Info, SyncRole, Timeouts};
pub use dest::{DestKey, Destination, DestinationEntry, Forward, TunnelFlags, TunnelType};
pub use service::{Family, Persistence, Protocol, Service, ServiceEntry, ServiceFlags, ServiceKey};
pub use stats::Stats;

pub(crate) use dest::DestFields;
pub(crate) use service::SvcFields;

use crate::error::ModelError;

/// Take the single attribute `pick` selects, or fail naming `what`.
pub(crate) fn require<A, T>(
    attrs: &[A],
    what: &'static str,
    pick: impl Fn(&A) -> Option<T>,
) -> Result<T, ModelError> {
    find(attrs, pick).ok_or(ModelError::Missing(what))
}

/// Keep `v` unless `slot` already holds an earlier occurrence (the
/// attribute gatherers' "first one wins", as `find` reads a list).
pub(crate) fn first<T>(slot: &mut Option<T>, v: T) {
    if slot.is_none() {
        *slot = Some(v);
    }
}

/// The first attribute `pick` selects.
pub(crate) fn find<A, T>(attrs: &[A], pick: impl Fn(&A) -> Option<T>) -> Option<T> {
    attrs.iter().find_map(pick)
}
