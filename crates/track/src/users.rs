//! Who scripts run as: the user (and group) written after the script, else `script_user`
//! from `global_defs`, else keepalived's `keepalived_script` user when this machine has
//! one, else the daemon's own user.

use nix::unistd::{Group, User};
use rk_config::model::{GlobalDefs, Script, UserGroup};

/// keepalived's default script user, used when it exists and nothing else is configured.
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

/// A user and group id to run a script as.
pub type RunAs = (u32, u32);

/// Uid and gid of `user` (a name or a number) and `group` (the user's primary group when
/// absent).
pub fn resolve(user: &str, group: Option<&str>) -> Result<RunAs, String> {
    let u = match User::from_name(user) {
        Ok(Some(u)) => u,
        Ok(None) => {
            // A number that names nobody is still a valid uid, as for setuid(2), but then
            // there is no primary group to fall back on.
            let uid = user
                .parse::<u32>()
                .map_err(|_| format!("user {user} does not exist"))?;
            let Some(g) = group else {
                return Err(format!("user {user} does not exist and no group is given"));
            };
            return Ok((uid, resolve_group(Some(g), 0)?));
        }
        Err(e) => return Err(format!("cannot look up user {user}: {e}")),
    };
    Ok((u.uid.as_raw(), resolve_group(group, u.gid.as_raw())?))
}

fn resolve_group(group: Option<&str>, default: u32) -> Result<u32, String> {
    let Some(g) = group else {
        return Ok(default);
    };
    match Group::from_name(g) {
        Ok(Some(gr)) => Ok(gr.gid.as_raw()),
        Ok(None) => g
            .parse::<u32>()
            .map_err(|_| format!("group {g} does not exist")),
        Err(e) => Err(format!("cannot look up group {g}: {e}")),
    }
}

/// Who `script` runs as; `None`: as the daemon itself.
pub fn for_script(script: &Script, global: &GlobalDefs) -> Result<Option<RunAs>, String> {
    if let Some(u) = &script.user {
        return resolve(u, script.group.as_deref()).map(Some);
    }
    default_user(global)
}

/// Who a `vrrp_script` runs as: its `user`, else the default.
pub fn for_user(user: Option<&UserGroup>, global: &GlobalDefs) -> Result<Option<RunAs>, String> {
    match user {
        Some(u) => resolve(&u.user, u.group.as_deref()).map(Some),
        None => default_user(global),
    }
}

/// `script_user`, else `keepalived_script` if it exists, else `None`.
pub fn default_user(global: &GlobalDefs) -> Result<Option<RunAs>, String> {
    if let Some(su) = &global.script_user {
        return resolve(&su.user, su.group.as_deref())
            .map(Some)
            .map_err(|e| format!("script_user: {e}"));
    }
    match User::from_name(DEFAULT_SCRIPT_USER) {
        Ok(Some(u)) => Ok(Some((u.uid.as_raw(), u.gid.as_raw()))),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_groups() {
        assert_eq!(resolve("root", None), Ok((0, 0)));
        let nobody = User::from_name("nobody").unwrap().unwrap();
        assert_eq!(
            resolve("nobody", Some("root")),
            Ok((nobody.uid.as_raw(), 0))
        );
        assert_eq!(resolve("12345", Some("0")), Ok((12345, 0)));
        assert!(
            resolve("no-such-user-rk", None)
                .unwrap_err()
                .contains("does not exist")
        );
        assert!(
            resolve("root", Some("no-such-group-rk"))
                .unwrap_err()
                .contains("group")
        );
    }

    #[test]
    fn script_user_precedence() {
        let mut g = GlobalDefs::default();
        let mut s = Script {
            command: "/bin/true".into(),
            argv: vec!["/bin/true".into()],
            user: None,
            group: None,
            span: rk_config::Span::new(rk_config::source::FileId(0), 1, 1, 1),
        };
        g.script_user = Some(rk_config::model::UserGroup {
            user: "nobody".into(),
            group: Some("root".into()),
        });
        let nobody = User::from_name("nobody").unwrap().unwrap().uid.as_raw();
        assert_eq!(for_script(&s, &g), Ok(Some((nobody, 0))));
        s.user = Some("root".into());
        assert_eq!(
            for_script(&s, &g),
            Ok(Some((0, 0))),
            "the script's own user wins"
        );
        g.script_user = None;
        s.user = None;
        let expected = User::from_name(DEFAULT_SCRIPT_USER)
            .ok()
            .flatten()
            .map(|u| (u.uid.as_raw(), u.gid.as_raw()));
        assert_eq!(for_script(&s, &g), Ok(expected));
    }
}
