//! fge's validation walk (`InstanceValidator`): at each (schema, instance) pair, the schema's `$ref` is
//! followed, then every keyword that applies to the instance's type runs, in keyword name order, each adding
//! its message to the report; if the report holds any error by then (anywhere, not only here), the walk goes
//! no deeper; else it visits the array's elements in order, or the object's members in name order, against
//! the subschemas `items`/`additionalItems` or `properties`/`patternProperties`/`additionalProperties` select.
//! `allOf`, `anyOf`, `oneOf` and `not` walk their subschemas with reports of their own.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::node::{Node, java_cmp, string_hash};
use crate::regex::Pattern;

/// The keywords fge's draft-4 library validates, and the instance types each applies to.
pub fn applies(keyword: &str, instance: &Node) -> bool {
    let t = instance.type_name();
    match keyword {
        "additionalItems" | "maxItems" | "minItems" | "uniqueItems" => t == "array",
        "additionalProperties"
        | "dependencies"
        | "maxProperties"
        | "minProperties"
        | "required" => t == "object",
        "maxLength" | "minLength" | "pattern" => t == "string",
        "maximum" | "minimum" | "multipleOf" => t == "integer" || t == "number",
        "allOf" | "anyOf" | "enum" | "not" | "oneOf" | "type" => true,
        _ => false,
    }
}

/// The types fge lists, in its order (`NodeType`).
const TYPES: [&str; 7] = [
    "array", "boolean", "integer", "null", "number", "object", "string",
];

pub struct Walk<'a> {
    pub root: &'a Node,
    pub patterns: &'a HashMap<String, Pattern>,
}

impl<'a> Walk<'a> {
    /// Follows `$ref`s (checked when the schema was compiled: within the document, no loop).
    pub fn resolve(&self, mut schema: &'a Node) -> &'a Node {
        for _ in 0..64 {
            match schema.get("$ref").and_then(Node::as_str) {
                Some(r) => match pointer(self.root, r) {
                    Some(target) => schema = target,
                    None => break,
                },
                None => break,
            }
        }
        schema
    }

    fn matches(&self, regex: &str, text: &str) -> bool {
        self.patterns.get(regex).is_some_and(|p| p.test(text))
    }

    pub fn process(&self, schema: &'a Node, instance: &Node, report: &mut Vec<String>) {
        let schema = self.resolve(schema);
        let Node::Obj(members) = schema else {
            return;
        };
        let mut keywords: Vec<&str> = members
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| applies(k, instance))
            .collect();
        keywords.sort_unstable();
        for k in keywords {
            if let Some(v) = schema.get(k) {
                self.keyword(k, v, schema, instance, report);
            }
        }
        if !report.is_empty() {
            return;
        }
        match instance {
            Node::Arr(items) => {
                let list = schema.get("items");
                let additional = schema
                    .get("additionalItems")
                    .filter(|a| matches!(a, Node::Obj(_)));
                for (i, item) in items.iter().enumerate() {
                    let sub = match list {
                        None => additional,
                        Some(Node::Arr(tuple)) => tuple.get(i).or(additional),
                        Some(one) => Some(one),
                    };
                    if let Some(sub) = sub {
                        self.process(sub, item, report);
                    }
                }
            }
            Node::Obj(fields) => {
                let mut names: Vec<&(String, Node)> = fields.iter().collect();
                names.sort_by(|a, b| java_cmp(&a.0, &b.0));
                let properties = schema.get("properties");
                let mut regexes: Vec<&(String, Node)> = match schema.get("patternProperties") {
                    Some(Node::Obj(p)) => p.iter().collect(),
                    _ => Vec::new(),
                };
                regexes.sort_by(|a, b| java_cmp(&a.0, &b.0));
                let additional = schema
                    .get("additionalProperties")
                    .filter(|a| matches!(a, Node::Obj(_)));
                for (name, value) in names {
                    let mut subs: Vec<&Node> = Vec::new();
                    if let Some(s) = properties.and_then(|p| p.get(name)) {
                        subs.push(s);
                    }
                    for (regex, s) in &regexes {
                        if self.matches(regex, name) {
                            subs.push(s);
                        }
                    }
                    if subs.is_empty() {
                        subs.extend(additional);
                    }
                    for s in subs {
                        self.process(s, value, report);
                    }
                }
            }
            _ => {}
        }
    }

    /// Runs one subschema with a report of its own: whether it passed.
    fn passes(&self, schema: &'a Node, instance: &Node) -> bool {
        let mut sub = Vec::new();
        self.process(schema, instance, &mut sub);
        sub.is_empty()
    }

    fn keyword(
        &self,
        k: &str,
        v: &'a Node,
        schema: &'a Node,
        instance: &Node,
        report: &mut Vec<String>,
    ) {
        let size = match instance {
            Node::Arr(a) => a.len(),
            Node::Obj(o) => o.len(),
            Node::Str(s) => s.chars().count(),
            _ => 0,
        };
        let int = |n: &Node| match n {
            Node::Num(n) => n.as_i64().unwrap_or(0),
            _ => 0,
        };
        let text = instance.as_str().unwrap_or_default();
        let message = match k {
            "additionalItems" => match (v, schema.get("items")) {
                (Node::Bool(false), Some(Node::Arr(tuple))) if size > tuple.len() => Some(format!(
                    "schema only allows {} elements in array but instance has {size} elements",
                    tuple.len()
                )),
                _ => None,
            },
            "additionalProperties" => match (v, instance) {
                (Node::Bool(false), Node::Obj(fields)) => {
                    let properties = schema.get("properties");
                    let regexes: Vec<&str> = match schema.get("patternProperties") {
                        Some(Node::Obj(p)) => p.iter().map(|(k, _)| k.as_str()).collect(),
                        _ => Vec::new(),
                    };
                    let mut extra: Vec<&str> = fields
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .filter(|k| properties.and_then(|p| p.get(k)).is_none())
                        .filter(|k| !regexes.iter().any(|r| self.matches(r, k)))
                        .collect();
                    extra.sort_by(|a, b| java_cmp(a, b));
                    (!extra.is_empty()).then(|| {
                        format!(
                            "object instance has properties which are not allowed by the schema: {}",
                            strings(&extra)
                        )
                    })
                }
                _ => None,
            },
            "allOf" | "anyOf" | "oneOf" => {
                let subs: &[Node] = match v {
                    Node::Arr(a) => a,
                    _ => &[],
                };
                let n = subs.iter().filter(|s| self.passes(s, instance)).count();
                let total = subs.len();
                match k {
                    "allOf" if n != total => Some(format!(
                        "instance failed to match all required schemas (matched only {n} out of {total})"
                    )),
                    "anyOf" if n == 0 => Some(format!(
                        "instance failed to match at least one required schema among {total}"
                    )),
                    "oneOf" if n != 1 => Some(format!(
                        "instance failed to match exactly one schema (matched {n} out of {total})"
                    )),
                    _ => None,
                }
            }
            "dependencies" => {
                self.dependencies(v, instance, report);
                None
            }
            "enum" => {
                let values: &[Node] = match v {
                    Node::Arr(a) => a,
                    _ => &[],
                };
                (!values.iter().any(|e| e.equivalent(instance))).then(|| {
                    format!("instance value ({instance}) not found in enum (possible values: {v})")
                })
            }
            "maxItems" => (size as i64 > int(v)).then(|| {
                format!(
                    "array is too long: must have at most {} elements but instance has {size} elements",
                    int(v)
                )
            }),
            "minItems" => ((size as i64) < int(v)).then(|| {
                format!(
                    "array is too short: must have at least {} elements but instance has {size} elements",
                    int(v)
                )
            }),
            "maxLength" => (size as i64 > int(v)).then(|| {
                format!(
                    "string \"{text}\" is too long (length: {size}, maximum allowed: {})",
                    int(v)
                )
            }),
            "minLength" => ((size as i64) < int(v)).then(|| {
                format!(
                    "string \"{text}\" is too short (length: {size}, required minimum: {})",
                    int(v)
                )
            }),
            "maxProperties" => (size as i64 > int(v)).then(|| {
                format!(
                    "object has too many properties (found {size} but schema requires at most {})",
                    int(v)
                )
            }),
            "minProperties" => ((size as i64) < int(v)).then(|| {
                format!(
                    "object has too few properties (found {size} but schema requires at least {})",
                    int(v)
                )
            }),
            "maximum" | "minimum" => bound(k, v, schema, instance),
            "multipleOf" => match (instance, v) {
                (Node::Num(n), Node::Num(d)) if !n.is_multiple_of(d) => Some(format!(
                    "remainder of division is not zero ({instance} / {})",
                    d.as_limit()
                )),
                _ => None,
            },
            "not" => self
                .passes(v, instance)
                .then(|| "instance matched a schema which it should not have".to_string()),
            "pattern" => {
                let regex = v.as_str().unwrap_or_default();
                (!self.matches(regex, text))
                    .then(|| format!("ECMA 262 regex \"{regex}\" does not match input string \"{text}\""))
            }
            "required" => {
                let mut names: Vec<&str> = match v {
                    Node::Arr(a) => a.iter().filter_map(Node::as_str).collect(),
                    _ => Vec::new(),
                };
                names.sort_by(|a, b| java_cmp(a, b));
                names.dedup();
                let missing: Vec<&str> = names
                    .into_iter()
                    .filter(|n| instance.get(n).is_none())
                    .collect();
                (!missing.is_empty()).then(|| {
                    format!("object has missing required properties ({})", strings(&missing))
                })
            }
            "type" => {
                let named: Vec<&str> = match v {
                    Node::Str(t) => vec![t.as_str()],
                    Node::Arr(ts) => ts.iter().filter_map(Node::as_str).collect(),
                    _ => Vec::new(),
                };
                let allowed: Vec<&str> = TYPES
                    .iter()
                    .copied()
                    .filter(|t| named.contains(t) || (*t == "integer" && named.contains(&"number")))
                    .collect();
                let found = instance.type_name();
                (!allowed.contains(&found)).then(|| {
                    format!(
                        "instance type ({found}) does not match any allowed primitive type (allowed: {})",
                        strings(&allowed)
                    )
                })
            }
            "uniqueItems" => match (v, instance) {
                (Node::Bool(true), Node::Arr(items)) => items
                    .iter()
                    .enumerate()
                    .any(|(i, a)| items[..i].iter().any(|b| a.java_hash() == b.java_hash() && a.equivalent(b)))
                    .then(|| "array must not contain duplicate elements".to_string()),
                _ => None,
            },
            _ => None,
        };
        report.extend(message);
    }

    /// `dependencies`: property dependencies in the order of fge's `HashMap` of them, then schema
    /// dependencies in name order, walked with the same report.
    fn dependencies(&self, v: &'a Node, instance: &Node, report: &mut Vec<String>) {
        let Node::Obj(deps) = v else {
            return;
        };
        let mut property: Vec<(&str, &Node)> = Vec::new();
        let mut schemas: Vec<(&str, &'a Node)> = Vec::new();
        for (name, dep) in deps {
            match dep {
                Node::Obj(_) => schemas.push((name, dep)),
                _ => property.push((name, dep)),
            }
        }
        for (name, dep) in java_hash_map_order(property) {
            if instance.get(name).is_none() {
                continue;
            }
            let mut required: Vec<&str> = match dep {
                Node::Arr(a) => a.iter().filter_map(Node::as_str).collect(),
                _ => Vec::new(),
            };
            required.sort_by(|a, b| java_cmp(a, b));
            required.dedup();
            let missing: Vec<&str> = required
                .iter()
                .copied()
                .filter(|r| instance.get(r).is_none())
                .collect();
            if !missing.is_empty() {
                report.push(format!(
                    "property \"{name}\" of object has missing property dependencies (schema requires {}; missing: {})",
                    strings(&required),
                    strings(&missing)
                ));
            }
        }
        schemas.sort_by(|a, b| java_cmp(a.0, b.0));
        for (name, dep) in schemas {
            if instance.get(name).is_some() {
                self.process(dep, instance, report);
            }
        }
    }
}

/// `minimum`/`maximum` (with draft 4's boolean `exclusiveMinimum`/`exclusiveMaximum`).
fn bound(k: &str, v: &Node, schema: &Node, instance: &Node) -> Option<String> {
    let (Node::Num(limit), Node::Num(n)) = (v, instance) else {
        return None;
    };
    let max = k == "maximum";
    let exclusive = schema.get(if max {
        "exclusiveMaximum"
    } else {
        "exclusiveMinimum"
    }) == Some(&Node::Bool(true));
    let limit = limit.as_limit();
    let beyond = if max {
        Ordering::Greater
    } else {
        Ordering::Less
    };
    match n.cmp_value(&limit) {
        o if o == beyond => Some(if max {
            format!(
                "numeric instance is greater than the required maximum (maximum: {limit}, found: {instance})"
            )
        } else {
            format!(
                "numeric instance is lower than the required minimum (minimum: {limit}, found: {instance})"
            )
        }),
        Ordering::Equal if exclusive => Some(if max {
            format!("numeric instance is not strictly lower than the required maximum {limit}")
        } else {
            format!("numeric instance is not strictly greater than the required minimum {limit}")
        }),
        _ => None,
    }
}

/// A list of names as a JSON array (`["a","b"]`).
fn strings(names: &[&str]) -> Node {
    Node::Arr(names.iter().map(|n| Node::Str(n.to_string())).collect())
}

/// The iteration order of a Java `HashMap<String, _>` filled in `entries`' order (default capacity 16,
/// doubled past three quarters full; a bucket keeps insertion order).
fn java_hash_map_order<T>(entries: Vec<(&str, T)>) -> Vec<(&str, T)> {
    let mut capacity = 16usize;
    while entries.len() * 4 > capacity * 3 {
        capacity *= 2;
    }
    let bucket = |s: &str| {
        let h = string_hash(s);
        let h = (h ^ ((h as u32) >> 16) as i32) as u32;
        h as usize & (capacity - 1)
    };
    let mut indexed: Vec<(usize, usize, (&str, T))> = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| (bucket(e.0), i, e))
        .collect();
    indexed.sort_by_key(|(b, i, _)| (*b, *i));
    indexed.into_iter().map(|(_, _, e)| e).collect()
}

/// The node a reference within the document names (`#`, `#/definitions/a`), if any.
pub fn pointer<'n>(root: &'n Node, reference: &str) -> Option<&'n Node> {
    let fragment = reference.strip_prefix('#')?;
    let fragment = percent_decode(fragment)?;
    if fragment.is_empty() {
        return Some(root);
    }
    let mut at = root;
    for token in fragment.strip_prefix('/')?.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        at = match at {
            Node::Obj(_) => at.get(&token)?,
            Node::Arr(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
