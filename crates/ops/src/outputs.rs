//! The deployed stack's names, from `terraform output -json` (or a file holding that document): what the
//! operator commands (`status`, `items`) need to find the streams, tables, queues and functions on AWS.
//! Names missing from the outputs fall back to the physical names pipeline.toml gives them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sluice_config::Pipeline;

use crate::tf_outputs::TerraformOutputs;

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
    /// The names out of a root's outputs.
    pub fn from_outputs(outputs: &TerraformOutputs) -> miette::Result<Deployed> {
        Ok(Deployed {
            region: outputs.optional_string("region"),
            streams: outputs.string_map("stream_names")?,
            tables: outputs.string_map("table_names")?,
            queue_urls: outputs.string_map("dead_letter_queue_urls")?,
            functions: outputs.string_map("writer_function_names")?,
        })
    }

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

impl OutputsArgs {
    /// The outputs: `--outputs FILE` if given, else `terraform output -json` in `--terraform-dir`.
    pub fn load(&self) -> miette::Result<TerraformOutputs> {
        match &self.outputs {
            Some(file) => TerraformOutputs::from_file(file),
            None => TerraformOutputs::from_dir(&self.terraform_dir),
        }
    }
}

/// Reads the outputs (`args.outputs` if given, else `terraform output -json` in `args.terraform_dir`).
pub fn read(args: &OutputsArgs) -> miette::Result<Deployed> {
    Deployed::from_outputs(&args.load()?)
}

/// An AWS SDK config for the deployed region (the outputs' `region`, else the environment's); honours
/// `AWS_ENDPOINT_URL` and the usual credential chain.
pub async fn sdk_config(deployed: &Deployed) -> aws_config::SdkConfig {
    crate::smoke::sdk_config(deployed.region.as_deref()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> miette::Result<Deployed> {
        Deployed::from_outputs(&TerraformOutputs::parse(text, "test".into())?)
    }

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
