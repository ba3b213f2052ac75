//! The Lua scripts (`lua/*.lua`, each with the helpers of `lib.lua` where
//! it needs them), loaded once per store, and how keys spell a jti.

use deadpool_redis::redis::Script;

use crate::domain::Jti;

const LIB: &str = include_str!("lua/lib.lua");

/// A jti as keys and index members spell it (`<jti22>` above): base64url of
/// its 16 bytes, 22 characters instead of the claim's 36, which keeps a live
/// token's key in a smaller allocation (BENCHMARKS.md, Redis memory).
pub fn jti_key_part(jti: &Jti) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jti.0.as_bytes())
}

pub(super) struct Scripts {
    pub(super) put_access: Script,
    pub(super) revoke_access: Script,
    pub(super) create_session: Script,
    pub(super) rotate: Script,
    pub(super) revoke_family: Script,
    pub(super) revoke_user: Script,
    pub(super) list_sessions: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let with_lib = |body: &str| Script::new(&format!("{LIB}\n{body}"));
        Scripts {
            put_access: with_lib(include_str!("lua/put_access.lua")),
            revoke_access: Script::new(include_str!("lua/revoke_access.lua")),
            create_session: with_lib(include_str!("lua/create_session.lua")),
            rotate: with_lib(include_str!("lua/rotate.lua")),
            revoke_family: with_lib(include_str!("lua/revoke_family.lua")),
            revoke_user: with_lib(include_str!("lua/revoke_user.lua")),
            list_sessions: with_lib(include_str!("lua/list_sessions.lua")),
        }
    }
}
