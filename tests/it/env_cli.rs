//! `--env NAME`, the one way every command chooses an environment of pipeline.toml: `dev --env` runs that
//! environment (its AWS names, its own local state under `<state-dir>/envs/NAME/`), `send --env` and
//! `status --local --env` reach it there, an undeclared name is refused with the declared ones, and the
//! commands that render or build every environment at once refuse `--env`.

use std::process::Command;

use sluice_tests::{free_port, spawn_dev_with, workspace_root, xtask_bin};

const ENVIRONMENTS: &str = r#"
[environments.staging.streams.GatewayEventsStream]
shard_count = 2

[environments.prod]
"#;

fn xtask(args: &[&str]) -> (bool, String) {
    let out = Command::new(xtask_bin()).args(args).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn every_command_reaches_the_environment_it_is_given() {
    let tmp = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(workspace_root().join("pipeline.toml")).unwrap();
    let config = tmp.path().join("pipeline.toml");
    std::fs::write(&config, format!("{shipped}{ENVIRONMENTS}")).unwrap();
    let config = config.to_str().unwrap();
    let state = tmp.path().join("state");
    let state_arg = state.to_str().unwrap();

    // An undeclared environment is refused, naming the declared ones.
    let (ok, out) = xtask(&["validate", "--config", config, "--env", "qa"]);
    assert!(!ok, "{out}");
    assert!(out.contains("declares no environment `qa`"), "{out}");
    assert!(out.contains("prod, staging"), "{out}");
    // gen renders every environment: --env does not apply.
    let (ok, out) = xtask(&["gen", "--config", config, "--env", "prod", "--check"]);
    assert!(!ok, "{out}");
    assert!(out.contains("`gen` does not take --env"), "{out}");
    // plan without --env plans the base and each environment.
    let (ok, out) = xtask(&["plan", "--config", config]);
    assert!(ok, "{out}");
    assert!(out.contains("environment prod"), "{out}");
    assert!(out.contains("environment staging"), "{out}");

    let port = free_port();
    let dev = spawn_dev_with(
        std::path::Path::new(config),
        &state,
        port,
        Some("env:secret-pass"),
        &["--env", "staging"],
    );
    let _dev = Killed(dev);
    // Its state is the environment's own.
    assert!(state.join("envs/staging/pipeline.db").exists());
    assert!(!state.join("pipeline.db").exists());

    let (ok, out) = xtask(&[
        "send",
        "submit",
        "--config",
        config,
        "--env",
        "staging",
        "--state-dir",
        state_arg,
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("200"), "{out}");
    let (ok, out) = xtask(&[
        "status",
        "--local",
        "--config",
        config,
        "--env",
        "staging",
        "--state-dir",
        state_arg,
    ]);
    assert!(ok, "{out}");
    // staging's pipeline, with its stream's own two shards
    assert!(out.starts_with("sluice-staging (local"), "{out}");
    let shards = out
        .lines()
        .find(|l| l.starts_with("GatewayEventsStream"))
        .and_then(|l| l.split_whitespace().nth(1));
    assert_eq!(shards, Some("2"), "{out}");
    // The base has no dev running in its state dir: send says so rather than reach staging's.
    let (ok, out) = xtask(&[
        "send",
        "submit",
        "--config",
        config,
        "--state-dir",
        state_arg,
    ]);
    assert!(!ok, "{out}");
}

/// The dev process, killed however the test ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
