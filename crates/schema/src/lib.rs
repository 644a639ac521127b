//! Request body validation as API Gateway does it, for `cargo xtask dev` (and anything else that must answer
//! as the deployed API would).
//!
//! API Gateway validates a request body against the route's model, a JSON Schema draft 4, with a Java
//! draft-4 validator (fge's json-schema-validator), and puts what failed into
//! `$context.error.validationErrorString`: the validator's messages as a Java list, e.g.
//! `[object has missing required properties (["message"])]`. Here the `jsonschema` crate decides whether a
//! body is valid (draft 4), and [`RequestValidator::validate`] words what failed with that validator's
//! message formats, in the same list form:
//!
//! - one message per failing keyword at an instance location (all missing `required` members in one
//!   message, in the schema's order);
//! - like that validator by default, a member or element is not looked at when its parent already failed
//!   (so a body missing a required member does not also report the member types of the rest);
//! - at one location, messages are in keyword order (alphabetical), locations in the order the crate
//!   reports them.
//!
//! Where the two can still differ (documented in docs/CONTRACTS.md): the order of messages when several
//! locations fail, and regular expressions that ECMA 262 and Rust's engines read differently.

use serde_json::Value;

mod example;
pub use example::example;

/// What the gateway says of a body that is not JSON at all (API Gateway's own wording is not documented).
pub const NOT_JSON: &str = "[the request body is not valid JSON]";

/// Why a schema cannot be a request model: the validator's compile error, as it words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ModelError(String);

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
    validator: jsonschema::Validator,
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
    /// Compiles a draft-4 schema. Formats are not checked (`sluice-config` refuses `format`: API Gateway's
    /// format checks cannot be reproduced exactly).
    pub fn new(schema: &Value) -> Result<RequestValidator, ModelError> {
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(false)
            .build(schema)
            .map_err(|e| ModelError(e.to_string()))?;
        Ok(RequestValidator {
            schema: schema.clone(),
            validator,
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
        let mut found: Vec<Found> = Vec::new();
        for error in self.validator.iter_errors(body) {
            let pointer = error.instance_path().as_str().to_string();
            let keyword = error.kind().keyword().to_string();
            let schema_path = error.schema_path().as_str().to_string();
            let instance = error.instance().as_ref().clone();
            let at = found
                .iter()
                .position(|f| f.pointer == pointer && f.keyword == keyword);
            if keyword == "required" {
                // One message for every missing member of one object.
                let property = match error.kind() {
                    jsonschema::error::ValidationErrorKind::Required { property } => {
                        property.clone()
                    }
                    _ => Value::Null,
                };
                match at {
                    Some(i) => found[i].missing.push(property),
                    None => found.push(Found {
                        pointer,
                        keyword,
                        schema_path,
                        instance,
                        missing: vec![property],
                        fallback: error.to_string(),
                    }),
                }
                continue;
            }
            if at.is_some() {
                continue;
            }
            found.push(Found {
                pointer,
                keyword,
                schema_path,
                instance,
                missing: Vec::new(),
                fallback: error.to_string(),
            });
        }
        if found.is_empty() {
            return Ok(());
        }
        // Like the Java validator without deep checking: nothing below a location that failed.
        let pointers: Vec<String> = found.iter().map(|f| f.pointer.clone()).collect();
        found.retain(|f| !pointers.iter().any(|p| is_strict_ancestor(p, &f.pointer)));
        let order: Vec<String> = {
            let mut seen: Vec<String> = Vec::new();
            for f in &found {
                if !seen.contains(&f.pointer) {
                    seen.push(f.pointer.clone());
                }
            }
            seen
        };
        found.sort_by(|a, b| {
            let ia = order.iter().position(|p| *p == a.pointer);
            let ib = order.iter().position(|p| *p == b.pointer);
            ia.cmp(&ib).then_with(|| a.keyword.cmp(&b.keyword))
        });
        let messages: Vec<String> = found.iter().map(|f| self.message(f)).collect();
        Err(BodyError::Invalid(format!("[{}]", messages.join(", "))))
    }

    /// The value of a keyword whose schema location is `schema_path` (`/properties/a/minimum`).
    fn keyword_value(&self, schema_path: &str) -> Option<&Value> {
        self.schema.pointer(schema_path)
    }

    /// The Java validator's message for one failing keyword.
    fn message(&self, f: &Found) -> String {
        let instance = &f.instance;
        let limit = || {
            self.keyword_value(&f.schema_path)
                .map(json)
                .unwrap_or_default()
        };
        match f.keyword.as_str() {
            "required" => format!(
                "object has missing required properties ({})",
                json(&Value::Array(f.missing.clone()))
            ),
            "type" => {
                let allowed = match self.keyword_value(&f.schema_path) {
                    Some(Value::String(t)) => Value::Array(vec![Value::String(t.clone())]),
                    Some(other) => other.clone(),
                    None => Value::Array(Vec::new()),
                };
                format!(
                    "instance type ({}) does not match any allowed primitive type (allowed: {})",
                    type_name(instance),
                    json(&allowed)
                )
            }
            "enum" => format!(
                "instance value ({}) not found in enum (possible values: {})",
                json(instance),
                limit()
            ),
            "minimum" | "exclusiveMinimum" => {
                let minimum = self.sibling(&f.schema_path, "minimum");
                if f.keyword == "exclusiveMinimum"
                    || (self.exclusive(&f.schema_path, "exclusiveMinimum")
                        && instance.as_f64() == minimum.as_ref().and_then(Value::as_f64))
                {
                    format!(
                        "numeric instance is not strictly greater than the required minimum {}",
                        minimum.as_ref().map(json).unwrap_or_default()
                    )
                } else {
                    format!(
                        "numeric instance is lower than the required minimum (minimum: {}, found: {})",
                        minimum.as_ref().map(json).unwrap_or_else(limit),
                        json(instance)
                    )
                }
            }
            "maximum" | "exclusiveMaximum" => {
                let maximum = self.sibling(&f.schema_path, "maximum");
                if f.keyword == "exclusiveMaximum"
                    || (self.exclusive(&f.schema_path, "exclusiveMaximum")
                        && instance.as_f64() == maximum.as_ref().and_then(Value::as_f64))
                {
                    format!(
                        "numeric instance is not strictly lower than the required maximum {}",
                        maximum.as_ref().map(json).unwrap_or_default()
                    )
                } else {
                    format!(
                        "numeric instance is greater than the required maximum (maximum: {}, found: {})",
                        maximum.as_ref().map(json).unwrap_or_else(limit),
                        json(instance)
                    )
                }
            }
            "minLength" => format!(
                "string \"{}\" is too short (length: {}, required minimum: {})",
                text(instance),
                text(instance).chars().count(),
                limit()
            ),
            "maxLength" => format!(
                "string \"{}\" is too long (length: {}, maximum allowed: {})",
                text(instance),
                text(instance).chars().count(),
                limit()
            ),
            "pattern" => format!(
                "ECMA 262 regex \"{}\" does not match input string \"{}\"",
                self.keyword_value(&f.schema_path)
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                text(instance)
            ),
            "multipleOf" => format!(
                "remainder of division is not zero ({} / {})",
                json(instance),
                limit()
            ),
            "minItems" => format!(
                "array is too short: must have at least {} elements but instance has {} elements",
                limit(),
                instance.as_array().map_or(0, Vec::len)
            ),
            "maxItems" => format!(
                "array is too long: must have at most {} elements but instance has {} elements",
                limit(),
                instance.as_array().map_or(0, Vec::len)
            ),
            "uniqueItems" => "array must not contain duplicate elements".to_string(),
            "minProperties" => format!(
                "object has too few properties (found {} but schema requires at least {})",
                instance.as_object().map_or(0, |o| o.len()),
                limit()
            ),
            "maxProperties" => format!(
                "object has too many properties (found {} but schema requires at most {})",
                instance.as_object().map_or(0, |o| o.len()),
                limit()
            ),
            "not" => "instance matched a schema which it should not have".to_string(),
            "additionalProperties" => {
                let allowed = self.sibling(&f.schema_path, "properties");
                let extra: Vec<Value> = instance
                    .as_object()
                    .into_iter()
                    .flat_map(|o| o.keys())
                    .filter(|k| {
                        allowed
                            .as_ref()
                            .and_then(Value::as_object)
                            .is_none_or(|p| !p.contains_key(*k))
                    })
                    .map(|k| Value::String(k.clone()))
                    .collect();
                format!(
                    "object instance has properties which are not allowed by the schema: {}",
                    json(&Value::Array(extra))
                )
            }
            "anyOf" => format!(
                "instance failed to match at least one required schema among {}",
                self.keyword_value(&f.schema_path)
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            ),
            _ => f.fallback.clone(),
        }
    }

    /// A keyword next to the one at `schema_path` (`/properties/a/maximum` → `/properties/a/<name>`).
    fn sibling(&self, schema_path: &str, name: &str) -> Option<Value> {
        let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
        self.schema.pointer(&format!("{parent}/{name}")).cloned()
    }

    /// Whether the draft-4 boolean `exclusiveMinimum`/`exclusiveMaximum` next to `schema_path` is true.
    fn exclusive(&self, schema_path: &str, name: &str) -> bool {
        self.sibling(schema_path, name) == Some(Value::Bool(true))
    }
}

/// One failing keyword at one instance location.
struct Found {
    pointer: String,
    keyword: String,
    schema_path: String,
    instance: Value,
    /// For `required`: every missing member.
    missing: Vec<Value>,
    /// The crate's own words, for keywords sluice's schemas cannot use.
    fallback: String,
}

/// Whether JSON pointer `a` is a proper ancestor of `b`.
fn is_strict_ancestor(a: &str, b: &str) -> bool {
    a != b && b.starts_with(a) && b[a.len()..].starts_with('/')
}

/// Compact JSON, as the Java validator prints its arguments (`["a","b"]`).
fn json(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A string instance's text (the Java validator prints it unquoted inside its own quotes).
fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// Draft 4's name of a value's type, as the Java validator reports it (`integer` for integral numbers).
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Validates a request body's text: not JSON → [`NOT_JSON`], else [`RequestValidator::validate`].
pub fn validate_text(validator: &RequestValidator, body: &str) -> Result<Value, BodyError> {
    let value: Value = serde_json::from_str(body).map_err(|_| BodyError::NotJson)?;
    validator.validate(&value)?;
    Ok(value)
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
                r#"[object has missing required properties (["message","eventId"])]"#,
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
    }
}
