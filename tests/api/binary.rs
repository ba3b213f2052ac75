//! The real `tessera` binary as a child process, and the stop and readiness
//! helpers every child-process fixture shares (nginx, Apache).
//!
//! [`Tessera`] runs `tessera serve` in a temp directory that holds its
//! config.yaml, log4rs.yaml (the shipped one, [`log4rs_yaml`], or any
//! text), keys and logs, with `stdout.log` and `stderr.log` for the
//! console; no inherited `TESSERA*` variable reaches it.
//!
//! One readiness rule: the port is chosen up front (the config is a
//! function of it) and the process is ready when `GET /healthz` answers
//! 200 there; a lost bind race (the process exits) is retried on a new
//! port. Unlike waiting for the "listening on port N" log line, it holds
//! whatever the logging configuration prints (prod logs no INFO; a test
//! may log JSON or to no console at all), and it proves HTTP is served.
//!
//! One way to stop: SIGTERM with the `kill` command (no `unsafe`) —
//! [`Tessera::terminate`] for tests of shutdown; on drop, SIGTERM then
//! SIGKILL after a grace period ([`stop`]).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub use crate::redis_server::free_port;

pub const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// The shipped logging configuration.
pub fn shipped_log4rs() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("log4rs.yaml"))
        .expect("log4rs.yaml at the repository root")
}

/// A log4rs file writing the console, `logs/tessera.log` and
/// `logs/audit.log`, everything at `level`.
pub fn log4rs_yaml(level: &str) -> String {
    format!(
        r#"
appenders:
  console:
    kind: console
    encoder: {{ pattern: "{{l}} {{t}} - {{m}}{{n}}" }}
  file:
    kind: file
    path: "logs/tessera.log"
    encoder: {{ pattern: "{{l}} {{t}} - {{m}}{{n}}" }}
  audit:
    kind: file
    path: "logs/audit.log"
    encoder: {{ pattern: "{{m}}{{n}}" }}
root:
  level: {level}
  appenders: [console, file]
loggers:
  audit:
    level: info
    appenders: [audit]
    additive: false
"#
    )
}

/// A dev config: memory store, a generated key, one client `app`.
pub fn dev_config(port: u16) -> String {
    dev_config_with_clients(port, &[])
}

/// [`dev_config`] with more clients, `(id, grants)` each (grants as YAML,
/// e.g. `"[revoke]"`), all with the shared test secret.
pub fn dev_config_with_clients(port: u16, extra: &[(&str, &str)]) -> String {
    let hash = crate::helpers::secret_hash();
    let extra: String = extra
        .iter()
        .map(|(id, grants)| {
            format!("  - {{ id: \"{id}\", secret_hash: \"{hash}\", grants: {grants} }}\n")
        })
        .collect();
    format!(
        r#"server: {{ listen: "127.0.0.1:{port}", workers: 1 }}
issuer: "http://tessera.test"
tokens: {{ dev_key_path: "keys/dev.pem" }}
clients:
  - {{ id: "app", secret_hash: "{hash}", grants: [issue, verify, revoke] }}
{extra}logging: {{ config: "log4rs.yaml" }}
"#
    )
}

/// A temp dir holding a new key `k1.pem`, and a prod config for it: an
/// https issuer, Redis at `redis_url`, that key, the client `app`.
pub fn prod_setup(redis_url: String) -> (tempfile::TempDir, impl Fn(u16) -> String) {
    let dir = tempfile::tempdir().unwrap();
    let keygen = run(dir.path(), &["keygen", "--out", "k1.pem"], &[]);
    assert!(keygen.status.success(), "keygen: {keygen:?}");
    let hash = crate::helpers::secret_hash();
    let config = move |port: u16| {
        format!(
            r#"server: {{ listen: "127.0.0.1:{port}", workers: 1 }}
issuer: "https://tessera.test"
redis: {{ url: "{redis_url}", timeout_ms: 300 }}
keys: [ {{ kid: "k1", path: "k1.pem", alg: "EdDSA", status: "active" }} ]
clients:
  - {{ id: "app", secret_hash: "{hash}", grants: [issue, verify, revoke] }}
logging: {{ config: "log4rs.yaml" }}
"#
        )
    };
    (dir, config)
}

/// `tessera` in `dir` with no inherited `TESSERA*` variables.
pub fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("TESSERA") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Runs `tessera args…` to completion in `dir`.
pub fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(dir)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run tessera")
}

/// Sends SIGTERM to `pid` with the `kill` command; whether it was sent.
fn sigterm(pid: u32) -> bool {
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// Stops a child: SIGTERM, up to 5 s to exit, then SIGKILL. A child
/// already reaped is left alone (its pid may belong to another process).
pub fn stop(mut child: Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    sigterm(child.id());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits up to 10 s until every loopback port in `ports` accepts a
/// connection; false at once if `child` exits first.
pub fn wait_until_listening(child: &mut Child, ports: &[u16]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if ports
            .iter()
            .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok())
        {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

pub struct Tessera {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl Tessera {
    /// Writes the files (`config` gets the port), starts `tessera serve`
    /// with `env` and waits until it is ready.
    pub fn start(config: impl Fn(u16) -> String, log4rs: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, config, log4rs, env)
    }

    /// As [`Tessera::start`], in a directory the test has prepared.
    pub fn start_in(
        dir: tempfile::TempDir,
        config: impl Fn(u16) -> String,
        log4rs: &str,
        env: &[(&str, &str)],
    ) -> Self {
        std::fs::write(dir.path().join("log4rs.yaml"), log4rs).unwrap();
        let mut t = Tessera {
            dir,
            port: 0,
            child: None,
        };
        let mut last_err = String::new();
        for _ in 0..3 {
            t.port = free_port();
            std::fs::write(t.path("config.yaml"), config(t.port)).unwrap();
            let stdout = std::fs::File::create(t.path("stdout.log")).unwrap();
            let stderr = std::fs::File::create(t.path("stderr.log")).unwrap();
            let child = command(t.dir.path())
                .args(["serve", "--config", "config.yaml"])
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .expect("spawn tessera");
            t.child = Some(child);
            match t.wait_healthy() {
                Ok(()) => return t,
                Err(e) => {
                    last_err = e;
                    t.stop();
                }
            }
        }
        panic!("tessera did not start: {last_err}");
    }

    fn wait_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!(
                    "exited with {status}: {}{}",
                    self.read("stdout.log"),
                    self.read("stderr.log")
                ));
            }
            if matches!(self.get("/healthz", &[]), Ok((200, _, _))) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("no answer on /healthz within 20 s".into())
    }

    /// The process id of the running `tessera` (for `/proc/<pid>/status`).
    #[allow(dead_code, reason = "used by tests/flood.rs, which includes this file")]
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("tessera is running").id()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A file under the directory, or "" if it does not exist (yet).
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A plain HTTP/1.1 request; returns (status, head, body).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> std::io::Result<(u16, String, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes())?;
        let mut raw = String::new();
        s.read_to_string(&mut raw)?;
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Ok((status, head.to_owned(), body.to_owned()))
    }

    pub fn get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> std::io::Result<(u16, String, String)> {
        self.request("GET", path, headers, "")
    }

    /// Issues a token as the config's client `app`; returns the status.
    pub fn issue(&self, sub: &str, request_id: &str) -> u16 {
        let auth = app_basic();
        let body = format!(r#"{{"sub":"{sub}"}}"#);
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
            ("X-Request-Id", request_id),
        ];
        self.request("POST", "/token/issue", &headers, &body)
            .expect("issue request")
            .0
    }

    /// Waits until `file` has a line satisfying `pred`; returns that line.
    pub fn wait_for_line(&self, file: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.read(file).lines().find(|l| pred(l)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no line in {file} with {what} within 10 s; it holds:\n{}",
                self.read(file)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM (a graceful shutdown); see [`Tessera::wait_exit`].
    pub fn terminate(&self) {
        let child = self.child.as_ref().expect("tessera is running");
        assert!(sigterm(child.id()), "kill -TERM failed");
    }

    /// SIGKILL (no shutdown path runs, as in a crash) and reaps it.
    pub fn kill_now(&mut self) {
        let mut child = self.child.take().expect("tessera is running");
        child.kill().expect("kill -9");
        child.wait().expect("reap");
    }

    /// Waits up to `limit` for the process to exit; its status and how
    /// long the wait took.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<(ExitStatus, Duration)> {
        let child = self.child.as_mut().expect("tessera was started");
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = child.try_wait() {
                return Some((status, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop(child);
        }
    }
}

impl Drop for Tessera {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether a log line has the level `level` as a word (the shipped pattern
/// pads it: `INFO `, `ERROR`).
/// The `Authorization` value of the config's client `app`.
pub fn app_basic() -> String {
    use base64::Engine;
    let raw = format!("app:{}", crate::helpers::SECRET);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

pub fn has_level(line: &str, level: &str) -> bool {
    line.split_whitespace().any(|w| w == level)
}
