//! The staleness rule: a local verifier trusts its deny-list only after the
//! feed's first heartbeat ("caught up") and only while it has heard the
//! feed (an event or a heartbeat) within `max_staleness`. A silent feed is
//! not an empty one.

use std::time::{Duration, Instant};

use crate::error::Unavailable;

/// What the verifier knows of its feed's liveness.
#[derive(Debug, Clone, Copy, Default)]
pub struct Freshness {
    caught_up: bool,
    last_heard: Option<Instant>,
}

impl Freshness {
    /// Something (an event, a heartbeat) arrived at `now`.
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = Some(now);
    }

    /// A heartbeat arrived at `now`: the replay is done.
    pub fn caught_up(&mut self, now: Instant) {
        self.caught_up = true;
        self.last_heard = Some(now);
    }

    /// A `reset`: the history is replayed again; not caught up until the
    /// next heartbeat.
    pub fn reset(&mut self, now: Instant) {
        self.caught_up = false;
        self.last_heard = Some(now);
    }

    /// `Ok` when the deny-list may be trusted at `now`.
    pub fn check(&self, now: Instant, max_staleness: Duration) -> Result<(), Unavailable> {
        if !self.caught_up {
            return Err(Unavailable::NotCaughtUp);
        }
        match self.last_heard {
            Some(at) if now.saturating_duration_since(at) <= max_staleness => Ok(()),
            _ => Err(Unavailable::Stale),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_secs(15);

    #[test]
    fn nothing_is_trusted_before_the_first_heartbeat() {
        let t0 = Instant::now();
        let mut f = Freshness::default();
        assert_eq!(f.check(t0, MAX), Err(Unavailable::NotCaughtUp));
        f.heard(t0); // replayed events alone do not make it caught up
        assert_eq!(f.check(t0, MAX), Err(Unavailable::NotCaughtUp));
        f.caught_up(t0);
        assert_eq!(f.check(t0, MAX), Ok(()));
    }

    #[test]
    fn silence_longer_than_the_bound_is_stale_until_heard_again() {
        let t0 = Instant::now();
        let mut f = Freshness::default();
        f.caught_up(t0);
        assert_eq!(f.check(t0 + MAX, MAX), Ok(()));
        let late = t0 + MAX + Duration::from_millis(1);
        assert_eq!(f.check(late, MAX), Err(Unavailable::Stale));
        f.heard(late);
        assert_eq!(f.check(late, MAX), Ok(()));
    }

    #[test]
    fn a_reset_waits_for_the_next_heartbeat() {
        let t0 = Instant::now();
        let mut f = Freshness::default();
        f.caught_up(t0);
        f.reset(t0);
        assert_eq!(f.check(t0, MAX), Err(Unavailable::NotCaughtUp));
        f.caught_up(t0);
        assert_eq!(f.check(t0, MAX), Ok(()));
    }
}
