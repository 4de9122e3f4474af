//! What the caller configures: one [`CheckerSpec`] per checker block of a real server.

use crate::fsm::{Anchor, FsmConfig, Mode, Timing};
use crate::probe::ProbeSpec;

/// The caller's stable name for one checker. It must stay the same across reloads for the
/// checker's state to carry over: derive it from the virtual server, the real server, the
/// checker type and the checker's rank among that real server's checkers of that type
/// (keepalived matches checkers the same way in `migrate_checkers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckerId(pub u64);

/// The caller's name for the real server (of one virtual server) a checker belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RealServerId(pub u64);

/// One configured checker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckerSpec {
    /// Stable identity (see [`CheckerId`]).
    pub id: CheckerId,
    /// The real server whose state this checker contributes to.
    pub real_server: RealServerId,
    /// Delays, retries, warmup and alpha, with the real server / virtual server defaults
    /// already applied by the caller.
    pub timing: Timing,
    /// What to probe.
    pub probe: ProbeSpec,
}

impl CheckerSpec {
    /// The state machine configuration this checker runs: MISC measures its period from the
    /// script's start, HTTP/SSL walk their URLs.
    pub fn fsm_config(&self) -> FsmConfig {
        let anchor = match self.probe {
            ProbeSpec::Misc(_) => Anchor::Start,
            _ => Anchor::Completion,
        };
        let mode = match &self.probe {
            ProbeSpec::Http(h) => Mode::Urls {
                count: u16::try_from(h.urls.len().max(1)).unwrap_or(u16::MAX),
                fast_recovery: h.fast_recovery,
            },
            _ => Mode::Single,
        };
        FsmConfig {
            timing: self.timing,
            anchor,
            mode,
        }
    }
}
