//! AWS's limits in the local pipeline, over real HTTP: the stage's throttle and a shard's write limits answer
//! 429 `Throttled` as the deployed API does (and nothing is written for them); with the limits off
//! (`--unlimited`), the same load is all accepted.

use crate::common::*;
use serde_json::Value;
use sluice_contract::api::Throttle;
use sluice_local::{RunningPipeline, StartOptions};

fn toml(rate: f64, burst: u32) -> String {
    pipeline_toml(1, "").replacen(
        "stage = \"prod\"",
        &format!("stage = \"prod\"\nthrottle_rate_limit = {rate}\nthrottle_burst_limit = {burst}"),
        1,
    )
}

async fn start(dir: &std::path::Path, toml: &str, aws_limits: bool) -> RunningPipeline {
    let mut opts = StartOptions::new(parse(toml), dir);
    opts.credentials = Some(format!("{USER}:{PASS}"));
    opts.timings = fast_timings();
    opts.aws_limits = aws_limits;
    sluice_local::start(opts).await.expect("starts")
}

/// Sends `bodies` concurrently; answers each status with its error code (if any).
async fn burst(running: &RunningPipeline, prefix: &str, bodies: Vec<String>) -> Vec<(u16, String)> {
    let client = client();
    let base = running.base_url();
    let sends = bodies.into_iter().enumerate().map(|(i, body)| {
        let (client, base) = (client.clone(), base.clone());
        let id = format!("{prefix}-{i}");
        async move {
            let response = submit(&client, &base, &id, &body).await;
            let status = response.status().as_u16();
            let v: Value = response.json().await.unwrap_or(Value::Null);
            // The error code, and for a 429 which limit its message names.
            let error = v["error"].as_str().unwrap_or("").to_owned();
            match v["message"].as_str() {
                Some(m) if status == 429 => (status, format!("{error}: {m}")),
                _ => (status, error),
            }
        }
    });
    futures::future::join_all(sends).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stage_throttle_answers_429_as_api_gateway_does() {
    let dir = tempfile::tempdir().unwrap();
    // A burst of 3, then one token every 100 s: of 12 requests at once, exactly 3 pass.
    let running = start(dir.path(), &toml(0.01, 3), true).await;
    let answers = burst(&running, "s", vec![SEED_BODY.to_owned(); 12]).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let throttled: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert_eq!(ok, 3, "{answers:?}");
    assert_eq!(ok + throttled.len(), 12, "{answers:?}");
    assert!(
        throttled
            .iter()
            .all(|(_, e)| *e == format!("Throttled: {}", Throttle::Stage.message())),
        "{answers:?}"
    );
    running.shutdown().await;
    assert_eq!(
        records_on_stream(dir.path()),
        ok as i64,
        "only the accepted requests reached the stream"
    );

    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &toml(0.01, 3), false).await;
    let answers = burst(&running, "u", vec![SEED_BODY.to_owned(); 12]).await;
    assert!(
        answers.iter().all(|(s, _)| *s == 200),
        "--unlimited: {answers:?}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shard_over_its_mebibyte_a_second_is_throttled_as_kinesis_does() {
    let big = format!("{{\"message\":\"{}\"}}", "x".repeat(900_000));
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &toml(10_000.0, 5_000), true).await;
    // Three 900 KB records at once on a one-shard stream: a second one needs 0.7 s of refill.
    let answers = burst(&running, "b", vec![big.clone(); 3]).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    assert!((1..3).contains(&ok), "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s != 200)
            .all(|(s, e)| *s == 429 && *e == format!("Throttled: {}", Throttle::Stream.message())),
        "{answers:?}"
    );
    running.shutdown().await;
    assert_eq!(records_on_stream(dir.path()), ok as i64);

    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &toml(10_000.0, 5_000), false).await;
    let answers = burst(&running, "u", vec![big; 3]).await;
    assert!(
        answers.iter().all(|(s, _)| *s == 200),
        "--unlimited: {answers:?}"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_startup_summary_says_which_limits_are_on() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &toml(7.0, 9), true).await;
    let summary = sluice_local::summary(&running, std::path::Path::new("pipeline.toml"));
    assert!(
        summary.contains("stage throttle 7 req/s, bursts of 9"),
        "{summary}"
    );
    running.shutdown().await;
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &toml(7.0, 9), false).await;
    let summary = sluice_local::summary(&running, std::path::Path::new("pipeline.toml"));
    assert!(summary.contains("limits: off"), "{summary}");
    running.shutdown().await;
}

fn records_on_stream(state_dir: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(db_path(state_dir)).unwrap();
    conn.query_row("SELECT count(*) FROM _sluice_records", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_waf_rate_rule_answers_429_per_source_address() {
    let toml = format!("{}\n[waf]\nrate_limit = 10\n", toml(10_000.0, 5_000));
    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &toml, true).await;
    let client = client();
    let mut statuses = Vec::new();
    for i in 0..12 {
        let response = submit(&client, &running.base_url(), &format!("w-{i}"), SEED_BODY).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        statuses.push((status, body));
    }
    assert!(
        statuses[..10].iter().all(|(s, _)| *s == 200),
        "{statuses:?}"
    );
    for (status, body) in &statuses[10..] {
        assert_eq!(*status, 429);
        assert_eq!(body["error"], "Throttled");
        assert_eq!(body["message"], Throttle::Waf.message());
        assert_eq!(
            body["requestId"], "",
            "WAF answers before API Gateway assigns an id"
        );
    }
    let summary = sluice_local::summary(&running, std::path::Path::new("pipeline.toml"));
    assert!(
        summary.contains("WAF 10 requests per 5 minutes"),
        "{summary}"
    );
    running.shutdown().await;
    assert_eq!(records_on_stream(dir.path()), 10);

    let dir = tempfile::tempdir().unwrap();
    let running = start(dir.path(), &toml, false).await;
    for i in 0..12 {
        let response = submit(&client, &running.base_url(), &format!("u-{i}"), SEED_BODY).await;
        assert_eq!(response.status().as_u16(), 200, "--unlimited");
    }
    running.shutdown().await;
}

/// A table with one provisioned write unit a second keeps DynamoDB's 300-second burst: three 100 KB items
/// (300 units) are stored at once, a fourth finds the table out of units and would need 100 s of refill,
/// so the writer is throttled (and retries; nothing is dead-lettered for it). With the limits off, all four
/// are stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_provisioned_table_past_its_burst_throttles_the_writer_without_dead_letters() {
    // Retries forever (the consumer section is last): the test's fast retry timings would otherwise use up
    // the attempts while the table is throttled, and the mapping would give up on the record, as on AWS.
    let toml = toml(10_000.0, 5_000).replacen(
        "[tables.EventTable]\n",
        "[tables.EventTable]\nbilling_mode = \"provisioned\"\nread_capacity = 1\nwrite_capacity = 1\n",
        1,
    ) + "retry_attempts = -1\nallow_infinite_retries = true\n";
    // About 100 KB stored per item (the body and the envelope's attributes): 100 write units.
    let body = format!("{{\"message\":\"{}\"}}", "x".repeat(100 * 1024 - 700));
    for limited in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let running = start(dir.path(), &toml, limited).await;
        let answers = burst(&running, "t", vec![body.clone(); 4]).await;
        assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
        let expected = if limited { 3 } else { 4 };
        assert!(
            eventually(std::time::Duration::from_secs(20), || count(
                dir.path(),
                "EventTable"
            ) >= expected)
            .await,
            "limited={limited}: {} items stored",
            count(dir.path(), "EventTable")
        );
        if limited {
            // The fourth needs 100 s of refill: two more seconds of retries cannot store it.
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            assert_eq!(
                count(dir.path(), "EventTable"),
                3,
                "the fourth item was throttled"
            );
            let dead = messages(dir.path(), "LambdaDeadLetterQueue");
            assert!(dead.is_empty(), "{dead:?}");
        }
        running.shutdown().await;
    }
}
