//! The real `xtask dev` binary under faults that need processes: a second `dev` on a state dir in use, and a
//! WAL removed after `kill -9`. After each, every event answered 200 is in the table exactly once. (The
//! in-process faults — a damaged file, a full disk, a rolled-back file — are in
//! `crates/local/tests/it/faults.rs`.)

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::dev_common::*;
use serde_json::Value;
use sluice_tests::{free_port, spawn_dev_with, workspace_root, xtask_bin};

fn start_dev(state_dir: &Path, port: u16) -> Child {
    spawn_dev_with(
        &workspace_root().join("pipeline.toml"),
        state_dir,
        port,
        Some(&format!("{USER}:{PASS}")),
        &["--unlimited"],
    )
}

/// Runs `xtask dev` expecting it to refuse to start: answers its exit status's success and its stderr.
fn refused_dev(state_dir: &Path, port: u16) -> (bool, String) {
    let err = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(xtask_bin())
        .args(["dev", "--unlimited", "--config"])
        .arg(workspace_root().join("pipeline.toml"))
        .args(["--port", &port.to_string(), "--state-dir"])
        .arg(state_dir)
        .args(["--credentials", &format!("{USER}:{PASS}")])
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err.reopen().unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "xtask dev did not refuse within 60 s: {}",
                std::fs::read_to_string(err.path()).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // miette wraps its report to the terminal's width: one line of words, for matching.
    let text = std::fs::read_to_string(err.path())
        .unwrap()
        .replace('│', " ");
    (
        status.success(),
        text.split_whitespace().collect::<Vec<_>>().join(" "),
    )
}

fn sigterm(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("xtask dev did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Acknowledged events: id → sequence number.
type Acked = Arc<Mutex<BTreeMap<String, String>>>;

/// Sends events from 8 clients until `stop` or the server goes away; answers id → sequence number of those
/// answered 200.
fn load(base: String, prefix: &'static str) -> (Acked, Vec<tokio::task::JoinHandle<()>>) {
    let acked: Acked = Arc::default();
    let mut clients = Vec::new();
    for task in 0..8 {
        let (base, acked) = (base.clone(), acked.clone());
        clients.push(tokio::spawn(async move {
            let client = client();
            for i in 0.. {
                let id = format!("{prefix}-{task}-{i}");
                let response = client
                    .post(format!("{base}/prod/submit/GatewayEventsStream/{id}"))
                    .basic_auth(USER, Some(PASS))
                    .header("content-type", "application/json")
                    .body(format!(r#"{{"id":"{id}"}}"#))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status() == 200 => {
                        let reply: Value = r.json().await.unwrap_or_default();
                        let seq = reply["SequenceNumber"].as_str().unwrap_or_default();
                        acked.lock().unwrap().insert(id, seq.to_owned());
                    }
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    (acked, clients)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_dev_on_a_state_dir_in_use_is_refused_naming_the_first() {
    tokio::task::spawn_blocking(xtask_bin).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let first = start_dev(dir.path(), port);
    let first_pid = first.id();

    let other_port = free_port();
    let (ok, stderr) = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || refused_dev(&dir, other_port)
    })
    .await
    .unwrap();
    assert!(!ok, "the second dev exited 0: {stderr}");
    assert!(
        stderr.contains("in use by another `cargo xtask dev`")
            && stderr.contains(&format!("pid {first_pid}, port {port}")),
        "{stderr}"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", other_port)).is_err(),
        "the refused dev listens"
    );

    // The first serves on, alone.
    let base = format!("http://127.0.0.1:{port}");
    let (acked, clients) = load(base, "two");
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sigterm(first);
    for client in clients {
        client.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 200, "only {} acknowledged", acked.len());

    // Once it stopped, the state dir is free.
    let second = start_dev(dir.path(), other_port);
    all_acknowledged_present_once(dir.path(), &acked).await;
    sigterm(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wal_removed_after_kill_9_is_refused_with_the_figures() {
    tokio::task::spawn_blocking(xtask_bin).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = start_dev(dir.path(), port);
    let (acked, clients) = load(format!("http://127.0.0.1:{port}"), "wal");
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < 2000 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    for client in clients {
        client.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();

    let wal = dir.path().join("pipeline.db-wal");
    let aside = dir.path().join("kept-wal");
    assert!(wal.exists(), "no WAL after kill -9 under load");
    std::fs::rename(&wal, &aside).unwrap();
    let _ = std::fs::remove_file(dir.path().join("pipeline.db-shm"));

    let (ok, stderr) = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || refused_dev(&dir, free_port())
    })
    .await
    .unwrap();
    assert!(!ok, "started without its WAL: {stderr}");
    assert!(
        stderr.contains("missing acknowledged records")
            && stderr.contains("were acknowledged")
            && stderr.contains("missing"),
        "{stderr}"
    );
    assert!(stderr.contains("--recover"), "{stderr}");

    // The WAL put back: every acknowledged event is there once.
    std::fs::rename(&aside, &wal).unwrap();
    let child = start_dev(dir.path(), free_port());
    all_acknowledged_present_once(dir.path(), &acked).await;
    sigterm(child);
}
