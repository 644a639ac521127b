//! `[consumers.*]`: the writer's event source mappings — references to a stream, table and queue, batching,
//! retries and record age, and event filters.

use std::collections::{BTreeMap, BTreeSet};

use toml::Spanned;

use super::checker::Checker;
use crate::filter::{self, EventFilter};
use crate::raw::RawConsumer;
use crate::settings::{self, Setting};
use crate::{Attempts, Consumer, Functions, RecordAge, StartingPosition};

/// A consumer's `filters`: each a pattern in Lambda's filter grammar, at most [`filter::MAX_FILTERS`].
fn event_filters(c: &mut Checker, v: &Spanned<Vec<Spanned<String>>>) -> Vec<EventFilter> {
    let list = v.get_ref();
    if list.len() > filter::MAX_FILTERS {
        c.err(
            v.span(),
            format!(
                "`filters` lists {} patterns; an event source mapping takes {} (Lambda's default quota)",
                list.len(),
                filter::MAX_FILTERS
            ),
            Some("combine patterns with `$or`, or request a quota increase and split the consumer".into()),
        );
    }
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for item in list {
        let Some((json, map)) = c.json_in_string(item, "the filter pattern") else {
            continue;
        };
        match filter::compile(&json) {
            Ok(f) => {
                if seen.contains(&f.aws_pattern) {
                    c.err(item.span(), "this filter pattern is listed twice", None);
                    continue;
                }
                seen.push(f.aws_pattern.clone());
                out.push(f);
            }
            Err(problems) => c.problems_in_string(&map, problems),
        }
    }
    out
}

/// A setting that takes a number in the table's bounds or -1 for "forever", the latter only when
/// `allow_infinite_retries`: `None` when absent (or invalid, after the error), `Some(None)` for forever.
fn finite_or_forever(
    c: &mut Checker<'_>,
    v: &Option<Spanned<i64>>,
    setting: &Setting,
    allow_infinite: bool,
    forever_means: &str,
) -> Option<Option<u32>> {
    let s = v.as_ref()?;
    let (min, max) = setting.bounds();
    match *s.get_ref() {
        -1 => {
            if !allow_infinite {
                c.err(
                    s.span(),
                    format!("`{} = -1` {forever_means}", setting.key),
                    Some(format!(
                        "set {min} to {max}, or add `allow_infinite_retries = true` if you really mean it"
                    )),
                );
            }
            Some(None)
        }
        n if (min..=max).contains(&n) => u32::try_from(n).ok().map(Some),
        n => {
            c.err(
                s.span(),
                format!(
                    "`{}` is {n}, but must be -1 or between {min} and {max} ({})",
                    setting.key, setting.bound_by
                ),
                None,
            );
            None
        }
    }
}

/// `retry_attempts`, typed.
fn retry_attempts(c: &mut Checker<'_>, v: &Option<Spanned<i64>>, allow_infinite: bool) -> Attempts {
    let setting = &settings::RETRY_ATTEMPTS;
    let why = "retries a failing batch forever and blocks its shard";
    match finite_or_forever(c, v, setting, allow_infinite, why) {
        Some(Some(n)) => Attempts::Finite(n),
        Some(None) => Attempts::Forever,
        None => Attempts::Finite(u32::try_from(setting.int_default()).unwrap_or(3)),
    }
}

/// `maximum_record_age_seconds`, typed.
fn record_age(c: &mut Checker<'_>, v: &Option<Spanned<i64>>, allow_infinite: bool) -> RecordAge {
    let setting = &settings::MAXIMUM_RECORD_AGE_SECONDS;
    let why = "keeps retrying records until they expire from the stream";
    match finite_or_forever(c, v, setting, allow_infinite, why) {
        Some(Some(n)) => RecordAge::Seconds(n),
        Some(None) => RecordAge::Forever,
        None => RecordAge::Seconds(u32::try_from(setting.int_default()).unwrap_or(3600)),
    }
}

/// What a consumer runs and may write: the stock writer and its `table`, or a user `function` and its
/// `tables` (each declared, none twice).
fn targets(
    c: &mut Checker<'_>,
    name: &Spanned<String>,
    whole: std::ops::Range<usize>,
    r: &RawConsumer,
    tables: &BTreeSet<String>,
    functions: &Functions,
) -> (Option<String>, Vec<String>) {
    let Some(function) = &r.function else {
        if let Some(list) = &r.tables {
            c.err(
                list.span(),
                "`tables` is for a consumer with a `function`; the stock writer writes one `table`",
                Some(
                    "write `table = \"...\"`, or name your function with `function = \"...\"`"
                        .into(),
                ),
            );
        }
        let Some(table) = &r.table else {
            // A `table` of the wrong type was already reported (and taken out to read the rest).
            let section_end = c.src[whole.end..]
                .find("\n[")
                .map_or(c.src.len(), |i| whole.end + i);
            let table_line = |start: usize| {
                let line_start = c.src[..start].rfind('\n').map_or(0, |i| i + 1);
                c.src[line_start..].trim_start().starts_with("table")
            };
            if c.errors.iter().any(|e| {
                (whole.start..section_end).contains(&e.span.start) && table_line(e.span.start)
            }) {
                return (None, Vec::new());
            }
            c.err(
                name.span(),
                format!("consumer {} names no `table`", name.get_ref()),
                Some("add `table = \"<a declared table>\"` (or `function` and `tables` for your own function)".into()),
            );
            return (None, Vec::new());
        };
        c.reference(table, "table", "tables", tables);
        return (None, vec![table.get_ref().clone()]);
    };
    let declared: BTreeSet<String> = functions.custom.keys().cloned().collect();
    if !declared.contains(function.get_ref()) {
        let stock = ["authorizer", "writer"].contains(&function.get_ref().as_str());
        if stock {
            c.err(
                function.span(),
                format!("`function` is \"{}\", a stock function; a consumer runs the stock writer when it names no `function`", function.get_ref()),
                Some("remove `function` and write `table = \"...\"`".into()),
            );
        } else {
            c.reference(function, "function", "functions", &declared);
        }
    }
    if let Some(table) = &r.table {
        c.err(
            table.span(),
            "`table` is for the stock writer; a consumer with a `function` lists the tables it may write in `tables`",
            Some(format!("write `tables = [\"{}\"]`", table.get_ref())),
        );
    }
    let Some(list) = &r.tables else {
        c.err(
            function.span(),
            format!("consumer {} runs function {} but names no `tables` it may write", name.get_ref(), function.get_ref()),
            Some("add `tables = [\"<a declared table>\", ...]`: its IAM policy allows writing exactly these".into()),
        );
        return (Some(function.get_ref().clone()), Vec::new());
    };
    if list.get_ref().is_empty() {
        c.err(
            list.span(),
            "`tables` is empty",
            Some("list at least one declared table".into()),
        );
    }
    let mut out: Vec<String> = Vec::new();
    for table in list.get_ref() {
        if !c.reference(table, "tables", "tables", tables) {
            continue;
        }
        if out.contains(table.get_ref()) {
            c.err(
                table.span(),
                format!("table \"{}\" is listed twice", table.get_ref()),
                None,
            );
            continue;
        }
        out.push(table.get_ref().clone());
    }
    (Some(function.get_ref().clone()), out)
}

pub(super) fn consumers(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawConsumer>>,
    prefix: &str,
    streams: &BTreeSet<String>,
    tables: &BTreeSet<String>,
    queues: &BTreeSet<String>,
    functions: &Functions,
) -> BTreeMap<String, Consumer> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        c.name(k, &settings::CONSUMER_NAME, prefix);
        let r = v.get_ref();
        c.reference(&r.stream, "stream", "streams", streams);
        let (function, written) = targets(c, k, v.span(), r, tables, functions);
        c.reference(&r.dead_letter_queue, "dead_letter_queue", "queues", queues);
        let allow_infinite = r
            .allow_infinite_retries
            .unwrap_or(settings::ALLOW_INFINITE_RETRIES.bool_default());
        let starting_position =
            match c.choice_or_default(&r.starting_position, &settings::STARTING_POSITION) {
                "TRIM_HORIZON" => StartingPosition::TrimHorizon,
                _ => StartingPosition::Latest,
            };
        out.insert(
            k.get_ref().clone(),
            Consumer {
                name: k.get_ref().clone(),
                function_name: format!("{prefix}{}", k.get_ref()),
                stream: r.stream.get_ref().clone(),
                table: written.first().cloned().unwrap_or_default(),
                function,
                tables: written,
                dead_letter_queue: r.dead_letter_queue.get_ref().clone(),
                batch_size: c.uint(&r.batch_size, &settings::BATCH_SIZE),
                batching_window_seconds: c.uint(
                    &r.batching_window_seconds,
                    &settings::BATCHING_WINDOW_SECONDS,
                ),
                starting_position,
                retry_attempts: retry_attempts(c, &r.retry_attempts, allow_infinite),
                maximum_record_age: record_age(c, &r.maximum_record_age_seconds, allow_infinite),
                bisect_on_error: r
                    .bisect_on_error
                    .unwrap_or(settings::BISECT_ON_ERROR.bool_default()),
                parallelization_factor: c
                    .uint(&r.parallelization_factor, &settings::PARALLELIZATION_FACTOR),
                filters: r
                    .filters
                    .as_ref()
                    .map(|f| event_filters(c, f))
                    .unwrap_or_default(),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    const CONSUMER: &str = "\n[consumers.writer]\nstream = \"Events\"\ntable = \"Items\"\ndead_letter_queue = \"Dead\"\n";

    #[test]
    fn a_consumer_takes_its_retries_and_filters() {
        let p = valid(&base_and(&format!(
            "{CONSUMER}allow_infinite_retries = true\nretry_attempts = -1\nfilters = ['{{\"body\": {{\"kind\": [\"a\"]}}}}']\n"
        )));
        let c = &p.consumers["writer"];
        assert_eq!(c.retry_attempts, Attempts::Forever);
        assert_eq!(c.maximum_record_age, RecordAge::Seconds(3600));
        assert_eq!(
            c.filters[0].aws_pattern,
            r#"{"data":{"body":{"kind":["a"]}}}"#
        );
    }

    #[test]
    fn references_and_forever_are_checked() {
        let src = base_and(
            "\n[consumers.writer]\nstream = \"Event\"\ntable = \"Item\"\ndead_letter_queue = \"Nope\"\nretry_attempts = -1\nmaximum_record_age_seconds = 5\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(
                    18,
                    10,
                    "`stream` refers to \"Event\", which is not declared in [streams]"
                ),
                at(
                    19,
                    9,
                    "`table` refers to \"Item\", which is not declared in [tables]"
                ),
                at(
                    20,
                    21,
                    "`dead_letter_queue` refers to \"Nope\", which is not declared in [queues]"
                ),
                at(
                    21,
                    18,
                    "`retry_attempts = -1` retries a failing batch forever and blocks its shard"
                ),
                at(
                    22,
                    30,
                    "`maximum_record_age_seconds` is 5, but must be -1 or between 60 and 604800 (Lambda's limit)"
                ),
            ]
        );
    }

    #[test]
    fn filters_are_located_in_pipeline_toml() {
        let src = base_and(&format!(
            "{CONSUMER}filters = ['{{\"body\": {{\"a\": [\"x\"]}}}}', '{{\"body\": {{\"a\": [\"x\"]}}}}', '{{\"kind\": [\"x\"]}}', '{{nope']\n"
        ));
        assert_eq!(
            errors(&src),
            vec![
                at(21, 38, "this filter pattern is listed twice"),
                at(
                    21,
                    66,
                    "a filter pattern cannot name `kind`: patterns are written on the record's envelope and partition key"
                ),
                at(
                    21,
                    85,
                    "the filter pattern is not JSON: expected a member name in double quotes"
                ),
            ]
        );
    }

    #[test]
    fn a_function_consumer_names_its_function_and_tables() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("fx");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(
            pkg.join("Cargo.toml"),
            "[package]\nname = \"x\"\n[[bin]]\nname = \"enrich\"\n",
        )
        .unwrap();
        let functions = "\n[tables.Other]\npartition_key = { name = \"id\" }\n\n[functions.enrich]\ncrate = \"fx\"\ntimeout_seconds = 9\n";
        let consumer = "\n[consumers.enrich]\nstream = \"Events\"\nfunction = \"enrich\"\ntables = [\"Items\", \"Other\"]\ndead_letter_queue = \"Dead\"\n";
        let src = base_and(&format!("{functions}{consumer}"));
        let p = crate::parse_in(&src, "pipeline.toml", dir.path()).unwrap();
        let c = &p.consumers["enrich"];
        assert_eq!(c.function.as_deref(), Some("enrich"));
        assert_eq!(c.tables, ["Items", "Other"]);
        assert_eq!(p.consumer_function(c).timeout_seconds, 9);

        let errors_in = |src: &str| -> Vec<(usize, usize, String)> {
            crate::parse_in(src, "pipeline.toml", dir.path())
                .unwrap_err()
                .errors
                .into_iter()
                .map(|e| (e.line, e.column, e.message))
                .collect()
        };
        // Line 24 is the consumer's header.
        let wrong = src
            .replace("function = \"enrich\"", "function = \"enrik\"")
            .replace("\"Other\"]", "\"Others\", \"Items\"]");
        assert_eq!(
            errors_in(&wrong),
            vec![
                at(
                    26,
                    12,
                    "`function` refers to \"enrik\", which is not declared in [functions]"
                ),
                at(
                    27,
                    20,
                    "`tables` refers to \"Others\", which is not declared in [tables]"
                ),
                at(27, 30, "table \"Items\" is listed twice"),
            ]
        );
        let both = src.replace("tables = [\"Items\", \"Other\"]", "table = \"Items\"");
        let found = errors_in(&both);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0]
                .2
                .starts_with("consumer enrich runs function enrich but names no `tables`")
        );
        assert!(found[1].2.starts_with("`table` is for the stock writer"));
        let stock = src.replace("function = \"enrich\"\n", "");
        assert!(
            errors_in(&stock)[0]
                .2
                .starts_with("`tables` is for a consumer with a `function`")
        );
        let writer = src.replace("function = \"enrich\"", "function = \"writer\"");
        assert!(errors_in(&writer)[0].2.contains("a stock function"));
    }
}
