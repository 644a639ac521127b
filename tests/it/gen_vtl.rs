//! The record and error contracts, tested on the generated API Gateway mapping templates: each template is
//! rendered by a Velocity engine emulating API Gateway (LocalStack's airspeed-ext, with the `$input`,
//! `$util` and `$context` shims of tests/vtl/render.py), and the result is compared with
//! `sluice_contract`, the same definitions the local gateway answers from.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::{Value, json};
use sluice_contract::{self as contract, ApiError};
use sluice_tests::envelope_of as envelope;
use sluice_tests::workspace_root;

/// The project venv's python with airspeed-ext, installed on first use. nextest runs each test in its own
/// process, so the install is serialised with a lock folder.
fn python() -> PathBuf {
    let root = workspace_root();
    let venv = root.join("target/sluice-venv");
    let python = venv.join("bin/python");
    let ready = || {
        python.exists()
            && Command::new(&python)
                .args(["-c", "import airspeed"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    };
    if ready() {
        return python;
    }
    let lock = root.join("target/sluice-venv.airspeed.lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::fs::create_dir(&lock).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} held for 5 minutes; remove it if no install is running",
            lock.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let result = std::panic::catch_unwind(|| {
        if !python.exists() {
            let status = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("python3 -m venv");
            assert!(status.success(), "could not create {}", venv.display());
        }
        if !ready() {
            let out = Command::new(&python)
                .args(["-m", "pip", "install", "--quiet", "airspeed-ext"])
                .output()
                .expect("pip");
            assert!(
                out.status.success(),
                "pip install airspeed-ext failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
    let _ = std::fs::remove_dir(&lock);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    python
}

/// Renders each request with tests/vtl/render.py; returns `{"output", "status"}` per request.
fn render(requests: &[Value]) -> Vec<Value> {
    let mut child = Command::new(python())
        .arg(workspace_root().join("tests/vtl/render.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run render.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(requests).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "render.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("render.py prints JSON")
}

/// JSON object bodies that must reach Kinesis byte for byte.
fn bodies() -> Vec<&'static str> {
    vec![
        r#"{}"#,
        r#"{"eventId":"value1","n":1.50,"ok":true,"none":null}"#,
        r#"{"quote":"she said \"hi\"","backslash":"C:\\temp\\new","slash":"a\/b"}"#,
        "{\"newline\":\"line1\\nline2\\r\\t\",\n  \"pretty\" : [1, 2,\n 3]\n}",
        r#"{"unicode":"é ü 中文 😀","escaped":"\u00e9\ud83d\ude00"}"#,
        r##"{"dollar":"$x ${y} $!z $context.requestId $input.body","hash":"#set($a = 1) #if(true)x#end ## not a comment"}"##,
        r#"{"nested":{"deeper":{"list":[{"a":"'single'"},{"b":"%{ if }"}]}},"percent":"100%"}"#,
        r#"{"single":"it's","tab":"	raw tab"}"#,
    ]
}

#[test]
fn the_request_template_puts_the_contract_envelope_into_the_record() {
    let pipeline =
        sluice_config::load(&workspace_root().join("examples/multi/pipeline.toml")).unwrap();
    let route = &pipeline.routes["events"];
    let template = sluice_gen::request_template(&pipeline, route, "Orders").unwrap();
    // The very template the generated OpenAPI document carries.
    let doc = &sluice_gen::render(&pipeline, std::path::Path::new("terraform")).unwrap()["modules/api/openapi.json.tftpl"];
    let doc: Value = serde_json::from_str(&doc.replace("$${", "${").replace("%%{", "%{")).unwrap();
    assert_eq!(
        doc["paths"]["/events/Orders/{eventId}"]["post"]["x-amazon-apigateway-integration"]["requestTemplates"]
            ["application/json"],
        template.as_str()
    );
    assert_eq!(
        doc["paths"]["/events/Orders/{eventId}"]["post"]["x-amazon-apigateway-integration"]["responses"]
            ["4\\d{2}"]["responseTemplates"]["application/json"],
        sluice_gen::error_template().unwrap().as_str()
    );
    let keys = [
        "abc",
        "key with spaces",
        "it's \"quoted\" \\ é/ü",
        "ünïcødé-😀",
    ];
    let mut requests = Vec::new();
    let mut expected = Vec::new();
    for (i, body) in bodies().into_iter().enumerate() {
        let key = keys[i % keys.len()];
        let (request_id, ip, at) = (
            format!("c0ffee-{i}"),
            "203.0.113.9",
            1_732_752_000_123i64 + i as i64,
        );
        requests.push(json!({
            "template": template,
            "body": body,
            "path": {"eventId": key},
            "context": {"requestId": request_id, "requestTimeEpoch": at, "sourceIp": ip},
        }));
        expected.push((key, envelope(at, &request_id, ip, body)));
    }
    for (rendered, (key, envelope)) in render(&requests).iter().zip(expected) {
        let output = rendered["output"].as_str().unwrap();
        let put: Value =
            serde_json::from_str(output).unwrap_or_else(|e| panic!("not JSON ({e}):\n{output}"));
        assert_eq!(put.as_object().unwrap().len(), 3, "{put}");
        assert_eq!(put["StreamName"], "shop-Orders");
        assert_eq!(
            put["PartitionKey"], key,
            "the partition key is the path parameter, exactly"
        );
        let data = base64::engine::general_purpose::STANDARD
            .decode(put["Data"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&data),
            String::from_utf8_lossy(&envelope),
            "Data must be exactly sluice_contract::envelope::encode"
        );
        assert_eq!(data, envelope);
    }
}

#[test]
fn a_request_id_partition_key_is_the_request_id() {
    let pipeline =
        sluice_config::load(&workspace_root().join("examples/multi/pipeline.toml")).unwrap();
    let template =
        sluice_gen::request_template(&pipeline, &pipeline.routes["audit"], "Audit").unwrap();
    let body = r#"{"who":"me"}"#;
    let rendered = render(&[json!({
        "template": template, "body": body, "path": {},
        "context": {"requestId": "rid-1", "requestTimeEpoch": 5, "sourceIp": "10.0.0.1"},
    })]);
    let put: Value = serde_json::from_str(rendered[0]["output"].as_str().unwrap()).unwrap();
    assert_eq!(put["StreamName"], "shop-Audit");
    assert_eq!(put["PartitionKey"], "rid-1");
    let data = base64::engine::general_purpose::STANDARD
        .decode(put["Data"].as_str().unwrap())
        .unwrap();
    assert_eq!(data, envelope(5, "rid-1", "10.0.0.1", body));
}

#[test]
fn kinesis_errors_become_the_error_contract() {
    let template = sluice_gen::error_template().unwrap();
    let cases = [
        (
            json!({"__type": "ProvisionedThroughputExceededException", "message": "Rate exceeded for shard shardId-000000000000"}),
            ApiError::Throttled,
        ),
        (
            json!({"__type": "KMSThrottlingException", "message": "throttled"}),
            ApiError::Throttled,
        ),
        (
            json!({"__type": "LimitExceededException", "message": "limit"}),
            ApiError::Throttled,
        ),
        (
            json!({"__type": "ValidationException", "message": "1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576"}),
            ApiError::RecordTooLarge,
        ),
        (
            json!({"__type": "ValidationException", "message": "1 validation error detected: Value at 'partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256"}),
            ApiError::InvalidPartitionKey,
        ),
        (
            json!({"__type": "ResourceNotFoundException", "message": "Stream shop-Orders under account 1 not found."}),
            ApiError::StreamNotFound,
        ),
        (
            json!({"__type": "KMSAccessDeniedException", "message": "denied"}),
            ApiError::BackendError,
        ),
        (json!({"__type": "InternalFailure"}), ApiError::BackendError),
        (json!({"Message": "no type at all"}), ApiError::BackendError),
    ];
    let requests: Vec<Value> = cases
        .iter()
        .map(|(answer, _)| json!({"template": template, "body": answer.to_string(), "context": {"requestId": "req-9"}}))
        .collect();
    for (rendered, (answer, error)) in render(&requests).iter().zip(cases) {
        assert_eq!(rendered["status"], error.status(), "{answer} → {error:?}");
        let body: Value =
            serde_json::from_str(rendered["output"].as_str().unwrap().trim()).unwrap();
        assert_eq!(
            body,
            serde_json::to_value(error.body("req-9")).unwrap(),
            "{answer}"
        );
    }
}

#[test]
fn the_success_template_answers_sequence_number_and_shard() {
    let files = sluice_gen::render(
        &sluice_config::load(&workspace_root().join("pipeline.toml")).unwrap(),
        std::path::Path::new("terraform"),
    )
    .unwrap();
    let doc = &files["modules/api/openapi.json.tftpl"];
    let v: Value = serde_json::from_str(&doc.replace("$${", "${")).unwrap();
    let template = v["paths"]["/submit/GatewayEventsStream/{eventId}"]["post"]["x-amazon-apigateway-integration"]["responses"]["default"]
        ["responseTemplates"]["application/json"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = json!({"SequenceNumber": "4959", "ShardId": "shardId-000000000000", "EncryptionType": "KMS"});
    let rendered = render(&[json!({"template": template, "body": answer.to_string()})]);
    let reply: contract::PutRecordReply =
        serde_json::from_str(rendered[0]["output"].as_str().unwrap()).unwrap();
    assert_eq!(
        reply,
        contract::PutRecordReply {
            sequence_number: "4959".into(),
            shard_id: "shardId-000000000000".into()
        }
    );
}

#[test]
fn contract_messages_need_no_velocity_escaping() {
    // The error bodies are literal text in the templates: `$` or `#` in them would be read as Velocity.
    for e in ApiError::ALL {
        assert!(!e.message().contains(['$', '#']), "{e:?}");
    }
}

#[test]
fn a_body_cannot_forge_the_envelopes_members() {
    // Bodies a lenient validator might let through, each trying to set or override the gateway's members.
    let pipeline =
        sluice_config::load(&workspace_root().join("examples/multi/pipeline.toml")).unwrap();
    let template =
        sluice_gen::request_template(&pipeline, &pipeline.routes["events"], "Orders").unwrap();
    let bodies = [
        r#"{"a":1},"requestId":"forged""#,
        r#"{"a":1},"receivedAt":0,"sourceIp":"10.0.0.1""#,
        r#"{},"v":1,"body":{"evil":true}"#,
        r#"{},"requestId":"forged","x":{"#,
        r#"{},"admin":true"#,
        r#"{"a":1} , "requestId" : "forged" "#,
    ];
    let requests: Vec<Value> = bodies
        .iter()
        .map(|body| {
            json!({
                "template": template, "body": body, "path": {"eventId": "k"},
                "context": {"requestId": "real-id", "requestTimeEpoch": 7, "sourceIp": "203.0.113.9"},
            })
        })
        .collect();
    for (rendered, body) in render(&requests).iter().zip(bodies) {
        let put: Value = serde_json::from_str(rendered["output"].as_str().unwrap()).unwrap();
        let data = base64::engine::general_purpose::STANDARD
            .decode(put["Data"].as_str().unwrap())
            .unwrap();
        let text = String::from_utf8_lossy(&data).into_owned();
        // The writer refuses it …
        let refused = sluice_contract::envelope::decode(&data)
            .expect_err(&format!("{body} must not decode: {text}"));
        assert!(
            matches!(
                refused.reason,
                contract::Reason::ForgedEnvelope | contract::Reason::NotJson
            ),
            "{body}: {refused}"
        );
        // … and a reader that keeps the last of duplicated members still sees the gateway's values,
        // since they come after the body.
        if let Ok(last_wins) = serde_json::from_slice::<Value>(&data) {
            assert_eq!(last_wins["requestId"], "real-id", "{text}");
            assert_eq!(last_wins["receivedAt"], 7, "{text}");
            assert_eq!(last_wins["sourceIp"], "203.0.113.9", "{text}");
        }
    }
}
