//! `cargo xtask send` and `cargo xtask smoke-test --local` against real `cargo xtask dev` processes, on the
//! shipped pipeline.toml and on examples/multi: neither needs `--port` (dev records where it listens), every
//! route's example body is accepted, a body from a file or stdin is stored as sent, a body the schema
//! refuses is a printed 400 and a failure, and with nothing running both say what to start.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_tests::{DevProcess, free_port, spawn_dev, workspace_root, xtask_bin};

fn xtask(config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(xtask_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run xtask");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().expect("wait for xtask")
}

fn text(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn state_arg(state: &Path) -> String {
    state.display().to_string()
}

/// `send` on every route of `config` and `smoke-test --local`, both finding dev through its record.
fn every_route_and_the_smoke_test_pass(config: &Path) -> (DevProcess, tempfile::TempDir) {
    let state = tempfile::tempdir().unwrap();
    // Port 0: dev listens where the system says and records it; nothing here needs to know it.
    let child = spawn_dev(config, state.path(), 0, Some("tester:secret-pass"));
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(state.path().join("dev.json")).expect("dev records dev.json"),
    )
    .unwrap();
    let port = record["port"].as_u64().expect("a port") as u16;
    assert!(port > 0, "{record}");
    assert_eq!(record["pid"], json!(child.id()), "{record}");
    let dev = DevProcess { child, port };
    let pipeline = sluice_config::load(config).unwrap();
    for route in pipeline.routes.keys() {
        let out = xtask(
            config,
            &["send", route, "--state-dir", &state_arg(state.path())],
            None,
        );
        let all = text(&out);
        assert!(out.status.success(), "send {route}:\n{all}");
        assert!(
            all.contains("200 OK") && all.contains("SequenceNumber"),
            "{all}"
        );
    }
    let out = xtask(
        config,
        &[
            "smoke-test",
            "--local",
            "--state-dir",
            &state_arg(state.path()),
        ],
        None,
    );
    let all = text(&out);
    assert!(out.status.success(), "smoke-test --local:\n{all}");
    assert!(all.contains("4 passed, 0 failed"), "{all}");
    (dev, state)
}

/// Waits (at most 15 s) for an item of `table` with this partition key.
fn stored(config: &Path, state: &Path, table: &str, key: &str) -> Value {
    let pipeline = sluice_config::load(config).unwrap();
    let table = &pipeline.tables[table];
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if let Ok(inspector) = sluice_local::inspect::Inspector::open(state)
            && let Ok(Some(item)) = inspector.item_with_partition_key(table, key)
        {
            return item;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no item {key} in {} within 15 s", table.name);
}

#[test]
fn send_and_smoke_test_pass_on_the_shipped_pipeline_and_bodies_come_from_files_and_stdin() {
    let config = workspace_root().join("pipeline.toml");
    let (mut dev, state) = every_route_and_the_smoke_test_pass(&config);
    let s = state_arg(state.path());

    let file = state.path().join("body.json");
    std::fs::write(&file, r#"{"from": "a file", "n": 1}"#).unwrap();
    let out = xtask(
        &config,
        &[
            "send",
            "submit",
            "--body",
            &file.display().to_string(),
            "--param",
            "eventId=from-file",
            "--state-dir",
            &s,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let item = stored(&config, state.path(), "EventTable", "from-file");
    assert_eq!(
        item[sluice_contract::writer::attribute::PAYLOAD],
        json!({"from": "a file", "n": 1}),
        "{item}"
    );

    let out = xtask(
        &config,
        &[
            "send",
            "submit",
            "--body",
            "-",
            "--param",
            "eventId=from-stdin",
            "--state-dir",
            &s,
        ],
        Some(r#"{"from": "stdin"}"#),
    );
    assert!(out.status.success(), "{}", text(&out));
    let item = stored(&config, state.path(), "EventTable", "from-stdin");
    assert_eq!(
        item[sluice_contract::writer::attribute::PAYLOAD],
        json!({"from": "stdin"}),
        "{item}"
    );

    // An unknown route and an unknown parameter are named, with the next step.
    let out = xtask(&config, &["send", "sumbit", "--state-dir", &s], None);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no route \"sumbit\"") && text(&out).contains("submit"),
        "{}",
        text(&out)
    );

    // dev killed outright: its record stays, but names a dead process, so nothing is taken as running.
    dev.child.kill().unwrap();
    dev.child.wait().unwrap();
    assert!(state.path().join("dev.json").exists());
    let out = xtask(&config, &["smoke-test", "--local", "--state-dir", &s], None);
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains(&format!(
            "no `cargo xtask dev` is running on the state dir {s}"
        )),
        "{all}"
    );
    assert!(all.contains("cargo xtask dev --config"), "{all}");
    let out = xtask(
        &config,
        &["send", "submit", "--local", "--state-dir", &s],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no `cargo xtask dev` is running"),
        "{}",
        text(&out)
    );
    // Without --local, and no Terraform root initialised either: nowhere to send, said before any AWS build.
    let none = state.path().join("no-terraform");
    let out = xtask(
        &config,
        &[
            "send",
            "submit",
            "--state-dir",
            &s,
            "--terraform-dir",
            &none.display().to_string(),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("nowhere to send"), "{}", text(&out));

    // --port to where nothing listens, over the old state: every check fails, the dead-letter one too.
    let port = free_port().to_string();
    let out = xtask(
        &config,
        &["smoke-test", "--local", "--port", &port, "--state-dir", &s],
        None,
    );
    let all = text(&out);
    assert!(!out.status.success(), "{all}");
    assert!(
        all.contains(
            "FAIL dead-letter queue did not grow: not checked: the pipeline could not be reached"
        ),
        "{all}"
    );
    assert!(all.contains("0 passed, 4 failed"), "{all}");
}

#[test]
fn send_and_smoke_test_pass_on_examples_multi_and_a_refused_body_is_a_printed_400() {
    // A copy, so that the test reads the example as a user's own project would.
    let dir = tempfile::tempdir().unwrap();
    let from = workspace_root().join("examples/multi");
    std::fs::copy(from.join("pipeline.toml"), dir.path().join("pipeline.toml")).unwrap();
    sluice_tests::copy_dir(&from.join("schemas"), &dir.path().join("schemas"));
    let config = dir.path().join("pipeline.toml");
    let (mut dev, state) = every_route_and_the_smoke_test_pass(&config);
    let s = state_arg(state.path());

    let out = xtask(
        &config,
        &[
            "send",
            "events",
            "--param",
            "streamName=Orders",
            "--body",
            "-",
            "--state-dir",
            &s,
        ],
        Some(r#"{"kind": "refund"}"#),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(stdout.starts_with("400 Bad Request"), "{}", text(&out));
    assert!(
        stdout.contains("BadRequestBody") && stdout.contains("missing required properties"),
        "{}",
        text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("answered 400"),
        "{}",
        text(&out)
    );

    // A route without auth is sent without credentials (and accepted), a PUT route with its method.
    let out = xtask(
        &config,
        &[
            "send",
            "beacon",
            "--param",
            "clickId=vip-1",
            "--state-dir",
            &s,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("POST http://127.0.0.1:"),
        "{}",
        text(&out)
    );
    let out = xtask(&config, &["send", "audit", "--state-dir", &s], None);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PUT http://127.0.0.1:"),
        "{}",
        text(&out)
    );

    // A clean stop (SIGTERM) removes dev's record.
    let term = Command::new("kill")
        .args(["-TERM", &dev.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let stopped = dev.child.wait().unwrap();
    assert!(stopped.success(), "dev stopped with {stopped}");
    assert!(
        !state.path().join("dev.json").exists(),
        "dev.json left behind"
    );
}
