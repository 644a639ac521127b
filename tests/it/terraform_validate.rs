//! The generated Terraform is `terraform fmt` clean and valid (`init` with the offline provider mirror,
//! then `validate`), for the shipped pipeline and the multi example. Each root is validated in a copy so
//! no `.terraform/` is left in the repository.

use std::path::Path;
use std::process::Command;

use sluice_tests::copy_dir;
use sluice_tests::workspace_root;

const PLUGIN_DIR: &str = "/opt/tf-plugins";

fn terraform(dir: &Path, args: &[&str]) {
    let out = Command::new("terraform")
        .args(args)
        .current_dir(dir)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run terraform ({e}); it is needed for these tests"));
    assert!(
        out.status.success(),
        "terraform {} failed in {}:\n{}\n{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn plugin_args() -> Vec<String> {
    // Offline: the provider mirror. Where it is missing (a machine with registry access), init downloads.
    if Path::new(PLUGIN_DIR).is_dir() {
        vec![format!("-plugin-dir={PLUGIN_DIR}")]
    } else {
        Vec::new()
    }
}

fn validate(root: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("terraform");
    copy_dir(&workspace_root().join(root), &dir);
    let plugin = plugin_args();
    let mut init = vec!["init", "-backend=false", "-input=false", "-no-color"];
    init.extend(plugin.iter().map(String::as_str));
    terraform(&dir, &init);
    terraform(&dir, &["validate", "-no-color"]);
}

#[test]
fn generated_terraform_is_fmt_clean() {
    for root in ["terraform", "examples/multi/terraform"] {
        terraform(
            &workspace_root().join(root),
            &["fmt", "-check", "-recursive", "-diff", "-no-color"],
        );
    }
}

#[test]
fn shipped_root_validates() {
    validate("terraform");
}

#[test]
fn multi_example_root_validates() {
    validate("examples/multi/terraform");
}
