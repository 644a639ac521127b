//! Request schemas: the JSON Schema draft-4 subset that API Gateway enforces the way `cargo xtask dev` does.
//!
//! API Gateway validates request bodies against models, written in JSON Schema draft 4 and imported from the
//! OpenAPI 3.0 document `gen` writes. Its documentation ("Amazon API Gateway important notes for REST
//! APIs") lists what models do not support; OpenAPI 3.0's schema object (what the importer reads) has no
//! place for some draft-4 keywords, so they would be dropped on import. A schema using any of those would
//! be enforced differently (or not at all) once deployed, so [`check`] refuses it, naming the keyword and
//! why. What is left is the same on both sides: the local gateway validates with the same schema
//! (`sluice-schema`).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::closest;
use crate::json::{Json, JsonValue};
use crate::problem::{Problem, Problems};

/// The only `$schema` a model may name.
pub const DRAFT_04: &str = "http://json-schema.org/draft-04/schema#";

/// The draft-4 keywords sluice passes to API Gateway, and so to the local validator.
pub const SUPPORTED: &[&str] = &[
    "$schema",
    "title",
    "description",
    "default",
    "type",
    "enum",
    "required",
    "properties",
    "items",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "not",
];

/// The types a schema may name (OpenAPI 3.0 has no `null` type).
const TYPES: &[&str] = &["object", "array", "string", "number", "integer", "boolean"];

const NOT_IN_MODELS: &str = "API Gateway's documentation lists it as not supported in models (important notes for REST APIs)";
const DROPPED_ON_IMPORT: &str = "OpenAPI 3.0's schema object, which API Gateway imports models from, has no such keyword: it would be dropped and not enforced once deployed";
const OPENAPI_ONLY: &str =
    "it is an OpenAPI keyword, not JSON Schema draft 4: API Gateway's validator ignores it";
const NOT_DRAFT_4: &str = "it is not in JSON Schema draft 4, the draft API Gateway validates with";

/// Why a keyword is refused, if it is.
pub fn refused(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "additionalProperties"
        | "anyOf"
        | "oneOf"
        | "exclusiveMinimum"
        | "discriminator"
        | "example"
        | "readOnly" => NOT_IN_MODELS,
        "minItems" | "maxItems" => {
            "API Gateway's documentation says request validation does not apply it, so the deployed API would accept what the local one refuses"
        }
        "allOf" => {
            "earlier API Gateway documentation lists it as not supported in models, and its validator's answer for it cannot be reproduced locally; put the constraints in one schema"
        }
        "format" => {
            "API Gateway's validator checks formats with rules of its own (and documents int32, int64 and decimal as unsupported), which the local gateway cannot reproduce; use `pattern`"
        }
        "$ref" | "definitions" | "id" => {
            "once imported, a reference resolves against API Gateway's models, not this schema; write the subschema inline"
        }
        "patternProperties" | "additionalItems" | "dependencies" => DROPPED_ON_IMPORT,
        "nullable" | "writeOnly" | "xml" | "externalDocs" | "deprecated" => OPENAPI_ONLY,
        "const"
        | "contains"
        | "propertyNames"
        | "if"
        | "then"
        | "else"
        | "examples"
        | "$id"
        | "$comment"
        | "$defs"
        | "dependentRequired"
        | "dependentSchemas"
        | "prefixItems"
        | "unevaluatedItems"
        | "unevaluatedProperties"
        | "contentEncoding"
        | "contentMediaType"
        | "$anchor"
        | "$dynamicRef"
        | "$vocabulary"
        | "maxContains"
        | "minContains"
        | "$recursiveRef" => NOT_DRAFT_4,
        _ => return None,
    })
}

/// Checks a request schema; `Ok` with the schema as the OpenAPI document carries it (without `$schema`).
pub fn check(root: &Json) -> Result<Value, Vec<Problem>> {
    let mut c = Problems::default();
    match &root.value {
        JsonValue::Object(_) => {
            match root.get("type").and_then(Json::as_str) {
                Some("object") => {}
                Some(_) => c.err(
                    &root.get("type").map(|t| t.span.clone()).unwrap_or(root.span.clone()),
                    "a request schema must have \"type\": \"object\" (the record contract carries JSON objects)",
                    None,
                ),
                None => c.err(
                    &root.span,
                    "a request schema must say \"type\": \"object\" at its top (the record contract carries JSON objects)",
                    None,
                ),
            }
            schema(&mut c, root, true);
        }
        _ => c.err(
            &root.span,
            format!(
                "a request schema must be a JSON object, not {}",
                root.type_name()
            ),
            None,
        ),
    }
    if !c.is_empty() {
        return Err(c.list);
    }
    let mut value = root.to_value();
    if let Value::Object(members) = &mut value {
        members.remove("$schema");
    }
    // The validator is the judge of what is left (it also compiles every pattern).
    if let Err(e) = sluice_schema::RequestValidator::new(&value) {
        c.err(
            &root.span,
            format!("the schema does not compile: {e}"),
            None,
        );
        return Err(c.list);
    }
    Ok(value)
}

fn schema(c: &mut Problems, node: &Json, top: bool) {
    let JsonValue::Object(members) = &node.value else {
        c.err(
            &node.span,
            format!("a schema must be a JSON object, not {}", node.type_name()),
            None,
        );
        return;
    };
    let mut seen = BTreeSet::new();
    for m in members {
        if !seen.insert(m.key.as_str()) {
            c.err(&m.key_span, format!("`{}` appears twice", m.key), None);
            continue;
        }
        let v = &m.value;
        match m.key.as_str() {
            "$schema" => {
                if !top {
                    c.err(&m.key_span, "`$schema` belongs at the top of the schema only", None);
                } else if !matches!(v.as_str(), Some(DRAFT_04 | "http://json-schema.org/draft-04/schema")) {
                    c.err(
                        &v.span,
                        "API Gateway validates with JSON Schema draft 4",
                        Some(format!("write \"$schema\": \"{DRAFT_04}\", or leave it out")),
                    );
                }
            }
            "title" | "description" | "pattern" => {
                let Some(text) = v.as_str() else {
                    c.err(&v.span, format!("`{}` must be a string", m.key), None);
                    continue;
                };
                if m.key == "pattern"
                    && let Err(e) = sluice_schema::RequestValidator::new(
                        &serde_json::json!({ "pattern": text }),
                    )
                {
                    c.err(&v.span, format!("`pattern` is not a valid regular expression: {e}"), None);
                }
            }
            "default" => {}
            "type" => match &v.value {
                JsonValue::String(t) if TYPES.contains(&t.as_str()) => {}
                JsonValue::String(t) if t == "null" => c.err(
                    &v.span,
                    "OpenAPI 3.0, which API Gateway imports models from, has no \"null\" type",
                    Some("leave `type` out to accept any value".into()),
                ),
                JsonValue::String(t) => c.err(
                    &v.span,
                    format!("\"{t}\" is not a JSON Schema type"),
                    Some(match closest(t, TYPES.iter().copied()) {
                        Some(s) => format!("did you mean \"{s}\"?"),
                        None => format!("one of {}", TYPES.join(", ")),
                    }),
                ),
                JsonValue::Array(_) => c.err(
                    &v.span,
                    "a list of types is not allowed: OpenAPI 3.0, which API Gateway imports models from, takes one type per schema",
                    None,
                ),
                _ => c.err(&v.span, "`type` must be a type name", None),
            },
            "enum" => match &v.value {
                JsonValue::Array(items) if !items.is_empty() => {
                    let values: Vec<Value> = items.iter().map(Json::to_value).collect();
                    for (i, item) in items.iter().enumerate() {
                        if values[..i].contains(&values[i]) {
                            c.err(&item.span, "`enum` lists this value twice", None);
                        }
                    }
                }
                _ => c.err(&v.span, "`enum` must be a non-empty list", None),
            },
            "required" => match &v.value {
                JsonValue::Array(items) if !items.is_empty() => {
                    let mut names = BTreeSet::new();
                    for item in items {
                        match item.as_str() {
                            Some(name) if names.insert(name) => {}
                            Some(_) => c.err(&item.span, "`required` lists this name twice", None),
                            None => c.err(&item.span, "`required` must list member names (strings)", None),
                        }
                    }
                }
                _ => c.err(
                    &v.span,
                    "`required` must be a non-empty list of member names (draft 4)",
                    None,
                ),
            },
            "properties" => match &v.value {
                JsonValue::Object(props) => {
                    let mut names = BTreeSet::new();
                    for p in props {
                        if !names.insert(p.key.as_str()) {
                            c.err(&p.key_span, format!("property `{}` appears twice", p.key), None);
                        }
                        schema(c, &p.value, false);
                    }
                }
                _ => c.err(&v.span, "`properties` must be an object of schemas", None),
            },
            "items" => match &v.value {
                JsonValue::Object(_) => schema(c, v, false),
                JsonValue::Array(_) => c.err(
                    &v.span,
                    "`items` as a list (tuple validation) is not in OpenAPI 3.0's schema object, which API Gateway imports models from: it would not be enforced once deployed",
                    Some("give `items` one schema for every element".into()),
                ),
                _ => c.err(&v.span, "`items` must be a schema", None),
            },
            "not" => schema(c, v, false),
            "minLength" | "maxLength" | "minProperties" | "maxProperties" => {
                if !is_non_negative_integer(v) {
                    c.err(&v.span, format!("`{}` must be a whole number, 0 or more", m.key), None);
                }
            }
            "minimum" | "maximum" => {
                if v.as_f64().is_none() {
                    c.err(&v.span, format!("`{}` must be a number", m.key), None);
                }
            }
            "multipleOf" => {
                if !v.as_f64().is_some_and(|n| n > 0.0) {
                    c.err(&v.span, "`multipleOf` must be a number above 0", None);
                }
            }
            "exclusiveMaximum" => match &v.value {
                JsonValue::Bool(_) if node.get("maximum").is_some() => {}
                JsonValue::Bool(_) => c.err(&m.key_span, "`exclusiveMaximum` needs `maximum` (draft 4)", None),
                _ => c.err(
                    &v.span,
                    "`exclusiveMaximum` must be true or false in draft 4 (with `maximum` holding the limit)",
                    None,
                ),
            },
            "uniqueItems" => {
                if !matches!(v.value, JsonValue::Bool(_)) {
                    c.err(&v.span, "`uniqueItems` must be true or false", None);
                }
            }
            other => {
                let (message, help) = match refused(other) {
                    Some(why) => (format!("`{other}` cannot be used in a request schema: {why}"), None),
                    None => (
                        format!("`{other}` is not a keyword API Gateway's models support"),
                        Some(match closest(other, SUPPORTED.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!("supported keywords: {}", SUPPORTED.join(", ")),
                        }),
                    ),
                };
                c.err(&m.key_span, message, help);
            }
        }
    }
}

fn is_non_negative_integer(v: &Json) -> bool {
    match &v.value {
        JsonValue::Number(text) => text.parse::<u64>().is_ok(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn problems(text: &str) -> Vec<(String, String)> {
        let json = parse(text).unwrap();
        match check(&json) {
            Ok(_) => Vec::new(),
            Err(ps) => ps
                .into_iter()
                .map(|p| (text[p.span].to_string(), p.message))
                .collect(),
        }
    }

    #[test]
    fn a_supported_schema_passes_without_its_dollar_schema() {
        let text = r#"{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
            "required": ["message"], "properties": {"message": {"type": "string", "minLength": 1},
            "n": {"type": "number", "maximum": 5, "exclusiveMaximum": true}, "tags": {"type": "array", "items": {"enum": ["a", 1, null]}}}}"#;
        let value = check(&parse(text).unwrap()).unwrap();
        assert!(value.get("$schema").is_none());
        assert_eq!(value["required"], serde_json::json!(["message"]));
    }

    #[test]
    fn refused_keywords_are_named_with_their_reason_where_they_are() {
        for (keyword, fragment) in [
            ("additionalProperties", "not supported in models"),
            ("oneOf", "not supported in models"),
            ("minItems", "does not apply it"),
            ("format", "use `pattern`"),
            ("$ref", "inline"),
            ("patternProperties", "dropped"),
            ("nullable", "OpenAPI keyword"),
            ("const", "draft 4"),
        ] {
            let text =
                format!(r#"{{"type": "object", "properties": {{"a": {{"{keyword}": 1}}}}}}"#);
            let ps = problems(&text);
            assert_eq!(ps.len(), 1, "{keyword}: {ps:?}");
            assert_eq!(ps[0].0, format!("\"{keyword}\""));
            assert!(ps[0].1.contains(fragment), "{keyword}: {}", ps[0].1);
        }
    }

    #[test]
    fn shapes_types_and_typos_are_located() {
        let ps = problems(
            r#"{"type": "object", "properties": {"a": {"type": "strnig", "minLenght": 2}, "b": {"type": ["string", "null"]}}}"#,
        );
        let spans: Vec<&str> = ps.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            spans,
            ["\"strnig\"", "\"minLenght\"", "[\"string\", \"null\"]"]
        );
        assert_eq!(problems(r#"{"type": "array"}"#)[0].0, "\"array\"");
        assert!(
            problems(r#"{"properties": {}}"#)[0]
                .1
                .contains("\"type\": \"object\"")
        );
        assert!(
            problems(r#"{"type": "object", "required": []}"#)[0]
                .1
                .contains("non-empty")
        );
        assert!(
            problems(r#"{"type": "object", "pattern": "("}"#)[0]
                .1
                .contains("regular expression")
        );
        assert_eq!(
            problems(r#"{"type": "object", "$schema": "http://json-schema.org/draft-07/schema#"}"#)
                [0]
            .0,
            "\"http://json-schema.org/draft-07/schema#\""
        );
        assert_eq!(
            problems(r#"{"type": "object", "type": "object"}"#)[0].1,
            "`type` appears twice"
        );
    }
}
