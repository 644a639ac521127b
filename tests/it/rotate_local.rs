//! `cargo xtask rotate --local` against a real `cargo xtask dev`: the new password is printed once on stdout
//! and accepted within the authorizer's 10 s recheck, the previous one is accepted until its grace period
//! (counted from the rotation) has run out, and `--revoke-previous` ends it before that. The same rules as on
//! AWS (`authorizer_moto.rs`), because the local gateway runs the same `Authorizer` over the credentials file.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sluice_tests::{DevProcess, workspace_root, xtask_bin};

/// The shipped pipeline with another grace period and no API Gateway result cache, in `dir`.
fn config(dir: &Path, grace_seconds: u32) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(workspace_root().join("pipeline.toml")).unwrap();
    let mut text = String::new();
    for line in shipped.lines() {
        if line.starts_with("previous_password_grace_seconds") {
            text.push_str(&format!(
                "previous_password_grace_seconds = {grace_seconds}\n"
            ));
        } else if line.starts_with("cache_ttl_seconds") {
            text.push_str("cache_ttl_seconds = 0\n");
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    assert!(text.contains(&format!(
        "previous_password_grace_seconds = {grace_seconds}\n"
    )));
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `xtask rotate --local [extra…]`: (success, stdout, stderr).
fn rotate(config: &Path, state: &Path, extra: &[&str]) -> (bool, String, String) {
    let out = Command::new(xtask_bin())
        .arg("rotate")
        .arg("--config")
        .arg(config)
        .arg("--local")
        .arg("--state-dir")
        .arg(state)
        .args(extra)
        .output()
        .expect("run xtask rotate");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// miette's report as one line: its wrapping (and its gutter) removed.
fn unwrapped(report: &str) -> String {
    report
        .split_whitespace()
        .filter(|w| !w.chars().all(|c| "│×╰─▶".contains(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The status of one authenticated POST to the shipped route.
async fn status(client: &reqwest::Client, port: u16, user: &str, pass: &str) -> u16 {
    client
        .post(format!(
            "http://127.0.0.1:{port}/prod/submit/GatewayEventsStream/rotate-{}",
            std::process::id()
        ))
        .basic_auth(user, Some(pass))
        .header("content-type", "application/json")
        .body(r#"{"message":"rotation"}"#)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

/// Polls until `pass` gets `want` or `within` has passed; returns when it did.
async fn wait_for(
    client: &reqwest::Client,
    port: u16,
    pass: &str,
    want: u16,
    within: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if status(client, port, "alice", pass).await == want {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

fn new_password(ok: bool, stdout: &str, stderr: &str) -> String {
    assert!(ok, "rotate failed: {stderr}");
    let password = stdout.trim().to_owned();
    assert_eq!(
        stdout.lines().count(),
        1,
        "only the password on stdout: {stdout:?}"
    );
    assert_eq!(password.len(), 32, "{stdout:?}");
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(!stderr.contains(&password), "the password is not on stderr");
    password
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_password_works_until_its_grace_period_ends() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = config(dir.path(), 4);
    let dev = DevProcess::start(&config, &state, Some("alice:first-password"));
    let client = reqwest::Client::new();
    assert_eq!(
        status(&client, dev.port, "alice", "first-password").await,
        200
    );

    let (ok, stdout, stderr) = rotate(&config, &state, &[]);
    let rotated_at = Instant::now();
    let second = new_password(ok, &stdout, &stderr);
    assert!(stderr.contains("accepted for 4 s more"), "{stderr}");
    let file = std::fs::read_to_string(state.join("credentials.json")).unwrap();
    assert!(file.contains("\"previous\""), "{file}");

    // The old password still works; the new one within the 10 s recheck.
    assert_eq!(
        status(&client, dev.port, "alice", "first-password").await,
        200
    );
    assert!(
        wait_for(&client, dev.port, &second, 200, Duration::from_secs(15))
            .await
            .is_some(),
        "the new password was not accepted within 15 s"
    );
    // The old one is refused once the 4 s grace is over (and the credentials re-read, within 10 s).
    let refused = wait_for(
        &client,
        dev.port,
        "first-password",
        403,
        Duration::from_secs(20),
    )
    .await
    .expect("the old password was still accepted 20 s after its grace period began");
    assert!(
        rotated_at.elapsed() >= Duration::from_secs(3),
        "refused before its grace period ended ({refused:?})"
    );
    assert_eq!(status(&client, dev.port, "alice", &second).await, 200);
    assert_eq!(status(&client, dev.port, "alice", "wrong").await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_ends_the_previous_password_before_its_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = config(dir.path(), 3600);

    // Nothing to rotate before `dev` has created the credentials: a clear error.
    let (ok, stdout, stderr) = rotate(&config, &state, &[]);
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(
        unwrapped(&stderr).contains("there are no local credentials to rotate"),
        "{stderr}"
    );

    let dev = DevProcess::start(&config, &state, Some("alice:first-password"));
    let client = reqwest::Client::new();
    let (ok, stdout, stderr) = rotate(&config, &state, &[]);
    let second = new_password(ok, &stdout, &stderr);
    assert!(
        wait_for(&client, dev.port, &second, 200, Duration::from_secs(15))
            .await
            .is_some(),
        "the new password was not accepted within 15 s"
    );
    assert_eq!(
        status(&client, dev.port, "alice", "first-password").await,
        200,
        "in its hour of grace"
    );

    let (ok, stdout, stderr) = rotate(&config, &state, &["--revoke-previous"]);
    assert!(ok && stdout.is_empty(), "{stdout} {stderr}");
    assert!(
        stderr.contains("revoked the previous local password"),
        "{stderr}"
    );
    assert!(
        wait_for(
            &client,
            dev.port,
            "first-password",
            403,
            Duration::from_secs(15)
        )
        .await
        .is_some(),
        "the revoked password was still accepted 15 s later"
    );
    assert_eq!(status(&client, dev.port, "alice", &second).await, 200);

    let (ok, _, stderr) = rotate(&config, &state, &["--revoke-previous"]);
    assert!(ok && stderr.contains("nothing to revoke"), "{stderr}");

    // On AWS Terraform rotates: `rotate` without --local or --revoke-previous says so.
    let out = Command::new(xtask_bin())
        .args(["rotate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("password_version"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
