//! The deployed stack's names, from `terraform output -json` (or a file holding that document): what the
//! operator commands (`status`, `items`) need to find the streams, tables, queues and functions on AWS.
//! Names missing from the outputs fall back to the physical names pipeline.toml gives them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use miette::{IntoDiagnostic as _, WrapErr as _, miette};
use serde_json::Value;

use sluice_config::Pipeline;

/// Where the outputs come from.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputsArgs {
    /// The Terraform root whose `terraform output -json` names the deployed resources.
    #[arg(long, default_value = "terraform")]
    pub terraform_dir: PathBuf,
    /// Read the outputs from this file (saved `terraform output -json`) instead of running terraform.
    #[arg(long, value_name = "FILE")]
    pub outputs: Option<PathBuf>,
}

/// The deployed names, by logical name (as in pipeline.toml).
#[derive(Debug, Clone, Default)]
pub struct Deployed {
    pub region: Option<String>,
    pub streams: BTreeMap<String, String>,
    pub tables: BTreeMap<String, String>,
    pub queue_urls: BTreeMap<String, String>,
    pub functions: BTreeMap<String, String>,
}

impl Deployed {
    /// The stream's deployed name.
    pub fn stream<'a>(&'a self, p: &'a Pipeline, name: &str) -> &'a str {
        self.streams
            .get(name)
            .map(String::as_str)
            .or_else(|| p.streams.get(name).map(|s| s.physical_name.as_str()))
            .unwrap_or_default()
    }
    /// The table's deployed name.
    pub fn table<'a>(&'a self, p: &'a Pipeline, name: &str) -> &'a str {
        self.tables
            .get(name)
            .map(String::as_str)
            .or_else(|| p.tables.get(name).map(|t| t.physical_name.as_str()))
            .unwrap_or_default()
    }
    /// The consumer's writer function name.
    pub fn function<'a>(&'a self, p: &'a Pipeline, consumer: &str) -> &'a str {
        self.functions
            .get(consumer)
            .map(String::as_str)
            .or_else(|| p.consumers.get(consumer).map(|c| c.function_name.as_str()))
            .unwrap_or_default()
    }
}

/// Reads the outputs (`args.outputs` if given, else `terraform output -json` in `args.terraform_dir`).
pub fn read(args: &OutputsArgs) -> miette::Result<Deployed> {
    let text = match &args.outputs {
        Some(file) => std::fs::read_to_string(file)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot read the outputs file {}", file.display()))?,
        None => crate::smoke::terraform_output_json(&args.terraform_dir)?,
    };
    let from = args
        .outputs
        .as_deref()
        .unwrap_or(&args.terraform_dir)
        .display()
        .to_string();
    parse(&text).wrap_err_with(|| format!("in the outputs of {from}"))
}

/// Parses `terraform output -json`: `{"name": {"value": …}, …}`.
pub fn parse(text: &str) -> miette::Result<Deployed> {
    let v: Value = serde_json::from_str(text)
        .into_diagnostic()
        .wrap_err("not the JSON `terraform output -json` prints")?;
    if !v.is_object() {
        return Err(miette!(
            "not the JSON object `terraform output -json` prints"
        ));
    }
    if v.as_object().is_some_and(serde_json::Map::is_empty) {
        return Err(miette!(
            "there are no outputs (has `terraform apply` run there?)"
        ));
    }
    let map = |k: &str| -> miette::Result<BTreeMap<String, String>> {
        match v.get(k).and_then(|o| o.get("value")) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(name, value)| {
                    value
                        .as_str()
                        .map(|s| (name.clone(), s.to_owned()))
                        .ok_or_else(|| miette!("output `{k}`.{name} is not a string"))
                })
                .collect(),
            Some(_) => Err(miette!("output `{k}` is not a map of names")),
        }
    };
    Ok(Deployed {
        region: v
            .get("region")
            .and_then(|o| o.get("value"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        streams: map("stream_names")?,
        tables: map("table_names")?,
        queue_urls: map("dead_letter_queue_urls")?,
        functions: map("writer_function_names")?,
    })
}

/// An AWS SDK config for the deployed region (the outputs' `region`, else the environment's); honours
/// `AWS_ENDPOINT_URL` and the usual credential chain.
pub async fn sdk_config(deployed: &Deployed) -> aws_config::SdkConfig {
    crate::smoke::sdk_config(deployed.region.as_deref()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_and_bad_outputs_named() {
        let d = parse(
            r#"{"region":{"value":"eu-west-1"},"stream_names":{"value":{"S":"p-S"}},
                "table_names":{"value":{"T":"p-T"}},"dead_letter_queue_urls":{"value":{"Q":"http://q/p-Q"}},
                "writer_function_names":{"value":{"c":"p-c"}}}"#,
        )
        .unwrap();
        assert_eq!(d.region.as_deref(), Some("eu-west-1"));
        assert_eq!(d.streams["S"], "p-S");
        assert_eq!(d.queue_urls["Q"], "http://q/p-Q");
        assert_eq!(d.functions["c"], "p-c");
        let err = parse(r#"{"table_names":{"value":{"T":1}}}"#).unwrap_err();
        assert!(format!("{err:?}").contains("table_names"), "{err:?}");
        let err = parse("{}").unwrap_err();
        assert!(err.to_string().contains("terraform apply"), "{err}");
    }
}
