//! `dlq hydrate` and `dlq redrive`: the records a message stands for (a dead letter's data, an on-failure
//! message's range read back from the stream, less what the consumer's filters skip), and putting them back
//! through the writer library or onto the stream — a message deleted only once its records are done.

use std::collections::HashSet;

use miette::miette;
use sluice_config::{Consumer, Pipeline};
use sluice_contract::consumer::QueueMessage;

use super::backend::Backend;
use super::list::find;
use super::message::{DlqError, Hydrated, Queued, Rec};
use super::writer::writer_config;
use super::{STOP_AFTER_ENV, STOP_EXIT_CODE};

/// What a redrive did with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// Every record done (written, superseded or dead-lettered anew): the message can go.
    Done(String),
    /// Kept: a transient failure, records gone, or a message dlq cannot act on.
    Kept(String),
}

/// The consumer a message belongs to: of its queue, reading its stream (`--consumer` when several do).
fn consumer_for<'p>(
    pipeline: &'p Pipeline,
    queue: &str,
    stream: &str,
    chosen: Option<&str>,
) -> Result<&'p Consumer, DlqError> {
    let name = stream.rsplit_once(":stream/").map_or(stream, |(_, n)| n);
    let candidates: Vec<&Consumer> = pipeline
        .consumers
        .values()
        .filter(|c| c.dead_letter_queue == queue)
        .filter(|c| {
            pipeline
                .streams
                .get(&c.stream)
                .is_some_and(|s| s.physical_name == name || s.name == name)
        })
        .filter(|c| chosen.is_none_or(|chosen| c.name == chosen))
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(DlqError::NoConsumer {
            chosen: chosen.map(str::to_owned),
            stream: name.to_owned(),
            queue: queue.to_owned(),
        }),
        many => Err(DlqError::SeveralConsumers {
            consumers: many
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            stream: name.to_owned(),
            queue: queue.to_owned(),
        }),
    }
}

/// The records a message stands for.
async fn records_of(
    backend: &Backend,
    pipeline: &Pipeline,
    m: &Queued,
    chosen: Option<&str>,
) -> Result<(&'static str, Hydrated, Option<Consumer>), DlqError> {
    match QueueMessage::from_json(&m.body).map_err(DlqError::Unreadable)? {
        QueueMessage::DeadLetter(d) => {
            let consumer = consumer_for(pipeline, &m.queue, &d.stream, chosen)
                .ok()
                .cloned();
            let hydrated = match backend.data(&d).await {
                Ok(data) => Hydrated::Records(vec![Rec {
                    stream_arn: d.stream.clone(),
                    shard_id: d.shard_id.clone(),
                    sequence_number: d.sequence_number.clone(),
                    partition_key: d.partition_key.clone(),
                    data,
                    arrival_ms: d.arrival_time,
                }]),
                Err(e) => Hydrated::Gone(e.to_string()),
            };
            Ok(("dead letter", hydrated, consumer))
        }
        QueueMessage::OnFailure(f) => {
            let info = &f.kinesis_batch_info;
            let consumer = consumer_for(pipeline, &m.queue, &info.stream_arn, chosen)?.clone();
            let hydrated = backend.range(pipeline, &consumer, info).await?;
            // Records the mapping's filters skip were never the consumer's: leave them out.
            let hydrated = match hydrated {
                Hydrated::Records(records) => Hydrated::Records(
                    records
                        .into_iter()
                        .filter(|r| {
                            sluice_local::event_source_mapping::filter::delivers(
                                &consumer.filters,
                                &r.partition_key,
                                &r.data,
                            )
                        })
                        .collect(),
                ),
                gone => gone,
            };
            Ok(("on failure", hydrated, Some(consumer)))
        }
    }
}

pub(super) async fn hydrate(
    backend: &Backend,
    pipeline: &Pipeline,
    queues: &[String],
    consumer: Option<&str>,
    id: &str,
) -> miette::Result<()> {
    let m = find(backend, queues, id).await?;
    let (_, hydrated, _) = records_of(backend, pipeline, &m, consumer)
        .await
        .map_err(|e| miette!("message {id}: {e}"))?;
    match hydrated {
        Hydrated::Records(records) => {
            for r in &records {
                println!("{}", r.to_json());
            }
            eprintln!("message {id}: {} record(s)", records.len());
            Ok(())
        }
        Hydrated::Gone(why) => Err(miette!("message {id}: the records are gone: {why}")),
    }
}

/// What `dlq redrive` was asked to do.
pub(super) struct RedriveOptions {
    pub dry_run: bool,
    pub to_stream: bool,
    pub only: Option<String>,
    pub consumer: Option<String>,
    pub stop_after: Option<usize>,
}

/// The identity of a dead letter's record: a replacement the writer sends during this run has it too.
fn record_identity(body: &str) -> Option<String> {
    match QueueMessage::from_json(body).ok()? {
        QueueMessage::DeadLetter(d) => Some(d.object_key()),
        QueueMessage::OnFailure(_) => None,
    }
}

pub(super) async fn redrive(
    backend: &Backend,
    pipeline: &Pipeline,
    queues: &[String],
    opts: &RedriveOptions,
) -> miette::Result<()> {
    let visibility = backend.visibility_timeout();
    let (mut done, mut kept, mut applied) = (0usize, 0usize, 0usize);
    for queue in queues {
        let mut seen: HashSet<String> = HashSet::new();
        let mut records_seen: HashSet<String> = HashSet::new();
        let mut hold: Vec<Queued> = Vec::new();
        let mut n = 0usize;
        loop {
            let page = backend.page(queue, &seen, visibility).await?;
            if page.is_empty() {
                break;
            }
            let local = backend.is_local();
            for m in page {
                seen.insert(m.id.clone());
                if opts.only.as_ref().is_some_and(|only| *only != m.id) {
                    hold.push(m);
                    continue;
                }
                if let Some(identity) = record_identity(&m.body)
                    && !records_seen.insert(identity)
                {
                    // A message for a record already handled in this run: the replacement just sent for a
                    // record that failed again, or a duplicate delivery. Left for the next run.
                    hold.push(m);
                    continue;
                }
                n += 1;
                let fate = redrive_one(backend, pipeline, &m, opts, &mut records_seen).await;
                match fate {
                    Fate::Done(what) => {
                        if opts.dry_run {
                            println!("[{queue} {n}] {}: would {what}", m.id);
                            hold.push(m);
                            continue;
                        }
                        applied += 1;
                        if opts.stop_after.is_some_and(|stop| applied >= stop) {
                            println!(
                                "[{queue} {n}] {}: {what}; stopping before the delete ({STOP_AFTER_ENV})",
                                m.id
                            );
                            std::process::exit(STOP_EXIT_CODE);
                        }
                        backend.delete(&m).await?;
                        done += 1;
                        println!("[{queue} {n}] {}: {what}; message deleted", m.id);
                    }
                    Fate::Kept(why) => {
                        kept += 1;
                        println!("[{queue} {n}] {}: kept: {why}", m.id);
                        hold.push(m);
                    }
                }
            }
            if local {
                break;
            }
        }
        backend.release(&hold).await;
    }
    if opts.dry_run {
        println!("dry run: nothing changed ({kept} message(s) would stay)");
        return Ok(());
    }
    println!("redrive: {done} message(s) done and deleted, {kept} kept");
    if kept > 0 {
        return Err(miette!(
            "{kept} message(s) could not be redriven (see above); they stay in the queue"
        ));
    }
    Ok(())
}

async fn redrive_one(
    backend: &Backend,
    pipeline: &Pipeline,
    m: &Queued,
    opts: &RedriveOptions,
    records_seen: &mut HashSet<String>,
) -> Fate {
    let (kind, hydrated, consumer) =
        match records_of(backend, pipeline, m, opts.consumer.as_deref()).await {
            Ok(r) => r,
            Err(e) => return Fate::Kept(e.to_string()),
        };
    let Some(consumer) = consumer else {
        return Fate::Kept(format!(
            "{kind}: no consumer of queue {} reads its stream (pick one with --consumer)",
            m.queue
        ));
    };
    let records = match hydrated {
        Hydrated::Records(records) => records,
        Hydrated::Gone(why) => return Fate::Kept(format!("{kind}: the records are gone: {why}")),
    };
    if records.is_empty() {
        return Fate::Done(format!("{kind}: no record to redrive (all filtered out)"));
    }
    // A record that fails again gets a new message in this queue: this run leaves it alone.
    for r in &records {
        records_seen.insert(sluice_contract::consumer::dead_letter_object_key(
            &r.stream_arn,
            &r.shard_id,
            &r.sequence_number,
        ));
    }
    if opts.to_stream {
        if opts.dry_run {
            return Fate::Done(format!(
                "put {} record(s) back onto stream {}",
                records.len(),
                consumer.stream
            ));
        }
        let mut last = String::new();
        for r in &records {
            match backend.put_record(pipeline, &consumer, r).await {
                Ok(seq) => last = seq,
                Err(e) => return Fate::Kept(format!("{kind}: {e}")),
            }
        }
        return Fate::Done(format!(
            "{} record(s) put back onto stream {} (last sequence number {last})",
            records.len(),
            consumer.stream
        ));
    }
    if opts.dry_run {
        let Some(table) = pipeline.tables.get(&consumer.table) else {
            return Fate::Kept(format!("consumer {} has no table", consumer.name));
        };
        let config = writer_config(table, table.name.clone());
        let failing: Vec<String> = records
            .iter()
            .filter_map(|r| sluice_writer::build_item(&config, &r.event_record()).err())
            .map(|p| p.to_string())
            .collect();
        return if failing.is_empty() {
            Fate::Done(format!(
                "write {} record(s) into table {}",
                records.len(),
                table.name
            ))
        } else {
            Fate::Done(format!(
                "write {} record(s) into table {}; {} would fail again ({})",
                records.len() - failing.len(),
                table.name,
                failing.len(),
                failing.join("; ")
            ))
        };
    }
    match backend.write(pipeline, &consumer, &records).await {
        Err(e) => Fate::Kept(e.to_string()),
        Ok((stats, reason)) if stats.retried > 0 => Fate::Kept(format!(
            "{} of {} record(s) failed transiently: {}",
            stats.retried,
            stats.records,
            reason.unwrap_or_else(|| "see the log".into())
        )),
        Ok((stats, _)) => {
            let mut parts = Vec::new();
            if stats.written > 0 {
                parts.push(format!("{} written", stats.written));
            }
            if stats.superseded > 0 {
                parts.push(format!("{} superseded by newer items", stats.superseded));
            }
            if stats.dead_lettered > 0 {
                parts.push(format!(
                    "{} failed again and were dead-lettered anew with their new reason",
                    stats.dead_lettered
                ));
            }
            Fate::Done(format!(
                "{kind} into table {}: {}",
                consumer.table,
                parts.join(", ")
            ))
        }
    }
}
