//! Random bytes for per-request secrets and ids (refresh tokens, rotation
//! seeds, trace ids; uuid's `fast-rng` draws session ids and `jti`s the
//! same way).
//!
//! rand's `ThreadRng`: ChaCha12 per thread, seeded from the operating
//! system's CSPRNG and reseeded from it every 64 KiB of output, so an
//! issue costs no `getrandom` system call per value (six of them per issue
//! before, one per id). Key material (`tessera keygen`) and Argon2id salts
//! still come from the OS directly.

use rand::RngCore;

/// Fills `bytes` from the thread's CSPRNG.
pub fn fill(bytes: &mut [u8]) {
    rand::rng().fill_bytes(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_draws_differ_and_are_not_zero() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        fill(&mut a);
        fill(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
