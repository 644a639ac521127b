//! Request validation, local and deployed, compared: the local gateway of `cargo xtask dev` answers a body
//! that does not match the route's schema with exactly the body the generated API Gateway gateway response
//! (`BAD_REQUEST_BODY`) renders for API Gateway's validation error string, and writes nothing.

use std::time::Duration;

use serde_json::Value;
use sluice_tests::workspace_root;

const USER: &str = "ingest";
const PASS: &str = "validation-test-password";

/// The `BAD_REQUEST_BODY` template of the generated API, rendered as API Gateway does for a request id and a
/// validation error string (substituted JSON-escaped).
fn rendered_gateway_response(template: &str, request_id: &str, validation: &str) -> Value {
    let escaped = serde_json::to_string(validation).unwrap();
    let text = template.replace("$context.requestId", request_id).replace(
        sluice_gen::VALIDATION_ERROR_STRING,
        &escaped[1..escaped.len() - 1],
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_body_gets_the_generated_gateway_response_and_nothing_is_written() {
    let config = workspace_root().join("examples/multi/pipeline.toml");
    let pipeline = sluice_config::load(&config).unwrap();
    let files =
        sluice_gen::render(&pipeline, std::path::Path::new("examples/multi/terraform")).unwrap();
    let doc: Value = serde_json::from_str(
        &files["modules/api/openapi.json.tftpl"]
            .replace("$${", "${")
            .replace("%%{", "%{"),
    )
    .unwrap();
    let template = doc["x-amazon-apigateway-gateway-responses"]["BAD_REQUEST_BODY"]
        ["responseTemplates"]["application/json"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        doc["x-amazon-apigateway-gateway-responses"]["BAD_REQUEST_BODY"]["statusCode"],
        "400"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut opts = sluice_local::StartOptions::new(pipeline, dir.path());
    opts.credentials = Some(format!("{USER}:{PASS}"));
    let running = sluice_local::start(opts).await.unwrap();
    let base = running.base_url();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // (path, content type, body, API Gateway's validation error string for it)
    let audit = "application/vnd.shop.audit+json";
    let json = "application/json";
    let cases: [(&str, &str, &str, &str); 10] = [
        (
            "/v1/events/Orders/o-1",
            json,
            r#"{"version": 2}"#,
            r#"[object has missing required properties (["kind"])]"#,
        ),
        (
            "/v1/events/Orders/o-1",
            json,
            r#"{"kind": "order", "version": "2"}"#,
            r#"[instance type (string) does not match any allowed primitive type (allowed: ["integer"])]"#,
        ),
        (
            "/v1/events/Clicks/c-1",
            json,
            r#"{"kind": "refund", "version": 1}"#,
            r#"[instance value ("refund") not found in enum (possible values: ["order","click","test"])]"#,
        ),
        (
            "/v1/events/Orders/o-1",
            json,
            r#"{"kind": "order", "version": 0}"#,
            "[numeric instance is lower than the required minimum (minimum: 1, found: 0)]",
        ),
        (
            "/v1/events/Orders/o-1",
            json,
            r#"{"kind": "order", "version": 1, "items": ["ok-1"]}"#,
            r#"[ECMA 262 regex "^[A-Z0-9-]+$" does not match input string "ok-1"]"#,
        ),
        (
            // A literal with a fraction is a `number` for API Gateway's validator, even when whole.
            "/v1/events/Orders/o-1",
            json,
            r#"{"kind": "order", "version": 1.0}"#,
            r#"[instance type (number) does not match any allowed primitive type (allowed: ["integer"])]"#,
        ),
        (
            // Decimal arithmetic (0.015 is not a multiple of 0.01), numbers printed as Java prints them.
            "/v1/events/Orders/o-1",
            json,
            r#"{"kind": "order", "version": 1, "amount": 0.0150}"#,
            "[remainder of division is not zero (0.015 / 0.01)]",
        ),
        (
            "/v1/audit",
            audit,
            r#"{"who": "", "action": "create"}"#,
            r#"[string "" is too short (length: 0, required minimum: 1)]"#,
        ),
        (
            "/v1/beacon/c-9",
            json,
            r#"[1, 2]"#,
            r#"[instance type (array) does not match any allowed primitive type (allowed: ["object"])]"#,
        ),
        (
            "/v1/beacon/c-9",
            json,
            "{not json",
            sluice_schema_not_json(),
        ),
    ];
    for (path, content_type, body, validation) in cases {
        let mut request = client
            .request(
                if path == "/v1/audit" {
                    reqwest::Method::PUT
                } else {
                    reqwest::Method::POST
                },
                format!("{base}{path}"),
            )
            .header("content-type", content_type)
            .body(body.to_string());
        if !path.starts_with("/v1/beacon") {
            request = request.basic_auth(USER, Some(PASS));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{path} {body}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let answer: Value = response.json().await.unwrap();
        let request_id = answer["requestId"].as_str().unwrap().to_string();
        assert_eq!(
            answer,
            rendered_gateway_response(&template, &request_id, validation),
            "{path} {body}: the local answer is what API Gateway's gateway response would be"
        );
    }

    // Nothing reached a stream; a valid body does.
    let records = || {
        let conn = rusqlite::Connection::open(dir.path().join("pipeline.db")).unwrap();
        conn.query_row("SELECT count(*) FROM _sluice_records", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
    };
    assert_eq!(records(), 0, "a refused body must not be written");
    let response = client
        .post(format!("{base}/v1/events/Orders/o-2"))
        .basic_auth(USER, Some(PASS))
        .header("content-type", json)
        .body(r#"{"kind": "order", "version": 3, "amount": 12.5, "items": ["SKU-1"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(records(), 1);
    running.shutdown().await;
}

/// What the local gateway says of a body that is not JSON (API Gateway's own words are not documented).
fn sluice_schema_not_json() -> &'static str {
    "[the request body is not valid JSON]"
}
