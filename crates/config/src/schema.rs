//! Request schemas: JSON Schema draft 4, as API Gateway's validator (fge's json-schema-validator) enforces it
//! and as `cargo xtask dev` reproduces it (`sluice-schema`).
//!
//! Every draft-4 keyword is accepted, except what the local gateway cannot answer as fge does: `format`
//! (Java libraries' own rules), `id` (a resolution scope fge would fetch) and a `$ref` to another document.
//! Keywords that are not draft 4 (OpenAPI's, later drafts') are refused, as API Gateway's validator would
//! ignore them. [`check`] names each problem where it is; the validator itself has the last word (it compiles
//! every pattern as an ECMA 262 regular expression and follows every reference), located the same way.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::closest;
use crate::json::{Json, JsonValue};
use crate::problem::{Problem, Problems};

/// The only `$schema` a model may name.
pub const DRAFT_04: &str = "http://json-schema.org/draft-04/schema#";

/// The draft-4 keywords a request schema may use.
pub const SUPPORTED: &[&str] = &[
    "$schema",
    "$ref",
    "title",
    "description",
    "default",
    "definitions",
    "type",
    "enum",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "required",
    "properties",
    "patternProperties",
    "additionalProperties",
    "dependencies",
    "minProperties",
    "maxProperties",
    "items",
    "additionalItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
];

/// The types a schema may name (draft 4).
const TYPES: &[&str] = &[
    "object", "array", "string", "number", "integer", "boolean", "null",
];

const OPENAPI_ONLY: &str =
    "it is an OpenAPI keyword, not JSON Schema draft 4: API Gateway's validator ignores it";
const NOT_DRAFT_4: &str = "it is not in JSON Schema draft 4, the draft API Gateway validates with";

/// Why a keyword is refused, if it is.
pub fn refused(keyword: &str) -> Option<&'static str> {
    if let Some(why) = sluice_schema::unreproducible(keyword) {
        return Some(why);
    }
    Some(match keyword {
        "nullable" | "writeOnly" | "readOnly" | "xml" | "externalDocs" | "deprecated"
        | "discriminator" | "example" => OPENAPI_ONLY,
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

/// A checked request schema: as the OpenAPI document carries it (without `$schema`), and as written
/// (compact JSON keeping member order and number text: what the validator compiles).
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub value: Value,
    pub text: String,
}

/// Checks a request schema.
pub fn check(root: &Json) -> Result<Checked, Vec<Problem>> {
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
    let text = to_text(root);
    // The validator is the judge of what is left (patterns, references), with the place it names.
    if let Err(e) = sluice_schema::RequestValidator::from_text(&text) {
        let span = locate(root, &e.pointer).unwrap_or(&root.span);
        c.err(
            span,
            format!("the schema cannot be a request model: {}", e.reason),
            None,
        );
        return Err(c.list);
    }
    let mut value = root.to_value();
    if let Value::Object(members) = &mut value {
        members.remove("$schema");
    }
    Ok(Checked { value, text })
}

/// Compact JSON text of `j`, members in order and numbers as written.
pub fn to_text(j: &Json) -> String {
    let quote = |s: &str| Value::String(s.to_string()).to_string();
    match &j.value {
        JsonValue::Null => "null".into(),
        JsonValue::Bool(b) => b.to_string(),
        JsonValue::Number(n) => n.clone(),
        JsonValue::String(s) => quote(s),
        JsonValue::Array(items) => {
            let items: Vec<String> = items.iter().map(to_text).collect();
            format!("[{}]", items.join(","))
        }
        JsonValue::Object(members) => {
            let members: Vec<String> = members
                .iter()
                .map(|m| format!("{}:{}", quote(&m.key), to_text(&m.value)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
    }
}

/// The span of the value a JSON pointer names (the member's name for an object member).
fn locate<'j>(root: &'j Json, pointer: &str) -> Option<&'j std::ops::Range<usize>> {
    let mut at = root;
    let mut span = &root.span;
    for token in pointer.split('/').skip(1).filter(|t| !t.is_empty()) {
        let token = token.replace("~1", "/").replace("~0", "~");
        match &at.value {
            JsonValue::Object(members) => {
                let m = members.iter().rev().find(|m| m.key == token)?;
                span = &m.key_span;
                at = &m.value;
            }
            JsonValue::Array(items) => {
                at = items.get(token.parse::<usize>().ok()?)?;
                span = &at.span;
            }
            _ => return None,
        }
    }
    Some(span)
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
            "$ref" => match v.as_str() {
                Some(r) if r.starts_with('#') => {}
                Some(r) => c.err(
                    &v.span,
                    format!("`$ref` \"{r}\" refers to another document, which the local gateway cannot fetch"),
                    Some("put the subschema under `definitions` and refer to it as \"#/definitions/...\"".into()),
                ),
                None => c.err(&v.span, "`$ref` must be a string (a JSON reference)", None),
            },
            "title" | "description" | "pattern" => {
                if v.as_str().is_none() {
                    c.err(&v.span, format!("`{}` must be a string", m.key), None);
                }
            }
            "default" => {}
            "type" => types(c, v),
            "enum" => match &v.value {
                JsonValue::Array(items) if !items.is_empty() => {}
                _ => c.err(&v.span, "`enum` must be a non-empty list", None),
            },
            "required" => names(c, v, "required"),
            "properties" | "patternProperties" | "definitions" => match &v.value {
                JsonValue::Object(props) => {
                    let mut names = BTreeSet::new();
                    for p in props {
                        if !names.insert(p.key.as_str()) {
                            c.err(&p.key_span, format!("`{}` names `{}` twice", m.key, p.key), None);
                        }
                        schema(c, &p.value, false);
                    }
                }
                _ => c.err(&v.span, format!("`{}` must be an object of schemas", m.key), None),
            },
            "items" => match &v.value {
                JsonValue::Array(items) => items.iter().for_each(|i| schema(c, i, false)),
                _ => schema(c, v, false),
            },
            "additionalItems" | "additionalProperties" => {
                if !matches!(v.value, JsonValue::Bool(_)) {
                    schema(c, v, false);
                }
            }
            "allOf" | "anyOf" | "oneOf" => match &v.value {
                JsonValue::Array(items) if !items.is_empty() => {
                    items.iter().for_each(|i| schema(c, i, false))
                }
                _ => c.err(&v.span, format!("`{}` must be a non-empty list of schemas", m.key), None),
            },
            "not" => schema(c, v, false),
            "dependencies" => match &v.value {
                JsonValue::Object(deps) => {
                    for d in deps {
                        match &d.value.value {
                            JsonValue::Object(_) => schema(c, &d.value, false),
                            _ => names(c, &d.value, "dependencies"),
                        }
                    }
                }
                _ => c.err(&v.span, "`dependencies` must be an object", None),
            },
            "minLength" | "maxLength" | "minProperties" | "maxProperties" | "minItems"
            | "maxItems" => {
                if !is_non_negative_integer(v) {
                    c.err(&v.span, format!("`{}` must be a whole number, 0 or more", m.key), None);
                }
            }
            "minimum" | "maximum" => {
                if !matches!(v.value, JsonValue::Number(_)) {
                    c.err(&v.span, format!("`{}` must be a number", m.key), None);
                }
            }
            "multipleOf" => {
                if !v.as_f64().is_some_and(|n| n > 0.0) {
                    c.err(&v.span, "`multipleOf` must be a number above 0", None);
                }
            }
            "exclusiveMaximum" | "exclusiveMinimum" => {
                let limit = if m.key == "exclusiveMaximum" { "maximum" } else { "minimum" };
                match &v.value {
                    JsonValue::Bool(_) if node.get(limit).is_some() => {}
                    JsonValue::Bool(_) => {
                        c.err(&m.key_span, format!("`{}` needs `{limit}` (draft 4)", m.key), None)
                    }
                    _ => c.err(
                        &v.span,
                        format!("`{}` must be true or false in draft 4 (with `{limit}` holding the limit)", m.key),
                        None,
                    ),
                }
            }
            "uniqueItems" => {
                if !matches!(v.value, JsonValue::Bool(_)) {
                    c.err(&v.span, "`uniqueItems` must be true or false", None);
                }
            }
            other => {
                let (message, help) = match refused(other) {
                    Some(why) => (format!("`{other}` cannot be used in a request schema: {why}"), None),
                    None => (
                        format!("`{other}` is not a JSON Schema draft-4 keyword"),
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

fn types(c: &mut Problems, v: &Json) {
    let one = |c: &mut Problems, t: &Json| match &t.value {
        JsonValue::String(name) if TYPES.contains(&name.as_str()) => {}
        JsonValue::String(name) => c.err(
            &t.span,
            format!("\"{name}\" is not a JSON Schema type"),
            Some(match closest(name, TYPES.iter().copied()) {
                Some(s) => format!("did you mean \"{s}\"?"),
                None => format!("one of {}", TYPES.join(", ")),
            }),
        ),
        _ => c.err(
            &t.span,
            "`type` must be a type name or a list of them",
            None,
        ),
    };
    match &v.value {
        JsonValue::Array(items) if !items.is_empty() => {
            let mut seen = BTreeSet::new();
            for t in items {
                one(c, t);
                if let Some(name) = t.as_str()
                    && !seen.insert(name)
                {
                    c.err(&t.span, "`type` lists this type twice", None);
                }
            }
        }
        JsonValue::Array(_) => c.err(&v.span, "`type` must not be an empty list", None),
        _ => one(c, v),
    }
}

/// A non-empty list of distinct member names (`required`, a property dependency).
fn names(c: &mut Problems, v: &Json, keyword: &str) {
    match &v.value {
        JsonValue::Array(items) if !items.is_empty() => {
            let mut names = BTreeSet::new();
            for item in items {
                match item.as_str() {
                    Some(name) if names.insert(name) => {}
                    Some(_) => c.err(
                        &item.span,
                        format!("`{keyword}` lists this name twice"),
                        None,
                    ),
                    None => c.err(
                        &item.span,
                        format!("`{keyword}` must list member names (strings)"),
                        None,
                    ),
                }
            }
        }
        _ => c.err(
            &v.span,
            format!("`{keyword}` must be a non-empty list of member names (draft 4)"),
            None,
        ),
    }
}

fn is_non_negative_integer(v: &Json) -> bool {
    match &v.value {
        JsonValue::Number(text) => text.parse::<u32>().is_ok_and(|n| n <= i32::MAX as u32),
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
    fn a_supported_schema_passes_without_its_dollar_schema_and_keeps_its_text() {
        let text = r#"{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
            "required": ["message"], "properties": {"message": {"type": "string", "minLength": 1},
            "n": {"type": "number", "maximum": 5.0, "exclusiveMaximum": true}, "tags": {"type": "array", "items": {"enum": ["a", 1, null]}}}}"#;
        let checked = check(&parse(text).unwrap()).unwrap();
        assert!(checked.value.get("$schema").is_none());
        assert_eq!(checked.value["required"], serde_json::json!(["message"]));
        assert!(
            checked.text.contains(r#""maximum":5.0"#),
            "{}",
            checked.text
        );
    }

    #[test]
    fn every_draft_4_keyword_is_accepted() {
        let text = r##"{"type": "object", "definitions": {"pos": {"type": "integer", "minimum": 0, "exclusiveMinimum": true}},
            "additionalProperties": false, "minProperties": 1, "dependencies": {"a": ["b"], "c": {"required": ["d"]}},
            "patternProperties": {"^x-": {"type": ["string", "null"]}},
            "properties": {"a": {"$ref": "#/definitions/pos"}, "b": {"anyOf": [{"type": "string"}, {"type": "null"}]},
              "c": {"oneOf": [{"multipleOf": 2}, {"maximum": 1}]}, "d": {"allOf": [{"minLength": 1}], "not": {"enum": ["x"]}},
              "e": {"type": "array", "items": [{"type": "string"}], "additionalItems": false, "minItems": 1, "maxItems": 2, "uniqueItems": true}}}"##;
        assert_eq!(problems(text), Vec::<(String, String)>::new());
    }

    #[test]
    fn refused_keywords_are_named_with_their_reason_where_they_are() {
        for (keyword, value, fragment) in [
            ("format", "\"email\"", "use `pattern`"),
            ("id", "\"#a\"", "resolves references"),
            ("nullable", "true", "OpenAPI keyword"),
            ("const", "1", "draft 4"),
        ] {
            let text =
                format!(r#"{{"type": "object", "properties": {{"a": {{"{keyword}": {value}}}}}}}"#);
            let ps = problems(&text);
            assert_eq!(ps.len(), 1, "{keyword}: {ps:?}");
            assert_eq!(ps[0].0, format!("\"{keyword}\""));
            assert!(ps[0].1.contains(fragment), "{keyword}: {}", ps[0].1);
        }
        let ps = problems(r#"{"type": "object", "properties": {"a": {"$ref": "other.json#/a"}}}"#);
        assert_eq!(ps[0].0, "\"other.json#/a\"");
        assert!(ps[0].1.contains("another document"), "{ps:?}");
    }

    #[test]
    fn what_the_validator_refuses_is_located_too() {
        // A reference to nothing, a pattern that is not ECMA 262, a duplicate enum value (by value, as fge).
        let ps = problems(
            r##"{"type": "object", "properties": {"a": {"$ref": "#/definitions/none"}}}"##,
        );
        assert_eq!(ps[0].0, "\"$ref\"", "{ps:?}");
        assert!(ps[0].1.contains("names nothing"), "{ps:?}");
        let ps = problems(r#"{"type": "object", "properties": {"a": {"pattern": "("}}}"#);
        assert_eq!(ps[0].0, "\"pattern\"", "{ps:?}");
        assert!(ps[0].1.contains("ECMA 262"), "{ps:?}");
        let ps = problems(r#"{"type": "object", "properties": {"a": {"enum": [1, 1.0]}}}"#);
        assert_eq!(ps[0].0, "\"enum\"", "{ps:?}");
        let ps = problems(r##"{"type": "object", "allOf": [{"$ref": "#"}]}"##);
        assert!(ps[0].1.contains("loop"), "{ps:?}");
    }

    #[test]
    fn shapes_types_and_typos_are_located() {
        let ps = problems(
            r#"{"type": "object", "properties": {"a": {"type": "strnig", "minLenght": 2}, "b": {"type": ["string", "string"]}}}"#,
        );
        let spans: Vec<&str> = ps.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(spans, ["\"strnig\"", "\"minLenght\"", "\"string\""]);
        assert!(ps[1].1.contains("draft-4 keyword"), "{ps:?}");
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
