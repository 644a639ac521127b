//! `cargo xtask test-pipeline` as a user runs it: a suite that expects the wrong things fails (non-zero) and
//! says, for each, what was expected and what happened; a correct suite passes; a test file with a mistake
//! is refused at its line and column.

use std::path::Path;
use std::process::Command;

use sluice_tests::{workspace_root, xtask_bin};

/// Runs `xtask [--config CONFIG] test-pipeline FILE`; answers (success, stdout, stderr).
fn test_pipeline(config: Option<&str>, file: &Path) -> (bool, String, String) {
    let mut cmd = Command::new(xtask_bin());
    if let Some(config) = config {
        cmd.arg("--config").arg(workspace_root().join(config));
    }
    let out = cmd
        .arg("test-pipeline")
        .arg(file)
        .env("NO_COLOR", "1")
        .output()
        .expect("run xtask test-pipeline");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const CORRECT: &str = r#"
[[test]]
name = "an event is stored"
  [[test.send]]
  route = "submit"
  params = { streamName = "GatewayEventsStream", eventId = "it-1" }
  body = { message = "hello" }
  [[test.item]]
  table = "EventTable"
  key = { eventId = "it-1" }
  members = { payload = { message = "hello" } }

[[test]]
name = "a record that is not JSON is dead-lettered"
  [[test.send]]
  stream = "GatewayEventsStream"
  partition_key = "it-2"
  data = "not json"
  dead_letter = "NotJson"
"#;

const WRONG: &str = r#"
[[test]]
name = "expects a refusal and another message"
  [[test.send]]
  route = "submit"
  params = { streamName = "GatewayEventsStream", eventId = "it-1" }
  body = { message = "hello" }
  error = "BadRequestBody"
  [[test.item]]
  table = "EventTable"
  key = { eventId = "it-1" }
  members = { payload = { message = "goodbye" } }

[[test]]
name = "expects a stored record to be filtered out"
  [[test.send]]
  stream = "GatewayEventsStream"
  partition_key = "it-2"
  body = { message = "kept" }
  filtered = true

[[test]]
name = "passes"
  [[test.send]]
  route = "submit"
  params = { streamName = "GatewayEventsStream", eventId = "it-3" }
  auth = "none"
  error = "Unauthorized"
"#;

#[test]
fn a_correct_suite_passes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("correct.toml");
    std::fs::write(&file, CORRECT).unwrap();
    let (ok, out, err) = test_pipeline(None, &file);
    assert!(ok, "the suite failed:\n{out}\n{err}");
    assert!(out.contains("PASS "), "{out}");
    assert!(out.contains(": an event is stored ("), "{out}");
    assert!(out.contains("test-pipeline: 2 passed, 0 failed"), "{out}");
}

#[test]
fn a_suite_expecting_the_wrong_thing_fails_with_what_was_expected_and_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.toml");
    std::fs::write(&file, WRONG).unwrap();
    let (ok, out, err) = test_pipeline(None, &file);
    assert!(!ok, "the suite passed:\n{out}");
    for expected in [
        ": expects a refusal and another message (",
        "send #1 (POST /prod/submit/GatewayEventsStream/it-1): status 400 BadRequestBody expected, got 200",
        r#"item EventTable[eventId=it-1]: member payload.message differs: expected "goodbye", got "hello""#,
        r#"send #1 (record on GatewayEventsStream, partition key "it-2"): filtered out expected, but table EventTable holds it: {"#,
        "test-pipeline: 1 passed, 2 failed",
    ] {
        assert!(out.contains(expected), "no `{expected}` in:\n{out}");
    }
    assert_eq!(out.matches("FAIL ").count(), 2, "{out}");
    assert!(out.contains("PASS "), "{out}");
    assert!(err.contains("2 of 3 pipeline tests failed"), "{err}");
}

#[test]
fn a_test_file_with_a_mistake_is_refused_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.toml");
    std::fs::write(
        &file,
        "[[test]]\nname = \"typo\"\n  [[test.send]]\n  route = \"submit\"\n  params = { streamName = \"GatewayEventsStream\", eventId = \"x\" }\n  [[test.item]]\n  table = \"OrderTable\"\n  key = { orderId = \"x\" }\n",
    )
    .unwrap();
    let (ok, out, err) = test_pipeline(None, &file);
    assert!(!ok, "{out}");
    assert!(
        !out.contains("PASS") && !out.contains("FAIL"),
        "a test ran:\n{out}"
    );
    assert!(
        flat(&err).contains("typo.toml:7:11: there is no table `OrderTable` in pipeline.toml"),
        "{err}"
    );
    // The same file is right for the pipeline that has that table, but for its key.
    let (_, _, err) = test_pipeline(Some("examples/multi/pipeline.toml"), &file);
    assert!(
        flat(&err).contains("typo.toml:8:9: the key of table `OrderTable` needs `version` (N)"),
        "{err}"
    );
}

/// A miette report's words on one line: its wrapped lines joined, its frame left out.
fn flat(report: &str) -> String {
    report
        .split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}
