//! A private `redis-server` per test: free loopback port, no persistence
//! (unless started with [`RedisServer::start_with`]), killed on drop. Fault
//! tests stop, crash, restart, pause and resume it; its methods take
//! `&self`, so apps of one deployment can share it (`Arc`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub struct RedisServer {
    port: u16,
    child: Mutex<Option<Child>>,
    dir: tempfile::TempDir,
    /// Persistence arguments, the same at every (re)start.
    persistence: Vec<String>,
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
            };
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start on a free port after 5 attempts");
    }

    fn spawn(&self) -> bool {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--protected-mode",
                "yes",
            ])
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
            if ping(self.port) {
                return true;
            }
            if let Some(Ok(Some(_))) = self.child().as_mut().map(|c| c.try_wait()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
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

    /// A synchronous client connection for assertions.
    pub fn connection(&self) -> deadpool_redis::redis::Connection {
        deadpool_redis::redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("connect to the test redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
