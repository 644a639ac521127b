//! The stock writer's mapping, the identity: a record of the record contract → one item of its table
//! ([`item_from_envelope`], [`build_item`]): the body as `payload`, the envelope's members and the stream's
//! metadata beside it, the key from the record's partition key and a member of the body.

use serde_json::Value;
use sluice_consumer::{KeySource, key_value};
use sluice_contract::limits::{
    MAX_ITEM_BYTES, MAX_PARTITION_KEY_VALUE_BYTES, MAX_SORT_KEY_VALUE_BYTES,
};
use sluice_contract::writer::attribute;

use crate::{
    Item, ItemKey, KinesisEventRecord, Permanent, Reason, RecordMeta, WriterConfig,
    decode_envelope, item_size,
};

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
