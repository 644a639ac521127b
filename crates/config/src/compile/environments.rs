//! `[environments.NAME]`: one pipeline.toml, several deployments (dev, staging, prod) that differ in a
//! documented set of settings ([`OVERRIDABLE`]). An environment's table is checked key by key against that
//! set, then merged into the parsed document before serde reads it, so an error in an overriding value
//! points at the environment's own line and every other check runs exactly as for the base pipeline.
//!
//! What an environment changes besides the keys it sets:
//! - its name: `pipeline.name` becomes `<name>-<environment>`, so every AWS name (functions, roles,
//!   streams, tables, the secret, the API) differs and several environments can share an account;
//! - a tag `environment = "<environment>"` on everything, unless the environment or the base sets one;
//! - `stream mode` or `billing_mode` set by the environment drops the base's `shard_count` or
//!   `read_capacity`/`write_capacity` (which the other mode does not take), unless the environment sets them;
//! - an inherited `[terraform.backend]` without a `key` of the environment's own gets the default key of
//!   the environment's name, never the base's key (two environments sharing one state would destroy each
//!   other's resources).

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::checker::list;
use crate::error::{ConfigError, line_col};
use crate::settings;

/// The settings an environment may override, as paths of keys; `*` is a name the base declares (a stream,
/// table, queue, consumer or function), or any tag key under `pipeline.tags`. A path ending in a table
/// (`waf`, `alerts`, `terraform.backend`) may also be given as a whole table.
pub const OVERRIDABLE: &[&str] = &[
    "pipeline.region",
    "pipeline.tags.*",
    "pipeline.kms_key",
    "pipeline.xray_tracing",
    "pipeline.throttle_rate_limit",
    "pipeline.throttle_burst_limit",
    "pipeline.access_log_retention_days",
    "pipeline.manage_api_gateway_account",
    "waf.rate_limit",
    "alerts.emails",
    "alerts.sns_topic_arn",
    "functions.*.memory_mb",
    "functions.*.timeout_seconds",
    "functions.*.reserved_concurrency",
    "functions.*.log_retention_days",
    "streams.*.mode",
    "streams.*.shard_count",
    "streams.*.retention_hours",
    "streams.*.kms_key_arn",
    "tables.*.billing_mode",
    "tables.*.read_capacity",
    "tables.*.write_capacity",
    "tables.*.point_in_time_recovery",
    "tables.*.deletion_protection",
    "queues.*.message_retention_seconds",
    "consumers.*.batch_size",
    "consumers.*.batching_window_seconds",
    "consumers.*.parallelization_factor",
    "consumers.*.maximum_record_age_seconds",
    "terraform.backend.bucket",
    "terraform.backend.key",
    "terraform.backend.region",
    "terraform.backend.use_lockfile",
    "terraform.backend.dynamodb_table",
];

/// The sections whose entries `*` names, and the entries that exist without being declared.
const NAMED: &[(&str, &[&str])] = &[
    ("functions", &["authorizer", "writer"]),
    ("streams", &[]),
    ("tables", &[]),
    ("queues", &[]),
    ("consumers", &[]),
];

/// An environment's name: it becomes part of every AWS name, so it is short and plain.
const ENV_NAME_MAX: usize = 12;

fn env_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() <= ENV_NAME_MAX
}

fn error(src: &str, span: Range<usize>, message: String, help: Option<String>) -> ConfigError {
    let (line, column) = line_col(src, span.start);
    ConfigError {
        message,
        span,
        line,
        column,
        help,
        file: None,
    }
}

/// Takes `[environments]` out of `root` and checks every environment's keys. With `chosen`, merges that
/// environment into `root` (the caller has checked it is declared). Returns the declared names, sorted.
pub(super) fn take(
    src: &str,
    root: &mut DeTable<'_>,
    chosen: Option<&str>,
    errors: &mut Vec<ConfigError>,
) -> Vec<String> {
    let Some(envs) = root.remove("environments") else {
        return Vec::new();
    };
    let envs_span = envs.span();
    let DeValue::Table(envs) = envs.into_inner() else {
        errors.push(error(
            src,
            envs_span,
            "`environments` must be a table of environments, e.g. [environments.prod]".into(),
            None,
        ));
        return Vec::new();
    };
    let base_name = root
        .get("pipeline")
        .and_then(|p| match p.get_ref() {
            DeValue::Table(t) => t.get("name"),
            _ => None,
        })
        .and_then(|n| match n.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => None,
        });
    let mut names = Vec::new();
    let mut selected = None;
    for (key, value) in envs.iter() {
        let name = key.get_ref().to_string();
        if !env_name_ok(&name) {
            errors.push(error(
                src,
                key.span(),
                format!("environment name `{name}` is not a plain lowercase name"),
                Some(format!(
                    "1 to {ENV_NAME_MAX} of a-z, 0-9 and '-', starting with a letter: it becomes part of every AWS name"
                )),
            ));
        } else if let Some(base) = &base_name {
            let full = format!("{base}-{name}");
            if full.len() > settings::PIPELINE_NAME.max {
                errors.push(error(
                    src,
                    key.span(),
                    format!(
                        "environment `{name}` would name its AWS resources `{full}-…`: over the pipeline name's {} characters",
                        settings::PIPELINE_NAME.max
                    ),
                    Some("shorten the environment's name or `pipeline.name`".into()),
                ));
            }
        }
        let DeValue::Table(table) = value.get_ref() else {
            errors.push(error(
                src,
                value.span(),
                format!("`environments.{name}` must be a table of the settings it overrides"),
                Some(format!(
                    "e.g. [environments.{name}.streams.<Name>] shard_count = 2"
                )),
            ));
            continue;
        };
        check(src, root, &name, table, &mut Vec::new(), errors);
        names.push(name.clone());
        if chosen == Some(name.as_str()) {
            selected = Some((key.span(), table.clone()));
        }
    }
    if let Some((span, table)) = selected {
        let env = chosen.unwrap_or_default();
        if table_at(&table, &["terraform", "backend", "key"]).is_none() {
            forget_backend_key(root);
        }
        merge(root, table, &mut Vec::new());
        rename(root, env, span);
    }
    names.sort();
    names
}

/// Whether `path` (with concrete names) matches a pattern of [`OVERRIDABLE`] exactly, or is a prefix of one
/// (a table on the way, `exact` false).
fn allowed(path: &[String], exact: bool) -> bool {
    OVERRIDABLE.iter().any(|pattern| {
        let parts: Vec<&str> = pattern.split('.').collect();
        let fits = path.len() <= parts.len()
            && path
                .iter()
                .zip(&parts)
                .all(|(key, part)| *part == "*" || part == key);
        fits && (path.len() == parts.len() || !exact)
    })
}

/// Every key of an environment's `table` at `path` is one it may set, and every name it uses is declared.
fn check(
    src: &str,
    base: &DeTable<'_>,
    env: &str,
    table: &DeTable<'_>,
    path: &mut Vec<String>,
    errors: &mut Vec<ConfigError>,
) {
    for (key, value) in table.iter() {
        path.push(key.get_ref().to_string());
        let is_table = matches!(value.get_ref(), DeValue::Table(_));
        if !allowed(path, !is_table) {
            errors.push(error(
                src,
                key.span(),
                format!(
                    "[environments.{env}] cannot set `{}`",
                    path.join(".")
                ),
                Some(format!(
                    "an environment overrides only these (`*`: a declared name): {}; anything else is the same in every environment",
                    list(OVERRIDABLE)
                )),
            ));
        } else if path.len() == 2
            && let Some((section, implicit)) = NAMED.iter().find(|(s, _)| *s == path[0])
        {
            let declared = base
                .get(*section)
                .and_then(|t| match t.get_ref() {
                    DeValue::Table(t) => Some(t.get(path[1].as_str()).is_some()),
                    _ => None,
                })
                .unwrap_or(false);
            if !declared && !implicit.contains(&path[1].as_str()) {
                errors.push(error(
                    src,
                    key.span(),
                    format!(
                        "[environments.{env}] overrides `{}.{}`, which pipeline.toml does not declare",
                        path[0], path[1]
                    ),
                    Some(format!(
                        "an environment changes settings of what the pipeline declares; declare [{}.{}] at the top level first",
                        path[0], path[1]
                    )),
                ));
            } else if let DeValue::Table(inner) = value.get_ref() {
                check(src, base, env, inner, path, errors);
            }
        } else if let DeValue::Table(inner) = value.get_ref() {
            check(src, base, env, inner, path, errors);
        }
        path.pop();
    }
}

/// Merges `over` into `base`: tables key by key, anything else replaced (with the environment's span).
fn merge<'i>(base: &mut DeTable<'i>, over: DeTable<'i>, path: &mut Vec<String>) {
    // A mode's own keys do not carry over to the other mode.
    let drops: &[(&str, &str, &[&str])] = &[
        ("streams", "mode", &["shard_count"]),
        (
            "tables",
            "billing_mode",
            &["read_capacity", "write_capacity"],
        ),
    ];
    if path.len() == 2 {
        for (section, mode, keys) in drops {
            if path[0] == *section && over.get(*mode).is_some() {
                for k in *keys {
                    if over.get(*k).is_none() {
                        base.remove(*k);
                    }
                }
            }
        }
    }
    for (key, value) in over {
        let name = key.get_ref().to_string();
        let existing = base.get_mut(name.as_str());
        match (existing, value.get_ref()) {
            (Some(old), DeValue::Table(_)) if matches!(old.get_ref(), DeValue::Table(_)) => {
                let DeValue::Table(inner) = value.into_inner() else {
                    continue;
                };
                if let DeValue::Table(old) = old.get_mut() {
                    path.push(name);
                    merge(old, inner, path);
                    path.pop();
                }
            }
            _ => {
                base.insert(key, value);
            }
        }
    }
}

/// `pipeline.name` becomes `<name>-<env>`, and the tag `environment` is set unless one is.
fn rename(root: &mut DeTable<'_>, env: &str, span: Range<usize>) {
    let Some(pipeline) = root.get_mut("pipeline") else {
        return;
    };
    let DeValue::Table(pipeline) = pipeline.get_mut() else {
        return;
    };
    if let Some(name) = pipeline.get_mut("name")
        && let DeValue::String(text) = name.get_mut()
    {
        *text = Cow::Owned(format!("{text}-{env}"));
    }
    let tags = pipeline
        .entry(Spanned::new(span.clone(), Cow::Borrowed("tags")))
        .or_insert_with(|| Spanned::new(span.clone(), DeValue::Table(DeTable::new())));
    if let DeValue::Table(tags) = tags.get_mut()
        && tags.get("environment").is_none()
    {
        tags.insert(
            Spanned::new(span.clone(), Cow::Borrowed("environment")),
            Spanned::new(span, DeValue::String(Cow::Owned(env.to_string()))),
        );
    }
}

fn table_at<'a, 'i>(table: &'a DeTable<'i>, path: &[&str]) -> Option<&'a Spanned<DeValue<'i>>> {
    let (first, rest) = path.split_first()?;
    let value = table.get(*first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value.get_ref() {
        DeValue::Table(inner) => table_at(inner, rest),
        _ => None,
    }
}

/// The base's `[terraform.backend] key` is the base's state: an environment gets its own default.
fn forget_backend_key(root: &mut DeTable<'_>) {
    if let Some(terraform) = root.get_mut("terraform")
        && let DeValue::Table(terraform) = terraform.get_mut()
        && let Some(backend) = terraform.get_mut("backend")
        && let DeValue::Table(backend) = backend.get_mut()
    {
        backend.remove("key");
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    fn env(src: &str, name: &str) -> crate::Pipeline {
        crate::parse_env(src, "pipeline.toml", std::path::Path::new("."), name)
            .unwrap_or_else(|e| panic!("{src}\n{:#?}", e.errors))
    }

    fn env_errors(src: &str, name: &str) -> Vec<(usize, usize, String)> {
        match crate::parse_env(src, "pipeline.toml", std::path::Path::new("."), name) {
            Ok(_) => panic!("expected errors for:\n{src}"),
            Err(e) => e
                .errors
                .into_iter()
                .map(|e| (e.line, e.column, e.message))
                .collect(),
        }
    }

    const TWO: &str = "\n[environments.staging]\n\n[environments.prod.streams.Events]\nmode = \"on-demand\"\n\n[environments.prod.tables.Items]\nbilling_mode = \"provisioned\"\nread_capacity = 5\nwrite_capacity = 50\ndeletion_protection = true\n\n[environments.prod.alerts]\nemails = [\"oncall@example.com\"]\n";

    #[test]
    fn an_environment_overrides_its_settings_and_renames_everything() {
        let src = base_with("[streams.Events]\n", "[streams.Events]\nshard_count = 2\n") + TWO;
        let base = valid(&src);
        assert_eq!(base.environments, vec!["prod", "staging"]);
        assert_eq!(base.environment, None);
        assert_eq!(base.name, "demo");
        assert_eq!(base.streams["Events"].physical_name, "demo-Events");
        assert!(!base.tags.contains_key("environment"));

        let prod = env(&src, "prod");
        assert_eq!(prod.environment.as_deref(), Some("prod"));
        assert_eq!(prod.name, "demo-prod");
        assert_eq!(prod.streams["Events"].physical_name, "demo-prod-Events");
        // on-demand drops the base's shard_count instead of refusing it
        assert_eq!(
            prod.streams["Events"].capacity,
            crate::StreamCapacity::OnDemand
        );
        assert!(prod.tables["Items"].deletion_protection);
        assert_eq!(prod.alerts.emails, vec!["oncall@example.com"]);
        assert_eq!(prod.tags["environment"], "prod");

        let staging = env(&src, "staging");
        assert_eq!(staging.name, "demo-staging");
        assert_eq!(
            staging.streams["Events"].capacity,
            base.streams["Events"].capacity
        );
        assert!(staging.alerts.emails.is_empty());
    }

    #[test]
    fn an_environment_sets_only_the_documented_keys_of_declared_parts() {
        let src = base_and(
            "\n[environments.prod]\npipeline.stage = \"live\"\n\n[environments.prod.streams.Other]\nshard_count = 2\n\n[environments.prod.routes.put]\npath = \"/x\"\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(18, 10, "[environments.prod] cannot set `pipeline.stage`"),
                at(
                    20,
                    28,
                    "[environments.prod] overrides `streams.Other`, which pipeline.toml does not declare"
                ),
                at(23, 20, "[environments.prod] cannot set `routes`"),
            ]
        );
    }

    #[test]
    fn an_overriding_value_is_checked_at_its_own_line() {
        let src = base_and("\n[environments.prod.streams.Events]\nshard_count = 0\n");
        let errors = env_errors(&src, "prod");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!((errors[0].0, errors[0].1), (18, 15));
        assert!(
            errors[0].2.starts_with("in environment `prod`: "),
            "{errors:?}"
        );
    }

    #[test]
    fn a_bad_environment_name_is_refused() {
        let src = base_and("\n[environments.Prod_1]\n\n[environments.averyveryverylongname]\n");
        let errors = errors(&src);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].2.contains("not a plain lowercase name"));
        assert!(errors[1].2.contains("not a plain lowercase name"));
    }

    #[test]
    fn an_environment_never_inherits_the_base_state_key() {
        let src = base_and(
            "\n[terraform.backend]\nbucket = \"team-state\"\nkey = \"pipelines/demo.tfstate\"\n\n[environments.prod]\n\n[environments.dev.terraform.backend]\nkey = \"dev/demo.tfstate\"\n",
        );
        let base = valid(&src);
        assert_eq!(base.backend.unwrap().key, "pipelines/demo.tfstate");
        let prod = env(&src, "prod").backend.unwrap();
        assert_eq!(
            (prod.bucket.as_str(), prod.key.as_str()),
            ("team-state", "demo-prod/terraform.tfstate")
        );
        let dev = env(&src, "dev").backend.unwrap();
        assert_eq!(dev.key, "dev/demo.tfstate");
    }

    #[test]
    fn an_unknown_environment_names_the_declared_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.toml");
        std::fs::write(&path, base_and("\n[environments.prod]\n")).unwrap();
        let err = crate::load_env(&path, Some("qa")).unwrap_err();
        assert!(
            matches!(&err, crate::LoadError::UnknownEnvironment { declared, .. } if declared == &["prod"]),
            "{err:?}"
        );
    }
}
