//! `cargo xtask dev --watch` as a user runs it, on a copy of the shipped pipeline.toml: events are stored;
//! an edit that adds a filter to the consumer (saved as editors do, a new file renamed over the old one) is
//! applied to the running process — events without `message` are accepted but no longer stored, events with
//! it are, and the items stored before are intact; then an invalid edit is reported with the same errors
//! `validate` prints, and the pipeline keeps serving with the previous configuration.

use std::path::Path;
use std::time::Duration;

use crate::dev_common::{PASS, USER, client, eventually, items, submit};
use sluice_tests::{DevWithOutput, workspace_root, xtask_bin};

/// Saves `text` as `path` the way many editors do: written to another file in the folder, renamed over.
fn save_by_rename(path: &Path, text: &str) {
    let temp = path.with_extension("toml.swp");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

async fn wait_for(dev: &DevWithOutput, from: usize, needle: &str) -> String {
    let found = tokio::task::block_in_place(|| dev.wait_for(from, needle, Duration::from_secs(30)));
    match found {
        Some(line) => line,
        None => panic!(
            "xtask dev did not print {needle:?} within 30 s; it printed:\n{}",
            dev.output_from(from)
        ),
    }
}

async fn stored(state_dir: &Path, id: &str) -> bool {
    eventually(Duration::from_secs(30), || {
        items(state_dir, "EventTable").contains_key(id)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_under_watch_applies_a_filter_keeps_the_records_and_an_invalid_one_changes_nothing()
{
    tokio::task::spawn_blocking(xtask_bin).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pipeline.toml");
    let shipped = std::fs::read_to_string(workspace_root().join("pipeline.toml")).unwrap();
    std::fs::write(&config, &shipped).unwrap();
    let state = dir.path().join("state");
    let dev = DevWithOutput::start(&config, &state, &format!("{USER}:{PASS}"), &["--watch"]);
    let base = format!("http://127.0.0.1:{}", dev.port);
    let client = client();
    wait_for(&dev, 0, "watching").await;

    // Before the edit: every event is stored.
    for (id, body) in [
        ("before-with", r#"{"message":"hello"}"#),
        ("before-without", r#"{"other":1}"#),
    ] {
        assert_eq!(submit(&client, &base, id, body).await.status(), 200, "{id}");
    }
    assert!(stored(&state, "before-with").await);
    assert!(stored(&state, "before-without").await);

    // The filter the shipped file suggests, uncommented.
    let commented = "# filters = ['{\"body\": {\"message\": [{\"exists\": true}]}}']";
    assert!(
        shipped.contains(commented),
        "the shipped pipeline.toml changed"
    );
    let filtered = shipped.replace(commented, &commented[2..]);
    let mark = dev.line_count();
    save_by_rename(&config, &filtered);
    let reloaded = wait_for(&dev, mark, "sluice: reloaded").await;
    assert!(
        reloaded.contains("consumer event-writer: filters added (0 → 1)"),
        "{reloaded}"
    );
    assert!(reloaded.contains(" ms: "), "the switch's time: {reloaded}");

    // After it, on the same port: an event without `message` is accepted and skipped; one with it is stored.
    // One shard, read in order: once the later event is stored, the earlier one has been passed over.
    assert_eq!(
        submit(&client, &base, "after-without", r#"{"other":2}"#)
            .await
            .status(),
        200
    );
    assert_eq!(
        submit(&client, &base, "after-with", r#"{"message":"filtered in"}"#)
            .await
            .status(),
        200
    );
    assert!(stored(&state, "after-with").await);
    let table = items(&state, "EventTable");
    assert!(
        !table.contains_key("after-without"),
        "the filter did not apply: {table:?}"
    );
    // The items stored before the reload are intact.
    assert_eq!(table["before-with"]["payload"]["message"], "hello");
    assert_eq!(table["before-without"]["payload"]["other"], 1);

    // An invalid edit: the errors `validate` gives, and nothing changes.
    let mark = dev.line_count();
    save_by_rename(&config, &format!("{filtered}\nbogus = 1\n"));
    wait_for(&dev, mark, "not reloaded").await;
    let output = dev.output_from(mark);
    assert!(output.contains("unknown key `bogus`"), "{output}");
    assert!(
        output.contains("still serving the previous pipeline"),
        "{output}"
    );
    assert_eq!(
        submit(&client, &base, "invalid-without", r#"{"other":3}"#)
            .await
            .status(),
        200
    );
    assert_eq!(
        submit(
            &client,
            &base,
            "invalid-with",
            r#"{"message":"still here"}"#
        )
        .await
        .status(),
        200
    );
    assert!(stored(&state, "invalid-with").await);
    let table = items(&state, "EventTable");
    assert!(
        !table.contains_key("invalid-without"),
        "the previous configuration (with its filter) should still apply: {table:?}"
    );
    assert_eq!(table.len(), 4, "{table:?}");
    let output = dev.output_from(mark);
    assert!(
        !output.contains("sluice: reloaded"),
        "the invalid edit was applied:\n{output}"
    );
}
