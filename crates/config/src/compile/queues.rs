//! `[queues.*]`: SQS dead-letter queues — names and message retention.

use std::collections::BTreeMap;

use toml::Spanned;

use super::checker::Checker;
use crate::Queue;
use crate::raw::RawQueue;
use crate::settings;

pub(super) fn queues(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawQueue>>,
    prefix: &str,
) -> BTreeMap<String, Queue> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        c.name(k, &settings::QUEUE_NAME, prefix);
        out.insert(
            k.get_ref().clone(),
            Queue {
                name: k.get_ref().clone(),
                physical_name: format!("{prefix}{}", k.get_ref()),
                message_retention_seconds: c.uint(
                    &v.get_ref().message_retention_seconds,
                    &settings::MESSAGE_RETENTION_SECONDS,
                ),
            },
        );
    }
    out
}
