//! `items TABLE --follow` and `dlq list --follow` against a real `cargo xtask dev`: started before the
//! events are sent, they print each item and each dead letter as it arrives (an overwritten item again).
//! The table is declared with a numeric key, so a non-numeric event id is dead-lettered.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use sluice_tests::{free_port, spawn_dev, workspace_root, xtask_bin};

const USER: &str = "follow";
const PASS: &str = "correct-horse";

/// A `--follow` command whose stdout lines arrive on a channel; killed on drop.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Follower {
    fn start(args: &[&str]) -> Follower {
        let mut child = Command::new(xtask_bin())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn a follower");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Follower { child, lines }
    }

    /// Lines until one contains `needle` (at most 30 s); all of them.
    fn until(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(30)) {
            let found = line.contains(needle);
            seen.push(line);
            if found {
                return seen;
            }
        }
        panic!("no line with {needle:?} within 30 s; got {seen:#?}");
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn send(port: u16, id: &str, body: &str) {
    let response = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}/prod/submit/GatewayEventsStream/{id}"
        ))
        .basic_auth(USER, Some(PASS))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_and_dead_letters_are_printed_as_they_arrive() {
    tokio::task::spawn_blocking(xtask_bin).await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let configs = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(workspace_root().join("pipeline.toml")).unwrap();
    let numeric = shipped.replace(
        r#"partition_key = { name = "eventId", type = "S" }"#,
        r#"partition_key = { name = "eventId", type = "N" }"#,
    );
    assert_ne!(numeric, shipped, "the shipped table's key declaration");
    let config = configs.path().join("pipeline.toml");
    std::fs::write(&config, numeric).unwrap();
    let port = free_port();
    let mut dev = spawn_dev(&config, state.path(), port, Some(&format!("{USER}:{PASS}")));

    let common = |command: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        args.extend([
            "--config".into(),
            config.display().to_string(),
            "--local".into(),
            "--state-dir".into(),
            state.path().display().to_string(),
        ]);
        args
    };
    let items_args = common(&["items", "EventTable", "--follow"]);
    let items = Follower::start(&items_args.iter().map(String::as_str).collect::<Vec<_>>());
    let dlq_args = common(&["dlq", "list", "--follow"]);
    let dlq = Follower::start(&dlq_args.iter().map(String::as_str).collect::<Vec<_>>());
    dlq.until("following LambdaDeadLetterQueue");
    // Give the item follower its first look at the (empty) table.
    tokio::time::sleep(Duration::from_secs(2)).await;

    send(port, "41", r#"{"n":1}"#).await;
    let first = tokio::task::spawn_blocking(move || (items.until(r#""n":1"#), items))
        .await
        .unwrap();
    let (lines, items) = first;
    let item: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(item["eventId"], 41, "{item}");

    // A newer record for the same key overwrites the item: printed again.
    send(port, "41", r#"{"n":2}"#).await;
    let (lines, _items) = tokio::task::spawn_blocking(move || (items.until(r#""n":2"#), items))
        .await
        .unwrap();
    assert!(
        lines.last().unwrap().contains(r#""eventId":41"#),
        "{lines:?}"
    );

    // Not a number: the writer dead-letters it, and the dlq follower prints its row.
    send(port, "not-a-number", r#"{"n":3}"#).await;
    let lines = tokio::task::spawn_blocking(move || dlq.until("not-a-number"))
        .await
        .unwrap();
    let row = lines.last().unwrap();
    assert!(
        row.contains("LambdaDeadLetterQueue") && row.contains("dead letter"),
        "{row}"
    );
    let _ = dev.kill();
    let _ = dev.wait();
}

#[test]
fn following_a_deployed_table_or_queue_is_refused_with_the_way_out() {
    for args in [
        &["items", "EventTable", "--follow"][..],
        &["dlq", "list", "--follow"],
    ] {
        let out = Command::new(xtask_bin())
            .args(args)
            .output()
            .expect("run xtask");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text.contains("--follow watches local") && text.contains("--local"),
            "{args:?}: {text}"
        );
    }
}
