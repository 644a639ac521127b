//! `[routes.*]`: the API's routes — path segments and parameters, method, auth, the stream a request goes
//! to, its partition key, content type and request schema.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use toml::Spanned;

use super::checker::{Checker, list};
use crate::error::closest;
use crate::json;
use crate::raw::RawRoute;
use crate::schema;
use crate::settings::{self, Limit, Setting};
use crate::{
    HttpMethod, PartitionKeySource, PathSegment, RequestSchema, Route, SchemaSource, StreamTarget,
};

/// Splits `/a/{b}/c` into segments, reporting malformed templates.
fn path_segments(c: &mut Checker, path: &Spanned<String>) -> Vec<PathSegment> {
    let p = path.get_ref();
    if !p.starts_with('/') {
        c.err(
            path.span(),
            format!("`path` \"{p}\" must start with '/'"),
            None,
        );
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for seg in p.strip_prefix('/').unwrap_or(p).split('/') {
        if seg.is_empty() {
            if p != "/" {
                c.err(
                    path.span(),
                    format!("`path` \"{p}\" has an empty segment"),
                    None,
                );
            }
            continue;
        }
        if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if inner.is_empty() || !inner.chars().all(settings::is_param_char) {
                c.err(
                    path.span(),
                    format!(
                        "path parameter `{{{inner}}}` must be a non-empty name of letters, digits and '_'"
                    ),
                    None,
                );
            } else if !seen.insert(inner.to_string()) {
                c.err(
                    path.span(),
                    format!("path parameter `{{{inner}}}` appears twice in \"{p}\""),
                    None,
                );
            }
            out.push(PathSegment::Param(inner.to_string()));
        } else if seg.contains('{')
            || seg.contains('}')
            || !seg.chars().all(settings::is_segment_char)
        {
            c.err(
                path.span(),
                format!(
                    "path segment \"{seg}\" must be a literal of letters, digits and -._~ or a whole `{{param}}`"
                ),
                None,
            );
        } else {
            out.push(PathSegment::Literal(seg.to_string()));
        }
    }
    out
}

fn param_ref(c: &mut Checker, v: &Spanned<String>, key: &str, params: &[&str], path: &str) -> bool {
    if params.contains(&v.get_ref().as_str()) {
        return true;
    }
    let help = closest(v.get_ref(), params.iter().copied())
        .map(|s| format!("did you mean `{s}`?"))
        .or_else(|| {
            Some(if params.is_empty() {
                "the path has no parameters".to_string()
            } else {
                format!("the path's parameters: {}", list(params))
            })
        });
    c.err(
        v.span(),
        format!(
            "`{key}` uses path parameter `{}`, which is not in the route's path \"{path}\"",
            v.get_ref()
        ),
        help,
    );
    false
}

pub(super) fn routes(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawRoute>>,
    streams: &BTreeSet<String>,
    has_auth: bool,
) -> BTreeMap<String, Route> {
    let mut out = BTreeMap::new();
    let mut seen: BTreeMap<(HttpMethod, String), String> = BTreeMap::new();
    // File order, so a conflict is reported at the route written second.
    let mut in_file_order: Vec<_> = raw.iter().collect();
    in_file_order.sort_by_key(|(k, _)| k.span().start);
    for (k, v) in in_file_order {
        c.name(k, &settings::ROUTE_NAME, "");
        let r = v.get_ref();
        let method = match c.choice_or_default(&r.method, &settings::METHOD) {
            "PUT" => HttpMethod::Put,
            _ => HttpMethod::Post,
        };
        let segments = path_segments(c, &r.path);
        let params: Vec<&str> = segments
            .iter()
            .filter_map(|s| {
                if let PathSegment::Param(p) = s {
                    Some(p.as_str())
                } else {
                    None
                }
            })
            .collect();
        let auth = match &r.auth {
            None => has_auth,
            Some(a) => match c.choice(a, &settings::ROUTE_AUTH) {
                Some("none") => false,
                _ => {
                    if !has_auth {
                        c.err(
                            a.span(),
                            format!(
                                "route \"{}\" uses auth \"basic\", but there is no [auth] section",
                                k.get_ref()
                            ),
                            Some("add [auth] with type = \"basic\", or set auth = \"none\"".into()),
                        );
                    }
                    true
                }
            },
        };
        let stream = stream_target(c, &r.stream, &params, r.path.get_ref(), streams);
        let partition_key = partition_key(c, &r.partition_key, &params, r.path.get_ref(), &stream);
        let content_type = match &r.content_type {
            None => match settings::CONTENT_TYPE.default {
                settings::DefaultValue::Str(d) => d.to_string(),
                _ => "application/json".to_string(),
            },
            Some(ct) => {
                let t = ct.get_ref();
                if !(t == "application/json"
                    || (t.starts_with("application/") && t.ends_with("+json")))
                {
                    c.err(
                        ct.span(),
                        format!(
                            "`content_type` is \"{t}\"; the record contract carries JSON bodies"
                        ),
                        Some("use \"application/json\" or an \"application/…+json\" type".into()),
                    );
                }
                t.clone()
            }
        };
        let schema = r.schema.as_ref().and_then(|v| request_schema(c, v));
        let example = r
            .example
            .as_ref()
            .and_then(|v| example(c, v, k.get_ref(), schema.as_ref(), r.schema.is_some()));
        let path_key = (method, normalised_path(&segments));
        if let Some(other) = seen.get(&path_key) {
            c.err(
                r.path.span(),
                format!(
                    "route \"{}\" has the same method and path as route \"{other}\"",
                    k.get_ref()
                ),
                None,
            );
        } else {
            seen.insert(path_key, k.get_ref().clone());
        }
        out.insert(
            k.get_ref().clone(),
            Route {
                name: k.get_ref().clone(),
                method,
                path: r.path.get_ref().clone(),
                segments,
                auth,
                stream,
                partition_key,
                content_type,
                schema,
                example,
            },
        );
    }
    out
}

/// A route's `schema`: a file next to pipeline.toml, or JSON text (a string starting with `{`).
fn request_schema(c: &mut Checker, v: &Spanned<String>) -> Option<RequestSchema> {
    let text = v.get_ref();
    if text.trim_start().starts_with('{') {
        let (json, map) = c.json_in_string(v, "the inline `schema`")?;
        return match schema::check(&json) {
            Ok(schema::Checked { value, text }) => Some(RequestSchema {
                value,
                text,
                source: SchemaSource::Inline,
            }),
            Err(problems) => {
                c.problems_in_string(&map, problems);
                None
            }
        };
    }
    if text.is_empty()
        || Path::new(text).is_absolute()
        || text.split(['/', '\\']).any(|p| p == "..")
    {
        c.err(
            v.span(),
            format!("`schema` \"{text}\" must be a path inside pipeline.toml's folder (relative, no `..`), or JSON text starting with `{{`"),
            None,
        );
        return None;
    }
    let path = c.dir.join(text);
    let file_text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            c.err(
                v.span(),
                format!("cannot read the schema file \"{text}\" ({}): {e}", path.display()),
                Some("the path is relative to pipeline.toml's folder; or write the schema inline as JSON text".into()),
            );
            return None;
        }
    };
    c.files.push((text.clone(), file_text.clone()));
    let json = match json::parse(&file_text) {
        Ok(json) => json,
        Err(e) => {
            c.err_in_file(
                text,
                &file_text,
                e.offset..e.offset + 1,
                format!("the schema is not JSON: {}", e.message),
                None,
            );
            return None;
        }
    };
    match schema::check(&json) {
        Ok(schema::Checked {
            value,
            text: written,
        }) => Some(RequestSchema {
            value,
            text: written,
            source: SchemaSource::File(text.clone()),
        }),
        Err(problems) => {
            c.problems_in_file(text, &file_text, problems);
            None
        }
    }
}

/// A route's `example`: JSON text of an object the route's schema accepts. (`schema_given` without a
/// `schema` means the schema itself was refused: the example is not checked against it.)
fn example(
    c: &mut Checker,
    v: &Spanned<String>,
    route: &str,
    schema: Option<&RequestSchema>,
    schema_given: bool,
) -> Option<serde_json::Value> {
    let (json, _) = c.json_in_string(v, "the `example`")?;
    let value = json.to_value();
    let validator = match schema {
        Some(s) => s.validator().ok()?,
        None if schema_given => return Some(value),
        None => sluice_schema::RequestValidator::object(),
    };
    match validator.validate(&value) {
        Ok(()) => Some(value),
        Err(e) => {
            c.err(
                v.span(),
                format!(
                    "the `example` of route \"{route}\" is a body the route refuses: {}",
                    e.validation_error_string()
                ),
                Some(if schema.is_some() {
                    "change the example, or the schema, so that the schema accepts it".into()
                } else {
                    "a body is a JSON object, e.g. '{\"message\": \"hello\"}'".into()
                }),
            );
            None
        }
    }
}

/// A string inside a choice value, spanned at the whole value (inner spans are not kept).
fn spanned_as_value(v: &Spanned<toml::Value>, s: &str) -> Spanned<String> {
    Spanned::new(v.span(), s.to_string())
}

fn stream_target(
    c: &mut Checker,
    v: &Spanned<toml::Value>,
    params: &[&str],
    path: &str,
    streams: &BTreeSet<String>,
) -> StreamTarget {
    match v.get_ref() {
        toml::Value::String(s) => {
            c.reference(&spanned_as_value(v, s), "stream", "streams", streams);
            StreamTarget::Fixed(s.clone())
        }
        toml::Value::Table(t) => {
            for key in t.keys().filter(|k| *k != "path_param" && *k != "allowed") {
                let help =
                    closest(key, ["path_param", "allowed"]).map(|s| format!("did you mean `{s}`?"));
                c.err(
                    v.span(),
                    format!("unknown key `stream.{key}`"),
                    help.or(Some("valid keys: `path_param`, `allowed`".into())),
                );
            }
            let Some(toml::Value::String(param)) = t.get("path_param") else {
                c.err(
                    v.span(),
                    "`stream` as a table needs `path_param = \"<name of a path parameter>\"`",
                    None,
                );
                return StreamTarget::Fixed(String::new());
            };
            param_ref(
                c,
                &spanned_as_value(v, param),
                "stream.path_param",
                params,
                path,
            );
            let allowed: BTreeSet<String> = match t.get("allowed") {
                None => {
                    if streams.is_empty() {
                        c.err(
                            v.span(),
                            "the route takes its stream from the path, but the pipeline declares no [streams.*]",
                            None,
                        );
                    }
                    streams.clone()
                }
                Some(toml::Value::Array(items)) if !items.is_empty() => {
                    let mut out = BTreeSet::new();
                    for item in items {
                        match item {
                            toml::Value::String(s) => {
                                if c.reference(
                                    &spanned_as_value(v, s),
                                    "stream.allowed",
                                    "streams",
                                    streams,
                                ) {
                                    out.insert(s.clone());
                                }
                            }
                            other => c.err(
                                v.span(),
                                format!(
                                    "`stream.allowed` holds {other}, but must list stream names"
                                ),
                                None,
                            ),
                        }
                    }
                    out
                }
                Some(_) => {
                    c.err(
                        v.span(),
                        "`stream.allowed` must be a non-empty list of declared stream names (leave it out to allow them all)",
                        None,
                    );
                    BTreeSet::new()
                }
            };
            StreamTarget::PathParam {
                param: param.clone(),
                allowed: allowed.into_iter().collect(),
            }
        }
        _ => {
            c.err(
                v.span(),
                "`stream` must be a declared stream name, or `{ path_param = \"…\" }` (optionally with `allowed = [\"…\"]`)",
                None,
            );
            StreamTarget::Fixed(String::new())
        }
    }
}

/// `partition_key = "request-id"`'s only value.
const PARTITION_KEY_CHOICE: Setting = Setting {
    section: settings::Section::Route,
    key: "partition_key",
    default: settings::DefaultValue::Required,
    limit: Limit::OneOf(&["request-id"]),
    meaning: "",
    bound_by: "",
};

fn partition_key(
    c: &mut Checker,
    v: &Spanned<toml::Value>,
    params: &[&str],
    path: &str,
    stream: &StreamTarget,
) -> PartitionKeySource {
    match v.get_ref() {
        toml::Value::String(s) => {
            c.choice(&spanned_as_value(v, s), &PARTITION_KEY_CHOICE);
            PartitionKeySource::RequestId
        }
        toml::Value::Table(t) => {
            for key in t.keys().filter(|k| *k != "path_param") {
                c.err(
                    v.span(),
                    format!("unknown key `partition_key.{key}`"),
                    Some("valid key: `path_param`".into()),
                );
            }
            let Some(toml::Value::String(param)) = t.get("path_param") else {
                c.err(
                    v.span(),
                    "`partition_key` as a table needs `path_param = \"<name of a path parameter>\"`",
                    None,
                );
                return PartitionKeySource::RequestId;
            };
            param_ref(
                c,
                &spanned_as_value(v, param),
                "partition_key.path_param",
                params,
                path,
            );
            if let StreamTarget::PathParam { param: sp, .. } = stream
                && sp == param
            {
                c.err(
                    v.span(),
                    "the partition key and the stream cannot come from the same path parameter",
                    None,
                );
            }
            PartitionKeySource::PathParam(param.clone())
        }
        _ => {
            c.err(
                v.span(),
                "`partition_key` must be `{ path_param = \"…\" }` or the string \"request-id\"",
                None,
            );
            PartitionKeySource::RequestId
        }
    }
}

/// A path with its parameter names erased, so `/a/{x}` and `/a/{y}` compare equal.
fn normalised_path(segments: &[PathSegment]) -> String {
    segments
        .iter()
        .map(|s| match s {
            PathSegment::Literal(l) => l.as_str(),
            PathSegment::Param(_) => "{}",
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn a_route_takes_its_stream_and_key_from_the_path() {
        let p = valid(&base_and(
            "\n[routes.by_stream]\nmethod = \"PUT\"\npath = \"/in/{s}/{k}\"\nstream = { path_param = \"s\" }\npartition_key = { path_param = \"k\" }\nschema = '{\"type\": \"object\"}'\n",
        ));
        let r = &p.routes["by_stream"];
        assert_eq!(
            r.stream,
            StreamTarget::PathParam {
                param: "s".into(),
                allowed: vec!["Events".into()]
            }
        );
        assert_eq!(r.partition_key, PartitionKeySource::PathParam("k".into()));
        assert_eq!(r.concrete_path("Events"), "/in/Events/{k}");
    }

    #[test]
    fn paths_and_parameters_are_checked() {
        let src = base_and(
            "\n[routes.bad]\npath = \"in/{x}/{x}/a b\"\nstream = \"Event\"\npartition_key = { path_param = \"y\" }\nauth = \"basic\"\ncontent_type = \"text/plain\"\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(18, 8, "`path` \"in/{x}/{x}/a b\" must start with '/'"),
                at(
                    18,
                    8,
                    "path parameter `{x}` appears twice in \"in/{x}/{x}/a b\""
                ),
                at(
                    18,
                    8,
                    "path segment \"a b\" must be a literal of letters, digits and -._~ or a whole `{param}`"
                ),
                at(
                    19,
                    10,
                    "`stream` refers to \"Event\", which is not declared in [streams]"
                ),
                at(
                    20,
                    17,
                    "`partition_key.path_param` uses path parameter `y`, which is not in the route's path \"in/{x}/{x}/a b\""
                ),
                at(
                    21,
                    8,
                    "route \"bad\" uses auth \"basic\", but there is no [auth] section"
                ),
                at(
                    22,
                    16,
                    "`content_type` is \"text/plain\"; the record contract carries JSON bodies"
                ),
            ]
        );
    }

    #[test]
    fn same_method_and_path_twice_and_a_bad_inline_schema() {
        let src = base_and(
            "\n[routes.again]\npath = \"/put/{other}\"\nstream = \"Events\"\npartition_key = \"request-id\"\nschema = '{\"type\": \"array\"}'\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(
                    18,
                    8,
                    "route \"again\" has the same method and path as route \"put\""
                ),
                at(
                    21,
                    20,
                    "a request schema must have \"type\": \"object\" (the record contract carries JSON objects)"
                ),
            ]
        );
    }

    #[test]
    fn an_example_the_schema_refuses_is_located() {
        let src = base_and(
            "\n[routes.ex]\npath = \"/ex\"\nstream = \"Events\"\npartition_key = \"request-id\"\nschema = '{\"type\": \"object\", \"required\": [\"who\"]}'\nexample = '{\"what\": 1}'\n",
        );
        assert_eq!(
            errors(&src),
            vec![at(
                22,
                11,
                "the `example` of route \"ex\" is a body the route refuses: [object has missing required properties ([\"who\"])]"
            )]
        );
        let not_json = base_with(
            "partition_key = { path_param = \"id\" }\n",
            "partition_key = { path_param = \"id\" }\nexample = '{\"a\": }'\n",
        );
        assert_eq!(errors(&not_json).len(), 1, "{:?}", errors(&not_json));
        let not_object = base_with(
            "partition_key = { path_param = \"id\" }\n",
            "partition_key = { path_param = \"id\" }\nexample = '[1]'\n",
        );
        assert_eq!(errors(&not_object)[0].0, 16);
    }

    #[test]
    fn every_route_has_an_example_body_its_schema_accepts() {
        let p = valid(&base_and(
            "\n[routes.ex]\npath = \"/ex\"\nstream = \"Events\"\npartition_key = \"request-id\"\nschema = '{\"type\": \"object\", \"required\": [\"who\"]}'\nexample = '{\"who\": \"me\", \"n\": 1.5}'\n",
        ));
        assert_eq!(
            p.routes["ex"].example_body(),
            serde_json::json!({"who": "me", "n": 1.5})
        );
        assert_eq!(
            p.routes["put"].example_body(),
            serde_json::json!({"message": "hello"})
        );
        // The shipped pipelines: every route's body (written or derived) is one its schema accepts.
        let root = crate::project_root();
        for file in ["pipeline.toml", "examples/multi/pipeline.toml"] {
            let p = crate::load(&root.join(file)).unwrap();
            for r in p.routes.values() {
                let validator = match &r.schema {
                    Some(s) => s.validator().unwrap(),
                    None => sluice_schema::RequestValidator::object(),
                };
                assert_eq!(
                    validator.validate(&r.example_body()),
                    Ok(()),
                    "{file}: route {}",
                    r.name
                );
            }
        }
    }
}
