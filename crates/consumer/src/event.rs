//! The invocation payload: a Kinesis event read from its JSON, with exact arrival timestamps.

use serde_json::Value;

use crate::{ConsumerError, KinesisEvent};

/// Reads a Kinesis event from its JSON, with exact `approximateArrivalTimestamp`s.
///
/// `aws_lambda_events` 1.x reads the fraction of `approximateArrivalTimestamp` (seconds) as a count of
/// milliseconds whatever its length, so `1732752000.5` becomes `…000.005` and `1732752000.98` becomes `…000.098`
/// (and a fraction of more than three digits fails the whole event). This reads each timestamp as the decimal
/// number of seconds it is, rounded to milliseconds, and deserialises everything else with `aws_lambda_events`.
/// `main.rs` uses it; so should any caller that has the event as JSON.
pub fn kinesis_event_from_json(mut value: Value) -> Result<KinesisEvent, ConsumerError> {
    let mut arrivals: Vec<Option<i64>> = Vec::new();
    if let Some(records) = value.get_mut("Records").and_then(Value::as_array_mut) {
        for record in records {
            let field = record
                .get_mut("kinesis")
                .and_then(|k| k.get_mut("approximateArrivalTimestamp"));
            let millis = field.as_deref().and_then(seconds_to_millis);
            if let (Some(field), Some(millis)) = (field, millis) {
                // Whole seconds deserialise correctly; the exact value is put back below.
                *field = Value::from(millis.div_euclid(1000));
            }
            arrivals.push(millis);
        }
    }
    let mut event: KinesisEvent =
        serde_json::from_value(value).map_err(|e| ConsumerError::InvalidEvent(e.to_string()))?;
    for (record, millis) in event.records.iter_mut().zip(arrivals) {
        if let Some(time) = millis.and_then(chrono::DateTime::from_timestamp_millis) {
            record.kinesis.approximate_arrival_timestamp.0 = time;
        }
    }
    Ok(event)
}

/// Seconds since the epoch (a JSON number or numeric string) → milliseconds, rounded.
fn seconds_to_millis(value: &Value) -> Option<i64> {
    let seconds = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    let millis = (seconds * 1000.0).round();
    #[allow(clippy::cast_possible_truncation)]
    (millis.is_finite() && millis.abs() < 1.0e17).then_some(millis as i64)
}
