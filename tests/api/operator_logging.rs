//! Logging as an operator sees it, with the real binary and the shipped
//! log4rs.yaml: levels per environment, live edits, rotation, the JSON
//! encoder, broken files, and request ids in the access and audit lines.

use std::time::{Duration, Instant};

use crate::binary::{Tessera, dev_config, has_level, prod_setup, run, shipped_log4rs};
use crate::redis_server::RedisServer;

const MAIN: &str = "logs/tessera.log";
const AUDIT: &str = "logs/audit.log";

/// Replaces exactly one occurrence of `from` (the test fails if the shipped
/// file no longer has it).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "`{from}` in log4rs.yaml");
    text.replace(from, to)
}

#[test]
fn dev_logs_info_to_the_console_and_the_rolling_file() {
    let t = Tessera::start(dev_config, &shipped_log4rs(), &[]);
    t.get("/healthz", &[("X-Request-Id", "dev-info-1")])
        .unwrap();
    for file in ["stdout.log", MAIN] {
        t.wait_for_line(file, "the start-up INFO line", |l| {
            has_level(l, "INFO") && l.contains("tessera listening on port")
        });
        t.wait_for_line(file, "the access line", |l| {
            has_level(l, "INFO") && l.contains("request_id=dev-info-1 GET /healthz 200")
        });
    }
}

#[test]
fn the_request_id_is_in_the_access_line_and_the_audit_line() {
    let t = Tessera::start(dev_config, &shipped_log4rs(), &[]);
    let rid = "trace-4b1d-0001";
    assert_eq!(t.issue("user-7", rid), 200);
    t.wait_for_line(MAIN, "the access line", |l| {
        l.contains(&format!("request_id={rid} POST /token/issue 200"))
    });
    let audit = t.wait_for_line(AUDIT, "the token_issued event", |l| {
        l.contains("token_issued")
    });
    let event: serde_json::Value = serde_json::from_str(&audit).expect("audit line is JSON");
    assert_eq!(event["request_id"], rid, "{audit}");
    assert_eq!(event["sub"], "user-7");
}

#[test]
fn prod_logs_errors_but_not_info() {
    let redis = RedisServer::start();
    let (dir, config) = prod_setup(redis.url());
    let t = Tessera::start_in(dir, config, &shipped_log4rs(), &[("TESSERA_ENV", "prod")]);
    assert_eq!(t.get("/readyz", &[]).unwrap().0, 200);
    // A client's malformed request is its mistake: 400, and no ERROR line.
    let (status, _, _) = t.get("/healthz", &[("X-Bad Name", "v")]).unwrap();
    assert_eq!(status, 400);
    redis.stop();
    let (status, _, _) = t
        .get("/readyz", &[("X-Request-Id", "prod-down-1")])
        .unwrap();
    assert_eq!(status, 503);
    for file in ["stdout.log", MAIN] {
        let line = t.wait_for_line(file, "an ERROR line", |l| has_level(l, "ERROR"));
        assert!(line.contains("request_id=prod-down-1"), "{line}");
        let text = t.read(file);
        let errors = text.lines().filter(|l| has_level(l, "ERROR")).count();
        assert_eq!(errors, 1, "only the 503 is an error:\n{text}");
        for level in ["INFO", "WARN", "DEBUG"] {
            assert!(
                !text.lines().any(|l| has_level(l, level)),
                "{level} line in {file} in prod:\n{text}"
            );
        }
    }
}

#[test]
fn editing_log4rs_yaml_changes_the_level_within_the_refresh_interval() {
    let shipped = shipped_log4rs();
    assert!(shipped.contains("refresh_rate: 5 seconds"));
    let t = Tessera::start(dev_config, &shipped, &[]);
    t.get("/healthz", &[("X-Request-Id", "before-edit")])
        .unwrap();
    t.wait_for_line(MAIN, "the access line", |l| {
        l.contains("request_id=before-edit")
    });

    let quiet = edit(
        &shipped,
        "  dev:\n    root:\n      level: info",
        "  dev:\n    root:\n      level: warn",
    );
    std::fs::write(t.path("log4rs.yaml"), quiet).unwrap();
    let edited = Instant::now();
    let mut n = 0;
    let took = loop {
        n += 1;
        let rid = format!("after-edit-{n}");
        t.get("/healthz", &[("X-Request-Id", &rid)]).unwrap();
        // The access line is written before the response is sent.
        if !t.read(MAIN).contains(&format!("request_id={rid} ")) {
            break edited.elapsed();
        }
        assert!(
            edited.elapsed() < Duration::from_secs(5 + 5),
            "INFO access lines still written {:?} after the edit",
            edited.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    println!("log level edit took effect after {took:?} (refresh_rate 5 s)");
    t.wait_for_line(MAIN, "the reload notice", |l| {
        has_level(l, "WARN") && l.contains("logging configuration reloaded")
    });
}

#[test]
fn a_broken_edit_keeps_the_last_good_configuration_and_says_why() {
    // The last good configuration logs dev at DEBUG, which no default
    // does: a fallback to any INFO default would lose the DEBUG line below.
    let shipped = edit(
        &edit(
            &shipped_log4rs(),
            "refresh_rate: 5 seconds",
            "refresh_rate: 1 second",
        ),
        "  dev:\n    root:\n      level: info",
        "  dev:\n    root:\n      level: debug",
    );
    let t = Tessera::start(dev_config, &shipped, &[]);
    std::fs::write(t.path("log4rs.yaml"), "root: [\n  level: info\n").unwrap();
    let line = t.wait_for_line(MAIN, "the ERROR about the broken file", |l| {
        has_level(l, "ERROR") && l.contains("invalid YAML")
    });
    assert!(line.contains("log4rs.yaml"), "names the file: {line}");
    assert!(
        line.contains("keeping the last good configuration"),
        "{line}"
    );
    t.get("/healthz", &[("X-Request-Id", "still-info")])
        .unwrap();
    t.wait_for_line(MAIN, "an INFO access line after the broken edit", |l| {
        has_level(l, "INFO") && l.contains("request_id=still-info")
    });
    // A client mistake's cause is logged at DEBUG: still written.
    t.get("/token/verify", &[("X-Request-Id", "still-debug")])
        .unwrap();
    t.wait_for_line(MAIN, "a DEBUG line after the broken edit", |l| {
        has_level(l, "DEBUG") && l.contains("request_id=still-debug")
    });
}

#[test]
fn the_main_log_rolls_at_its_size_and_keeps_the_configured_archives() {
    let tiny = edit(
        &shipped_log4rs(),
        "          limit: 100 mb\n        roller:\n          kind: fixed_window\n          pattern: \"logs/tessera.{}.log\"\n          base: 1\n          count: 10",
        "          limit: 2 kb\n        roller:\n          kind: fixed_window\n          pattern: \"logs/tessera.{}.log\"\n          base: 1\n          count: 3",
    );
    let t = Tessera::start(dev_config, &tiny, &[]);
    // ~120 bytes per access line: 200 requests write ~24 kB, 12 rolls.
    for i in 0..200 {
        t.get("/healthz", &[("X-Request-Id", &format!("roll-{i:04}"))])
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !t.path("logs/tessera.3.log").exists() {
        assert!(Instant::now() < deadline, "no third archive");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The buffered appender writes in batches: a batch that crossed the
    // limit rolls the file, and the next batch starts a new `tessera.log`.
    // Lines still queued may roll it again at any moment, so one short line
    // at a time until the directory holds the current file and exactly the
    // configured archives (a fourth archive, or no current file, never
    // gets there).
    let expected = [
        "tessera.1.log",
        "tessera.2.log",
        "tessera.3.log",
        "tessera.log",
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut names: Vec<String> = Vec::new();
    for i in 0.. {
        names = std::fs::read_dir(t.path("logs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("tessera"))
            .collect();
        names.sort();
        if names == expected || Instant::now() >= deadline {
            break;
        }
        t.get("/healthz", &[("X-Request-Id", &format!("last-{i}"))])
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(names, expected, "archives kept");
    for name in &names {
        let size = std::fs::metadata(t.path(&format!("logs/{name}")))
            .unwrap()
            .len();
        // The size trigger fires after the write that crosses the limit;
        // the buffered appender writes a batch of lines (≤ 64 KiB and one
        // line) at a time.
        assert!(size <= 2048 + 64 * 1024 + 512, "{name} is {size} bytes");
    }
    assert!(
        t.read("logs/tessera.1.log").contains("request_id=roll-"),
        "archives hold the rolled lines"
    );
}

#[test]
fn the_main_log_can_be_json_lines() {
    let shipped = shipped_log4rs();
    let file_at = shipped.find("  file:\n").expect("file appender");
    let (head, tail) = shipped.split_at(file_at);
    let pattern = "      pattern: \"{d(%Y-%m-%dT%H:%M:%S%.3fZ)(utc)} {l:<5} {t} - {m}{n}\"";
    let json = format!("{head}{}", tail.replacen(pattern, "      kind: json", 1));
    let t = Tessera::start(dev_config, &json, &[]);
    t.get("/healthz", &[("X-Request-Id", "json-1")]).unwrap();
    let line = t.wait_for_line(MAIN, "the access line", |l| l.contains("request_id=json-1"));
    let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON object per line");
    assert_eq!(v["level"], "INFO", "{line}");
    assert_eq!(v["target"], "tessera::access", "{line}");
    assert!(v["message"].as_str().unwrap().contains("GET /healthz 200"));
    assert!(v["time"].is_string(), "{line}");
    // The console keeps its pattern.
    t.wait_for_line("stdout.log", "a pattern line", |l| {
        l.contains("request_id=json-1") && !l.starts_with('{')
    });
}

#[test]
fn a_broken_log4rs_yaml_at_start_up_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        dev_config(crate::binary::free_port()),
    )
    .unwrap();
    for (why, text) in [
        ("bad YAML", "root: [\n"),
        (
            "unknown appender kind",
            "appenders:\n  x:\n    kind: nope\nroot:\n  appenders: [x]\n",
        ),
    ] {
        std::fs::write(dir.path().join("log4rs.yaml"), text).unwrap();
        let started = Instant::now();
        let out = run(dir.path(), &["serve", "--config", "config.yaml"], &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{why}: started anyway");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{why}: slow to fail"
        );
        assert!(
            stderr.contains("log4rs.yaml"),
            "{why}: does not name the file: {stderr}"
        );
    }
    std::fs::remove_file(dir.path().join("log4rs.yaml")).unwrap();
    let out = run(dir.path(), &["serve", "--config", "config.yaml"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("log4rs.yaml"),
        "missing file: {stderr}"
    );
}
