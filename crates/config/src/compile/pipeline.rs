//! `[pipeline]`: the name, region, stage, tags and the stage's API settings (throttle, access logs).

use std::collections::BTreeMap;

use toml::Spanned;

use super::checker::Checker;
use crate::ApiSettings;
use crate::raw::RawPipeline;
use crate::settings::{self, Limit};

/// `name`: the prefix of every AWS name, so of AWS's characters, and starting with a letter.
pub(super) fn name(c: &mut Checker, name: &Spanned<String>) -> String {
    c.name(name, &settings::PIPELINE_NAME, "");
    if !name
        .get_ref()
        .starts_with(|ch: char| ch.is_ascii_alphabetic())
        && !name.get_ref().is_empty()
    {
        c.err(
            name.span(),
            format!(
                "pipeline name \"{}\" must start with a letter",
                name.get_ref()
            ),
            None,
        );
    }
    name.get_ref().clone()
}

/// `stage`: a stage name, or the default.
pub(super) fn stage(c: &mut Checker, stage: Option<&Spanned<String>>) -> String {
    match stage {
        Some(s) => {
            c.name(s, &settings::STAGE_NAME, "");
            s.get_ref().clone()
        }
        None => match settings::STAGE.default {
            settings::DefaultValue::Str(d) => d.to_string(),
            _ => "prod".to_string(),
        },
    }
}

/// `[pipeline.tags]`: keys and values within AWS's tag limits.
pub(super) fn tags(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<String>>,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    for (k, v) in raw {
        if k.get_ref().is_empty() || k.get_ref().len() > 128 || k.get_ref().starts_with("aws:") {
            c.err(
                k.span(),
                format!(
                    "tag key \"{}\" must be 1 to 128 characters and not start with \"aws:\"",
                    k.get_ref()
                ),
                None,
            );
        }
        if v.get_ref().len() > 256 {
            c.err(
                v.span(),
                format!("tag `{}` has a value over 256 characters", k.get_ref()),
                None,
            );
        }
        for (text, what, span) in [
            (k.get_ref(), "key", k.span()),
            (v.get_ref(), "value", v.span()),
        ] {
            if let Some(bad) = text.chars().find(|ch| !tag_char(*ch)) {
                c.err(
                    span,
                    format!(
                        "tag {what} \"{text}\" contains {bad:?}, which IAM refuses in a tag (the stack's roles carry every tag)"
                    ),
                    Some(
                        "use letters, digits, spaces and _ . : / = + - @ (IAM's tag pattern [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)"
                            .into(),
                    ),
                );
            }
        }
        tags.insert(k.get_ref().clone(), v.get_ref().clone());
    }
    tags
}

/// A character IAM accepts in a tag key or value: its pattern `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`, the
/// strictest of the services the provider's `default_tags` reach.
fn tag_char(ch: char) -> bool {
    static TAG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]$").expect("IAM's tag pattern compiles")
    });
    TAG.is_match(ch.encode_utf8(&mut [0; 4]))
}

/// The stage's access logs and throttle, and whether to manage the account's API Gateway role.
pub(super) fn api_settings(c: &mut Checker, p: &RawPipeline) -> ApiSettings {
    ApiSettings {
        access_log_retention_days: c.log_retention(
            &p.access_log_retention_days,
            &settings::ACCESS_LOG_RETENTION_DAYS,
        ),
        throttle_rate_limit: throttle_rate(c, p.throttle_rate_limit.as_ref()),
        throttle_burst_limit: c.uint(&p.throttle_burst_limit, &settings::THROTTLE_BURST_LIMIT),
        manage_api_gateway_account: p
            .manage_api_gateway_account
            .unwrap_or(settings::MANAGE_API_GATEWAY_ACCOUNT.bool_default()),
    }
}

/// `throttle_rate_limit`: above 0, at most the setting's maximum.
fn throttle_rate(c: &mut Checker, v: Option<&Spanned<f64>>) -> f64 {
    let setting = &settings::THROTTLE_RATE_LIMIT;
    let (default, max) = match (setting.default, setting.limit) {
        (settings::DefaultValue::Float(d), Limit::Positive { max }) => (d, max),
        _ => (100.0, 1_000_000.0),
    };
    match v {
        None => default,
        Some(r) if *r.get_ref() > 0.0 && *r.get_ref() <= max => *r.get_ref(),
        Some(r) => {
            c.err(
                r.span(),
                format!(
                    "`{}` is {}, but must be above 0 and at most {max} {}",
                    setting.key,
                    r.get_ref(),
                    setting.bound_by
                ),
                None,
            );
            default
        }
    }
}

/// `region`: shaped like an AWS region name (`us-east-1`).
pub(super) fn region(c: &mut Checker, region: &Spanned<String>) {
    let r = region.get_ref();
    let parts: Vec<&str> = r.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|ch| ch.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|ch| ch.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if !ok {
        c.err(
            region.span(),
            format!("`region` is \"{r}\", which is not an AWS region name"),
            Some("e.g. \"us-east-1\" or \"eu-west-3\"".into()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn defaults_fill_what_is_left_out() {
        let p = valid(BASE);
        assert_eq!((p.name.as_str(), p.stage.as_str()), ("demo", "prod"));
        assert_eq!(p.api.throttle_rate_limit, 100.0);
        assert!(p.tags.is_empty());
    }

    #[test]
    fn name_region_stage_tags_and_api_settings_are_checked() {
        let src = base_with(
            "name = \"demo\"\nregion = \"eu-west-1\"\n",
            "name = \"9demo\"\nregion = \"europe\"\nstage = \"a b\"\nthrottle_rate_limit = 0.0\naccess_log_retention_days = 2\ntags = { \"aws:x\" = \"y\" }\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(2, 8, "pipeline name \"9demo\" must start with a letter"),
                at(
                    3,
                    10,
                    "`region` is \"europe\", which is not an AWS region name"
                ),
                at(
                    4,
                    9,
                    "stage name \"a b\" contains ' '; use letters, digits and '_'"
                ),
                at(
                    5,
                    23,
                    "`throttle_rate_limit` is 0, but must be above 0 and at most 1000000 requests/s"
                ),
                at(
                    6,
                    29,
                    "`access_log_retention_days` is 2, which CloudWatch Logs does not offer"
                ),
                at(
                    7,
                    10,
                    "tag key \"aws:x\" must be 1 to 128 characters and not start with \"aws:\""
                ),
            ]
        );
    }

    #[test]
    fn tags_take_only_what_iam_takes() {
        let src = base_with(
            "region = \"eu-west-1\"\n",
            "region = \"eu-west-1\"\ntags = { \"owner:team\" = \"Data ${platform}\", \"a#b\" = \"Équipe données 42 +-=@./:_\" }\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(
                    4,
                    25,
                    "tag value \"Data ${platform}\" contains '$', which IAM refuses in a tag (the stack's roles carry every tag)"
                ),
                at(
                    4,
                    45,
                    "tag key \"a#b\" contains '#', which IAM refuses in a tag (the stack's roles carry every tag)"
                ),
            ]
        );
    }
}
