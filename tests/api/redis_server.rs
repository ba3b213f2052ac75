//! A private `redis-server` per test: free loopback port, no persistence
//! (unless started with [`RedisServer::start_with`]), killed on drop. Fault
//! tests stop, crash, restart, pause and resume it; its methods take
//! `&self`, so apps of one deployment can share it (`Arc`).
//! [`RedisServer::start_secured`] serves TLS only (`rediss://`) and/or ACL
//! users from a config file ([`Secured`]).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use deadpool_redis::redis;

pub struct RedisServer {
    port: u16,
    child: Mutex<Option<Child>>,
    dir: tempfile::TempDir,
    /// Persistence arguments, the same at every (re)start.
    persistence: Vec<String>,
    secured: Secured,
}

/// TLS and ACL users for [`RedisServer::start_secured`].
#[derive(Clone, Default)]
pub struct Secured {
    /// TLS only, with this certificate of the test PKI (`server` or
    /// `wrong-name`); `None`: plain TCP.
    pub tls_cert: Option<&'static str>,
    /// `tls-auth-clients yes`: a client certificate is required.
    pub auth_clients: bool,
    /// Config-file lines, e.g. ACL `user` lines (`user default off`).
    pub conf: String,
    /// The user the test's own [`RedisServer::connection`] logs in as.
    pub login: Option<(String, String)>,
}

/// No persistence at all: a restart comes back empty.
const NO_PERSISTENCE: &[&str] = &["--save", "", "--appendonly", "no"];

/// A port that was free on the loopback a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// Whether a Redis on `port` answers `PING`.
pub fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

impl RedisServer {
    /// Starts a server; panics (the test fails loudly) if `redis-server` is
    /// missing: run `scripts/test.sh`, which installs it.
    pub fn start() -> Self {
        Self::start_with(NO_PERSISTENCE)
    }

    /// Starts a server with these persistence arguments (e.g. `--appendonly
    /// yes --appendfsync always`); its files live in its own temp dir, which
    /// a restart reuses.
    pub fn start_with(persistence: &[&str]) -> Self {
        for _ in 0..5 {
            let server = RedisServer {
                port: free_port(),
                child: Mutex::new(None),
                dir: tempfile::tempdir().expect("tempdir"),
                persistence: persistence.iter().map(|a| (*a).to_owned()).collect(),
                secured: Secured::default(),
            };
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start on a free port after 5 attempts");
    }

    /// Starts a server (no persistence) with TLS and/or ACL users.
    pub fn start_secured(secured: Secured) -> Self {
        for _ in 0..5 {
            let server = RedisServer {
                port: free_port(),
                child: Mutex::new(None),
                dir: tempfile::tempdir().expect("tempdir"),
                persistence: NO_PERSISTENCE.iter().map(|a| (*a).to_owned()).collect(),
                secured: secured.clone(),
            };
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start on a free port after 5 attempts");
    }

    fn spawn(&self) -> bool {
        let conf = self.dir.path().join("node.conf");
        std::fs::write(&conf, &self.secured.conf).expect("write node.conf");
        let listen: Vec<String> = match self.secured.tls_cert {
            Some(cert) => {
                crate::tls_pki::pki().server_args(self.port, cert, self.secured.auth_clients)
            }
            None => vec!["--port".into(), self.port.to_string()],
        };
        let child = Command::new("redis-server")
            .arg(&conf)
            .args(&listen)
            .args(["--bind", "127.0.0.1", "--protected-mode", "yes"])
            .args(&self.persistence)
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `redis-server` ({e}); install it (scripts/test.sh does: apt-get install -y redis-server)")
            });
        *self.child() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.answers() {
                return true;
            }
            if let Some(Ok(Some(_))) = self.child().as_mut().map(|c| c.try_wait()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Whether the server answers `PING`; a secured one is asked with
    /// `redis-cli` over TLS (chain checked, name not: the `wrong-name`
    /// server must answer too) as the login user, so that a server another
    /// test process started on the same port, with its own PKI, does not
    /// count.
    fn answers(&self) -> bool {
        if self.secured.tls_cert.is_none() && self.secured.conf.is_empty() {
            return ping(self.port);
        }
        let mut cli = Command::new("redis-cli");
        cli.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if self.secured.tls_cert.is_some() {
            let pki = crate::tls_pki::pki();
            cli.arg("--tls").arg("--cacert").arg(pki.path("ca.pem"));
            cli.arg("--cert").arg(pki.path("client.pem"));
            cli.arg("--key").arg(pki.path("client.key"));
        }
        if let Some((user, password)) = &self.secured.login {
            cli.args(["--user", user, "--pass", password, "--no-auth-warning"]);
        }
        cli.arg("PING")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
    }

    /// `redis://127.0.0.1:port`, or `rediss://` for a TLS server; no user.
    pub fn url(&self) -> String {
        let scheme = if self.secured.tls_cert.is_some() {
            "rediss"
        } else {
            "redis"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    fn child(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn kill(&self) {
        if let Some(mut child) = self.child().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server (a crash: nothing is saved).
    pub fn stop(&self) {
        self.resume();
        self.kill();
    }

    /// Starts it again on the same port and dir: empty without
    /// persistence, else with what its files hold.
    pub fn restart(&self) {
        self.stop();
        self.start_again();
    }

    /// A crash: `kill -9` (SIGKILL with the `kill` command), then reaped.
    /// Nothing is flushed; only what already reached its files survives.
    pub fn crash(&self) {
        self.resume();
        self.signal("-KILL");
        if let Some(mut child) = self.child().take() {
            let _ = child.wait();
        }
    }

    /// Starts the (stopped or crashed) server on the same port and dir.
    pub fn start_again(&self) {
        assert!(
            self.spawn(),
            "redis-server did not restart on port {}",
            self.port
        );
    }

    fn signal(&self, sig: &str) {
        if let Some(child) = self.child().as_ref() {
            let status = Command::new("kill")
                .args([sig, &child.id().to_string()])
                .status()
                .expect("kill");
            assert!(status.success(), "kill {sig} failed");
        }
    }

    /// Freezes the server (SIGSTOP): connections hang instead of failing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// A synchronous client connection for assertions (over TLS with the
    /// test PKI's client certificate, as [`Secured::login`] if set).
    pub fn connection(&self) -> redis::Connection {
        self.try_connection()
            .expect("connect to the test redis-server")
    }

    fn try_connection(&self) -> redis::RedisResult<redis::Connection> {
        use redis::IntoConnectionInfo;
        let mut info = self.url().into_connection_info()?;
        if let Some((user, password)) = &self.secured.login {
            let settings = info
                .redis_settings()
                .clone()
                .set_username(user)
                .set_password(password);
            info = info.set_redis_settings(settings);
        }
        let client = if self.secured.tls_cert.is_some() {
            redis::Client::build_with_tls(info, crate::tls_pki::pki().client_certificates())
        } else {
            redis::Client::open(info)
        };
        let conn = client?.get_connection_with_timeout(Duration::from_secs(2))?;
        conn.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(conn)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
