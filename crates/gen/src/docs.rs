//! The generated root's Inputs and Outputs tables, as terraform-docs makes them: read back from the
//! rendered `variables.tf` and `outputs.tf` (with `hcl-rs`), so the README cannot say other than the files.

use hcl::{Body, Expression};

use crate::output::GenError;

/// One row of a table: the cells, already Markdown-escaped.
pub(crate) type Row = Vec<String>;

/// `(inputs, outputs)`: `| Name | Description | Type | Default | Required |` and `| Name | Description |`.
pub(crate) fn tables(
    variables_tf: &str,
    outputs_tf: &str,
) -> Result<(Vec<Row>, Vec<Row>), GenError> {
    let inputs = blocks(variables_tf, "variables.tf", "variable")?
        .into_iter()
        .map(|(name, body)| {
            let default = attribute(&body, "default");
            vec![
                code(&name),
                cell(&text(attribute(&body, "description"))),
                code(
                    &attribute(&body, "type")
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "any".into()),
                ),
                match &default {
                    None => "n/a".to_string(),
                    Some(e) => code(&e.to_string()),
                },
                if default.is_none() { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    let outputs = blocks(outputs_tf, "outputs.tf", "output")?
        .into_iter()
        .map(|(name, body)| vec![code(&name), cell(&text(attribute(&body, "description")))])
        .collect();
    Ok((inputs, outputs))
}

/// The labels of the `kind` blocks of `src` (e.g. every variable's name).
pub(crate) fn names(src: &str, file: &str, kind: &str) -> Result<Vec<String>, GenError> {
    Ok(blocks(src, file, kind)?
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

/// `(name, description)` of each output of a rendered `outputs.tf`.
pub(crate) fn outputs(src: &str) -> Result<Vec<(String, String)>, GenError> {
    Ok(blocks(src, "stack/outputs.tf", "output")?
        .into_iter()
        .map(|(name, body)| {
            let description = text(attribute(&body, "description"));
            (name, description)
        })
        .collect())
}

/// The addresses a `moved` block can carry from a root into a module: `module.NAME` for each module call
/// and `TYPE.NAME` for each managed resource of a rendered `main.tf` (data sources hold no state).
pub(crate) fn moved_addresses(main_tf: &str) -> Result<Vec<String>, GenError> {
    let body = hcl::parse(main_tf).map_err(|e| GenError::ReadBack {
        file: "stack/main.tf".into(),
        message: e.to_string(),
    })?;
    Ok(body
        .into_blocks()
        .filter_map(|b| {
            let labels: Vec<&str> = b.labels().iter().map(|l| l.as_str()).collect();
            match (b.identifier(), labels.as_slice()) {
                ("module", [name]) => Some(format!("module.{name}")),
                ("resource", [kind, name]) => Some(format!("{kind}.{name}")),
                _ => None,
            }
        })
        .collect())
}

fn blocks(src: &str, file: &str, kind: &str) -> Result<Vec<(String, Body)>, GenError> {
    let body = hcl::parse(src).map_err(|e| GenError::ReadBack {
        file: file.to_string(),
        message: e.to_string(),
    })?;
    Ok(body
        .into_blocks()
        .filter(|b| b.identifier() == kind)
        .filter_map(|b| {
            let name = b.labels().first()?.as_str().to_string();
            Some((name, b.body().clone()))
        })
        .collect())
}

fn attribute(body: &Body, key: &str) -> Option<Expression> {
    body.attributes()
        .find(|a| a.key() == key)
        .map(|a| a.expr().clone())
}

fn text(e: Option<Expression>) -> String {
    match e {
        Some(Expression::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// A table cell: pipes escaped, on one line.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Code in a table cell (backticks inside are rare; a double-backtick span would hold them).
fn code(s: &str) -> String {
    let one_line = cell(&s.split_whitespace().collect::<Vec<_>>().join(" "));
    if one_line.contains('`') {
        format!("`` {one_line} ``")
    } else {
        format!("`{one_line}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_outputs_become_rows() {
        let vars = r#"
variable "region" {
  description = "Where | it goes."
  type        = string
  default     = "eu-west-1"
}

variable "readers" {
  description = "Who reads."
  type        = list(string)
}
"#;
        let outs =
            "output \"api_url\" {\n  description = \"The URL.\"\n  value = module.api.url\n}\n";
        let (inputs, outputs) = tables(vars, outs).unwrap();
        assert_eq!(
            inputs,
            vec![
                vec![
                    "`region`",
                    "Where \\| it goes.",
                    "`string`",
                    "`\"eu-west-1\"`",
                    "no"
                ],
                vec!["`readers`", "Who reads.", "`list(string)`", "n/a", "yes"],
            ]
        );
        assert_eq!(outputs, vec![vec!["`api_url`", "The URL."]]);
        assert!(tables("variable {", "").is_err());
    }
}
