//! Pass 1: TOML syntax (with recovery), then serde into the raw model. serde stops at the first structural
//! error, so the key it stopped at is taken out and serde runs again: every structural error in one run.

use std::ops::Range;

use serde::Deserialize as _;
use toml::de::{DeTable, DeValue};

use super::checker::list;
use crate::error::{ConfigError, closest, line_col};
use crate::raw::RawPipelineFile;

/// Turns a serde/TOML error into one located error, with a did-you-mean for unknown keys.
fn toml_error(src: &str, e: &toml::de::Error) -> ConfigError {
    let span = e.span().unwrap_or(0..0);
    let (line, column) = line_col(src, span.start);
    let raw = e.message().trim().to_string();
    let mut help = None;
    if let Some(rest) = raw.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        help = match closest(field, candidates.iter().copied()) {
            Some(c) => Some(format!("did you mean `{c}`?")),
            None => Some(format!("valid keys here: {}", list(&candidates))),
        };
        let message = format!("unknown key `{field}`");
        return ConfigError {
            message,
            span,
            line,
            column,
            help,
            file: None,
        };
    }
    if raw.starts_with("missing field") {
        help = Some("add it; see the README's pipeline.toml reference".to_string());
    }
    // serde names Rust types; say what to write instead.
    let raw = raw
        .replace("expected i64", "expected an integer")
        .replace("expected f64", "expected a number");
    ConfigError {
        message: raw,
        span,
        line,
        column,
        help,
        file: None,
    }
}

/// What taking an error's key out of the document removed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Removed {
    /// A key with a scalar or array value (an unknown key, or a value of the wrong type).
    Value(String),
    /// A key holding a whole table (the table itself was wrong, e.g. it lacked a required key).
    Table,
}

/// Removes the entry an error points at: the key whose name or value span is the error's span (a table
/// value's span is its header). `None` if nothing matches (an error about the document itself).
fn remove_at(table: &mut DeTable<'_>, span: &Range<usize>) -> Option<Removed> {
    let mut hit = None;
    for (key, value) in table.iter_mut() {
        if key.span() == *span || value.span() == *span {
            let removed = match value.get_ref() {
                DeValue::Table(_) => Removed::Table,
                _ => Removed::Value(key.get_ref().to_string()),
            };
            hit = Some((key.clone(), removed));
            break;
        }
        if let DeValue::Table(inner) = value.get_mut()
            && let Some(removed) = remove_at(inner, span)
        {
            return Some(removed);
        }
    }
    let (key, removed) = hit?;
    table.remove(&key);
    Some(removed)
}

/// The raw model and every syntax and structural error. Without errors the model is the whole file's; with
/// errors it is, when only keys (not whole tables) had to be taken out for the rest to read cleanly, the
/// model of that rest (so that its semantic errors are reported in the same run), and otherwise `None`.
///
/// `[environments]` is taken out first ([`super::environments::take`]: its names are returned, its keys
/// checked), and with `env` that environment is merged into the document serde reads.
pub(super) fn read_raw(
    src: &str,
    env: Option<&str>,
) -> (Option<RawPipelineFile>, Vec<ConfigError>, Vec<String>) {
    let (mut root, syntax) = DeTable::parse_recoverable(src);
    if !syntax.is_empty() {
        // The parser recovers and goes on, but what it finds later on the same line is an echo.
        let mut errors: Vec<ConfigError> = Vec::new();
        for e in &syntax {
            let error = toml_error(src, e);
            if errors.last().is_none_or(|last| last.line != error.line) {
                errors.push(error);
            }
        }
        return (None, errors, Vec::new());
    }
    let mut errors: Vec<ConfigError> = Vec::new();
    let environments = super::environments::take(src, root.get_mut(), env, &mut errors);
    let (raw, errors) = read_serde(src, root, errors);
    (raw, errors, environments)
}

/// serde over the parsed document, taking out each key it stops at (see [`read_raw`]).
fn read_serde(
    src: &str,
    mut root: toml::Spanned<DeTable<'_>>,
    mut errors: Vec<ConfigError>,
) -> (Option<RawPipelineFile>, Vec<ConfigError>) {
    let mut removed_values: Vec<String> = Vec::new();
    let mut table_removed = false;
    // Each round takes one key out, so this ends; the bound only guards against a surprise.
    for _ in 0..1000 {
        let error = match RawPipelineFile::deserialize(toml::de::Deserializer::from(root.clone())) {
            Ok(raw) if errors.is_empty() => return (Some(raw), errors),
            Ok(raw) => return ((!table_removed).then_some(raw), errors),
            Err(e) => e,
        };
        let span = error.span().unwrap_or(0..0);
        match remove_at(root.get_mut(), &span) {
            None => {
                // About the document itself: news only if nothing was taken out before.
                if errors.is_empty() {
                    errors.push(toml_error(src, &error));
                }
                return (None, errors);
            }
            Some(Removed::Table) => {
                // "missing field `x`" after `x` (of the wrong type) was taken out is not news.
                let echo = error
                    .message()
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next())
                    .is_some_and(|field| removed_values.iter().any(|v| v == field));
                if !echo {
                    errors.push(toml_error(src, &error));
                }
                table_removed = true;
            }
            Some(Removed::Value(key)) => {
                errors.push(toml_error(src, &error));
                removed_values.push(key);
            }
        }
    }
    (None, errors)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn a_syntax_error_is_reported_alone() {
        let src = base_with("name = \"demo\"", "name = = \"demo\"");
        assert_eq!(errors(&src), vec![at(2, 8, "extra `=`, expected nothing"),]);
    }

    #[test]
    fn structural_errors_come_together_with_the_rest() {
        let src = base_with(
            "[queues.Dead]\n",
            "[queues.Dead]\nmessage_retention = 60\n\n[streams.Other]\nshard_count = \"two\"\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(11, 1, "unknown key `message_retention`"),
                at(14, 15, "invalid type: string \"two\", expected an integer"),
            ]
        );
    }

    #[test]
    fn a_missing_required_key_is_named() {
        let src = base_with("region = \"eu-west-1\"\n", "");
        assert_eq!(errors(&src), vec![at(1, 1, "missing field `region`"),]);
    }
}
