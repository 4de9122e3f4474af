//! The files keepalived writes on signals: state dumps (SIGUSR1: `state_dump_file` for
//! VRRP, the same name with `_check` for the checkers and IPVS, as keepalived's checker
//! process names it), statistics (SIGUSR2, `stats_dump_file`) and JSON (SIGRTMIN+2,
//! `json_dump_file`). keepalived calls the state dump's format unstable; ours is a
//! readable summary. The statistics file keeps keepalived's VRRP layout, adds our per-rule
//! drop counters, and ends with the IPVS and checker counters when those run. The JSON is
//! rkeepalived's VRRP status, one object with an `instances` array.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rk_checkers::runner::Snapshot;
use rk_config::model::GlobalDefs;
use rk_coordinator::CounterSnapshot;
use rk_vrrp::{InstanceStatus, Plan, Status, Vrrp};

/// Which file.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// SIGUSR1, VRRP side.
    Data,
    /// SIGUSR1, checkers and IPVS.
    CheckData,
    /// SIGUSR2.
    Stats,
    /// SIGRTMIN+2.
    Json,
}

/// Where the dumps go.
#[derive(Clone, Debug)]
pub struct Files {
    data: PathBuf,
    check_data: PathBuf,
    stats: PathBuf,
    json: PathBuf,
}

impl Files {
    /// The paths `global_defs` names (keepalived's defaults under /tmp).
    pub fn from_config(g: &GlobalDefs) -> Self {
        let data = PathBuf::from(&g.state_dump_file);
        Files {
            check_data: with_suffix(&data, "_check"),
            data,
            stats: PathBuf::from(&g.stats_dump_file),
            json: PathBuf::from(&g.json_dump_file),
        }
    }

    /// The file of `kind`.
    pub fn path(&self, kind: Kind) -> &Path {
        match kind {
            Kind::Data => &self.data,
            Kind::CheckData => &self.check_data,
            Kind::Stats => &self.stats,
            Kind::Json => &self.json,
        }
    }

    /// Writes `text` to the file of `kind`, logging the outcome.
    pub fn write(&self, kind: Kind, text: &str) {
        let path = self.path(kind);
        // Write then rename, so a reader never sees half a file.
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let r = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
        match r {
            Ok(()) => tracing::info!("wrote {}", path.display()),
            Err(e) => tracing::error!("cannot write {}: {e}", path.display()),
        }
    }
}

/// `dir/name_check.ext` for `dir/name.ext` (keepalived's `make_file_name`).
fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = p.file_stem().map(OsString::from).unwrap_or_default();
    name.push(suffix);
    if let Some(ext) = p.extension() {
        name.push(".");
        name.push(ext);
    }
    p.with_file_name(name)
}

/// The VRRP side's text for `kind` (`Data`, `Stats` or `Json`), from the VRRP thread's
/// status and the instances' plan (for the VIPs).
pub async fn vrrp_text(vrrp: &Vrrp, plan: &Plan, kind: Kind) -> Option<String> {
    let status = match vrrp.status().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot read the VRRP status: {e}");
            return None;
        }
    };
    match kind {
        Kind::Data => Some(data(&status, plan)),
        Kind::Stats => Some(stats(&status)),
        Kind::Json => match serde_json::to_string_pretty(&status) {
            Ok(j) => Some(j + "\n"),
            Err(e) => {
                tracing::error!("cannot serialise the status: {e}");
                None
            }
        },
        Kind::CheckData => None,
    }
}

/// The IPVS and checker part of the statistics file.
pub fn lvs_stats(ipvs: Option<CounterSnapshot>, checkers: Option<&Snapshot>) -> String {
    let mut o = String::new();
    match ipvs {
        Some(c) => {
            let _ = writeln!(o, "IPVS:");
            let _ = writeln!(o, "  Operations sent: {}", c.ops());
            for (name, v) in [
                ("Add service", c.add_service),
                ("Edit service", c.edit_service),
                ("Delete service", c.del_service),
                ("Add destination", c.add_dest),
                ("Edit destination", c.edit_dest),
                ("Delete destination", c.del_dest),
                ("Set timeouts", c.set_timeouts),
                ("Start sync daemon", c.start_daemon),
                ("Stop sync daemon", c.stop_daemon),
                ("Flush", c.flush),
            ] {
                let _ = writeln!(o, "    {name}: {v}");
            }
            let _ = writeln!(o, "  Drift repairs: {}", c.repairs);
            let _ = writeln!(o, "  Refused operations: {}", c.errors);
            let _ = writeln!(o, "  Table reads: {} ({} failed)", c.dumps, c.dump_errors);
            let _ = writeln!(
                o,
                "  Table reads abandoned for a reload or VRRP change: {}",
                c.abandoned_reads
            );
            let _ = writeln!(o, "  Drain polls: {}", c.drain_polls);
            let _ = writeln!(o, "  Reconcile passes: {}", c.passes);
            let _ = writeln!(
                o,
                "  Drains: {} started, {} ended",
                c.drains_started, c.drains_ended
            );
        }
        None => {
            let _ = writeln!(o, "IPVS: not available");
        }
    }
    if let Some(s) = checkers {
        let _ = writeln!(o, "Health checkers:");
        let _ = writeln!(o, "  Checkers: {}", s.stats.checkers);
        let _ = writeln!(o, "  Distinct probes: {}", s.stats.probes);
        let _ = writeln!(o, "  Probes run: {}", s.stats.probes_started);
        let failures: u64 = s.checkers.iter().map(|c| c.failures).sum();
        let transitions: u64 = s.checkers.iter().map(|c| c.transitions).sum();
        let _ = writeln!(o, "  Failed results: {failures}");
        let _ = writeln!(o, "  Up/down transitions: {transitions}");
    }
    o
}

fn data(s: &Status, plan: &Plan) -> String {
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
        if let Some(spec) = plan.instances.iter().find(|p| p.name == i.name) {
            let held = i.state == "MASTER";
            for v in &spec.vips {
                let _ = writeln!(
                    o,
                    "   Virtual IP = {}/{} dev {}{}",
                    v.addr,
                    v.prefix_len,
                    v.dev,
                    if held { " (held)" } else { "" }
                );
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_dump_is_named_like_keepalived() {
        let f = Files::from_config(&GlobalDefs::default());
        assert_eq!(f.path(Kind::Data), Path::new("/tmp/keepalived.data"));
        assert_eq!(
            f.path(Kind::CheckData),
            Path::new("/tmp/keepalived_check.data")
        );
        assert_eq!(
            with_suffix(Path::new("dump"), "_check"),
            Path::new("dump_check")
        );
        assert_eq!(
            with_suffix(Path::new("/x/a.b.data"), "_check"),
            Path::new("/x/a.b_check.data")
        );
    }
}
