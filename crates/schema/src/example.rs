//! A request body a schema accepts, derived from the schema alone: what `cargo xtask send`, the smoke test
//! and the dev "try" line send on a route that has no `example` of its own.
//!
//! The derivation is by construction, then checked: each (sub)schema offers a few candidates, in order, and
//! the first one its own validator accepts is taken.
//!
//! - `enum`: its values, the first first;
//! - an object: its `required` members (each derived from its `properties` entry, `"example"` when it has
//!   none), then optional members in order while `minProperties` asks for more;
//! - a string: `"example"` and a few common shapes (a letter, a digit, a date, an e-mail address, a UUID),
//!   each padded to `minLength` and cut to `maxLength`, so that a simple `pattern` is met too; a pattern
//!   none of them meets is not searched further (give the route an `example`);
//! - a number: `minimum` (past it when exclusive), rounded up to `multipleOf`, else 0 (or `maximum` when
//!   that is negative);
//! - a boolean `true`, an array `minItems` derived items (none by default), `null` for `null`;
//! - `$ref` is followed within the document, `allOf`'s schemas are merged into one, each of `anyOf`'s and
//!   `oneOf`'s alternatives offers its candidates, and property `dependencies` add the members they ask for.
//!
//! When no candidate is accepted, the first one is answered anyway: the caller validates (and says so).

use serde_json::{Map, Number, Value, json};

use crate::RequestValidator;

/// A body `schema` accepts, when it can be found (see the module's documentation); else the nearest try.
pub fn example(schema: &Value) -> Value {
    ROOT.with(|r| *r.borrow_mut() = Some(schema.clone()));
    let out = derive(schema, 0);
    ROOT.with(|r| *r.borrow_mut() = None);
    out
}

thread_local! {
    /// The whole schema, for `$ref`s and `definitions` while one example is derived.
    static ROOT: std::cell::RefCell<Option<Value>> = const { std::cell::RefCell::new(None) };
}

/// `schema` with its `$ref` followed (within the document) and `allOf` merged in.
fn resolved(schema: &Value, depth: usize) -> Value {
    let mut schema = schema.clone();
    for _ in 0..16 {
        let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let target = r.strip_prefix('#').and_then(|fragment| {
            ROOT.with(|root| {
                root.borrow()
                    .as_ref()
                    .and_then(|root| root.pointer(fragment).cloned())
            })
        });
        match target {
            Some(t) => schema = t,
            None => break,
        }
    }
    if let Some(Value::Array(all)) = schema.get("allOf").cloned()
        && depth <= MAX_DEPTH
    {
        if let Value::Object(m) = &mut schema {
            m.remove("allOf");
        }
        for sub in all {
            merge(&mut schema, &resolved(&sub, depth + 1));
        }
    }
    schema
}

/// Adds `from`'s keywords to `into` (`properties` merged member by member, `required` united; other
/// keywords kept when present).
fn merge(into: &mut Value, from: &Value) {
    let (Value::Object(into), Value::Object(from)) = (into, from) else {
        return;
    };
    for (k, v) in from {
        match (k.as_str(), into.get_mut(k), v) {
            ("properties", Some(Value::Object(mine)), Value::Object(theirs)) => {
                for (name, s) in theirs {
                    match mine.get_mut(name) {
                        Some(existing) => merge(existing, s),
                        None => {
                            mine.insert(name.clone(), s.clone());
                        }
                    }
                }
            }
            ("required", Some(Value::Array(mine)), Value::Array(theirs)) => {
                for name in theirs {
                    if !mine.contains(name) {
                        mine.push(name.clone());
                    }
                }
            }
            (_, None, _) => {
                into.insert(k.clone(), v.clone());
            }
            _ => {}
        }
    }
}

/// A validator for a subschema on its own (the document's `definitions` brought along for its `$ref`s).
fn validator(schema: &Value) -> Option<RequestValidator> {
    let mut schema = schema.clone();
    if let Value::Object(m) = &mut schema
        && !m.contains_key("definitions")
        && let Some(defs) = ROOT.with(|r| {
            r.borrow()
                .as_ref()
                .and_then(|root| root.get("definitions").cloned())
        })
    {
        m.insert("definitions".into(), defs);
    }
    RequestValidator::new(&schema).ok()
}

/// How deep nested schemas are followed (a schema is a tree; this only bounds silly ones).
const MAX_DEPTH: usize = 16;

fn derive(schema: &Value, depth: usize) -> Value {
    let whole = resolved(schema, depth);
    let mut candidates = Vec::new();
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alternatives)) = whole.get(key)
            && depth <= MAX_DEPTH
        {
            for alternative in alternatives {
                let mut one = whole.clone();
                if let Value::Object(m) = &mut one {
                    m.remove("anyOf");
                    m.remove("oneOf");
                }
                merge(&mut one, &resolved(alternative, depth + 1));
                candidates.extend(self::candidates(&one, depth));
            }
        }
    }
    candidates.extend(self::candidates(&whole, depth));
    let accepted =
        validator(schema).and_then(|v| candidates.iter().find(|c| v.validate(c).is_ok()).cloned());
    accepted.unwrap_or_else(|| candidates.into_iter().next().unwrap_or(Value::Null))
}

/// The types a schema allows, in its order; inferred from its keywords when it names none.
fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => {
            let has = |k: &str| schema.get(k).is_some();
            if has("properties") || has("required") || has("minProperties") {
                vec!["object"]
            } else if has("items") || has("uniqueItems") || has("minItems") {
                vec!["array"]
            } else if has("minimum") || has("maximum") || has("multipleOf") {
                vec!["number"]
            } else {
                vec!["string", "object"]
            }
        }
    }
}

fn candidates(schema: &Value, depth: usize) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    if let Some(Value::Array(values)) = schema.get("enum") {
        out.extend(values.iter().cloned());
    }
    if depth > MAX_DEPTH {
        out.push(Value::Null);
        return out;
    }
    for t in types(schema) {
        match t {
            "object" => out.push(object(schema, depth)),
            "string" => out.extend(strings(schema)),
            "integer" => out.extend(numbers(schema, true)),
            "number" => out.extend(numbers(schema, false)),
            "boolean" => out.extend([Value::Bool(true), Value::Bool(false)]),
            "array" => out.extend(arrays(schema, depth)),
            "null" => out.push(Value::Null),
            _ => {}
        }
    }
    out
}

fn object(schema: &Value, depth: usize) -> Value {
    let properties = schema.get("properties").and_then(Value::as_object);
    let member = |name: &str| match properties.and_then(|p| p.get(name)) {
        Some(s) => derive(s, depth + 1),
        None => json!("example"),
    };
    let mut out = Map::new();
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        out.insert(name.to_string(), member(name));
    }
    // Members that property dependencies ask for, as long as they ask for more.
    for _ in 0..16 {
        let wanted: Vec<String> = out
            .keys()
            .filter_map(|k| schema.get("dependencies")?.get(k)?.as_array())
            .flatten()
            .filter_map(Value::as_str)
            .filter(|d| !out.contains_key(*d))
            .map(str::to_string)
            .collect();
        if wanted.is_empty() {
            break;
        }
        for name in wanted {
            let value = member(&name);
            out.insert(name, value);
        }
    }
    let min = schema
        .get("minProperties")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut optional = properties.into_iter().flat_map(|p| p.keys());
    let mut n = 0;
    while (out.len() as u64) < min {
        match optional.next() {
            Some(name) if out.contains_key(name) => {}
            Some(name) => {
                out.insert(name.clone(), member(name));
            }
            None => {
                n += 1;
                out.insert(format!("member{n}"), json!("example"));
            }
        }
    }
    Value::Object(out)
}

/// Common shapes of strings, so that simple patterns (letters, digits, dates, e-mail, ids) are met.
const STRINGS: &[&str] = &[
    "example",
    "a",
    "A",
    "1",
    "a1",
    "A1",
    "A-1",
    "a_1",
    "2024-01-01",
    "2024-01-01T00:00:00Z",
    "someone@example.com",
    "00000000-0000-4000-8000-000000000000",
    "https://example.com/",
    "+15555550100",
    " ",
    "",
];

fn strings(schema: &Value) -> Vec<Value> {
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = schema.get("maxLength").and_then(Value::as_u64);
    STRINGS
        .iter()
        .map(|s| {
            let mut s: String = s.to_string();
            let pad = s.chars().last().unwrap_or('x');
            while s.chars().count() < min {
                s.push(pad);
            }
            if let Some(max) = max {
                s = s.chars().take(max as usize).collect();
            }
            Value::String(s)
        })
        .collect()
}

fn numbers(schema: &Value, integer: bool) -> Vec<Value> {
    let num = |k: &str| schema.get(k).and_then(Value::as_f64);
    let flag = |k: &str| schema.get(k).and_then(Value::as_bool).unwrap_or(false);
    let multiple = num("multipleOf").filter(|m| *m > 0.0);
    let step = if integer {
        1.0
    } else {
        multiple.unwrap_or(1.0)
    };
    let start = match (num("minimum"), num("maximum")) {
        (Some(min), _) if flag("exclusiveMinimum") => min + step,
        (Some(min), _) => min,
        (None, Some(max)) if max < 0.0 => {
            if flag("exclusiveMaximum") {
                max - step
            } else {
                max
            }
        }
        _ => 0.0,
    };
    let start = if integer { start.ceil() } else { start };
    let mut values = Vec::new();
    if let Some(m) = multiple {
        // Rounded before the ceiling, so that 0.5 / 0.01 (50.000000000000004) stays 50.
        let k = (((start / m) * 1e9).round() / 1e9).ceil();
        values.push(k * m);
        values.push((k * m).ceil());
    }
    values.extend([start, start.ceil(), start.ceil() + 1.0, 0.0, 1.0]);
    values.into_iter().filter_map(number).collect()
}

/// A JSON number, written as an integer when it is one.
fn number(v: f64) -> Option<Value> {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 {
        Some(Value::Number(Number::from(v as i64)))
    } else {
        Number::from_f64(v).map(Value::Number)
    }
}

fn arrays(schema: &Value, depth: usize) -> Vec<Value> {
    let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
    if min == 0 {
        return vec![Value::Array(Vec::new())];
    }
    if let Some(Value::Array(tuple)) = schema.get("items") {
        let extra = match schema.get("additionalItems") {
            Some(Value::Object(_)) => schema["additionalItems"].clone(),
            _ => json!({}),
        };
        let items = (0..min.max(tuple.len().min(min)))
            .map(|i| derive(tuple.get(i).unwrap_or(&extra), depth + 1))
            .collect();
        return vec![Value::Array(items)];
    }
    let item = schema.get("items").cloned().unwrap_or(json!({}));
    let one = derive(&item, depth + 1);
    let mut items = vec![one.clone(); min];
    if let (Some(true), Value::String(s)) =
        (schema.get("uniqueItems").and_then(Value::as_bool), &one)
    {
        items = (0..min).map(|i| Value::String(format!("{s}{i}"))).collect();
    }
    vec![Value::Array(items)]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn valid(schema: Value) -> Value {
        let body = example(&schema);
        let v = RequestValidator::new(&schema).unwrap();
        assert_eq!(v.validate(&body), Ok(()), "{schema} → {body}");
        body
    }

    #[test]
    fn required_members_first_enum_values_and_minimums() {
        assert_eq!(
            valid(json!({
                "type": "object", "required": ["who", "action"],
                "properties": {"who": {"type": "string", "minLength": 1}, "action": {"type": "string", "enum": ["create", "update", "delete"]}}
            })),
            json!({"who": "example", "action": "create"})
        );
        assert_eq!(
            valid(json!({
                "type": "object", "required": ["kind", "version"],
                "properties": {
                    "kind": {"type": "string", "enum": ["order", "click", "test"]},
                    "version": {"type": "integer", "minimum": 1},
                    "amount": {"type": "number", "minimum": 0, "multipleOf": 0.01}
                }
            })),
            json!({"kind": "order", "version": 1})
        );
        assert_eq!(valid(json!({"type": "object"})), json!({}));
    }

    #[test]
    fn tricky_schemas_still_get_a_valid_body() {
        for schema in [
            json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "number", "minimum": 0.5, "multipleOf": 0.01}}}),
            json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "integer", "minimum": 3, "multipleOf": 5}}}),
            json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "integer", "maximum": -4, "exclusiveMaximum": true}}}),
            json!({"type": "object", "required": ["n"], "properties": {"n": {"type": "number", "minimum": 2, "exclusiveMinimum": true}}}),
            json!({"type": "object", "required": ["s"], "properties": {"s": {"type": "string", "minLength": 12, "maxLength": 12}}}),
            json!({"type": "object", "required": ["s"], "properties": {"s": {"type": "string", "maxLength": 0}}}),
            json!({"type": "object", "required": ["s"], "properties": {"s": {"type": "string", "pattern": "^[A-Z0-9-]+$", "minLength": 3}}}),
            json!({"type": "object", "required": ["s"], "properties": {"s": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"}}}),
            json!({"type": "object", "required": ["s"], "properties": {"s": {"type": "string", "pattern": "@"}}}),
            json!({"type": "object", "required": ["s"], "properties": {"s": {"type": "string", "not": {"enum": ["example"]}}}}),
            json!({"type": "object", "required": ["b", "u"], "properties": {"b": {"type": "boolean"}, "u": {"type": ["null", "string"]}}}),
            json!({"type": "object", "required": ["inner"], "properties": {"inner": {"type": "object", "required": ["deep"], "properties": {"deep": {"type": "array", "minItems": 2, "uniqueItems": true, "items": {"type": "string"}}}}}}),
            json!({"type": "object", "required": ["untyped"]}),
            json!({"type": "object", "minProperties": 2, "properties": {"a": {"type": "integer"}}}),
            json!({"type": "object", "required": ["e"], "properties": {"e": {"enum": [1, "x"], "type": "string"}}}),
            json!({"type": "object", "definitions": {"pos": {"type": "integer", "minimum": 1}}, "required": ["r"], "properties": {"r": {"$ref": "#/definitions/pos"}}}),
            json!({"type": "object", "allOf": [{"required": ["a"], "properties": {"a": {"type": "integer", "minimum": 3}}}, {"required": ["b"]}], "additionalProperties": false, "properties": {"a": {}, "b": {}}}),
            json!({"type": "object", "required": ["o"], "properties": {"o": {"oneOf": [{"type": "string", "minLength": 2}, {"type": "string", "maxLength": 3}]}}}),
            json!({"type": "object", "required": ["o"], "properties": {"o": {"anyOf": [{"type": "null"}, {"type": "integer"}]}}}),
            json!({"type": "object", "required": ["a"], "dependencies": {"a": ["b"]}, "properties": {"b": {"type": "boolean"}}}),
            json!({"type": "object", "required": ["t"], "properties": {"t": {"type": "array", "minItems": 2, "items": [{"type": "integer"}, {"type": "string"}], "additionalItems": false}}}),
        ] {
            valid(schema);
        }
    }

    #[test]
    fn the_repository_s_schema_files_get_a_valid_body() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut seen = 0;
        for example in std::fs::read_dir(&root).unwrap() {
            let dir = example.unwrap().path().join("schemas");
            for file in std::fs::read_dir(&dir).into_iter().flatten() {
                let path = file.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                valid(serde_json::from_str(&text).unwrap());
                seen += 1;
            }
        }
        assert!(seen > 0, "no schema files under {}", root.display());
    }

    #[test]
    fn a_pattern_no_common_shape_meets_answers_the_nearest_try() {
        let schema = json!({"type": "object", "required": ["s"], "properties": {"s": {"type": "string", "pattern": "^zz[0-9]{3}$"}}});
        let body = example(&schema);
        assert_eq!(body, json!({"s": "example"}));
        assert!(
            RequestValidator::new(&schema)
                .unwrap()
                .validate(&body)
                .is_err()
        );
    }
}
