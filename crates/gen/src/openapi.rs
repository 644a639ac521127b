//! The API's OpenAPI document (`modules/api/openapi.json.tftpl`), built as a `serde_json::Value` so that
//! serde_json places every bracket, comma and quote. It is a Terraform `templatefile`: every string is
//! escaped for it once ([`escape_for_templatefile`]), and only then are the Terraform references (the
//! partition, region, integration role and authorizer) put in ([`insert_terraform_references`]), the only
//! `${…}` the document holds.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sluice_config::{Pipeline, Route};
use sluice_contract::{ApiError, api};

use super::escape::escape_for_templatefile;
use super::mapping::{
    GatewayResponseBody, KINESIS_ERRORS, PutRecordOk, error_template, render_template,
    request_template,
};
use super::output::GenError;

/// The integration's target: Kinesis's PutRecord action, in the deployment's partition and region.
const PUT_RECORD_URI: &str = "arn:${partition}:apigateway:${region}:kinesis:action/PutRecord";
/// The role API Gateway assumes to call Kinesis.
const INTEGRATION_ROLE: &str = "${integration_role_arn}";
/// The authorizer function's invoke ARN.
const AUTHORIZER_URI: &str = "${authorizer_uri}";

/// The document's text, ready for `templatefile`.
pub fn render(p: &Pipeline) -> Result<String, GenError> {
    let mut doc = document(p)?;
    escape_for_templatefile(&mut doc);
    insert_terraform_references(&mut doc);
    Ok(serde_json::to_string_pretty(&doc).unwrap_or_default())
}

/// Puts the Terraform references into an escaped document: each operation's integration URI and
/// credentials, and the authorizer's URI.
fn insert_terraform_references(doc: &mut Value) {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in operation.values_mut() {
                if let Some(integration) = op
                    .get_mut("x-amazon-apigateway-integration")
                    .and_then(Value::as_object_mut)
                {
                    integration.insert("uri".into(), PUT_RECORD_URI.into());
                    integration.insert("credentials".into(), INTEGRATION_ROLE.into());
                }
            }
        }
    }
    if let Some(authorizer) = doc
        .pointer_mut("/components/securitySchemes/basic/x-amazon-apigateway-authorizer")
        .and_then(Value::as_object_mut)
    {
        authorizer.insert("authorizerUri".into(), AUTHORIZER_URI.into());
    }
}

/// The parameters of a concrete path: its `{param}` segments.
fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

/// The method responses: 200 and every status the integration can answer with, each naming the error
/// contract's codes it carries (400 includes `BadRequestBody`, the request validator's answer).
fn responses() -> Value {
    let mut errors: Vec<ApiError> = KINESIS_ERRORS.to_vec();
    errors.push(ApiError::BadRequestBody);
    let mut statuses: Vec<u16> = errors.iter().map(|e| e.status()).collect();
    statuses.push(200);
    statuses.sort_unstable();
    statuses.dedup();
    let mut out = Map::new();
    for status in statuses {
        let (description, schema) = if status == 200 {
            ("the record is on the stream".to_string(), "PutRecordReply")
        } else {
            let mut codes: Vec<ApiError> = errors
                .iter()
                .copied()
                .filter(|e| e.status() == status)
                .collect();
            codes.sort();
            let described: Vec<String> = codes
                .iter()
                .map(|e| match e {
                    ApiError::BadRequestBody => format!(
                        "`{}` (the body does not match the request model; the message carries API Gateway's validation error)",
                        e.code()
                    ),
                    _ => format!("`{}`", e.code()),
                })
                .collect();
            (
                format!("the error contract's {}", described.join(" or ")),
                "Error",
            )
        };
        out.insert(
            status.to_string(),
            json!({
                "description": description,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
            }),
        );
    }
    Value::Object(out)
}

/// The name of a route's request model: letters and digits only (API Gateway's rule for model names),
/// unique in the document.
pub fn model_name(route: &str, taken: &[String]) -> String {
    let mut base: String = route
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    base.push_str("Body");
    let mut name = base.clone();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{base}{n}");
        n += 1;
    }
    name
}

/// The request models of the routes that have a schema: route name → (model name, schema).
fn request_models(p: &Pipeline) -> BTreeMap<String, (String, Value)> {
    let mut taken: Vec<String> = ["JsonObject", "PutRecordReply", "Error"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut out = BTreeMap::new();
    for route in p.routes.values() {
        if let Some(schema) = &route.schema {
            let name = model_name(&route.name, &taken);
            taken.push(name.clone());
            out.insert(route.name.clone(), (name, schema.value.clone()));
        }
    }
    out
}

/// A model and its `definitions`, each a model of its own: API Gateway resolves a model's `$ref` against the
/// document's components (and then its models), not against the schema, so `#/definitions/x` becomes
/// `#/components/schemas/<Model><X>` and `#…` the model itself.
fn hoist_definitions(
    model: &str,
    mut schema: Value,
    taken: &mut Vec<String>,
) -> Vec<(String, Value)> {
    let defs = match schema.as_object_mut().and_then(|m| m.remove("definitions")) {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for key in defs.keys() {
        let base = model_name(key, &[]);
        let base = format!("{model}{}", base.strip_suffix("Body").unwrap_or(&base));
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        taken.push(name.clone());
        names.insert(key.clone(), name);
    }
    let mut out = vec![(model.to_string(), schema)];
    out.extend(defs.into_iter().map(|(k, v)| (names[&k].clone(), v)));
    for (_, s) in &mut out {
        rewrite_refs(s, model, &names);
    }
    out
}

fn rewrite_refs(v: &mut Value, model: &str, names: &BTreeMap<String, String>) {
    match v {
        Value::Object(members) => {
            for (k, x) in members.iter_mut() {
                match x {
                    Value::String(r) if k == "$ref" => *r = ref_target(r, model, names),
                    _ => rewrite_refs(x, model, names),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| rewrite_refs(x, model, names)),
        _ => {}
    }
}

fn ref_target(r: &str, model: &str, names: &BTreeMap<String, String>) -> String {
    if let Some(rest) = r.strip_prefix("#/definitions/") {
        let (def, tail) = rest.split_once('/').map_or((rest, ""), |(d, t)| (d, t));
        let def = def.replace("~1", "/").replace("~0", "~");
        if let Some(name) = names.get(&def) {
            let tail = if tail.is_empty() {
                String::new()
            } else {
                format!("/{tail}")
            };
            return format!("#/components/schemas/{name}{tail}");
        }
    }
    match r.strip_prefix('#') {
        Some(pointer) => format!("#/components/schemas/{model}{pointer}"),
        None => r.to_string(),
    }
}

/// One operation: a route writing to one stream, its body validated against `model`.
fn operation(
    p: &Pipeline,
    route: &Route,
    stream: &str,
    path: &str,
    model: &str,
) -> Result<Value, GenError> {
    let error = error_template()?;
    let ok = render_template(&PutRecordOk, "vtl/put_record_ok.vtl")?;
    let mut op = json!({
        "operationId": format!("{}_{}", route.name, stream),
        "requestBody": {
            "required": true,
            "content": {route.content_type.as_str(): {"schema": {"$ref": format!("#/components/schemas/{model}")}}}
        },
        "x-amazon-apigateway-request-validator": "body-and-params",
        "responses": responses(),
        "x-amazon-apigateway-integration": {
            "type": "aws",
            "httpMethod": "POST",
            // Filled in by insert_terraform_references, after escaping.
            "uri": "",
            "credentials": "",
            "passthroughBehavior": "never",
            "requestParameters": {
                "integration.request.header.Content-Type": "'application/x-amz-json-1.1'"
            },
            "requestTemplates": {route.content_type.as_str(): request_template(p, route, stream)?},
            "responses": {
                "4\\d{2}": {"statusCode": "400", "responseTemplates": {"application/json": error}},
                "5\\d{2}": {"statusCode": "502", "responseTemplates": {"application/json": error}},
                "default": {"statusCode": "200", "responseTemplates": {"application/json": ok}}
            }
        }
    });
    let params = path_params(path);
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if route.auth {
        op["security"] = json!([{"basic": []}]);
    }
    Ok(op)
}

/// A gateway response in the error contract's shape.
fn gateway_response(
    error: ApiError,
    status: Option<u16>,
    realm: Option<&str>,
) -> Result<Value, GenError> {
    gateway_response_body(GatewayResponseBody::new(error), status, realm)
}

fn gateway_response_body(
    body: GatewayResponseBody,
    status: Option<u16>,
    realm: Option<&str>,
) -> Result<Value, GenError> {
    let mut parameters = Map::new();
    if let Some(realm) = realm {
        parameters.insert(
            "gatewayresponse.header.WWW-Authenticate".into(),
            format!("'Basic realm=\"{realm}\"'").into(),
        );
    }
    parameters.insert(
        "gatewayresponse.header.Content-Type".into(),
        "'application/json'".into(),
    );
    let template = render_template(&body, "vtl/gateway_response.vtl")?;
    let mut out = json!({
        "responseParameters": parameters,
        "responseTemplates": {"application/json": template}
    });
    if let Some(status) = status {
        out["statusCode"] = status.to_string().into();
    }
    Ok(out)
}

/// The document, before escaping.
pub fn document(p: &Pipeline) -> Result<Value, GenError> {
    let models = request_models(p);
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for route in p.routes.values() {
        let model = models
            .get(&route.name)
            .map_or("JsonObject", |(name, _)| name.as_str());
        for stream in route.streams() {
            let path = route.concrete_path(stream);
            let op = operation(p, route, stream, &path, model)?;
            paths
                .entry(path)
                .or_default()
                .insert(route.method.as_str().to_ascii_lowercase(), op);
        }
    }

    let mut gateway_responses = Map::new();
    for e in ApiError::ALL {
        for kind in e.gateway_response_types() {
            let realm = (e == ApiError::Unauthorized).then_some(p.name.as_str());
            gateway_responses.insert(
                (*kind).to_string(),
                gateway_response(e, Some(e.status()), realm)?,
            );
        }
    }
    // A request over API Gateway's 10 MB payload limit is certainly over Kinesis's record limit.
    gateway_responses.insert(
        "REQUEST_TOO_LARGE".into(),
        gateway_response(
            ApiError::RecordTooLarge,
            Some(ApiError::RecordTooLarge.status()),
            None,
        )?,
    );
    // Everything else keeps API Gateway's status but answers in the contract's shape.
    for kind in ["DEFAULT_4XX", "DEFAULT_5XX"] {
        gateway_responses.insert(
            kind.into(),
            gateway_response_body(GatewayResponseBody::default_for(kind), None, None)?,
        );
    }

    let mut components = json!({
        "schemas": {
            "JsonObject": {"type": "object"},
            "PutRecordReply": {
                "type": "object",
                "properties": {"SequenceNumber": {"type": "string"}, "ShardId": {"type": "string"}}
            },
            "Error": {
                "type": "object",
                "properties": {
                    api::member::ERROR: {"type": "string"},
                    api::member::MESSAGE: {"type": "string"},
                    api::member::REQUEST_ID: {"type": "string"}
                }
            }
        }
    });
    let mut taken: Vec<String> = components["schemas"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys().cloned())
        .chain(models.values().map(|(name, _)| name.clone()))
        .collect();
    for (name, schema) in models.into_values() {
        for (name, schema) in hoist_definitions(&name, schema, &mut taken) {
            components["schemas"][name] = schema;
        }
    }
    if let Some(auth) = &p.auth {
        components["securitySchemes"] = json!({
            "basic": {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "x-amazon-apigateway-authtype": "custom",
                "x-amazon-apigateway-authorizer": {
                    "type": "request",
                    "identitySource": "method.request.header.Authorization",
                    // Filled in by insert_terraform_references, after escaping.
                    "authorizerUri": "",
                    "authorizerResultTtlInSeconds": auth.cache_ttl_seconds
                }
            }
        });
    }

    Ok(json!({
        "openapi": "3.0.1",
        "info": {
            "title": p.name,
            "description": "Generated by `cargo xtask gen` from pipeline.toml; do not edit.",
            "version": "1"
        },
        "paths": paths,
        "components": components,
        "x-amazon-apigateway-request-validators": {
            "body-and-params": {"validateRequestBody": true, "validateRequestParameters": true}
        },
        "x-amazon-apigateway-gateway-responses": gateway_responses
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_alphanumeric_and_unique() {
        assert_eq!(model_name("submit", &[]), "SubmitBody");
        assert_eq!(model_name("order-events_v2", &[]), "OrderEventsV2Body");
        assert_eq!(model_name("a-b", &["ABBody".to_string()]), "ABBody2");
    }

    #[test]
    fn a_model_s_definitions_become_models_and_its_references_follow() {
        let schema = json!({"type": "object", "definitions": {"pos-int": {"type": "integer"}},
            "properties": {"n": {"$ref": "#/definitions/pos-int"}, "self": {"$ref": "#"}}});
        let mut taken = vec!["SubmitBody".to_string()];
        let models = hoist_definitions("SubmitBody", schema, &mut taken);
        assert_eq!(models.len(), 2);
        assert_eq!(
            models[1],
            ("SubmitBodyPosInt".to_string(), json!({"type": "integer"}))
        );
        assert!(models[0].1.get("definitions").is_none());
        assert_eq!(
            models[0].1["properties"]["n"]["$ref"],
            "#/components/schemas/SubmitBodyPosInt"
        );
        assert_eq!(
            models[0].1["properties"]["self"]["$ref"],
            "#/components/schemas/SubmitBody"
        );
    }

    #[test]
    fn user_text_is_escaped_once_and_references_are_not() {
        let mut doc = json!({
            "paths": {"/a": {"post": {"x-amazon-apigateway-integration": {"uri": "", "credentials": ""},
                                      "note": "${not_a_variable} %{if}"}}},
            "${key}": "x"
        });
        escape_for_templatefile(&mut doc);
        insert_terraform_references(&mut doc);
        assert_eq!(
            doc["paths"]["/a"]["post"]["note"],
            "$${not_a_variable} %%{if}"
        );
        assert_eq!(doc["$${key}"], "x");
        assert_eq!(
            doc["paths"]["/a"]["post"]["x-amazon-apigateway-integration"]["uri"],
            PUT_RECORD_URI
        );
    }
}
