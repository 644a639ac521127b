//! `cargo xtask status --local` and `cargo xtask items --local` against a real `cargo xtask dev`: a pipeline
//! with a consumer that falls behind (a 300 s batching window holds its records) and one whose poison record
//! (an item over DynamoDB's 400 KB) goes to the dead-letter queue. The JSON figures and the human table must
//! say so; `items` must show what landed and name the problem of a bad table or key.

use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_tests::{DevProcess, xtask_bin};

use crate::status_common::*;

async fn submit(client: &reqwest::Client, port: u16, stream: &str, id: &str, body: &str) {
    let response = client
        .post(format!("http://127.0.0.1:{port}/prod/submit/{stream}/{id}"))
        .basic_auth(USER, Some(PASS))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200, "{stream}/{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_a_consumer_behind_and_dead_letters_and_items_shows_what_landed() {
    tokio::task::spawn_blocking(xtask_bin).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pipeline.toml");
    std::fs::write(&config, PIPELINE).unwrap();
    let state = dir.path().join("state");
    let dev = DevProcess::start(&config, &state, Some(&format!("{USER}:{PASS}")));

    // A healthy, idle pipeline: nothing behind, nothing dead-lettered, no alarm.
    let idle = status_json(&config, &state);
    assert_eq!(idle["target"], "local");
    assert_eq!(idle["window_s"], 60);
    assert_eq!(named(&idle["streams"], "FastStream")["shards"], 2);
    assert_eq!(named(&idle["streams"], "SlowStream")["shards"], 1);
    for c in ["slow-writer", "fast-writer"] {
        assert_eq!(named(&idle["consumers"], c)["records_behind"], 0, "{idle}");
        assert_eq!(named(&idle["consumers"], c)["iterator_age_ms"], 0, "{idle}");
    }
    assert_eq!(
        named(&idle["dead_letter_queues"], "DeadLetters")["messages"],
        0
    );
    assert_eq!(idle["alarms"], serde_json::json!([]));
    assert_eq!(idle["errors"], serde_json::json!([]));

    let client = reqwest::Client::new();
    let sent = Instant::now();
    for id in ["1", "2", "3"] {
        submit(&client, dev.port, "SlowStream", id, r#"{"slow":true}"#).await;
    }
    submit(&client, dev.port, "FastStream", "f1", r#"{"n":1}"#).await;
    submit(&client, dev.port, "FastStream", "f2", r#"{"n":2}"#).await;
    // Over DynamoDB's 400 KB item limit: the writer dead-letters it (its data goes to the local bucket).
    let huge = format!(r#"{{"blob":"{}"}}"#, "x".repeat(450 * 1024));
    submit(&client, dev.port, "FastStream", "poison", &huge).await;

    // Wait for the fast consumer to write its two items and dead-letter the poison record.
    let deadline = Instant::now() + Duration::from_secs(60);
    let busy = loop {
        let s = status_json(&config, &state);
        let done = named(&s["tables"], "FastTable")["items"] == 2
            && named(&s["dead_letter_queues"], "DeadLetters")["messages"] == 1
            && named(&s["consumers"], "fast-writer")["records_behind"] == 0;
        if done {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the fast consumer did not finish: {s}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let busy_later = status_json(&config, &state);

    // The slow consumer is behind by its three records, and the age of the oldest grows.
    let slow = named(&busy_later["consumers"], "slow-writer");
    assert_eq!(slow["records_behind"], 3, "{busy_later}");
    let age = slow["iterator_age_ms"].as_i64().unwrap();
    assert!(
        age >= 1000 && age <= sent.elapsed().as_millis() as i64 + 1000,
        "iterator age {age} ms, {} ms after sending",
        sent.elapsed().as_millis()
    );
    assert!(
        age > named(&busy["consumers"], "slow-writer")["iterator_age_ms"]
            .as_i64()
            .unwrap()
    );
    assert_eq!(
        named(&busy_later["consumers"], "fast-writer")["records_behind"],
        0
    );
    assert_eq!(
        named(&busy_later["consumers"], "fast-writer")["iterator_age_ms"],
        0
    );

    // Incoming rates over the last 60 s; writes of the fast table; nothing in the slow one yet.
    let rate = |s: &str| {
        named(&busy_later["streams"], s)["incoming_records_per_s"]
            .as_f64()
            .unwrap()
    };
    assert!(
        (rate("SlowStream") - 3.0 / 60.0).abs() < 1e-9,
        "{busy_later}"
    );
    assert!(
        (rate("FastStream") - 3.0 / 60.0).abs() < 1e-9,
        "{busy_later}"
    );
    let fast_table = named(&busy_later["tables"], "FastTable");
    assert!((fast_table["writes_per_s"].as_f64().unwrap() - 2.0 / 60.0).abs() < 1e-9);
    assert!(fast_table["newest_received_at_ms"].as_i64().is_some());
    assert_eq!(named(&busy_later["tables"], "SlowTable")["items"], 0);
    assert_eq!(
        named(&busy_later["tables"], "SlowTable")["newest_received_at_ms"],
        Value::Null
    );

    // One dead letter, its age, and the generated alarm's local counterpart.
    let queue = named(&busy_later["dead_letter_queues"], "DeadLetters");
    assert_eq!(queue["physical_name"], "statustest-DeadLetters");
    assert!(queue["oldest_age_ms"].as_i64().unwrap() >= 1000, "{queue}");
    let alarm = named(
        &busy_later["alarms"],
        "statustest-DeadLetters-messages-visible",
    );
    assert!(
        alarm["reason"].as_str().unwrap().contains("Dead letters"),
        "{alarm}"
    );

    // The human table: aligned columns with units.
    let human = xtask(&config, &state, &["status", "--local"]);
    assert!(human.ok, "{}", human.stderr);
    let out = human.stdout;
    let line = |start: &str| {
        out.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start:?}:\n{out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(out.starts_with("statustest (local, "), "{out}");
    assert_eq!(line("SlowStream "), "SlowStream 1 0.05 records/s");
    assert!(
        line("slow-writer ").starts_with("slow-writer SlowStream 3 records "),
        "{out}"
    );
    assert!(line("slow-writer ").ends_with(" s"), "{out}");
    assert_eq!(
        line("fast-writer "),
        "fast-writer FastStream 0 records 0 ms"
    );
    assert!(
        line("DeadLetters ").starts_with("DeadLetters 1 0 "),
        "{out}"
    );
    assert!(
        line("FastTable ").starts_with("FastTable 2 0.03 items/s "),
        "{out}"
    );
    assert!(
        line("statustest-DeadLetters-messages-visible ").contains("Dead letters are waiting"),
        "{out}"
    );
    // Columns line up: each header's columns start where their values start.
    let header = out.lines().find(|l| l.starts_with("CONSUMER")).unwrap();
    let slow_line = out.lines().find(|l| l.starts_with("slow-writer")).unwrap();
    assert_eq!(header.find("STREAM"), slow_line.find("SlowStream"), "{out}");

    // items: one by key, the newest, and the errors.
    let item = xtask(&config, &state, &["items", "FastTable", "f1", "--local"]);
    assert!(item.ok, "{}", item.stderr);
    let item: Value = serde_json::from_str(&item.stdout).unwrap();
    assert_eq!(item["eventId"], "f1");
    assert_eq!(item["payload"], serde_json::json!({"n": 1}));
    let newest = xtask(
        &config,
        &state,
        &["items", "FastTable", "--local", "--limit", "1"],
    );
    assert!(newest.ok, "{}", newest.stderr);
    let newest: Value = serde_json::from_str(&newest.stdout).unwrap();
    assert_eq!(newest.as_array().map(Vec::len), Some(1), "{newest}");
    assert_eq!(newest[0]["eventId"], "f2");
    let all: Value =
        serde_json::from_str(&xtask(&config, &state, &["items", "FastTable", "--local"]).stdout)
            .unwrap();
    assert_eq!(all.as_array().map(Vec::len), Some(2), "{all}");

    let missing = xtask(&config, &state, &["items", "FastTable", "nope", "--local"]);
    assert!(!missing.ok);
    assert!(
        flat(&missing.stderr).contains(r#"no item with eventId = "nope" in FastTable"#),
        "{}",
        missing.stderr
    );
    let unknown = xtask(&config, &state, &["items", "Nope", "--local"]);
    assert!(!unknown.ok);
    assert!(
        flat(&unknown.stderr).contains("no table `Nope`")
            && flat(&unknown.stderr).contains("`FastTable`, `SlowTable`"),
        "{}",
        unknown.stderr
    );
    let wrong_type = xtask(&config, &state, &["items", "SlowTable", "abc", "--local"]);
    assert!(!wrong_type.ok);
    assert!(
        flat(&wrong_type.stderr).contains("is a number (type N); `abc` is not a number"),
        "{}",
        wrong_type.stderr
    );
    let no_state = xtask(&config, &dir.path().join("absent"), &["status", "--local"]);
    assert!(!no_state.ok);
    assert!(
        flat(&no_state.stderr).contains("no local pipeline state"),
        "{}",
        no_state.stderr
    );
    drop(dev);
}
