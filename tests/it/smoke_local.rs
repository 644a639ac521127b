//! The whole `cargo xtask smoke-test --local` command against a real `cargo xtask dev` process: it passes
//! on a healthy pipeline, and fails (non-zero, FAIL lines) when the credentials it is given are wrong.

use std::process::Command;

use sluice_tests::{DevProcess, workspace_root, xtask_bin};

fn smoke(port: u16, state_dir: &std::path::Path) -> (bool, String) {
    let out = Command::new(xtask_bin())
        .args([
            "smoke-test",
            "--local",
            "--port",
            &port.to_string(),
            "--state-dir",
        ])
        .arg(state_dir)
        .output()
        .expect("run xtask smoke-test");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn smoke_test_passes_against_the_local_pipeline_and_fails_on_wrong_credentials() {
    let state = tempfile::tempdir().unwrap();
    let config = workspace_root().join("pipeline.toml");
    let dev = DevProcess::start(&config, state.path(), Some("smoke:correct-horse"));

    let (ok, out) = smoke(dev.port, state.path());
    assert!(ok, "smoke-test failed:\n{out}");
    for check in [
        "authenticated event accepted",
        "item stored and equal to the event",
        "wrong credentials denied, nothing written",
        "dead-letter queue did not grow",
    ] {
        assert!(
            out.contains(&format!("PASS {check}")),
            "no PASS for {check}:\n{out}"
        );
    }
    assert!(out.contains("4 passed, 0 failed"), "{out}");

    // Same pipeline, but the smoke test is handed the wrong password: it must say so and fail.
    let wrong = tempfile::tempdir().unwrap();
    std::fs::copy(
        state.path().join("pipeline.db"),
        wrong.path().join("pipeline.db"),
    )
    .unwrap();
    std::fs::write(
        wrong.path().join("credentials.json"),
        r#"{"username":"smoke","password":"wrong"}"#,
    )
    .unwrap();
    let (ok, out) = smoke(dev.port, wrong.path());
    assert!(!ok, "smoke-test passed with wrong credentials:\n{out}");
    assert!(out.contains("FAIL authenticated event accepted"), "{out}");
}
