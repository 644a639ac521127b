//! `dlq list` and `dlq show`: every message of a queue as a row (kind, reason, key, size, age, where its data
//! is), one message in full, and finding a message by id.

use base64::Engine as _;
use miette::miette;
use serde_json::Value;
use sluice_contract::RecordData;
use sluice_contract::consumer::QueueMessage;

use super::backend::Backend;
use super::message::Queued;

/// `5s`, `3m`, `2h`, `4d`.
fn age(sent_at_ms: i64) -> String {
    if sent_at_ms <= 0 {
        return "?".into();
    }
    let s = (sluice_local::now_ms() - sent_at_ms).max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// `shardId-000000000000/4959…0001`: a sequence number shortened for a table (the full one is in `show`).
fn short_seq(seq: &str) -> String {
    if seq.len() <= 16 {
        return seq.to_owned();
    }
    format!("{}…{}", &seq[..4], &seq[seq.len() - 8..])
}

/// The columns of `list` for one message.
fn row(m: &Queued) -> [String; 7] {
    match QueueMessage::from_json(&m.body) {
        Ok(QueueMessage::DeadLetter(d)) => {
            let (size, location) = match &d.data {
                RecordData::Inline(b64) => (
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_or(0, |d| d.len()),
                    "inline".to_owned(),
                ),
                RecordData::Stored(l) => (
                    usize::try_from(l.size).unwrap_or(usize::MAX),
                    format!("s3://{}/{}", l.bucket, l.key),
                ),
            };
            [
                m.id.clone(),
                "dead letter".into(),
                format!("{:?}", d.reason),
                format!(
                    "{} ({} {})",
                    d.partition_key,
                    d.shard_id,
                    short_seq(&d.sequence_number)
                ),
                format!("{size} B"),
                age(m.sent_at_ms),
                location,
            ]
        }
        Ok(QueueMessage::OnFailure(f)) => {
            let info = &f.kinesis_batch_info;
            [
                m.id.clone(),
                "on failure".into(),
                f.request_context.condition.as_str().into(),
                format!(
                    "{} {}..{}",
                    info.shard_id,
                    short_seq(&info.start_sequence_number),
                    short_seq(&info.end_sequence_number)
                ),
                format!("{} records", info.batch_size),
                age(m.sent_at_ms),
                format!(
                    "stream {}",
                    info.stream_arn
                        .rsplit_once(":stream/")
                        .map_or(info.stream_arn.as_str(), |(_, n)| n)
                ),
            ]
        }
        Err(e) => [
            m.id.clone(),
            "unreadable".into(),
            e.to_string(),
            String::new(),
            format!("{} B", m.body.len()),
            age(m.sent_at_ms),
            String::new(),
        ],
    }
}

/// `dlq list --follow`: the list, then each new message as a row (with its queue) as it arrives, until
/// Ctrl-C. New messages are found by id (a local queue's ids only grow).
pub(super) async fn follow(backend: &Backend, queues: &[String]) -> miette::Result<()> {
    list(backend, queues).await?;
    let mut seen: std::collections::BTreeSet<(String, String)> = Default::default();
    for queue in queues {
        for m in backend.all(queue).await? {
            seen.insert((queue.clone(), m.id));
        }
    }
    println!("following {} (Ctrl-C to stop)…", queues.join(", "));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
        }
        for queue in queues {
            for m in backend.all(queue).await? {
                if seen.insert((queue.clone(), m.id.clone())) {
                    let cells = row(&m);
                    println!("  {queue}  {}", cells.join("  ").trim_end());
                }
            }
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    }
}

pub(super) async fn list(backend: &Backend, queues: &[String]) -> miette::Result<()> {
    for queue in queues {
        let messages = backend.all(queue).await?;
        println!(
            "{} queue {queue}: {} message{}",
            backend.describe(),
            messages.len(),
            if messages.len() == 1 { "" } else { "s" }
        );
        if messages.is_empty() {
            continue;
        }
        let header = ["ID", "KIND", "REASON", "KEY", "SIZE", "AGE", "DATA"].map(String::from);
        let rows: Vec<[String; 7]> = std::iter::once(header)
            .chain(messages.iter().map(row))
            .collect();
        let widths: Vec<usize> = (0..7)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for r in &rows {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}", w = *w))
                .collect();
            println!("  {}", line.join("  ").trim_end());
        }
    }
    Ok(())
}

pub(super) async fn find(backend: &Backend, queues: &[String], id: &str) -> miette::Result<Queued> {
    for queue in queues {
        if let Some(m) = backend.all(queue).await?.into_iter().find(|m| m.id == id) {
            return Ok(m);
        }
    }
    Err(miette!(
        "no message `{id}` in {} (`cargo xtask dlq list` shows the ids)",
        queues.join(", ")
    ))
}

pub(super) async fn show(backend: &Backend, queues: &[String], id: &str) -> miette::Result<()> {
    let m = find(backend, queues, id).await?;
    let [_, kind, reason, key, size, age, data] = row(&m);
    println!("message {id} of queue {} ({kind}, sent {age} ago)", m.queue);
    println!("  reason: {reason}\n  key:    {key}\n  size:   {size}\n  data:   {data}");
    let body: Value = serde_json::from_str(&m.body).unwrap_or(Value::String(m.body.clone()));
    println!(
        "{}",
        serde_json::to_string_pretty(&body).unwrap_or_else(|_| m.body.clone())
    );
    Ok(())
}
