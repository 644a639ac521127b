//! Raw → typed: every check is one small function that pushes errors and carries on, so one run reports
//! every problem it can find. Limits are AWS's own (named in each message).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use super::error::{ConfigError, ConfigErrors, closest, line_col};
use super::raw::*;
use super::*;

/// CloudWatch Logs' allowed retention values.
const LOG_RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// AWS's rule for one kind of name: its characters (as words for the message) and its length.
#[derive(Clone, Copy)]
struct NameRule {
    allowed: fn(char) -> bool,
    rule: &'static str,
    min: usize,
    max: usize,
}

struct Checker<'a> {
    src: &'a str,
    errors: Vec<ConfigError>,
}

impl Checker<'_> {
    fn err(&mut self, span: Range<usize>, message: impl Into<String>, help: Option<String>) {
        let (line, column) = line_col(self.src, span.start);
        self.errors.push(ConfigError {
            message: message.into(),
            span,
            line,
            column,
            help,
        });
    }

    /// An integer within `min..=max`, or `default` when absent.
    fn int(
        &mut self,
        v: &Option<Spanned<i64>>,
        key: &str,
        min: i64,
        max: i64,
        default: i64,
        why: &str,
    ) -> i64 {
        match v {
            None => default,
            Some(s) => {
                let n = *s.get_ref();
                if n < min || n > max {
                    self.err(
                        s.span(),
                        format!("`{key}` is {n}, but must be between {min} and {max} ({why})"),
                        None,
                    );
                    default
                } else {
                    n
                }
            }
        }
    }

    fn log_retention(&mut self, v: &Option<Spanned<i64>>, key: &str, default: i64) -> u32 {
        match v {
            None => default as u32,
            Some(s) if LOG_RETENTION_DAYS.contains(s.get_ref()) => *s.get_ref() as u32,
            Some(s) => {
                let n = *s.get_ref();
                let near = LOG_RETENTION_DAYS
                    .iter()
                    .min_by_key(|d| (**d - n).abs())
                    .copied()
                    .unwrap_or(30);
                self.err(
                    s.span(),
                    format!("`{key}` is {n}, which CloudWatch Logs does not offer"),
                    Some(format!(
                        "allowed values: {LOG_RETENTION_DAYS:?}; the closest is {near}"
                    )),
                );
                default as u32
            }
        }
    }

    /// One of `choices` (matched exactly), with a suggestion when it is not.
    fn choice<'c>(
        &mut self,
        v: &Spanned<String>,
        key: &str,
        choices: &[&'c str],
    ) -> Option<&'c str> {
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
            format!("`{key}` is \"{given}\", which is not a valid value"),
            Some(help),
        );
        None
    }

    /// A name made of `rule.allowed` characters, within `rule.min..=rule.max` characters once prefixed with `prefix`.
    fn name(&mut self, v: &Spanned<String>, what: &str, prefix: &str, rule: &NameRule) {
        let NameRule {
            allowed,
            rule,
            min,
            max,
        } = *rule;
        let name = v.get_ref();
        if let Some(bad) = name.chars().find(|c| !allowed(*c)) {
            self.err(
                v.span(),
                format!("{what} \"{name}\" contains {bad:?}; {rule}"),
                None,
            );
            return;
        }
        let full = prefix.chars().count() + name.chars().count();
        if full < min || full > max {
            let shown = if prefix.is_empty() {
                String::new()
            } else {
                format!(" (as \"{prefix}{name}\" in AWS)")
            };
            self.err(
                v.span(),
                format!(
                    "{what} \"{name}\"{shown} is {full} characters long; AWS allows {min} to {max}"
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

fn is_aws_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}
fn is_queue_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}
fn is_function_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}
fn is_pipeline_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}
fn is_stage_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}
fn is_param_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}
fn is_secret_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)
}
fn is_attr_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'
}
fn is_segment_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~".contains(c)
}

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
        };
    }
    if raw.starts_with("missing field") {
        help = Some("add it; see the README's pipeline.toml reference".to_string());
    }
    ConfigError {
        message: raw,
        span,
        line,
        column,
        help,
    }
}

pub(super) fn compile(src: &str, file: &str) -> Result<Pipeline, ConfigErrors> {
    let raw: RawPipelineFile =
        toml::from_str(src).map_err(|e| ConfigErrors::new(file, src, vec![toml_error(src, &e)]))?;
    let mut c = Checker {
        src,
        errors: Vec::new(),
    };
    let pipeline = build(&mut c, raw);
    if c.errors.is_empty() {
        Ok(pipeline)
    } else {
        c.errors.sort_by_key(|e| (e.span.start, e.message.clone()));
        c.errors.dedup();
        Err(ConfigErrors::new(file, src, c.errors))
    }
}

fn build(c: &mut Checker, raw: RawPipelineFile) -> Pipeline {
    let p = raw.pipeline.get_ref();
    c.name(
        &p.name,
        "pipeline name",
        "",
        &NameRule {
            allowed: is_pipeline_char,
            rule: "use letters, digits and '-'",
            min: 1,
            max: 24,
        },
    );
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
            c.name(
                s,
                "stage name",
                "",
                &NameRule {
                    allowed: is_stage_char,
                    rule: "use letters, digits and '_'",
                    min: 1,
                    max: 128,
                },
            );
            s.get_ref().clone()
        }
        None => "prod".to_string(),
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
            "access_log_retention_days",
            30,
        ),
        throttle_rate_limit: match &p.throttle_rate_limit {
            None => 100.0,
            Some(r) if *r.get_ref() > 0.0 && *r.get_ref() <= 1_000_000.0 => *r.get_ref(),
            Some(r) => {
                c.err(r.span(), format!("`throttle_rate_limit` is {}, but must be above 0 and at most 1000000 requests/s", r.get_ref()), None);
                100.0
            }
        },
        throttle_burst_limit: c.int(
            &p.throttle_burst_limit,
            "throttle_burst_limit",
            1,
            1_000_000,
            200,
            "requests",
        ) as u32,
        manage_api_gateway_account: p.manage_api_gateway_account.unwrap_or(true),
    };

    let auth = raw.auth.as_ref().map(|a| {
        let a = a.get_ref();
        c.choice(&a.kind, "type", &["basic"]);
        let secret_name = match &a.secret_name {
            Some(s) => {
                c.name(
s, "secret name", "", &NameRule { allowed: is_secret_char, rule: "use letters, digits and /_+=.@-", min: 1, max: 512 });
                s.get_ref().clone()
            }
            None => format!("{name}/basic-auth"),
        };
        let username = match &a.username {
            Some(u) => {
                if u.get_ref().is_empty() || u.get_ref().contains(':') || u.get_ref().chars().any(char::is_control) {
                    c.err(u.span(), "`username` must be non-empty and contain no ':' or control characters (HTTP Basic)", None);
                }
                u.get_ref().clone()
            }
            None => "sluice".to_string(),
        };
        BasicAuth {
            secret_name,
            username,
            cache_ttl_seconds: c.int(&a.cache_ttl_seconds, "cache_ttl_seconds", 0, 3600, 300, "API Gateway's authorizer cache limit") as u32,
            password_length: c.int(&a.password_length, "password_length", 16, 4096, 32, "Secrets Manager's random password, 16 at the least") as u32,
            password_version: c.int(&a.password_version, "password_version", 1, i64::from(u32::MAX), 1, "bump it to rotate") as u32,
        }
    });

    let functions = Functions {
        authorizer: function(c, raw.functions.authorizer.as_ref(), 128, 5),
        writer: function(c, raw.functions.writer.as_ref(), 256, 60),
    };

    let streams = streams(c, &raw.streams, &prefix);
    let tables = tables(c, &raw.tables, &prefix);
    let queues = queues(c, &raw.queues, &prefix);
    let stream_names: BTreeSet<String> = raw.streams.keys().map(|k| k.get_ref().clone()).collect();
    let table_names: BTreeSet<String> = raw.tables.keys().map(|k| k.get_ref().clone()).collect();
    let queue_names: BTreeSet<String> = raw.queues.keys().map(|k| k.get_ref().clone()).collect();

    let routes = routes(
        c,
        &raw.routes,
        &stream_names,
        auth.is_some(),
        raw.auth.is_some(),
    );
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
        auth,
        functions,
        streams,
        tables,
        queues,
        routes,
        consumers,
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

fn function(
    c: &mut Checker,
    f: Option<&Spanned<RawFunction>>,
    memory: i64,
    timeout: i64,
) -> FunctionSettings {
    let Some(f) = f else {
        return FunctionSettings {
            architecture: Architecture::X86_64,
            memory_mb: memory as u32,
            timeout_seconds: timeout as u32,
            reserved_concurrency: None,
            log_retention_days: 30,
        };
    };
    let f = f.get_ref();
    let architecture = match &f.architecture {
        None => Architecture::X86_64,
        Some(a) => match c.choice(a, "architecture", &["x86_64", "arm64"]) {
            Some("arm64") => Architecture::Arm64,
            _ => Architecture::X86_64,
        },
    };
    FunctionSettings {
        architecture,
        memory_mb: c.int(
            &f.memory_mb,
            "memory_mb",
            128,
            10240,
            memory,
            "Lambda's memory range, in MB",
        ) as u32,
        timeout_seconds: c.int(
            &f.timeout_seconds,
            "timeout_seconds",
            1,
            900,
            timeout,
            "Lambda's timeout range",
        ) as u32,
        reserved_concurrency: f.reserved_concurrency.as_ref().map(|r| {
            c.int(
                &Some(r.clone()),
                "reserved_concurrency",
                0,
                10000,
                0,
                "Lambda's reserved concurrency",
            ) as u32
        }),
        log_retention_days: c.log_retention(&f.log_retention_days, "log_retention_days", 30),
    }
}

fn streams(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawStream>>,
    prefix: &str,
) -> BTreeMap<String, Stream> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        c.name(
            k,
            "stream name",
            prefix,
            &NameRule {
                allowed: is_aws_name_char,
                rule: "Kinesis allows letters, digits, '-', '_' and '.'",
                min: 1,
                max: 128,
            },
        );
        let s = v.get_ref();
        let on_demand = match &s.mode {
            None => false,
            Some(m) => c.choice(m, "mode", &["provisioned", "on-demand"]) == Some("on-demand"),
        };
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
                shard_count: c.int(
                    &s.shard_count,
                    "shard_count",
                    1,
                    500,
                    1,
                    "Kinesis's default shard quota per stream",
                ) as u32,
            }
        };
        if let Some(arn) = &s.kms_key_arn {
            let a = arn.get_ref();
            if !(a.starts_with("arn:") && (a.contains(":key/") || a.contains(":alias/"))) {
                c.err(arn.span(), format!("`kms_key_arn` is \"{a}\", which is not a KMS key or alias ARN"), Some("e.g. \"arn:aws:kms:eu-west-1:123456789012:key/…\"; leave it out for the AWS-managed key".into()));
            }
        }
        out.insert(
            k.get_ref().clone(),
            Stream {
                name: k.get_ref().clone(),
                physical_name: format!("{prefix}{}", k.get_ref()),
                capacity,
                retention_hours: c.int(
                    &s.retention_hours,
                    "retention_hours",
                    24,
                    8760,
                    24,
                    "Kinesis's retention period",
                ) as u32,
                kms_key_arn: s.kms_key_arn.as_ref().map(|a| a.get_ref().clone()),
            },
        );
    }
    out
}

fn key(c: &mut Checker, k: &Spanned<RawKey>, which: &str) -> KeyAttribute {
    let r = k.get_ref();
    c.name(
        &r.name,
        &format!("{which} attribute name"),
        "",
        &NameRule {
            allowed: is_attr_char,
            rule: "use letters, digits, '_', '-' and '.'",
            min: 1,
            max: 255,
        },
    );
    let kind = match &r.kind {
        None => KeyType::S,
        Some(t) => match c.choice(t, "type", &["S", "N"]) {
            Some("N") => KeyType::N,
            _ => KeyType::S,
        },
    };
    KeyAttribute {
        name: r.name.get_ref().clone(),
        kind,
    }
}

fn tables(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawTable>>,
    prefix: &str,
) -> BTreeMap<String, Table> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        c.name(
            k,
            "table name",
            prefix,
            &NameRule {
                allowed: is_aws_name_char,
                rule: "DynamoDB allows letters, digits, '-', '_' and '.'",
                min: 3,
                max: 255,
            },
        );
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
        for reserved in [
            "payload",
            "receivedAt",
            "requestId",
            "sourceIp",
            "sequenceNumber",
            "shardId",
            "arrivalTime",
        ] {
            if partition_key.name == reserved {
                c.err(t.partition_key.get_ref().name.span(), format!("\"{reserved}\" is an attribute the writer sets itself (see docs/CONTRACTS.md); choose another key name"), None);
            }
        }
        let provisioned = match &t.billing_mode {
            None => false,
            Some(m) => {
                c.choice(m, "billing_mode", &["on-demand", "provisioned"]) == Some("provisioned")
            }
        };
        let billing = if provisioned {
            let mut cap = |v: &Option<Spanned<i64>>, key: &str| match v {
                Some(_) => c.int(v, key, 1, 40000, 1, "DynamoDB's per-table capacity quota") as u32,
                None => {
                    c.err(
                        v_span_or(t.billing_mode.as_ref()),
                        format!(
                            "table \"{}\" is provisioned, so it needs `{key}`",
                            k.get_ref()
                        ),
                        Some(format!("add `{key} = 5`")),
                    );
                    1
                }
            };
            Billing::Provisioned {
                read_capacity: cap(&t.read_capacity, "read_capacity"),
                write_capacity: cap(&t.write_capacity, "write_capacity"),
            }
        } else {
            for (v, key) in [
                (&t.read_capacity, "read_capacity"),
                (&t.write_capacity, "write_capacity"),
            ] {
                if let Some(v) = v {
                    c.err(
                        v.span(),
                        format!(
                            "table \"{}\" is on-demand, so `{key}` does not apply",
                            k.get_ref()
                        ),
                        Some("remove it, or set billing_mode = \"provisioned\"".into()),
                    );
                }
            }
            Billing::OnDemand
        };
        if let Some(ttl) = &t.ttl_attribute {
            c.name(
                ttl,
                "TTL attribute name",
                "",
                &NameRule {
                    allowed: is_attr_char,
                    rule: "use letters, digits, '_', '-' and '.'",
                    min: 1,
                    max: 255,
                },
            );
        }
        out.insert(
            k.get_ref().clone(),
            Table {
                name: k.get_ref().clone(),
                physical_name: format!("{prefix}{}", k.get_ref()),
                partition_key,
                sort_key,
                billing,
                point_in_time_recovery: t.point_in_time_recovery.unwrap_or(true),
                ttl_attribute: t.ttl_attribute.as_ref().map(|s| s.get_ref().clone()),
                deletion_protection: t.deletion_protection.unwrap_or(true),
            },
        );
    }
    out
}

fn v_span_or(v: Option<&Spanned<String>>) -> Range<usize> {
    v.map(|s| s.span()).unwrap_or(0..0)
}

fn queues(
    c: &mut Checker,
    raw: &BTreeMap<Spanned<String>, Spanned<RawQueue>>,
    prefix: &str,
) -> BTreeMap<String, Queue> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        c.name(
            k,
            "queue name",
            prefix,
            &NameRule {
                allowed: is_queue_char,
                rule: "SQS allows letters, digits, '-' and '_'",
                min: 1,
                max: 80,
            },
        );
        out.insert(
            k.get_ref().clone(),
            Queue {
                name: k.get_ref().clone(),
                physical_name: format!("{prefix}{}", k.get_ref()),
                message_retention_seconds: c.int(
                    &v.get_ref().message_retention_seconds,
                    "message_retention_seconds",
                    60,
                    1_209_600,
                    1_209_600,
                    "SQS's retention period, 1 minute to 14 days",
                ) as u32,
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
            if inner.is_empty() || !inner.chars().all(is_param_char) {
                c.err(path.span(), format!("path parameter `{{{inner}}}` must be a non-empty name of letters, digits and '_'"), None);
            } else if !seen.insert(inner.to_string()) {
                c.err(
                    path.span(),
                    format!("path parameter `{{{inner}}}` appears twice in \"{p}\""),
                    None,
                );
            }
            out.push(PathSegment::Param(inner.to_string()));
        } else if seg.contains('{') || seg.contains('}') || !seg.chars().all(is_segment_char) {
            c.err(path.span(), format!("path segment \"{seg}\" must be a literal of letters, digits and -._~ or a whole `{{param}}`"), None);
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
    _declared_auth: bool,
) -> BTreeMap<String, Route> {
    let mut out = BTreeMap::new();
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    // File order, so a conflict is reported at the route written second.
    let mut in_file_order: Vec<_> = raw.iter().collect();
    in_file_order.sort_by_key(|(k, _)| k.span().start);
    for (k, v) in in_file_order {
        c.name(
            k,
            "route name",
            "",
            &NameRule {
                allowed: is_function_char,
                rule: "use letters, digits, '-' and '_'",
                min: 1,
                max: 64,
            },
        );
        let r = v.get_ref();
        let method = match &r.method {
            None => "POST",
            Some(m) => c.choice(m, "method", &["POST", "PUT"]).unwrap_or("POST"),
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
            Some(a) => {
                match c.choice(a, "auth", &["basic", "none"]) {
                    Some("none") => false,
                    _ => {
                        if !has_auth {
                            c.err(a.span(), format!("route \"{}\" uses auth \"basic\", but there is no [auth] section", k.get_ref()), Some("add [auth] with type = \"basic\", or set auth = \"none\"".into()));
                        }
                        true
                    }
                }
            }
        };
        let stream = stream_target(c, &r.stream, &params, r.path.get_ref(), streams);
        let partition_key = partition_key(c, &r.partition_key, &params, r.path.get_ref(), &stream);
        let content_type = match &r.content_type {
            None => "application/json".to_string(),
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
        let path_key = (method.to_string(), normalise(&segments));
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
                method: method.to_string(),
                path: r.path.get_ref().clone(),
                segments,
                auth,
                stream,
                partition_key,
                content_type,
            },
        );
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
                        c.err(v.span(), "the route takes its stream from the path, but the pipeline declares no [streams.*]", None);
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
                    c.err(v.span(), "`stream.allowed` must be a non-empty list of declared stream names (leave it out to allow them all)", None);
                    BTreeSet::new()
                }
            };
            StreamTarget::PathParam {
                param: param.clone(),
                allowed: allowed.into_iter().collect(),
            }
        }
        _ => {
            c.err(v.span(), "`stream` must be a declared stream name, or `{ path_param = \"…\" }` (optionally with `allowed = [\"…\"]`)", None);
            StreamTarget::Fixed(String::new())
        }
    }
}

fn partition_key(
    c: &mut Checker,
    v: &Spanned<toml::Value>,
    params: &[&str],
    path: &str,
    stream: &StreamTarget,
) -> PartitionKeySource {
    match v.get_ref() {
        toml::Value::String(s) => {
            c.choice(&at(v, s), "partition_key", &["request-id"]);
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
                c.err(v.span(), "`partition_key` as a table needs `path_param = \"<name of a path parameter>\"`", None);
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
        c.name(
            k,
            "consumer name",
            prefix,
            &NameRule {
                allowed: is_function_char,
                rule: "Lambda function names allow letters, digits, '-' and '_'",
                min: 1,
                max: 64,
            },
        );
        let r = v.get_ref();
        c.reference(&r.stream, "stream", "streams", streams);
        c.reference(&r.table, "table", "tables", tables);
        c.reference(&r.dead_letter_queue, "dead_letter_queue", "queues", queues);
        let allow_infinite = r.allow_infinite_retries.unwrap_or(false);
        let retry_attempts = c.int(
            &r.retry_attempts,
            "retry_attempts",
            -1,
            10000,
            3,
            "-1 is infinite",
        ) as i32;
        if retry_attempts == -1
            && !allow_infinite
            && let Some(s) = &r.retry_attempts
        {
            c.err(s.span(), "`retry_attempts = -1` retries a failing batch forever and blocks its shard", Some("set a finite number, or add `allow_infinite_retries = true` if you really mean it".into()));
        }
        let max_age = match &r.maximum_record_age_seconds {
            None => 3600,
            Some(s) => {
                let n = *s.get_ref();
                if n == -1 {
                    if !allow_infinite {
                        c.err(s.span(), "`maximum_record_age_seconds = -1` keeps retrying records until they expire from the stream", Some("set 60 to 604800, or add `allow_infinite_retries = true` if you really mean it".into()));
                    }
                    -1
                } else if !(60..=604_800).contains(&n) {
                    c.err(s.span(), format!("`maximum_record_age_seconds` is {n}, but must be -1 or between 60 and 604800 (Lambda's limit)"), None);
                    3600
                } else {
                    n as i32
                }
            }
        };
        let starting_position = match &r.starting_position {
            None => StartingPosition::Latest,
            Some(s) => match c.choice(s, "starting_position", &["LATEST", "TRIM_HORIZON"]) {
                Some("TRIM_HORIZON") => StartingPosition::TrimHorizon,
                _ => StartingPosition::Latest,
            },
        };
        out.insert(
            k.get_ref().clone(),
            Consumer {
                name: k.get_ref().clone(),
                function_name: format!("{prefix}{}", k.get_ref()),
                stream: r.stream.get_ref().clone(),
                table: r.table.get_ref().clone(),
                dead_letter_queue: r.dead_letter_queue.get_ref().clone(),
                batch_size: c.int(
                    &r.batch_size,
                    "batch_size",
                    1,
                    10000,
                    100,
                    "Lambda's limit for Kinesis",
                ) as u32,
                batching_window_seconds: c.int(
                    &r.batching_window_seconds,
                    "batching_window_seconds",
                    0,
                    300,
                    0,
                    "Lambda's maximum batching window",
                ) as u32,
                starting_position,
                retry_attempts,
                maximum_record_age_seconds: max_age,
                bisect_on_error: r.bisect_on_error.unwrap_or(true),
                parallelization_factor: c.int(
                    &r.parallelization_factor,
                    "parallelization_factor",
                    1,
                    10,
                    1,
                    "Lambda's limit",
                ) as u32,
            },
        );
    }
    out
}
