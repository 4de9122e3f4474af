//! The state machine's inputs and outputs.

use std::fmt;
use std::net::IpAddr;

use crate::packet::{DecodeError, Received, Transmit};

/// Identifies a tracker (script, interface, file, process, BFD…) feeding an instance;
/// the daemon assigns the numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrackerId(pub u32);

/// A reason for FAULT. The instance is in FAULT while any source is active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultSource {
    /// The instance's own interface is down ([`Input::InterfaceDown`]).
    Interface,
    /// A weight-0 tracker is down (`track_script`, `track_interface`, `track_file` with
    /// weight 0, or a weighted `track_file` below −253).
    Tracker(TrackerId),
    /// The configured source address disappeared (`track_src_ip`).
    SourceAddress,
    /// Another member of the instance's sync group is in FAULT.
    SyncGroup,
}

/// Commands from a sync group coordinator (see [`crate::InstanceConfig::sync_member`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncCommand {
    /// Every member wants MASTER: a BACKUP member becomes MASTER now.
    GoMaster,
    /// A member left MASTER: a MASTER member goes to BACKUP (no priority-0 advert).
    GoBackup,
}

/// Something that happened, handed to [`crate::Instance::handle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Leave INIT (RFC 9568 §6.4.1 "Startup event"). Give interface state, address and
    /// trackers' initial values first.
    Start,
    /// Leave INIT as [`Input::Start`] does, for an instance whose VIPs are still on the
    /// interfaces because this node's previous process ended while MASTER without releasing
    /// them (killed, or stopped with `-V`). Instead of removing them and waiting out a full
    /// Master_Down_Interval, the instance enters BACKUP *holding* them and waits one
    /// Advertisement_Interval plus Skew_Time: with no advert heard by then, no other master
    /// exists and it becomes MASTER, so traffic to the VIPs never stops; any advert heard
    /// first makes it an ordinary BACKUP (the VIPs are released, the full down timer runs,
    /// and election proceeds as after [`Input::Start`]). keepalived keeps a MASTER as
    /// MASTER across a reload; this carries that over to a restart. A fault at start, or an
    /// address owner, behaves exactly as with [`Input::Start`].
    Resume,
    /// A received advert that passed [`crate::packet::decode`] with the instance's rules
    /// ([`crate::Instance::rx_rules`]).
    Advert(Box<Received>),
    /// A packet for this instance that failed decoding: counted, otherwise ignored (the
    /// down timer keeps running, as in keepalived).
    DecodeError(DecodeError),
    /// A deadline given by [`crate::Instance::poll_timeout`] may have passed.
    Timer,
    /// The instance's interface came up.
    InterfaceUp,
    /// The instance's interface went down.
    InterfaceDown,
    /// The interface's primary address of the instance's family (the advert source when no
    /// `src_addr` is configured), or `None` if it has none.
    InterfaceAddress(Option<IpAddr>),
    /// A weighted tracker's current contribution to the priority (`+N` while up or `−N`
    /// while down, per its weight; 0 when it contributes nothing). Replaces the previous
    /// value of that tracker.
    PriorityAdjustment {
        /// The tracker.
        tracker: TrackerId,
        /// Its contribution.
        delta: i32,
    },
    /// A fault source became active or cleared.
    Fault {
        /// The source.
        source: FaultSource,
        /// Whether it is active now.
        active: bool,
    },
    /// A sync-group command.
    Sync(SyncCommand),
    /// Our VIPs were deleted behind our back while MASTER: give up with a priority-0 advert
    /// (keepalived `set_vrrp_backup`).
    VipsLost,
    /// Leave: a MASTER sends priority 0 and releases its VIPs (RFC 9568 §6.4.3 Shutdown).
    Shutdown,
}

/// The instance's state, without its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateKind {
    /// Not started yet.
    Init,
    /// Listening to a master.
    Backup,
    /// Forwarding for the virtual router: holding the VIPs and advertising.
    Master,
    /// Disabled by a fault.
    Fault,
    /// Shut down.
    Stopped,
}

impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateKind::Init => "INIT",
            StateKind::Backup => "BACKUP",
            StateKind::Master => "MASTER",
            StateKind::Fault => "FAULT",
            StateKind::Stopped => "STOP",
        })
    }
}

/// Why a state change happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Start-up into BACKUP (or FAULT).
    Startup,
    /// Start-up (or fault recovery) of the address owner straight into MASTER.
    Owner,
    /// The master-down timer ran out with no advert from any master.
    MasterNoResponse,
    /// The master sent priority 0 and the skew time passed.
    MasterStopped,
    /// We preempted a lower-priority master (its adverts were discarded until the down
    /// timer ran out).
    Preempted,
    /// A higher priority (or an equal one from a higher address) was heard while MASTER.
    HigherPriority,
    /// A fault source became active.
    Fault,
    /// The last fault source cleared.
    FaultCleared,
    /// The sync group moved the instance.
    SyncGroup,
    /// The VIPs were removed externally.
    VipsLost,
    /// Shutdown.
    Shutdown,
}

/// Something the driver must do, drained with [`crate::Instance::poll_action`] in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this advert to each of its destinations ([`Transmit::encode`] per destination).
    SendAdvert(Transmit),
    /// Add these addresses (with their configured details) to the interface.
    AddVips(Vec<IpAddr>),
    /// Remove these addresses (missing ones are not an error: also used to clean up at
    /// start-up).
    RemoveVips(Vec<IpAddr>),
    /// Send `repeat` gratuitous ARPs (IPv4) or unsolicited NAs (IPv6) for each address.
    SendGarp {
        /// The addresses.
        addresses: Vec<IpAddr>,
        /// Sends per address.
        repeat: u32,
    },
    /// The state changed: run notify scripts, write FIFO lines, tell the coordinator.
    StateChange {
        /// Previous state.
        from: StateKind,
        /// New state.
        to: StateKind,
        /// Why.
        reason: Reason,
        /// Effective priority at the time (notify's 4th argument).
        priority: u8,
    },
    /// The effective priority changed (`notify_priority_changes`).
    PriorityChanged {
        /// Before.
        from: u8,
        /// After.
        to: u8,
    },
    /// While MASTER, an advert from a lower-priority master was heard
    /// (`notify_master_rx_lower_pri`, FIFO `MASTER_RX_LOWER_PRI`).
    MasterRxLowerPriority {
        /// Its source.
        from: IpAddr,
        /// Its priority.
        priority: u8,
    },
    /// A sync member's down timer ran out: it wants MASTER and waits for
    /// [`SyncCommand::GoMaster`].
    WantMaster,
}
