//! `server.admin_listen`: health and metrics on a second listener, `/metrics`
//! gone from the public one; unset, everything stays on the public port.
//! The process metrics (`process_*`) on that scrape. The real binary:
//! `tessera healthcheck --url` against the admin port, and SIGTERM stopping
//! both listeners.

use std::time::{Duration, Instant};

use prometheus_parse::{Scrape, Value as Prom};

use crate::binary::{Tessera, dev_config, free_port, run, shipped_log4rs};
use crate::helpers::{Backend, TestApp, assert_error, spawn_app};

async fn with_admin_listener() -> TestApp {
    TestApp::builder(Backend::Memory)
        .configure(|s| s.server.admin_listen = Some("127.0.0.1:0".into()))
        .spawn()
        .await
}

async fn get(app: &TestApp, base: &str, path: &str) -> reqwest::Response {
    app.api
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn admin_listener_serves_health_and_metrics_and_the_public_one_no_metrics() {
    let app = with_admin_listener().await;
    let admin = app.admin_address.clone().expect("an admin listener");
    assert_ne!(admin, app.address);
    for path in ["/healthz", "/readyz", "/metrics"] {
        assert_eq!(get(&app, &admin, path).await.status(), 200, "admin {path}");
    }
    let text = get(&app, &admin, "/metrics").await.text().await.unwrap();
    assert!(text.contains("tessera_build_info"), "{text}");
    assert_error(app.get("/metrics").await, 404, "not_found").await;
    for path in ["/healthz", "/readyz"] {
        assert_eq!(app.get(path).await.status(), 200, "public {path}");
    }
    // The admin listener serves nothing else.
    for path in ["/token/issue", "/openapi.json", "/.well-known/jwks.json"] {
        assert_error(get(&app, &admin, path).await, 404, "not_found").await;
    }
    let res = app
        .api
        .post(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_error(res, 405, "method_not_allowed").await;
    // The public API still works, and its requests show on the admin scrape.
    let token = app.access_token("admin-l1").await;
    assert_eq!(app.verify_get(&token).await.status(), 200);
    let text = get(&app, &admin, "/metrics").await.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("tessera_http_requests_total")
                && l.contains("route=\"/token/verify\"")
                && l.contains("status=\"200\"")),
        "{text}"
    );
    // A graceful stop of the app stops the admin listener too.
    app.stop().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.api.get(format!("{admin}/healthz")).send().await.is_ok() {
        assert!(Instant::now() < deadline, "admin listener still answers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn without_admin_listen_metrics_stay_on_the_public_port() {
    let app = spawn_app(Backend::Memory).await;
    assert!(app.admin_address.is_none());
    assert_eq!(app.get("/metrics").await.status(), 200);
}

/// One sample's value (gauge or counter) from a scrape of `base`.
async fn sample(app: &TestApp, base: &str, name: &str) -> f64 {
    let text = get(app, base, "/metrics").await.text().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text");
    let found = scrape.samples.iter().find(|s| s.metric == name);
    match found.map(|s| &s.value) {
        Some(Prom::Gauge(v) | Prom::Counter(v) | Prom::Untyped(v)) => *v,
        other => panic!("{name}: {other:?} in\n{text}"),
    }
}

#[tokio::test]
async fn process_metrics_are_present_and_plausible() {
    let app = with_admin_listener().await;
    let admin = app.admin_address.clone().unwrap();
    let rss = sample(&app, &admin, "process_resident_memory_bytes").await;
    let vsz = sample(&app, &admin, "process_virtual_memory_bytes").await;
    let fds = sample(&app, &admin, "process_open_fds").await;
    let max_fds = sample(&app, &admin, "process_max_fds").await;
    let threads = sample(&app, &admin, "process_threads").await;
    let start = sample(&app, &admin, "process_start_time_seconds").await;
    assert!(rss > 1e6, "RSS {rss} bytes");
    assert!(vsz >= rss, "virtual {vsz} < resident {rss}");
    assert!(fds > 0.0 && max_fds >= fds, "fds {fds} of {max_fds}");
    assert!(threads >= 2.0, "threads {threads}");
    #[allow(clippy::cast_precision_loss)]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64;
    assert!(
        start <= now + 1.0 && start > now - 3600.0,
        "start {start}, now {now}"
    );
    // CPU time grows with work (signing tokens), within 20 s.
    let cpu0 = sample(&app, &admin, "process_cpu_seconds_total").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        for i in 0..20 {
            app.access_token(&format!("cpu-{i}")).await;
        }
        let cpu = sample(&app, &admin, "process_cpu_seconds_total").await;
        if cpu > cpu0 {
            println!("process_cpu_seconds_total {cpu0} -> {cpu}");
            break;
        }
        assert!(Instant::now() < deadline, "CPU seconds stuck at {cpu0}");
    }
}

/// The binary with an admin listener: `healthcheck --url` probes the admin
/// port (the public port answers too), and SIGTERM closes both listeners.
#[test]
fn binary_healthcheck_on_the_admin_port_and_sigterm_stops_both() {
    let admin_port = free_port();
    let mut t = Tessera::start(
        |port| {
            dev_config(port).replace(
                "workers: 1 }",
                &format!("workers: 1, admin_listen: \"127.0.0.1:{admin_port}\" }}"),
            )
        },
        &shipped_log4rs(),
        &[],
    );
    let admin = format!("http://127.0.0.1:{admin_port}");
    for (args, want) in [
        (vec!["healthcheck", "--url", admin.as_str()], true),
        (vec!["healthcheck", "--url", admin.as_str(), "--live"], true),
        (vec!["healthcheck", "--config", "config.yaml"], true),
    ] {
        let out = run(t.dir.path(), &args, &[]);
        assert_eq!(out.status.success(), want, "{args:?}: {out:?}");
    }
    assert_eq!(t.get("/metrics", &[]).unwrap().0, 404);
    t.terminate();
    let (status, took) = t.wait_exit(Duration::from_secs(15)).expect("exits");
    assert!(status.success(), "exit {status:?} after {took:?}");
    let out = run(t.dir.path(), &["healthcheck", "--url", &admin], &[]);
    assert!(!out.status.success(), "admin port still answers: {out:?}");
}
