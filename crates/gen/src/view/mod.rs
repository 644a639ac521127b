//! Every generated file, rendered in memory: the root module ([`root`]), the child modules ([`modules`]),
//! the dashboard and the OpenAPI document (Terraform `templatefile`s), and the manifest (`README.md`).
//! The view models turn the pipeline model into plain fields (names, numbers, pre-escaped literals) so
//! that the askama templates only loop and branch.

mod alarm_map;
mod modules;
mod root;
mod shared;
mod stack;

use std::path::Path;

use askama::Template;

use sluice_config::Pipeline;

use crate::output::{Files, GenError, HEADER, LambdaDir, MANIFEST};
use crate::{monitoring, openapi};
use shared::put;

/// Every file for `p` and each of its environments (`envs`, under `envs/<name>/`), keyed by its path under
/// the output folder `out_dir`.
pub(crate) fn render_all(
    p: &Pipeline,
    envs: &[Pipeline],
    out_dir: &Path,
) -> Result<Files, GenError> {
    let mut files = render_root(p, &crate::lambda_dir_from(out_dir))?;
    for env in envs {
        let name = env.environment.as_deref().unwrap_or_default();
        let mut own = render_root(env, &crate::lambda_dir_from(&out_dir.join(ENVS).join(name)))?;
        manifest(env, &mut own, &[])?;
        files.extend(
            own.into_iter()
                .map(|(rel, text)| (format!("{ENVS}/{name}/{rel}"), text)),
        );
    }
    let names: Vec<String> = envs.iter().filter_map(|e| e.environment.clone()).collect();
    manifest(p, &mut files, &names)?;
    Ok(files)
}

/// Where each environment's root goes, under the output folder.
pub const ENVS: &str = "envs";

/// One root's files (its stack, its modules), without its manifest.
fn render_root(p: &Pipeline, lambda_dir: &LambdaDir) -> Result<Files, GenError> {
    let mut files = Files::new();
    stack::render(p, lambda_dir, &mut files)?;
    root::render(p, &mut files)?;
    modules::render(p, &mut files)?;
    files.insert(
        "modules/alerts/dashboard.json.tftpl".into(),
        with_newline(monitoring::dashboard(p)),
    );
    files.insert(
        "modules/api/openapi.json.tftpl".into(),
        with_newline(openapi::render(p)?),
    );
    Ok(files)
}

/// A JSON document as a text file: ending with a newline.
fn with_newline(mut text: String) -> String {
    text.push('\n');
    text
}

#[derive(Template)]
#[template(path = "terraform/README.md", escape = "none")]
struct Readme {
    header: &'static str,
    name: String,
    files: Vec<String>,
    /// `s3://bucket/key` when `[terraform.backend]` is set.
    state: Option<String>,
    inputs: Vec<Vec<String>>,
    outputs: Vec<Vec<String>>,
    /// The environment this root deploys, if any.
    environment: Option<String>,
    /// The environments' roots under this one (`envs/<name>/`).
    environments: Vec<String>,
}

/// `README.md`: the manifest naming every generated file, itself included (the OpenAPI document and the
/// dashboard cannot carry a header, so a later `gen` knows them from here).
fn manifest(p: &Pipeline, files: &mut Files, environments: &[String]) -> Result<(), GenError> {
    let mut listed: Vec<String> = files.keys().cloned().collect();
    listed.push(MANIFEST.to_string());
    listed.sort();
    let (inputs, outputs) = crate::docs::tables(&files["variables.tf"], &files["outputs.tf"])?;
    put(
        files,
        MANIFEST,
        Readme {
            header: HEADER,
            name: p.name.clone(),
            files: listed,
            state: p
                .backend
                .as_ref()
                .map(|b| format!("s3://{}/{} ({})", b.bucket, b.key, b.region)),
            inputs,
            outputs,
            environment: p.environment.clone(),
            environments: environments.to_vec(),
        },
    )
}
