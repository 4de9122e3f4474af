//! Who scripts run as: [`rk_track::users`], shared with the tracking scripts (the user
//! written after the script, else `script_user`, else keepalived's `keepalived_script`
//! user when this machine has one, else the daemon's own user).

pub use rk_track::users::{for_script, resolve};
