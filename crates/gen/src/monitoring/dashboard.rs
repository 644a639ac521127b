//! The pipeline's CloudWatch dashboard (`modules/alerts/dashboard.json.tftpl`): a row of API widgets, a row
//! per stream and per consumer, then the dead-letter queues and the tables three to a row. The body is built
//! as a `serde_json::Value` (like the OpenAPI document) and written as a Terraform `templatefile` whose only
//! reference is the region.

use serde_json::{Value, json};
use sluice_config::{Consumer, Pipeline, Queue, Stream, Table};
use sluice_contract::consumer::Reason;
use sluice_contract::metrics;

use super::alarms::PERIOD;
use crate::escape::escape_for_templatefile;

/// A widget's width and height in the dashboard's 24-column grid.
const WIDTH: u32 = 8;
const HEIGHT: u32 = 6;
/// Columns of the grid.
const COLUMNS: u32 = 24;

/// The dashboard's body, ready for `templatefile` (its only reference is `${region}`).
pub fn dashboard(p: &Pipeline) -> String {
    let mut widgets = api_row(p, 0);
    let mut y: u32 = 0;
    for s in p.streams.values() {
        y += HEIGHT;
        widgets.extend(stream_row(s, y));
    }
    for c in p.consumers.values() {
        y += HEIGHT;
        widgets.extend(consumer_row(c, y));
    }
    y += HEIGHT;
    widgets.extend(queue_and_table_grid(p, y));

    let mut body = json!({ "widgets": widgets });
    escape_for_templatefile(&mut body);
    let text = serde_json::to_string_pretty(&body).unwrap_or_default();
    text.replace(&format!("\"{REGION_MARKER}\""), "\"${region}\"")
}

/// The API stage: requests, 4XX and 5XX answers, latency.
fn api_row(p: &Pipeline, y: u32) -> Vec<Value> {
    let dims = vec![
        "ApiName".to_string(),
        p.name.clone(),
        "Stage".into(),
        p.stage.clone(),
    ];
    vec![
        widget(
            "API requests".into(),
            "Sum",
            vec![metric(
                "AWS/ApiGateway",
                "Count",
                &dims,
                json!({"label": "requests"}),
            )],
            0,
            y,
        ),
        widget(
            "API 4XX / 5XX".into(),
            "Sum",
            vec![
                metric("AWS/ApiGateway", "4XXError", &dims, json!({"label": "4XX"})),
                metric("AWS/ApiGateway", "5XXError", &dims, json!({"label": "5XX"})),
            ],
            8,
            y,
        ),
        widget(
            "API latency (ms)".into(),
            "p99",
            vec![
                metric(
                    "AWS/ApiGateway",
                    "Latency",
                    &dims,
                    json!({"stat": "p50", "label": "p50"}),
                ),
                metric(
                    "AWS/ApiGateway",
                    "Latency",
                    &dims,
                    json!({"stat": "p99", "label": "p99"}),
                ),
            ],
            16,
            y,
        ),
    ]
}

/// A stream: records coming in, the oldest record read, throttled writes and reads.
fn stream_row(s: &Stream, y: u32) -> Vec<Value> {
    let dims = vec!["StreamName".to_string(), s.physical_name.clone()];
    vec![
        widget(
            format!("{}: incoming records", s.physical_name),
            "Sum",
            vec![metric(
                "AWS/Kinesis",
                "IncomingRecords",
                &dims,
                json!({"label": "records"}),
            )],
            0,
            y,
        ),
        widget(
            format!("{}: iterator age (ms)", s.physical_name),
            "Maximum",
            vec![metric(
                "AWS/Kinesis",
                "GetRecords.IteratorAgeMilliseconds",
                &dims,
                json!({"label": "oldest record read"}),
            )],
            8,
            y,
        ),
        widget(
            format!("{}: throttled", s.physical_name),
            "Sum",
            vec![
                metric(
                    "AWS/Kinesis",
                    "WriteProvisionedThroughputExceeded",
                    &dims,
                    json!({"label": "writes"}),
                ),
                metric(
                    "AWS/Kinesis",
                    "ReadProvisionedThroughputExceeded",
                    &dims,
                    json!({"label": "reads"}),
                ),
            ],
            16,
            y,
        ),
    ]
}

/// A consumer's writer function: duration and iterator age, failures, and what became of its records.
fn consumer_row(c: &Consumer, y: u32) -> Vec<Value> {
    let name = &c.function_name;
    let dims = vec!["FunctionName".to_string(), name.clone()];
    let writer_dims = vec![metrics::DIMENSION.to_string(), name.clone()];
    let mut records = vec![
        metric(
            metrics::NAMESPACE,
            metrics::WRITTEN,
            &writer_dims,
            json!({"label": "written"}),
        ),
        metric(
            metrics::NAMESPACE,
            metrics::SUPERSEDED,
            &writer_dims,
            json!({"label": "superseded"}),
        ),
    ];
    records.extend(Reason::ALL.iter().map(|r| {
        metric(
            metrics::NAMESPACE,
            &metrics::dead_lettered(*r),
            &writer_dims,
            json!({"label": format!("dead-lettered: {}", r.as_str())}),
        )
    }));
    vec![
        widget(
            format!("{name}: duration (ms), iterator age (ms)"),
            "Maximum",
            vec![
                metric(
                    "AWS/Lambda",
                    "Duration",
                    &dims,
                    json!({"stat": "Average", "label": "duration, average"}),
                ),
                metric(
                    "AWS/Lambda",
                    "Duration",
                    &dims,
                    json!({"label": "duration, maximum"}),
                ),
                metric(
                    "AWS/Lambda",
                    "IteratorAge",
                    &dims,
                    json!({"label": "iterator age", "yAxis": "right"}),
                ),
            ],
            0,
            y,
        ),
        widget(
            format!("{name}: errors, throttles"),
            "Sum",
            vec![
                metric("AWS/Lambda", "Errors", &dims, json!({"label": "errors"})),
                metric(
                    "AWS/Lambda",
                    "Throttles",
                    &dims,
                    json!({"label": "throttles"}),
                ),
                metric(
                    metrics::NAMESPACE,
                    metrics::RETRIED,
                    &writer_dims,
                    json!({"label": "records retried"}),
                ),
            ],
            8,
            y,
        ),
        widget(
            format!("{name}: records written, superseded, dead-lettered by reason"),
            "Sum",
            records,
            16,
            y,
        ),
    ]
}

/// The dead-letter queues, then the tables, one widget each, flowing three to a row from `y`.
fn queue_and_table_grid(p: &Pipeline, mut y: u32) -> Vec<Value> {
    let mut widgets = Vec::new();
    let mut x = 0;
    for q in p.queues.values() {
        widgets.push(queue_widget(q, x, y));
        (x, y) = next_cell(x, y);
    }
    for t in p.tables.values() {
        widgets.push(table_widget(t, x, y));
        (x, y) = next_cell(x, y);
    }
    widgets
}

/// The grid cell after (`x`, `y`): the next column, or the start of the next row.
fn next_cell(x: u32, y: u32) -> (u32, u32) {
    let x = (x + WIDTH) % COLUMNS;
    (x, if x == 0 { y + HEIGHT } else { y })
}

/// A dead-letter queue: letters waiting, and the oldest's age.
fn queue_widget(q: &Queue, x: u32, y: u32) -> Value {
    let dims = vec!["QueueName".to_string(), q.physical_name.clone()];
    widget(
        format!("{}: dead letters waiting, oldest (s)", q.physical_name),
        "Maximum",
        vec![
            metric(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                &dims,
                json!({"label": "messages"}),
            ),
            metric(
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                &dims,
                json!({"label": "oldest (s)", "yAxis": "right"}),
            ),
        ],
        x,
        y,
    )
}

/// A table: the writer's throttled puts and DynamoDB's failures of them.
fn table_widget(t: &Table, x: u32, y: u32) -> Value {
    let dims = vec!["TableName".to_string(), t.physical_name.clone()];
    widget(
        format!("{}: write throttles, system errors", t.physical_name),
        "Sum",
        vec![
            metric(
                "AWS/DynamoDB",
                "WriteThrottleEvents",
                &dims,
                json!({"label": "write throttles"}),
            ),
            metric(
                "AWS/DynamoDB",
                "SystemErrors",
                &[
                    dims[0].clone(),
                    dims[1].clone(),
                    "Operation".into(),
                    "PutItem".into(),
                ],
                json!({"label": "PutItem system errors"}),
            ),
        ],
        x,
        y,
    )
}

/// One series: a metric with its dimensions (name, value, name, value…) and its options.
fn metric(namespace: &str, name: &str, dims: &[String], options: Value) -> Value {
    let mut row = vec![Value::from(namespace), Value::from(name)];
    row.extend(dims.iter().map(|d| Value::from(d.as_str())));
    row.push(options);
    Value::Array(row)
}

fn widget(title: String, stat: &str, series: Vec<Value>, x: u32, y: u32) -> Value {
    json!({
        "type": "metric",
        "x": x,
        "y": y,
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": REGION_MARKER,
            "view": "timeSeries",
            "stat": stat,
            "period": PERIOD,
            "metrics": series,
        },
    })
}

/// Stands for the region until the body is escaped (it has no `${`, so escaping leaves it alone).
const REGION_MARKER: &str = "@@region@@";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::alarms::tests::pipeline;

    #[test]
    fn the_dashboard_is_json_with_the_region_as_its_only_reference() {
        let text = dashboard(&pipeline(""));
        assert_eq!(
            text.matches("${").count(),
            text.matches("\"${region}\"").count()
        );
        let rendered = text.replace("${region}", "eu-west-1");
        let body: Value = serde_json::from_str(&rendered).unwrap();
        let widgets = body["widgets"].as_array().unwrap();
        let titles: Vec<&str> = widgets
            .iter()
            .map(|w| w["properties"]["title"].as_str().unwrap())
            .collect();
        for expected in [
            "API requests",
            "API 4XX / 5XX",
            "API latency (ms)",
            "demo-Events: incoming records",
            "demo-Events: iterator age (ms)",
            "demo-writer: errors, throttles",
            "demo-writer: records written, superseded, dead-lettered by reason",
            "demo-Dead: dead letters waiting, oldest (s)",
            "demo-Items: write throttles, system errors",
        ] {
            assert!(
                titles.contains(&expected),
                "{expected} missing from {titles:?}"
            );
        }
        for w in widgets {
            assert_eq!(w["properties"]["region"], "eu-west-1");
            let x = w["x"].as_u64().unwrap();
            assert!(
                x + w["width"].as_u64().unwrap() <= 24,
                "widget off the grid"
            );
        }
        assert!(rendered.contains(&metrics::dead_lettered(Reason::ItemTooLarge)));
    }
}
