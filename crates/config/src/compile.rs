//! Raw → typed. Two passes, both collecting every error they can so that one run reports every problem:
//!
//! 1. [`read_raw`]: TOML syntax (with recovery), then serde into the raw model. serde stops at the first
//!    structural error (an unknown key, a wrong type, a missing key), so the offending key is taken out of
//!    the parsed document and serde runs again, until the rest reads cleanly.
//! 2. [`build`]: every check is one small function that pushes errors and carries on. Bounds, choices and
//!    defaults come from [`crate::settings`].

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use serde::Deserialize as _;
use sluice_contract::writer::attribute;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::{ConfigError, ConfigErrors, closest, line_col};
use super::json::{self, Json, toml_string_offsets};
use super::problem::Problem;
use super::raw::*;
use super::settings::{self as lim, LOG_RETENTION_DAYS, Limit, NameRule, Setting};
use super::*;
use super::{filter, schema};

struct Checker<'a> {
    src: &'a str,
    errors: Vec<ConfigError>,
    /// The folder schema files are read from.
    dir: &'a Path,
    /// The schema files read (name as written, text), for showing their errors.
    files: Vec<(String, String)>,
}

impl Checker<'_> {
    /// An error in another file (`text` is that file's).
    fn err_in_file(
        &mut self,
        file: &str,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        let (line, column) = line_col(text, span.start);
        self.errors.push(ConfigError {
            message: message.into(),
            span,
            line,
            column,
            help,
            file: Some(file.to_string()),
        });
    }

    /// JSON written in a TOML string: parsed, with errors located in pipeline.toml. Answers the value and the
    /// map from positions in the string's text to positions in the file.
    fn json_in_string(&mut self, v: &Spanned<String>, what: &str) -> Option<(Json, Vec<usize>)> {
        let map = toml_string_offsets(self.src, &v.span())
            .unwrap_or_else(|| vec![v.span().start; v.get_ref().len() + 1]);
        match json::parse(v.get_ref()) {
            Ok(json) => Some((json, map)),
            Err(e) => {
                let at = map.get(e.offset).copied().unwrap_or(v.span().start);
                self.err(
                    at..at + 1,
                    format!("{what} is not JSON: {}", e.message),
                    None,
                );
                None
            }
        }
    }

    /// Problems found in JSON written in a TOML string, located in pipeline.toml.
    fn problems_in_string(&mut self, map: &[usize], problems: Vec<Problem>) {
        for p in problems {
            let start = map.get(p.span.start).copied().unwrap_or(0);
            let end = map.get(p.span.end).copied().unwrap_or(start).max(start);
            self.err(start..end, p.message, p.help);
        }
    }

    fn err(&mut self, span: Range<usize>, message: impl Into<String>, help: Option<String>) {
        let (line, column) = line_col(self.src, span.start);
        self.errors.push(ConfigError {
            message: message.into(),
            span,
            line,
            column,
            help,
            file: None,
        });
    }

    /// An integer within the setting's bounds, or `default` when absent (or out of bounds, after the error).
    fn int_or(&mut self, v: &Option<Spanned<i64>>, setting: &Setting, default: i64) -> i64 {
        let (min, max) = setting.bounds();
        match v {
            None => default,
            Some(s) => {
                let n = *s.get_ref();
                if n < min || n > max {
                    let why = if setting.bound_by.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", setting.bound_by)
                    };
                    self.err(
                        s.span(),
                        format!(
                            "`{}` is {n}, but must be between {min} and {max}{why}",
                            setting.key
                        ),
                        None,
                    );
                    default
                } else {
                    n
                }
            }
        }
    }

    /// An integer within the setting's bounds, or its default.
    fn int(&mut self, v: &Option<Spanned<i64>>, setting: &Setting) -> i64 {
        self.int_or(v, setting, setting.int_default())
    }

    /// [`Checker::int`] as a `u32` (every bounded setting fits; out of range falls back to the default).
    fn uint(&mut self, v: &Option<Spanned<i64>>, setting: &Setting) -> u32 {
        let n = self.int(v, setting);
        u32::try_from(n).unwrap_or_else(|_| u32::try_from(setting.int_default()).unwrap_or(0))
    }

    fn log_retention(&mut self, v: &Option<Spanned<i64>>, setting: &Setting) -> u32 {
        let default = u32::try_from(setting.int_default()).unwrap_or(30);
        match v {
            None => default,
            Some(s) if LOG_RETENTION_DAYS.contains(s.get_ref()) => {
                u32::try_from(*s.get_ref()).unwrap_or(default)
            }
            Some(s) => {
                let n = *s.get_ref();
                let near = LOG_RETENTION_DAYS
                    .iter()
                    .min_by_key(|d| (**d - n).abs())
                    .copied()
                    .unwrap_or(30);
                self.err(
                    s.span(),
                    format!(
                        "`{}` is {n}, which CloudWatch Logs does not offer",
                        setting.key
                    ),
                    Some(format!(
                        "allowed values: {LOG_RETENTION_DAYS:?}; the closest is {near}"
                    )),
                );
                default
            }
        }
    }

    /// One of the setting's choices (matched exactly), with a suggestion when it is not.
    fn choice(&mut self, v: &Spanned<String>, setting: &Setting) -> Option<&'static str> {
        let choices = setting.choices();
        let given = v.get_ref().as_str();
        if let Some(c) = choices.iter().find(|c| **c == given) {
            return Some(c);
        }
        let help = match closest(given, choices.iter().copied()) {
            Some(c) => format!("did you mean `{c}`? (one of {})", list(choices)),
            None => format!("one of {}", list(choices)),
        };
        self.err(
            v.span(),
            format!(
                "`{}` is \"{given}\", which is not a valid value",
                setting.key
            ),
            Some(help),
        );
        None
    }

    /// The setting's choice, or its default when absent or invalid.
    fn choice_or_default(
        &mut self,
        v: &Option<Spanned<String>>,
        setting: &Setting,
    ) -> &'static str {
        let default = match setting.default {
            lim::DefaultValue::Str(d) => d,
            _ => setting.choices().first().copied().unwrap_or(""),
        };
        match v {
            None => default,
            Some(v) => self.choice(v, setting).unwrap_or(default),
        }
    }

    /// A name of `rule`'s characters, within its length once prefixed with `prefix` (when the rule says so).
    fn name(&mut self, v: &Spanned<String>, rule: &NameRule, prefix: &str) {
        self.name_as(v, rule.what, rule, prefix);
    }

    fn name_as(&mut self, v: &Spanned<String>, what: &str, rule: &NameRule, prefix: &str) {
        let prefix = if rule.prefixed { prefix } else { "" };
        let name = v.get_ref();
        if let Some(bad) = name.chars().find(|c| !(rule.allowed)(*c)) {
            self.err(
                v.span(),
                format!("{what} \"{name}\" contains {bad:?}; {}", rule.rule),
                None,
            );
            return;
        }
        let full = prefix.chars().count() + name.chars().count();
        if full < rule.min || full > rule.max {
            let shown = if prefix.is_empty() {
                String::new()
            } else {
                format!(" (as \"{prefix}{name}\" in AWS)")
            };
            self.err(
                v.span(),
                format!(
                    "{what} \"{name}\"{shown} is {full} characters long; AWS allows {} to {}",
                    rule.min, rule.max
                ),
                None,
            );
        }
    }

    /// A reference to a declared component, with a did-you-mean.
    fn reference(
        &mut self,
        v: &Spanned<String>,
        key: &str,
        kind: &str,
        declared: &BTreeSet<String>,
    ) -> bool {
        if declared.contains(v.get_ref()) {
            return true;
        }
        let help = match closest(v.get_ref(), declared.iter().map(String::as_str)) {
            Some(c) => Some(format!("did you mean `{c}`?")),
            None if declared.is_empty() => {
                Some(format!("declare it under [{kind}.{}]", v.get_ref()))
            }
            None => Some(format!(
                "declared {kind}: {}",
                list(&declared.iter().map(String::as_str).collect::<Vec<_>>())
            )),
        };
        self.err(
            v.span(),
            format!(
                "`{key}` refers to \"{}\", which is not declared in [{kind}]",
                v.get_ref()
            ),
            help,
        );
        false
    }
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------------------
// Pass 1: syntax and structure
// ---------------------------------------------------------------------------------------------------------

/// Turns a serde/TOML error into one located error, with a did-you-mean for unknown keys.
fn toml_error(src: &str, e: &toml::de::Error) -> ConfigError {
    let span = e.span().unwrap_or(0..0);
    let (line, column) = line_col(src, span.start);
    let raw = e.message().trim().to_string();
    let mut help = None;
    if let Some(rest) = raw.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        help = match closest(field, candidates.iter().copied()) {
            Some(c) => Some(format!("did you mean `{c}`?")),
            None => Some(format!("valid keys here: {}", list(&candidates))),
        };
        let message = format!("unknown key `{field}`");
        return ConfigError {
            message,
            span,
            line,
            column,
            help,
            file: None,
        };
    }
    if raw.starts_with("missing field") {
        help = Some("add it; see the README's pipeline.toml reference".to_string());
    }
    // serde names Rust types; say what to write instead.
    let raw = raw
        .replace("expected i64", "expected an integer")
        .replace("expected f64", "expected a number");
    ConfigError {
        message: raw,
        span,
        line,
        column,
        help,
        file: None,
    }
}

/// What taking an error's key out of the document removed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Removed {
    /// A key with a scalar or array value (an unknown key, or a value of the wrong type).
    Value(String),
    /// A key holding a whole table (the table itself was wrong, e.g. it lacked a required key).
    Table,
}

/// Removes the entry an error points at: the key whose name or value span is the error's span (a table
/// value's span is its header). `None` if nothing matches (an error about the document itself).
fn remove_at(table: &mut DeTable<'_>, span: &Range<usize>) -> Option<Removed> {
    let mut hit = None;
    for (key, value) in table.iter_mut() {
        if key.span() == *span || value.span() == *span {
            let removed = match value.get_ref() {
                DeValue::Table(_) => Removed::Table,
                _ => Removed::Value(key.get_ref().to_string()),
            };
            hit = Some((key.clone(), removed));
            break;
        }
        if let DeValue::Table(inner) = value.get_mut()
            && let Some(removed) = remove_at(inner, span)
        {
            return Some(removed);
        }
    }
    let (key, removed) = hit?;
    table.remove(&key);
    Some(removed)
}

/// The raw model and every syntax and structural error. Without errors the model is the whole file's; with
/// errors it is, when only keys (not whole tables) had to be taken out for the rest to read cleanly, the
/// model of that rest (so that its semantic errors are reported in the same run), and otherwise `None`.
fn read_raw(src: &str) -> (Option<RawPipelineFile>, Vec<ConfigError>) {
    let (mut root, syntax) = DeTable::parse_recoverable(src);
    if !syntax.is_empty() {
        // The parser recovers and goes on, but what it finds later on the same line is an echo.
        let mut errors: Vec<ConfigError> = Vec::new();
        for e in &syntax {
            let error = toml_error(src, e);
            if errors.last().is_none_or(|last| last.line != error.line) {
                errors.push(error);
            }
        }
        return (None, errors);
    }
    let mut errors: Vec<ConfigError> = Vec::new();
    let mut removed_values: Vec<String> = Vec::new();
    let mut table_removed = false;
    // Each round takes one key out, so this ends; the bound only guards against a surprise.
    for _ in 0..1000 {
        let error = match RawPipelineFile::deserialize(toml::de::Deserializer::from(root.clone())) {
            Ok(raw) if errors.is_empty() => return (Some(raw), errors),
            Ok(raw) => return ((!table_removed).then_some(raw), errors),
            Err(e) => e,
        };
        let span = error.span().unwrap_or(0..0);
        match remove_at(root.get_mut(), &span) {
            None => {
                // About the document itself: news only if nothing was taken out before.
                if errors.is_empty() {
                    errors.push(toml_error(src, &error));
                }
                return (None, errors);
            }
            Some(Removed::Table) => {
                // "missing field `x`" after `x` (of the wrong type) was taken out is not news.
                let echo = error
                    .message()
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next())
                    .is_some_and(|field| removed_values.iter().any(|v| v == field));
                if !echo {
                    errors.push(toml_error(src, &error));
                }
                table_removed = true;
            }
            Some(Removed::Value(key)) => {
                errors.push(toml_error(src, &error));
                removed_values.push(key);
            }
        }
    }
    (None, errors)
}

pub(super) fn compile(src: &str, file: &str, dir: &Path) -> Result<Pipeline, ConfigErrors> {
    let mut c = Checker {
        src,
        errors: Vec::new(),
        dir,
        files: Vec::new(),
    };
    let (raw, errors) = read_raw(src);
    c.errors = errors;
    let pipeline = raw.map(|raw| build(&mut c, raw));
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

// ---------------------------------------------------------------------------------------------------------
// Pass 2: the checks
// ---------------------------------------------------------------------------------------------------------

fn build(c: &mut Checker, raw: RawPipelineFile) -> Pipeline {
    let p = raw.pipeline.get_ref();
    c.name(&p.name, &lim::PIPELINE_NAME, "");
    if !p
        .name
        .get_ref()
        .starts_with(|ch: char| ch.is_ascii_alphabetic())
        && !p.name.get_ref().is_empty()
    {
        c.err(
            p.name.span(),
            format!(
                "pipeline name \"{}\" must start with a letter",
                p.name.get_ref()
            ),
            None,
        );
    }
    let name = p.name.get_ref().clone();
    let prefix = format!("{name}-");
    check_region(c, &p.region);
    let stage = match &p.stage {
        Some(s) => {
            c.name(s, &lim::STAGE_NAME, "");
            s.get_ref().clone()
        }
        None => match lim::STAGE.default {
            lim::DefaultValue::Str(d) => d.to_string(),
            _ => "prod".to_string(),
        },
    };
    let mut tags = BTreeMap::new();
    for (k, v) in &p.tags {
        if k.get_ref().is_empty() || k.get_ref().len() > 128 || k.get_ref().starts_with("aws:") {
            c.err(
                k.span(),
                format!(
                    "tag key \"{}\" must be 1 to 128 characters and not start with \"aws:\"",
                    k.get_ref()
                ),
                None,
            );
        }
        if v.get_ref().len() > 256 {
            c.err(
                v.span(),
                format!("tag `{}` has a value over 256 characters", k.get_ref()),
                None,
            );
        }
        tags.insert(k.get_ref().clone(), v.get_ref().clone());
    }
    let api = ApiSettings {
        access_log_retention_days: c.log_retention(
            &p.access_log_retention_days,
            &lim::ACCESS_LOG_RETENTION_DAYS,
        ),
        throttle_rate_limit: throttle_rate(c, p.throttle_rate_limit.as_ref()),
        throttle_burst_limit: c.uint(&p.throttle_burst_limit, &lim::THROTTLE_BURST_LIMIT),
        manage_api_gateway_account: p
            .manage_api_gateway_account
            .unwrap_or(lim::MANAGE_API_GATEWAY_ACCOUNT.bool_default()),
    };

    let kms_key = kms_key(c, p.kms_key.as_ref());
    let xray_tracing = p.xray_tracing.unwrap_or(lim::XRAY_TRACING.bool_default());
    let waf = raw.waf.as_ref().map(|w| Waf {
        rate_limit: c.uint(&w.get_ref().rate_limit, &lim::WAF_RATE_LIMIT),
    });

    let alerts = raw
        .alerts
        .as_ref()
        .map(|a| alerts(c, a.get_ref()))
        .unwrap_or_default();

    let auth = raw.auth.as_ref().map(|a| auth(c, a.get_ref(), &name));

    let functions = Functions {
        authorizer: function(c, raw.functions.authorizer.as_ref(), Role::Authorizer),
        writer: function(c, raw.functions.writer.as_ref(), Role::Writer),
    };

    let streams = streams(c, &raw.streams, &prefix);
    let tables = tables(c, &raw.tables, &prefix);
    let queues = queues(c, &raw.queues, &prefix);
    let stream_names: BTreeSet<String> = raw.streams.keys().map(|k| k.get_ref().clone()).collect();
    let table_names: BTreeSet<String> = raw.tables.keys().map(|k| k.get_ref().clone()).collect();
    let queue_names: BTreeSet<String> = raw.queues.keys().map(|k| k.get_ref().clone()).collect();

    let routes = routes(c, &raw.routes, &stream_names, auth.is_some());
    let consumers = consumers(
        c,
        &raw.consumers,
        &prefix,
        &stream_names,
        &table_names,
        &queue_names,
    );
    if raw.routes.is_empty() {
        c.err(
            raw.pipeline.span(),
            "the pipeline declares no [routes.*]; add at least one route",
            None,
        );
    }

    Pipeline {
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
    }
}

/// `kms_key`: `"aws-managed"`, `"create"`, or a key ARN (not an alias: CloudWatch Logs and IAM statements
/// need the key's own ARN).
fn kms_key(c: &mut Checker, v: Option<&Spanned<String>>) -> KmsKey {
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

/// `[alerts]`: e-mail addresses (each once, each an address) and an existing standard SNS topic's ARN.
fn alerts(c: &mut Checker, a: &RawAlerts) -> Alerts {
    let mut emails: Vec<String> = Vec::new();
    if let Some(list) = &a.emails {
        for e in list.get_ref() {
            let email = e.get_ref();
            if !is_email(email) {
                c.err(
                    e.span(),
                    format!("`emails` has \"{email}\", which is not an e-mail address"),
                    Some("write each address whole, e.g. \"oncall@example.com\"".into()),
                );
            } else if emails.iter().any(|seen| seen.eq_ignore_ascii_case(email)) {
                c.err(
                    e.span(),
                    format!("`emails` has \"{email}\" twice"),
                    Some("SNS subscribes an address once; remove the repetition".into()),
                );
            } else {
                emails.push(email.clone());
            }
        }
    }
    let sns_topic_arn = a.sns_topic_arn.as_ref().and_then(|v| {
        let given = v.get_ref().as_str();
        let parts: Vec<&str> = given.splitn(6, ':').collect();
        let topic = parts.get(5).copied().unwrap_or("");
        let is_topic_arn = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "sns"
            && !parts[3].is_empty()
            && parts[4].len() == 12
            && parts[4].chars().all(|ch| ch.is_ascii_digit())
            && (1..=256).contains(&topic.len())
            && topic
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' || ch == '.');
        if !is_topic_arn {
            c.err(
                v.span(),
                format!("`sns_topic_arn` is \"{given}\", which is not an SNS topic ARN"),
                Some("arn:aws:sns:<region>:<account>:<topic name>".into()),
            );
            None
        } else if topic.ends_with(".fifo") {
            c.err(
                v.span(),
                format!("`sns_topic_arn` names the FIFO topic \"{topic}\""),
                Some(
                    "CloudWatch alarms publish to standard topics only; give a standard topic"
                        .into(),
                ),
            );
            None
        } else {
            Some(given.to_string())
        }
    });
    Alerts {
        emails,
        sns_topic_arn,
    }
}

/// An address SNS's e-mail protocol takes: `local@domain`, a dot in the domain, no spaces or control
/// characters (what a typo breaks, not RFC 5322).
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && s.len() <= 254
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|ch| ch.is_whitespace() || ch.is_control())
}

fn throttle_rate(c: &mut Checker, v: Option<&Spanned<f64>>) -> f64 {
    let setting = &lim::THROTTLE_RATE_LIMIT;
    let (default, max) = match (setting.default, setting.limit) {
        (lim::DefaultValue::Float(d), Limit::Positive { max }) => (d, max),
        _ => (100.0, 1_000_000.0),
    };
    match v {
        None => default,
        Some(r) if *r.get_ref() > 0.0 && *r.get_ref() <= max => *r.get_ref(),
        Some(r) => {
            c.err(
                r.span(),
                format!(
                    "`{}` is {}, but must be above 0 and at most {max} {}",
                    setting.key,
                    r.get_ref(),
                    setting.bound_by
                ),
                None,
            );
            default
        }
    }
}

fn auth(c: &mut Checker, a: &RawAuth, pipeline_name: &str) -> BasicAuth {
    c.choice(&a.kind, &lim::AUTH_TYPE);
    let secret_name = match &a.secret_name {
        Some(s) => {
            c.name(s, &lim::SECRET_NAME, "");
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
        None => match lim::USERNAME.default {
            lim::DefaultValue::Str(d) => d.to_string(),
            _ => "sluice".to_string(),
        },
    };
    BasicAuth {
        secret_name,
        username,
        cache_ttl_seconds: c.uint(&a.cache_ttl_seconds, &lim::CACHE_TTL_SECONDS),
        password_length: c.uint(&a.password_length, &lim::PASSWORD_LENGTH),
        password_version: c.uint(&a.password_version, &lim::PASSWORD_VERSION),
        previous_password_grace_seconds: c.uint(
            &a.previous_password_grace_seconds,
            &lim::PREVIOUS_PASSWORD_GRACE_SECONDS,
        ),
    }
}

fn check_region(c: &mut Checker, region: &Spanned<String>) {
    let r = region.get_ref();
    let parts: Vec<&str> = r.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|ch| ch.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|ch| ch.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if !ok {
        c.err(
            region.span(),
            format!("`region` is \"{r}\", which is not an AWS region name"),
            Some("e.g. \"us-east-1\" or \"eu-west-3\"".into()),
        );
    }
}

#[derive(Clone, Copy)]
enum Role {
    Authorizer,
    Writer,
}

/// The default of a per-function setting for one function.
fn function_default(setting: &Setting, role: Role) -> i64 {
    match (setting.default, role) {
        (lim::DefaultValue::PerFunction { authorizer, .. }, Role::Authorizer) => authorizer,
        (lim::DefaultValue::PerFunction { writer, .. }, Role::Writer) => writer,
        _ => setting.int_default(),
    }
}

fn function(c: &mut Checker, f: Option<&Spanned<RawFunction>>, role: Role) -> FunctionSettings {
    let memory = function_default(&lim::MEMORY_MB, role);
    let timeout = function_default(&lim::TIMEOUT_SECONDS, role);
    let reserved = function_default(&lim::RESERVED_CONCURRENCY, role);
    let as_u32 = |n: i64| u32::try_from(n).unwrap_or(0);
    // -1 is "unreserved".
    let reserved_or_none = |n: i64| u32::try_from(n).ok();
    let Some(f) = f else {
        return FunctionSettings {
            architecture: Architecture::X86_64,
            memory_mb: as_u32(memory),
            timeout_seconds: as_u32(timeout),
            reserved_concurrency: reserved_or_none(reserved),
            log_retention_days: as_u32(lim::FUNCTION_LOG_RETENTION_DAYS.int_default()),
        };
    };
    let f = f.get_ref();
    let architecture = match c.choice_or_default(&f.architecture, &lim::ARCHITECTURE) {
        "arm64" => Architecture::Arm64,
        _ => Architecture::X86_64,
    };
    FunctionSettings {
        architecture,
        memory_mb: as_u32(c.int_or(&f.memory_mb, &lim::MEMORY_MB, memory)),
        timeout_seconds: as_u32(c.int_or(&f.timeout_seconds, &lim::TIMEOUT_SECONDS, timeout)),
        reserved_concurrency: reserved_or_none(c.int_or(
            &f.reserved_concurrency,
            &lim::RESERVED_CONCURRENCY,
            reserved,
        )),
        log_retention_days: c
            .log_retention(&f.log_retention_days, &lim::FUNCTION_LOG_RETENTION_DAYS),
    }
}

fn streams(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawStream>>,
    prefix: &str,
) -> BTreeMap<String, Stream> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        c.name(k, &lim::STREAM_NAME, prefix);
        let s = v.get_ref();
        let on_demand = c.choice_or_default(&s.mode, &lim::STREAM_MODE) == "on-demand";
        let capacity = if on_demand {
            if let Some(sc) = &s.shard_count {
                c.err(
                    sc.span(),
                    format!(
                        "stream \"{}\" is on-demand, so `shard_count` does not apply",
                        k.get_ref()
                    ),
                    Some("remove `shard_count`, or set mode = \"provisioned\"".into()),
                );
            }
            StreamCapacity::OnDemand
        } else {
            StreamCapacity::Provisioned {
                shard_count: c.uint(&s.shard_count, &lim::SHARD_COUNT),
            }
        };
        if let Some(arn) = &s.kms_key_arn {
            let a = arn.get_ref();
            if !(a.starts_with("arn:") && (a.contains(":key/") || a.contains(":alias/"))) {
                c.err(
                    arn.span(),
                    format!("`kms_key_arn` is \"{a}\", which is not a KMS key or alias ARN"),
                    Some(
                        "e.g. \"arn:aws:kms:eu-west-1:123456789012:key/…\"; leave it out for the AWS-managed key"
                            .into(),
                    ),
                );
            }
        }
        out.insert(
            k.get_ref().clone(),
            Stream {
                name: k.get_ref().clone(),
                physical_name: format!("{prefix}{}", k.get_ref()),
                capacity,
                retention_hours: c.uint(&s.retention_hours, &lim::RETENTION_HOURS),
                kms_key_arn: s.kms_key_arn.as_ref().map(|a| a.get_ref().clone()),
            },
        );
    }
    out
}

/// A table key attribute: a valid attribute name, not one the writer sets itself, and a key type.
fn key(c: &mut Checker, k: &Spanned<RawKey>, which: &str) -> KeyAttribute {
    let r = k.get_ref();
    c.name_as(
        &r.name,
        &format!("{which} attribute name"),
        &lim::ATTRIBUTE_NAME,
        "",
    );
    if let Some(reserved) = attribute::ALL.iter().find(|a| **a == r.name.get_ref()) {
        c.err(
            r.name.span(),
            format!(
                "the {which} is named \"{reserved}\", an attribute the writer sets on every item (see docs/CONTRACTS.md)"
            ),
            Some(format!(
                "choose another name; the writer sets {}",
                list(&attribute::ALL)
            )),
        );
    }
    let kind = match &r.kind {
        None => KeyType::S,
        Some(t) => match c.choice(t, &KEY_TYPE) {
            Some(k) => KeyType::parse(k).unwrap_or(KeyType::S),
            None => KeyType::S,
        },
    };
    KeyAttribute {
        name: r.name.get_ref().clone(),
        kind,
    }
}

/// The `type` of a key attribute (part of `partition_key`/`sort_key`, so not a row of the table).
const KEY_TYPE: Setting = Setting {
    section: lim::Section::Table,
    key: "type",
    default: lim::DefaultValue::Str("S"),
    limit: Limit::OneOf(&["S", "N"]),
    meaning: "the key's DynamoDB type",
    bound_by: "",
};

fn tables(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawTable>>,
    prefix: &str,
) -> BTreeMap<String, Table> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        c.name(k, &lim::TABLE_NAME, prefix);
        let t = v.get_ref();
        let partition_key = key(c, &t.partition_key, "partition key");
        let sort_key = t.sort_key.as_ref().map(|s| key(c, s, "sort key"));
        if let Some(sk) = &t.sort_key
            && sk.get_ref().name.get_ref() == &partition_key.name
        {
            c.err(
                sk.get_ref().name.span(),
                "the sort key must differ from the partition key",
                None,
            );
        }
        let provisioned = c.choice_or_default(&t.billing_mode, &lim::BILLING_MODE) == "provisioned";
        let billing = if provisioned {
            let mut cap = |v: &Option<Spanned<i64>>, setting: &Setting| match v {
                Some(_) => c.int_or(v, setting, 1) as u32,
                None => {
                    c.err(
                        t.billing_mode.as_ref().map(|s| s.span()).unwrap_or(0..0),
                        format!(
                            "table \"{}\" is provisioned, so it needs `{}`",
                            k.get_ref(),
                            setting.key
                        ),
                        Some(format!("add `{} = 5`", setting.key)),
                    );
                    1
                }
            };
            Billing::Provisioned {
                read_capacity: cap(&t.read_capacity, &lim::READ_CAPACITY),
                write_capacity: cap(&t.write_capacity, &lim::WRITE_CAPACITY),
            }
        } else {
            for (v, setting) in [
                (&t.read_capacity, &lim::READ_CAPACITY),
                (&t.write_capacity, &lim::WRITE_CAPACITY),
            ] {
                if let Some(v) = v {
                    c.err(
                        v.span(),
                        format!(
                            "table \"{}\" is on-demand, so `{}` does not apply",
                            k.get_ref(),
                            setting.key
                        ),
                        Some("remove it, or set billing_mode = \"provisioned\"".into()),
                    );
                }
            }
            Billing::OnDemand
        };
        if let Some(ttl) = &t.ttl_attribute {
            c.name_as(ttl, "TTL attribute name", &lim::ATTRIBUTE_NAME, "");
        }
        out.insert(
            k.get_ref().clone(),
            Table {
                name: k.get_ref().clone(),
                physical_name: format!("{prefix}{}", k.get_ref()),
                partition_key,
                sort_key,
                billing,
                point_in_time_recovery: t
                    .point_in_time_recovery
                    .unwrap_or(lim::POINT_IN_TIME_RECOVERY.bool_default()),
                ttl_attribute: t.ttl_attribute.as_ref().map(|s| s.get_ref().clone()),
                deletion_protection: t
                    .deletion_protection
                    .unwrap_or(lim::DELETION_PROTECTION.bool_default()),
            },
        );
    }
    out
}

fn queues(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawQueue>>,
    prefix: &str,
) -> BTreeMap<String, Queue> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        c.name(k, &lim::QUEUE_NAME, prefix);
        out.insert(
            k.get_ref().clone(),
            Queue {
                name: k.get_ref().clone(),
                physical_name: format!("{prefix}{}", k.get_ref()),
                message_retention_seconds: c.uint(
                    &v.get_ref().message_retention_seconds,
                    &lim::MESSAGE_RETENTION_SECONDS,
                ),
            },
        );
    }
    out
}

/// Splits `/a/{b}/c` into segments, reporting malformed templates.
fn path_segments(c: &mut Checker, path: &Spanned<String>) -> Vec<PathSegment> {
    let p = path.get_ref();
    if !p.starts_with('/') {
        c.err(
            path.span(),
            format!("`path` \"{p}\" must start with '/'"),
            None,
        );
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for seg in p.strip_prefix('/').unwrap_or(p).split('/') {
        if seg.is_empty() {
            if p != "/" {
                c.err(
                    path.span(),
                    format!("`path` \"{p}\" has an empty segment"),
                    None,
                );
            }
            continue;
        }
        if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if inner.is_empty() || !inner.chars().all(lim::is_param_char) {
                c.err(
                    path.span(),
                    format!(
                        "path parameter `{{{inner}}}` must be a non-empty name of letters, digits and '_'"
                    ),
                    None,
                );
            } else if !seen.insert(inner.to_string()) {
                c.err(
                    path.span(),
                    format!("path parameter `{{{inner}}}` appears twice in \"{p}\""),
                    None,
                );
            }
            out.push(PathSegment::Param(inner.to_string()));
        } else if seg.contains('{') || seg.contains('}') || !seg.chars().all(lim::is_segment_char) {
            c.err(
                path.span(),
                format!(
                    "path segment \"{seg}\" must be a literal of letters, digits and -._~ or a whole `{{param}}`"
                ),
                None,
            );
        } else {
            out.push(PathSegment::Literal(seg.to_string()));
        }
    }
    out
}

fn param_ref(c: &mut Checker, v: &Spanned<String>, key: &str, params: &[&str], path: &str) -> bool {
    if params.contains(&v.get_ref().as_str()) {
        return true;
    }
    let help = closest(v.get_ref(), params.iter().copied())
        .map(|s| format!("did you mean `{s}`?"))
        .or_else(|| {
            Some(if params.is_empty() {
                "the path has no parameters".to_string()
            } else {
                format!("the path's parameters: {}", list(params))
            })
        });
    c.err(
        v.span(),
        format!(
            "`{key}` uses path parameter `{}`, which is not in the route's path \"{path}\"",
            v.get_ref()
        ),
        help,
    );
    false
}

fn routes(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawRoute>>,
    streams: &BTreeSet<String>,
    has_auth: bool,
) -> BTreeMap<String, Route> {
    let mut out = BTreeMap::new();
    let mut seen: BTreeMap<(HttpMethod, String), String> = BTreeMap::new();
    // File order, so a conflict is reported at the route written second.
    let mut in_file_order: Vec<_> = raw.iter().collect();
    in_file_order.sort_by_key(|(k, _)| k.span().start);
    for (k, v) in in_file_order {
        c.name(k, &lim::ROUTE_NAME, "");
        let r = v.get_ref();
        let method = match c.choice_or_default(&r.method, &lim::METHOD) {
            "PUT" => HttpMethod::Put,
            _ => HttpMethod::Post,
        };
        let segments = path_segments(c, &r.path);
        let params: Vec<&str> = segments
            .iter()
            .filter_map(|s| {
                if let PathSegment::Param(p) = s {
                    Some(p.as_str())
                } else {
                    None
                }
            })
            .collect();
        let auth = match &r.auth {
            None => has_auth,
            Some(a) => match c.choice(a, &lim::ROUTE_AUTH) {
                Some("none") => false,
                _ => {
                    if !has_auth {
                        c.err(
                            a.span(),
                            format!(
                                "route \"{}\" uses auth \"basic\", but there is no [auth] section",
                                k.get_ref()
                            ),
                            Some("add [auth] with type = \"basic\", or set auth = \"none\"".into()),
                        );
                    }
                    true
                }
            },
        };
        let stream = stream_target(c, &r.stream, &params, r.path.get_ref(), streams);
        let partition_key = partition_key(c, &r.partition_key, &params, r.path.get_ref(), &stream);
        let content_type = match &r.content_type {
            None => match lim::CONTENT_TYPE.default {
                lim::DefaultValue::Str(d) => d.to_string(),
                _ => "application/json".to_string(),
            },
            Some(ct) => {
                let t = ct.get_ref();
                if !(t == "application/json"
                    || (t.starts_with("application/") && t.ends_with("+json")))
                {
                    c.err(
                        ct.span(),
                        format!(
                            "`content_type` is \"{t}\"; the record contract carries JSON bodies"
                        ),
                        Some("use \"application/json\" or an \"application/…+json\" type".into()),
                    );
                }
                t.clone()
            }
        };
        let schema = r.schema.as_ref().and_then(|v| request_schema(c, v));
        let path_key = (method, normalise(&segments));
        if let Some(other) = seen.get(&path_key) {
            c.err(
                r.path.span(),
                format!(
                    "route \"{}\" has the same method and path as route \"{other}\"",
                    k.get_ref()
                ),
                None,
            );
        } else {
            seen.insert(path_key, k.get_ref().clone());
        }
        out.insert(
            k.get_ref().clone(),
            Route {
                name: k.get_ref().clone(),
                method,
                path: r.path.get_ref().clone(),
                segments,
                auth,
                stream,
                partition_key,
                content_type,
                schema,
            },
        );
    }
    out
}

/// A route's `schema`: a file next to pipeline.toml, or JSON text (a string starting with `{`).
fn request_schema(c: &mut Checker, v: &Spanned<String>) -> Option<RequestSchema> {
    let text = v.get_ref();
    if text.trim_start().starts_with('{') {
        let (json, map) = c.json_in_string(v, "the inline `schema`")?;
        return match schema::check(&json) {
            Ok(value) => Some(RequestSchema {
                value,
                source: SchemaSource::Inline,
            }),
            Err(problems) => {
                c.problems_in_string(&map, problems);
                None
            }
        };
    }
    if text.is_empty()
        || Path::new(text).is_absolute()
        || text.split(['/', '\\']).any(|p| p == "..")
    {
        c.err(
            v.span(),
            format!("`schema` \"{text}\" must be a path inside pipeline.toml's folder (relative, no `..`), or JSON text starting with `{{`"),
            None,
        );
        return None;
    }
    let path = c.dir.join(text);
    let file_text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            c.err(
                v.span(),
                format!("cannot read the schema file \"{text}\" ({}): {e}", path.display()),
                Some("the path is relative to pipeline.toml's folder; or write the schema inline as JSON text".into()),
            );
            return None;
        }
    };
    c.files.push((text.clone(), file_text.clone()));
    let json = match json::parse(&file_text) {
        Ok(json) => json,
        Err(e) => {
            c.err_in_file(
                text,
                &file_text,
                e.offset..e.offset + 1,
                format!("the schema is not JSON: {}", e.message),
                None,
            );
            return None;
        }
    };
    match schema::check(&json) {
        Ok(value) => Some(RequestSchema {
            value,
            source: SchemaSource::File(text.clone()),
        }),
        Err(problems) => {
            for p in problems {
                c.err_in_file(text, &file_text, p.span, p.message, p.help);
            }
            None
        }
    }
}

/// A consumer's `filters`: each a pattern in Lambda's filter grammar, at most [`filter::MAX_FILTERS`].
fn event_filters(c: &mut Checker, v: &Spanned<Vec<Spanned<String>>>) -> Vec<EventFilter> {
    let list = v.get_ref();
    if list.len() > filter::MAX_FILTERS {
        c.err(
            v.span(),
            format!(
                "`filters` lists {} patterns; an event source mapping takes {} (Lambda's default quota)",
                list.len(),
                filter::MAX_FILTERS
            ),
            Some("combine patterns with `$or`, or request a quota increase and split the consumer".into()),
        );
    }
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for item in list {
        let Some((json, map)) = c.json_in_string(item, "the filter pattern") else {
            continue;
        };
        match filter::compile(&json) {
            Ok(f) => {
                if seen.contains(&f.aws_pattern) {
                    c.err(item.span(), "this filter pattern is listed twice", None);
                    continue;
                }
                seen.push(f.aws_pattern.clone());
                out.push(f);
            }
            Err(problems) => c.problems_in_string(&map, problems),
        }
    }
    out
}

/// A string inside a choice value, spanned at the whole value (inner spans are not kept).
fn at(v: &Spanned<toml::Value>, s: &str) -> Spanned<String> {
    Spanned::new(v.span(), s.to_string())
}

fn stream_target(
    c: &mut Checker,
    v: &Spanned<toml::Value>,
    params: &[&str],
    path: &str,
    streams: &BTreeSet<String>,
) -> StreamTarget {
    match v.get_ref() {
        toml::Value::String(s) => {
            c.reference(&at(v, s), "stream", "streams", streams);
            StreamTarget::Fixed(s.clone())
        }
        toml::Value::Table(t) => {
            for key in t.keys().filter(|k| *k != "path_param" && *k != "allowed") {
                let help =
                    closest(key, ["path_param", "allowed"]).map(|s| format!("did you mean `{s}`?"));
                c.err(
                    v.span(),
                    format!("unknown key `stream.{key}`"),
                    help.or(Some("valid keys: `path_param`, `allowed`".into())),
                );
            }
            let Some(toml::Value::String(param)) = t.get("path_param") else {
                c.err(
                    v.span(),
                    "`stream` as a table needs `path_param = \"<name of a path parameter>\"`",
                    None,
                );
                return StreamTarget::Fixed(String::new());
            };
            param_ref(c, &at(v, param), "stream.path_param", params, path);
            let allowed: BTreeSet<String> = match t.get("allowed") {
                None => {
                    if streams.is_empty() {
                        c.err(
                            v.span(),
                            "the route takes its stream from the path, but the pipeline declares no [streams.*]",
                            None,
                        );
                    }
                    streams.clone()
                }
                Some(toml::Value::Array(items)) if !items.is_empty() => {
                    let mut out = BTreeSet::new();
                    for item in items {
                        match item {
                            toml::Value::String(s) => {
                                if c.reference(&at(v, s), "stream.allowed", "streams", streams) {
                                    out.insert(s.clone());
                                }
                            }
                            other => c.err(
                                v.span(),
                                format!(
                                    "`stream.allowed` holds {other}, but must list stream names"
                                ),
                                None,
                            ),
                        }
                    }
                    out
                }
                Some(_) => {
                    c.err(
                        v.span(),
                        "`stream.allowed` must be a non-empty list of declared stream names (leave it out to allow them all)",
                        None,
                    );
                    BTreeSet::new()
                }
            };
            StreamTarget::PathParam {
                param: param.clone(),
                allowed: allowed.into_iter().collect(),
            }
        }
        _ => {
            c.err(
                v.span(),
                "`stream` must be a declared stream name, or `{ path_param = \"…\" }` (optionally with `allowed = [\"…\"]`)",
                None,
            );
            StreamTarget::Fixed(String::new())
        }
    }
}

/// `partition_key = "request-id"`'s only value.
const PARTITION_KEY_CHOICE: Setting = Setting {
    section: lim::Section::Route,
    key: "partition_key",
    default: lim::DefaultValue::Required,
    limit: Limit::OneOf(&["request-id"]),
    meaning: "",
    bound_by: "",
};

fn partition_key(
    c: &mut Checker,
    v: &Spanned<toml::Value>,
    params: &[&str],
    path: &str,
    stream: &StreamTarget,
) -> PartitionKeySource {
    match v.get_ref() {
        toml::Value::String(s) => {
            c.choice(&at(v, s), &PARTITION_KEY_CHOICE);
            PartitionKeySource::RequestId
        }
        toml::Value::Table(t) => {
            for key in t.keys().filter(|k| *k != "path_param") {
                c.err(
                    v.span(),
                    format!("unknown key `partition_key.{key}`"),
                    Some("valid key: `path_param`".into()),
                );
            }
            let Some(toml::Value::String(param)) = t.get("path_param") else {
                c.err(
                    v.span(),
                    "`partition_key` as a table needs `path_param = \"<name of a path parameter>\"`",
                    None,
                );
                return PartitionKeySource::RequestId;
            };
            param_ref(c, &at(v, param), "partition_key.path_param", params, path);
            if let StreamTarget::PathParam { param: sp, .. } = stream
                && sp == param
            {
                c.err(
                    v.span(),
                    "the partition key and the stream cannot come from the same path parameter",
                    None,
                );
            }
            PartitionKeySource::PathParam(param.clone())
        }
        _ => {
            c.err(
                v.span(),
                "`partition_key` must be `{ path_param = \"…\" }` or the string \"request-id\"",
                None,
            );
            PartitionKeySource::RequestId
        }
    }
}

/// A path with its parameter names erased, so `/a/{x}` and `/a/{y}` compare equal.
fn normalise(segments: &[PathSegment]) -> String {
    segments
        .iter()
        .map(|s| match s {
            PathSegment::Literal(l) => l.as_str(),
            PathSegment::Param(_) => "{}",
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A setting that takes a number in the table's bounds or -1 for "forever", the latter only when
/// `allow_infinite_retries`: `None` when absent (or invalid, after the error), `Some(None)` for forever.
fn finite_or_forever(
    c: &mut Checker<'_>,
    v: &Option<Spanned<i64>>,
    setting: &Setting,
    allow_infinite: bool,
    forever_means: &str,
) -> Option<Option<u32>> {
    let s = v.as_ref()?;
    let (min, max) = setting.bounds();
    match *s.get_ref() {
        -1 => {
            if !allow_infinite {
                c.err(
                    s.span(),
                    format!("`{} = -1` {forever_means}", setting.key),
                    Some(format!(
                        "set {min} to {max}, or add `allow_infinite_retries = true` if you really mean it"
                    )),
                );
            }
            Some(None)
        }
        n if (min..=max).contains(&n) => u32::try_from(n).ok().map(Some),
        n => {
            c.err(
                s.span(),
                format!(
                    "`{}` is {n}, but must be -1 or between {min} and {max} ({})",
                    setting.key, setting.bound_by
                ),
                None,
            );
            None
        }
    }
}

/// `retry_attempts`, typed.
fn retry_attempts(c: &mut Checker<'_>, v: &Option<Spanned<i64>>, allow_infinite: bool) -> Attempts {
    let setting = &lim::RETRY_ATTEMPTS;
    let why = "retries a failing batch forever and blocks its shard";
    match finite_or_forever(c, v, setting, allow_infinite, why) {
        Some(Some(n)) => Attempts::Finite(n),
        Some(None) => Attempts::Forever,
        None => Attempts::Finite(u32::try_from(setting.int_default()).unwrap_or(3)),
    }
}

/// `maximum_record_age_seconds`, typed.
fn record_age(c: &mut Checker<'_>, v: &Option<Spanned<i64>>, allow_infinite: bool) -> RecordAge {
    let setting = &lim::MAXIMUM_RECORD_AGE_SECONDS;
    let why = "keeps retrying records until they expire from the stream";
    match finite_or_forever(c, v, setting, allow_infinite, why) {
        Some(Some(n)) => RecordAge::Seconds(n),
        Some(None) => RecordAge::Forever,
        None => RecordAge::Seconds(u32::try_from(setting.int_default()).unwrap_or(3600)),
    }
}

fn consumers(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawConsumer>>,
    prefix: &str,
    streams: &BTreeSet<String>,
    tables: &BTreeSet<String>,
    queues: &BTreeSet<String>,
) -> BTreeMap<String, Consumer> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        c.name(k, &lim::CONSUMER_NAME, prefix);
        let r = v.get_ref();
        c.reference(&r.stream, "stream", "streams", streams);
        c.reference(&r.table, "table", "tables", tables);
        c.reference(&r.dead_letter_queue, "dead_letter_queue", "queues", queues);
        let allow_infinite = r
            .allow_infinite_retries
            .unwrap_or(lim::ALLOW_INFINITE_RETRIES.bool_default());
        let starting_position =
            match c.choice_or_default(&r.starting_position, &lim::STARTING_POSITION) {
                "TRIM_HORIZON" => StartingPosition::TrimHorizon,
                _ => StartingPosition::Latest,
            };
        out.insert(
            k.get_ref().clone(),
            Consumer {
                name: k.get_ref().clone(),
                function_name: format!("{prefix}{}", k.get_ref()),
                stream: r.stream.get_ref().clone(),
                table: r.table.get_ref().clone(),
                dead_letter_queue: r.dead_letter_queue.get_ref().clone(),
                batch_size: c.uint(&r.batch_size, &lim::BATCH_SIZE),
                batching_window_seconds: c
                    .uint(&r.batching_window_seconds, &lim::BATCHING_WINDOW_SECONDS),
                starting_position,
                retry_attempts: retry_attempts(c, &r.retry_attempts, allow_infinite),
                maximum_record_age: record_age(c, &r.maximum_record_age_seconds, allow_infinite),
                bisect_on_error: r
                    .bisect_on_error
                    .unwrap_or(lim::BISECT_ON_ERROR.bool_default()),
                parallelization_factor: c
                    .uint(&r.parallelization_factor, &lim::PARALLELIZATION_FACTOR),
                filters: r
                    .filters
                    .as_ref()
                    .map(|f| event_filters(c, f))
                    .unwrap_or_default(),
            },
        );
    }
    out
}
