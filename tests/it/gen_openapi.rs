//! What the generated API must get right, read from the rendered files: one path per declared stream and
//! no other, the PutRecord integration writing to a fixed stream with least-privilege credentials, method
//! responses for every status, and gateway responses equal to the error contract.

use std::collections::BTreeMap;

use serde_json::Value;
use sluice_contract::ApiError;
use sluice_gen as generate;
use sluice_tests::workspace_root;

/// What Terraform's `templatefile` does with the OpenAPI template: fills `${name}` from `vars`, turns
/// `$${` and `%%{` back into `${` and `%{`, and refuses any other interpolation or directive.
fn templatefile(text: &str, vars: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['$', '%']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("$${") || tail.starts_with("%%{") {
            out.push_str(&tail[1..3]);
            rest = &tail[3..];
        } else if let Some(inner) = tail.strip_prefix("${") {
            let end = inner.find('}').expect("an unterminated ${");
            let name = &inner[..end];
            out.push_str(
                vars.get(name)
                    .unwrap_or_else(|| panic!("templatefile has no variable {name:?}")),
            );
            rest = &inner[end + 1..];
        } else {
            assert!(
                !tail.starts_with("%{"),
                "a template directive in the OpenAPI document: {}",
                &tail[..tail.len().min(40)]
            );
            out.push_str(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// A string's JSON escaping without the quotes: what API Gateway puts in for `$context` variables.
pub fn json_escaped(s: &str) -> &'static str {
    let quoted = serde_json::to_string(s).unwrap();
    Box::leak(quoted[1..quoted.len() - 1].to_string().into_boxed_str())
}

pub fn openapi(config: &str) -> (sluice_config::Pipeline, Value) {
    let pipeline = sluice_config::load(&workspace_root().join(config)).unwrap();
    let files = generate::render(&pipeline, std::path::Path::new("terraform")).unwrap();
    let vars = BTreeMap::from([
        ("partition", "aws"),
        ("region", "us-east-1"),
        (
            "integration_role_arn",
            "arn:aws:iam::123456789012:role/integration",
        ),
        (
            "authorizer_uri",
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/x/invocations",
        ),
    ]);
    let text = templatefile(&files["modules/api/openapi.json.tftpl"], &vars);
    (
        pipeline,
        serde_json::from_str(&text).expect("the OpenAPI document is JSON"),
    )
}

#[test]
fn one_path_per_allowed_stream_and_nothing_else() {
    let (_, doc) = openapi("examples/multi/pipeline.toml");
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        [
            "/audit",
            "/beacon/{clickId}",
            "/events/Clicks/{eventId}",
            "/events/Orders/{eventId}"
        ]
    );
    // Audit is declared but not allowed on /events: no path, so API Gateway answers 404.
    assert!(doc["paths"].get("/events/Audit/{eventId}").is_none());
    assert!(doc["paths"].get("/events/{streamName}/{eventId}").is_none());

    let (_, doc) = openapi("pipeline.toml");
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert_eq!(paths, ["/submit/GatewayEventsStream/{eventId}"]);
}

#[test]
fn every_integration_puts_into_its_fixed_stream_with_the_integration_role() {
    let (pipeline, doc) = openapi("examples/multi/pipeline.toml");
    let expected = [
        (
            "/audit",
            "put",
            "shop-Audit",
            "application/vnd.shop.audit+json",
            true,
        ),
        (
            "/beacon/{clickId}",
            "post",
            "shop-Clicks",
            "application/json",
            false,
        ),
        (
            "/events/Clicks/{eventId}",
            "post",
            "shop-Clicks",
            "application/json",
            true,
        ),
        (
            "/events/Orders/{eventId}",
            "post",
            "shop-Orders",
            "application/json",
            true,
        ),
    ];
    assert_eq!(pipeline.name, "shop");
    for (path, method, stream, content_type, secured) in expected {
        let op = &doc["paths"][path][method];
        let integration = &op["x-amazon-apigateway-integration"];
        assert_eq!(integration["type"], "aws");
        assert_eq!(
            integration["uri"],
            "arn:aws:apigateway:us-east-1:kinesis:action/PutRecord"
        );
        assert_eq!(
            integration["credentials"],
            "arn:aws:iam::123456789012:role/integration"
        );
        assert_eq!(
            integration["passthroughBehavior"], "never",
            "other content types must get 415"
        );
        let templates = integration["requestTemplates"].as_object().unwrap();
        assert_eq!(templates.keys().collect::<Vec<_>>(), [content_type]);
        let template = templates[content_type].as_str().unwrap();
        assert!(
            template.contains(&format!("\"StreamName\":\"{stream}\"")),
            "{path}: {template}"
        );
        let model = match path {
            "/audit" => "AuditBody",
            "/beacon/{clickId}" => "JsonObject",
            _ => "EventsBody",
        };
        assert_eq!(
            op["requestBody"]["content"][content_type]["schema"]["$ref"],
            format!("#/components/schemas/{model}"),
            "{path}: the route's request model"
        );
        assert_eq!(
            op["x-amazon-apigateway-request-validator"],
            "body-and-params"
        );
        assert_eq!(op.get("security").is_some(), secured, "{path}");
        let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert_eq!(
            statuses,
            ["200", "400", "404", "413", "429", "502"],
            "{path}: a method response for every status"
        );
        let described = op["responses"]["400"]["description"].as_str().unwrap();
        assert!(
            described.contains("`BadRequestBody`") && described.contains("`InvalidPartitionKey`"),
            "{path}: the 400 response documents the request validator's answer: {described}"
        );
        let responses = integration["responses"].as_object().unwrap();
        assert_eq!(responses["default"]["statusCode"], "200");
        for pattern in ["4\\d{2}", "5\\d{2}"] {
            let t = responses[pattern]["responseTemplates"]["application/json"]
                .as_str()
                .unwrap();
            assert!(
                t.contains("$context.responseOverride.status"),
                "Kinesis errors must not answer 200"
            );
        }
    }
    let validator = &doc["x-amazon-apigateway-request-validators"]["body-and-params"];
    assert_eq!(validator["validateRequestBody"], true);
    assert_eq!(doc["components"]["schemas"]["JsonObject"]["type"], "object");
    // The schema file, as written but without `$schema` (OpenAPI 3.0's schema object has none).
    let mut file: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("examples/multi/schemas/event.json"))
            .unwrap(),
    )
    .unwrap();
    file.as_object_mut().unwrap().remove("$schema");
    assert_eq!(doc["components"]["schemas"]["EventsBody"], file);
    assert_eq!(
        doc["components"]["schemas"]["AuditBody"]["required"],
        serde_json::json!(["who", "action"])
    );
    let authorizer =
        &doc["components"]["securitySchemes"]["basic"]["x-amazon-apigateway-authorizer"];
    assert_eq!(authorizer["type"], "request");
    assert_eq!(
        authorizer["identitySource"],
        "method.request.header.Authorization"
    );
    assert_eq!(authorizer["authorizerResultTtlInSeconds"], 0);
}

#[test]
fn gateway_responses_follow_the_error_contract() {
    let (pipeline, doc) = openapi("pipeline.toml");
    let responses = doc["x-amazon-apigateway-gateway-responses"]
        .as_object()
        .unwrap();
    for e in ApiError::ALL {
        for kind in e.gateway_response_types() {
            let r = &responses[*kind];
            assert_eq!(r["statusCode"], e.status().to_string(), "{kind}");
            let body = r["responseTemplates"]["application/json"].as_str().unwrap();
            // API Gateway substitutes the validation error string JSON-escaped.
            let validation = r#"[object has missing required properties (["message"])]"#;
            let rendered = body
                .replace("$context.requestId", "req-7")
                .replace(generate::VALIDATION_ERROR_STRING, json_escaped(validation));
            let message = sluice_contract::api::bad_request_body_message(validation);
            let expected = if e == ApiError::BadRequestBody {
                serde_json::to_value(e.body_with_message(&message, "req-7")).unwrap()
            } else if e == ApiError::Throttled {
                // API Gateway's own 429s are the stage's throttle (the stream's come from the mapping).
                serde_json::to_value(sluice_contract::api::Throttle::Stage.body("req-7")).unwrap()
            } else {
                serde_json::to_value(e.body("req-7")).unwrap()
            };
            assert_eq!(
                serde_json::from_str::<Value>(&rendered).unwrap(),
                expected,
                "{kind}"
            );
            assert_eq!(
                r["responseParameters"]["gatewayresponse.header.Content-Type"],
                "'application/json'"
            );
        }
    }
    assert_eq!(
        responses["UNAUTHORIZED"]["responseParameters"]["gatewayresponse.header.WWW-Authenticate"],
        format!("'Basic realm=\"{}\"'", pipeline.name)
    );
    for kind in ["DEFAULT_4XX", "DEFAULT_5XX", "REQUEST_TOO_LARGE"] {
        let body = responses[kind]["responseTemplates"]["application/json"]
            .as_str()
            .unwrap();
        let v: Value = serde_json::from_str(&body.replace("$context.requestId", "r")).unwrap();
        assert!(
            v["error"].is_string() && v["message"].is_string() && v["requestId"] == "r",
            "{kind}: {v}"
        );
    }
}

#[test]
fn the_integration_role_may_put_only_into_routed_streams() {
    let pipeline =
        sluice_config::load(&workspace_root().join("examples/multi/pipeline.toml")).unwrap();
    let files = generate::render(&pipeline, std::path::Path::new("terraform")).unwrap();
    let main = &files["stack/main.tf"];
    assert!(
        main.contains("routed_streams = [\"Audit\", \"Clicks\", \"Orders\"]"),
        "{main}"
    );
    let api = &files["modules/api/main.tf"];
    assert!(
        api.contains("actions   = [\"kinesis:PutRecord\"]\n    resources = var.stream_arns"),
        "{api}"
    );
    // No wildcard resource anywhere except the one documented for API Gateway's own log groups, and
    // `"*"` where it means one thing: in a resource policy (the secret's, the key's) it is that resource,
    // and X-Ray's two actions take no other resource. (The alarm topic's key policy, in modules/alerts, is
    // a key's resource policy too.)
    let star_resource_allowed = [
        "modules/auth/main.tf",
        "modules/kms/main.tf",
        "modules/alerts/main.tf",
        "modules/function/main.tf",
    ];
    for (path, text) in &files {
        for line in text.lines().filter(|l| l.contains("\"*\"")) {
            let line_ = line.trim();
            assert!(
                // The Deny statements' principal is everyone, on purpose.
                line.contains("identifiers = [\"*\"]")
                    || line_ == "type        = \"*\""
                    || line_.starts_with('#')
                    || (line_ == "resources = [\"*\"]"
                        && star_resource_allowed.contains(&path.as_str())),
                "{path}: unexplained wildcard: {line}"
            );
        }
    }
    // ... and only in those statements.
    let xray = &files["modules/function/main.tf"];
    assert_eq!(xray.matches("resources = [\"*\"]").count(), 1, "{xray}");
    assert!(xray.contains("actions   = [\"xray:PutTraceSegments\", \"xray:PutTelemetryRecords\"]\n      resources = [\"*\"]"));
    // No hard-coded region or account in the Terraform.
    for (path, text) in files.iter().filter(|(p, _)| p.ends_with(".tf")) {
        assert!(
            !text.contains("eu-west-1") || path == "variables.tf" || path == "stack/main.tf",
            "{path} hard-codes the region"
        );
        assert!(!text.contains("123456789012"), "{path}");
    }
}
