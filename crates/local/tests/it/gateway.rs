//! The local gateway over real HTTP: the seed's example end to end (gateway → stream → writer → table), and
//! every bad input answered with its documented status and JSON error, with nothing written.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_example_is_stored_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_in(
        dir.path(),
        &pipeline_toml(1, "batch_size = 10\nstarting_position = \"LATEST\""),
        BTreeMap::new(),
    )
    .await;
    let base = running.base_url();

    let response = submit(&client(), &base, SEED_ID, SEED_BODY).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let reply: Value = response.json().await.unwrap();
    let reply = reply.as_object().unwrap();
    assert_eq!(
        reply.keys().collect::<Vec<_>>(),
        ["SequenceNumber", "ShardId"]
    );
    assert_eq!(reply["ShardId"], "shardId-000000000000");
    let sequence_number = reply["SequenceNumber"].as_str().unwrap().to_owned();
    assert_eq!(sequence_number.len(), 56);

    let stored = eventually(Duration::from_secs(1), || {
        items(dir.path(), "EventTable").contains_key(SEED_ID)
    })
    .await;
    assert!(stored, "the item is in EventTable within a second");
    let item = &items(dir.path(), "EventTable")[SEED_ID];
    let body: Value = serde_json::from_str(SEED_BODY).unwrap();
    assert_eq!(item["eventId"], SEED_ID);
    assert_eq!(item["payload"], body);
    assert_eq!(item["sequenceNumber"], sequence_number.as_str());
    assert_eq!(item["shardId"], "shardId-000000000000");
    assert_eq!(item["sourceIp"], "127.0.0.1");
    assert!(item["requestId"].as_str().is_some_and(|id| id.len() == 36));
    assert!(item["receivedAt"].as_i64().is_some());
    assert!(messages(dir.path(), "LambdaDeadLetterQueue").is_empty());
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_sharded_by_md5_and_keep_the_body_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_in(
        dir.path(),
        &pipeline_toml(4, "batch_size = 10"),
        BTreeMap::new(),
    )
    .await;
    let base = running.base_url();
    let client = client();
    // MD5("a") starts 0x0c… (shard 0 of 4); MD5("b") starts 0x92… (shard 2 of 4).
    for (key, shard) in [("a", "shardId-000000000000"), ("b", "shardId-000000000002")] {
        let body = r#"{"text" : "q\"uote \\ $x #y \u00e9", "n": 1.50}"#;
        let response = submit(&client, &base, key, body).await;
        assert_eq!(response.status(), 200);
        let reply: Value = response.json().await.unwrap();
        assert_eq!(reply["ShardId"], shard, "partition key {key}");
        let db = db_path(dir.path());
        let conn = rusqlite::Connection::open(db).unwrap();
        let data: Vec<u8> = conn
            .query_row(
                "SELECT data FROM _sluice_records WHERE partition_key = ?1",
                [key],
                |r| r.get(0),
            )
            .unwrap();
        let text = String::from_utf8(data).unwrap();
        assert!(
            text.starts_with(&format!("{{\"v\":1,\"body\":{body},\"receivedAt\":")),
            "{text}"
        );
    }
    // An URL-encoded partition key is decoded.
    let response = submit(&client, &base, "with%20space", "{}").await;
    assert_eq!(response.status(), 200);
    assert!(
        eventually(Duration::from_secs(2), || items(dir.path(), "EventTable")
            .contains_key("with space"))
        .await
    );
    running.shutdown().await;
}

async fn assert_error(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status(), status, "expected {status} {code}");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["requestId"].as_str().is_some_and(|m| m.len() == 36));
    assert_eq!(body.as_object().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_documented_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_in(dir.path(), &pipeline_toml(1, ""), BTreeMap::new()).await;
    let base = running.base_url();
    let client = client();
    let url = |id: &str| format!("{base}/prod/submit/GatewayEventsStream/{id}");
    let json = "application/json";
    let ok = r#"{"message":"hi"}"#;

    // Missing credentials: 401 with the Basic challenge.
    let response = client
        .post(url("k1"))
        .header("content-type", json)
        .body(ok)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"sluice\""
    );
    assert_error(response, 401, "Unauthorized").await;
    // Malformed credentials.
    for header in [
        "Bearer abc",
        "Basic !!!notbase64",
        "Basic dXNlcm5hbWU=", /* no colon */
    ] {
        let response = client
            .post(url("k1"))
            .header("content-type", json)
            .header("authorization", header)
            .body(ok)
            .send()
            .await
            .unwrap();
        assert_error(response, 401, "Unauthorized").await;
    }
    // Wrong credentials.
    let response = client
        .post(url("k1"))
        .basic_auth(USER, Some("wrong"))
        .header("content-type", json)
        .body(ok)
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "AccessDenied").await;
    let response = client
        .post(url("k1"))
        .basic_auth("someone", Some(PASS))
        .header("content-type", json)
        .body(ok)
        .send()
        .await
        .unwrap();
    assert_error(response, 403, "AccessDenied").await;

    // Routing comes first: 404 even without credentials.
    let response = client
        .post(format!("{base}/prod/submit/OtherStream/k1"))
        .body(ok)
        .send()
        .await
        .unwrap();
    assert_error(response, 404, "NotFound").await;
    let undeclared = client
        .post(format!("{base}/prod/submit/OtherStream/k1"))
        .basic_auth(USER, Some(PASS))
        .header("content-type", json)
        .body(ok)
        .send()
        .await
        .unwrap();
    assert_error(undeclared, 404, "NotFound").await;
    for path in [
        "/prod/submit/GatewayEventsStream/",
        "/prod/submit/GatewayEventsStream",
        "/prod/nothing/here",
        "/",
        "/dev/submit/GatewayEventsStream/k1",
        "/prod/submit/GatewayEventsStream/k1/extra",
    ] {
        let response = client
            .post(format!("{base}{path}"))
            .basic_auth(USER, Some(PASS))
            .header("content-type", json)
            .body(ok)
            .send()
            .await
            .unwrap();
        assert_error(response, 404, "NotFound").await;
    }
    // Wrong method.
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let response = client
            .request(method, url("k1"))
            .basic_auth(USER, Some(PASS))
            .send()
            .await
            .unwrap();
        assert_error(response, 404, "NotFound").await;
    }

    // Content type, body shape, limits.
    let post = |id: String, content_type: Option<&'static str>, body: Vec<u8>| {
        let mut request = client
            .post(url(&id))
            .basic_auth(USER, Some(PASS))
            .body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        request.send()
    };
    assert_error(
        post("k1".into(), Some("text/plain"), ok.into())
            .await
            .unwrap(),
        415,
        "UnsupportedMediaType",
    )
    .await;
    assert_error(
        post("k1".into(), None, ok.into()).await.unwrap(),
        415,
        "UnsupportedMediaType",
    )
    .await;
    for body in [
        "not json",
        "[1,2]",
        "\"text\"",
        "42",
        "{\"unterminated\": ",
        "",
    ] {
        assert_error(
            post("k1".into(), Some(json), body.into()).await.unwrap(),
            400,
            "BadRequestBody",
        )
        .await;
    }
    assert_error(
        post("k1".into(), Some(json), vec![0xff, 0xfe, b'{', b'}'])
            .await
            .unwrap(),
        400,
        "BadRequestBody",
    )
    .await;
    let big = format!("{{\"blob\":\"{}\"}}", "x".repeat(1024 * 1024));
    // The gateway answers 413 from the declared length, before the body arrives, and closes: a client still
    // writing the body may see that close (a broken pipe) before it reads the answer. The answer itself is
    // `gateway_abuse::a_declared_body_larger_than_a_record_is_refused_before_it_is_sent`'s; here either is
    // the refusal, and the end of this test checks that nothing was written.
    match post("k1".into(), Some(json), big.into_bytes()).await {
        Ok(response) => assert_error(response, 413, "RecordTooLarge").await,
        Err(e) => assert!(e.is_request(), "{e:?}"),
    }
    let long_key = "k".repeat(257);
    assert_error(
        post(long_key, Some(json), ok.into()).await.unwrap(),
        400,
        "InvalidPartitionKey",
    )
    .await;
    // 256 characters is still fine (and the limit counts characters, not bytes).
    let response = post(
        "é".repeat(256).replace('é', "%C3%A9"),
        Some(json),
        ok.into(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);

    // Nothing but that last record reached the stream, and only it is stored.
    let conn = rusqlite::Connection::open(db_path(dir.path())).unwrap();
    let records: i64 = conn
        .query_row("SELECT count(*) FROM _sluice_records", [], |r| r.get(0))
        .unwrap();
    assert_eq!(records, 1);
    assert!(
        eventually(Duration::from_secs(2), || count(dir.path(), "EventTable")
            == 1)
        .await
    );
    assert!(items(dir.path(), "EventTable").contains_key(&"é".repeat(256)));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_generated_once_and_kept_private() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = parse(&pipeline_toml(1, ""));
    let running = sluice_local::start(sluice_local::StartOptions::new(
        pipeline.clone(),
        dir.path(),
    ))
    .await
    .unwrap();
    assert_eq!(running.credentials_origin, sluice_local::Origin::Generated);
    let generated = running.credentials.clone();
    assert_eq!(generated.username, "sluice");
    let summary = sluice_local::summary(&running, std::path::Path::new("pipeline.toml"));
    assert!(
        summary.contains(&generated.password),
        "shown on the first run"
    );
    assert!(summary.contains("/prod/submit/GatewayEventsStream/"));
    let response = client()
        .post(format!(
            "{}/prod/submit/GatewayEventsStream/x",
            running.base_url()
        ))
        .basic_auth(&generated.username, Some(&generated.password))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    running.shutdown().await;

    let file = dir.path().join("credentials.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let again = sluice_local::start(sluice_local::StartOptions::new(pipeline, dir.path()))
        .await
        .unwrap();
    assert_eq!(again.credentials_origin, sluice_local::Origin::Stored);
    assert_eq!(again.credentials, generated);
    let summary = sluice_local::summary(&again, std::path::Path::new("pipeline.toml"));
    assert!(
        !summary.contains(&generated.password),
        "not shown again: {summary}"
    );
    assert!(summary.contains("credentials.json"));
    again.shutdown().await;
}

/// The dev summary's "try" line on examples/multi: its first route is `PUT /audit` with its own media type
/// and a schema; the line's method, content type, body and URL are answered 200 by the running pipeline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_try_line_uses_the_route_s_method_type_and_example_body() {
    let dir = tempfile::tempdir().unwrap();
    let config = sluice_config::project_root().join("examples/multi/pipeline.toml");
    let pipeline = sluice_config::load(&config).unwrap();
    let mut opts = sluice_local::StartOptions::new(pipeline, dir.path());
    opts.credentials = Some("u:p".into());
    let running = sluice_local::start(opts).await.unwrap();
    let summary = sluice_local::summary(
        &running,
        std::path::Path::new("examples/multi/pipeline.toml"),
    );
    let curl = summary
        .lines()
        .find(|l| l.trim_start().starts_with("curl "))
        .unwrap_or_else(|| panic!("no curl line in:\n{summary}"));
    assert!(curl.contains(" -X PUT "), "{curl}");
    assert!(
        curl.contains("-H 'Content-Type: application/vnd.shop.audit+json'"),
        "{curl}"
    );
    let body = curl
        .split(" -d '")
        .nth(1)
        .and_then(|rest| rest.split("' ").next())
        .unwrap_or_else(|| panic!("no -d in {curl}"));
    let url = curl.rsplit(' ').next().unwrap();
    assert!(url.ends_with("/v1/audit"), "{url}");
    assert!(
        summary.contains("cargo xtask send audit --config 'examples/multi/pipeline.toml'"),
        "{summary}"
    );
    let answer = client()
        .put(url)
        .basic_auth("u", Some("p"))
        .header("content-type", "application/vnd.shop.audit+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = answer.status();
    assert_eq!(status, 200, "{curl}: {}", answer.text().await.unwrap());
    running.shutdown().await;
}
