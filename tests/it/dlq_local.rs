//! `cargo xtask dlq --local` against a real `cargo xtask dev`: a pipeline whose table was declared with the
//! wrong key type (N, for string event ids) dead-letters a small and an oversize record (its data in the
//! local dead-letter bucket); the declaration is repaired, dev runs again with it, and a redrive —
//! interrupted once, then rerun — leaves every record in the table exactly once and the queue empty.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_tests::{free_port, spawn_dev, workspace_root, xtask_bin};

const USER: &str = "dlq";
const PASS: &str = "correct-horse";

fn dlq(config: &Path, state: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(xtask_bin())
        .arg("dlq")
        .arg("--config")
        .arg(config)
        .arg("--local")
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run xtask dlq");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn count(state: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(state.join("pipeline.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or(-1)
}

async fn send(port: u16, id: &str, body: String) {
    let response = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}/prod/submit/GatewayEventsStream/{id}"
        ))
        .basic_auth(USER, Some(PASS))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_of_the_local_pipeline_are_redriven_exactly_once_after_the_repair() {
    tokio::task::spawn_blocking(xtask_bin).await.unwrap();
    let state = tempfile::tempdir().unwrap();
    let configs = tempfile::tempdir().unwrap();
    let repaired = workspace_root().join("pipeline.toml");
    let shipped = std::fs::read_to_string(&repaired).unwrap();
    let wrong = configs.path().join("pipeline.toml");
    let mistaken = shipped.replace(
        r#"partition_key = { name = "eventId", type = "S" }"#,
        r#"partition_key = { name = "eventId", type = "N" }"#,
    );
    assert_ne!(mistaken, shipped);
    std::fs::write(&wrong, mistaken).unwrap();

    // 1. The mistaken pipeline: string ids are BadKeyType; a numeric id is written.
    let port = free_port();
    let mut dev = spawn_dev(&wrong, state.path(), port, Some(&format!("{USER}:{PASS}")));
    send(port, "abc", r#"{"message":"small"}"#.into()).await;
    let blob = "x".repeat(300_000);
    send(port, "big", format!(r#"{{"blob":"{blob}"}}"#)).await;
    send(port, "7", r#"{"message":"numeric"}"#.into()).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(
        state.path(),
        r#"SELECT count(*) FROM "LambdaDeadLetterQueue""#,
    ) < 2
        || count(state.path(), r#"SELECT count(*) FROM "EventTable""#) < 1
    {
        assert!(Instant::now() < deadline, "the records were not consumed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (code, out) = dlq(&wrong, state.path(), &["list"], &[]);
    assert_eq!(code, 0, "{out}");
    println!("{out}");
    assert!(out.contains("LambdaDeadLetterQueue: 2 messages"), "{out}");
    assert!(out.contains("BadKeyType"), "{out}");
    assert!(out.contains("inline"), "{out}");
    assert!(
        out.contains("s3://sluice-dead-letters/sluice-GatewayEventsStream/shardId-000000000000/"),
        "{out}"
    );
    let big_id = out
        .lines()
        .find(|l| l.contains("s3://"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (code, hydrated) = dlq(&wrong, state.path(), &["hydrate", &big_id], &[]);
    assert_eq!(code, 0, "{hydrated}");
    let line: Value = serde_json::from_str(hydrated.lines().next().unwrap()).unwrap();
    assert_eq!(line["partitionKey"], "big");
    assert!(line["text"].as_str().unwrap().contains(&blob));

    // 2. Repair: the table's key is a string; dev runs with the repaired declaration.
    dev.kill().unwrap();
    let _ = dev.wait();
    let port = free_port();
    let mut dev = spawn_dev(
        &repaired,
        state.path(),
        port,
        Some(&format!("{USER}:{PASS}")),
    );

    // 3. Redrive, interrupted after the first record is written and before its message is deleted; rerun.
    let (code, out) = dlq(
        &repaired,
        state.path(),
        &["redrive"],
        &[("SLUICE_DLQ_STOP_AFTER", "1")],
    );
    assert_eq!(code, 75, "{out}");
    assert_eq!(
        count(
            state.path(),
            r#"SELECT count(*) FROM "LambdaDeadLetterQueue""#
        ),
        2
    );
    let (code, out) = dlq(&repaired, state.path(), &["redrive"], &[]);
    assert_eq!(code, 0, "{out}");
    println!("{out}");
    assert!(
        out.contains("2 message(s) done and deleted, 0 kept"),
        "{out}"
    );

    for key in ["abc", "big", "7"] {
        assert_eq!(
            count(
                state.path(),
                &format!(r#"SELECT count(*) FROM "EventTable" WHERE "eventId" = '{key}'"#)
            ),
            1,
            "{key}"
        );
    }
    assert_eq!(
        count(state.path(), r#"SELECT count(*) FROM "EventTable""#),
        3
    );
    assert_eq!(
        count(
            state.path(),
            r#"SELECT length(json_extract(item, '$.payload.blob')) FROM "EventTable" WHERE "eventId" = 'big'"#
        ),
        300_000
    );
    assert_eq!(
        count(
            state.path(),
            r#"SELECT count(*) FROM "LambdaDeadLetterQueue""#
        ),
        0
    );
    let (code, out) = dlq(&repaired, state.path(), &["list"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("LambdaDeadLetterQueue: 0 messages"), "{out}");
    dev.kill().unwrap();
    let _ = dev.wait();
}
