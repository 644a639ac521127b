//! `cargo xtask plan` and `cargo xtask validate`'s capacity warnings, run as a user runs them: the real binary
//! on the shipped pipeline.toml and on constructed ones.

use std::process::Command;

use sluice_tests::{workspace_root, xtask_bin};

fn xtask(args: &[&str]) -> (bool, String) {
    let output = Command::new(xtask_bin())
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("run xtask");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn the_shipped_pipeline_carries_its_own_stage_rate_and_not_much_more() {
    // No --rate: the stage's own throttle rate, which the shipped table (10 write units) must carry.
    let (ok, out) = xtask(&["plan"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("EventTable") && out.contains("monthly cost estimate"),
        "{out}"
    );
    assert!(
        out.contains("4 events/s steady (the stage's throttle rate"),
        "{out}"
    );
    assert!(!out.contains("FAILS") && !out.contains("TIGHT"), "{out}");
    // The stream's headroom is counted by use: 4 records/s are a sliver of one shard.
    assert!(out.contains("0.0045 shards"), "{out}");

    let (ok, out) = xtask(&["validate"]);
    assert!(
        ok && !out.contains('⚠'),
        "the shipped file validates without a warning:\n{out}"
    );

    let (ok, out) = xtask(&["plan", "--rate", "4", "--body-bytes", "500"]);
    assert!(ok && !out.contains("FAILS"), "{out}");

    let (ok, out) = xtask(&["plan", "--rate", "100"]);
    assert!(!ok, "100 events/s of 1 KiB into 10 WCU must fail:\n{out}");
    assert!(out.contains("FAILS table EventTable"), "{out}");
    assert!(out.contains("cannot carry this load"), "{out}");
}

#[test]
fn a_constructed_pipeline_passes_or_fails_on_its_shards_and_parallelism() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pipeline.toml");
    let pipeline = |shards: u32, factor: u32| {
        format!(
            r#"[pipeline]
name = "cap"
region = "us-east-1"
throttle_rate_limit = 10000
throttle_burst_limit = 5000

[streams.S]
shard_count = {shards}

[tables.T]
partition_key = {{ name = "id" }}

[queues.Q]

[routes.r]
path = "/r/{{id}}"
auth = "none"
stream = "S"
partition_key = {{ path_param = "id" }}

[consumers.c]
stream = "S"
table = "T"
dead_letter_queue = "Q"
batch_size = 100
parallelization_factor = {factor}
"#
        )
    };
    let config_arg = config.to_str().unwrap();
    std::fs::write(&config, pipeline(1, 1)).unwrap();
    let (ok, out) = xtask(&["plan", "--config", config_arg, "--rate", "3000"]);
    assert!(!ok, "{out}");
    assert!(out.contains("FAILS stream S"), "{out}");
    std::fs::write(&config, pipeline(4, 1)).unwrap();
    let (ok, out) = xtask(&[
        "plan",
        "--config",
        config_arg,
        "--rate",
        "3000",
        "--batch-ms",
        "400",
    ]);
    assert!(
        !ok,
        "4 lanes × 250 records/s = 1000 records/s < 3000:\n{out}"
    );
    assert!(out.contains("FAILS consumer c"), "{out}");
    std::fs::write(&config, pipeline(4, 4)).unwrap();
    let (ok, out) = xtask(&[
        "plan",
        "--config",
        config_arg,
        "--rate",
        "3000",
        "--batch-ms",
        "400",
    ]);
    assert!(ok, "16 lanes carry it:\n{out}");
    let (ok, out) = xtask(&["plan", "--config", config_arg, "--rate", "-1"]);
    assert!(!ok && out.contains("--rate"), "{out}");
}

#[test]
fn validate_warns_at_the_line_of_a_table_that_cannot_carry_the_stage_rate() {
    // The shipped file with the stage opened to 100 requests/s: its 10 write units no longer carry it.
    let shipped = std::fs::read_to_string(workspace_root().join("pipeline.toml")).unwrap();
    assert!(
        shipped.contains("throttle_rate_limit = 4\n"),
        "the shipped stage rate"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pipeline.toml");
    std::fs::write(
        &config,
        shipped.replace("throttle_rate_limit = 4\n", "throttle_rate_limit = 100\n"),
    )
    .unwrap();
    let (ok, out) = xtask(&["validate", "--config", config.to_str().unwrap()]);
    assert!(ok, "warnings do not fail validation:\n{out}");
    let line = shipped
        .lines()
        .position(|l| l.starts_with("write_capacity"))
        .unwrap()
        + 1;
    assert!(
        out.contains(&format!("pipeline.toml:{line}:"))
            && out.contains("table EventTable cannot carry"),
        "{out}"
    );
    assert!(out.contains("pipeline.toml: ok"), "{out}");
}

/// Paths the user types are taken from where they stand (the defaults from the project root), as cargo
/// takes `--manifest-path`; completions list every command.
#[test]
fn typed_paths_are_taken_from_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(workspace_root().join("pipeline.toml")).unwrap();
    std::fs::write(
        dir.path().join("pipeline.toml"),
        shipped.replace(r#"name = "sluice""#, r#"name = "elsewhere""#),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(xtask_bin())
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("run xtask");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, out) = run(&["plan", "--config", "./pipeline.toml"]);
    assert!(
        ok && out.contains(r#"plan for pipeline "elsewhere""#),
        "{out}"
    );
    // Without --config, the project's own file.
    let (ok, out) = run(&["plan"]);
    assert!(ok && out.contains(r#"plan for pipeline "sluice""#), "{out}");
    let (ok, out) = run(&["validate", "--config", "missing.toml"]);
    assert!(!ok, "{out}");
    let expected = dir.path().join("missing.toml");
    assert!(
        out.contains(&format!(
            "there is no pipeline file at {}",
            expected.display()
        )),
        "{out}"
    );
    assert_eq!(
        out.matches("No such file").count(),
        0,
        "said once, in words: {out}"
    );

    let (ok, out) = run(&["test", "--config", "pipeline.toml"]);
    assert!(!ok && out.contains("--config does not apply"), "{out}");

    let (ok, out) = run(&["completions", "bash"]);
    assert!(ok, "{out}");
    for command in ["send", "test-pipeline", "smoke-test", "completions"] {
        assert!(out.contains(command), "{command} is completed:\n{out}");
    }
}
