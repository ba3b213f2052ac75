//! The buffered appender (`kind: buffered`, src/ops/buffered_log.rs) with
//! the real binary and the shipped log4rs.yaml: a SIGTERM under load loses
//! no access line, the synchronous audit appender has an event in the file
//! before the answer (a SIGKILL right after the answer keeps it), and a
//! reload ends the writer threads of the replaced appenders.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::binary::{Tessera, app_basic, command, dev_config, free_port, shipped_log4rs};

const MAIN: &str = "logs/tessera.log";
const AUDIT: &str = "logs/audit.log";

/// The request ids of the access lines in `text`.
fn access_ids(text: &str) -> HashSet<String> {
    text.lines()
        .filter(|l| l.contains(" tessera::access "))
        .filter_map(|l| l.split("request_id=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// `tessera serve` in `dir` with its stdout on a pipe; the port.
fn serve_with_piped_stdout(dir: &std::path::Path) -> (Child, u16) {
    let port = free_port();
    std::fs::write(dir.join("config.yaml"), dev_config(port)).unwrap();
    std::fs::write(dir.join("log4rs.yaml"), shipped_log4rs()).unwrap();
    let child = command(dir)
        .args(["serve", "--config", "config.yaml"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tessera");
    (child, port)
}

#[test]
fn a_sigterm_under_load_loses_no_access_line() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = serve_with_piped_stdout(dir.path());
    // Nothing reads stdout until 1 s after the SIGTERM: the pipe fills and
    // the console's writer falls behind, so lines are still queued when the
    // server stops, and only the shutdown's flush writes them.
    let mut stdout = child.stdout.take().unwrap();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let _ = wait.recv();
        // Start reading only after the server has stopped serving: the
        // stop must wait (flush) for the writer, not race it.
        std::thread::sleep(Duration::from_secs(1));
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let get = |id: &str| {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let req = format!(
            "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Request-Id: {id}\r\n\r\n"
        );
        s.write_all(req.as_bytes())?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)?;
        Ok::<bool, std::io::Error>(answer.starts_with("HTTP/1.1 200"))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !matches!(get("ready"), Ok(true)) {
        assert!(Instant::now() < deadline, "tessera did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stop = AtomicBool::new(false);
    let answered: Vec<String> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..16)
            .map(|c| {
                let (get, stop) = (&get, &stop);
                s.spawn(move || {
                    let mut ok = Vec::new();
                    for i in 0.. {
                        let id = format!("term-{c}-{i}");
                        match get(&id) {
                            Ok(true) => ok.push(id),
                            // Refused or cut: the server has stopped accepting.
                            Ok(_) | Err(_) if stop.load(Ordering::Relaxed) => break,
                            other => panic!("{id} before the SIGTERM: {other:?}"),
                        }
                    }
                    ok
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::Relaxed);
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    go.send(()).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let console = reader.join().unwrap();
    assert!(answered.len() > 50, "only {} answers", answered.len());
    let file = std::fs::read_to_string(dir.path().join(MAIN)).unwrap();
    for (name, text) in [(MAIN, &file), ("stdout", &console)] {
        let logged = access_ids(text);
        let missing: Vec<&String> = answered.iter().filter(|id| !logged.contains(*id)).collect();
        assert!(
            missing.is_empty(),
            "{name}: {} of {} answered requests have no access line, e.g. {:?}",
            missing.len(),
            answered.len(),
            &missing[..missing.len().min(5)]
        );
        let last = text.lines().last().unwrap_or_default();
        assert!(
            last.contains("tessera stopped"),
            "{name} ends with the stop line, not {last:?}"
        );
    }
}

/// Issues a token as `app` for `sub`; its access token.
fn issue(t: &Tessera, sub: &str, request_id: &str) -> String {
    let auth = app_basic();
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("X-Request-Id", request_id),
    ];
    let body = format!(r#"{{"sub":"{sub}"}}"#);
    let (status, _, body) = t.request("POST", "/token/issue", &headers, &body).unwrap();
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// The audit event `event` of request `rid` in the audit file, if any.
fn audit_event(t: &Tessera, event: &str, rid: &str) -> bool {
    t.read(AUDIT).lines().any(|l| {
        serde_json::from_str::<serde_json::Value>(l)
            .is_ok_and(|v| v["event"] == event && v["request_id"] == rid)
    })
}

#[test]
fn an_audit_event_is_in_the_file_before_the_answer_even_if_the_process_dies() {
    // Issue, then SIGKILL at once: no shutdown path runs.
    let mut t = Tessera::start(dev_config, &shipped_log4rs(), &[]);
    issue(&t, "crash-1", "crash-issue");
    t.kill_now();
    assert!(
        audit_event(&t, "token_issued", "crash-issue"),
        "no token_issued event after SIGKILL:\n{}",
        t.read(AUDIT)
    );

    // Revoke, then SIGKILL at once.
    let mut t = Tessera::start(dev_config, &shipped_log4rs(), &[]);
    let token = issue(&t, "crash-2", "crash-issue-2");
    let auth = app_basic();
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("X-Request-Id", "crash-revoke"),
    ];
    let body = format!(r#"{{"token":"{token}"}}"#);
    let (status, _, _) = t.request("POST", "/token/revoke", &headers, &body).unwrap();
    t.kill_now();
    assert_eq!(status, 200);
    assert!(
        audit_event(&t, "token_revoked", "crash-revoke"),
        "no token_revoked event after SIGKILL:\n{}",
        t.read(AUDIT)
    );
}

/// The threads of `pid` named `log-writer`.
fn writer_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
        .filter(|name| name.trim() == "log-writer")
        .count()
}

#[test]
fn a_reload_ends_the_writers_of_the_replaced_appenders() {
    let fast = shipped_log4rs().replace("refresh_rate: 5 seconds", "refresh_rate: 1 second");
    let t = Tessera::start(dev_config, &fast, &[]);
    // console and file: one writer each.
    assert_eq!(writer_threads(t.pid()), 2);
    for round in 0..3 {
        let edited = format!("{fast}\n# edit {round}\n");
        std::fs::write(t.path("log4rs.yaml"), edited).unwrap();
        let rid = format!("after-reload-{round}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while t
            .read(MAIN)
            .matches("logging configuration reloaded")
            .count()
            <= round
        {
            assert!(Instant::now() < deadline, "no reload {round}");
            std::thread::sleep(Duration::from_millis(50));
        }
        t.get("/healthz", &[("X-Request-Id", &rid)]).unwrap();
        t.wait_for_line(MAIN, "the access line after the reload", |l| {
            l.contains(&format!("request_id={rid} "))
        });
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while writer_threads(t.pid()) != 2 {
        assert!(
            Instant::now() < deadline,
            "{} log-writer threads after 3 reloads",
            writer_threads(t.pid())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
