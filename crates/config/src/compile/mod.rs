//! Raw → typed, the way vector compiles its config: this file orchestrates, one file per section of
//! pipeline.toml checks it. Two passes, both collecting every error they can so that one run reports every
//! problem:
//!
//! 1. [`read::read_raw`]: TOML syntax (with recovery), then serde into the raw model. serde stops at the
//!    first structural error (an unknown key, a wrong type, a missing key), so the offending key is taken out
//!    of the parsed document and serde runs again, until the rest reads cleanly.
//! 2. [`build`]: every check is one small function that pushes errors into the one [`Checker`] and carries
//!    on. Bounds, choices and defaults come from [`crate::settings`].

mod alerts;
mod backend;
mod checker;
mod consumers;
mod deployable;
mod environments;
mod functions;
mod pipeline;
mod queues;
mod read;
mod routes;
mod security;
mod streams;
mod tables;
#[cfg(test)]
mod testing;

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::ConfigErrors;
use crate::raw::RawPipelineFile;
use crate::settings;
use crate::{Pipeline, Waf};
use checker::Checker;

pub use environments::OVERRIDABLE;

/// Checks and compiles `src` (named `file` in errors; schema files are read from `dir`): the base pipeline,
/// or with `env` that environment's (see [`environments`]).
pub(super) fn compile(
    src: &str,
    file: &str,
    dir: &Path,
    env: Option<&str>,
) -> Result<Pipeline, ConfigErrors> {
    let mut c = Checker {
        src,
        errors: Vec::new(),
        dir,
        files: Vec::new(),
    };
    let (raw, errors, environments) = read::read_raw(src, env);
    c.errors = errors;
    let pipeline = raw.map(|raw| {
        let mut p = build(&mut c, raw);
        p.environments = environments;
        p.environment = env.map(str::to_string);
        p
    });
    if let Some(env) = env {
        for e in &mut c.errors {
            e.message = format!("in environment `{env}`: {}", e.message);
        }
    }
    match pipeline {
        Some(pipeline) if c.errors.is_empty() => Ok(pipeline),
        _ => {
            c.errors
                .sort_by_key(|e| (e.file.clone(), e.span.start, e.message.clone()));
            c.errors.dedup();
            Err(ConfigErrors::with_files(file, src, &c.files, c.errors))
        }
    }
}

/// Pass 2: every section checked and compiled, then the whole pipeline.
fn build(c: &mut Checker, raw: RawPipelineFile) -> Pipeline {
    let p = raw.pipeline.get_ref();
    let name = pipeline::name(c, &p.name);
    let prefix = format!("{name}-");
    pipeline::region(c, &p.region);
    let stage = pipeline::stage(c, p.stage.as_ref());
    let tags = pipeline::tags(c, &p.tags);
    let api = pipeline::api_settings(c, p);

    let kms_key = security::kms_key(c, p.kms_key.as_ref());
    let xray_tracing = p
        .xray_tracing
        .unwrap_or(settings::XRAY_TRACING.bool_default());
    let waf = raw.waf.as_ref().map(|w| Waf {
        rate_limit: c.uint(&w.get_ref().rate_limit, &settings::WAF_RATE_LIMIT),
    });

    let alerts = raw
        .alerts
        .as_ref()
        .map(|a| alerts::alerts(c, a.get_ref()))
        .unwrap_or_default();

    let auth = raw
        .auth
        .as_ref()
        .map(|a| security::auth(c, a.get_ref(), &name));

    let functions = functions::functions(c, &raw.functions);

    let streams = streams::streams(c, &raw.streams, &prefix);
    let tables = tables::tables(c, &raw.tables, &prefix);
    let queues = queues::queues(c, &raw.queues, &prefix);
    let stream_names: BTreeSet<String> = raw.streams.keys().map(|k| k.get_ref().clone()).collect();
    let table_names: BTreeSet<String> = raw.tables.keys().map(|k| k.get_ref().clone()).collect();
    let queue_names: BTreeSet<String> = raw.queues.keys().map(|k| k.get_ref().clone()).collect();

    let routes = routes::routes(c, &raw.routes, &stream_names, auth.is_some());
    let consumers = consumers::consumers(
        c,
        &raw.consumers,
        &prefix,
        &stream_names,
        &table_names,
        &queue_names,
        &functions,
    );
    if raw.routes.is_empty() {
        c.err(
            raw.pipeline.span(),
            "the pipeline declares no [routes.*]; add at least one route",
            None,
        );
    }

    let backend = raw
        .terraform
        .as_ref()
        .and_then(|t| t.get_ref().backend.as_ref())
        .map(|b| backend::backend(c, b.get_ref(), &name, p.region.get_ref()));

    let pipeline = Pipeline {
        name,
        region: p.region.get_ref().clone(),
        stage,
        tags,
        api,
        kms_key,
        xray_tracing,
        waf,
        alerts,
        auth,
        functions,
        streams,
        tables,
        queues,
        routes,
        consumers,
        backend,
        environment: None,
        environments: Vec::new(),
    };
    deployable::check(c, &raw, &pipeline);
    pipeline
}
