//! The README's "pipeline.toml reference", rendered from [`crate::settings`] (and the writer's attribute names
//! from the contract), so that what the README says is what the checks do.

use std::fmt::Write as _;

use sluice_contract::writer::attribute;

use crate::schema;
use crate::settings::{self, DefaultValue, LOG_RETENTION_DAYS, Limit, NameRule, Section, Setting};

fn default_text(s: &Setting) -> String {
    match s.default {
        DefaultValue::Required => "required".into(),
        DefaultValue::Absent => "none".into(),
        DefaultValue::Int(n) => format!("`{n}`"),
        DefaultValue::PerFunction { authorizer, writer } => {
            format!("{authorizer} (authorizer), {writer} (writer)")
        }
        DefaultValue::Float(f) => format!("`{f}`"),
        DefaultValue::Bool(b) => format!("`{b}`"),
        DefaultValue::Str(v) => format!("`\"{v}\"`"),
        DefaultValue::Text(t) => t.into(),
    }
}

fn limit_text(s: &Setting) -> String {
    match s.limit {
        Limit::Int { min, max } => format!("{min}–{max}"),
        Limit::IntOrForever { min, max } => {
            format!("{min}–{max}, or -1 (forever) only with `allow_infinite_retries = true`")
        }
        Limit::Positive { max } => format!("> 0, ≤ {max}"),
        Limit::OneOf(choices) => choices
            .iter()
            .map(|c| format!("`\"{c}\"`"))
            .collect::<Vec<_>>()
            .join(" or "),
        Limit::LogRetentionDays => {
            let (first, last) = (
                LOG_RETENTION_DAYS[0],
                LOG_RETENTION_DAYS[LOG_RETENTION_DAYS.len() - 1],
            );
            format!(
                "a CloudWatch Logs retention value ({first}, 3, 5, 7, 14, 30, 60, 90, …, {last})"
            )
        }
        Limit::Bool => "`true` or `false`".into(),
        Limit::Text(t) => t.into(),
    }
}

fn name_line(rule: &NameRule) -> String {
    let length = if rule.prefixed {
        format!("with the prefix {}–{} characters", rule.min, rule.max)
    } else {
        format!("{}–{} characters", rule.min, rule.max)
    };
    format!("Name: {}; {length}.", rule.rule)
}

/// Text after a section's table.
fn notes(section: Section) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(rule) = settings::name_rule(section)
        && rule.prefixed
    {
        out.push(name_line(rule));
    }
    match section {
        Section::Table => {
            let names: Vec<String> = attribute::ALL.iter().map(|a| format!("`{a}`")).collect();
            out.push(format!(
                "Key names ({}) may not be ones the writer sets itself: {}.",
                settings::ATTRIBUTE_NAME.rule,
                names.join(", ")
            ));
        }
        Section::Route => {
            out.push(
                "Every `{param}` a route uses must be in its path; two routes may not share a method and path."
                    .into(),
            );
            out.push(format!(
                "A request `schema` is JSON Schema draft 4 with `\"type\": \"object\"` at its top, using {}. \
                 Refused, because the local gateway could not answer as API Gateway's validator does: `format`, \
                 `id` and a `$ref` to another document (docs/CONTRACTS.md); also refused: keywords of OpenAPI or \
                 of later drafts, which API Gateway's validator ignores. Errors point into the schema file (or \
                 into pipeline.toml for an inline schema).",
                schema::SUPPORTED
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Section::Consumer => {
            out.push(
                "The event source mapping always reports partial batch failures (`ReportBatchItemFailures`) and \
                 sends batches it gives up on to `dead_letter_queue` (its on-failure destination); the writer sends \
                 records that can never be stored there too, with their data. There is no function-level \
                 dead-letter queue: it does nothing for stream invocations."
                    .into(),
            );
            out.push(
                "A filter pattern (Lambda's filter-criteria grammar, EventBridge's event patterns) is written on the \
                 record as sluice writes it: `body` (the request body), the envelope's `sourceIp`, `requestId`, \
                 `receivedAt`, `v`, and `partitionKey`; sluice renders `{\"body\": …}` as `{\"data\": {\"body\": …}}` \
                 for AWS. Operators, those Lambda's event filtering takes: exact values (strings; numbers, equal \
                 by value within ±5e9, else by their text; `true`, `false`; `null`; `\"\"`), `prefix` and `suffix` \
                 (also `{\"equals-ignore-case\": …}`), `equals-ignore-case`, `anything-but` (a value, or a list of \
                 strings or of numbers), `numeric` (within ±5e9), `exists`, and `$or`; a key with dots is a path \
                 (`\"a.b\"` is `\"a\": {\"b\": …}`), and a key given twice keeps its last rules. EventBridge's \
                 `wildcard`, `cidr` and `anything-but` with `prefix`, `suffix`, `equals-ignore-case` or `wildcard` \
                 are refused, as `CreateEventSourceMapping` refuses them. A record no pattern matches is never \
                 delivered and never dead-lettered: the mapping checkpoints past it (locally as on AWS). \
                 Example: `filters = ['{\"body\": {\"kind\": [\"order\"]}}']`."
                    .into(),
            );
        }
        _ => {}
    }
    out
}

/// The reference section as Markdown (from its `## ` heading to its last line, ending with a newline).
pub fn reference_markdown() -> String {
    let mut out = String::new();
    out.push_str("## pipeline.toml reference\n\n");
    out.push_str(
        "Names under `[streams]`, `[tables]`, `[queues]`, `[routes]` and `[consumers]` are yours; in AWS \
         they are\nprefixed with `pipeline.name` and `-`. Unknown keys are errors. Limits are AWS's; every \
         error names the file,\nline and column. This section is generated from `crates/config/src/settings.rs` \
         (the table the checks use)\nby `cargo xtask gen`.\n",
    );
    for section in Section::ALL {
        let _ = write!(out, "\n### {}\n\n", section.heading());
        out.push_str("| key | default | limits | meaning |\n|---|---|---|---|\n");
        for s in settings::settings_of(section) {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                s.key,
                default_text(s),
                limit_text(s),
                s.meaning
            );
        }
        for note in notes(section) {
            let _ = write!(out, "\n{note}\n");
        }
    }
    out.push_str(
        "\n### `[environments.<name>]` — deployments of this pipeline that differ in some settings\n\n\
         `<name>`: 1 to 12 of a-z, 0-9 and `-`, starting with a letter. Each environment's table sets, with \
         the limits above,\nonly these keys (`*` a declared name; an environment changes what the base \
         declares, it adds nothing):\n\n",
    );
    for key in crate::OVERRIDABLE {
        let _ = writeln!(out, "- `{key}`");
    }
    out.push_str(
        "\nTables merge key by key; any other value replaces the base's. Setting a stream's `mode` or a \
         table's\n`billing_mode` drops the base's `shard_count` or capacities. The environment's \
         `pipeline.name` is `<name>-<environment>`\nand its tags gain `environment = \"<environment>\"`; \
         an inherited `[terraform.backend]` gets the default key\nof that name. `gen` renders its root in \
         `terraform/envs/<name>/`; commands choose it with `--env <name>`.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_in_the_reference() {
        let text = reference_markdown();
        for s in settings::SETTINGS {
            assert!(text.contains(&format!("| `{}` |", s.key)), "{}", s.key);
        }
        assert!(text.contains("`payload`") && text.contains("`sequenceNumber`"));
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
    }
}
