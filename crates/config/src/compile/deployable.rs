//! What only the whole pipeline shows and AWS would refuse or get wrong at apply or at run time, though each
//! section is valid on its own: names two parts would share, a writer whose reserved concurrency is below
//! what its event source mapping runs at once, and ARNs that cannot belong to the deployment.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use super::checker::Checker;
use crate::Pipeline;
use crate::names::{self, Owner};
use crate::raw::RawPipelineFile;

/// The placeholder accounts of AWS's documentation (IAM's policy examples): an ARN in one names nobody's
/// resource. (`123456789012`, also common in examples, is moto's account, so it stays usable in tests.)
const PLACEHOLDER_ACCOUNTS: [&str; 3] = ["111122223333", "444455556666", "777788889999"];

pub(super) fn check(c: &mut Checker, raw: &RawPipelineFile, p: &Pipeline) {
    collisions(c, raw, p);
    writer_concurrency(c, raw, p);
    arns(c, raw, p);
}

fn key_span<T>(map: &BTreeMap<Spanned<String>, Spanned<T>>, name: &str) -> Option<Range<usize>> {
    map.keys().find(|k| k.get_ref() == name).map(|k| k.span())
}

/// Where an owner is declared (a fixed name has no place; the other owner is then the one located).
fn owner_span(raw: &RawPipelineFile, owner: &Owner) -> Option<Range<usize>> {
    match owner {
        Owner::Fixed(_) => None,
        Owner::Stream(n) => key_span(&raw.streams, n),
        Owner::Table(n) => key_span(&raw.tables, n),
        Owner::Queue(n) => key_span(&raw.queues, n),
        Owner::Consumer(n) => key_span(&raw.consumers, n),
    }
}

fn collisions(c: &mut Checker, raw: &RawPipelineFile, p: &Pipeline) {
    for names::Collision {
        name,
        namespace,
        first,
        second,
    } in names::collisions(p)
    {
        // Located at the owner pipeline.toml declares (the later one when both are declared).
        let (here, other, span) = match (owner_span(raw, &second), owner_span(raw, &first)) {
            (Some(span), _) => (&second, &first, span),
            (None, Some(span)) => (&first, &second, span),
            (None, None) => continue,
        };
        c.err(
            span,
            format!("{here} and {other} would both get the {namespace} \"{name}\""),
            Some(format!(
                "rename one of them{}",
                if matches!(other, Owner::Fixed(_)) {
                    format!(
                        " (a consumer may not be named {})",
                        names::RESERVED_FUNCTION_NAMES
                            .map(|n| format!("\"{n}\""))
                            .join(", ")
                    )
                } else {
                    String::new()
                }
            )),
        );
    }
}

/// Each writer runs up to shards × `parallelization_factor` batches at once (for an on-demand stream, the
/// shards it starts with; it adds more under load). A reserved concurrency below that throttles the
/// mapping's invocations: under load records wait, age out and are dead-lettered.
fn writer_concurrency(c: &mut Checker, raw: &RawPipelineFile, p: &Pipeline) {
    for consumer in p.consumers.values() {
        let Some(reserved) = p.consumer_function(consumer).reserved_concurrency else {
            continue;
        };
        let Some(stream) = p.streams.get(&consumer.stream) else {
            continue;
        };
        let at_once = stream.shard_count() * consumer.parallelization_factor;
        if at_once <= reserved {
            continue;
        }
        let Some(raw_consumer) = raw
            .consumers
            .iter()
            .find(|(k, _)| k.get_ref() == &consumer.name)
            .map(|(k, v)| (k, v.get_ref()))
        else {
            continue;
        };
        let span = raw_consumer
            .1
            .parallelization_factor
            .as_ref()
            .map(|f| f.span())
            .unwrap_or_else(|| raw_consumer.0.span());
        let shards = match stream.capacity {
            crate::StreamCapacity::Provisioned { shard_count } => format!("{shard_count} shards"),
            crate::StreamCapacity::OnDemand => format!(
                "{} shards (what on-demand stream {} starts with; it adds more under load)",
                stream.shard_count(),
                stream.name
            ),
        };
        let whose = consumer
            .function
            .as_ref()
            .map_or_else(|| "the writer's".to_owned(), |f| format!("function {f}'s"));
        c.err(
            span,
            format!(
                "consumer {} runs up to {at_once} batches at once ({shards} × parallelization_factor {}), over {whose} reserved_concurrency of {reserved}: under load its invocations are throttled and records age out to the dead-letter queue",
                consumer.name, consumer.parallelization_factor
            ),
            Some(format!(
                "raise [functions.{}] reserved_concurrency to {at_once} or more (or -1, unreserved), or lower parallelization_factor",
                consumer.function.as_deref().unwrap_or("writer")
            )),
        );
    }
}

/// The KMS keys and the SNS topic pipeline.toml names: in the pipeline's region (a stream, queue, table or
/// topic cannot use a key in another), and not in one of AWS's documentation placeholder accounts.
fn arns(c: &mut Checker, raw: &RawPipelineFile, p: &Pipeline) {
    let pipeline = raw.pipeline.get_ref();
    let mut arns: Vec<(&Spanned<String>, &str)> = Vec::new();
    if let Some(k) = &pipeline.kms_key {
        arns.push((k, "kms_key"));
    }
    for s in raw.streams.values() {
        if let Some(k) = &s.get_ref().kms_key_arn {
            arns.push((k, "kms_key_arn"));
        }
    }
    if let Some(a) = &raw.alerts
        && let Some(t) = &a.get_ref().sns_topic_arn
    {
        arns.push((t, "sns_topic_arn"));
    }
    for (arn, key) in arns {
        let parts: Vec<&str> = arn.get_ref().split(':').collect();
        let [_, _, _, region, account, ..] = parts.as_slice() else {
            continue;
        };
        if !region.is_empty() && *region != p.region {
            c.err(
                arn.span(),
                format!(
                    "`{key}` is in region {region}, but the pipeline deploys to {}: AWS uses a key or topic only in its own region",
                    p.region
                ),
                Some(format!("give one in {}", p.region)),
            );
        } else if PLACEHOLDER_ACCOUNTS.contains(account) {
            c.err(
                arn.span(),
                format!(
                    "`{key}` is in account {account}, one of the placeholder accounts of AWS's documentation: it cannot belong to your deployment"
                ),
                Some("give the ARN of your own key or topic (`aws kms list-keys`, `aws sns list-topics`)".into()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn a_consumer_may_not_take_a_fixed_name_or_share_an_alarm_or_role_name() {
        // Line 16 on: two consumers whose names differ only in case (one IAM role), one named as the
        // authorizer, and one named as the stream it shares iterator-age alarms with.
        let consumer = |name: &str| {
            format!(
                "\n[consumers.{name}]\nstream = \"Events\"\ntable = \"Items\"\ndead_letter_queue = \"Dead\"\n"
            )
        };
        let src = base_and(&format!(
            "{}{}{}{}",
            consumer("writer"),
            consumer("Writer"),
            consumer("authorizer"),
            consumer("Events")
        ));
        assert_eq!(
            errors(&src),
            vec![
                at(
                    17,
                    12,
                    "[consumers.writer] and [consumers.Writer] would both get the function and IAM role name (IAM ignores case) \"demo-writer\""
                ),
                at(
                    27,
                    12,
                    "[consumers.authorizer] and the authorizer function would both get the function and IAM role name (IAM ignores case) \"demo-authorizer\""
                ),
                at(
                    32,
                    12,
                    "[consumers.Events] and [streams.Events] would both get the CloudWatch alarm name \"demo-Events-iterator-age\""
                ),
            ]
        );
    }

    #[test]
    fn a_writer_reserved_below_shards_times_parallelization_is_refused() {
        let src = base_with("[streams.Events]\n", "[streams.Events]\nshard_count = 3\n")
            .to_string()
            + "\n[functions.writer]\nreserved_concurrency = 5\n\n[consumers.w]\nstream = \"Events\"\ntable = \"Items\"\ndead_letter_queue = \"Dead\"\nparallelization_factor = 2\n";
        let found = errors(&src);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (25, 26));
        assert!(
            found[0].2.starts_with("consumer w runs up to 6 batches at once (3 shards × parallelization_factor 2), over the writer's reserved_concurrency of 5"),
            "{}",
            found[0].2
        );
        // Equal is enough, and unreserved has no ceiling.
        valid(&src.replace("reserved_concurrency = 5", "reserved_concurrency = 6"));
        valid(&src.replace("reserved_concurrency = 5", "reserved_concurrency = -1"));
        // On demand: the shards the stream starts with.
        let on_demand = src.replace("shard_count = 3", "mode = \"on-demand\"");
        assert!(errors(&on_demand)[0].2.contains(
            "runs up to 8 batches at once (4 shards (what on-demand stream Events starts with"
        ));
    }

    #[test]
    fn arns_in_another_region_or_a_placeholder_account_are_refused() {
        let src = base_with(
            "region = \"eu-west-1\"\n",
            "region = \"eu-west-1\"\nkms_key = \"arn:aws:kms:us-east-1:210987654321:key/k\"\n",
        )
        .replace(
            "[streams.Events]\n",
            "[streams.Events]\nkms_key_arn = \"arn:aws:kms:eu-west-1:111122223333:key/k\"\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(
                    4,
                    11,
                    "`kms_key` is in region us-east-1, but the pipeline deploys to eu-west-1: AWS uses a key or topic only in its own region"
                ),
                at(
                    7,
                    15,
                    "`kms_key_arn` is in account 111122223333, one of the placeholder accounts of AWS's documentation: it cannot belong to your deployment"
                ),
            ]
        );
        valid(
            &src.replace("us-east-1", "eu-west-1")
                .replace("111122223333", "210987654321"),
        );
    }
}
