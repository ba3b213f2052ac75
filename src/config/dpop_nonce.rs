//! `verify.dpop_nonce`: whether DPoP proofs must carry a server nonce
//! (RFC 9449 §8–9), the file of secrets the nonces are made with, and how
//! long a time step lasts. The nonces themselves are `token::dpop_nonce`.
//! Errors name the key and the file, never the file's content.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Shortest secret accepted, in bytes (HMAC-SHA256's block of entropy).
pub const MIN_NONCE_SECRET_BYTES: usize = 32;

/// Most secrets one file may hold (the current one and those rotated out).
pub const MAX_NONCE_SECRETS: usize = 4;

/// Whether proofs must carry a nonce Tessera gave out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NonceMode {
    /// Nonces are neither given out nor asked for; a proof's `nonce` is ignored.
    #[default]
    Off,
    /// Every proof must carry a nonce of the current or the previous step.
    Required,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DpopNonceSettings {
    pub mode: NonceMode,
    /// One secret per line (at least 32 bytes each, at most 4 lines): the
    /// first makes the nonces, every line is accepted (rotation, see
    /// docs/dpop.md). Every instance behind one gateway reads the same file.
    pub secret_file: Option<PathBuf>,
    /// How long one nonce step lasts (10–3600 s); a nonce is accepted in
    /// its own step and the next, so for one to two steps.
    pub step_secs: u64,
}

impl Default for DpopNonceSettings {
    fn default() -> Self {
        DpopNonceSettings {
            mode: NonceMode::Off,
            secret_file: None,
            step_secs: 60,
        }
    }
}

impl DpopNonceSettings {
    /// The secrets, first the one that makes nonces; none when nonces are off.
    pub fn read_secrets(&self) -> Result<Vec<Vec<u8>>, ConfigError> {
        const KEY: &str = "verify.dpop_nonce.secret_file";
        if self.mode == NonceMode::Off {
            return Ok(Vec::new());
        }
        let path = self
            .secret_file
            .as_ref()
            .ok_or_else(|| ConfigError::invalid(KEY, "is required when `mode` is `required`"))?;
        let text = std::fs::read(path).map_err(|e| {
            ConfigError::invalid(KEY, format!("cannot read {}: {e}", path.display()))
        })?;
        let secrets: Vec<Vec<u8>> = text
            .split(|b| *b == b'\n')
            .map(<[u8]>::trim_ascii)
            .filter(|line| !line.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        if secrets.is_empty() || secrets.len() > MAX_NONCE_SECRETS {
            return Err(ConfigError::invalid(
                KEY,
                format!(
                    "{} must hold 1 to {MAX_NONCE_SECRETS} secrets, one per line",
                    path.display()
                ),
            ));
        }
        if secrets.iter().any(|s| s.len() < MIN_NONCE_SECRET_BYTES) {
            return Err(ConfigError::invalid(
                KEY,
                format!(
                    "{}: every secret must be at least {MIN_NONCE_SECRET_BYTES} bytes",
                    path.display()
                ),
            ));
        }
        Ok(secrets)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !(10..=3600).contains(&self.step_secs) {
            return Err(ConfigError::invalid(
                "verify.dpop_nonce.step_secs",
                "must be between 10 and 3600",
            ));
        }
        self.read_secrets().map(|_| ())
    }
}
