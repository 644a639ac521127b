//! `RunningPipeline::reload` (what `cargo xtask dev --watch` does on a valid edit): new tables, queues,
//! streams, routes and consumers start working on the same address; what was stored stays; what is
//! removed stays on disk; requests sent all through the switch are answered.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::*;

/// The seed pipeline plus an audit route → AuditStream → audit-writer → AuditTable (dead letters: AuditQueue).
fn with_audit() -> String {
    format!(
        "{}
[streams.AuditStream]
mode = \"provisioned\"
shard_count = 1

[tables.AuditTable]
partition_key = {{ name = \"id\", type = \"S\" }}

[queues.AuditQueue]

[routes.audit]
method = \"PUT\"
path = \"/audit/{{id}}\"
auth = \"basic\"
stream = \"AuditStream\"
partition_key = {{ path_param = \"id\" }}

[consumers.audit-writer]
stream = \"AuditStream\"
table = \"AuditTable\"
dead_letter_queue = \"AuditQueue\"
starting_position = \"TRIM_HORIZON\"
",
        pipeline_toml(1, "")
    )
}

async fn put_audit(client: &reqwest::Client, base: &str, id: &str) -> reqwest::StatusCode {
    client
        .put(format!("{base}/prod/audit/{id}"))
        .basic_auth(USER, Some(PASS))
        .header("content-type", "application/json")
        .body(r#"{"who":"me"}"#)
        .send()
        .await
        .expect("the request is answered")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_and_removes_resources_without_losing_records_or_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut running = start_in(dir.path(), &pipeline_toml(1, ""), BTreeMap::new()).await;
    let base = running.base_url();
    let client = client();
    assert_eq!(
        submit(&client, &base, "before", SEED_BODY).await.status(),
        200
    );
    assert!(
        eventually(Duration::from_secs(10), || items(dir.path(), "EventTable")
            .contains_key("before"))
        .await
    );
    assert_eq!(put_audit(&client, &base, "a1").await, 404);

    // Requests keep coming while the pipeline switches: each is answered, none is refused.
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (client, base, stop) = (client.clone(), base.clone(), stop.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let status = submit(&client, &base, &format!("during-{n}"), SEED_BODY)
                    .await
                    .status();
                statuses.push(status.as_u16());
                // Well under the stage throttle.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let changes = running
        .reload(parse(&with_audit()))
        .await
        .expect("the reload succeeds");
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    let statuses = sender.await.unwrap();
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        changes.summary(),
        "route audit added; route submit: streams GatewayEventsStream → AuditStream, GatewayEventsStream; \
         consumer audit-writer added; stream AuditStream added; table AuditTable added; \
         queue AuditQueue added"
    );
    assert_eq!(running.base_url(), base);

    // The new route, stream, consumer and table work; what was stored before is there.
    assert_eq!(put_audit(&client, &base, "a1").await, 200);
    assert!(
        eventually(Duration::from_secs(10), || count(dir.path(), "AuditTable")
            == 1)
        .await
    );
    let events = items(dir.path(), "EventTable");
    assert!(events.contains_key("before"), "{events:?}");
    let during = statuses.len();
    assert!(
        eventually(Duration::from_secs(10), || {
            items(dir.path(), "EventTable").len() == 1 + during
        })
        .await,
        "every event accepted during the switch is stored"
    );

    // Back to the seed: the audit route is gone, its table and queue are kept (and said to be).
    let changes = running
        .reload(parse(&pipeline_toml(1, "")))
        .await
        .expect("the reload succeeds");
    assert!(
        changes
            .notes
            .iter()
            .any(|n| n.contains("table AuditTable") && n.contains("kept in pipeline.db")),
        "{changes:?}"
    );
    assert_eq!(put_audit(&client, &base, "a2").await, 404);
    assert_eq!(count(dir.path(), "AuditTable"), 1);
    assert_eq!(
        submit(&client, &base, "after", SEED_BODY).await.status(),
        200
    );
    assert!(
        eventually(Duration::from_secs(10), || items(dir.path(), "EventTable")
            .contains_key("after"))
        .await
    );
    running.shutdown().await;
}
