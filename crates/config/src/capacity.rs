//! Whether a pipeline carries a load: for every stage, stream, consumer, table and dead-letter queue, what the
//! load needs, what the configuration gives (AWS's limits from `sluice_contract::limits`), and the headroom.
//! `cargo xtask plan` prints these findings with costs; `cargo xtask validate` prints the ones that fail at
//! the stage's own throttle rate as warnings at the config line they refer to.
//!
//! The model is deliberately simple and conservative, and says so in each finding:
//! - the whole load may go to any one stream a route can write to (a route that takes its stream from the
//!   path is assumed to send everything to one of them);
//! - a consumer's lanes (shards × parallelization factor) each have one batch in flight, and a full batch of
//!   `batch_size` records takes the writer `batch_ms` (scaled by the batch's size relative to 100 records);
//! - an item is about the request body plus the attributes the writer adds.

use sluice_contract::envelope::{self, Received};
use sluice_contract::limits::{
    MAX_ITEM_BYTES, SHARD_READ_BYTES_PER_SECOND, SHARD_WRITE_BYTES_PER_SECOND,
    SHARD_WRITE_RECORDS_PER_SECOND, WRITE_UNIT_BYTES,
};
use sluice_contract::writer::attribute;

use crate::{Billing, Pipeline, StreamCapacity};

/// A target load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// Steady events per second arriving at the API (all routes together).
    pub rate: f64,
    /// Size of each request body, in bytes.
    pub body_bytes: u64,
    /// Peak over steady (1 = no peak): the configuration must carry `rate × peak`.
    pub peak: f64,
    /// The writer's time for a batch of 100 records, in milliseconds.
    pub batch_ms: f64,
}

impl Load {
    /// Events per second at the peak.
    pub fn peak_rate(&self) -> f64 {
        self.rate * self.peak.max(1.0)
    }
}

/// How a finding comes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Carried with room to spare.
    Ok,
    /// Carried, but with less than 20 % headroom, or only thanks to burst or on-demand scaling.
    Tight,
    /// Not carried: requests are throttled, records fall behind, or data goes to the dead-letter queue.
    Fails,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Component {
    Stage,
    Stream,
    Consumer,
    Table,
    Queue,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Stage => "stage",
            Component::Stream => "stream",
            Component::Consumer => "consumer",
            Component::Table => "table",
            Component::Queue => "queue",
        }
    }
}

/// One check of the load against the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub component: Component,
    /// The component's name in pipeline.toml (the stage's name for the stage).
    pub name: String,
    /// What is checked ("write capacity units").
    pub what: String,
    /// What the load needs, in `unit`.
    pub needed: f64,
    /// What the configuration gives, in `unit` (`f64::INFINITY` for "scales as needed").
    pub available: f64,
    pub unit: &'static str,
    pub verdict: Verdict,
    /// One sentence for a person: why, and what to change.
    pub note: String,
    /// Where in pipeline.toml the setting is (table names and keys), for located warnings.
    pub key_path: Vec<String>,
}

impl Finding {
    /// `available / needed` (infinite when nothing is needed).
    pub fn headroom(&self) -> f64 {
        if self.needed <= 0.0 {
            f64::INFINITY
        } else {
            self.available / self.needed
        }
    }
}

fn verdict(needed: f64, available: f64) -> Verdict {
    if needed > available {
        Verdict::Fails
    } else if needed > available / 1.2 {
        Verdict::Tight
    } else {
        Verdict::Ok
    }
}

/// Bytes of a Kinesis record for a body of `body_bytes`: the envelope around it and the partition key (a
/// UUID-sized key is assumed).
pub fn record_bytes(body_bytes: u64) -> u64 {
    let overhead = envelope::encode(&Received {
        received_at_ms: 1_732_752_000_123,
        request_id: "00000000-0000-0000-0000-000000000000",
        source_ip: "203.0.113.100",
        body: "",
    })
    .len() as u64;
    body_bytes + overhead + 36
}

/// DynamoDB's size of the item the writer makes of a body of `body_bytes` (the body as a map, about its JSON
/// size, plus the attributes the writer sets and a UUID-sized key).
pub fn item_bytes(body_bytes: u64) -> u64 {
    let names: usize = attribute::ALL.iter().map(|a| a.len()).sum();
    // Values: receivedAt (number), requestId (36), sourceIp (~15), sequenceNumber (56), shardId (20),
    // arrivalTime (number); the key attribute's name and value.
    body_bytes + names as u64 + 8 + 36 + 15 + 56 + 20 + 8 + 7 + 36
}

/// DynamoDB's write capacity units for one item of `bytes`.
pub fn write_units(bytes: u64) -> u64 {
    bytes.div_ceil(WRITE_UNIT_BYTES as u64).max(1)
}

/// Every finding for `load` on `p`, in pipeline order.
pub fn assess(p: &Pipeline, load: &Load) -> Vec<Finding> {
    let rate = load.peak_rate();
    let record = record_bytes(load.body_bytes) as f64;
    let mut out = Vec::new();

    let throttle = p.api.throttle_rate_limit;
    out.push(Finding {
        component: Component::Stage,
        name: p.stage.clone(),
        what: "requests per second (stage throttle)".into(),
        needed: rate,
        available: throttle,
        unit: "req/s",
        verdict: verdict(rate, throttle),
        note: format!(
            "API Gateway answers 429 above `throttle_rate_limit` ({throttle} req/s, bursts of {})",
            p.api.throttle_burst_limit
        ),
        key_path: vec!["pipeline".into(), "throttle_rate_limit".into()],
    });

    // Streams some route writes to: the whole load may go to any one of them.
    let routed: std::collections::BTreeSet<&str> =
        p.routes.values().flat_map(|r| r.streams()).collect();
    for name in &routed {
        let Some(stream) = p.streams.get(*name) else {
            continue;
        };
        let by_records = rate / SHARD_WRITE_RECORDS_PER_SECOND as f64;
        let by_bytes = rate * record / SHARD_WRITE_BYTES_PER_SECOND as f64;
        // Headroom by use: 50 records/s on one shard use 5 % of it (needed 0.05 shards, 20× headroom), not
        // "one whole shard of one".
        let needed = by_records.max(by_bytes);
        let (available, verdict_, key, note) = match stream.capacity {
            StreamCapacity::Provisioned { shard_count } => {
                let available = f64::from(shard_count);
                (
                    available,
                    verdict(needed, available),
                    "shard_count",
                    format!(
                        "each shard takes {SHARD_WRITE_RECORDS_PER_SECOND} records/s or 1 MiB/s; {rate:.0} records/s of {record:.0} bytes use {needed:.2} shards' worth of {available:.0}"
                    ),
                )
            }
            StreamCapacity::OnDemand => {
                let initial = f64::from(stream.shard_count());
                let v = if needed > initial {
                    Verdict::Tight
                } else {
                    Verdict::Ok
                };
                (
                    f64::INFINITY,
                    v,
                    "mode",
                    format!(
                        "on-demand starts at {initial:.0} shards' worth and scales to twice its previous peak; a sudden load over that is throttled while it grows"
                    ),
                )
            }
        };
        out.push(Finding {
            component: Component::Stream,
            name: stream.name.clone(),
            what: "shards".into(),
            needed,
            available,
            unit: "shards",
            verdict: verdict_,
            note,
            key_path: vec!["streams".into(), stream.name.clone(), key.into()],
        });
    }

    for consumer in p.consumers.values() {
        let Some(stream) = p.streams.get(&consumer.stream) else {
            continue;
        };
        let stream_rate = if routed.contains(consumer.stream.as_str()) {
            rate
        } else {
            0.0
        };
        let lanes = f64::from(stream.shard_count()) * f64::from(consumer.parallelization_factor);
        let batch = f64::from(consumer.batch_size.max(1));
        let batch_seconds = (load.batch_ms / 1000.0) * (batch / 100.0).max(0.1);
        let per_lane = batch / batch_seconds.max(0.001);
        let available = lanes * per_lane;
        out.push(Finding {
            component: Component::Consumer,
            name: consumer.name.clone(),
            what: "records per second written".into(),
            needed: stream_rate,
            available,
            unit: "records/s",
            verdict: verdict(stream_rate, available),
            note: format!(
                "{lanes:.0} lanes (shards × parallelization_factor) with one batch of up to {batch:.0} records in flight each, {:.0} ms per full batch; below the load the consumer falls behind until records age out",
                batch_seconds * 1000.0
            ),
            key_path: vec![
                "consumers".into(),
                consumer.name.clone(),
                "parallelization_factor".into(),
            ],
        });
        // Every consumer of a stream shares its read throughput.
        let readers = p
            .consumers
            .values()
            .filter(|c| c.stream == consumer.stream)
            .count()
            .max(1) as f64;
        let read_needed = stream_rate * record;
        let read_available =
            f64::from(stream.shard_count()) * SHARD_READ_BYTES_PER_SECOND as f64 / readers;
        if read_needed > 0.0 {
            out.push(Finding {
                component: Component::Consumer,
                name: consumer.name.clone(),
                what: "bytes per second read from the stream".into(),
                needed: read_needed,
                available: read_available,
                unit: "B/s",
                verdict: verdict(read_needed, read_available),
                note: format!(
                    "each shard gives 2 MiB/s to all its readers together ({readers:.0} consumer(s) read this stream)"
                ),
                key_path: vec!["consumers".into(), consumer.name.clone(), "stream".into()],
            });
        }
    }

    let item = item_bytes(load.body_bytes);
    for table in p.tables.values() {
        let writers: Vec<_> = p
            .consumers
            .values()
            .filter(|c| c.table == table.name && routed.contains(c.stream.as_str()))
            .collect();
        let items_per_second = rate * writers.len() as f64;
        if item as usize > MAX_ITEM_BYTES {
            out.push(Finding {
                component: Component::Table,
                name: table.name.clone(),
                what: "item size".into(),
                needed: item as f64,
                available: MAX_ITEM_BYTES as f64,
                unit: "bytes",
                verdict: Verdict::Fails,
                note: "over DynamoDB's 400 KB item limit: every such record goes to the dead-letter queue (ItemTooLarge)".into(),
                key_path: vec!["tables".into(), table.name.clone()],
            });
        }
        let needed = items_per_second * write_units(item) as f64;
        let (available, v, key, note) = match table.billing {
            Billing::Provisioned { write_capacity, .. } => {
                let available = f64::from(write_capacity);
                (
                    available,
                    verdict(needed, available),
                    "write_capacity",
                    format!(
                        "{items_per_second:.0} items/s of {item} bytes need {} write units each; DynamoDB keeps up to 300 s of unused capacity as burst, then throttles and the consumer falls behind",
                        write_units(item)
                    ),
                )
            }
            Billing::OnDemand => (
                f64::INFINITY,
                if needed > 4000.0 {
                    Verdict::Tight
                } else {
                    Verdict::Ok
                },
                "billing_mode",
                "on-demand: a new table takes 4,000 write units/s at once and scales from there"
                    .into(),
            ),
        };
        out.push(Finding {
            component: Component::Table,
            name: table.name.clone(),
            what: "write capacity units per second".into(),
            needed,
            available,
            unit: "WCU",
            verdict: v,
            note,
            key_path: vec!["tables".into(), table.name.clone(), key.into()],
        });
    }

    for queue in p.queues.values() {
        out.push(Finding {
            component: Component::Queue,
            name: queue.name.clone(),
            what: "messages per second (only failures arrive here)".into(),
            needed: 0.0,
            available: f64::INFINITY,
            unit: "msg/s",
            verdict: Verdict::Ok,
            note: format!(
                "SQS standard queues take nearly unlimited messages; each is kept {} days",
                queue.message_retention_seconds / 86_400
            ),
            key_path: vec!["queues".into(), queue.name.clone()],
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
[pipeline]
name = "cap"
region = "us-east-1"
throttle_rate_limit = 100

[streams.S]
shard_count = 1

[tables.T]
partition_key = { name = "id" }
billing_mode = "provisioned"
read_capacity = 5
write_capacity = 10

[queues.Q]

[routes.r]
path = "/r/{id}"
auth = "none"
stream = "S"
partition_key = { path_param = "id" }

[consumers.c]
stream = "S"
table = "T"
dead_letter_queue = "Q"
batch_size = 10
"#;

    fn load(rate: f64, body: u64) -> Load {
        Load {
            rate,
            body_bytes: body,
            peak: 1.0,
            batch_ms: 100.0,
        }
    }

    fn find<'a>(f: &'a [Finding], c: Component, what: &str) -> &'a Finding {
        f.iter()
            .find(|x| x.component == c && x.what.contains(what))
            .unwrap_or_else(|| panic!("no {c:?} {what} in {f:#?}"))
    }

    #[test]
    fn a_small_table_fails_at_the_stage_rate_and_passes_below_it() {
        let p = crate::parse(SMALL, "pipeline.toml").unwrap();
        let at_throttle = assess(&p, &load(100.0, 1000));
        let table = find(&at_throttle, Component::Table, "write capacity");
        assert_eq!(table.verdict, Verdict::Fails);
        assert_eq!(table.needed, 200.0, "1000-byte bodies make items over 1 KB");
        assert_eq!(table.key_path, ["tables", "T", "write_capacity"]);
        let slow = assess(&p, &load(4.0, 200));
        assert_eq!(
            find(&slow, Component::Table, "write capacity").verdict,
            Verdict::Ok
        );
        assert!(
            slow.iter().all(|f| f.verdict != Verdict::Fails),
            "{slow:#?}"
        );
    }

    #[test]
    fn shards_are_needed_by_records_or_bytes_whichever_is_more() {
        let p = crate::parse(SMALL, "pipeline.toml").unwrap();
        let many = assess(&p, &load(2500.0, 100));
        assert_eq!(find(&many, Component::Stream, "shards").needed, 2.5);
        assert_eq!(
            find(&many, Component::Stage, "requests").verdict,
            Verdict::Fails
        );
        let big = assess(&p, &load(10.0, 300_000));
        let by_bytes = find(&big, Component::Stream, "shards").needed;
        assert!(by_bytes > 2.8 && by_bytes < 3.0, "{by_bytes}");
        // Headroom by use: 50 records/s use 5 % of one shard.
        let light = assess(&p, &load(50.0, 100));
        let shard = find(&light, Component::Stream, "shards");
        assert!((shard.needed - 0.05).abs() < 1e-9, "{}", shard.needed);
        assert_eq!(shard.verdict, Verdict::Ok);
        assert!(
            !big.iter().any(|f| f.what == "item size"),
            "300 KB fits an item"
        );
        let huge = assess(&p, &load(1.0, 500_000));
        assert_eq!(
            find(&huge, Component::Table, "item size").verdict,
            Verdict::Fails
        );
    }

    #[test]
    fn the_consumer_is_limited_by_its_lanes_and_batch_time() {
        let p = crate::parse(SMALL, "pipeline.toml").unwrap();
        // One lane, batches of 10 taking 10 ms (100 ms per 100 records): 1000 records/s.
        let f = assess(&p, &load(900.0, 100));
        let c = find(&f, Component::Consumer, "records per second");
        assert!((c.available - 1000.0).abs() < 0.01, "{}", c.available);
        assert_eq!(c.verdict, Verdict::Tight);
        let f = assess(&p, &load(1500.0, 100));
        assert_eq!(
            find(&f, Component::Consumer, "records per second").verdict,
            Verdict::Fails
        );
    }

    #[test]
    fn record_and_item_sizes_include_what_the_pipeline_adds() {
        assert!(record_bytes(0) > 100 && record_bytes(0) < 250);
        assert_eq!(record_bytes(1000) - record_bytes(0), 1000);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(write_units(0), 1);
        assert!(item_bytes(0) > 100);
    }
}
