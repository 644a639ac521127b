//! `status --local`: the local pipeline's state, read with `sluice_local::inspect`, as the [`Status`] model.

use std::path::Path;

use miette::miette;
use sluice_config::Pipeline;
use sluice_local::inspect::{self, Inspector};

use super::{
    AlarmStatus, ConsumerStatus, QueueStatus, Status, StreamStatus, TableStatus, queue_alarm_name,
};

/// The status of the local pipeline, from its state dir.
pub fn local_status(pipeline: &Pipeline, state_dir: &Path) -> miette::Result<Status> {
    let inspector = Inspector::open(state_dir).map_err(|e| miette!("{e}"))?;
    let now = sluice_local::now_ms();
    let snap = inspector
        .snapshot(pipeline, now)
        .map_err(|e| miette!("{e}"))?;
    Ok(from_snapshot(pipeline, &snap))
}

/// Turns a local snapshot into the status model; local alarms are the generated alarms whose rule the
/// local state can evaluate (a dead-letter queue with messages).
pub fn from_snapshot(pipeline: &Pipeline, snap: &inspect::Snapshot) -> Status {
    let now = snap.taken_ms;
    let window_s = inspect::RECENT_WINDOW_MS / 1000;
    let per_s = |n: u64| n as f64 / window_s as f64;
    let streams = snap
        .streams
        .iter()
        .map(|s| StreamStatus {
            physical_name: pipeline.streams[&s.name].physical_name.clone(),
            name: s.name.clone(),
            shards: Some(s.shards.len() as u32),
            incoming_records_per_s: Some(per_s(s.shards.iter().map(|x| x.records_recent).sum())),
        })
        .collect();
    let consumers = snap
        .consumers
        .iter()
        .map(|c| ConsumerStatus {
            function_name: pipeline.consumers[&c.name].function_name.clone(),
            name: c.name.clone(),
            stream: c.stream.clone(),
            records_behind: Some(c.shards.iter().map(|s| s.records_behind).sum()),
            iterator_age_ms: Some(
                c.shards
                    .iter()
                    .filter_map(|s| s.oldest_unprocessed_arrival_ms)
                    .min()
                    .map_or(0, |oldest| (now - oldest).max(0)),
            ),
        })
        .collect();
    let mut alarms = Vec::new();
    let queues = snap
        .queues
        .iter()
        .map(|q| {
            let physical = pipeline.queues[&q.name].physical_name.clone();
            if q.messages > 0 {
                alarms.push(AlarmStatus {
                    name: queue_alarm_name(&physical),
                    reason: format!("Dead letters are waiting on {physical}."),
                    since_ms: q.oldest_sent_ms,
                });
            }
            QueueStatus {
                name: q.name.clone(),
                physical_name: physical,
                messages: Some(q.messages),
                messages_in_flight: Some(0),
                oldest_age_ms: q.oldest_sent_ms.map(|t| (now - t).max(0)),
            }
        })
        .collect();
    let tables = snap
        .tables
        .iter()
        .map(|t| TableStatus {
            physical_name: pipeline.tables[&t.name].physical_name.clone(),
            name: t.name.clone(),
            items: Some(t.items),
            writes_per_s: Some(per_s(t.items_received_recently)),
            newest_received_at_ms: t.newest_received_at_ms,
        })
        .collect();
    Status {
        target: "local",
        pipeline: pipeline.name.clone(),
        taken_at_ms: now,
        window_s,
        streams,
        consumers,
        dead_letter_queues: queues,
        tables,
        alarms,
        errors: Vec::new(),
    }
}
