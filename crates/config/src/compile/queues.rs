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

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn a_queue_takes_its_retention() {
        let p = valid(&base_with(
            "[queues.Dead]\n",
            "[queues.Dead]\nmessage_retention_seconds = 600\n",
        ));
        assert_eq!(p.queues["Dead"].message_retention_seconds, 600);
        assert_eq!(p.queues["Dead"].physical_name, "demo-Dead");
    }

    #[test]
    fn name_and_retention_are_checked() {
        let src = base_and("\n[queues.\"a.b\"]\nmessage_retention_seconds = 1\n");
        assert_eq!(
            errors(&src),
            vec![
                at(
                    17,
                    9,
                    "queue name \"a.b\" contains '.'; SQS allows letters, digits, '-' and '_'"
                ),
                at(
                    18,
                    29,
                    "`message_retention_seconds` is 1, but must be between 60 and 1209600 (SQS's retention period, 1 minute to 14 days)"
                ),
            ]
        );
    }
}
