//! The writer's own CloudWatch metrics: what it counts per batch, under which names. The writer publishes
//! them as Embedded Metric Format log lines (one per batch, no API call); the generated alarms and the
//! dashboard read them back by these names, so the two cannot drift apart.

use crate::consumer::Reason;

/// The CloudWatch namespace of the writer's metrics.
pub const NAMESPACE: &str = "Sluice";

/// The one dimension of every writer metric: the writer function's name (`<pipeline>-<consumer>`), which
/// names the pipeline and the consumer at once.
pub const DIMENSION: &str = "FunctionName";

/// Records in the batch.
pub const RECORDS: &str = "Records";
/// Records written to the table.
pub const WRITTEN: &str = "RecordsWritten";
/// Records not written because a record of the same key with a higher sequence number won (done, not lost).
pub const SUPERSEDED: &str = "RecordsSuperseded";
/// Records a consumer function skipped (nothing to write; done). Published only when not zero.
pub const SKIPPED: &str = "RecordsSkipped";
/// Records reported back as batch item failures (transient failures; the event source mapping retries them).
pub const RETRIED: &str = "RecordsRetried";
/// Records sent to the dead-letter queue, every reason.
pub const DEAD_LETTERED: &str = "RecordsDeadLettered";
/// Milliseconds the batch took, from the event to the response.
pub const BATCH_DURATION: &str = "BatchDuration";

/// The unit of every count.
pub const COUNT_UNIT: &str = "Count";
/// The unit of [`BATCH_DURATION`].
pub const DURATION_UNIT: &str = "Milliseconds";

/// Records sent to the dead-letter queue for one reason: `RecordsDeadLettered.<Reason>` (published only when
/// not zero, so a pipeline pays for the reasons it meets).
pub fn dead_lettered(reason: Reason) -> String {
    format!("{DEAD_LETTERED}.{}", reason.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_metric_name() {
        let names: std::collections::BTreeSet<String> =
            Reason::ALL.iter().map(|r| dead_lettered(*r)).collect();
        assert_eq!(names.len(), Reason::ALL.len());
        assert!(names.contains("RecordsDeadLettered.NotJson"));
        // CloudWatch metric names: 1 to 255 ASCII characters.
        assert!(names.iter().all(|n| n.is_ascii() && n.len() <= 255));
    }
}
