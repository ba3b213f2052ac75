//! A real Prometheus (Debian's `prometheus`, installed by scripts/test.sh)
//! scraping a Tessera on a private redis-server through its admin listener,
//! every second, with the repository's `deploy/prometheus/rules.yml` and
//! its real `for:` durations. Every query of `deploy/grafana/tessera.json`
//! runs against it (a parse error fails; the core panels must return data);
//! then the redis-server is killed and the `TesseraRedisUnavailable` alert
//! must go pending, then firing, seen through `/api/v1/alerts`. The timings
//! are printed (`--nocapture`); docs/deploy.md quotes a committed run.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{Backend, TestApp, loopback_command};
use crate::redis_server::free_port;

/// Scrape and rule evaluation interval.
const INTERVAL: &str = "1s";

/// Panels whose queries must return data after a little traffic.
const CORE_PANELS: &[&str] = &[
    "Request rate by route and status",
    "Verify outcomes",
    "Verify latency p50 / p99",
    "Redis up (per instance)",
    "Process memory",
    "Process CPU",
    "Open file descriptors",
];

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A Prometheus in its own temp dir on a free loopback port; killed on drop.
struct Prometheus {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
    api: reqwest::Client,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (host:port) as job `tessera`;
    /// panics (the test fails) when the binary is missing.
    async fn start(target: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = repo_file("deploy/prometheus/rules.yml");
        let config = format!(
            "global: {{ scrape_interval: {INTERVAL}, scrape_timeout: {INTERVAL}, evaluation_interval: {INTERVAL} }}\n\
             rule_files: [\"{}\"]\n\
             scrape_configs:\n  - job_name: tessera\n    static_configs: [{{ targets: [\"{target}\"] }}]\n",
            rules.display()
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = loopback_command("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect(
                "`prometheus` must be installed (scripts/test.sh installs Debian's prometheus)",
            );
        let api = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let mut p = Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
            api,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = p.api.get(format!("{}/-/ready", p.base)).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return p;
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("prometheus exited with {status}:\n{}", p.log());
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready:\n{}",
                p.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `/api/v1/query`: the result vector, or Prometheus's error text.
    async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let res = self
            .api
            .post(format!("{}/api/v1/query", self.base))
            .form(&[("query", expr)])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = res.json().await.map_err(|e| e.to_string())?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// The state (`pending`, `firing`) of alert `name`, if active.
    async fn alert_state(&self, name: &str) -> Option<String> {
        let body: Value = self
            .api
            .get(format!("{}/api/v1/alerts", self.base))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        body["data"]["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["labels"]["alertname"] == name)
            .and_then(|a| a["state"].as_str().map(str::to_owned))
    }
}

/// Every panel's (title, queries) of the dashboard, with `$job` as `tessera`.
fn dashboard_queries() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(repo_file("deploy/grafana/tessera.json")).unwrap();
    let dash: Value = serde_json::from_str(&text).expect("dashboard JSON");
    let panels = dash["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10, "{} panels", panels.len());
    panels
        .iter()
        .map(|p| {
            let exprs = p["targets"].as_array().expect("targets");
            let exprs = exprs
                .iter()
                .map(|t| t["expr"].as_str().expect("expr").replace("$job", "tessera"))
                .collect();
            (p["title"].as_str().expect("title").to_owned(), exprs)
        })
        .collect()
}

/// Some of each kind of traffic the core panels show.
async fn traffic(app: &TestApp) {
    for i in 0..5 {
        let token = app.access_token(&format!("prom-{i}")).await;
        assert_eq!(app.verify_get(&token).await.status(), 200);
        assert_eq!(app.verify_get("not-a-token").await.status(), 401);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_runs_the_dashboard_and_fires_the_redis_alert() {
    let app = TestApp::builder(Backend::Redis)
        .configure(|s| s.server.admin_listen = Some("127.0.0.1:0".into()))
        .spawn()
        .await;
    let admin = app.admin_address.clone().unwrap();
    let prom = Prometheus::start(admin.trim_start_matches("http://")).await;

    // Every panel's query parses; the core panels return data once a few
    // scrapes have seen traffic.
    let panels = dashboard_queries();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        traffic(&app).await;
        let mut empty = Vec::new();
        for (title, exprs) in &panels {
            for expr in exprs {
                let result = prom.query(expr).await;
                let result = result.unwrap_or_else(|e| panic!("panel {title:?}: {expr}: {e}"));
                if result.is_empty() && CORE_PANELS.contains(&title.as_str()) {
                    empty.push(format!("{title}: {expr}"));
                }
            }
        }
        if empty.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "core panels without data after 60 s:\n{}\n{}",
            empty.join("\n"),
            prom.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        prom.alert_state("TesseraRedisUnavailable").await,
        None,
        "alert active while Redis is up"
    );

    // Kill Redis: pending, then firing after the rule's `for: 30s`.
    let killed = Instant::now();
    app.redis().crash();
    let (mut pending, mut firing) = (None, None);
    let deadline = killed + Duration::from_secs(90);
    while firing.is_none() {
        match prom.alert_state("TesseraRedisUnavailable").await.as_deref() {
            Some("pending") if pending.is_none() => pending = Some(killed.elapsed()),
            Some("firing") => firing = Some(killed.elapsed()),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "TesseraRedisUnavailable not firing 90 s after Redis was killed (pending at {pending:?})\n{}",
            prom.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pending = pending.expect("the alert was seen pending before firing");
    let firing = firing.unwrap();
    println!(
        "prometheus alert timings (scrape and evaluation every {INTERVAL}, for: 30s): \
         Redis killed -> TesseraRedisUnavailable pending {:.1} s -> firing {:.1} s",
        pending.as_secs_f64(),
        firing.as_secs_f64()
    );
    assert!(
        firing >= pending + Duration::from_secs(29),
        "firing {firing:?} too soon after pending {pending:?} for `for: 30s`"
    );
}
