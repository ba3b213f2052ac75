//! The Lua scripts (`lua/*.lua`, each with the helpers of `lib.lua` where
//! it needs them), loaded once per store. Access records are named by
//! `TokenKey::key_part` (22 characters, see `domain::TokenKey`).

use deadpool_redis::redis::Script;

const LIB: &str = include_str!("lua/lib.lua");

pub(super) struct Scripts {
    pub(super) put_access: Script,
    pub(super) revoke_access: Script,
    pub(super) create_session: Script,
    pub(super) rotate: Script,
    pub(super) add_family_access: Script,
    pub(super) revoke_family: Script,
    pub(super) revoke_user: Script,
    pub(super) list_sessions: Script,
    pub(super) get_session: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let with_lib = |body: &str| Script::new(&format!("{LIB}\n{body}"));
        Scripts {
            put_access: with_lib(include_str!("lua/put_access.lua")),
            revoke_access: Script::new(include_str!("lua/revoke_access.lua")),
            create_session: with_lib(include_str!("lua/create_session.lua")),
            rotate: with_lib(include_str!("lua/rotate.lua")),
            add_family_access: with_lib(include_str!("lua/add_family_access.lua")),
            revoke_family: with_lib(include_str!("lua/revoke_family.lua")),
            revoke_user: with_lib(include_str!("lua/revoke_user.lua")),
            list_sessions: with_lib(include_str!("lua/list_sessions.lua")),
            get_session: with_lib(include_str!("lua/get_session.lua")),
        }
    }
}
