//! The real `tessera serve` binary as a child process, in a temp directory
//! with its own config.yaml and log4rs.yaml; console output goes to a file.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Tessera {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

/// A log4rs file writing console (stdout), `logs/tessera.log` and
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

impl Tessera {
    /// Writes `config` (YAML; `{dir}` is replaced by the temp directory)
    /// and a log4rs file, starts `tessera serve`, and waits for its
    /// "listening on port N" line.
    pub fn start(config: &str, log_level: &str) -> Tessera {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let config = config.replace("{dir}", &root.display().to_string());
        std::fs::write(root.join("config.yaml"), config).unwrap();
        std::fs::write(root.join("log4rs.yaml"), log4rs_yaml(log_level)).unwrap();
        let stdout = std::fs::File::create(root.join("console.out")).unwrap();
        let stderr = std::fs::File::create(root.join("console.err")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["serve", "--config", "config.yaml"])
            .current_dir(root)
            .env_clear()
            .env("TESSERA_ENV", "dev")
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("run the tessera binary");
        let mut t = Tessera {
            child,
            port: 0,
            dir,
        };
        t.port = t.wait_for_port();
        t
    }

    fn wait_for_port(&mut self) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(20);
        let out = self.path("console.out");
        loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            if let Some(port) = text
                .split("listening on port ")
                .nth(1)
                .and_then(|rest| rest.split(' ').next())
                .and_then(|p| p.parse().ok())
            {
                return port;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "tessera exited ({status}) before listening:\n{}\n{}",
                    text,
                    std::fs::read_to_string(self.path("console.err")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "tessera did not start:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Sends SIGTERM with the `kill` command (no `unsafe` here).
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<(ExitStatus, Duration)> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some((status, started.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Tessera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stops a child with SIGTERM, waiting up to 5 s, then SIGKILL.
pub fn terminate(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
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
            .all(|p| std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok())
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
