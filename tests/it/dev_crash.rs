//! Crash safety of the real `xtask dev` binary: `kill -9` it while clients are sending, start it again, and
//! every event that got a 200 is in the table exactly once, with the content that was sent. Then SIGTERM
//! stops it cleanly (exit 0).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::dev_common::*;
use serde_json::Value;
use sluice_tests::{free_port, spawn_dev_with, workspace_root, xtask_bin};

/// `xtask dev` for the shipped pipeline on `port`, with the tests' credentials.
/// AWS's limits are off: the shipped stage admits 100 requests/s, and this test is about durability at speed.
fn start_dev(state_dir: &Path, port: u16) -> Child {
    let config = workspace_root().join("pipeline.toml");
    spawn_dev_with(
        &config,
        state_dir,
        port,
        Some(&format!("{USER}:{PASS}")),
        &["--unlimited"],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_event_survives_kill_9_exactly_once() {
    tokio::task::spawn_blocking(xtask_bin).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = start_dev(dir.path(), port);
    let base = format!("http://127.0.0.1:{port}");

    // Clients sending as fast as they can; each remembers what it sent and what was acknowledged.
    let sent: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let acked: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let mut clients = Vec::new();
    for task in 0..8 {
        let (base, sent, acked) = (base.clone(), sent.clone(), acked.clone());
        clients.push(tokio::spawn(async move {
            let client = client();
            for i in 0.. {
                let id = format!("crash-{task}-{i}");
                let body =
                    format!(r#"{{"task":{task},"n":{i},"text":"event {i} of client {task}"}}"#);
                sent.lock().unwrap().insert(id.clone(), body.clone());
                let response = client
                    .post(format!("{base}/prod/submit/GatewayEventsStream/{id}"))
                    .basic_auth(USER, Some(PASS))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status() == 200 => {
                        let reply: Value = r.json().await.unwrap_or_default();
                        let seq = reply["SequenceNumber"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        acked.lock().unwrap().insert(id, seq);
                    }
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("kill -9"); // SIGKILL: no chance to flush anything
    let _ = child.wait();
    for client in clients {
        client.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300,
        "only {} events were acknowledged before the kill",
        acked.len()
    );

    let port = free_port();
    let mut child = start_dev(dir.path(), port);
    // Exactly once, with the acknowledged record's sequence number and the content sent.
    let items = all_acknowledged_present_once(dir.path(), &acked).await;
    let sent = sent.lock().unwrap().clone();
    for (id, item) in &items {
        let body: Value = serde_json::from_str(&sent[id]).unwrap();
        assert_eq!(item["payload"], body, "{id}");
    }
    assert!(messages(dir.path(), "LambdaDeadLetterQueue").is_empty());

    // SIGTERM: a clean stop, exit code 0.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("xtask dev did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "exit status {exit}");
}
