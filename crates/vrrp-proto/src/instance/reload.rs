//! Reload with a changed configuration (keepalived `clear_diff_vrrp` / `restore_vrrp_state`):
//! a matched instance keeps its state, counters, AH sequence and advert schedule.

use std::net::IpAddr;
use std::time::Instant;

use thiserror::Error;

use super::{Action, ConfigError, Instance, InstanceConfig, State};

/// Why a new configuration cannot replace the running one in place.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ReloadError {
    /// The new configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// VRID, version, family or delivery mode (multicast / unicast) changed: that is another
    /// virtual router (keepalived matches instances on these); stop this one and start a new
    /// one.
    #[error("VRID, version, family or delivery mode changed: not the same virtual router")]
    IdentityChanged,
}

impl Instance {
    /// Replaces the configuration of a running instance, keeping its state.
    ///
    /// * Unchanged configuration: nothing at all happens (state and advert schedule kept).
    /// * Priority (base or trackers): recomputed; a MASTER's next periodic advert carries
    ///   it, a BACKUP's pending down timer moves by the change in skew.
    /// * VIPs while MASTER: removed ones are released, added ones added and announced
    ///   with a GARP burst (keepalived sends GARPs on reload only for added addresses).
    /// * Advert interval while MASTER: the next advert comes no later than one new interval
    ///   from now. A BACKUP keeps its timer; v2 adverts must then match the new interval.
    /// * A resumed BACKUP still holding its VIPs ([`super::Input::Resume`]) releases the
    ///   ones the new configuration dropped.
    pub fn reconfigure(&mut self, now: Instant, cfg: InstanceConfig) -> Result<(), ReloadError> {
        cfg.validate()?;
        let old = &self.cfg;
        if old.vrid != cfg.vrid
            || old.version != cfg.version
            || old.family != cfg.family
            || old.delivery.is_unicast() != cfg.delivery.is_unicast()
        {
            return Err(ReloadError::IdentityChanged);
        }
        if *old == cfg {
            return Ok(());
        }
        let old = std::mem::replace(&mut self.cfg, cfg);
        self.update_priority();

        if self.is_holding() {
            // Resumed and not MASTER yet: VIPs the new configuration dropped go now; added
            // ones come with MASTER.
            let new_all = self.cfg.all_vips();
            let removed: Vec<IpAddr> = old
                .all_vips()
                .into_iter()
                .filter(|a| !new_all.contains(a))
                .collect();
            if !removed.is_empty() {
                self.actions.push_back(Action::RemoveVips(removed));
            }
        }

        if let State::Master(m) = &mut self.state {
            let new_all = self.cfg.all_vips();
            let old_all = old.all_vips();
            let removed: Vec<IpAddr> = old_all
                .iter()
                .filter(|a| !new_all.contains(a))
                .copied()
                .collect();
            let added: Vec<IpAddr> = new_all
                .iter()
                .filter(|a| !old_all.contains(a))
                .copied()
                .collect();

            let new_int = self.cfg.advert_interval.as_duration();
            if self.cfg.advert_interval != old.advert_interval {
                m.next_advert = m.next_advert.min(now + new_int);
            }
            if self.cfg.garp.refresh != old.garp.refresh {
                m.garp_refresh_at = self
                    .cfg
                    .garp
                    .refresh
                    .filter(|r| !r.is_zero())
                    .map(|r| now + r);
            }
            if !removed.is_empty() {
                self.actions.push_back(Action::RemoveVips(removed));
            }
            if !added.is_empty() {
                self.actions.push_back(Action::AddVips(added.clone()));
                let repeat = self.cfg.garp.master_repeat;
                self.send_garp(added, repeat);
            }
        }
        Ok(())
    }
}
