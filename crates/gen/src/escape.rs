//! Escaping of user strings for each output language: HCL and JSON string literals, Terraform
//! `templatefile` text (a string, or every string of a JSON document). Templates call these through the
//! askama [`filters`]; nothing else builds quoted strings.

use serde_json::{Map, Value};

/// askama filters for the output languages. A module defining a template brings them into scope with
/// `use crate::escape::filters;`.
pub mod filters {
    use std::fmt::Display;

    /// A quoted HCL string.
    pub fn hcl<T: Display>(s: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::hcl_string(&s.to_string()))
    }

    /// A quoted JSON string.
    pub fn jstr<T: Display>(s: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::json_string(&s.to_string()))
    }
}

/// A quoted HCL string literal holding exactly `s`: quotes, backslashes and control characters escaped,
/// and the template sequences `${` and `%{` doubled so Terraform takes them literally.
pub fn hcl_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON string literal holding exactly `s` (serde_json's escaping).
pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a str always serialises")
}

/// Text for a Terraform `templatefile`: `${` and `%{` doubled so they come out literally.
pub fn tftpl_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if (c == '$' || c == '%') && chars.peek() == Some(&'{') {
            out.push(c);
        }
    }
    out
}

/// Doubles `${` and `%{` in every string and key, so that `templatefile` gives them back literally.
pub fn escape_for_templatefile(value: &mut Value) {
    match value {
        Value::String(s) => *s = tftpl_escape(s),
        Value::Array(items) => items.iter_mut().for_each(escape_for_templatefile),
        Value::Object(members) => {
            let escaped: Map<String, Value> = std::mem::take(members)
                .into_iter()
                .map(|(k, mut v)| {
                    escape_for_templatefile(&mut v);
                    (tftpl_escape(&k), v)
                })
                .collect();
            *members = escaped;
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_strings_escape_quotes_backslashes_controls_and_template_sequences() {
        assert_eq!(hcl_string("plain"), "\"plain\"");
        assert_eq!(hcl_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(hcl_string("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
        assert_eq!(
            hcl_string("${var.x} %{ if } $x %x"),
            "\"$${var.x} %%{ if } $x %x\""
        );
        assert_eq!(hcl_string("$${"), "\"$$${\"");
        assert_eq!(hcl_string("\u{1}é"), "\"\\u0001é\"");
    }

    #[test]
    fn json_strings_round_trip() {
        for s in ["", "a\"b", "back\\slash", "new\nline", "é ü 😀", "\u{7}"] {
            let j = json_string(s);
            assert_eq!(serde_json::from_str::<String>(&j).unwrap(), s);
        }
    }

    #[test]
    fn template_sequences_are_doubled_and_nothing_else_changes() {
        assert_eq!(tftpl_escape("${a} %{b} $c %d {e}"), "$${a} %%{b} $c %d {e}");
        assert_eq!(tftpl_escape("$$${"), "$$$${");
        assert_eq!(tftpl_escape("#set($x = 1)"), "#set($x = 1)");
    }
}
