//! Which schemas a model may be: what fge's draft-4 syntax check accepts, less what sluice cannot answer as
//! fge does (each refusal says why; docs/CONTRACTS.md lists them). Every problem names its place in the
//! schema as a JSON pointer.

use std::collections::HashMap;

use crate::node::Node;
use crate::regex::Pattern;
use crate::walk::pointer;

/// The `$schema` values that mean draft 4.
pub const DRAFT_04: [&str; 2] = [
    "http://json-schema.org/draft-04/schema#",
    "http://json-schema.org/draft-04/schema",
];

const TYPES: [&str; 7] = [
    "array", "boolean", "integer", "null", "number", "object", "string",
];

/// Why a keyword that fge enforces cannot be used locally, if it cannot.
pub fn unreproducible(keyword: &str) -> Option<&'static str> {
    match keyword {
        "format" => Some(
            "fge checks formats with Java libraries' own rules (javax.mail for email, Guava for hostname, joda-time for date-time, java.net.URI for uri), which the local gateway cannot reproduce; use `pattern`",
        ),
        "id" => Some(
            "`id` changes how fge resolves references (against a URI it would fetch), which the local gateway cannot reproduce; refer with \"$ref\": \"#/definitions/...\" instead",
        ),
        _ => None,
    }
}

/// A problem at a place: (JSON pointer, message).
pub type Problem = (String, String);

/// Checks `root`; compiles every pattern (`pattern` and `patternProperties`' names) into `patterns`.
pub fn check(root: &Node, patterns: &mut HashMap<String, Pattern>) -> Result<(), Problem> {
    let mut c = Checker { root, patterns };
    c.schema(root, "")?;
    no_loop(root)
}

struct Checker<'a> {
    root: &'a Node,
    patterns: &'a mut HashMap<String, Pattern>,
}

fn at(path: &str, key: &str) -> String {
    format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn err<T>(path: &str, message: impl Into<String>) -> Result<T, Problem> {
    Err((
        if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
        message.into(),
    ))
}

impl Checker<'_> {
    fn pattern(&mut self, path: &str, source: &str) -> Result<(), Problem> {
        if !self.patterns.contains_key(source) {
            match Pattern::new(source) {
                Ok(p) => {
                    self.patterns.insert(source.to_string(), p);
                }
                Err(e) => {
                    return err(
                        path,
                        format!("not a valid ECMA 262 regular expression: {e}"),
                    );
                }
            }
        }
        Ok(())
    }

    fn schemas(&mut self, path: &str, v: &Node, non_empty: bool) -> Result<(), Problem> {
        match v {
            Node::Arr(items) if !(non_empty && items.is_empty()) => {
                for (i, item) in items.iter().enumerate() {
                    self.schema(item, &format!("{path}/{i}"))?;
                }
                Ok(())
            }
            _ => err(path, "must be a non-empty array of schemas"),
        }
    }

    fn schema_map(&mut self, path: &str, v: &Node) -> Result<(), Problem> {
        let Node::Obj(members) = v else {
            return err(path, "must be an object of schemas");
        };
        for (k, s) in members {
            self.schema(s, &at(path, k))?;
        }
        Ok(())
    }

    fn schema(&mut self, node: &Node, path: &str) -> Result<(), Problem> {
        let Node::Obj(members) = node else {
            return err(
                path,
                format!("a schema must be an object, not {}", node.type_name()),
            );
        };
        for (k, v) in members {
            let here = at(path, k);
            let here = here.as_str();
            if let Some(why) = unreproducible(k) {
                return err(here, why);
            }
            match k.as_str() {
                "$schema" if !v.as_str().is_some_and(|s| DRAFT_04.contains(&s)) => {
                    return err(
                        here,
                        "must be draft 4's URI (API Gateway validates with draft 4)",
                    );
                }
                "$ref" => {
                    let Some(r) = v.as_str() else {
                        return err(here, "must be a string (a JSON reference)");
                    };
                    if !r.starts_with('#') {
                        return err(
                            here,
                            format!(
                                "\"{r}\" refers to another document, which the local gateway cannot fetch; put the subschema under `definitions` and refer to it as \"#/definitions/...\""
                            ),
                        );
                    }
                    if pointer(self.root, r).is_none() {
                        return err(here, format!("\"{r}\" names nothing in this schema"));
                    }
                }
                "title" | "description" if v.as_str().is_none() => {
                    return err(here, "must be a string");
                }
                "type" => {
                    let names: Vec<&Node> = match v {
                        Node::Arr(items) if !items.is_empty() => items.iter().collect(),
                        Node::Arr(_) => return err(here, "must not be an empty array"),
                        one => vec![one],
                    };
                    for (i, n) in names.iter().enumerate() {
                        match n.as_str() {
                            Some(t) if TYPES.contains(&t) => {}
                            _ => {
                                return err(
                                    here,
                                    format!(
                                        "{n} is not a draft-4 type (one of {})",
                                        TYPES.join(", ")
                                    ),
                                );
                            }
                        }
                        if names[..i].contains(n) {
                            return err(here, format!("lists {n} twice"));
                        }
                    }
                }
                "enum" => match v {
                    Node::Arr(items) if !items.is_empty() => {
                        for (i, item) in items.iter().enumerate() {
                            if items[..i].iter().any(|e| e.equivalent(item)) {
                                return err(
                                    here,
                                    format!("lists {item} twice (fge compares numbers by value)"),
                                );
                            }
                        }
                    }
                    _ => return err(here, "must be a non-empty array"),
                },
                "required" => match v {
                    Node::Arr(items) if !items.is_empty() => {
                        for (i, item) in items.iter().enumerate() {
                            if item.as_str().is_none() {
                                return err(here, "must list member names (strings)");
                            }
                            if items[..i].contains(item) {
                                return err(here, format!("lists {item} twice"));
                            }
                        }
                    }
                    _ => return err(here, "must be a non-empty array of member names (draft 4)"),
                },
                "properties" | "definitions" => self.schema_map(here, v)?,
                "patternProperties" => {
                    let Node::Obj(members) = v else {
                        return err(here, "must be an object of schemas");
                    };
                    for (regex, _) in members {
                        self.pattern(&at(here, regex), regex)?;
                    }
                    self.schema_map(here, v)?;
                }
                "pattern" => match v.as_str() {
                    Some(regex) => self.pattern(here, regex)?,
                    None => return err(here, "must be a string"),
                },
                "items" => match v {
                    Node::Arr(_) => self.schemas(here, v, false)?,
                    _ => self.schema(v, here)?,
                },
                "additionalItems" | "additionalProperties" if !matches!(v, Node::Bool(_)) => {
                    self.schema(v, here)?;
                }
                "allOf" | "anyOf" | "oneOf" => self.schemas(here, v, true)?,
                "not" => self.schema(v, here)?,
                "dependencies" => {
                    let Node::Obj(deps) = v else {
                        return err(here, "must be an object");
                    };
                    for (name, dep) in deps {
                        let there = at(here, name);
                        match dep {
                            Node::Obj(_) => self.schema(dep, &there)?,
                            Node::Arr(items)
                                if !items.is_empty()
                                    && items.iter().enumerate().all(|(i, n)| {
                                        n.as_str().is_some() && !items[..i].contains(n)
                                    }) => {}
                            _ => {
                                return err(
                                    &there,
                                    "must be a schema or a non-empty array of distinct member names",
                                );
                            }
                        }
                    }
                }
                "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties"
                | "maxProperties" => {
                    let ok = matches!(v, Node::Num(n) if n.is_integral() && !n.is_negative()
                        && n.as_i64().is_some_and(|i| i <= i64::from(i32::MAX)));
                    if !ok {
                        return err(here, "must be a whole number, 0 or more");
                    }
                }
                "minimum" | "maximum" if !matches!(v, Node::Num(_)) => {
                    return err(here, "must be a number");
                }
                "exclusiveMinimum" | "exclusiveMaximum" => {
                    if !matches!(v, Node::Bool(_)) {
                        return err(
                            here,
                            "must be true or false in draft 4 (the limit is in `minimum`/`maximum`)",
                        );
                    }
                    let limit = if k == "exclusiveMinimum" {
                        "minimum"
                    } else {
                        "maximum"
                    };
                    if node.get(limit).is_none() {
                        return err(here, format!("needs `{limit}` (draft 4)"));
                    }
                }
                "multipleOf" if !matches!(v, Node::Num(n) if !n.is_negative() && !n.is_zero()) => {
                    return err(here, "must be a number above 0");
                }
                "uniqueItems" if !matches!(v, Node::Bool(_)) => {
                    return err(here, "must be true or false");
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Refuses a schema that would send fge round a loop on one instance (`$ref`, `allOf`, `anyOf`, `oneOf`,
/// `not` and schema `dependencies` lead back to a schema being checked there): fge stops with "validation
/// loop", an answer the local gateway does not model.
fn no_loop(root: &Node) -> Result<(), Problem> {
    fn same_instance<'n>(root: &'n Node, node: &'n Node) -> Vec<&'n Node> {
        let mut out = Vec::new();
        if let Some(r) = node.get("$ref").and_then(Node::as_str) {
            out.extend(pointer(root, r));
            return out;
        }
        for k in ["allOf", "anyOf", "oneOf"] {
            if let Some(Node::Arr(items)) = node.get(k) {
                out.extend(items.iter());
            }
        }
        out.extend(node.get("not"));
        if let Some(Node::Obj(deps)) = node.get("dependencies") {
            out.extend(
                deps.iter()
                    .map(|(_, d)| d)
                    .filter(|d| matches!(d, Node::Obj(_))),
            );
        }
        out
    }
    /// Depth-first with colours (1: on the path, 2: done), so shared subschemas are walked once.
    fn visit<'n>(
        root: &'n Node,
        node: &'n Node,
        seen: &mut HashMap<*const Node, u8>,
    ) -> Result<(), Problem> {
        let id = node as *const Node;
        match seen.get(&id) {
            Some(1) => {
                return err(
                    "/",
                    "a `$ref` leads back to a schema that is already being checked against the same value (fge stops with a validation loop)",
                );
            }
            Some(_) => return Ok(()),
            None => {}
        }
        seen.insert(id, 1);
        for next in same_instance(root, node) {
            visit(root, next, seen)?;
        }
        seen.insert(id, 2);
        Ok(())
    }
    fn every<'n>(node: &'n Node, out: &mut Vec<&'n Node>) {
        match node {
            Node::Obj(members) => {
                out.push(node);
                for (_, v) in members {
                    every(v, out);
                }
            }
            Node::Arr(items) => items.iter().for_each(|i| every(i, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    every(root, &mut all);
    let mut seen = HashMap::new();
    for node in all {
        visit(root, node, &mut seen)?;
    }
    Ok(())
}
