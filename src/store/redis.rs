//! The Redis store. Keys of one user share the hash tag `{sub}`:
//!
//! | key                               | type   | TTL                     |
//! |-----------------------------------|--------|-------------------------|
//! | `<prefix>{<sub>}:at:<jti>`        | string | the access token's life |
//! | `<prefix>{<sub>}:fam:<sid>`       | hash   | the session's life      |
//! | `<prefix>{<sub>}:sessions`        | zset   | latest session expiry   |
//! | `<prefix>{<sub>}:ats`             | zset   | latest stand-alone token|
//!
//! Every multi-key change is one Lua script (`lua/*.lua`), so it is atomic
//! and runs unchanged on Redis Cluster.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{self, AsyncCommands, ErrorKind, Script, ServerErrorKind};
use deadpool_redis::{Config, Pool, PoolConfig, Runtime, Timeouts};

use super::{
    AccessRecord, NewSession, REMEMBERED_DIGESTS, RotateOutcome, Rotation, SessionRecord,
    StoreError, TokenStore, now_ms,
};
use crate::domain::{Jti, Sid};

const LIB: &str = include_str!("lua/lib.lua");

struct Scripts {
    put_access: Script,
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
    pool: Pool,
    /// Shared multiplexed connections, one slot per core (see `connection`).
    shared: Arc<[Mutex<Option<MultiplexedConnection>>]>,
    prefix: Arc<str>,
    timeout: Duration,
    scripts: Arc<Scripts>,
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
    /// Builds the pool; connections are made lazily, so a Redis that is
    /// down at start-up only makes requests fail until it is back.
    pub fn connect(opts: RedisOptions<'_>) -> Result<Self, StoreError> {
        let mut cfg = Config::from_url(opts.url);
        let mut pool_cfg = PoolConfig::new(opts.pool_size.max(1));
        pool_cfg.timeouts = Timeouts {
            wait: Some(opts.timeout),
            create: Some(opts.timeout),
            recycle: Some(opts.timeout),
        };
        cfg.pool = Some(pool_cfg);
        let pool = cfg
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| StoreError::Backend(format!("invalid Redis configuration: {e}")))?;
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(RedisStore {
            pool,
            shared: (0..slots).map(|_| Mutex::new(None)).collect(),
            prefix: opts.key_prefix.into(),
            timeout: opts.timeout,
            scripts: Arc::new(Scripts::new()),
        })
    }

    /// `<prefix>{<sub>}:`, the start of every key of one user.
    fn base(&self, sub: &str) -> String {
        format!("{}{{{}}}:", self.prefix, sub)
    }

    /// A clone of this thread's shared multiplexed connection, made when
    /// missing. Why not `pool.get()` per request: deadpool-redis PINGs every
    /// connection it hands out, which doubled each command's round trips.
    /// A multiplexed connection pipelines the commands of many requests over
    /// one socket, so a few of them (one per core; the thread picks its slot)
    /// serve every request. The pool now only makes connections (with its
    /// create timeout); `run` drops a slot's connection on any connection
    /// failure, so a restarted Redis is picked up by the next request.
    async fn connection(&self) -> Result<(usize, MultiplexedConnection), StoreError> {
        static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);
        thread_local!(static THREAD: usize = NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
        let slot = THREAD.with(|t| *t) % self.shared.len();
        if let Some(conn) = self.slot(slot).as_ref() {
            return Ok((slot, conn.clone()));
        }
        let fresh = deadpool_redis::Connection::take(
            self.pool
                .get()
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?,
        );
        *self.slot(slot) = Some(fresh.clone());
        Ok((slot, fresh))
    }

    fn slot(&self, i: usize) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        // A poisoned slot only ever held a connection: keep using it.
        self.shared[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with a shared connection, bounded by the configured timeout.
    /// A timeout or a connection error (anything but a command's own
    /// error) drops the connection so the next request makes a new one.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let mut used = None;
        let work = async {
            let (slot, conn) = self.connection().await?;
            used = Some(slot);
            f(conn).await.map_err(classify)
        };
        let result = tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(
                    "Redis did not answer in time".into(),
                ))
            });
        if let (Err(StoreError::Unavailable(_)), Some(slot)) = (&result, used) {
            self.slot(slot).take();
        }
        result
    }

    /// Pool figures for metrics: (size, available, waiting).
    pub fn pool_status(&self) -> (usize, usize, usize) {
        let s = self.pool.status();
        (s.size, s.available, s.waiting)
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
                .key(format!("{base}at:{jti}"))
                .key(format!("{base}ats"))
                .arg(rec.encode())
                .arg(ttl_ms(rec.exp, now))
                .arg(rec.exp.saturating_mul(1000))
                .arg(jti.to_string())
                .arg(now)
                .invoke_async::<i64>(&mut c)
                .await
                .map(drop)
        })
        .await
    }

    async fn is_access_live(&self, sub: &str, jti: &Jti) -> Result<bool, StoreError> {
        let key = format!("{}{{{sub}}}:at:{jti}", self.prefix);
        self.run(|mut c| async move { c.exists(key).await }).await
    }

    async fn revoke_access(&self, sub: &str, jti: &Jti) -> Result<bool, StoreError> {
        let base = self.base(sub);
        let (deleted, _): (i64, i64) = self
            .run(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .del(format!("{base}at:{jti}"))
                    .zrem(format!("{base}ats"), jti.to_string())
                    .query_async(&mut c)
                    .await
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
            .key(format!("{base}at:{}", new.first_jti))
            .key(format!("{base}sessions"))
            .arg(&base)
            .arg(s.sid.to_string())
            // Millisecond expiry: orders sessions created in the same second.
            .arg(now + (s.exp - s.created).max(1).saturating_mul(1000))
            .arg(new.first_access.encode())
            .arg(ttl_ms(new.first_access.exp, now))
            .arg(new.first_jti.to_string())
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
                script
                    .key(format!("{base}fam:{}", r.sid))
                    .key(format!("{base}at:{}", r.jti))
                    .arg(&base)
                    .arg(r.sid.to_string())
                    .arg(r.presented.to_hex())
                    .arg(r.next.to_hex())
                    .arg(r.access.encode())
                    .arg(ttl_ms(r.access.exp, now))
                    .arg(r.jti.to_string())
                    .arg(r.access.exp)
                    .arg(r.now)
                    .arg(REMEMBERED_DIGESTS)
                    .invoke_async(&mut c)
                    .await
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
                script
                    .key(format!("{base}fam:{sid}"))
                    .arg(&base)
                    .arg(sid.to_string())
                    .invoke_async(&mut c)
                    .await
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
                script
                    .key(format!("{base}sessions"))
                    .key(format!("{base}ats"))
                    .arg(&base)
                    .arg(now)
                    .invoke_async(&mut c)
                    .await
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
