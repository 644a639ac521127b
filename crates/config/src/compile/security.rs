//! `[pipeline] kms_key` and `[auth]`: the key that encrypts what the pipeline stores, and HTTP Basic auth.

use toml::Spanned;

use super::checker::Checker;
use crate::raw::RawAuth;
use crate::settings;
use crate::{BasicAuth, KmsKey};

/// `kms_key`: `"aws-managed"`, `"create"`, or a key ARN (not an alias: CloudWatch Logs and IAM statements
/// need the key's own ARN).
pub(super) fn kms_key(c: &mut Checker, v: Option<&Spanned<String>>) -> KmsKey {
    let Some(v) = v else {
        return KmsKey::AwsManaged;
    };
    let given = v.get_ref().as_str();
    match given {
        "aws-managed" => return KmsKey::AwsManaged,
        "create" => return KmsKey::Create,
        _ => {}
    }
    let parts: Vec<&str> = given.splitn(6, ':').collect();
    let is_key_arn = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "kms"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|ch| ch.is_ascii_digit())
        && parts[5].strip_prefix("key/").is_some_and(|id| {
            !id.is_empty() && id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
        });
    if is_key_arn {
        return KmsKey::Arn(given.to_string());
    }
    let help = if given.contains(":alias/") {
        "give the key's ARN (arn:aws:kms:<region>:<account>:key/<key id>), not an alias: CloudWatch Logs and IAM policies need the key itself"
    } else {
        "\"aws-managed\" (the default), \"create\" (Terraform creates one key), or arn:aws:kms:<region>:<account>:key/<key id>"
    };
    c.err(
        v.span(),
        format!(
            "`kms_key` is \"{given}\", which is not \"aws-managed\", \"create\" or a KMS key ARN"
        ),
        Some(help.into()),
    );
    KmsKey::AwsManaged
}

pub(super) fn auth(c: &mut Checker, a: &RawAuth, pipeline_name: &str) -> BasicAuth {
    c.choice(&a.kind, &settings::AUTH_TYPE);
    let secret_name = match &a.secret_name {
        Some(s) => {
            c.name(s, &settings::SECRET_NAME, "");
            s.get_ref().clone()
        }
        None => format!("{pipeline_name}/basic-auth"),
    };
    let username = match &a.username {
        Some(u) => {
            if u.get_ref().is_empty()
                || u.get_ref().contains(':')
                || u.get_ref().chars().any(char::is_control)
            {
                c.err(
                    u.span(),
                    "`username` must be non-empty and contain no ':' or control characters (HTTP Basic)",
                    None,
                );
            }
            u.get_ref().clone()
        }
        None => match settings::USERNAME.default {
            settings::DefaultValue::Str(d) => d.to_string(),
            _ => "sluice".to_string(),
        },
    };
    BasicAuth {
        secret_name,
        username,
        cache_ttl_seconds: c.uint(&a.cache_ttl_seconds, &settings::CACHE_TTL_SECONDS),
        password_length: c.uint(&a.password_length, &settings::PASSWORD_LENGTH),
        password_version: c.uint(&a.password_version, &settings::PASSWORD_VERSION),
        previous_password_grace_seconds: c.uint(
            &a.previous_password_grace_seconds,
            &settings::PREVIOUS_PASSWORD_GRACE_SECONDS,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn kms_key_and_auth_defaults() {
        let p = valid(
            &base_with(
                "region = \"eu-west-1\"\n",
                "region = \"eu-west-1\"\nkms_key = \"create\"\n",
            )
            .replace(
                "[streams.Events]",
                "[auth]\ntype = \"basic\"\n\n[streams.Events]",
            ),
        );
        assert_eq!(p.kms_key, KmsKey::Create);
        let auth = p.auth.expect("[auth]");
        assert_eq!(
            (auth.secret_name.as_str(), auth.username.as_str()),
            ("demo/basic-auth", "sluice")
        );
    }

    #[test]
    fn an_alias_is_not_a_key_arn() {
        let src = base_with(
            "region = \"eu-west-1\"\n",
            "region = \"eu-west-1\"\nkms_key = \"arn:aws:kms:eu-west-1:123456789012:alias/mine\"\n",
        );
        assert_eq!(
            errors(&src),
            vec![at(
                4,
                11,
                "`kms_key` is \"arn:aws:kms:eu-west-1:123456789012:alias/mine\", which is not \"aws-managed\", \"create\" or a KMS key ARN"
            ),]
        );
    }

    #[test]
    fn auth_type_username_and_bounds_are_checked() {
        let src = base_and("\n[auth]\ntype = \"basik\"\nusername = \"a:b\"\npassword_length = 3\n");
        assert_eq!(
            errors(&src),
            vec![
                at(18, 8, "`type` is \"basik\", which is not a valid value"),
                at(
                    19,
                    12,
                    "`username` must be non-empty and contain no ':' or control characters (HTTP Basic)"
                ),
                at(
                    20,
                    19,
                    "`password_length` is 3, but must be between 16 and 4096 (Secrets Manager's random password, 16 at the least)"
                ),
            ]
        );
    }
}
