//! Who Tessera is to Redis: the ACL user and its password, from the URL,
//! `redis.username`, `redis.password` (`TESSERA__REDIS__PASSWORD`) or
//! `redis.password_file`. `validate()` allows one source per credential;
//! a password file is read again for every new connection, so a rotated
//! secret takes effect on the next reconnect without a restart.

use std::path::PathBuf;

use deadpool_redis::redis::{ErrorKind, RedisConnectionInfo, RedisError, RedisResult};
use secrecy::{ExposeSecret, SecretString};

use crate::config::RedisSettings;

/// Where the password comes from when the URL does not carry it.
#[derive(Clone, Default)]
enum Password {
    /// The URL's own, or none.
    #[default]
    FromUrl,
    Inline(SecretString),
    File(PathBuf),
}

/// The user and password to apply on top of what a URL says.
#[derive(Clone, Default)]
pub(super) struct Credentials {
    username: Option<String>,
    password: Password,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let password = match &self.password {
            Password::FromUrl => "from the URL".to_owned(),
            Password::Inline(_) => "***".to_owned(),
            Password::File(p) => format!("file {}", p.display()),
        };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &password)
            .finish()
    }
}

/// The password in `path`, without a trailing newline.
fn read_password(path: &std::path::Path) -> RedisResult<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        RedisError::from((
            ErrorKind::InvalidClientConfig,
            "cannot read redis.password_file",
            format!("{}: {e}", path.display()),
        ))
    })?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

impl Credentials {
    pub(super) fn from_settings(redis: &RedisSettings) -> Self {
        let password = match (&redis.password, &redis.password_file) {
            (Some(p), _) => Password::Inline(p.clone()),
            (None, Some(path)) => Password::File(path.clone()),
            (None, None) => Password::FromUrl,
        };
        Credentials {
            username: redis.username.clone(),
            password,
        }
    }

    /// The user and password to send now (the file is read now).
    pub(super) fn current(&self) -> RedisResult<(Option<String>, Option<String>)> {
        let password = match &self.password {
            Password::FromUrl => None,
            Password::Inline(p) => Some(p.expose_secret().to_owned()),
            Password::File(path) => Some(read_password(path)?),
        };
        Ok((self.username.clone(), password))
    }

    /// `info` with these credentials applied over the URL's.
    pub(super) fn apply(&self, mut info: RedisConnectionInfo) -> RedisResult<RedisConnectionInfo> {
        let (username, password) = self.current()?;
        if let Some(user) = username {
            info = info.set_username(user);
        }
        if let Some(password) = password {
            info = info.set_password(password);
        }
        Ok(info)
    }
}
