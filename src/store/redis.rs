//! The Redis store. Keys of one user share the hash tag `{sub}`:
//!
//! | key                               | type   | TTL                     |
//! |-----------------------------------|--------|-------------------------|
//! | `<prefix>{<sub>}:at:<jti22>`      | string | the access token's life |
//! | `<prefix>{<sub>}:fam:<sid>`       | hash   | the session's life      |
//! | `<prefix>{<sub>}:sessions`        | zset   | latest session expiry   |
//! | `<prefix>{<sub>}:ats`             | zset   | latest stand-alone token|
//!
//! Every multi-key change is one Lua script (`lua/*.lua`), so it is atomic
//! and runs unchanged on Redis Cluster.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::redis::{self, AsyncCommands, ErrorKind, Script, ServerErrorKind};

use super::redis_conn::{Conn, Pools, Topology};
use super::{
    AccessRecord, NewSession, REMEMBERED_DIGESTS, RotateOutcome, Rotation, SessionRecord,
    StoreError, TokenStore, now_ms,
};
use crate::domain::{Jti, Sid};

const LIB: &str = include_str!("lua/lib.lua");

/// A jti as keys and index members spell it (`<jti22>` above): base64url of
/// its 16 bytes, 22 characters instead of the claim's 36, which keeps a live
/// token's key in a smaller allocation (BENCHMARKS.md, Redis memory).
pub fn jti_key_part(jti: &Jti) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jti.0.as_bytes())
}

struct Scripts {
    put_access: Script,
    revoke_access: Script,
    create_session: Script,
    rotate: Script,
    revoke_family: Script,
    revoke_user: Script,
    list_sessions: Script,
}

impl Scripts {
    fn new() -> Self {
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

#[derive(Clone)]
pub struct RedisStore {
    pool: Pools,
    prefix: Arc<str>,
    timeout: Duration,
    scripts: Arc<Scripts>,
    /// Replicas that must acknowledge a revocation (`WAIT`); 0 = off.
    wait_replicas: usize,
    /// Where each call's latency goes (the owning app's metrics), if set.
    latency: Option<metrics::Histogram>,
}

/// Connection settings for [`RedisStore::connect`].
pub struct RedisOptions<'a> {
    pub url: &'a str,
    pub key_prefix: &'a str,
    pub pool_size: usize,
    pub timeout: Duration,
}

fn classify(e: redis::RedisError) -> StoreError {
    match e.kind() {
        ErrorKind::Parse
        | ErrorKind::UnexpectedReturnType
        | ErrorKind::Server(ServerErrorKind::ResponseError)
        | ErrorKind::Server(ServerErrorKind::CrossSlot) => StoreError::Backend(e.to_string()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

impl RedisStore {
    /// Closes the pool: idle connections are dropped, waiters fail at once.
    pub fn close(&self) {
        self.pool.close();
    }

    /// Builds a standalone pool over `opts.url`.
    pub fn connect(opts: RedisOptions<'_>) -> Result<Self, StoreError> {
        Self::connect_to(Topology::Standalone { url: opts.url }, &opts, 0)
    }

    /// Builds the pool for any `redis.mode` (`opts.url` is not read);
    /// connections are made lazily, so a Redis that is down at start-up
    /// only makes requests fail until it is back. `wait_replicas` > 0 makes
    /// every revocation wait for that many replica acknowledgements.
    pub fn connect_to(
        topology: Topology<'_>,
        opts: &RedisOptions<'_>,
        wait_replicas: usize,
    ) -> Result<Self, StoreError> {
        Ok(RedisStore {
            pool: Pools::create(topology, opts.pool_size, opts.timeout)?,
            prefix: opts.key_prefix.into(),
            timeout: opts.timeout,
            scripts: Arc::new(Scripts::new()),
            wait_replicas,
            latency: None,
        })
    }

    /// `WAIT` for the configured replicas after a revocation written to
    /// `key`'s node; bounded by half the timeout, leaving room for the rest.
    async fn acknowledge(&self, c: &mut Conn, key: &str) -> redis::RedisResult<()> {
        c.acknowledge(key, self.wait_replicas, self.timeout / 2)
            .await
    }

    /// `<prefix>{<sub>}:`, the start of every key of one user.
    fn base(&self, sub: &str) -> String {
        format!("{}{{{}}}:", self.prefix, sub)
    }

    /// Runs `f` with a pooled connection, bounded by the configured timeout.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let conn = self.pool.get().await?;
            f(conn).await.map_err(classify)
        };
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(self.timeout, work).await;
        if let Some(h) = &self.latency {
            h.record(started.elapsed().as_secs_f64());
        }
        result.map_err(|_| StoreError::Unavailable("Redis did not answer in time".into()))?
    }

    /// This store, recording call latencies into `metrics`.
    pub fn with_metrics(&self, metrics: &crate::telemetry::Metrics) -> Self {
        RedisStore {
            latency: Some(metrics.redis_latency()),
            ..self.clone()
        }
    }

    /// Pool figures for metrics: (size, available, waiting).
    pub fn pool_status(&self) -> (usize, usize, usize) {
        self.pool.figures()
    }
}

fn ttl_ms(exp_secs: i64, now: i64) -> i64 {
    (exp_secs.saturating_mul(1000) - now).max(1)
}

impl TokenStore for RedisStore {
    async fn put_access(&self, jti: &Jti, rec: &AccessRecord) -> Result<(), StoreError> {
        let base = self.base(&rec.sub);
        let now = now_ms();
        let script = &self.scripts.put_access;
        self.run(|mut c| async move {
            script
                .key(format!("{base}at:{}", jti_key_part(jti)))
                .key(format!("{base}ats"))
                .arg(rec.encode())
                .arg(ttl_ms(rec.exp, now))
                .arg(rec.exp.saturating_mul(1000))
                .arg(jti_key_part(jti))
                .arg(now)
                .invoke_async::<i64>(&mut c)
                .await
                .map(drop)
        })
        .await
    }

    async fn is_access_live(&self, sub: &str, jti: &Jti) -> Result<bool, StoreError> {
        let key = format!("{}{{{sub}}}:at:{}", self.prefix, jti_key_part(jti));
        self.run(|mut c| async move { c.exists(key).await }).await
    }

    async fn revoke_access(&self, sub: &str, jti: &Jti) -> Result<bool, StoreError> {
        let base = self.base(sub);
        let script = &self.scripts.revoke_access;
        let deleted: i64 = self
            .run(|mut c| async move {
                let key = format!("{base}at:{}", jti_key_part(jti));
                let out = script
                    .key(&key)
                    .key(format!("{base}ats"))
                    .arg(jti_key_part(jti))
                    .invoke_async(&mut c)
                    .await?;
                self.acknowledge(&mut c, &key).await?;
                Ok(out)
            })
            .await?;
        Ok(deleted > 0)
    }

    async fn create_session(&self, new: NewSession<'_>) -> Result<Vec<Sid>, StoreError> {
        let s = new.session;
        let base = self.base(&s.sub);
        let now = now_ms();
        let mut rec = s.clone();
        rec.refresh = new.refresh.to_hex();
        let script = &self.scripts.create_session;
        let mut inv = script.prepare_invoke();
        inv.key(format!("{base}fam:{}", s.sid))
            .key(format!("{base}at:{}", jti_key_part(new.first_jti)))
            .key(format!("{base}sessions"))
            .arg(&base)
            .arg(s.sid.to_string())
            // Millisecond expiry: orders sessions created in the same second.
            .arg(now + (s.exp - s.created).max(1).saturating_mul(1000))
            .arg(new.first_access.encode())
            .arg(ttl_ms(new.first_access.exp, now))
            .arg(jti_key_part(new.first_jti))
            .arg(new.first_access.exp)
            .arg(now)
            .arg(new.max_sessions);
        for (field, value) in rec.to_fields() {
            inv.arg(field).arg(value);
        }
        let evicted: Vec<String> = self
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await?;
        evicted
            .iter()
            .map(|s| Sid::parse(s).map_err(|e| StoreError::Backend(e.to_string())))
            .collect()
    }

    async fn get_session(&self, sub: &str, sid: &Sid) -> Result<Option<SessionRecord>, StoreError> {
        let key = format!("{}fam:{sid}", self.base(sub));
        let fields: Vec<(String, String)> = self
            .run(|mut c| async move { c.hgetall(key).await })
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let rec = SessionRecord::from_fields(sub, *sid, &fields)?;
        Ok((rec.exp.saturating_mul(1000) > now_ms()).then_some(rec))
    }

    async fn rotate(&self, r: Rotation<'_>) -> Result<RotateOutcome, StoreError> {
        let base = self.base(r.sub);
        let script = &self.scripts.rotate;
        let now = now_ms();
        let outcome: String = self
            .run(|mut c| async move {
                let fam = format!("{base}fam:{}", r.sid);
                let out = script
                    .key(&fam)
                    .key(format!("{base}at:{}", jti_key_part(r.jti)))
                    .arg(&base)
                    .arg(r.sid.to_string())
                    .arg(r.presented.to_hex())
                    .arg(r.next.to_hex())
                    .arg(r.access.encode())
                    .arg(ttl_ms(r.access.exp, now))
                    .arg(jti_key_part(r.jti))
                    .arg(r.access.exp)
                    .arg(r.now)
                    .arg(REMEMBERED_DIGESTS)
                    .invoke_async(&mut c)
                    .await?;
                // A rotation revokes the presented refresh token.
                self.acknowledge(&mut c, &fam).await?;
                Ok(out)
            })
            .await?;
        match outcome.as_str() {
            "rotated" => Ok(RotateOutcome::Rotated),
            "reused" => Ok(RotateOutcome::Reused),
            "unknown" => Ok(RotateOutcome::Unknown),
            other => Err(StoreError::Backend(format!("rotate answered `{other}`"))),
        }
    }

    async fn revoke_family(&self, sub: &str, sid: &Sid) -> Result<bool, StoreError> {
        let base = self.base(sub);
        let script = &self.scripts.revoke_family;
        let n: i64 = self
            .run(|mut c| async move {
                let fam = format!("{base}fam:{sid}");
                let n = script
                    .key(&fam)
                    .arg(&base)
                    .arg(sid.to_string())
                    .invoke_async(&mut c)
                    .await?;
                self.acknowledge(&mut c, &fam).await?;
                Ok(n)
            })
            .await?;
        Ok(n > 0)
    }

    async fn revoke_user(&self, sub: &str) -> Result<u64, StoreError> {
        let base = self.base(sub);
        let script = &self.scripts.revoke_user;
        let now = now_ms();
        let n: u64 = self
            .run(|mut c| async move {
                let sessions = format!("{base}sessions");
                let n = script
                    .key(&sessions)
                    .key(format!("{base}ats"))
                    .arg(&base)
                    .arg(now)
                    .invoke_async(&mut c)
                    .await?;
                self.acknowledge(&mut c, &sessions).await?;
                Ok(n)
            })
            .await?;
        Ok(n)
    }

    async fn list_sessions(&self, sub: &str, now: i64) -> Result<Vec<SessionRecord>, StoreError> {
        let base = self.base(sub);
        let script = &self.scripts.list_sessions;
        let rows: Vec<(String, Vec<(String, String)>)> = self
            .run(|mut c| async move {
                script
                    .key(format!("{base}sessions"))
                    .arg(&base)
                    .arg(now.saturating_mul(1000))
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        rows.iter()
            .map(|(sid, fields)| {
                let sid = Sid::parse(sid).map_err(|e| StoreError::Backend(e.to_string()))?;
                SessionRecord::from_fields(sub, sid, fields)
            })
            .collect()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let pong: String = self
            .run(|mut c| async move { redis::cmd("PING").query_async(&mut c).await })
            .await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Backend(format!("PING answered `{pong}`")))
        }
    }
}
