//! What the section tests share: a small valid pipeline to add to, and a document's errors as
//! `(line, column, message)`, the way `tests/config_errors.rs` reads them.

use crate::Pipeline;

/// A small valid pipeline (15 lines): a section's tests add to it or replace a line of it.
pub(super) const BASE: &str = r#"[pipeline]
name = "demo"
region = "eu-west-1"

[streams.Events]

[tables.Items]
partition_key = { name = "id" }

[queues.Dead]

[routes.put]
path = "/put/{id}"
stream = "Events"
partition_key = { path_param = "id" }
"#;

/// `BASE` with `extra` after it (its first line is line 16).
pub(super) fn base_and(extra: &str) -> String {
    format!("{BASE}{extra}")
}

/// `BASE` with `replace` replaced by `by`.
pub(super) fn base_with(replace: &str, by: &str) -> String {
    assert!(BASE.contains(replace), "BASE has no {replace:?}");
    BASE.replacen(replace, by, 1)
}

/// Every error of `src`, in the order reported.
pub(super) fn errors(src: &str) -> Vec<(usize, usize, String)> {
    match crate::parse(src, "pipeline.toml") {
        Ok(_) => panic!("expected errors for:\n{src}"),
        Err(e) => e
            .errors
            .into_iter()
            .map(|e| (e.line, e.column, e.message))
            .collect(),
    }
}

/// The pipeline `src` compiles to (it must be valid).
pub(super) fn valid(src: &str) -> Pipeline {
    crate::parse(src, "pipeline.toml").unwrap_or_else(|e| panic!("{src}\n{:#?}", e.errors))
}

/// `(line, column, message)` for an expected error.
pub(super) fn at(line: usize, column: usize, message: &str) -> (usize, usize, String) {
    (line, column, message.to_string())
}
