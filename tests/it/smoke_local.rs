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

/// A table as a mapping that starts at `LATEST` sees it right after `terraform apply`: the first record
/// (written before the mapping's first poll) never arrives. The real local table, minus that record.
struct MissesTheFirst {
    table: sluice_ops::smoke::SqliteReader,
    first: std::sync::Mutex<Option<String>>,
}

impl sluice_ops::smoke::TableReader for MissesTheFirst {
    async fn get(&self, key: &str) -> miette::Result<Option<serde_json::Value>> {
        let missed = {
            let mut first = self.first.lock().unwrap();
            first.get_or_insert_with(|| key.to_string()) == key
        };
        if missed {
            return Ok(None);
        }
        self.table.get(key).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_latest_mapping_the_probe_is_sent_again_until_one_lands() {
    use sluice_ops::smoke::{Probe, SqliteReader, Target, local_credentials, run_checks};
    let state = tempfile::tempdir().unwrap();
    let config = workspace_root().join("pipeline.toml");
    let dev = DevProcess::start(&config, state.path(), Some("smoke:correct-horse"));
    let pipeline = sluice_config::load(&config).unwrap();
    let mut probe = Probe::from_pipeline(&pipeline).unwrap();
    // The shipped consumer starts at LATEST: the probe resends (every 15 s; 1 s here).
    assert_eq!(probe.resend_every, Some(sluice_ops::smoke::LATEST_RESEND));
    probe.resend_every = Some(std::time::Duration::from_secs(1));
    let (username, password) = local_credentials(state.path()).unwrap();
    let target = Target {
        base_url: format!("http://127.0.0.1:{}/{}", dev.port, pipeline.stage),
        username,
        password,
        table: MissesTheFirst {
            table: SqliteReader::new(state.path(), &probe),
            first: std::sync::Mutex::new(None),
        },
        dead_letters: SqliteReader::new(state.path(), &probe),
        patience: std::time::Duration::from_secs(20),
    };
    let checks = run_checks(&target, &probe).await;
    let stored = checks
        .iter()
        .find(|c| c.name == "item stored and equal to the event")
        .unwrap();
    assert!(stored.passed, "{checks:?}");
    assert!(
        stored.detail.contains("missed the first"),
        "{}",
        stored.detail
    );

    // Without resending, the missed record fails the check (what the smoke test did before).
    probe.resend_every = None;
    let target = Target {
        table: MissesTheFirst {
            table: SqliteReader::new(state.path(), &probe),
            first: std::sync::Mutex::new(None),
        },
        patience: std::time::Duration::from_secs(3),
        ..target
    };
    let checks = run_checks(&target, &probe).await;
    assert!(
        !checks
            .iter()
            .find(|c| c.name == "item stored and equal to the event")
            .unwrap()
            .passed
    );
}
