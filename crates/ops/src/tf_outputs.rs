//! A deployed stack's names, from `terraform output -json` of its root (or a file holding that JSON): the
//! one place the operator commands (`status`, `items`, `dlq`) read them, typed getters that name a missing
//! output.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use miette::{Context as _, IntoDiagnostic as _, miette};
use serde_json::{Map, Value};

/// The outputs of a Terraform root: `{"name": {"value": …, "type": …, "sensitive": …}, …}`.
#[derive(Debug, Clone)]
pub struct TerraformOutputs {
    outputs: Map<String, Value>,
    /// Where they came from, for error messages.
    origin: String,
}

impl TerraformOutputs {
    /// Runs `terraform output -json` in `dir`.
    pub fn from_dir(dir: &Path) -> miette::Result<Self> {
        Self::parse(
            &terraform_output_json(dir)?,
            format!("`terraform output` in {}", dir.display()),
        )
    }

    /// Reads a file holding what `terraform output -json` prints.
    pub fn from_file(path: &Path) -> miette::Result<Self> {
        let text = std::fs::read_to_string(path)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text, path.display().to_string())
    }

    pub fn parse(text: &str, origin: String) -> miette::Result<Self> {
        let value: Value = serde_json::from_str(text)
            .into_diagnostic()
            .wrap_err_with(|| format!("{origin} is not the JSON of `terraform output -json`"))?;
        let Value::Object(outputs) = value else {
            return Err(miette!("{origin} is not a JSON object of outputs"));
        };
        if outputs.is_empty() {
            return Err(miette!(
                "{origin} has no outputs (has `terraform apply` run there?)"
            ));
        }
        Ok(TerraformOutputs { outputs, origin })
    }

    fn value(&self, name: &str) -> Option<&Value> {
        self.outputs.get(name).map(|o| o.get("value").unwrap_or(o))
    }

    /// A string output, if set (absent and `null` are `None`).
    pub fn optional_string(&self, name: &str) -> Option<String> {
        self.value(name).and_then(Value::as_str).map(str::to_owned)
    }

    /// A string output.
    pub fn string(&self, name: &str) -> miette::Result<String> {
        self.optional_string(name).ok_or_else(|| {
            miette!(
                "{}: output `{name}` is missing or not a string",
                self.origin
            )
        })
    }

    /// A map output of strings (`stream_names`, `table_names`, …); absent and `null` are empty.
    pub fn string_map(&self, name: &str) -> miette::Result<BTreeMap<String, String>> {
        match self.value(name) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(key, value)| {
                    value
                        .as_str()
                        .map(|s| (key.clone(), s.to_owned()))
                        .ok_or_else(|| {
                            miette!("{}: output `{name}`.{key} is not a string", self.origin)
                        })
                })
                .collect(),
            Some(_) => Err(miette!(
                "{}: output `{name}` is not a map of names",
                self.origin
            )),
        }
    }

    /// The entry `key` of a map output (`table_names`, `dead_letter_queue_urls`, …).
    pub fn entry(&self, name: &str, key: &str) -> miette::Result<String> {
        self.value(name)
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| miette!("{}: output `{name}` has no entry `{key}`", self.origin))
    }
}

/// The text of `terraform output -json` in `dir`.
fn terraform_output_json(dir: &Path) -> miette::Result<String> {
    let out = Command::new("terraform")
        .arg(format!("-chdir={}", dir.display()))
        .args(["output", "-json"])
        .output()
        .into_diagnostic()
        .wrap_err("cannot run terraform (is it installed and on PATH?)")?;
    if !out.status.success() {
        return Err(miette!(
            "`terraform output -json` in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_read_and_what_is_missing_is_named() {
        let o = TerraformOutputs::parse(
            r#"{"region":{"value":"eu-west-1","type":"string"},"table_names":{"value":{"EventTable":"p-EventTable"}},"kms_key_arn":{"value":null}}"#,
            "test".into(),
        )
        .unwrap();
        assert_eq!(o.string("region").unwrap(), "eu-west-1");
        assert_eq!(
            o.entry("table_names", "EventTable").unwrap(),
            "p-EventTable"
        );
        assert_eq!(o.optional_string("kms_key_arn"), None);
        let missing = o.entry("table_names", "Other").unwrap_err().to_string();
        assert!(missing.contains("no entry `Other`"), "{missing}");
        assert!(TerraformOutputs::parse("{}", "x".into()).is_err());
    }
}
