//! A real Redis Cluster (3 primaries, 3 replicas) and a Sentinel group
//! (1 primary, 1 replica, 3 sentinels) on free loopback ports.
//!
//! No orphans: every node runs under a small `sh` guard whose stdin is a
//! pipe that only this test process holds open. When the process ends —
//! normally, by a panic, or killed — the pipe closes, the guard's `read`
//! returns, and it SIGKILLs its node and removes the node's directory.
//! `cargo test` never drops statics, so the shared fixtures
//! ([`shared_cluster`], [`shared_sentinel`]) rely on exactly that; a fixture
//! that is dropped kills its nodes at once. Every wait is bounded.
//!
//! [`RedisCluster::start_tls`] and [`RedisSentinel::start_tls`] serve TLS
//! only (the test PKI, `tls_pki.rs`): clients, the cluster bus and
//! replication (`tls-cluster`, `tls-replication`), sentinels included.

use crate::redis_server::ping;
use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use deadpool_redis::redis;

/// Runs `redis-server "$@"` and kills it when stdin closes.
const GUARD: &str = r#"dir="$1"; shift
redis-server "$@" </dev/null >"$dir/node.log" 2>&1 &
pid=$!
read -r _ || true
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rm -rf "$dir""#;

/// One `redis-server` (data node or sentinel) under its guard.
pub struct Node {
    pub port: u16,
    guard: Option<Child>,
    stdin: Option<ChildStdin>,
    /// Serves TLS only (`rediss://`).
    tls: bool,
}

impl Node {
    /// Starts `redis-server args…`; `{dir}` in an argument or in `conf`
    /// (written to `{dir}/node.conf` first) is the node's own directory.
    /// `tls`: the arguments or `conf` make it serve TLS only.
    fn spawn_tls(port: u16, args: &[String], conf: Option<&str>, tls: bool) -> Node {
        let dir = tempfile::Builder::new()
            .prefix("tessera-redis-node-")
            .tempdir()
            .expect("tempdir")
            .keep();
        if let Some(conf) = conf {
            let conf = conf.replace("{dir}", &dir.display().to_string());
            std::fs::write(dir.join("node.conf"), conf).expect("write node.conf");
        }
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{dir}", &dir.display().to_string()))
            .collect();
        let mut guard = Command::new("sh")
            .arg("-c")
            .arg(GUARD)
            .arg("redis-node")
            .arg(&dir)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run sh");
        let stdin = guard.stdin.take();
        Node {
            port,
            guard: Some(guard),
            stdin,
            tls,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Whether it answers `PING` (over TLS for a TLS node).
    fn answers(&self) -> bool {
        if !self.tls {
            return ping(self.port);
        }
        self.connection()
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
            .is_ok()
    }

    /// SIGKILLs the node (a crash: nothing is saved) and waits for it.
    pub fn kill(&mut self) {
        drop(self.stdin.take());
        if let Some(mut guard) = self.guard.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = guard.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = guard.kill();
            let _ = guard.wait();
        }
    }

    /// A synchronous connection for set-up and assertions.
    pub fn connection(&self) -> redis::RedisResult<redis::Connection> {
        let client = if self.tls {
            redis::Client::build_with_tls(self.url(), crate::tls_pki::pki().client_certificates())?
        } else {
            redis::Client::open(self.url())?
        };
        let conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
        conn.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(conn)
    }

    pub fn query(&self, cmd: &mut redis::Cmd) -> redis::RedisResult<String> {
        let mut conn = self.connection()?;
        let v: redis::Value = cmd.query(&mut conn)?;
        Ok(match v {
            redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
            redis::Value::SimpleString(s) => s,
            redis::Value::VerbatimString { text, .. } => text,
            other => format!("{other:?}"),
        })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn can_bind(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A free port whose cluster-bus port (+10000) is free too, both below
/// the kernel's ephemeral range (32768+), so that no outgoing connection
/// grabs one between this check and the node's start.
fn free_port() -> u16 {
    for _ in 0..200 {
        let r = uuid::Uuid::new_v4().as_u128() % 12_000;
        let port = 10_000 + u16::try_from(r).expect("below 12000");
        if can_bind(port) && can_bind(port + 10_000) {
            return port;
        }
    }
    panic!("no free loopback port pair (port, port+10000) in 10000-32000");
}

/// Polls `ok` every 50 ms until it holds; panics with `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

fn require_redis_tools() {
    for tool in ["redis-server", "redis-cli"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "`{tool}` is missing; install it (scripts/test.sh does: apt-get install -y redis-server redis-tools)"
        );
    }
}

/// A data node's arguments; `tls`: TLS only, for clients, the cluster bus
/// and replication.
fn data_node_args_tls(port: u16, extra: &[&str], tls: bool) -> Vec<String> {
    let mut args: Vec<String> = if tls {
        let mut a = crate::tls_pki::pki().server_args(port, "server", false);
        a.extend(["--tls-cluster", "yes", "--tls-replication", "yes"].map(String::from));
        a
    } else {
        vec!["--port".into(), port.to_string()]
    };
    args.extend(
        [
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "{dir}",
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn wait_for_ping(nodes: &[Node]) {
    for n in nodes {
        wait_until(
            &format!("redis on port {}", n.port),
            Duration::from_secs(10),
            || n.answers(),
        );
    }
}

/// Runs a command with a time bound; panics with its output on failure.
fn run_bounded(cmd: &mut Command, limit: Duration) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut out = String::new();
            if let Some(mut s) = child.stdout.take() {
                let _ = s.read_to_string(&mut out);
            }
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut out);
            }
            assert!(status.success(), "{cmd:?} failed: {out}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A 3-primary, 3-replica Redis Cluster.
pub struct RedisCluster {
    pub nodes: Vec<Node>,
}

impl RedisCluster {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// A cluster that serves TLS only.
    pub fn start_tls() -> Self {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Self {
        require_redis_tools();
        let nodes: Vec<Node> = (0..6)
            .map(|_| {
                let port = free_port();
                let extra = [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "{dir}/nodes.conf",
                    "--cluster-node-timeout",
                    "1000",
                    "--cluster-replica-validity-factor",
                    "0",
                ];
                Node::spawn_tls(port, &data_node_args_tls(port, &extra, tls), None, tls)
            })
            .collect();
        wait_for_ping(&nodes);
        let mut create = Command::new("redis-cli");
        if tls {
            let pki = crate::tls_pki::pki();
            create.arg("--tls").arg("--cacert").arg(pki.path("ca.pem"));
        }
        create.arg("--cluster").arg("create");
        for n in &nodes {
            create.arg(format!("127.0.0.1:{}", n.port));
        }
        create.args(["--cluster-replicas", "1", "--cluster-yes"]);
        run_bounded(&mut create, Duration::from_secs(60));
        let cluster = RedisCluster { nodes };
        cluster.wait_healthy(Duration::from_secs(30));
        cluster
    }

    /// Every live node sees `cluster_state:ok` and every replica is in sync.
    pub fn wait_healthy(&self, limit: Duration) {
        wait_until("a healthy cluster", limit, || {
            self.nodes.iter().filter(|n| n.guard.is_some()).all(|n| {
                let info = n
                    .query(redis::cmd("INFO").arg("replication"))
                    .unwrap_or_default();
                let state = n
                    .query(redis::cmd("CLUSTER").arg("INFO"))
                    .unwrap_or_default();
                state.contains("cluster_state:ok")
                    && (info.contains("role:master") || info.contains("master_link_status:up"))
            })
        });
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// The index of the node that is primary for `key`'s slot now.
    pub fn primary_for(&self, key: &str) -> usize {
        let live = self
            .nodes
            .iter()
            .find(|n| n.guard.is_some())
            .expect("a live node");
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut live.connection().expect("connect"))
            .expect("CLUSTER KEYSLOT");
        let nodes = live
            .query(redis::cmd("CLUSTER").arg("NODES"))
            .expect("CLUSTER NODES");
        for line in nodes.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 9 || !f[2].contains("master") || f[2].contains("fail") {
                continue;
            }
            let owns = f[8..].iter().any(|range| {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a <= slot && slot <= b)
            });
            if owns {
                let port: u16 = f[1]
                    .split(['@', ':'])
                    .nth(1)
                    .and_then(|p| p.parse().ok())
                    .expect("node port");
                return self
                    .nodes
                    .iter()
                    .position(|n| n.port == port)
                    .expect("a known node");
            }
        }
        panic!("no primary owns slot {slot}:\n{nodes}");
    }
}

/// The name the sentinels know the primary by.
pub const MASTER_NAME: &str = "tessera-test";

/// One primary, one replica, three sentinels (quorum 2).
pub struct RedisSentinel {
    pub primary: Node,
    /// Held so it lives (and dies) with the group.
    _replica: Node,
    pub sentinels: Vec<Node>,
}

impl RedisSentinel {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Sentinels and data nodes that serve TLS only.
    pub fn start_tls() -> Self {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Self {
        require_redis_tools();
        let port = free_port();
        let primary = Node::spawn_tls(port, &data_node_args_tls(port, &[], tls), None, tls);
        let rport = free_port();
        let replica = Node::spawn_tls(
            rport,
            &data_node_args_tls(rport, &["--replicaof", "127.0.0.1", &port.to_string()], tls),
            None,
            tls,
        );
        wait_until(
            "the sentinel primary and replica",
            Duration::from_secs(10),
            || primary.answers() && replica.answers(),
        );
        wait_until("the replica's sync", Duration::from_secs(20), || {
            replica
                .query(redis::cmd("INFO").arg("replication"))
                .is_ok_and(|i| i.contains("master_link_status:up"))
        });
        let sentinels: Vec<Node> = (0..3)
            .map(|_| {
                let sport = free_port();
                let listen = if tls {
                    let p = |f: &str| crate::tls_pki::pki().path(f).display().to_string();
                    format!(
                        "port 0\ntls-port {sport}\ntls-cert-file {}\ntls-key-file {}\n\
                         tls-ca-cert-file {}\ntls-auth-clients no\ntls-replication yes\n",
                        p("server.pem"),
                        p("server.key"),
                        p("ca.pem")
                    )
                } else {
                    format!("port {sport}\n")
                };
                let conf = format!(
                    "{listen}bind 127.0.0.1\ndir {{dir}}\n\
                     sentinel monitor {MASTER_NAME} 127.0.0.1 {port} 2\n\
                     sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                     sentinel failover-timeout {MASTER_NAME} 5000\n\
                     sentinel parallel-syncs {MASTER_NAME} 1\n"
                );
                let args = ["{dir}/node.conf".to_string(), "--sentinel".to_string()];
                Node::spawn_tls(sport, &args, Some(&conf), tls)
            })
            .collect();
        let group = RedisSentinel {
            primary,
            _replica: replica,
            sentinels,
        };
        group.wait_healthy(Duration::from_secs(30));
        group
    }

    /// Every sentinel knows the primary, its replica and the two others.
    pub fn wait_healthy(&self, limit: Duration) {
        wait_until("the sentinels to discover each other", limit, || {
            self.sentinels.iter().all(|s| {
                let Ok(mut c) = s.connection() else {
                    return false;
                };
                let info: redis::RedisResult<Vec<String>> = redis::cmd("SENTINEL")
                    .arg("MASTER")
                    .arg(MASTER_NAME)
                    .query(&mut c);
                let Ok(info) = info else { return false };
                let field = |name: &str| {
                    info.iter()
                        .position(|f| f == name)
                        .and_then(|i| info.get(i + 1))
                        .cloned()
                        .unwrap_or_default()
                };
                field("num-other-sentinels") == "2" && field("num-slaves") == "1"
            })
        });
    }

    pub fn urls(&self) -> Vec<String> {
        self.sentinels.iter().map(Node::url).collect()
    }
}

static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();
static SENTINEL: OnceLock<RedisSentinel> = OnceLock::new();

/// One cluster for every test of this process that does not break it
/// (tests keep apart by key prefix); its nodes die with the process.
pub fn shared_cluster() -> &'static RedisCluster {
    CLUSTER.get_or_init(RedisCluster::start)
}

/// One Sentinel group shared like [`shared_cluster`].
pub fn shared_sentinel() -> &'static RedisSentinel {
    SENTINEL.get_or_init(RedisSentinel::start)
}
