//! The root that deploys the stack: `providers.tf` (the provider, configured only here), `versions.tf`,
//! `backend.tf` (with `[terraform.backend]`), `main.tf` (the `pipeline` module, [`super::stack`], and the
//! moves from the layout before it was a module), and `variables.tf`/`outputs.tf`, which pass the stack's
//! through. What the root passes is read back from the rendered stack, so the two cannot disagree.

use askama::Template;

use sluice_config::Pipeline;

use super::shared::{Entry, Versions, aligned, aligned_as_is, put};
use super::stack::DIR;
use crate::docs;
use crate::escape::{filters, hcl_string};
use crate::output::{Files, GenError, HEADER};

/// Renders the root's files into `files`; the stack's must be there already.
pub(super) fn render(p: &Pipeline, files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    let stack_variables = files[&format!("{DIR}/variables.tf")].clone();
    let stack_main = files[&format!("{DIR}/main.tf")].clone();
    let stack_outputs = files[&format!("{DIR}/outputs.tf")].clone();

    put(files, "versions.tf", Versions { header })?;
    put(
        files,
        "providers.tf",
        Providers {
            header,
            tags: aligned(
                p.tags
                    .iter()
                    .map(|(k, v)| (k.clone(), hcl_string(v)))
                    .collect(),
            ),
        },
    )?;
    if let Some(b) = &p.backend {
        put(
            files,
            "backend.tf",
            Backend {
                header,
                b: b.clone(),
            },
        )?;
    }

    // variables.tf: the region, then the stack's inputs as they are.
    let region = RootVariables {
        header,
        region: p.region.clone(),
    }
    .render()
    .map_err(|source| GenError::Render {
        file: "variables.tf".into(),
        source,
    })?;
    let rest = stack_variables
        .split_once('\n')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    files.insert("variables.tf".into(), format!("{region}{rest}"));

    let inputs = docs::names(&stack_variables, "stack/variables.tf", "variable")?;
    let moved = if p.environment.is_none() {
        docs::moved_addresses(&stack_main)?
    } else {
        Vec::new()
    };
    put(
        files,
        "main.tf",
        RootMain {
            header,
            what: match &p.environment {
                Some(env) => format!("environment {env:?} of the pipeline {:?}", base_name(p)),
                None => format!("pipeline {:?}", p.name),
            },
            backend: p.backend.is_some(),
            inputs: aligned_as_is(inputs.into_iter().map(|n| (n, String::new())).collect()),
            moved,
        },
    )?;
    let outputs = docs::outputs(&stack_outputs)?;
    put(files, "outputs.tf", RootOutputs { header, outputs })?;
    Ok(())
}

/// The pipeline's name before the environment's was added to it.
fn base_name(p: &Pipeline) -> String {
    match &p.environment {
        Some(env) => p
            .name
            .strip_suffix(&format!("-{env}"))
            .unwrap_or(&p.name)
            .to_string(),
        None => p.name.clone(),
    }
}

#[derive(Template)]
#[template(path = "terraform/root/providers.tf", escape = "none")]
struct Providers {
    header: &'static str,
    tags: Vec<Entry>,
}

#[derive(Template)]
#[template(path = "terraform/root/backend.tf", escape = "none")]
struct Backend {
    header: &'static str,
    b: sluice_config::S3Backend,
}

#[derive(Template)]
#[template(path = "terraform/root/variables.tf", escape = "none")]
struct RootVariables {
    header: &'static str,
    region: String,
}

#[derive(Template)]
#[template(path = "terraform/root/main.tf", escape = "none")]
struct RootMain {
    header: &'static str,
    what: String,
    backend: bool,
    /// The stack's variables, each passed as the root's of the same name.
    inputs: Vec<Entry>,
    /// The addresses the stack holds that a root of the earlier layout held itself.
    moved: Vec<String>,
}

#[derive(Template)]
#[template(path = "terraform/root/outputs.tf", escape = "none")]
struct RootOutputs {
    header: &'static str,
    /// `(name, description)` of each of the stack's outputs.
    outputs: Vec<(String, String)>,
}
