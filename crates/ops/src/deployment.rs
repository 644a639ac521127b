//! A deployed stack as the operator commands see it: its names and addresses, read once from
//! `terraform output -json` of its root (or a file holding that document, `--outputs FILE`) into one typed
//! [`Deployment`]. `smoke-test`, `status`, `items`, `dlq` and `rotate` all read it here; names missing from
//! the outputs fall back, where a command allows it, to the physical names pipeline.toml gives them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value};
use sluice_config::Pipeline;

/// Where the outputs come from.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputsArgs {
    /// The Terraform root whose `terraform output -json` names the deployed resources.
    #[arg(long, global = true, default_value = "terraform")]
    pub terraform_dir: PathBuf,
    /// Read the outputs from this file (saved `terraform output -json`) instead of running terraform.
    #[arg(long, global = true, value_name = "FILE")]
    pub outputs: Option<PathBuf>,
}

impl OutputsArgs {
    /// The deployment: `--outputs FILE` if given, else `terraform output -json` in `--terraform-dir`.
    pub fn read(&self) -> Result<Deployment, DeploymentError> {
        match &self.outputs {
            Some(file) => Deployment::from_file(file),
            None => Deployment::from_dir(&self.terraform_dir),
        }
    }
}

/// Why the outputs cannot be read, or lack what a command needs.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DeploymentError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot run terraform (is it installed and on PATH?)")]
    #[diagnostic(help(
        "for the pipeline `cargo xtask dev` runs, add --local; for a stack deployed elsewhere, point --terraform-dir at its Terraform root or pass its saved `terraform output -json` with --outputs FILE"
    ))]
    NoTerraform(#[source] std::io::Error),
    #[error("`terraform output -json` in {dir} failed: {stderr}")]
    #[diagnostic(help(
        "for the pipeline `cargo xtask dev` runs, add --local; for a stack deployed elsewhere, point --terraform-dir at its Terraform root or pass its saved `terraform output -json` with --outputs FILE"
    ))]
    TerraformFailed { dir: PathBuf, stderr: String },
    #[error("{origin} is not the JSON of `terraform output -json`")]
    NotJson {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{origin} is not a JSON object of outputs")]
    NotAnObject { origin: String },
    #[error("{origin} has no outputs (has `terraform apply` run there?)")]
    #[diagnostic(help(
        "for the pipeline `cargo xtask dev` runs, add --local; for a stack deployed elsewhere, point --terraform-dir at its Terraform root or pass its saved `terraform output -json` with --outputs FILE"
    ))]
    NoOutputs { origin: String },
    #[error("{origin}: output `{name}` is missing or not a string")]
    Missing { origin: String, name: &'static str },
    #[error("{origin}: output `{name}` is not a map of names")]
    NotAMap { origin: String, name: &'static str },
    #[error("{origin}: output `{name}`.{key} is not a string")]
    NotAString {
        origin: String,
        name: &'static str,
        key: String,
    },
    #[error("{origin}: output `{name}` has no entry `{key}`")]
    NoEntry {
        origin: String,
        name: &'static str,
        key: String,
    },
}

/// A deployed stack: the outputs of its Terraform root, typed. Map outputs are by logical name (as in
/// pipeline.toml).
#[derive(Debug, Clone)]
pub struct Deployment {
    /// Where the outputs came from, for error messages.
    origin: String,
    region: Option<String>,
    /// The single-string outputs (`api_url`, `credentials_secret_arn`, …), as given.
    strings: BTreeMap<String, String>,
    streams: BTreeMap<String, String>,
    tables: BTreeMap<String, String>,
    queue_urls: BTreeMap<String, String>,
    functions: BTreeMap<String, String>,
}

impl Deployment {
    /// Runs `terraform output -json` in `dir`.
    pub fn from_dir(dir: &Path) -> Result<Self, DeploymentError> {
        Self::parse(
            &terraform_output_json(dir)?,
            format!("`terraform output` in {}", dir.display()),
        )
    }

    /// Reads a file holding what `terraform output -json` prints.
    pub fn from_file(path: &Path) -> Result<Self, DeploymentError> {
        let text = std::fs::read_to_string(path).map_err(|source| DeploymentError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path.display().to_string())
    }

    /// The outputs in `text` (`{"name": {"value": …, "type": …, "sensitive": …}, …}`); `origin` names them
    /// in errors.
    pub fn parse(text: &str, origin: String) -> Result<Self, DeploymentError> {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(source) => return Err(DeploymentError::NotJson { origin, source }),
        };
        let Value::Object(outputs) = value else {
            return Err(DeploymentError::NotAnObject { origin });
        };
        if outputs.is_empty() {
            return Err(DeploymentError::NoOutputs { origin });
        }
        let raw = Raw {
            outputs: &outputs,
            origin: &origin,
        };
        let strings = outputs
            .keys()
            .filter_map(|name| Some((name.clone(), raw.string(name)?)))
            .collect();
        Ok(Deployment {
            region: raw.string("region"),
            streams: raw.string_map("stream_names")?,
            tables: raw.string_map("table_names")?,
            queue_urls: raw.string_map("dead_letter_queue_urls")?,
            functions: raw.string_map("writer_function_names")?,
            strings,
            origin,
        })
    }

    /// Where the outputs came from: a file, or `terraform output` in a directory.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The region the stack is in (`region`), if the outputs say.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// A single-string output.
    fn string(&self, name: &'static str) -> Result<String, DeploymentError> {
        self.strings
            .get(name)
            .cloned()
            .ok_or_else(|| DeploymentError::Missing {
                origin: self.origin.clone(),
                name,
            })
    }

    /// The API's invoke URL (`api_url`).
    pub fn api_url(&self) -> Result<String, DeploymentError> {
        self.string("api_url")
    }
    /// The credentials secret (`credentials_secret_arn`).
    pub fn credentials_secret_arn(&self) -> Result<String, DeploymentError> {
        self.string("credentials_secret_arn")
    }
    /// The REST API's id (`api_id`).
    pub fn api_id(&self) -> Result<String, DeploymentError> {
        self.string("api_id")
    }
    /// The API's stage (`api_stage_name`).
    pub fn api_stage_name(&self) -> Result<String, DeploymentError> {
        self.string("api_stage_name")
    }
    /// The bucket of dead letters too large for a message (`dead_letter_bucket_name`).
    pub fn dead_letter_bucket_name(&self) -> Result<String, DeploymentError> {
        self.string("dead_letter_bucket_name")
    }

    fn entry(
        &self,
        map: &BTreeMap<String, String>,
        name: &'static str,
        key: &str,
    ) -> Result<String, DeploymentError> {
        map.get(key)
            .cloned()
            .ok_or_else(|| DeploymentError::NoEntry {
                origin: self.origin.clone(),
                name,
                key: key.to_owned(),
            })
    }

    /// The stream's deployed name as the outputs give it (`stream_names`).
    pub fn stream_name(&self, stream: &str) -> Result<String, DeploymentError> {
        self.entry(&self.streams, "stream_names", stream)
    }
    /// The table's deployed name as the outputs give it (`table_names`).
    pub fn table_name(&self, table: &str) -> Result<String, DeploymentError> {
        self.entry(&self.tables, "table_names", table)
    }
    /// The dead-letter queue's URL (`dead_letter_queue_urls`).
    pub fn queue_url(&self, queue: &str) -> Result<String, DeploymentError> {
        self.entry(&self.queue_urls, "dead_letter_queue_urls", queue)
    }

    /// The stream's deployed name, else the physical name pipeline.toml gives it.
    pub fn stream<'a>(&'a self, p: &'a Pipeline, name: &str) -> &'a str {
        self.streams
            .get(name)
            .map(String::as_str)
            .or_else(|| p.streams.get(name).map(|s| s.physical_name.as_str()))
            .unwrap_or_default()
    }
    /// The table's deployed name, else the physical name pipeline.toml gives it.
    pub fn table<'a>(&'a self, p: &'a Pipeline, name: &str) -> &'a str {
        self.tables
            .get(name)
            .map(String::as_str)
            .or_else(|| p.tables.get(name).map(|t| t.physical_name.as_str()))
            .unwrap_or_default()
    }
    /// The consumer's writer function name (`writer_function_names`), else pipeline.toml's.
    pub fn function<'a>(&'a self, p: &'a Pipeline, consumer: &str) -> &'a str {
        self.functions
            .get(consumer)
            .map(String::as_str)
            .or_else(|| p.consumers.get(consumer).map(|c| c.function_name.as_str()))
            .unwrap_or_default()
    }
}

/// The outputs as parsed JSON, while they are read into a [`Deployment`].
struct Raw<'a> {
    outputs: &'a Map<String, Value>,
    origin: &'a str,
}

impl Raw<'_> {
    fn value(&self, name: &str) -> Option<&Value> {
        self.outputs.get(name).map(|o| o.get("value").unwrap_or(o))
    }

    /// A string output, if set (absent and `null` are `None`).
    fn string(&self, name: &str) -> Option<String> {
        self.value(name).and_then(Value::as_str).map(str::to_owned)
    }

    /// A map output of strings (`stream_names`, `table_names`, …); absent and `null` are empty.
    fn string_map(&self, name: &'static str) -> Result<BTreeMap<String, String>, DeploymentError> {
        match self.value(name) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(key, value)| {
                    value
                        .as_str()
                        .map(|s| (key.clone(), s.to_owned()))
                        .ok_or_else(|| DeploymentError::NotAString {
                            origin: self.origin.to_owned(),
                            name,
                            key: key.clone(),
                        })
                })
                .collect(),
            Some(_) => Err(DeploymentError::NotAMap {
                origin: self.origin.to_owned(),
                name,
            }),
        }
    }
}

/// The text of `terraform output -json` in `dir`.
fn terraform_output_json(dir: &Path) -> Result<String, DeploymentError> {
    let out = Command::new("terraform")
        .arg(format!("-chdir={}", dir.display()))
        .args(["output", "-json", "-no-color"])
        .env("TF_IN_AUTOMATION", "1")
        .output()
        .map_err(DeploymentError::NoTerraform)?;
    if !out.status.success() {
        return Err(DeploymentError::TerraformFailed {
            dir: dir.to_owned(),
            stderr: strip_ansi(&String::from_utf8_lossy(&out.stderr)),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `text` without terminal colour sequences (`ESC [ … letter`), trimmed: terraform colours some of its
/// errors even with `-no-color`, and they would garble the error box.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn colours_are_taken_out_of_terraform_errors() {
        assert_eq!(
            strip_ansi("\u{1b}[31m╷\u{1b}[0m\n\u{1b}[1;31mError: \u{1b}[0mno state \n"),
            "╷\nError: no state"
        );
    }

    use super::*;

    fn parse(text: &str) -> Result<Deployment, DeploymentError> {
        Deployment::parse(text, "test".into())
    }

    #[test]
    fn names_are_read_and_bad_outputs_named() {
        let d = parse(
            r#"{"region":{"value":"eu-west-1"},"stream_names":{"value":{"S":"p-S"}},
                "table_names":{"value":{"T":"p-T"}},"dead_letter_queue_urls":{"value":{"Q":"http://q/p-Q"}},
                "writer_function_names":{"value":{"c":"p-c"}}}"#,
        )
        .unwrap();
        assert_eq!(d.region(), Some("eu-west-1"));
        assert_eq!(d.stream_name("S").unwrap(), "p-S");
        assert_eq!(d.queue_url("Q").unwrap(), "http://q/p-Q");
        assert_eq!(d.functions["c"], "p-c");
        let err = parse(r#"{"table_names":{"value":{"T":1}}}"#).unwrap_err();
        assert!(format!("{err:?}").contains("table_names"), "{err:?}");
        let err = parse("{}").unwrap_err();
        assert!(err.to_string().contains("terraform apply"), "{err}");
    }

    #[test]
    fn outputs_are_read_and_what_is_missing_is_named() {
        let o = parse(
            r#"{"api_url":{"value":"https://x/prod","type":"string"},"table_names":{"value":{"EventTable":"p-EventTable"}},"region":{"value":null}}"#,
        )
        .unwrap();
        assert_eq!(o.api_url().unwrap(), "https://x/prod");
        assert_eq!(o.table_name("EventTable").unwrap(), "p-EventTable");
        assert_eq!(o.region(), None);
        let missing = o.table_name("Other").unwrap_err().to_string();
        assert!(missing.contains("no entry `Other`"), "{missing}");
        let missing = o.api_id().unwrap_err().to_string();
        assert_eq!(
            missing, "test: output `api_id` is missing or not a string",
            "{missing}"
        );
        assert!(parse("{}").is_err());
    }
}
