//! Records → items: the record contract's item for a record ([`item_from_envelope`], [`build_item`]), its key
//! ([`ItemKey`]), its size as DynamoDB counts it ([`item_size`]), and the ordering rule's comparison of
//! sequence numbers ([`compare_sequence_numbers`]).

use serde_json::{Map, Value};
use sluice_contract::envelope::json_type;
use sluice_contract::limits::{
    MAX_ITEM_BYTES, MAX_PARTITION_KEY_VALUE_BYTES, MAX_SORT_KEY_VALUE_BYTES,
};
use sluice_contract::writer::attribute;

use crate::{
    KeyAttribute, KeyType, KinesisEventRecord, Permanent, Reason, WriterConfig, decode_envelope,
};

/// An item as a plain JSON object (the seam type). The AWS table converts it with `serde_dynamo`; the local
/// runtime stores it as JSON.
pub type Item = Map<String, Value>;

/// The identity of an item in its table: the key values in canonical text (numbers normalised, so `1`, `1.0`
/// and `01` are one key, as in DynamoDB).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemKey {
    pub partition: String,
    pub sort: Option<String>,
}

/// What the writer knows about a record besides its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta<'a> {
    pub partition_key: &'a str,
    pub sequence_number: &'a str,
    /// `None` when the event does not say (the attribute is then left out).
    pub shard_id: Option<&'a str>,
    /// Milliseconds since the epoch.
    pub arrival_time: i64,
}

impl<'a> RecordMeta<'a> {
    pub fn of(record: &'a KinesisEventRecord) -> Self {
        RecordMeta {
            partition_key: &record.kinesis.partition_key,
            sequence_number: &record.kinesis.sequence_number,
            shard_id: shard_id(record),
            arrival_time: record
                .kinesis
                .approximate_arrival_timestamp
                .0
                .timestamp_millis(),
        }
    }
}

/// The shard id of a record: the part of `eventID` (`shardId-…:sequenceNumber`) before the colon.
pub fn shard_id(record: &KinesisEventRecord) -> Option<&str> {
    let event_id = record.event_id.as_deref()?;
    let (shard, _) = event_id.split_once(':')?;
    (!shard.is_empty()).then_some(shard)
}

/// The item for a record's data and metadata (the record contract's table), or why there can never be one.
/// The local runtime calls this too.
pub fn item_from_envelope(
    config: &WriterConfig,
    data: &[u8],
    meta: RecordMeta<'_>,
) -> Result<(ItemKey, Item), Permanent> {
    let envelope = decode_envelope(data)?;

    let (partition_value, partition_text) = key_value(
        &config.partition_key,
        KeySource::Text(meta.partition_key),
        MAX_PARTITION_KEY_VALUE_BYTES,
    )?;
    let sort = match &config.sort_key {
        None => None,
        Some(sort_key) => {
            let member = envelope.body.get(&sort_key.name).ok_or_else(|| {
                Permanent::new(
                    Reason::MissingKey,
                    format!(
                        "the body has no member {:?} for the sort key",
                        sort_key.name
                    ),
                )
            })?;
            Some((
                sort_key,
                key_value(
                    sort_key,
                    KeySource::BodyMember(member),
                    MAX_SORT_KEY_VALUE_BYTES,
                )?,
            ))
        }
    };

    let mut item = Item::new();
    item.insert(attribute::PAYLOAD.into(), Value::Object(envelope.body));
    if let Some(received_at) = envelope.received_at {
        item.insert(attribute::RECEIVED_AT.into(), received_at);
    }
    if let Some(request_id) = envelope.request_id {
        item.insert(attribute::REQUEST_ID.into(), Value::String(request_id));
    }
    if let Some(source_ip) = envelope.source_ip {
        item.insert(attribute::SOURCE_IP.into(), Value::String(source_ip));
    }
    item.insert(
        attribute::SEQUENCE_NUMBER.into(),
        Value::String(meta.sequence_number.to_owned()),
    );
    if let Some(shard) = meta.shard_id {
        item.insert(attribute::SHARD_ID.into(), Value::String(shard.to_owned()));
    }
    item.insert(
        attribute::ARRIVAL_TIME.into(),
        Value::from(meta.arrival_time),
    );
    // Keys last: they win over a traceability attribute of the same name.
    item.insert(config.partition_key.name.clone(), partition_value);
    let mut key = ItemKey {
        partition: partition_text,
        sort: None,
    };
    if let Some((sort_key, (value, text))) = sort {
        item.insert(sort_key.name.clone(), value);
        key.sort = Some(text);
    }

    let size = item_size(&item);
    if size > MAX_ITEM_BYTES {
        return Err(Permanent::new(
            Reason::ItemTooLarge,
            format!("the item would be about {size} bytes; DynamoDB's limit is {MAX_ITEM_BYTES}"),
        ));
    }
    Ok((key, item))
}

/// [`item_from_envelope`] for a Kinesis event record.
pub fn build_item(
    config: &WriterConfig,
    record: &KinesisEventRecord,
) -> Result<(ItemKey, Item), Permanent> {
    item_from_envelope(config, &record.kinesis.data.0, RecordMeta::of(record))
}

enum KeySource<'a> {
    /// The record's partition key, or a string member of the body (parsed for an `N` key).
    Text(&'a str),
    BodyMember(&'a Value),
}

/// A key attribute's value and its canonical text.
fn key_value(
    attribute: &KeyAttribute,
    source: KeySource<'_>,
    max_bytes: usize,
) -> Result<(Value, String), Permanent> {
    let name = &attribute.name;
    let bad = |detail: String| Permanent::new(Reason::BadKeyType, detail);
    let source = match source {
        KeySource::BodyMember(Value::String(s)) => KeySource::Text(s.as_str()),
        other => other,
    };
    match (attribute.kind, source) {
        (KeyType::S, KeySource::Text(s)) => {
            if s.is_empty() {
                return Err(bad(format!("key {name:?} is an empty string")));
            }
            if s.len() > max_bytes {
                return Err(bad(format!(
                    "key {name:?} is {} bytes; DynamoDB allows at most {max_bytes}",
                    s.len()
                )));
            }
            Ok((Value::String(s.to_owned()), s.to_owned()))
        }
        (KeyType::N, KeySource::Text(s)) => match canonical_number(s.trim()) {
            Some((value, text)) => Ok((value, text)),
            None => Err(bad(format!(
                "key {name:?} must be a number (N) that DynamoDB stores exactly, got {s:?}"
            ))),
        },
        (KeyType::N, KeySource::BodyMember(Value::Number(n))) => {
            match canonical_number(&n.to_string()) {
                Some((value, text)) => Ok((value, text)),
                None => Err(bad(format!(
                    "key {name:?} must be a number (N) that DynamoDB stores exactly"
                ))),
            }
        }
        (kind, KeySource::BodyMember(other)) => Err(bad(format!(
            "body member {name:?} is a {}, but the key is of type {kind:?}",
            json_type(other)
        ))),
    }
}

/// A JSON number and its canonical text for a decimal string, if it round-trips exactly: integers in the
/// `i64`/`u64` range, or decimals of at most 15 significant digits.
fn canonical_number(s: &str) -> Option<(Value, String)> {
    if let Ok(i) = s.parse::<i64>() {
        return Some((Value::from(i), i.to_string()));
    }
    if let Ok(u) = s.parse::<u64>() {
        return Some((Value::from(u), u.to_string()));
    }
    let digits = s.trim_start_matches(['+', '-']);
    let (mantissa, _) = digits.split_once(['e', 'E']).unwrap_or((digits, ""));
    if mantissa.is_empty() || !mantissa.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let significant = mantissa.trim_start_matches(['0', '.']).replace('.', "");
    if significant.trim_end_matches('0').len() > 15 {
        return None;
    }
    let f = s.parse::<f64>().ok().filter(|f| f.is_finite())?;
    let number = serde_json::Number::from_f64(f)?;
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        // An integer written as a decimal ("2.0", "1e3"): store and compare it as the integer.
        #[allow(clippy::cast_possible_truncation)]
        let i = f as i64;
        return Some((Value::from(i), i.to_string()));
    }
    Some((Value::Number(number), f.to_string()))
}

/// DynamoDB's size of an item (names + values, per the documented rules), slightly over-estimated for numbers.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::String(s) => s.len(),
        // Up to 38 significant digits: about one byte per two digits, plus one.
        Value::Number(n) => n.to_string().len().div_ceil(2) + 1,
        Value::Array(items) => 3 + items.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        Value::Object(members) => {
            3 + members
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
    }
}

/// Orders Kinesis sequence numbers (decimal strings of up to 128 bits) numerically.
pub fn compare_sequence_numbers(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}
