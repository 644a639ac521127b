//! The raw model: what `pipeline.toml` says, as serde reads it, with the source span of every name,
//! reference and bounded value kept so that validation can point at it. Nothing here is checked beyond
//! shape; `compile` turns it into the typed model that generators and the local runtime use.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipelineFile {
    pub pipeline: S<RawPipeline>,
    pub waf: Option<S<RawWaf>>,
    pub alerts: Option<S<RawAlerts>>,
    pub auth: Option<S<RawAuth>>,
    /// `authorizer`, `writer` (the stock functions' settings) and the user's functions.
    #[serde(default)]
    pub functions: BTreeMap<S<String>, S<RawFunction>>,
    #[serde(default)]
    pub streams: BTreeMap<S<String>, S<RawStream>>,
    #[serde(default)]
    pub tables: BTreeMap<S<String>, S<RawTable>>,
    #[serde(default)]
    pub queues: BTreeMap<S<String>, S<RawQueue>>,
    #[serde(default)]
    pub routes: BTreeMap<S<String>, S<RawRoute>>,
    #[serde(default)]
    pub consumers: BTreeMap<S<String>, S<RawConsumer>>,
    pub terraform: Option<S<RawTerraform>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTerraform {
    pub backend: Option<S<RawBackend>>,
}

/// `[terraform.backend]`: Terraform's S3 backend.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    pub bucket: S<String>,
    pub key: Option<S<String>>,
    pub region: Option<S<String>>,
    pub use_lockfile: Option<bool>,
    pub dynamodb_table: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    pub name: S<String>,
    pub region: S<String>,
    pub stage: Option<S<String>>,
    #[serde(default)]
    pub tags: BTreeMap<S<String>, S<String>>,
    pub access_log_retention_days: Option<S<i64>>,
    pub throttle_rate_limit: Option<S<f64>>,
    pub throttle_burst_limit: Option<S<i64>>,
    pub manage_api_gateway_account: Option<bool>,
    pub kms_key: Option<S<String>>,
    pub xray_tracing: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWaf {
    pub rate_limit: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlerts {
    pub emails: Option<S<Vec<S<String>>>>,
    pub sns_topic_arn: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    #[serde(rename = "type")]
    pub kind: S<String>,
    pub secret_name: Option<S<String>>,
    pub username: Option<S<String>>,
    pub cache_ttl_seconds: Option<S<i64>>,
    pub password_length: Option<S<i64>>,
    pub password_version: Option<S<i64>>,
    pub previous_password_grace_seconds: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFunction {
    /// A user function's cargo package folder, relative to pipeline.toml's.
    #[serde(rename = "crate")]
    pub krate: Option<S<String>>,
    pub architecture: Option<S<String>>,
    pub memory_mb: Option<S<i64>>,
    pub timeout_seconds: Option<S<i64>>,
    pub reserved_concurrency: Option<S<i64>>,
    pub log_retention_days: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStream {
    pub mode: Option<S<String>>,
    pub shard_count: Option<S<i64>>,
    pub retention_hours: Option<S<i64>>,
    pub kms_key_arn: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    pub name: S<String>,
    #[serde(rename = "type")]
    pub kind: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    pub partition_key: S<RawKey>,
    pub sort_key: Option<S<RawKey>>,
    pub billing_mode: Option<S<String>>,
    pub read_capacity: Option<S<i64>>,
    pub write_capacity: Option<S<i64>>,
    pub point_in_time_recovery: Option<bool>,
    pub ttl_attribute: Option<S<String>>,
    pub deletion_protection: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueue {
    pub message_retention_seconds: Option<S<i64>>,
}

/// `stream = "Name"` or `stream = { path_param = "streamName", allowed = ["A", "B"] }`, and
/// `partition_key = { path_param = "eventId" }` or `partition_key = "request-id"`: kept as TOML values
/// (serde's untagged enums lose spans) and read by `compile`, which points errors at the whole value.
pub type RawChoice = S<toml::Value>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub method: Option<S<String>>,
    pub path: S<String>,
    pub auth: Option<S<String>>,
    pub stream: RawChoice,
    pub partition_key: RawChoice,
    pub content_type: Option<S<String>>,
    /// A JSON Schema file (relative to pipeline.toml's folder), or the schema itself as JSON text.
    pub schema: Option<S<String>>,
    /// A request body the route accepts, as JSON text.
    pub example: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsumer {
    pub stream: S<String>,
    /// The stock writer's table (without `function`).
    pub table: Option<S<String>>,
    /// A user function of `[functions.*]`, instead of the stock writer.
    pub function: Option<S<String>>,
    /// The tables the user function may write.
    pub tables: Option<S<Vec<S<String>>>>,
    pub dead_letter_queue: S<String>,
    pub batch_size: Option<S<i64>>,
    pub batching_window_seconds: Option<S<i64>>,
    pub starting_position: Option<S<String>>,
    pub retry_attempts: Option<S<i64>>,
    pub allow_infinite_retries: Option<bool>,
    pub maximum_record_age_seconds: Option<S<i64>>,
    pub bisect_on_error: Option<bool>,
    pub parallelization_factor: Option<S<i64>>,
    /// Filter patterns, each JSON text.
    pub filters: Option<S<Vec<S<String>>>>,
}
