//! The test file reader: what it reads, and where it locates each problem.

use super::*;

fn pipeline(path: &str) -> Pipeline {
    sluice_config::load(&sluice_config::project_root().join(path)).unwrap()
}

/// The `file:line:col: message (help)` lines of a file's errors.
fn errors(src: &str, path: &str) -> String {
    match parse(src, "t.toml", &pipeline(path)) {
        Ok(tests) => panic!("no error; {} tests", tests.len()),
        Err(e) => e.to_plain(),
    }
}

#[test]
fn a_request_and_its_expectations_are_read() {
    let src = r#"
[[test]]
name = "stored"
timeout_seconds = 3
  [[test.send]]
  route = "submit"
  params = { streamName = "GatewayEventsStream", eventId = "a b/c" }
  body = { message = "hi" }
  [[test.send]]
  route = "submit"
  params = { streamName = "GatewayEventsStream", eventId = "x" }
  auth = "wrong-password"
  error = "AccessDenied"
  [[test.item]]
  table = "EventTable"
  key = { eventId = "a b/c" }
  members = { payload = { message = "hi" } }
"#;
    let tests = parse(src, "t.toml", &pipeline("pipeline.toml")).unwrap();
    let test = &tests[0];
    assert_eq!(
        (test.name.as_str(), test.line, test.timeout),
        ("stored", 3, Duration::from_secs(3))
    );
    let Input::Request(r) = &test.sends[0].input else {
        panic!()
    };
    assert_eq!(r.path, "/prod/submit/GatewayEventsStream/a%20b%2Fc");
    assert_eq!(
        (r.method.as_str(), r.stream.as_str()),
        ("POST", "GatewayEventsStream")
    );
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(r.body, br#"{"message":"hi"}"#);
    assert_eq!(test.sends[0].answer.as_ref().map(|a| a.status), Some(200));
    let answer = test.sends[1].answer.as_ref().unwrap();
    assert_eq!(
        (answer.status, answer.error),
        (403, Some(ApiError::AccessDenied))
    );
    let Input::Request(r) = &test.sends[1].input else {
        panic!()
    };
    assert_eq!(r.auth, Auth::WrongPassword);
    assert_eq!(test.items[0].label, "item EventTable[eventId=a b/c]");
    assert_eq!(
        test.items[0].expected,
        ItemState::Present(serde_json::json!({"payload": {"message": "hi"}}))
    );
}

#[test]
fn the_default_timeout_covers_the_longest_batching_window_involved() {
    let src = r#"
[[test]]
name = "click"
  [[test.send]]
  route = "beacon"
  params = { clickId = "c-1" }
[[test]]
name = "audit"
  [[test.send]]
  stream = "Audit"
  partition_key = "1"
  data = "x"
  dead_letter = "NotJson"
"#;
    let tests = parse(src, "t.toml", &pipeline("examples/multi/pipeline.toml")).unwrap();
    assert_eq!(tests[0].timeout, Duration::from_secs(30) + DEFAULT_PATIENCE);
    assert_eq!(tests[1].timeout, DEFAULT_PATIENCE);
    assert!(
        matches!(&tests[1].sends[0].input, Input::Record { data: RecordData::Raw(d), .. } if d == b"x")
    );
}

#[test]
fn each_problem_is_located_and_named() {
    let src = r#"[[test]]
name = "bad"
  [[test.send]]
  route = "submt"
  [[test.send]]
  route = "submit"
  params = { streamName = "S", extra = "y" }
  body = '{"a": tru}'
  error = "BadBody"
  [[test.send]]
  stream = "GatewayEventsStream"
  partition_key = "k"
  status = 200
  dead_letter = "Nope"
  [[test.item]]
  table = "EventTable"
  key = { id = 1 }
"#;
    let plain = errors(src, "pipeline.toml");
    for line in [
        "t.toml:4:11: there is no route `submt` in pipeline.toml (did you mean `submit`?",
        "t.toml:7:32: route `submit` (/submit/{streamName}/{eventId}) has no path parameter `extra`",
        "t.toml:6:11: route `submit` (/submit/{streamName}/{eventId}) needs the path parameter `eventId`",
        "t.toml:8:17: `body` is not JSON",
        "t.toml:9:11: `error` \"BadBody\" is not an error code of the gateway (one of Unauthorized,",
        "t.toml:13:12: `status` is for a request on a route",
        "t.toml:14:17: `dead_letter` \"Nope\" is not a dead-letter reason",
        "t.toml:17:11: `id` is not a key attribute of table `EventTable` (its key: `eventId` (S))",
        "t.toml:17:9: the key of table `EventTable` needs `eventId` (S)",
    ] {
        assert!(plain.contains(line), "no `{line}` in:\n{plain}");
    }
}

#[test]
fn toml_errors_and_empty_files_are_located() {
    assert!(
        errors("[[test]]\nname = \"x\"\nsatus = 1\n", "pipeline.toml")
            .starts_with("t.toml:3:1: unknown field `satus`"),
    );
    assert!(errors("", "pipeline.toml").starts_with("t.toml:1:1: the file has no test"));
    let plain = errors(
        "[[test]]\nname = \"x\"\n[[test.send]]\nroute = \"submit\"\nparams = { streamName = \"S\", eventId = \"e\" }\nerror = \"NotFound\"\nfiltered = true\n",
        "pipeline.toml",
    );
    assert!(
        plain.contains("t.toml:7:12: this request is expected to be refused (404)"),
        "{plain}"
    );
}
