//! `cargo xtask dev`'s terminal: one line per request at info (method, path, status, error code, duration,
//! request id), never a credential; `--quiet` leaves those lines out.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use sluice_tests::{free_port, workspace_root, xtask_bin};

const PASSWORD: &str = "log-test-secret-7Q";

/// Runs `xtask dev` (no `RUST_LOG`), sends a stored event, a wrong password and an unknown path, stops it
/// with SIGTERM and returns what it wrote to stderr.
async fn dev_stderr(extra: &[&str]) -> String {
    tokio::task::spawn_blocking(xtask_bin).await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(xtask_bin())
        .arg("dev")
        .args(extra)
        .arg("--config")
        .arg(workspace_root().join("pipeline.toml"))
        .args(["--port", &port.to_string(), "--state-dir"])
        .arg(state.path())
        .args(["--credentials", &format!("log:{PASSWORD}")])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn xtask dev");
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/prod");
    let post = |path: &str, password: &str| {
        client
            .post(format!("{base}{path}"))
            .basic_auth("log", Some(password))
            .header("content-type", "application/json")
            .body(r#"{"message":"hello"}"#)
            .send()
    };
    let mut up = false;
    for _ in 0..600 {
        if post("/submit/GatewayEventsStream/log-ok", PASSWORD)
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let denied = post(
        "/submit/GatewayEventsStream/log-denied",
        "wrong-password-9Z",
    )
    .await
    .unwrap();
    assert_eq!(denied.status(), 403);
    let missing = post("/nowhere", PASSWORD).await.unwrap();
    assert_eq!(missing.status(), 404);
    // SIGTERM: a clean stop flushes the log.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut pipe = child.stderr.take().unwrap();
    let stderr = tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).unwrap();
        let _ = child.wait();
        text
    })
    .await
    .unwrap();
    assert!(up, "xtask dev never answered 200:\n{stderr}");
    stderr
}

#[tokio::test]
async fn every_request_is_one_info_line_without_credentials() {
    let log = dev_stderr(&[]).await;
    let request_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("sluice::request"))
        .collect();
    let has = |needle: &str| request_lines.iter().any(|l| l.contains(needle));
    assert!(
        has("POST /prod/submit/GatewayEventsStream/log-ok → 200 in "),
        "{log}"
    );
    assert!(
        has("POST /prod/submit/GatewayEventsStream/log-denied → 403 AccessDenied in "),
        "{log}"
    );
    assert!(has("POST /prod/nowhere → 404 NotFound in "), "{log}");
    assert!(
        request_lines
            .iter()
            .all(|l| l.contains(" ms (request ") && l.contains("INFO")),
        "{log}"
    );
    for secret in [PASSWORD, "wrong-password-9Z", "Basic "] {
        assert!(!log.contains(secret), "{secret:?} is in the log:\n{log}");
    }
}

#[tokio::test]
async fn quiet_leaves_out_the_request_lines() {
    let log = dev_stderr(&["--quiet"]).await;
    assert!(!log.contains("sluice::request"), "{log}");
}
