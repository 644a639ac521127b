//! What the views share: HCL literals for optional values and `terraform fmt`-aligned maps, the
//! pipeline's [`Edge`] the module templates branch on, the `versions.tf` every root and module carries, and
//! [`put`], which renders a template into the file map.

use askama::Template;

use crate::escape::hcl_string;
use crate::output::{Files, GenError};
use sluice_config::{KmsKey, Pipeline};

/// `null` or the HCL string.
pub(super) fn opt_str(v: Option<&str>) -> String {
    v.map(hcl_string).unwrap_or_else(|| "null".to_string())
}

/// `null` or the number.
pub(super) fn opt_num(v: Option<u32>) -> String {
    v.map(|n| n.to_string())
        .unwrap_or_else(|| "null".to_string())
}

/// A key of a user-keyed HCL map, padded so the `=` signs line up as `terraform fmt` wants.
pub(super) struct Entry {
    pub(super) key: String,
    pub(super) pad: String,
    pub(super) value: String,
}

/// `items` are (key, value literal); keys are quoted here.
pub(super) fn aligned(items: Vec<(String, String)>) -> Vec<Entry> {
    aligned_as_is(
        items
            .into_iter()
            .map(|(k, v)| (hcl_string(&k), v))
            .collect(),
    )
}

/// Entries whose keys are HCL identifiers already (environment variable names), aligned.
pub(super) fn aligned_idents(items: &[(&str, String)]) -> Vec<Entry> {
    aligned_as_is(
        items
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
    )
}

pub(super) fn aligned_as_is(items: Vec<(String, String)>) -> Vec<Entry> {
    let width = items
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    items
        .into_iter()
        .map(|(key, value)| Entry {
            pad: " ".repeat(width - key.chars().count()),
            key,
            value,
        })
        .collect()
}

/// What the modules' templates branch on besides their variables: which checkov findings are answered by
/// configuration and which need a skip with its reason.
#[derive(Debug, Clone, Copy)]
pub(super) struct Edge {
    /// A customer-managed KMS key encrypts the pipeline's data and logs.
    pub(super) cmk: bool,
    /// X-Ray tracing of the stage and the functions.
    pub(super) tracing: bool,
    /// A WAF web ACL protects the stage.
    pub(super) waf: bool,
}

impl Edge {
    pub(super) fn of(p: &Pipeline) -> Self {
        Edge {
            cmk: p.kms_key != KmsKey::AwsManaged,
            tracing: p.xray_tracing,
            waf: p.waf.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "terraform/versions.tf", escape = "none")]
pub(super) struct Versions {
    pub(super) header: &'static str,
}

/// Renders `t` into `files` at `path`, ending it with a newline.
pub(super) fn put<T: Template>(files: &mut Files, path: &str, t: T) -> Result<(), GenError> {
    let mut text = t.render().map_err(|source| GenError::Render {
        file: path.to_string(),
        source,
    })?;
    // askama drops the template file's last newline; every text file ends with one.
    text.push('\n');
    files.insert(path.to_string(), text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_keyed_maps_are_quoted_and_aligned_like_terraform_fmt() {
        let e = aligned(vec![
            ("a".into(), "\"1\"".into()),
            ("long-key".into(), "\"2\"".into()),
            ("${x}".into(), "\"3\"".into()),
        ]);
        let lines: Vec<String> = e
            .iter()
            .map(|e| format!("{}{} = {}", e.key, e.pad, e.value))
            .collect();
        assert_eq!(
            lines,
            [
                "\"a\"        = \"1\"",
                "\"long-key\" = \"2\"",
                "\"$${x}\"    = \"3\""
            ]
        );
    }

    #[test]
    fn optional_values_are_null_or_literals() {
        assert_eq!(opt_str(None), "null");
        assert_eq!(opt_str(Some("arn:\"x\"")), "\"arn:\\\"x\\\"\"");
        assert_eq!(opt_num(Some(7)), "7");
        assert_eq!(opt_num(None), "null");
    }
}
