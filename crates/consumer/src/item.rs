//! Items: their key ([`ItemKey`], [`key_value`], [`key_of`]), their size as DynamoDB counts it
//! ([`item_size`]), a record's metadata ([`RecordMeta`]), and the ordering rule's comparison of sequence
//! numbers ([`compare_sequence_numbers`]).

use serde_json::{Map, Value};
use sluice_contract::envelope::json_type;
use sluice_contract::limits::{MAX_PARTITION_KEY_VALUE_BYTES, MAX_SORT_KEY_VALUE_BYTES};

use crate::{KeyAttribute, KeyType, KinesisEventRecord, Permanent, Reason};

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

/// What the library knows about a record besides its data.
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

/// Where a key value comes from.
pub enum KeySource<'a> {
    /// The record's partition key, or a string member of the body (parsed for an `N` key).
    Text(&'a str),
    BodyMember(&'a Value),
}

/// A key attribute's value and its canonical text, or why it cannot be one.
pub fn key_value(
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

/// The key of an item a function wrote to a table of these keys: each key attribute is a member of the item
/// (a string, or a number or numeric string for an `N` key), normalised in place as [`key_value`] reads it.
pub fn key_of(
    item: &mut Item,
    partition_key: &KeyAttribute,
    sort_key: Option<&KeyAttribute>,
) -> Result<ItemKey, Permanent> {
    let mut member = |attribute: &KeyAttribute, max_bytes: usize, which: &str| {
        let value = item.get(&attribute.name).ok_or_else(|| {
            Permanent::new(
                Reason::MissingKey,
                format!(
                    "the item has no member {:?} for the {which} key",
                    attribute.name
                ),
            )
        })?;
        let (value, text) = key_value(attribute, KeySource::BodyMember(value), max_bytes)?;
        item.insert(attribute.name.clone(), value);
        Ok::<_, Permanent>(text)
    };
    let partition = member(partition_key, MAX_PARTITION_KEY_VALUE_BYTES, "partition")?;
    let sort = match sort_key {
        None => None,
        Some(sort_key) => Some(member(sort_key, MAX_SORT_KEY_VALUE_BYTES, "sort")?),
    };
    Ok(ItemKey { partition, sort })
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
