//! The real `tessera` binary as a subprocess: a temp directory holds its
//! config.yaml, log4rs.yaml (the shipped one unless a test changes it),
//! keys and logs; it runs with that directory as its working directory on
//! a free loopback port, and is killed on drop.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// The shipped logging configuration.
pub fn shipped_log4rs() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("log4rs.yaml"))
        .expect("log4rs.yaml at the repository root")
}

pub use crate::redis_server::free_port;

/// `tessera` with a clean environment (no inherited TESSERA_* variables).
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

/// A dev config: memory store, a generated key, one client with grant issue.
pub fn dev_config(port: u16) -> String {
    let hash = tessera::domain::SecretHash::generate(crate::helpers::SECRET)
        .expect("hash")
        .expose()
        .to_owned();
    format!(
        r#"server: {{ listen: "127.0.0.1:{port}", workers: 1 }}
issuer: "http://tessera.test"
tokens: {{ dev_key_path: "keys/dev.pem" }}
clients:
  - {{ id: "app", secret_hash: "{hash}", grants: [issue, verify, revoke] }}
logging: {{ config: "log4rs.yaml" }}
"#
    )
}

pub struct Tessera {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl Tessera {
    /// Writes the files (`config` gets the port), starts `tessera serve`
    /// and waits for `/healthz`.
    pub fn start(config: impl Fn(u16) -> String, log4rs: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, config, log4rs, env)
    }

    pub fn start_in(
        dir: tempfile::TempDir,
        config: impl Fn(u16) -> String,
        log4rs: &str,
        env: &[(&str, &str)],
    ) -> Self {
        std::fs::write(dir.path().join("log4rs.yaml"), log4rs).unwrap();
        let mut last_err = String::new();
        let mut dir = Some(dir);
        for _ in 0..3 {
            let port = free_port();
            let d = dir.take().expect("dir");
            std::fs::write(d.path().join("config.yaml"), config(port)).unwrap();
            let stdout = std::fs::File::create(d.path().join("stdout.log")).unwrap();
            let stderr = std::fs::File::create(d.path().join("stderr.log")).unwrap();
            let child = command(d.path())
                .args(["serve", "--config", "config.yaml"])
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .expect("spawn tessera");
            let mut t = Tessera {
                dir: d,
                port,
                child: Some(child),
            };
            match t.wait_healthy() {
                Ok(()) => return t,
                Err(e) => {
                    last_err = e;
                    t.kill();
                    dir = Some(std::mem::replace(&mut t.dir, tempfile::tempdir().unwrap()));
                }
            }
        }
        panic!("tessera did not start: {last_err}");
    }

    fn wait_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!("exited with {status}: {}", self.read("stderr.log")));
            }
            if matches!(self.get("/healthz", &[]), Ok((200, _, _))) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("no answer on /healthz within 20 s".into())
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A file under the directory, or "" if it does not exist (yet).
    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_default()
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
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("app:{}", crate::helpers::SECRET));
        let auth = format!("Basic {basic}");
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

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Tessera {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a log line has the level `level` as a word (the shipped pattern
/// pads it: `INFO `, `ERROR`).
pub fn has_level(line: &str, level: &str) -> bool {
    line.split_whitespace().any(|w| w == level)
}
