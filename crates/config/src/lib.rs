//! `pipeline.toml`: the typed model every generator and the local runtime use, and [`load`], which reads,
//! validates (collecting every error it can, each with file:line:col) and compiles it.
//!
//! Two stages, as in vector's config compiler: serde reads the raw model (`raw`), keeping spans, and keeps
//! going past structural errors so that they are all reported together; `compile` checks names, limits and
//! references against the one table of settings ([`settings`]) and builds this model. Generators never see
//! TOML.

pub mod capacity;
mod compile;
pub use compile::OVERRIDABLE;
mod error;
pub mod filter;
pub mod json;
pub mod layout;
pub mod names;
pub mod problem;
mod raw;
mod reference;
pub mod schema;
pub mod settings;

use std::collections::BTreeMap;
use std::path::Path;

pub use error::{ConfigError, ConfigErrors, ConfigWarnings};
pub use filter::EventFilter;
pub use layout::{LAMBDA_DIR, project_root};
pub use reference::reference_markdown;
pub use sluice_contract::{KeyAttribute, KeyType};

/// The whole pipeline, validated. Maps are keyed (and so sorted) by the logical names of pipeline.toml.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Prefix of every AWS name the pipeline creates.
    pub name: String,
    /// Default AWS region (a Terraform variable default; nothing hard-codes it).
    pub region: String,
    /// API Gateway stage, also the first path segment of every URL.
    pub stage: String,
    pub tags: BTreeMap<String, String>,
    pub api: ApiSettings,
    /// The key encrypting everything the pipeline stores.
    pub kms_key: KmsKey,
    /// X-Ray tracing of the stage and the functions.
    pub xray_tracing: bool,
    /// AWS WAF in front of the stage, when `[waf]` is present.
    pub waf: Option<Waf>,
    /// Who the alarms notify (`[alerts]`; without it, a topic nobody is subscribed to yet).
    pub alerts: Alerts,
    pub auth: Option<BasicAuth>,
    pub functions: Functions,
    pub streams: BTreeMap<String, Stream>,
    pub tables: BTreeMap<String, Table>,
    pub queues: BTreeMap<String, Queue>,
    pub routes: BTreeMap<String, Route>,
    pub consumers: BTreeMap<String, Consumer>,
    /// Where Terraform keeps the state (`[terraform.backend]`); `None`: locally, in the generated folder.
    pub backend: Option<S3Backend>,
    /// The environment this is (`[environments.NAME]` merged in), or `None` for the base pipeline.
    pub environment: Option<String>,
    /// Every environment pipeline.toml declares, sorted.
    pub environments: Vec<String>,
}

/// Terraform's S3 backend (`[terraform.backend]`), rendered as `backend.tf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Backend {
    pub bucket: String,
    pub key: String,
    pub region: String,
    pub use_lockfile: bool,
    pub dynamodb_table: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiSettings {
    pub access_log_retention_days: u32,
    pub throttle_rate_limit: f64,
    pub throttle_burst_limit: u32,
    /// Whether to manage the account-wide API Gateway CloudWatch role (needed once per region for access logs).
    pub manage_api_gateway_account: bool,
}

/// `[pipeline] kms_key`: which KMS key encrypts the streams, queues, tables, secret and log groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsKey {
    /// Each service's AWS-managed (or service-owned) key.
    AwsManaged,
    /// One customer-managed key that Terraform creates, with yearly rotation.
    Create,
    /// The user's customer-managed key (a key ARN).
    Arn(String),
}

/// `[waf]`: a WAFv2 web ACL on the stage with a rate-based rule per source IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waf {
    /// Requests one source IP may send in any 5 minutes.
    pub rate_limit: u32,
}

/// `[alerts]`: where every alarm (and its return to OK) is published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alerts {
    /// Addresses subscribed to the topic (each confirms by e-mail before it receives anything).
    pub emails: Vec<String>,
    /// An existing SNS topic to publish to; `None`: the generated stack creates one, KMS-encrypted.
    pub sns_topic_arn: Option<String>,
}

/// HTTP Basic auth checked by the authorizer Lambda against one Secrets Manager secret.
#[derive(Debug, Clone, PartialEq)]
pub struct BasicAuth {
    pub secret_name: String,
    pub username: String,
    /// API Gateway's authorizer result cache TTL (0 disables it).
    pub cache_ttl_seconds: u32,
    pub password_length: u32,
    /// Bump to rotate the password (Terraform's `secret_string_wo_version`).
    pub password_version: u32,
    /// How long after a rotation the previous password is still accepted, counted from the creation of the
    /// current version (0 = never). The authorizer gets it as `PREVIOUS_PASSWORD_GRACE_SECONDS`.
    pub previous_password_grace_seconds: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    /// Lambda's name for it.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
    /// The Rust target triple cargo-lambda builds for it.
    pub fn rust_target(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64-unknown-linux-gnu",
            Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSettings {
    pub architecture: Architecture,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    /// `None`: unreserved (the account's shared pool).
    pub reserved_concurrency: Option<u32>,
    pub log_retention_days: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Functions {
    pub authorizer: FunctionSettings,
    pub writer: FunctionSettings,
    /// The user's functions (`[functions.<name>]` with a `crate`), by name.
    pub custom: BTreeMap<String, CustomFunction>,
}

/// A user's consumer function: the cargo package it is built from and its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomFunction {
    /// Its name in pipeline.toml: the cargo bin and `target/lambda/<name>/`.
    pub name: String,
    /// The package's folder as written (relative to pipeline.toml's folder).
    pub crate_path: String,
    /// The package's folder, resolved from pipeline.toml's folder.
    pub crate_dir: std::path::PathBuf,
    /// The package's name (its `Cargo.toml`).
    pub package: String,
    pub settings: FunctionSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub name: String,
    /// `{pipeline.name}-{name}`.
    pub physical_name: String,
    pub capacity: StreamCapacity,
    pub retention_hours: u32,
    /// `None`: the AWS-managed key `alias/aws/kinesis`.
    pub kms_key_arn: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamCapacity {
    Provisioned { shard_count: u32 },
    OnDemand,
}

impl Stream {
    /// Shards the stream has: its shard count, or for an on-demand stream the shards it starts with on AWS
    /// (the local runtime gives it as many).
    pub fn shard_count(&self) -> u32 {
        match self.capacity {
            StreamCapacity::Provisioned { shard_count } => shard_count,
            StreamCapacity::OnDemand => sluice_contract::limits::ON_DEMAND_INITIAL_SHARDS,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    OnDemand,
    Provisioned {
        read_capacity: u32,
        write_capacity: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: String,
    pub physical_name: String,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
    pub billing: Billing,
    pub point_in_time_recovery: bool,
    pub ttl_attribute: Option<String>,
    pub deletion_protection: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    pub name: String,
    pub physical_name: String,
    pub message_retention_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Literal(String),
    Param(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamTarget {
    /// Always this declared stream.
    Fixed(String),
    /// Taken from a path parameter, restricted to `allowed` (declared streams, sorted).
    PathParam { param: String, allowed: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionKeySource {
    PathParam(String),
    RequestId,
}

/// The HTTP methods a route may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HttpMethod {
    Post,
    Put,
}

impl HttpMethod {
    /// Every method a route may use, as written in pipeline.toml.
    pub const ALL: [HttpMethod; 2] = [HttpMethod::Post, HttpMethod::Put];

    /// The method's name, upper case (`POST`).
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
        }
    }
}

impl std::fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub name: String,
    pub method: HttpMethod,
    /// As written, e.g. `/submit/{streamName}/{eventId}`.
    pub path: String,
    pub segments: Vec<PathSegment>,
    pub auth: bool,
    pub stream: StreamTarget,
    pub partition_key: PartitionKeySource,
    pub content_type: String,
    /// The request body's JSON Schema (checked to be one API Gateway enforces as the local gateway does);
    /// `None`: any JSON object.
    pub schema: Option<RequestSchema>,
    /// The route's `example` body, as written (checked against `schema` when loaded).
    pub example: Option<serde_json::Value>,
}

/// A route's request schema.
/// The body of a route without `example` or `schema`: `{"message":"hello"}`.
pub fn default_example() -> serde_json::Value {
    serde_json::json!({"message": "hello"})
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestSchema {
    /// The schema as the OpenAPI document carries it (draft 4, without `$schema`).
    pub value: serde_json::Value,
    /// The schema as written (compact; member order and numbers as written): what the validator compiles.
    pub text: String,
    /// Where it was written.
    pub source: SchemaSource,
}

impl RequestSchema {
    /// The schema compiled as API Gateway's validator reads it (it was checked when pipeline.toml was).
    pub fn validator(&self) -> Result<sluice_schema::RequestValidator, sluice_schema::ModelError> {
        sluice_schema::RequestValidator::from_text(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaSource {
    /// A file, as pipeline.toml names it (relative to its folder).
    File(String),
    /// JSON text in pipeline.toml.
    Inline,
}

impl Pipeline {
    /// The settings of a consumer's function: its `[functions.<name>]`, or the stock writer's.
    pub fn consumer_function(&self, consumer: &Consumer) -> &FunctionSettings {
        consumer
            .function
            .as_ref()
            .and_then(|f| self.functions.custom.get(f))
            .map_or(&self.functions.writer, |f| &f.settings)
    }

    /// The key type of the table a stream's records are stored in (its first consumer's table's partition
    /// key), `S` when no consumer reads the stream: what a fresh event id on that stream must look like.
    pub fn key_type_of_stream(&self, stream: &str) -> KeyType {
        self.consumers
            .values()
            .find(|c| c.stream == stream)
            .and_then(|c| self.tables.get(&c.table))
            .map_or(KeyType::S, |t| t.partition_key.kind)
    }
}

impl Route {
    /// The one request body every tool sends on this route when the user gives none (`cargo xtask send`,
    /// `smoke-test`, the dev "try" line): the route's `example`, else one derived from its schema
    /// ([`sluice_schema::example`]), else [`default_example`].
    pub fn example_body(&self) -> serde_json::Value {
        match (&self.example, &self.schema) {
            (Some(example), _) => example.clone(),
            (None, Some(schema)) => sluice_schema::example(&schema.value),
            (None, None) => default_example(),
        }
    }

    /// The streams this route can write to.
    pub fn streams(&self) -> Vec<&str> {
        match &self.stream {
            StreamTarget::Fixed(s) => vec![s.as_str()],
            StreamTarget::PathParam { allowed, .. } => allowed.iter().map(String::as_str).collect(),
        }
    }

    /// The concrete path for one stream: the stream path parameter replaced by the stream's name.
    pub fn concrete_path(&self, stream: &str) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            out.push('/');
            match seg {
                PathSegment::Literal(l) => out.push_str(l),
                PathSegment::Param(p) => match &self.stream {
                    StreamTarget::PathParam { param, .. } if param == p => out.push_str(stream),
                    _ => {
                        out.push('{');
                        out.push_str(p);
                        out.push('}');
                    }
                },
            }
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    Latest,
    TrimHorizon,
}

impl StartingPosition {
    pub fn as_str(self) -> &'static str {
        match self {
            StartingPosition::Latest => "LATEST",
            StartingPosition::TrimHorizon => "TRIM_HORIZON",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Consumer {
    pub name: String,
    /// The writer Lambda function's name, `{pipeline.name}-{name}`.
    pub function_name: String,
    pub stream: String,
    /// The stock writer's table; with `function`, the first of `tables`.
    pub table: String,
    /// The user function (`[functions.<name>]`) this consumer runs instead of the stock writer.
    pub function: Option<String>,
    /// Every table the consumer's function may write (the stock writer's: `[table]`), in the order given.
    pub tables: Vec<String>,
    pub dead_letter_queue: String,
    pub batch_size: u32,
    pub batching_window_seconds: u32,
    pub starting_position: StartingPosition,
    /// Retries of a failing batch before it goes to the on-failure destination.
    pub retry_attempts: Attempts,
    /// Records older than this go to the on-failure destination unprocessed.
    pub maximum_record_age: RecordAge,
    pub bisect_on_error: bool,
    pub parallelization_factor: u32,
    /// The event source mapping's filters: a record is delivered when one matches (all, when empty).
    pub filters: Vec<EventFilter>,
}

/// How often the event source mapping retries a failing batch. `Forever` only with `allow_infinite_retries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempts {
    Finite(u32),
    Forever,
}

impl Attempts {
    /// Lambda's `MaximumRetryAttempts`: the number, or -1 for forever.
    pub fn to_aws(self) -> i64 {
        match self {
            Attempts::Finite(n) => i64::from(n),
            Attempts::Forever => -1,
        }
    }

    /// Whether `used` retries exhaust this budget.
    pub fn exhausted_by(self, used: u32) -> bool {
        match self {
            Attempts::Finite(n) => used >= n,
            Attempts::Forever => false,
        }
    }
}

/// The oldest record the event source mapping still delivers. `Forever` only with `allow_infinite_retries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordAge {
    Seconds(u32),
    Forever,
}

impl RecordAge {
    /// Lambda's `MaximumRecordAgeInSeconds`: the number, or -1 for forever.
    pub fn to_aws(self) -> i64 {
        match self {
            RecordAge::Seconds(n) => i64::from(n),
            RecordAge::Forever => -1,
        }
    }

    /// The limit in milliseconds, `None` for forever.
    pub fn as_millis(self) -> Option<i64> {
        match self {
            RecordAge::Seconds(n) => Some(i64::from(n) * 1000),
            RecordAge::Forever => None,
        }
    }
}

/// Reading or validating `pipeline.toml` failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    #[error("there is no pipeline file at {path}")]
    #[diagnostic(
        code(sluice::config::missing),
        help(
            "pass --config with the path of your pipeline.toml (a path you type is taken from the current directory; without --config the project root's pipeline.toml is read)"
        )
    )]
    Missing { path: String },
    /// The reason is the message, once: `std::io::Error` as a source would print it a second time.
    #[error("cannot read the pipeline file {path}: {reason}")]
    #[diagnostic(
        code(sluice::config::io),
        help("check the file's permissions, or pass --config with another file")
    )]
    Io { path: String, reason: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] ConfigErrors),
    #[error("{path} declares no environment `{name}`")]
    #[diagnostic(
        code(sluice::config::environment),
        help("{}", environments_help(declared))
    )]
    UnknownEnvironment {
        path: String,
        name: String,
        declared: Vec<String>,
    },
}

fn environments_help(declared: &[String]) -> String {
    if declared.is_empty() {
        "leave --env out (it has none), or add an [environments.NAME] table".to_string()
    } else {
        format!("its environments: {}", declared.join(", "))
    }
}

impl Pipeline {
    /// The `SLUICE_TABLES` document a consumer's own function reads (`sluice_consumer::ConsumerConfig`):
    /// each table it may write, by logical name, with its physical name and keys. The generated Terraform
    /// and `cargo xtask dev` both set it from here.
    pub fn function_tables_document(&self, consumer: &Consumer) -> String {
        let key = |k: &KeyAttribute| serde_json::json!({ "name": k.name, "type": k.kind.as_str() });
        let tables: serde_json::Map<String, serde_json::Value> = consumer
            .tables
            .iter()
            .filter_map(|name| self.tables.get(name).map(|t| (name, t)))
            .map(|(name, t)| {
                let mut spec = serde_json::json!({
                    "name": t.physical_name,
                    "partitionKey": key(&t.partition_key),
                });
                if let Some(sort) = &t.sort_key {
                    spec["sortKey"] = key(sort);
                }
                (name.clone(), spec)
            })
            .collect();
        serde_json::Value::Object(tables).to_string()
    }
}

/// What the commands read: pipeline.toml (`--config`) and the environment chosen in it (`--env`), if any.
/// It is the path where a path is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineFile {
    pub path: std::path::PathBuf,
    pub env: Option<String>,
}

impl PipelineFile {
    pub fn new(path: impl Into<std::path::PathBuf>, env: Option<String>) -> Self {
        PipelineFile {
            path: path.into(),
            env,
        }
    }

    /// The Terraform root that deploys it: `terraform/` next to the file, or `terraform/envs/<env>/`.
    pub fn terraform_dir(&self) -> std::path::PathBuf {
        let root = self
            .path
            .parent()
            .unwrap_or(Path::new(""))
            .join("terraform");
        match &self.env {
            Some(env) => root.join("envs").join(env),
            None => root,
        }
    }

    /// What a command that checks every deployment reads: the chosen environment's pipeline, or without
    /// `--env` the base pipeline followed by each environment's.
    pub fn load_each(&self) -> Result<Vec<Pipeline>, LoadError> {
        match &self.env {
            Some(_) => Ok(vec![load(self)?]),
            None => {
                let (base, envs) = load_all(&self.path)?;
                Ok(std::iter::once(base).chain(envs).collect())
            }
        }
    }

    /// The local state of `cargo xtask dev` under `state_dir`: itself, or `<state_dir>/envs/<env>/`.
    pub fn state_dir(&self, state_dir: &Path) -> std::path::PathBuf {
        match &self.env {
            Some(env) => state_dir.join("envs").join(env),
            None => state_dir.to_path_buf(),
        }
    }
}

impl std::ops::Deref for PipelineFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for PipelineFile {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// A pipeline file to [`load`]: a path (the base pipeline) or a [`PipelineFile`] (its environment).
pub trait Source {
    fn path(&self) -> &Path;
    fn env(&self) -> Option<&str>;
}

impl Source for Path {
    fn path(&self) -> &Path {
        self
    }
    fn env(&self) -> Option<&str> {
        None
    }
}

impl Source for std::path::PathBuf {
    fn path(&self) -> &Path {
        self
    }
    fn env(&self) -> Option<&str> {
        None
    }
}

impl Source for PipelineFile {
    fn path(&self) -> &Path {
        &self.path
    }
    fn env(&self) -> Option<&str> {
        self.env.as_deref()
    }
}

/// Reads, validates and compiles the pipeline file (schema files it names are read from its folder): the
/// base pipeline for a path (every `[environments.*]` table's keys checked, none merged), the chosen
/// environment's for a [`PipelineFile`] with one.
pub fn load(source: &(impl Source + ?Sized)) -> Result<Pipeline, LoadError> {
    load_env(source.path(), source.env())
}

/// [`load`] for the environment `env` (`[environments.NAME]` merged in), or the base with `None`.
pub fn load_env(path: &Path, env: Option<&str>) -> Result<Pipeline, LoadError> {
    let src = std::fs::read_to_string(path).map_err(|source| {
        let path = path.display().to_string();
        if source.kind() == std::io::ErrorKind::NotFound {
            LoadError::Missing { path }
        } else {
            LoadError::Io {
                path,
                reason: source.to_string(),
            }
        }
    })?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path.parent().unwrap_or(Path::new("."));
    let base = parse_in(&src, &file, dir)?;
    match env {
        // (`--env` parsed as given: a name pipeline.toml does not declare is refused below.)
        None => Ok(base),
        Some(env) if base.environments.iter().any(|e| e == env) => {
            Ok(compile::compile(&src, &file, dir, Some(env))?)
        }
        Some(env) => Err(LoadError::UnknownEnvironment {
            path: path.display().to_string(),
            name: env.to_string(),
            declared: base.environments,
        }),
    }
}

/// The base pipeline at `path` and each environment it declares, in order of name.
pub fn load_all(path: &Path) -> Result<(Pipeline, Vec<Pipeline>), LoadError> {
    let base = load_env(path, None)?;
    let envs = base
        .environments
        .iter()
        .map(|env| load_env(path, Some(env)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((base, envs))
}

/// Validates and compiles `src`, naming it `file` in errors; schema files are read from the current folder.
pub fn parse(src: &str, file: &str) -> Result<Pipeline, ConfigErrors> {
    parse_in(src, file, Path::new("."))
}

/// [`parse`], reading the schema files `src` names from `dir`.
pub fn parse_in(src: &str, file: &str, dir: &Path) -> Result<Pipeline, ConfigErrors> {
    compile::compile(src, file, dir, None)
}

/// [`parse_in`] for the environment `env`, which `src` must declare.
pub fn parse_env(src: &str, file: &str, dir: &Path, env: &str) -> Result<Pipeline, ConfigErrors> {
    compile::compile(src, file, dir, Some(env))
}

/// Where the setting at `path` (table names and keys, e.g. `["tables", "EventTable", "write_capacity"]`) is
/// in `src`: the value if the key is written, else the deepest table of the path that is (its header).
pub fn locate(src: &str, path: &[String]) -> Option<std::ops::Range<usize>> {
    let (root, _) = toml::de::DeTable::parse_recoverable(src);
    let mut table = root.get_ref();
    let mut found = None;
    for key in path {
        let Some((_, value)) = table.iter().find(|(k, _)| k.get_ref() == key) else {
            break;
        };
        found = Some(value.span());
        match value.get_ref() {
            toml::de::DeValue::Table(inner) => table = inner,
            _ => break,
        }
    }
    found
}

/// A warning at the setting at `path` in `src` (see [`locate`]); at the start of the file if not found.
pub fn warning_at(
    src: &str,
    path: &[String],
    message: String,
    help: Option<String>,
) -> ConfigError {
    let span = locate(src, path).unwrap_or(0..0);
    let (line, column) = error::line_col(src, span.start);
    ConfigError {
        message,
        span,
        line,
        column,
        help,
        file: None,
    }
}
