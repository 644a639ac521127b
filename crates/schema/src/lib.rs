//! Request body validation as API Gateway does it, for `cargo xtask dev` (and anything else that must answer
//! as the deployed API would).
//!
//! API Gateway validates a request body against the route's model, a JSON Schema draft 4, with fge's
//! json-schema-validator, and puts the error-level messages into `$context.error.validationErrorString` as a
//! Java list, e.g. `[object has missing required properties (["message"])]`. This crate decides and words
//! every answer as that validator does (compared with it on every test run: `tests/fge.rs`):
//!
//! - JSON read as its Jackson reads it, numbers printed as Jackson and Java's `BigDecimal` print them
//!   (`node.rs`);
//! - its walk: keywords in name order, nothing deeper once anything failed, members in name order (`walk.rs`);
//! - patterns as ECMA 262 regular expressions over UTF-16, as Rhino runs them (`regex.rs`);
//! - what it refuses as a schema, plus what cannot be reproduced (`format`, `id`, references to other
//!   documents), each with its place in the schema (`check.rs`).

use std::collections::HashMap;

use serde_json::Value;

mod check;
mod example;
mod node;
mod regex;
mod walk;

pub use check::{DRAFT_04, unreproducible};
pub use example::example;

/// What the gateway says of a body that is not JSON at all (API Gateway's own wording is not documented).
pub const NOT_JSON: &str = "[the request body is not valid JSON]";

/// Why a schema cannot be a request model: where (a JSON pointer into the schema) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {pointer}: {reason}")]
pub struct ModelError {
    /// The place in the schema, as a JSON pointer (`/properties/a/format`).
    pub pointer: String,
    pub reason: String,
}

/// Why API Gateway refuses a request body. Its `Display` is what API Gateway puts into
/// `$context.error.validationErrorString` ([`BodyError::validation_error_string`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not JSON at all: [`NOT_JSON`].
    #[error("{}", NOT_JSON)]
    NotJson,
    /// JSON the model refuses: the validator's messages as a Java list.
    #[error("{0}")]
    Invalid(String),
}

impl BodyError {
    /// The validation error string.
    pub fn validation_error_string(&self) -> &str {
        match self {
            BodyError::NotJson => NOT_JSON,
            BodyError::Invalid(s) => s,
        }
    }
}

/// A compiled request model.
pub struct RequestValidator {
    schema: Value,
    root: node::Node,
    patterns: HashMap<String, regex::Pattern>,
}

impl std::fmt::Debug for RequestValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestValidator")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// The model of a route without a schema: the record contract's "a JSON object".
pub fn object_schema() -> Value {
    serde_json::json!({"type": "object"})
}

impl RequestValidator {
    /// Compiles a draft-4 schema.
    pub fn new(schema: &Value) -> Result<RequestValidator, ModelError> {
        RequestValidator::compile(node::Node::from(schema), schema.clone())
    }

    /// Compiles a draft-4 schema from its text, keeping its numbers as written (`1.50`, `1e400`).
    pub fn from_text(text: &str) -> Result<RequestValidator, ModelError> {
        let root = node::parse(text).ok_or_else(|| ModelError {
            pointer: "/".into(),
            reason: "the schema is not JSON".into(),
        })?;
        let schema = serde_json::from_str(text).unwrap_or(Value::Null);
        RequestValidator::compile(root, schema)
    }

    fn compile(root: node::Node, schema: Value) -> Result<RequestValidator, ModelError> {
        let mut patterns = HashMap::new();
        check::check(&root, &mut patterns)
            .map_err(|(pointer, reason)| ModelError { pointer, reason })?;
        Ok(RequestValidator {
            schema,
            root,
            patterns,
        })
    }

    /// The model of a route without a schema ([`object_schema`]).
    pub fn object() -> RequestValidator {
        match RequestValidator::new(&object_schema()) {
            Ok(v) => v,
            // A constant, valid schema: compiling it cannot fail.
            Err(e) => unreachable!("{{\"type\":\"object\"}} compiles: {e}"),
        }
    }

    /// The schema.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// `Ok` for a valid body, else API Gateway's validation error string.
    pub fn validate(&self, body: &Value) -> Result<(), BodyError> {
        self.validate_node(&node::Node::from(body))
    }

    fn validate_node(&self, body: &node::Node) -> Result<(), BodyError> {
        let walk = walk::Walk {
            root: &self.root,
            patterns: &self.patterns,
        };
        let mut report = Vec::new();
        walk.process(&self.root, body, &mut report);
        if report.is_empty() {
            Ok(())
        } else {
            Err(BodyError::Invalid(format!("[{}]", report.join(", "))))
        }
    }
}

/// Draft 4's name of a value's type, as fge reports it (`integer` for integral numbers).
pub fn type_name(v: &Value) -> &'static str {
    node::Node::from(v).type_name()
}

/// Validates a request body's text: not JSON → [`NOT_JSON`], else [`RequestValidator::validate`]'s answer
/// (numbers as written: `1.0` is a `number`, `10000000000000000000000` an `integer`).
pub fn validate_text(validator: &RequestValidator, body: &str) -> Result<(), BodyError> {
    let parsed = node::parse(body).ok_or(BodyError::NotJson)?;
    validator.validate_node(&parsed)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error(schema: Value, body: Value) -> String {
        RequestValidator::new(&schema)
            .unwrap()
            .validate(&body)
            .unwrap_err()
            .to_string()
    }

    /// The validation error strings API Gateway is documented (and widely seen) to produce.
    #[test]
    fn messages_are_the_java_validators() {
        let schema = json!({
            "type": "object",
            "required": ["message", "eventId"],
            "properties": {
                "message": {"type": "string", "minLength": 3, "maxLength": 5, "pattern": "^[a-z]+$"},
                "count": {"type": "integer", "minimum": 1, "maximum": 10, "multipleOf": 2},
                "kind": {"enum": ["a", "b"]},
                "tags": {"type": "array", "uniqueItems": true, "items": {"type": "string"}},
                "limit": {"type": "number", "maximum": 5, "exclusiveMaximum": true},
                "meta": {"type": "object", "minProperties": 1, "maxProperties": 1},
                "not-this": {"not": {"type": "string"}}
            }
        });
        let cases = [
            (
                json!({}),
                // fge lists missing members sorted, whatever the schema's order.
                r#"[object has missing required properties (["eventId","message"])]"#,
            ),
            (
                json!({"eventId": "e"}),
                r#"[object has missing required properties (["message"])]"#,
            ),
            (
                json!([1]),
                r#"[instance type (array) does not match any allowed primitive type (allowed: ["object"])]"#,
            ),
            (
                json!({"eventId": "e", "message": 5}),
                r#"[instance type (integer) does not match any allowed primitive type (allowed: ["string"])]"#,
            ),
            (
                json!({"eventId": "e", "message": "ab"}),
                r#"[string "ab" is too short (length: 2, required minimum: 3)]"#,
            ),
            (
                json!({"eventId": "e", "message": "abcdef"}),
                r#"[string "abcdef" is too long (length: 6, maximum allowed: 5)]"#,
            ),
            (
                json!({"eventId": "e", "message": "ABC"}),
                r#"[ECMA 262 regex "^[a-z]+$" does not match input string "ABC"]"#,
            ),
            (
                json!({"eventId": "e", "message": "abc", "count": 0}),
                "[numeric instance is lower than the required minimum (minimum: 1, found: 0)]",
            ),
            (
                json!({"eventId": "e", "message": "abc", "count": 12}),
                "[numeric instance is greater than the required maximum (maximum: 10, found: 12)]",
            ),
            (
                json!({"eventId": "e", "message": "abc", "count": 3}),
                "[remainder of division is not zero (3 / 2)]",
            ),
            (
                json!({"eventId": "e", "message": "abc", "kind": "c"}),
                r#"[instance value ("c") not found in enum (possible values: ["a","b"])]"#,
            ),
            (
                json!({"eventId": "e", "message": "abc", "tags": ["x", "x"]}),
                "[array must not contain duplicate elements]",
            ),
            (
                json!({"eventId": "e", "message": "abc", "limit": 5}),
                "[numeric instance is not strictly lower than the required maximum 5]",
            ),
            (
                json!({"eventId": "e", "message": "abc", "meta": {}}),
                "[object has too few properties (found 0 but schema requires at least 1)]",
            ),
            (
                json!({"eventId": "e", "message": "abc", "meta": {"a": 1, "b": 2}}),
                "[object has too many properties (found 2 but schema requires at most 1)]",
            ),
            (
                json!({"eventId": "e", "message": "abc", "not-this": "s"}),
                "[instance matched a schema which it should not have]",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(error(schema.clone(), body.clone()), expected, "{body}");
        }
    }

    #[test]
    fn a_failing_object_hides_its_members_and_siblings_are_all_reported() {
        let schema = json!({
            "type": "object",
            "required": ["a"],
            "properties": {"b": {"type": "string"}, "c": {"type": "integer"}}
        });
        // Missing `a` at the top: the wrong member types below are not reported.
        assert_eq!(
            error(schema.clone(), json!({"b": 1, "c": "x"})),
            r#"[object has missing required properties (["a"])]"#
        );
        // The top is fine: both members are reported.
        let both = error(schema, json!({"a": 1, "b": 1, "c": "x"}));
        assert!(
            both.starts_with('[') && both.ends_with(']') && both.contains(", "),
            "{both}"
        );
        assert!(both.contains("allowed: [\"string\"]") && both.contains("allowed: [\"integer\"]"));
    }

    #[test]
    fn valid_bodies_pass_and_text_that_is_not_json_is_named() {
        let v = RequestValidator::object();
        assert_eq!(v.validate(&json!({"any": [1, "thing"]})), Ok(()));
        assert_eq!(validate_text(&v, "{").unwrap_err().to_string(), NOT_JSON);
        assert_eq!(
            validate_text(&v, "\"text\"").unwrap_err().to_string(),
            r#"[instance type (string) does not match any allowed primitive type (allowed: ["object"])]"#
        );
        assert_eq!(
            validate_text(&v, "1.5").unwrap_err().to_string(),
            r#"[instance type (number) does not match any allowed primitive type (allowed: ["object"])]"#
        );
        assert!(RequestValidator::new(&json!({"pattern": "("})).is_err());
        // Numbers as written: 1e400 is JSON, and a number.
        assert!(
            validate_text(&v, "1e400")
                .unwrap_err()
                .to_string()
                .contains("(number)")
        );
    }

    #[test]
    fn deep_bodies_are_walked_within_a_small_stack() {
        // A body nested as deep as the parser takes, against a schema that follows it all the way down, on
        // a thread with a server worker's stack.
        let depth = 1000;
        let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let answer = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let v =
                    RequestValidator::from_text(r##"{"type": "array", "items": {"$ref": "#"}}"##)
                        .unwrap();
                let ok = validate_text(&v, &body).is_ok();
                let too_deep = validate_text(&v, &format!("[{body}]"));
                (ok, too_deep)
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(answer, (true, Err(BodyError::NotJson)));
    }

    #[test]
    fn numbers_print_as_java_prints_them_and_refusals_are_located() {
        let v =
            RequestValidator::from_text(r#"{"maximum": 5.0, "exclusiveMaximum": true}"#).unwrap();
        assert_eq!(
            validate_text(&v, "20.0").unwrap_err().to_string(),
            "[numeric instance is greater than the required maximum (maximum: 5, found: 2E+1)]"
        );
        assert_eq!(
            validate_text(&v, "5.00").unwrap_err().to_string(),
            "[numeric instance is not strictly lower than the required maximum 5]"
        );
        let e = RequestValidator::from_text(r#"{"properties": {"a": {"format": "email"}}}"#)
            .unwrap_err();
        assert_eq!(e.pointer, "/properties/a/format");
        let e = RequestValidator::from_text(r#"{"items": {"$ref": "other.json#"}}"#).unwrap_err();
        assert_eq!(e.pointer, "/items/$ref");
        let e = RequestValidator::from_text(r##"{"allOf": [{"$ref": "#"}]}"##).unwrap_err();
        assert!(e.reason.contains("loop"), "{e}");
    }
}
