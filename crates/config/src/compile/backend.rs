//! `[terraform.backend]`: where Terraform keeps the stack's state (S3), checked as S3 and Terraform would.

use toml::Spanned;

use super::checker::Checker;
use super::pipeline;
use crate::S3Backend;
use crate::raw::RawBackend;

pub(super) fn backend(c: &mut Checker, b: &RawBackend, name: &str, region: &str) -> S3Backend {
    let bucket = b.bucket.get_ref();
    if !bucket_name_ok(bucket) {
        c.err(
            b.bucket.span(),
            format!("`bucket` is \"{bucket}\", which is not an S3 bucket name"),
            Some(
                "3 to 63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit"
                    .into(),
            ),
        );
    }
    let key = match &b.key {
        Some(k) => {
            let text = k.get_ref();
            if text.is_empty() || text.starts_with('/') || text.len() > 1024 {
                c.err(
                    k.span(),
                    format!("`key` is \"{text}\"; give an S3 object key without a leading '/'"),
                    Some(format!("e.g. \"{name}/terraform.tfstate\"")),
                );
            }
            text.clone()
        }
        None => format!("{name}/terraform.tfstate"),
    };
    let region = match &b.region {
        Some(r) => {
            pipeline::region(c, r);
            r.get_ref().clone()
        }
        None => region.to_string(),
    };
    let dynamodb_table = b.dynamodb_table.as_ref().map(|t: &Spanned<String>| {
        let ok = (3..=255).contains(&t.get_ref().len())
            && t.get_ref()
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch));
        if !ok {
            c.err(
                t.span(),
                format!(
                    "`dynamodb_table` is \"{}\", which is not a DynamoDB table name",
                    t.get_ref()
                ),
                Some("3 to 255 of letters, digits, '_', '-' and '.'".into()),
            );
        }
        t.get_ref().clone()
    });
    S3Backend {
        bucket: bucket.clone(),
        key,
        region,
        use_lockfile: b.use_lockfile.unwrap_or(true),
        dynamodb_table,
    }
}

/// S3's general purpose bucket naming rules (the ones a name alone can break).
fn bucket_name_ok(name: &str) -> bool {
    let edge = |ch: Option<char>| ch.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '.' || ch == '-')
        && edge(name.chars().next())
        && edge(name.chars().last())
        && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn a_backend_defaults_its_key_region_and_locking() {
        let p = valid(&base_and(
            "\n[terraform.backend]\nbucket = \"acme-tf-state\"\n",
        ));
        let b = p.backend.unwrap();
        assert_eq!(
            (b.bucket.as_str(), b.key.as_str(), b.region.as_str()),
            ("acme-tf-state", "demo/terraform.tfstate", "eu-west-1")
        );
        assert!(b.use_lockfile);
        assert_eq!(b.dynamodb_table, None);
        assert_eq!(valid(BASE).backend, None);
    }

    #[test]
    fn a_backend_is_checked_as_s3_would() {
        let src = base_and(
            "\n[terraform.backend]\nbucket = \"Acme_State\"\nkey = \"/state\"\nregion = \"mars\"\ndynamodb_table = \"x\"\n",
        );
        assert_eq!(
            errors(&src),
            vec![
                at(
                    18,
                    10,
                    "`bucket` is \"Acme_State\", which is not an S3 bucket name"
                ),
                at(
                    19,
                    7,
                    "`key` is \"/state\"; give an S3 object key without a leading '/'"
                ),
                at(
                    20,
                    10,
                    "`region` is \"mars\", which is not an AWS region name"
                ),
                at(
                    21,
                    18,
                    "`dynamodb_table` is \"x\", which is not a DynamoDB table name"
                ),
            ]
        );
    }
}
