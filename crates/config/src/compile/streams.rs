//! `[streams.*]`: Kinesis streams — names, capacity mode and shards, retention, KMS key.

use std::collections::BTreeMap;

use toml::Spanned;

use super::checker::Checker;
use crate::raw::RawStream;
use crate::settings;
use crate::{Stream, StreamCapacity};

pub(super) fn streams(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawStream>>,
    prefix: &str,
) -> BTreeMap<String, Stream> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        c.name(k, &settings::STREAM_NAME, prefix);
        let s = v.get_ref();
        let on_demand = c.choice_or_default(&s.mode, &settings::STREAM_MODE) == "on-demand";
        let capacity = if on_demand {
            if let Some(sc) = &s.shard_count {
                c.err(
                    sc.span(),
                    format!(
                        "stream \"{}\" is on-demand, so `shard_count` does not apply",
                        k.get_ref()
                    ),
                    Some("remove `shard_count`, or set mode = \"provisioned\"".into()),
                );
            }
            StreamCapacity::OnDemand
        } else {
            StreamCapacity::Provisioned {
                shard_count: c.uint(&s.shard_count, &settings::SHARD_COUNT),
            }
        };
        if let Some(arn) = &s.kms_key_arn {
            let a = arn.get_ref();
            if !(a.starts_with("arn:") && (a.contains(":key/") || a.contains(":alias/"))) {
                c.err(
                    arn.span(),
                    format!("`kms_key_arn` is \"{a}\", which is not a KMS key or alias ARN"),
                    Some(
                        "e.g. \"arn:aws:kms:eu-west-1:123456789012:key/…\"; leave it out for the AWS-managed key"
                            .into(),
                    ),
                );
            }
        }
        out.insert(
            k.get_ref().clone(),
            Stream {
                name: k.get_ref().clone(),
                physical_name: format!("{prefix}{}", k.get_ref()),
                capacity,
                retention_hours: c.uint(&s.retention_hours, &settings::RETENTION_HOURS),
                kms_key_arn: s.kms_key_arn.as_ref().map(|a| a.get_ref().clone()),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn a_provisioned_stream_takes_its_shards() {
        let p = valid(&base_with(
            "[streams.Events]\n",
            "[streams.Events]\nshard_count = 3\n",
        ));
        assert_eq!(
            p.streams["Events"].capacity,
            StreamCapacity::Provisioned { shard_count: 3 }
        );
        assert_eq!(p.streams["Events"].physical_name, "demo-Events");
    }

    #[test]
    fn on_demand_refuses_shards_and_the_key_must_be_an_arn() {
        let src = base_and(
            "\n[streams.Other]\nmode = \"on-demand\"\nshard_count = 2\nkms_key_arn = \"mine\"\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(
                    19,
                    15,
                    "stream \"Other\" is on-demand, so `shard_count` does not apply"
                ),
                at(
                    20,
                    15,
                    "`kms_key_arn` is \"mine\", which is not a KMS key or alias ARN"
                ),
            ]
        );
    }

    #[test]
    fn a_stream_name_is_of_aws_characters() {
        let src = base_and("\n[streams.\"a b\"]\n");
        assert_eq!(
            errors(&src),
            vec![at(
                17,
                10,
                "stream name \"a b\" contains ' '; Kinesis allows letters, digits, '-', '_' and '.'"
            ),]
        );
    }
}
