//! What the `status` tests share: the test pipeline and running `xtask` on it.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sluice_tests::xtask_bin;

pub const USER: &str = "status";
pub const PASS: &str = "watch-it";

/// Two streams, two tables (one keyed by a number), one dead-letter queue. `slow-writer` gathers records
/// for 300 s before it invokes (so it stays behind); `fast-writer` writes at once.
pub const PIPELINE: &str = r#"
[pipeline]
name = "statustest"
region = "us-east-1"

[auth]
type = "basic"

[streams.SlowStream]
mode = "provisioned"
shard_count = 1

[streams.FastStream]
mode = "provisioned"
shard_count = 2

[tables.SlowTable]
partition_key = { name = "eventId", type = "N" }

[tables.FastTable]
partition_key = { name = "eventId", type = "S" }

[queues.DeadLetters]

[routes.submit]
method = "POST"
path = "/submit/{streamName}/{eventId}"
auth = "basic"
stream = { path_param = "streamName" }
partition_key = { path_param = "eventId" }
content_type = "application/json"

[consumers.slow-writer]
stream = "SlowStream"
table = "SlowTable"
dead_letter_queue = "DeadLetters"
batch_size = 100
batching_window_seconds = 300

[consumers.fast-writer]
stream = "FastStream"
table = "FastTable"
dead_letter_queue = "DeadLetters"
batch_size = 10
"#;

pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

pub fn xtask(config: &Path, state: &Path, args: &[&str]) -> Run {
    let out = Command::new(xtask_bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .arg("--state-dir")
        .arg(state)
        .output()
        .expect("run xtask");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn status_json(config: &Path, state: &Path) -> Value {
    let run = xtask(config, state, &["status", "--local", "--json"]);
    assert!(run.ok, "status --json failed: {}", run.stderr);
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}):\n{}", run.stdout))
}

pub fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|l| l.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

/// `xtask <args> --config <config>` with `env` set (e.g. pointing the AWS SDK at moto).
pub fn xtask_with_env(config: &Path, args: &[&str], env: &[(&'static str, String)]) -> Run {
    let out = Command::new(xtask_bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run xtask");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An error report as one line: miette wraps long messages and draws a margin (`│`) in front of the
/// continuation lines.
pub fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
