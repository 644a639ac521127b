//! `cargo xtask status` and `cargo xtask items` on the deployed path, against a real moto server: the test
//! pipeline's streams, tables and dead-letter queue are created with the SDK under their deployed names,
//! and the commands find them through a saved `terraform output -json` document (`--outputs FILE`).
//! Kinesis, SQS and DynamoDB figures are read from those services; the rates, ages and alarms from
//! CloudWatch, into which the test puts the metrics AWS would have recorded.

use crate::status_common::*;
use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use serde_json::{Value, json};
use sluice_tests::{Moto, create_table, xtask_bin};

async fn put(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: AttributeValue,
    received_at: i64,
) {
    client
        .put_item()
        .table_name(table)
        .item("eventId", key)
        .item("receivedAt", AttributeValue::N(received_at.to_string()))
        .item(
            "payload",
            AttributeValue::M(
                [("n".to_owned(), AttributeValue::N(received_at.to_string()))].into(),
            ),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployed_status_and_items_read_kinesis_sqs_and_dynamodb() {
    tokio::task::spawn_blocking(xtask_bin).await.unwrap();
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);

    for (name, shards) in [("statustest-SlowStream", 1), ("statustest-FastStream", 2)] {
        kinesis
            .create_stream()
            .stream_name(name)
            .shard_count(shards)
            .send()
            .await
            .unwrap();
    }
    create_table(&dynamodb, "statustest-FastTable", ScalarAttributeType::S).await;
    create_table(&dynamodb, "statustest-SlowTable", ScalarAttributeType::N).await;
    for (id, at) in [("a", 1_000), ("c", 3_000), ("b", 2_000)] {
        put(
            &dynamodb,
            "statustest-FastTable",
            AttributeValue::S(id.into()),
            at,
        )
        .await;
    }
    put(
        &dynamodb,
        "statustest-SlowTable",
        AttributeValue::N("7".into()),
        500,
    )
    .await;
    let queue_url = sqs
        .create_queue()
        .queue_name("statustest-DeadLetters")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for i in 0..2 {
        sqs.send_message()
            .queue_url(&queue_url)
            .message_body(format!(r#"{{"dead":{i}}}"#))
            .send()
            .await
            .unwrap();
    }

    // What AWS would have recorded in the last minutes, and two alarms in ALARM (one not the pipeline's).
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
    let at = aws_sdk_cloudwatch::primitives::DateTime::from_millis(
        chrono::Utc::now().timestamp_millis() - 60_000,
    );
    for (namespace, metric, dimension, name, values) in [
        (
            "AWS/Kinesis",
            "IncomingRecords",
            "StreamName",
            "statustest-FastStream",
            vec![600.0],
        ),
        (
            "AWS/Lambda",
            "IteratorAge",
            "FunctionName",
            "statustest-slow-writer",
            vec![1500.0, 4500.0],
        ),
        (
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            "QueueName",
            "statustest-DeadLetters",
            vec![42.0],
        ),
        (
            "AWS/DynamoDB",
            "ConsumedWriteCapacityUnits",
            "TableName",
            "statustest-FastTable",
            vec![30.0],
        ),
    ] {
        for value in values {
            use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
            cloudwatch
                .put_metric_data()
                .namespace(namespace)
                .metric_data(
                    MetricDatum::builder()
                        .metric_name(metric)
                        .dimensions(Dimension::builder().name(dimension).value(name).build())
                        .timestamp(at)
                        .value(value)
                        .build(),
                )
                .send()
                .await
                .unwrap_or_else(|e| panic!("PutMetricData {metric}: {e:?}"));
        }
    }
    for alarm in [
        "statustest-DeadLetters-messages-visible",
        "other-pipeline-errors",
    ] {
        use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
        cloudwatch
            .put_metric_alarm()
            .alarm_name(alarm)
            .alarm_description(format!("{alarm} fired"))
            .namespace("AWS/SQS")
            .metric_name("ApproximateNumberOfMessagesVisible")
            .statistic(Statistic::Maximum)
            .period(300)
            .evaluation_periods(1)
            .threshold(0.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .unwrap();
        cloudwatch
            .set_alarm_state()
            .alarm_name(alarm)
            .state_value(StateValue::Alarm)
            .state_reason("test")
            .send()
            .await
            .unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pipeline.toml");
    std::fs::write(&config, PIPELINE).unwrap();
    // What `terraform output -json` prints for the generated root (the outputs status reads).
    let outputs = json!({
        "region": {"value": "us-east-1"},
        "stream_names": {"value": {"SlowStream": "statustest-SlowStream", "FastStream": "statustest-FastStream"}},
        "table_names": {"value": {"SlowTable": "statustest-SlowTable", "FastTable": "statustest-FastTable"}},
        "dead_letter_queue_urls": {"value": {"DeadLetters": queue_url}},
        "writer_function_names": {"value": {"slow-writer": "statustest-slow-writer", "fast-writer": "statustest-fast-writer"}},
    });
    let outputs_file = dir.path().join("outputs.json");
    std::fs::write(&outputs_file, outputs.to_string()).unwrap();
    let outputs_arg = outputs_file.to_str().unwrap();
    let env = moto.env();

    let run = tokio::task::spawn_blocking({
        let (config, env) = (config.clone(), env.clone());
        let outputs_arg = outputs_arg.to_owned();
        move || {
            xtask_with_env(
                &config,
                &["status", "--json", "--outputs", &outputs_arg],
                &env,
            )
        }
    })
    .await
    .unwrap();
    assert!(run.ok, "status failed: {}", run.stderr);
    let status: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(status["target"], "deployed");
    assert_eq!(status["window_s"], 300);
    assert_eq!(
        named(&status["streams"], "FastStream")["shards"],
        2,
        "{status}"
    );
    assert_eq!(
        named(&status["streams"], "SlowStream")["shards"],
        1,
        "{status}"
    );
    assert_eq!(
        named(&status["streams"], "FastStream")["physical_name"],
        "statustest-FastStream"
    );
    let queue = named(&status["dead_letter_queues"], "DeadLetters");
    assert_eq!(queue["messages"], 2, "{status}");
    assert_eq!(queue["messages_in_flight"], 0, "{status}");
    assert_eq!(queue["physical_name"], "statustest-DeadLetters");
    assert_eq!(
        named(&status["tables"], "FastTable")["items"],
        3,
        "{status}"
    );
    assert_eq!(
        named(&status["tables"], "SlowTable")["items"],
        1,
        "{status}"
    );
    assert_eq!(
        named(&status["consumers"], "slow-writer")["function_name"],
        "statustest-slow-writer"
    );
    // AWS does not count a consumer's records behind; the iterator age comes from CloudWatch.
    assert_eq!(
        named(&status["consumers"], "slow-writer")["records_behind"],
        Value::Null
    );
    assert_eq!(status["errors"], json!([]), "{status}");
    // CloudWatch's figures over the 300 s window.
    let figure = |list: &str, name: &str, field: &str| named(&status[list], name)[field].clone();
    assert_eq!(
        figure("streams", "FastStream", "incoming_records_per_s"),
        2.0
    );
    assert_eq!(
        figure("streams", "SlowStream", "incoming_records_per_s"),
        0.0
    );
    assert_eq!(figure("consumers", "slow-writer", "iterator_age_ms"), 4500);
    assert_eq!(
        figure("consumers", "fast-writer", "iterator_age_ms"),
        Value::Null
    );
    assert_eq!(
        figure("dead_letter_queues", "DeadLetters", "oldest_age_ms"),
        42_000
    );
    assert_eq!(figure("tables", "FastTable", "writes_per_s"), 0.1);
    let alarms: Vec<&str> = status["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        alarms,
        ["statustest-DeadLetters-messages-visible"],
        "{status}"
    );
    assert_eq!(
        status["alarms"][0]["reason"],
        "statustest-DeadLetters-messages-visible fired"
    );

    // The human form of the same, with what could not be read said at the end.
    let human = tokio::task::spawn_blocking({
        let (config, env) = (config.clone(), env.clone());
        let outputs_arg = outputs_arg.to_owned();
        move || xtask_with_env(&config, &["status", "--outputs", &outputs_arg], &env)
    })
    .await
    .unwrap();
    assert!(human.ok, "{}", human.stderr);
    assert!(
        human.stdout.starts_with("statustest (deployed, us-east-1)"),
        "{}",
        human.stdout
    );
    let queue_line = human
        .stdout
        .lines()
        .find(|l| l.starts_with("DeadLetters "))
        .unwrap_or_else(|| panic!("{}", human.stdout));
    assert!(
        queue_line.split_whitespace().collect::<Vec<_>>()[..3] == ["DeadLetters", "2", "0"],
        "{queue_line}"
    );

    // items: by key (string and number), the newest by receivedAt, and the errors.
    let items = |args: Vec<String>| {
        let (config, env) = (config.clone(), env.clone());
        let outputs_arg = outputs_arg.to_owned();
        move || {
            let mut all: Vec<&str> = vec!["items"];
            all.extend(args.iter().map(String::as_str));
            all.extend(["--outputs", &outputs_arg]);
            xtask_with_env(&config, &all, &env)
        }
    };
    let run = tokio::task::spawn_blocking(items(vec!["FastTable".into(), "b".into()]))
        .await
        .unwrap();
    assert!(run.ok, "{}", run.stderr);
    let item: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        item,
        json!({"eventId": "b", "receivedAt": 2000, "payload": {"n": 2000}})
    );
    let run = tokio::task::spawn_blocking(items(vec!["SlowTable".into(), "7".into()]))
        .await
        .unwrap();
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&run.stdout).unwrap()["eventId"],
        7
    );
    let run = tokio::task::spawn_blocking(items(vec![
        "FastTable".into(),
        "--limit".into(),
        "2".into(),
    ]))
    .await
    .unwrap();
    assert!(run.ok, "{}", run.stderr);
    let newest: Value = serde_json::from_str(&run.stdout).unwrap();
    let ids: Vec<&str> = newest
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c", "b"]);
    let run = tokio::task::spawn_blocking(items(vec!["FastTable".into(), "zz".into()]))
        .await
        .unwrap();
    assert!(!run.ok);
    assert!(
        flat(&run.stderr).contains(r#"no item with eventId = "zz" in FastTable"#),
        "{}",
        run.stderr
    );
    let run = tokio::task::spawn_blocking(items(vec!["SlowTable".into(), "x".into()]))
        .await
        .unwrap();
    assert!(!run.ok);
    assert!(
        flat(&run.stderr).contains("is a number (type N)"),
        "{}",
        run.stderr
    );
}
