//! Every key of `pipeline.toml`, once: its section, default, limits and one-line meaning, and the naming
//! rules of each kind of name. The checks of `compile` read their bounds, choices and defaults from here,
//! and [`crate::reference_markdown`] renders the README's "pipeline.toml reference" from the same table,
//! so the two cannot disagree (`cargo xtask gen --check` fails when the README is stale).

/// Where a key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Pipeline,
    Auth,
    Functions,
    Stream,
    Table,
    Queue,
    Route,
    Consumer,
    Waf,
    Alerts,
    Backend,
}

impl Section {
    /// Every section, in the order of the reference.
    pub const ALL: [Section; 11] = [
        Section::Pipeline,
        Section::Waf,
        Section::Alerts,
        Section::Auth,
        Section::Functions,
        Section::Stream,
        Section::Table,
        Section::Queue,
        Section::Route,
        Section::Consumer,
        Section::Backend,
    ];

    /// The reference's heading for the section.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Pipeline => "`[pipeline]`",
            Section::Waf => "`[waf]` — AWS WAF in front of the stage (none without this section)",
            Section::Alerts => {
                "`[alerts]` — who the alarms notify (docs/ALARMS.md lists the alarms); without it, the alarms publish to a topic nobody is subscribed to yet"
            }
            Section::Auth => "`[auth]`",
            Section::Functions => {
                "`[functions.authorizer]`, `[functions.writer]` (the stock functions), `[functions.<name>]` (your own consumer functions, docs/CONSUMERS.md)"
            }
            Section::Stream => "`[streams.<Name>]` — Kinesis streams",
            Section::Table => "`[tables.<Name>]` — DynamoDB tables",
            Section::Queue => {
                "`[queues.<Name>]` — SQS dead-letter queues (encrypted with SQS-managed keys, or `kms_key`)"
            }
            Section::Route => "`[routes.<name>]` — HTTP routes",
            Section::Consumer => {
                "`[consumers.<name>]` — Lambda consumers (one writer function each)"
            }
            Section::Backend => {
                "`[terraform.backend]` — where Terraform keeps the stack's state: an S3 bucket (`gen` renders `backend.tf`); without it, `terraform.tfstate` in the generated folder, on the machine that applies"
            }
        }
    }
}

/// A key's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// The key must be given.
    Required,
    /// Absent means "none" (e.g. no reserved concurrency).
    Absent,
    Int(i64),
    /// A different default for the authorizer and the writer function.
    PerFunction {
        authorizer: i64,
        writer: i64,
    },
    Float(f64),
    Bool(bool),
    /// A string value, shown quoted.
    Str(&'static str),
    /// Described in words (e.g. derived from other keys).
    Text(&'static str),
}

/// What values a key takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// An integer in `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    /// An integer in `min..=max`, or -1 for "forever" (only with `allow_infinite_retries = true`).
    IntOrForever {
        min: i64,
        max: i64,
    },
    /// A number above 0 and at most `max`.
    Positive {
        max: f64,
    },
    /// One of these strings, exactly.
    OneOf(&'static [&'static str]),
    /// One of CloudWatch Logs' retention values ([`LOG_RETENTION_DAYS`]).
    LogRetentionDays,
    Bool,
    /// Described in words.
    Text(&'static str),
}

/// One key of `pipeline.toml`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    pub section: Section,
    pub key: &'static str,
    pub default: DefaultValue,
    pub limit: Limit,
    /// One line for the reference.
    pub meaning: &'static str,
    /// Whose limit the bounds are, for error messages ("Lambda's limit for Kinesis").
    pub bound_by: &'static str,
}

impl Setting {
    /// The integer default (the writer's, for per-function defaults); 0 when the key has none.
    pub fn int_default(&self) -> i64 {
        match self.default {
            DefaultValue::Int(n) => n,
            DefaultValue::PerFunction { writer, .. } => writer,
            _ => 0,
        }
    }

    /// The boolean default; `false` when the key has none.
    pub fn bool_default(&self) -> bool {
        matches!(self.default, DefaultValue::Bool(true))
    }

    /// The bounds of an integer key.
    pub fn bounds(&self) -> (i64, i64) {
        match self.limit {
            Limit::Int { min, max } | Limit::IntOrForever { min, max } => (min, max),
            _ => (i64::MIN, i64::MAX),
        }
    }

    /// The choices of a key that takes one of a list.
    pub fn choices(&self) -> &'static [&'static str] {
        match self.limit {
            Limit::OneOf(c) => c,
            _ => &[],
        }
    }
}

/// CloudWatch Logs' allowed retention values, in days.
pub const LOG_RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// AWS's rule for one kind of name: its characters and its length once prefixed.
#[derive(Debug, Clone, Copy)]
pub struct NameRule {
    /// What is named ("stream name").
    pub what: &'static str,
    pub allowed: fn(char) -> bool,
    /// The allowed characters in words, for messages and the reference.
    pub rule: &'static str,
    pub min: usize,
    pub max: usize,
    /// Whether the name is prefixed with `pipeline.name` and `-` in AWS.
    pub prefixed: bool,
}

fn is_aws_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}
fn is_dash_underscore_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}
fn is_pipeline_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}
fn is_underscore_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}
fn is_secret_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)
}
fn is_attr_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'
}

/// Characters of a literal path segment.
pub fn is_segment_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~".contains(c)
}

/// Characters of a path parameter name.
pub fn is_param_char(c: char) -> bool {
    is_underscore_char(c)
}

pub const PIPELINE_NAME: NameRule = NameRule {
    what: "pipeline name",
    allowed: is_pipeline_char,
    rule: "use letters, digits and '-'",
    min: 1,
    max: 24,
    prefixed: false,
};
pub const STAGE_NAME: NameRule = NameRule {
    what: "stage name",
    allowed: is_underscore_char,
    rule: "use letters, digits and '_'",
    min: 1,
    max: 128,
    prefixed: false,
};
pub const SECRET_NAME: NameRule = NameRule {
    what: "secret name",
    allowed: is_secret_char,
    rule: "use letters, digits and /_+=.@-",
    min: 1,
    max: 512,
    prefixed: false,
};
pub const STREAM_NAME: NameRule = NameRule {
    what: "stream name",
    allowed: is_aws_name_char,
    rule: "Kinesis allows letters, digits, '-', '_' and '.'",
    min: 1,
    max: 128,
    prefixed: true,
};
pub const TABLE_NAME: NameRule = NameRule {
    what: "table name",
    allowed: is_aws_name_char,
    rule: "DynamoDB allows letters, digits, '-', '_' and '.'",
    min: 3,
    max: 255,
    prefixed: true,
};
pub const QUEUE_NAME: NameRule = NameRule {
    what: "queue name",
    allowed: is_dash_underscore_char,
    rule: "SQS allows letters, digits, '-' and '_'",
    min: 1,
    max: 80,
    prefixed: true,
};
pub const ROUTE_NAME: NameRule = NameRule {
    what: "route name",
    allowed: is_dash_underscore_char,
    rule: "use letters, digits, '-' and '_'",
    min: 1,
    max: 64,
    prefixed: false,
};
pub const CONSUMER_NAME: NameRule = NameRule {
    what: "consumer name",
    allowed: is_dash_underscore_char,
    rule: "Lambda function names allow letters, digits, '-' and '_'",
    min: 1,
    max: 64,
    prefixed: true,
};
pub const FUNCTION_NAME: NameRule = NameRule {
    what: "function name",
    allowed: is_dash_underscore_char,
    rule: "use letters, digits, '-' and '_' (it names the cargo bin and target/lambda/<name>/)",
    min: 1,
    max: 64,
    prefixed: false,
};
pub const ATTRIBUTE_NAME: NameRule = NameRule {
    what: "attribute name",
    allowed: is_attr_char,
    rule: "use letters, digits, '_', '-' and '.'",
    min: 1,
    max: 255,
    prefixed: false,
};

/// The name rule that applies to the names of a section's components, if they are named.
pub fn name_rule(section: Section) -> Option<&'static NameRule> {
    match section {
        Section::Stream => Some(&STREAM_NAME),
        Section::Table => Some(&TABLE_NAME),
        Section::Queue => Some(&QUEUE_NAME),
        Section::Route => Some(&ROUTE_NAME),
        Section::Consumer => Some(&CONSUMER_NAME),
        _ => None,
    }
}

macro_rules! settings {
    ($($name:ident = $section:ident $key:literal, $default:expr, $limit:expr, $meaning:literal, $bound_by:literal;)*) => {
        $(
            pub const $name: Setting = Setting {
                section: Section::$section,
                key: $key,
                default: $default,
                limit: $limit,
                meaning: $meaning,
                bound_by: $bound_by,
            };
        )*
        /// Every key, in the order of the reference.
        pub const SETTINGS: &[Setting] = &[$($name),*];
    };
}

use DefaultValue as D;
use Limit as L;

settings! {
    PIPELINE_NAME_KEY = Pipeline "name", D::Required,
        L::Text("letters, digits, `-`; starts with a letter; 1–24 characters"),
        "prefix of every AWS name", "";
    REGION = Pipeline "region", D::Required, L::Text("an AWS region name, e.g. `us-east-1`"),
        "default of the Terraform `region` variable", "";
    STAGE = Pipeline "stage", D::Str("prod"), L::Text("letters, digits, `_`"),
        "API Gateway stage and first URL segment", "";
    TAGS = Pipeline "tags", D::Text("`{}`"),
        L::Text("keys 1–128 characters, not `aws:`; values ≤ 256"),
        "table of tags applied to every resource", "";
    ACCESS_LOG_RETENTION_DAYS = Pipeline "access_log_retention_days", D::Int(30), L::LogRetentionDays,
        "retention of the API's JSON access logs", "";
    THROTTLE_RATE_LIMIT = Pipeline "throttle_rate_limit", D::Float(100.0), L::Positive { max: 1_000_000.0 },
        "stage-wide steady requests/s", "requests/s";
    THROTTLE_BURST_LIMIT = Pipeline "throttle_burst_limit", D::Int(200), L::Int { min: 1, max: 1_000_000 },
        "stage-wide burst", "requests";
    MANAGE_API_GATEWAY_ACCOUNT = Pipeline "manage_api_gateway_account", D::Bool(true), L::Bool,
        "manage the region-wide API Gateway CloudWatch role access logs need; set `false` if something else manages it", "";
    KMS_KEY = Pipeline "kms_key", D::Str("aws-managed"),
        L::Text("`\"aws-managed\"`, `\"create\"`, or a KMS key ARN (`arn:…:key/…`) in the pipeline's region"),
        "the key encrypting the streams, queues, tables, credentials secret and log groups: AWS-managed keys, one key Terraform creates (rotated yearly), or yours (its policy must let CloudWatch Logs use it)", "";
    XRAY_TRACING = Pipeline "xray_tracing", D::Bool(false), L::Bool,
        "X-Ray tracing of the API stage and the functions (billed per trace)", "";

    WAF_RATE_LIMIT = Waf "rate_limit", D::Int(2000), L::Int { min: 10, max: 2_000_000_000 },
        "requests one source IP may send in any 5 minutes; above it WAF answers 429 `Throttled` until the rate falls", "AWS WAF's rate-based rule limit";

    ALERT_EMAILS = Alerts "emails", D::Text("`[]`"),
        L::Text("e-mail addresses, each once"),
        "subscribed to the alarms' topic (each address confirms the subscription from the e-mail SNS sends it)", "";
    SNS_TOPIC_ARN = Alerts "sns_topic_arn", D::Text("none: the stack creates a KMS-encrypted topic"),
        L::Text("a standard SNS topic ARN (`arn:aws:sns:<region>:<account>:<name>`)"),
        "publish to this existing topic instead; its policy must let `cloudwatch.amazonaws.com` publish, and its key (if any) must let CloudWatch use it", "";

    BACKEND_BUCKET = Backend "bucket", D::Required, L::Text("an S3 bucket name (3–63 of `a-z 0-9 . -`)"),
        "the bucket holding the state; it must exist (versioning on, so a bad apply can be rolled back)", "";
    BACKEND_KEY = Backend "key", D::Text("`\"<name>/terraform.tfstate\"`"), L::Text("an S3 object key, no leading `/`"),
        "the state's object key", "";
    BACKEND_REGION = Backend "region", D::Text("the pipeline's `region`"), L::Text("an AWS region name"),
        "the bucket's region", "";
    BACKEND_USE_LOCKFILE = Backend "use_lockfile", D::Bool(true), L::Bool,
        "lock the state with an S3 lock file (Terraform ≥ 1.10) so two applies never interleave", "";
    BACKEND_DYNAMODB_TABLE = Backend "dynamodb_table", D::Absent, L::Text("a DynamoDB table name"),
        "lock with this table instead (Terraform's older locking; its partition key must be `LockID`)", "";

    AUTH_TYPE = Auth "type", D::Required, L::OneOf(&["basic"]),
        "HTTP Basic, checked by the authorizer Lambda", "";
    SECRET_NAME_KEY = Auth "secret_name", D::Text("`\"<name>/basic-auth\"`"),
        L::Text("letters, digits, `/_+=.@-`; ≤ 512"), "Secrets Manager name of the credentials", "";
    USERNAME = Auth "username", D::Str("sluice"), L::Text("no `:`, no control characters"),
        "the Basic username", "";
    CACHE_TTL_SECONDS = Auth "cache_ttl_seconds", D::Int(300), L::Int { min: 0, max: 3600 },
        "API Gateway's authorizer result cache (0 = off)", "API Gateway's authorizer cache limit";
    PASSWORD_LENGTH = Auth "password_length", D::Int(32), L::Int { min: 16, max: 4096 },
        "length of the password Terraform generates", "Secrets Manager's random password, 16 at the least";
    PASSWORD_VERSION = Auth "password_version", D::Int(1), L::Int { min: 1, max: 4_294_967_295 },
        "bump to rotate the password", "bump it to rotate";
    PREVIOUS_PASSWORD_GRACE_SECONDS = Auth "previous_password_grace_seconds", D::Int(3600), L::Int { min: 0, max: 604_800 },
        "how long after a rotation the previous password is still accepted, from the new version's creation (0 = never; see the README's rotation timeline)", "0 to a week";

    FUNCTION_CRATE = Functions "crate", D::Text("required for `[functions.<name>]`; not allowed for `authorizer`, `writer`"),
        L::Text("a cargo package folder relative to pipeline.toml whose bin is named after the function (`cargo xtask new function <name>` makes one)"),
        "the crate `cargo xtask build` builds the function from; its defaults are the writer's", "";
    ARCHITECTURE = Functions "architecture", D::Str("x86_64"), L::OneOf(&["x86_64", "arm64"]),
        "the functions' CPU architecture (arm64 needs `rustup target add aarch64-unknown-linux-gnu`)", "";
    MEMORY_MB = Functions "memory_mb", D::PerFunction { authorizer: 128, writer: 256 }, L::Int { min: 128, max: 10240 },
        "memory (and so CPU) of the function", "Lambda's memory range, in MB";
    TIMEOUT_SECONDS = Functions "timeout_seconds", D::PerFunction { authorizer: 5, writer: 60 }, L::Int { min: 1, max: 900 },
        "the function's timeout", "Lambda's timeout range";
    RESERVED_CONCURRENCY = Functions "reserved_concurrency", D::PerFunction { authorizer: 20, writer: -1 }, L::Int { min: -1, max: 10000 },
        "concurrency kept for the function alone (and its ceiling); -1 = unreserved. The authorizer's 20 keeps other functions from starving logins; an account whose concurrency quota is too low to reserve (new accounts) needs -1", "Lambda's reserved concurrency, or -1 for unreserved";
    FUNCTION_LOG_RETENTION_DAYS = Functions "log_retention_days", D::Int(30), L::LogRetentionDays,
        "retention of the function's log group", "";

    STREAM_MODE = Stream "mode", D::Str("provisioned"), L::OneOf(&["provisioned", "on-demand"]),
        "capacity mode", "";
    SHARD_COUNT = Stream "shard_count", D::Int(1), L::Int { min: 1, max: 500 },
        "shards of a provisioned stream (not allowed on-demand)", "Kinesis's default shard quota per stream";
    RETENTION_HOURS = Stream "retention_hours", D::Int(24), L::Int { min: 24, max: 8760 },
        "how long records stay readable", "Kinesis's retention period";
    STREAM_KMS_KEY_ARN = Stream "kms_key_arn", D::Text("the pipeline's `kms_key`; with `\"aws-managed\"`, `alias/aws/kinesis`"),
        L::Text("a KMS key or alias ARN"), "the stream is always encrypted", "";

    PARTITION_KEY = Table "partition_key", D::Required,
        L::Text("`{ name = \"...\", type = \"S\" \\| \"N\" }` (type defaults to `S`)"),
        "filled from the route's partition key", "";
    SORT_KEY = Table "sort_key", D::Absent, L::Text("same shape"),
        "filled from the body member of the same name", "";
    BILLING_MODE = Table "billing_mode", D::Str("on-demand"), L::OneOf(&["on-demand", "provisioned"]),
        "capacity mode", "";
    READ_CAPACITY = Table "read_capacity", D::Text("required when provisioned"), L::Int { min: 1, max: 40000 },
        "read units (not allowed on-demand)", "DynamoDB's per-table capacity quota";
    WRITE_CAPACITY = Table "write_capacity", D::Text("required when provisioned"), L::Int { min: 1, max: 40000 },
        "write units (not allowed on-demand)", "DynamoDB's per-table capacity quota";
    POINT_IN_TIME_RECOVERY = Table "point_in_time_recovery", D::Bool(true), L::Bool,
        "continuous backups", "";
    TTL_ATTRIBUTE = Table "ttl_attribute", D::Absent, L::Text("an attribute name"),
        "attribute holding an epoch-seconds expiry", "";
    DELETION_PROTECTION = Table "deletion_protection", D::Bool(true), L::Bool,
        "the shipped file sets `false` so a trial can be destroyed", "";

    MESSAGE_RETENTION_SECONDS = Queue "message_retention_seconds", D::Int(1_209_600), L::Int { min: 60, max: 1_209_600 },
        "how long a dead letter is kept", "SQS's retention period, 1 minute to 14 days";

    METHOD = Route "method", D::Str("POST"), L::OneOf(&["POST", "PUT"]),
        "the HTTP method", "";
    PATH = Route "path", D::Required,
        L::Text("starts with `/`; literal segments or whole `{param}` segments"),
        "served under `/<stage>`", "";
    ROUTE_AUTH = Route "auth", D::Text("`\"basic\"` if `[auth]` exists, else `\"none\"`"), L::OneOf(&["basic", "none"]),
        "whether the authorizer guards the route", "";
    ROUTE_STREAM = Route "stream", D::Required,
        L::Text("a declared stream name, or `{ path_param = \"streamName\", allowed = [...] }`"),
        "`allowed` defaults to every declared stream; any other name is a 404 at the gateway", "";
    ROUTE_PARTITION_KEY = Route "partition_key", D::Required,
        L::Text("`{ path_param = \"eventId\" }` or `\"request-id\"`"),
        "becomes the Kinesis partition key and the table's partition key", "";
    CONTENT_TYPE = Route "content_type", D::Str("application/json"),
        L::Text("`application/json` or `application/…+json`"), "other types get 415", "";
    ROUTE_SCHEMA = Route "schema", D::Text("none (any JSON object)"),
        L::Text("a JSON Schema file next to pipeline.toml (`\"schemas/submit.json\"`), or the schema as JSON text (a string starting with `{`); draft 4 as API Gateway enforces it (see below)"),
        "the request body's model: API Gateway and `cargo xtask dev` refuse other bodies with 400 `BadRequestBody`, saying what is wrong", "";
    ROUTE_EXAMPLE = Route "example", D::Text("derived from `schema` (required members, first enum values, minimums); `{\"message\":\"hello\"}` without one"),
        L::Text("a JSON object as text (`'{\"who\": \"me\"}'`) that `schema` accepts"),
        "the body `cargo xtask send`, `smoke-test` and the dev \"try\" line send on this route", "";

    CONSUMER_STREAM = Consumer "stream", D::Required, L::Text("a declared stream"), "the stream read", "";
    CONSUMER_TABLE = Consumer "table", D::Text("required without `function`"), L::Text("a declared table"), "the table the stock writer writes", "";
    CONSUMER_FUNCTION = Consumer "function", D::Text("none: the stock writer"), L::Text("a `[functions.<name>]` with a `crate`"),
        "your function instead of the stock writer (deployed as this consumer's function, with the function's settings)", "";
    CONSUMER_TABLES = Consumer "tables", D::Text("required with `function`"), L::Text("declared tables, at least one"),
        "the tables the function may write (its IAM policy allows exactly these)", "";
    DEAD_LETTER_QUEUE = Consumer "dead_letter_queue", D::Required, L::Text("a declared queue"),
        "on-failure destination and poison-record queue", "";
    BATCH_SIZE = Consumer "batch_size", D::Int(100), L::Int { min: 1, max: 10000 },
        "records per invocation, at most", "Lambda's limit for Kinesis";
    BATCHING_WINDOW_SECONDS = Consumer "batching_window_seconds", D::Int(0), L::Int { min: 0, max: 300 },
        "how long to gather records before invoking", "Lambda's maximum batching window";
    STARTING_POSITION = Consumer "starting_position", D::Str("LATEST"), L::OneOf(&["LATEST", "TRIM_HORIZON"]),
        "where a new mapping starts reading", "";
    RETRY_ATTEMPTS = Consumer "retry_attempts", D::Int(3), L::IntOrForever { min: 0, max: 10000 },
        "retries of a failing batch before it goes to the dead-letter queue", "Lambda's limit";
    MAXIMUM_RECORD_AGE_SECONDS = Consumer "maximum_record_age_seconds", D::Int(3600), L::IntOrForever { min: 60, max: 604_800 },
        "records older than this go to the dead-letter queue unprocessed", "Lambda's limit";
    ALLOW_INFINITE_RETRIES = Consumer "allow_infinite_retries", D::Bool(false), L::Bool,
        "opt in to -1 above", "";
    BISECT_ON_ERROR = Consumer "bisect_on_error", D::Bool(true), L::Bool,
        "split a failing batch to isolate the bad record", "";
    PARALLELIZATION_FACTOR = Consumer "parallelization_factor", D::Int(1), L::Int { min: 1, max: 10 },
        "concurrent batches per shard (order kept per partition key)", "Lambda's limit";
    FILTERS = Consumer "filters", D::Text("none (every record)"),
        L::Text("at most 5 (Lambda's default quota) JSON patterns, each at most 4096 characters as AWS takes it"),
        "the event source mapping's filter criteria: only records one pattern matches are delivered; the others are skipped and checkpointed past (see below)", "";
}

/// The settings of one section, in the order of the reference.
pub fn settings_of(section: Section) -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().filter(move |s| s.section == section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_per_section_and_defaults_within_limits() {
        let mut seen = std::collections::BTreeSet::new();
        for s in SETTINGS {
            assert!(seen.insert((s.section, s.key)), "{} twice", s.key);
            let (min, max) = s.bounds();
            match s.default {
                DefaultValue::Int(n) => assert!((min..=max).contains(&n), "{} default", s.key),
                DefaultValue::PerFunction { authorizer, writer } => {
                    assert!((min..=max).contains(&authorizer) && (min..=max).contains(&writer));
                }
                DefaultValue::Str(v) if !s.choices().is_empty() => {
                    assert!(s.choices().contains(&v), "{} default {v}", s.key);
                }
                _ => {}
            }
            if matches!(s.limit, Limit::LogRetentionDays) {
                assert!(LOG_RETENTION_DAYS.contains(&s.int_default()));
            }
        }
        for section in Section::ALL {
            assert!(
                settings_of(section).next().is_some(),
                "{section:?} is empty"
            );
        }
    }
}
