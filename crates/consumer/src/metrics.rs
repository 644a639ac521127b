//! A batch's counts ([`BatchStats`]) and their CloudWatch Embedded Metric Format line.

use serde_json::{Map, Value};

use crate::Reason;

/// Counts of one batch, as logged. `records = written + superseded + skipped + dead_lettered + retried`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchStats {
    pub records: usize,
    pub written: usize,
    /// Not written because an item of the same key with a higher sequence number won: a later record of
    /// the batch, or the item already in the table.
    pub superseded: usize,
    /// Records a consumer function skipped (the stock writer skips none).
    pub skipped: usize,
    pub dead_lettered: usize,
    /// Of `dead_lettered`, those whose data went to the dead-letter bucket (message too large for the queue).
    pub dead_letter_data_stored: usize,
    /// Records reported in `batchItemFailures`.
    pub retried: usize,
    /// Of `retried`, permanent failures held back behind a transient failure (dead-lettered when redelivered).
    pub held_back: usize,
    /// Put retries for unprocessed (throttled) items.
    pub write_retries: usize,
    /// Of `dead_lettered`, how many for each reason, in the order of [`Reason::ALL`].
    pub dead_lettered_by_reason: [usize; Reason::ALL.len()],
}

impl BatchStats {
    pub(crate) fn count_dead_letter(&mut self, reason: Reason) {
        if let Some(i) = Reason::ALL.iter().position(|r| *r == reason) {
            self.dead_lettered_by_reason[i] += 1;
        }
    }

    /// How many records were dead-lettered for `reason`.
    pub fn dead_lettered_for(&self, reason: Reason) -> usize {
        Reason::ALL
            .iter()
            .position(|r| *r == reason)
            .map_or(0, |i| self.dead_lettered_by_reason[i])
    }

    /// The batch's counts as one CloudWatch Embedded Metric Format document (one line of JSON): the
    /// [`sluice_contract::metrics`] names in their namespace, with the function's name as the
    /// dimension, at `timestamp_ms` (milliseconds since the epoch). CloudWatch Logs turns the line into
    /// metrics when the function prints it to stdout: no API call, no client. Per-reason dead-letter counts
    /// appear only when not zero (each metric name is a custom metric CloudWatch bills for).
    pub fn emf_line(&self, function_name: &str, duration_ms: u64, timestamp_ms: i64) -> String {
        use sluice_contract::metrics as m;
        let mut root = Map::new();
        let mut metrics = Vec::new();
        let mut count = |root: &mut Map<String, Value>, name: String, value: usize| {
            metrics.push(serde_json::json!({ "Name": name, "Unit": m::COUNT_UNIT }));
            root.insert(name, Value::from(value));
        };
        count(&mut root, m::RECORDS.into(), self.records);
        count(&mut root, m::WRITTEN.into(), self.written);
        count(&mut root, m::SUPERSEDED.into(), self.superseded);
        if self.skipped > 0 {
            count(&mut root, m::SKIPPED.into(), self.skipped);
        }
        count(&mut root, m::RETRIED.into(), self.retried);
        count(&mut root, m::DEAD_LETTERED.into(), self.dead_lettered);
        for reason in Reason::ALL {
            let n = self.dead_lettered_for(reason);
            if n > 0 {
                count(&mut root, m::dead_lettered(reason), n);
            }
        }
        metrics.push(serde_json::json!({ "Name": m::BATCH_DURATION, "Unit": m::DURATION_UNIT }));
        root.insert(m::BATCH_DURATION.into(), Value::from(duration_ms));
        root.insert(m::DIMENSION.into(), Value::from(function_name));
        root.insert(
            "_aws".into(),
            serde_json::json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": m::NAMESPACE,
                    "Dimensions": [[m::DIMENSION]],
                    "Metrics": metrics,
                }],
            }),
        );
        Value::Object(root).to_string()
    }
}
