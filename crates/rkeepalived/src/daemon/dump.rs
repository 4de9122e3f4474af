//! The files keepalived writes on signals: state dump (SIGUSR1, `state_dump_file`),
//! statistics (SIGUSR2, `stats_dump_file`) and JSON (SIGRTMIN+2, `json_dump_file`).
//! keepalived calls the first format unstable; ours is a readable summary. The statistics
//! file keeps keepalived's layout and adds our per-rule drop counters. The JSON is
//! rkeepalived's status, one object with an `instances` array.

use std::fmt::Write as _;
use std::path::PathBuf;

use rk_config::model::GlobalDefs;
use rk_vrrp::{InstanceStatus, Status, Vrrp};

/// Which file.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// SIGUSR1.
    Data,
    /// SIGUSR2.
    Stats,
    /// SIGRTMIN+2.
    Json,
}

/// Where the dumps go.
#[derive(Clone, Debug)]
pub struct Files {
    data: PathBuf,
    stats: PathBuf,
    json: PathBuf,
}

impl Files {
    /// The paths `global_defs` names (keepalived's defaults under /tmp).
    pub fn from_config(g: &GlobalDefs) -> Self {
        Files {
            data: PathBuf::from(&g.state_dump_file),
            stats: PathBuf::from(&g.stats_dump_file),
            json: PathBuf::from(&g.json_dump_file),
        }
    }

    /// Asks the VRRP thread for its status and writes one file.
    pub async fn write(&self, vrrp: &Vrrp, kind: Kind) {
        let status = match vrrp.status().await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot read the VRRP status: {e}");
                return;
            }
        };
        let (path, text) = match kind {
            Kind::Data => (&self.data, data(&status)),
            Kind::Stats => (&self.stats, stats(&status)),
            Kind::Json => match serde_json::to_string_pretty(&status) {
                Ok(j) => (&self.json, j + "\n"),
                Err(e) => {
                    tracing::error!("cannot serialise the status: {e}");
                    return;
                }
            },
        };
        // Write then rename, so a reader never sees half a file.
        let tmp = path.with_extension("tmp");
        let r = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
        match r {
            Ok(()) => tracing::info!("wrote {}", path.display()),
            Err(e) => tracing::error!("cannot write {}: {e}", path.display()),
        }
    }
}

fn data(s: &Status) -> String {
    let mut o = String::from("------< VRRP Topology >------\n");
    for i in &s.instances {
        let _ = writeln!(o, " VRRP Instance = {}", i.name);
        let _ = writeln!(o, "   State = {}", i.state);
        let _ = writeln!(o, "   Interface = {}", i.interface);
        let _ = writeln!(o, "   Virtual Router ID = {}", i.vrid);
        let _ = writeln!(o, "   Priority = {}", i.base_priority);
        let _ = writeln!(o, "   Effective priority = {}", i.effective_priority);
        if let Some((a, p)) = i.master {
            let _ = writeln!(o, "   Master router = {a} priority {p}");
        }
        if !i.faults.is_empty() {
            let _ = writeln!(o, "   Faults = {}", i.faults.join(", "));
        }
    }
    o
}

fn stats(s: &Status) -> String {
    let mut o = String::new();
    for i in &s.instances {
        instance_stats(&mut o, i);
    }
    let _ = writeln!(o, "Unmatched packets:");
    let _ = writeln!(o, "  Unknown VRID: {}", s.unknown_vrid);
    for (k, v) in &s.unmatched {
        let _ = writeln!(o, "  {k}: {v}");
    }
    let _ = writeln!(o, "  Ignored during startup delay: {}", s.ignored_startup);
    o
}

fn instance_stats(o: &mut String, i: &InstanceStatus) {
    let st = &i.stats;
    let d = |k: &str| st.dropped.get(k).copied().unwrap_or(0);
    let _ = writeln!(o, "VRRP Instance: {}", i.name);
    let _ = writeln!(o, "  Advertisements:");
    let _ = writeln!(o, "    Received: {}", st.adverts_received);
    let _ = writeln!(o, "    Sent: {}", st.adverts_sent);
    let _ = writeln!(o, "  Became master: {}", st.became_master);
    let _ = writeln!(o, "  Released master: {}", st.released_master);
    let _ = writeln!(o, "  Packet Errors:");
    let _ = writeln!(
        o,
        "    Length: {}",
        d("truncated") + d("too_long") + d("ip_total_length")
    );
    let _ = writeln!(o, "    TTL: {}", d("bad_ttl"));
    let _ = writeln!(o, "    Invalid Type: {}", d("bad_type"));
    let _ = writeln!(
        o,
        "    Advertisement Interval: {}",
        d("advert_interval_mismatch")
    );
    let _ = writeln!(
        o,
        "    Address List: {}",
        d("address_count_mismatch") + d("address_list_mismatch")
    );
    let _ = writeln!(o, "  Authentication Errors:");
    let _ = writeln!(o, "    Invalid Type: {}", d("invalid_auth_type"));
    let _ = writeln!(o, "    Type Mismatch: {}", d("auth_type_mismatch"));
    let _ = writeln!(
        o,
        "    Failure: {}",
        d("bad_password") + d("ah_icv") + d("ah_spi") + d("ah_replay") + d("ah_next_header")
    );
    let _ = writeln!(o, "  Priority Zero:");
    let _ = writeln!(o, "    Received: {}", st.priority_zero_received);
    let _ = writeln!(o, "    Sent: {}", st.priority_zero_sent);
    let _ = writeln!(o, "  Dropped (every rule): {}", st.dropped_total);
    for (k, v) in &st.dropped {
        let _ = writeln!(o, "    {k}: {v}");
    }
    let _ = writeln!(o, "  Send errors: {}", st.send_errors);
    let _ = writeln!(o, "  Gratuitous ARPs sent: {}", st.garp_sent);
    let _ = writeln!(o, "  Neighbour advertisements sent: {}", st.na_sent);
}
