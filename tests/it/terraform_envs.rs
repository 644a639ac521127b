//! Several deployments of one pipeline.toml, applied for real against one moto server (one account): two
//! `[environments.*]` roots side by side, each planned empty after its apply, with names of their own and
//! their own settings; and a root of the user's own that calls the pipeline as a module (`examples/module`).

use std::path::Path;

use sluice_tests::{Moto, copy_dir, workspace_root};

use crate::terraform_moto::{
    apply_and_plan_clean, at, init_at, init_root_from, placeholder_zip, state_resources,
};

/// The shipped pipeline with two environments: staging as the base, prod on-demand with a second shard's
/// worth of retention, deletion protection, a created key and its own tags.
const ENVIRONMENTS: &str = r#"
[environments.staging]

[environments.prod.pipeline]
kms_key = "create"
tags = { cost-center = "ingest" }

[environments.prod.streams.GatewayEventsStream]
mode = "on-demand"
retention_hours = 48

[environments.prod.tables.EventTable]
billing_mode = "on-demand"
deletion_protection = true
"#;

#[test]
fn two_environments_generate_validate_and_apply_side_by_side_with_an_empty_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(workspace_root().join("pipeline.toml")).unwrap();
    let config = tmp.path().join("pipeline.toml");
    std::fs::write(&config, format!("{shipped}{ENVIRONMENTS}")).unwrap();

    // validate checks the base and each environment (the CLI, as a user runs it).
    let out = std::process::Command::new(sluice_tests::xtask_bin())
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "pipeline.toml: ok",
        "[environments.prod]: ok",
        "[environments.staging]: ok",
    ] {
        assert!(stdout.contains(line), "validate lacks {line:?}:\n{stdout}");
    }

    // gen renders every environment's root under envs/<name>/.
    let out_dir = tmp.path().join("terraform");
    let (base, envs) = sluice_config::load_all(&config).unwrap();
    let files = sluice_gen::render_all(&base, &envs, &out_dir).unwrap();
    for (rel, text) in &files {
        let path = out_dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    for env in ["staging", "prod"] {
        for file in [
            "providers.tf",
            "main.tf",
            "stack/main.tf",
            "modules/stream/main.tf",
            "README.md",
        ] {
            assert!(
                files.contains_key(&format!("envs/{env}/{file}")),
                "envs/{env}/{file}"
            );
        }
        // a new root: nothing to move from an earlier layout
        assert!(!files[&format!("envs/{env}/main.tf")].contains("moved {"));
    }
    assert!(files["main.tf"].contains("moved {"));
    assert!(
        files["README.md"].contains("`envs/prod/`"),
        "{}",
        files["README.md"]
    );

    let moto = Moto::start();
    let mut applied = Vec::new();
    for env in ["staging", "prod"] {
        let dir = tmp.path().join(format!("applied-{env}"));
        std::fs::create_dir_all(&dir).unwrap();
        let root = init_root_from(&moto, &dir, &out_dir.join("envs").join(env));
        apply_and_plan_clean(&root);
        applied.push(state_resources(&root));
    }
    let (staging, prod) = (&applied[0], &applied[1]);
    let stream = |r: &[serde_json::Value]| {
        at(
            r,
            "module.stream[\"GatewayEventsStream\"].aws_kinesis_stream.this",
        )["values"]
            .clone()
    };
    let table = |r: &[serde_json::Value]| {
        at(r, "module.table[\"EventTable\"].aws_dynamodb_table.this")["values"].clone()
    };
    // Each has names of its own in the one account, and its own settings.
    assert_eq!(
        stream(staging)["name"],
        "sluice-staging-GatewayEventsStream"
    );
    assert_eq!(stream(prod)["name"], "sluice-prod-GatewayEventsStream");
    assert_eq!(stream(staging)["shard_count"], 1);
    assert_eq!(
        stream(prod)["stream_mode_details"][0]["stream_mode"],
        "ON_DEMAND"
    );
    assert_eq!(stream(prod)["retention_period"], 48);
    assert_eq!(table(staging)["billing_mode"], "PROVISIONED");
    assert_eq!(table(prod)["billing_mode"], "PAY_PER_REQUEST");
    assert_eq!(table(prod)["deletion_protection_enabled"], true);
    assert_eq!(table(prod)["tags_all"]["environment"], "prod");
    assert_eq!(table(prod)["tags_all"]["cost-center"], "ingest");
    assert_eq!(table(staging)["tags_all"]["environment"], "staging");
    assert!(
        prod.iter()
            .any(|r| r["address"] == "module.kms.aws_kms_key.this"),
        "prod creates its key"
    );
    assert!(
        !staging.iter().any(|r| r["type"] == "aws_kms_key"
            && r["address"].as_str().unwrap().starts_with("module.kms"))
    );
    let function = |r: &[serde_json::Value]| {
        at(
            r,
            "module.consumer[\"event-writer\"].module.function.aws_lambda_function.this",
        )["values"]["function_name"]
            .clone()
    };
    assert_eq!(function(staging), "sluice-staging-event-writer");
    assert_eq!(function(prod), "sluice-prod-event-writer");
}

#[test]
fn a_root_of_your_own_calls_the_pipeline_as_a_module_and_applies() {
    let tmp = tempfile::tempdir().unwrap();
    // The example calls ../../terraform/stack: the same two folders, side by side.
    copy_dir(
        &workspace_root().join("terraform"),
        &tmp.path().join("terraform"),
    );
    let dir = tmp.path().join("examples/module");
    copy_dir(&workspace_root().join("examples/module"), &dir);
    let zip = tmp.path().join("bootstrap.zip");
    placeholder_zip(&zip);
    let moto = Moto::start();
    let root = init_at(&moto, dir, &zip);
    apply_and_plan_clean(&root);
    let resources = state_resources(&root);
    // The user's resource took the module's output; the pipeline's resources are in module.pipeline.
    let parameter = at(&resources, "aws_ssm_parameter.ingest_url")["values"].clone();
    assert!(
        parameter["value"].as_str().unwrap().contains("/prod"),
        "{parameter}"
    );
    let stream = at(
        &resources,
        "module.stream[\"GatewayEventsStream\"].aws_kinesis_stream.this",
    );
    // the user's provider's default tags reach the pipeline's resources
    assert_eq!(stream["values"]["name"], "sluice-GatewayEventsStream");
    let table = at(
        &resources,
        "module.table[\"EventTable\"].aws_dynamodb_table.this",
    );
    assert_eq!(table["values"]["tags_all"]["owner"], "platform-team");
    assert!(Path::new(&root.dir).join("terraform.tfstate").exists());
}
