//! Following `GET /token/revocations`: one background task per local
//! verifier reads the Server-Sent Events, applies each revocation to the
//! deny-list, and notes when it last heard the feed. On any failure (a
//! refused connection, an error status, a read silent for longer than
//! `max_staleness`, the server ending the response) it reconnects with
//! `Last-Event-ID` after a backoff with jitter.

use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::denylist::{DenyList, Revocation};
use crate::error::{Rejection, VerifyError};
use crate::freshness::Freshness;
use crate::local::unix_now;
use crate::sse::{SseEvent, SseParser};
use crate::{Claims, Credentials};

/// Longest event-stream line accepted.
const MAX_LINE_BYTES: usize = 16 * 1024;
/// Deny-list entries outlive their `exp` by this (the verifier's leeway
/// accepts a token a little after its `exp`).
const DENY_MARGIN_SECS: i64 = 300;
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The deny-list and the feed's liveness, shared by the verifier (reads)
/// and the feed task (writes).
pub(crate) struct FeedShared {
    state: RwLock<FeedState>,
}

struct FeedState {
    deny: DenyList,
    fresh: Freshness,
    last_id: Option<String>,
    pruned: Instant,
}

impl FeedShared {
    pub fn new() -> Self {
        FeedShared {
            state: RwLock::new(FeedState {
                deny: DenyList::new(DENY_MARGIN_SECS),
                fresh: Freshness::default(),
                last_id: None,
                pruned: Instant::now(),
            }),
        }
    }

    /// `Ok` when the feed is fresh and has not revoked this token.
    pub fn check(
        &self,
        claims: &Claims,
        now: Instant,
        max_staleness: Duration,
    ) -> Result<(), VerifyError> {
        let s = self.state.read().unwrap_or_else(PoisonError::into_inner);
        s.fresh.check(now, max_staleness)?;
        if s.deny.denies(claims) {
            return Err(Rejection::Revoked.into());
        }
        Ok(())
    }

    /// Whether the feed is caught up and fresh at `now`.
    pub fn is_fresh(&self, now: Instant, max_staleness: Duration) -> bool {
        let s = self.state.read().unwrap_or_else(PoisonError::into_inner);
        s.fresh.check(now, max_staleness).is_ok()
    }

    fn last_id(&self) -> Option<String> {
        let s = self.state.read().unwrap_or_else(PoisonError::into_inner);
        s.last_id.clone()
    }

    /// Applies one event.
    fn apply(&self, event: &SseEvent) {
        let now = Instant::now();
        let mut s = self.state.write().unwrap_or_else(PoisonError::into_inner);
        match event.event.as_str() {
            "heartbeat" => {
                s.fresh.caught_up(now);
                if now.saturating_duration_since(s.pruned) >= PRUNE_EVERY {
                    s.deny.prune(unix_now());
                    s.pruned = now;
                }
            }
            "reset" => {
                s.deny.clear();
                s.fresh.reset(now);
                s.last_id = None;
            }
            "token" | "session" | "user" => {
                match serde_json::from_str::<Revocation>(&event.data) {
                    Ok(revocation) => s.deny.apply(revocation, unix_now()),
                    Err(e) => log::warn!("tessera-client: unreadable `{}` event: {e}", event.event),
                }
                if let Some(id) = &event.id {
                    s.last_id = Some(id.clone());
                }
                s.fresh.heard(now);
            }
            _ => s.fresh.heard(now),
        }
    }
}

/// Where and how to follow the feed.
pub(crate) struct FeedSource {
    pub http: reqwest::Client,
    pub url: String,
    pub credentials: Option<Credentials>,
    pub max_staleness: Duration,
}

/// Follows the feed forever (the verifier aborts the task when dropped).
pub(crate) async fn follow(shared: std::sync::Arc<FeedShared>, source: FeedSource) {
    let mut failures: u32 = 0;
    loop {
        match follow_once(&shared, &source).await {
            Ok(true) => failures = 0,
            Ok(false) => failures = failures.saturating_add(1),
            Err(FeedError::Refused(status)) => {
                // Our credentials or grant are wrong: retrying fast helps
                // nobody and costs Tessera a secret check each time.
                failures = u32::MAX;
                log::error!(
                    "tessera-client: the revocation feed refused this client ({status}); it needs grant `verify`"
                );
            }
            Err(FeedError::Other(e)) => {
                failures = failures.saturating_add(1);
                log::warn!("tessera-client: revocation feed: {e}; reconnecting");
            }
        }
        tokio::time::sleep(backoff(failures, random_unit())).await;
    }
}

/// The pause before reconnect attempt `failures` (0: the server ended a
/// good response): exponential from 100 ms to 5 s, drawn from the upper
/// half of the step so that many verifiers do not reconnect in step.
pub(crate) fn backoff(failures: u32, unit: f64) -> Duration {
    let step = BACKOFF_FIRST
        .saturating_mul(1u32 << failures.min(16))
        .min(BACKOFF_MAX);
    step.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
}

fn random_unit() -> f64 {
    let bits = getrandom::u32().unwrap_or(u32::MAX / 2);
    f64::from(bits) / f64::from(u32::MAX)
}

enum FeedError {
    /// 401 or 403: the client's credentials or grant.
    Refused(u16),
    Other(String),
}

impl From<String> for FeedError {
    fn from(e: String) -> Self {
        FeedError::Other(e)
    }
}

/// One connection; `Ok(true)` when it delivered something.
async fn follow_once(shared: &FeedShared, source: &FeedSource) -> Result<bool, FeedError> {
    let mut request =
        crate::http::with_credentials(source.http.get(&source.url), source.credentials.as_ref())
            .header(reqwest::header::ACCEPT, "text/event-stream");
    if let Some(id) = shared.last_id() {
        request = request.header("Last-Event-ID", id);
    }
    let mut res = tokio::time::timeout(source.max_staleness, request.send())
        .await
        .map_err(|_| "no answer within max_staleness".to_owned())?
        .map_err(|e| format!("connect: {e}"))?;
    match res.status().as_u16() {
        200..=299 => {}
        status @ (401 | 403) => return Err(FeedError::Refused(status)),
        status => return Err(format!("status {status}").into()),
    }
    let mut parser = SseParser::new(MAX_LINE_BYTES);
    let mut events = Vec::new();
    let mut delivered = false;
    loop {
        let chunk = tokio::time::timeout(source.max_staleness, res.chunk())
            .await
            .map_err(|_| "silent for longer than max_staleness".to_owned())?
            .map_err(|e| format!("read: {e}"))?;
        let Some(chunk) = chunk else {
            return Ok(delivered); // the server ended it (connection limit)
        };
        parser
            .push(&chunk, &mut events)
            .map_err(|e| e.to_string())?;
        for event in events.drain(..) {
            shared.apply(&event);
            delivered = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_and_keeps_jitter() {
        assert_eq!(backoff(0, 1.0), BACKOFF_FIRST);
        assert_eq!(backoff(0, 0.0), BACKOFF_FIRST / 2);
        assert_eq!(backoff(3, 1.0), BACKOFF_FIRST * 8);
        assert_eq!(backoff(30, 1.0), BACKOFF_MAX);
        assert_eq!(backoff(30, 0.0), BACKOFF_MAX / 2);
    }

    fn event(name: &str, id: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            id: id.map(str::to_owned),
            event: name.into(),
            data: data.into(),
        }
    }

    #[test]
    fn events_drive_the_deny_list_and_the_freshness() {
        let shared = FeedShared::new();
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "iss": "i", "sub": "u", "aud": "a", "exp": unix_now() + 60, "iat": 1,
            "jti": "j1", "client_id": "c", "sid": "s"
        }))
        .unwrap();
        let max = Duration::from_secs(10);
        let exp = unix_now() + 60;
        shared.apply(&event(
            "token",
            Some("1-0"),
            &format!(r#"{{"type":"token","sub":"u","jti":"j1","exp":{exp}}}"#),
        ));
        // Replayed, not caught up: fail closed whatever the list says.
        assert!(matches!(
            shared.check(&claims, Instant::now(), max),
            Err(VerifyError::Unavailable(_))
        ));
        shared.apply(&event("heartbeat", None, r#"{"at":1}"#));
        assert_eq!(
            shared.check(&claims, Instant::now(), max),
            Err(VerifyError::Rejected(Rejection::Revoked))
        );
        assert_eq!(shared.last_id().as_deref(), Some("1-0"));
        shared.apply(&event("reset", None, "{}"));
        assert_eq!(shared.last_id(), None);
        // The history is replayed again: not trusted until the heartbeat.
        assert_eq!(
            shared.check(&claims, Instant::now(), max),
            Err(VerifyError::Unavailable(crate::Unavailable::NotCaughtUp))
        );
        shared.apply(&event("heartbeat", None, r#"{"at":2}"#));
        assert_eq!(shared.check(&claims, Instant::now(), max), Ok(()));
    }
}
