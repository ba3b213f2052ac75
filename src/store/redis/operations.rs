//! The store trait on Redis: each operation is one command or one Lua
//! script on the user's hash slot, bounded by the store's timeout.

use deadpool_redis::redis::{self, AsyncCommands};

use super::RedisStore;
use crate::domain::{PageSize, ProofKey, Revocation, SessionCursor, Sid, TokenKey};
use crate::store::{
    AccessRecord, FeedPage, FeedRead, NewSession, REMEMBERED_DIGESTS, RevokedToken, RotateOutcome,
    RotateReport, Rotation, SessionPage, SessionRecord, StoreError, TokenStore, UserRevocation,
    now_ms,
};

/// A page as `list_sessions.lua` answers it: the next cursor's score and
/// sid (empty at the end), and each session's sid and hash fields.
type SessionRows = (String, String, Vec<(String, Vec<(String, Vec<u8>)>)>);

/// Hash entries one page of sessions looks at, at most, per session asked for.
const PAGE_BUDGET: usize = 4;

/// Feed events for sessions revoked by a script (published by the store
/// only on a Cluster, which does not know their end: `exp` absent).
fn session_events(sub: &str, sids: &[Sid]) -> Vec<Revocation> {
    sids.iter()
        .map(|sid| Revocation::Session {
            sub: sub.to_owned(),
            sid: sid.to_string(),
            exp: None,
        })
        .collect()
}

fn ttl_ms(exp_secs: i64, now: i64) -> i64 {
    (exp_secs.saturating_mul(1000) - now).max(1)
}

impl TokenStore for RedisStore {
    async fn put_access(&self, key: &TokenKey, rec: &AccessRecord) -> Result<(), StoreError> {
        let base = self.base(&rec.sub);
        let now = now_ms();
        let script = &self.scripts.put_access;
        let part = key.key_part();
        self.run(|mut c| async move {
            script
                .key(format!("{base}at:{part}"))
                .key(format!("{base}ats"))
                .key(format!("{base}gen"))
                .arg(ttl_ms(rec.exp, now))
                .arg(rec.exp.saturating_mul(1000))
                .arg(&part)
                .arg(now)
                .invoke_async::<i64>(&mut c)
                .await
                .map(drop)
        })
        .await
    }

    async fn is_access_live(&self, sub: &str, key: &TokenKey) -> Result<bool, StoreError> {
        // One round trip: the record and the user's generation (one slot).
        let keys = [self.layout.access(sub, key), self.layout.generation(sub)];
        let (record, generation): (Option<String>, Option<String>) =
            self.run(|mut c| async move { c.mget(&keys).await }).await?;
        AccessRecord::is_live(record.as_deref(), generation.as_deref())
    }

    async fn revoke_access(&self, key: &TokenKey, t: RevokedToken<'_>) -> Result<bool, StoreError> {
        let base = self.base(t.sub);
        let part = key.key_part();
        let record = format!("{base}at:{part}");
        let event = Revocation::Token {
            sub: t.sub.to_owned(),
            jti: t.jti.to_owned(),
            exp: t.exp,
        };
        let (stream, minid) = self.feed_target();
        let mut inv = self.scripts.revoke_access.prepare_invoke();
        inv.key(&record)
            .key(format!("{base}ats"))
            .arg(part)
            .arg(stream)
            .arg(minid);
        for (field, value) in event.to_fields() {
            inv.arg(field).arg(value);
        }
        let (deleted, replication): (i64, _) = self.run_acked(inv, &record).await?;
        replication.required()?;
        self.publish_after(&[event]).await?;
        Ok(deleted > 0)
    }

    async fn create_session(&self, new: NewSession<'_>) -> Result<Vec<Sid>, StoreError> {
        let s = new.session;
        let base = self.base(&s.sub);
        let now = now_ms();
        let mut rec = s.clone();
        rec.refresh = new.refresh.to_hex();
        let script = &self.scripts.create_session;
        let part = new.first_key.key_part();
        let mut inv = script.prepare_invoke();
        inv.key(format!("{base}fam:{}", s.sid))
            .key(format!("{base}at:{part}"))
            .key(format!("{base}sessions"))
            .key(format!("{base}gen"))
            .arg(&base)
            .arg(s.sid.to_string())
            // Millisecond expiry: orders sessions created in the same second.
            .arg(now + (s.exp - s.created).max(1).saturating_mul(1000))
            .arg(ttl_ms(new.first_access.exp, now))
            .arg(&part)
            .arg(new.first_access.exp)
            .arg(now)
            .arg(new.max_sessions);
        self.feed_args(&mut inv, &s.sub);
        for (field, value) in rec.to_fields() {
            inv.arg(field).arg(value);
        }
        let evicted: Vec<String> = self
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        let evicted = evicted
            .iter()
            .map(|s| Sid::parse(s).map_err(|e| StoreError::Backend(e.into())))
            .collect::<Result<Vec<_>, _>>()?;
        // The session is created: a feed hiccup must not fail the issue.
        if let Err(e) = self.publish_after(&session_events(&s.sub, &evicted)).await {
            log::error!("revocation feed: evicted sessions of a user not published: {e}");
        }
        Ok(evicted)
    }

    async fn get_session(&self, sub: &str, sid: &Sid) -> Result<Option<SessionRecord>, StoreError> {
        let (fam, generation) = (self.layout.family(sub, sid), self.layout.generation(sub));
        let script = &self.scripts.get_session;
        let fields: Vec<(String, Vec<u8>)> = self
            .run(|mut c| async move { script.key(fam).key(generation).invoke_async(&mut c).await })
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let rec = SessionRecord::from_fields(sub, *sid, &fields)?;
        Ok((rec.exp.saturating_mul(1000) > now_ms()).then_some(rec))
    }

    async fn rotate(&self, r: Rotation<'_>) -> Result<RotateReport, StoreError> {
        let base = self.base(r.sub);
        let now = now_ms();
        let fam = format!("{base}fam:{}", r.sid);
        let part = r.key.key_part();
        let mut inv = self.scripts.rotate.prepare_invoke();
        inv.key(&fam)
            .key(format!("{base}at:{part}"))
            .key(format!("{base}gen"))
            .arg(&base)
            .arg(r.sid.to_string())
            .arg(&r.presented.0[..])
            .arg(&r.next.0[..])
            .arg(ttl_ms(r.access.exp, now))
            .arg(&part)
            .arg(r.access.exp)
            .arg(r.now)
            .arg(REMEMBERED_DIGESTS)
            .arg(now)
            .arg(now + r.grace.window_ms)
            .arg(r.grace.max_retries);
        self.feed_args(&mut inv, r.sub);
        // A rotation revokes the presented refresh token: replicas confirm it.
        let (outcome, replication): (String, _) = self.run_acked(inv, &fam).await?;
        let outcome = match outcome.as_str() {
            "rotated" => RotateOutcome::Rotated,
            "retried" => RotateOutcome::Retried,
            "reused" => RotateOutcome::Reused,
            "unknown" => RotateOutcome::Unknown,
            other => {
                return Err(StoreError::Backend(
                    format!("rotate answered `{other}`").into(),
                ));
            }
        };
        if outcome == RotateOutcome::Reused
            && let Err(e) = self.publish_after(&session_events(r.sub, &[*r.sid])).await
        {
            log::error!("revocation feed: a session revoked for reuse not published: {e}");
        }
        Ok(RotateReport {
            outcome,
            replication,
        })
    }

    async fn add_family_access(
        &self,
        sid: &Sid,
        key: &TokenKey,
        rec: &AccessRecord,
    ) -> Result<bool, StoreError> {
        let base = self.base(&rec.sub);
        let now = now_ms();
        let part = key.key_part();
        let script = &self.scripts.add_family_access;
        let added: i64 = self
            .run(|mut c| async move {
                script
                    .key(format!("{base}fam:{sid}"))
                    .key(format!("{base}at:{part}"))
                    .key(format!("{base}gen"))
                    .arg(&part)
                    .arg(rec.exp)
                    .arg(ttl_ms(rec.exp, now))
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(added == 1)
    }

    async fn revoke_family(&self, sub: &str, sid: &Sid) -> Result<bool, StoreError> {
        let base = self.base(sub);
        let fam = format!("{base}fam:{sid}");
        let mut inv = self.scripts.revoke_family.prepare_invoke();
        inv.key(&fam)
            .key(format!("{base}gen"))
            .arg(&base)
            .arg(sid.to_string());
        self.feed_args(&mut inv, sub);
        let (n, replication): (i64, _) = self.run_acked(inv, &fam).await?;
        replication.required()?;
        self.publish_after(&session_events(sub, &[*sid])).await?;
        Ok(n > 0)
    }

    async fn revoke_user(&self, sub: &str) -> Result<UserRevocation, StoreError> {
        let sessions = self.layout.sessions(sub);
        let mut inv = self.scripts.revoke_user.prepare_invoke();
        let now = now_ms();
        inv.key(&sessions)
            .key(self.layout.standalone(sub))
            .key(self.layout.generation(sub))
            .arg(now);
        self.feed_args(&mut inv, sub);
        let ((ended, tokens), replication): ((u64, u64), _) =
            self.run_acked(inv, &sessions).await?;
        replication.required()?;
        let event = Revocation::User {
            sub: sub.to_owned(),
            before: now,
        };
        self.publish_after(&[event]).await?;
        Ok(UserRevocation {
            sessions: ended,
            standalone_access_tokens: tokens,
        })
    }

    async fn list_sessions(
        &self,
        sub: &str,
        now: i64,
        after: Option<SessionCursor>,
        size: PageSize,
    ) -> Result<SessionPage, StoreError> {
        let base = self.base(sub);
        let script = &self.scripts.list_sessions;
        let (score, sid) = match after {
            Some(c) => (c.score.to_string(), c.sid.to_string()),
            None => (String::new(), String::new()),
        };
        let keys = [self.layout.sessions(sub), self.layout.generation(sub)];
        let (next_score, next_sid, rows): SessionRows = self
            .run(|mut c| async move {
                script
                    .key(&keys[0])
                    .key(&keys[1])
                    .arg(&base)
                    .arg(now.saturating_mul(1000))
                    .arg(score)
                    .arg(sid)
                    .arg(size.get())
                    .arg(size.get() * PAGE_BUDGET)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        let corrupt = |what: &str| StoreError::Backend(format!("session page: {what}").into());
        let sessions = rows
            .iter()
            .map(|(sid, fields)| {
                let sid = Sid::parse(sid).map_err(|e| StoreError::Backend(e.into()))?;
                SessionRecord::from_fields(sub, sid, fields)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = if next_sid.is_empty() {
            None
        } else {
            Some(SessionCursor {
                score: next_score.parse().map_err(|_| corrupt("score"))?,
                sid: Sid::parse(&next_sid).map_err(|_| corrupt("sid"))?,
            })
        };
        Ok(SessionPage { sessions, next })
    }

    async fn read_feed(&self, read: FeedRead) -> Result<FeedPage, StoreError> {
        self.read_feed_from(read).await
    }

    async fn remember_proof(
        &self,
        sub: &str,
        proof: &ProofKey,
        ttl_secs: u64,
    ) -> Result<bool, StoreError> {
        // One `SET NX EX` in the user's slot (a Cluster routes it there);
        // the value is Redis's shared integer 1.
        let key = format!("{}dpop:{}", self.base(sub), proof.key_part());
        let ttl = ttl_secs.max(1);
        self.run(|mut c| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(ttl)
                .query_async::<Option<String>>(&mut c)
                .await
                .map(|set| set.is_some())
        })
        .await
    }

    async fn access_live_with_proof(
        &self,
        sub: &str,
        key: &TokenKey,
        proof: &ProofKey,
        ttl_secs: u64,
    ) -> Result<(bool, bool), StoreError> {
        // The record and the user's generation (as `is_access_live`) and
        // `SET NX EX`, pipelined: every key carries `{sub}`, so a Cluster
        // routes the pipeline to the one node of the user's slot.
        let keys = [self.layout.access(sub, key), self.layout.generation(sub)];
        let seen = format!("{}dpop:{}", self.base(sub), proof.key_part());
        let ttl = ttl_secs.max(1);
        let ((record, generation), set) = self
            .run(|mut c| async move {
                redis::pipe()
                    .mget(&keys)
                    .cmd("SET")
                    .arg(seen)
                    .arg(1)
                    .arg("NX")
                    .arg("EX")
                    .arg(ttl)
                    .query_async::<((Option<String>, Option<String>), Option<String>)>(&mut c)
                    .await
            })
            .await?;
        let live = AccessRecord::is_live(record.as_deref(), generation.as_deref())?;
        Ok((live, set.is_some()))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let pong: String = self
            .run(|mut c| async move { redis::cmd("PING").query_async(&mut c).await })
            .await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Backend(
                format!("PING answered `{pong}`").into(),
            ))
        }
    }
}
