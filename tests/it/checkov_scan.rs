//! checkov (a standard IaC scanner) on the generated Terraform: no failed check, and every skipped one
//! carries a reason in the generated file itself (`#checkov:skip=CKV_…:reason`, rendered from the templates
//! under `crates/gen/templates/terraform/`). A new finding fails with what, where and how to answer it.
//!
//! checkov comes from its own venv (`cargo xtask test` installs it and sets `SLUICE_CHECKOV`); it runs
//! offline (`--skip-download`: no policy metadata from the vendor's API).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::Value;
use sluice_tests::{copy_dir, workspace_root};

/// `$SLUICE_CHECKOV`, else the project's checkov venv, else `checkov` on PATH.
fn checkov() -> PathBuf {
    if let Some(p) = std::env::var_os("SLUICE_CHECKOV") {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join("target/sluice-checkov-venv/bin/checkov");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("checkov")
}

/// The shortest reason a skip may give (a word or two is not a reason).
const MIN_REASON: usize = 30;

/// Scans a copy of `root` (so a `.terraform/` left there by a person is not scanned) and returns checkov's
/// JSON report for the Terraform framework.
fn scan(root: &str, source: &Path) -> Value {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("terraform");
    copy_dir(source, &dir);
    let started = Instant::now();
    let exe = checkov();
    let out = Command::new(&exe)
        .arg("-d")
        .arg(&dir)
        .args([
            "--framework",
            "terraform",
            "--output",
            "json",
            "--skip-download",
            "--compact",
        ])
        .env("LOG_LEVEL", "ERROR")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); run the tests with `cargo xtask test`, which installs checkov into target/sluice-checkov-venv, or set SLUICE_CHECKOV",
                exe.display()
            )
        });
    eprintln!(
        "checkov on {root}: {} in {:.1} s",
        out.status,
        started.elapsed().as_secs_f64()
    );
    // 0: all passed; 1: some failed (reported below). Anything else is checkov itself failing.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "checkov failed on {root} ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov's output on {root} is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    // One framework gives one report object; several give a list.
    match report {
        Value::Array(reports) => reports
            .into_iter()
            .find(|r| r["check_type"] == "terraform")
            .unwrap_or_else(|| panic!("checkov reported no terraform results for {root}")),
        report => report,
    }
}

/// `file:first-last` of a finding, relative to the scanned root.
fn place(check: &Value) -> String {
    let range = &check["file_line_range"];
    format!(
        "{}:{}-{}",
        check["file_path"]
            .as_str()
            .unwrap_or("?")
            .trim_start_matches('/'),
        range[0],
        range[1]
    )
}

fn assert_clean(root: &str) {
    assert_clean_at(root, &workspace_root().join(root));
}

/// [`assert_clean`] for the root at `source`, named `root` in messages.
fn assert_clean_at(root: &str, source: &Path) {
    let report = scan(root, source);
    let summary = &report["summary"];
    eprintln!("checkov on {root}: {summary}");
    let count = |k: &str| summary[k].as_u64().unwrap_or(0);
    assert_eq!(
        count("parsing_errors"),
        0,
        "checkov could not parse {root}: {summary}"
    );
    assert!(
        count("resource_count") > 10 && count("passed") > 100,
        "checkov scanned next to nothing in {root} (did it find the modules?): {summary}"
    );

    let results = &report["results"];
    let failed: Vec<String> = results["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "  {} {} — {} at {root}/{}",
                c["check_id"].as_str().unwrap_or("?"),
                c["resource"].as_str().unwrap_or("?"),
                c["check_name"].as_str().unwrap_or("?"),
                place(c)
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "checkov finds {} unexplained problem(s) in {root}:\n{}\n\nFix each in the template that renders the file \
         (crates/gen/templates/terraform/<same path>), or, if it is not a problem here, add inside the resource \
         `#checkov:skip=<id>:<the reason a security reviewer would accept>`; then run `cargo xtask gen` (and \
         `cargo xtask gen --config examples/multi/pipeline.toml`).",
        failed.len(),
        failed.join("\n")
    );

    let skipped = results["skipped_checks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        skipped.len() as u64,
        count("skipped"),
        "the report lists other skips than its summary counts"
    );
    let unexplained: Vec<String> = skipped
        .iter()
        .filter_map(|c| {
            let reason = c["check_result"]["suppress_comment"]
                .as_str()
                .unwrap_or("")
                .trim();
            (reason.chars().count() < MIN_REASON || reason == "No comment provided").then(|| {
                format!(
                    "  {} {} at {root}/{}: {reason:?}",
                    c["check_id"].as_str().unwrap_or("?"),
                    c["resource"].as_str().unwrap_or("?"),
                    place(c)
                )
            })
        })
        .collect();
    assert!(
        unexplained.is_empty(),
        "skips without a reason (at least {MIN_REASON} characters) in {root}:\n{}",
        unexplained.join("\n")
    );
}

/// Every `#checkov:skip=` the templates render names a check and gives a reason after a colon.
fn skip_lines_are_well_formed(root: &Path) {
    let mut stack = vec![root.to_path_buf()];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != ".terraform") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "tf") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, line) in text.lines().enumerate() {
                let Some(rest) = line.trim().strip_prefix("#checkov:skip=") else {
                    continue;
                };
                seen += 1;
                let (id, reason) = rest.split_once(':').unwrap_or((rest, ""));
                assert!(
                    id.starts_with("CKV") && reason.trim().chars().count() >= MIN_REASON,
                    "{}:{}: a skip needs `#checkov:skip=CKV_…:<reason>`: {line:?}",
                    rel(&path),
                    i + 1
                );
            }
        }
    }
    assert!(seen > 0, "no #checkov:skip lines in {}", root.display());
}

fn rel(path: &Path) -> String {
    path.strip_prefix(workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn shipped_root_has_no_unexplained_checkov_finding() {
    skip_lines_are_well_formed(&workspace_root().join("terraform"));
    assert_clean("terraform");
}

#[test]
fn multi_example_root_has_no_unexplained_checkov_finding() {
    skip_lines_are_well_formed(&workspace_root().join("examples/multi/terraform"));
    assert_clean("examples/multi/terraform");
}

/// The third key mode (the user's key ARN), a pipeline without auth, and alarms publishing to an existing
/// topic, which neither committed root has: rendered here, `terraform fmt` clean, valid, and without an unexplained finding.
#[test]
fn a_pipeline_with_its_own_key_and_no_auth_renders_valid_and_clean() {
    const PIPELINE: &str = r#"
[pipeline]
name = "beacons"
region = "eu-central-1"
kms_key = "arn:aws:kms:eu-central-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"

[waf]
rate_limit = 300

[alerts]
sns_topic_arn = "arn:aws:sns:eu-central-1:210987654321:oncall"
emails = ["oncall@example.com"]

[streams.Hits]

[tables.HitTable]
partition_key = { name = "hitId" }
billing_mode = "on-demand"

[queues.Dead]

[routes.hit]
path = "/hit/{hitId}"
auth = "none"
stream = "Hits"
partition_key = { path_param = "hitId" }

[consumers.hit-writer]
stream = "Hits"
table = "HitTable"
dead_letter_queue = "Dead"
"#;
    let pipeline = sluice_config::parse(PIPELINE, "pipeline.toml").expect("a valid pipeline");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("terraform");
    let files = sluice_gen::render(&pipeline, &dir).expect("render");
    assert!(
        !files
            .keys()
            .any(|f| f.starts_with("modules/auth/") || f.starts_with("modules/kms/"))
    );
    for (rel, text) in &files {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let main = &files["stack/main.tf"];
    assert!(main.contains("kms_key_arn = \"arn:aws:kms:eu-central-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab\""));
    assert!(main.contains("sns_topic_arn = \"arn:aws:sns:eu-central-1:210987654321:oncall\""));
    // No [auth]: no authorizer alarms.
    assert!(!main.contains("authorizer-errors"));
    let terraform = |args: &[&str]| {
        let out = Command::new("terraform")
            .args(args)
            .current_dir(&dir)
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("run terraform");
        assert!(
            out.status.success(),
            "terraform {args:?}:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    terraform(&["fmt", "-check", "-recursive", "-diff", "-no-color"]);
    let plugin = "-plugin-dir=/opt/tf-plugins";
    let mut init = vec!["init", "-backend=false", "-input=false", "-no-color"];
    if Path::new("/opt/tf-plugins").is_dir() {
        init.push(plugin);
    }
    terraform(&init);
    terraform(&["validate", "-no-color"]);
    std::fs::remove_dir_all(dir.join(".terraform")).unwrap();
    skip_lines_are_well_formed(&dir);
    assert_clean_at("a pipeline with its own key and no auth", &dir);
}
