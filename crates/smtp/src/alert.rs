//! keepalived's alert texts (`core/smtp.c` `smtp_alert`, `vrrp/vrrp_notify.c`
//! `vrrp_smtp_notifier` / `vrrp_sync_smtp_notifier`, `check/ipwrapper.c`
//! `do_vs_notifies`, the checkers' `smtp_alert` calls): subject `[router_id] ...` and a
//! one-line body between `=>` and `<=`.

/// A VRRP state an alert reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VrrpState {
    /// MASTER.
    Master,
    /// BACKUP.
    Backup,
    /// FAULT.
    Fault,
    /// Stopping.
    Stop,
}

/// Something worth an e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Alert {
    /// A VRRP instance changed state.
    Instance {
        /// Instance name.
        name: String,
        /// New state.
        state: VrrpState,
    },
    /// A sync group changed state.
    Group {
        /// Group name.
        name: String,
        /// New state.
        state: VrrpState,
    },
    /// A real server came up or went down.
    RealServer {
        /// The real server as keepalived writes it: `[10.1.1.1]:tcp:80`.
        rs: String,
        /// Its virtual server: `[10.0.0.1]:tcp:80`, `FWM 1`, `[group]:80`.
        vs: String,
        /// Up or down.
        up: bool,
        /// What the checker said, e.g. `=> CHECK failed on service : connection refused <=`.
        body: String,
    },
    /// A virtual server gained or lost its quorum.
    VirtualServer {
        /// The virtual server.
        vs: String,
        /// Quorum up or down.
        up: bool,
        /// e.g. `=> Gained quorum 1+0=1 <= 2 <=`.
        body: String,
    },
}

impl Alert {
    /// The subject, with `router_id`.
    pub fn subject(&self, router_id: &str) -> String {
        match self {
            Alert::Instance { name, state } => {
                format!(
                    "[{router_id}] VRRP Instance {name} - {}",
                    state_words(*state)
                )
            }
            Alert::Group { name, state } => {
                format!("[{router_id}] VRRP Group {name} - {}", state_words(*state))
            }
            Alert::RealServer { rs, vs, up, .. } => format!(
                "[{router_id}] Realserver {rs} of virtual server {vs} - {}",
                up_down(*up)
            ),
            Alert::VirtualServer { vs, up, .. } => {
                format!("[{router_id}] Virtualserver {vs} - {}", up_down(*up))
            }
        }
    }

    /// The body.
    pub fn body(&self) -> String {
        match self {
            Alert::Instance { state, .. } => match state {
                VrrpState::Master => "=> VRRP Instance is now owning VRRP VIPs <=",
                VrrpState::Backup | VrrpState::Fault => {
                    "=> VRRP Instance is no longer owning VRRP VIPs <="
                }
                VrrpState::Stop => "=> VRRP Instance stopping <=",
            }
            .to_string(),
            Alert::Group { state, .. } => match state {
                VrrpState::Master => "=> All VRRP group instances are now in MASTER state <=",
                VrrpState::Backup => "=> All VRRP group instances are now in BACKUP state <=",
                VrrpState::Fault => "=> All VRRP group instances are now in FAULT state <=",
                VrrpState::Stop => "=> All VRRP group instances are now stopping <=",
            }
            .to_string(),
            Alert::RealServer { body, .. } | Alert::VirtualServer { body, .. } => body.clone(),
        }
    }

    /// Whether this reports a FAULT (`no_email_faults` suppresses those).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            Alert::Instance {
                state: VrrpState::Fault,
                ..
            } | Alert::Group {
                state: VrrpState::Fault,
                ..
            }
        )
    }
}

fn state_words(s: VrrpState) -> &'static str {
    match s {
        VrrpState::Master => "Entering MASTER state",
        VrrpState::Backup => "Entering BACKUP state",
        VrrpState::Fault => "Entering FAULT state",
        VrrpState::Stop => "Stopping",
    }
}

fn up_down(up: bool) -> &'static str {
    if up { "UP" } else { "DOWN" }
}

/// The body of a checker's alert (keepalived's checkers: "=> CHECK succeed on service <=",
/// "=> CHECK failed on service : REASON <=").
pub fn checker_body(up: bool, reason: Option<&str>) -> String {
    match (up, reason) {
        (true, _) => "=> CHECK succeed on service <=".to_string(),
        (false, Some(r)) => format!("=> CHECK failed on service : {r} <="),
        (false, None) => "=> CHECK failed on service <=".to_string(),
    }
}

/// The body of a quorum alert (keepalived `do_vs_notifies`): `=> Gained quorum
/// QUORUM+HYSTERESIS=THRESHOLD <= WEIGHT <=`, "Starting with quorum up/down" at start-up.
pub fn quorum_body(
    up: bool,
    initial: bool,
    quorum: u32,
    hysteresis: u32,
    threshold: i64,
    weight: i64,
) -> String {
    let what = match (up, initial) {
        (true, true) => "Starting with quorum up",
        (true, false) => "Gained quorum",
        (false, true) => "Starting with quorum down",
        (false, false) => "Lost quorum",
    };
    format!("=> {what} {quorum}+{hysteresis}={threshold} <= {weight} <=")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_subjects_and_bodies() {
        let a = Alert::Instance {
            name: "VI_1".into(),
            state: VrrpState::Master,
        };
        assert_eq!(
            a.subject("lb1"),
            "[lb1] VRRP Instance VI_1 - Entering MASTER state"
        );
        assert_eq!(a.body(), "=> VRRP Instance is now owning VRRP VIPs <=");
        let a = Alert::Instance {
            name: "VI_1".into(),
            state: VrrpState::Fault,
        };
        assert_eq!(
            a.subject("lb1"),
            "[lb1] VRRP Instance VI_1 - Entering FAULT state"
        );
        assert!(a.is_fault());
        let g = Alert::Group {
            name: "G".into(),
            state: VrrpState::Stop,
        };
        assert_eq!(g.subject("lb1"), "[lb1] VRRP Group G - Stopping");
        assert_eq!(g.body(), "=> All VRRP group instances are now stopping <=");
        let rs = Alert::RealServer {
            rs: "[10.1.1.1]:tcp:80".into(),
            vs: "[10.0.0.1]:tcp:80".into(),
            up: false,
            body: checker_body(false, Some("connection refused")),
        };
        assert_eq!(
            rs.subject("lb1"),
            "[lb1] Realserver [10.1.1.1]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - DOWN"
        );
        assert_eq!(
            rs.body(),
            "=> CHECK failed on service : connection refused <="
        );
        let vs = Alert::VirtualServer {
            vs: "FWM 7".into(),
            up: true,
            body: quorum_body(true, false, 2, 1, 1, 3),
        };
        assert_eq!(vs.subject("lb1"), "[lb1] Virtualserver FWM 7 - UP");
        assert_eq!(vs.body(), "=> Gained quorum 2+1=1 <= 3 <=");
    }
}
