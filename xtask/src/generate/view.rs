//! View models: the pipeline model turned into plain fields (names, numbers, pre-escaped literals) so that
//! the askama templates only loop and branch. One template struct per output file kind.

use std::collections::BTreeMap;

use askama::Template;

use super::escape::{hcl_string, json_string};
use super::{Files, GenError, HEADER, MANIFEST};
use crate::config::{Billing, KeyAttribute, PartitionKeySource, Pipeline, StreamCapacity};
use crate::contract::{ApiError, ENVELOPE_VERSION, MAX_RECORD_BYTES};

/// askama filters for the output languages (see `escape`).
mod filters {
    use std::fmt::Display;

    /// A quoted HCL string.
    pub fn hcl<T: Display>(s: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::hcl_string(&s.to_string()))
    }

    /// A quoted JSON string.
    pub fn jstr<T: Display>(s: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::json_string(&s.to_string()))
    }

    /// A quoted JSON string inside a Terraform template file (`${` and `%{` doubled).
    pub fn tfjstr<T: Display>(s: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::super::escape::tftpl_escape(&super::json_string(
            &s.to_string(),
        )))
    }
}

/// `null` or the HCL string.
fn opt_str(v: Option<&str>) -> String {
    v.map(hcl_string).unwrap_or_else(|| "null".to_string())
}

/// `null` or the number.
fn opt_num(v: Option<u32>) -> String {
    v.map(|n| n.to_string())
        .unwrap_or_else(|| "null".to_string())
}

/// A key of a user-keyed HCL map, padded so the `=` signs line up as `terraform fmt` wants.
struct Entry {
    key: String,
    pad: String,
    value: String,
}

/// `items` are (key, value literal); keys are quoted here.
fn aligned(items: Vec<(String, String)>) -> Vec<Entry> {
    let items: Vec<(String, String)> = items
        .into_iter()
        .map(|(k, v)| (hcl_string(&k), v))
        .collect();
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

struct FunctionView {
    architecture: &'static str,
    memory_mb: u32,
    timeout_seconds: u32,
    reserved_concurrency: String,
    log_retention_days: u32,
}

struct StreamView {
    key: String,
    name: String,
    mode: &'static str,
    shard_count: String,
    retention_hours: u32,
    kms_key_arn: String,
}

struct KeyView {
    name: String,
    kind: &'static str,
}

impl From<&KeyAttribute> for KeyView {
    fn from(k: &KeyAttribute) -> Self {
        KeyView {
            name: k.name.clone(),
            kind: k.kind.as_str(),
        }
    }
}

struct TableView {
    key: String,
    name: String,
    billing_mode: &'static str,
    read_capacity: String,
    write_capacity: String,
    partition_key: KeyView,
    sort_key: Option<KeyView>,
    point_in_time_recovery: bool,
    ttl_attribute: String,
    deletion_protection: bool,
}

struct QueueView {
    key: String,
    name: String,
    message_retention_seconds: u32,
}

struct ConsumerView {
    key: String,
    function_name: String,
    stream: String,
    table: String,
    dead_letter_queue: String,
    batch_size: u32,
    batching_window_seconds: u32,
    starting_position: &'static str,
    retry_attempts: i32,
    maximum_record_age_seconds: i32,
    bisect_on_error: bool,
    parallelization_factor: u32,
    partition_key: KeyView,
    sort_key: Option<KeyView>,
}

struct AuthView {
    function_name: String,
    secret_name: String,
    username: String,
    cache_ttl_seconds: u32,
    password_length: u32,
    password_version: u32,
}

struct ApiView {
    name: String,
    stage: String,
    access_log_retention_days: u32,
    throttle_rate_limit: String,
    throttle_burst_limit: u32,
    manage_account: bool,
}

#[derive(Template)]
#[template(path = "terraform/root/main.tf", escape = "none")]
struct RootMain {
    header: &'static str,
    name: String,
    tags: Vec<Entry>,
    authorizer_function: FunctionView,
    writer_function: FunctionView,
    streams: Vec<StreamView>,
    tables: Vec<TableView>,
    queues: Vec<QueueView>,
    consumers: Vec<ConsumerView>,
    auth: Option<AuthView>,
    routed_streams: Vec<String>,
    api: ApiView,
}

#[derive(Template)]
#[template(path = "terraform/root/variables.tf", escape = "none")]
struct RootVariables {
    header: &'static str,
    region: String,
    auth: bool,
}

#[derive(Template)]
#[template(path = "terraform/root/outputs.tf", escape = "none")]
struct RootOutputs {
    header: &'static str,
    auth: bool,
}

#[derive(Template)]
#[template(path = "terraform/versions.tf", escape = "none")]
struct Versions {
    header: &'static str,
}

/// A module's static files: they take everything through typed variables.
macro_rules! module_files {
    ($($ty:ident => $path:literal),* $(,)?) => {
        $(
            #[derive(Template)]
            #[template(path = $path, escape = "none")]
            struct $ty {
                header: &'static str,
            }
        )*
    };
}

module_files! {
    StreamMain => "terraform/modules/stream/main.tf",
    StreamVariables => "terraform/modules/stream/variables.tf",
    StreamOutputs => "terraform/modules/stream/outputs.tf",
    TableMain => "terraform/modules/table/main.tf",
    TableVariables => "terraform/modules/table/variables.tf",
    TableOutputs => "terraform/modules/table/outputs.tf",
    QueueMain => "terraform/modules/queue/main.tf",
    QueueVariables => "terraform/modules/queue/variables.tf",
    QueueOutputs => "terraform/modules/queue/outputs.tf",
    AuthMain => "terraform/modules/auth/main.tf",
    AuthVariables => "terraform/modules/auth/variables.tf",
    AuthOutputs => "terraform/modules/auth/outputs.tf",
    ConsumerMain => "terraform/modules/consumer/main.tf",
    ConsumerVariables => "terraform/modules/consumer/variables.tf",
    ConsumerOutputs => "terraform/modules/consumer/outputs.tf",
    ApiMain => "terraform/modules/api/main.tf",
    ApiVariables => "terraform/modules/api/variables.tf",
    ApiOutputs => "terraform/modules/api/outputs.tf",
}

/// The `error`/`message` members of one error, as JSON string literals, and its status.
struct ErrorView {
    status: u16,
    code: &'static str,
    message: &'static str,
}

impl From<ApiError> for ErrorView {
    fn from(e: ApiError) -> Self {
        ErrorView {
            status: e.status(),
            code: e.code(),
            message: e.message(),
        }
    }
}

/// The PutRecord request mapping template (VTL): the record contract's envelope, base64-encoded.
#[derive(Template)]
#[template(path = "vtl/put_record_request.vtl", escape = "none")]
pub struct PutRecordRequest {
    envelope_version: u32,
    stream_name: String,
    /// The path parameter the partition key comes from, or `None` for the request id.
    partition_key_param: Option<String>,
}

/// The integration response for PutRecord's success: `{"SequenceNumber":…,"ShardId":…}`.
#[derive(Template)]
#[template(path = "vtl/put_record_ok.vtl", escape = "none")]
pub struct PutRecordOk;

/// The integration response for PutRecord's failures: picks the error contract's status and body from
/// Kinesis's `__type` and message.
#[derive(Template)]
#[template(path = "vtl/put_record_error.vtl", escape = "none")]
pub struct PutRecordError {
    throttled: ErrorView,
    too_large: ErrorView,
    max_record_bytes: usize,
    invalid_partition_key: ErrorView,
    stream_not_found: ErrorView,
    backend: ErrorView,
}

impl PutRecordError {
    pub fn new() -> Self {
        PutRecordError {
            throttled: ApiError::Throttled.into(),
            too_large: ApiError::RecordTooLarge.into(),
            max_record_bytes: MAX_RECORD_BYTES,
            invalid_partition_key: ApiError::InvalidPartitionKey.into(),
            stream_not_found: ApiError::StreamNotFound.into(),
            backend: ApiError::BackendError.into(),
        }
    }
}

impl Default for PutRecordError {
    fn default() -> Self {
        Self::new()
    }
}

/// A gateway response body (API Gateway substitutes `$context` variables in it, no other VTL).
#[derive(Template)]
#[template(path = "vtl/gateway_response.vtl", escape = "none")]
struct GatewayResponseBody {
    error: ErrorView,
}

struct OperationView {
    method: String,
    operation_id: String,
    params: Vec<String>,
    content_type: String,
    secured: bool,
    request_template: String,
    ok_template: String,
    error_template: String,
    statuses: Vec<u16>,
}

struct PathView {
    path: String,
    operations: Vec<OperationView>,
}

struct GatewayResponseView {
    kind: &'static str,
    status: Option<u16>,
    www_authenticate: Option<String>,
    template: String,
}

#[derive(Template)]
#[template(path = "terraform/modules/api/openapi.json.tftpl", escape = "none")]
struct OpenApi {
    title: String,
    paths: Vec<PathView>,
    authorizer_ttl: Option<u32>,
    gateway_responses: Vec<GatewayResponseView>,
}

#[derive(Template)]
#[template(path = "terraform/README.md", escape = "none")]
struct Readme {
    header: &'static str,
    name: String,
    files: Vec<String>,
}

fn put<T: Template>(files: &mut Files, path: &str, t: T) -> Result<(), GenError> {
    let mut text = t.render().map_err(|source| GenError::Render {
        file: path.to_string(),
        source,
    })?;
    // askama drops the template file's last newline; every text file ends with one.
    text.push('\n');
    files.insert(path.to_string(), text);
    Ok(())
}

fn function_view(f: &crate::config::FunctionSettings) -> FunctionView {
    FunctionView {
        architecture: f.architecture.lambda_name(),
        memory_mb: f.memory_mb,
        timeout_seconds: f.timeout_seconds,
        reserved_concurrency: opt_num(f.reserved_concurrency),
        log_retention_days: f.log_retention_days,
    }
}

/// The request template of a route writing to `stream` (a logical name).
pub fn request_template(
    p: &Pipeline,
    route: &crate::config::Route,
    stream: &str,
) -> Result<String, GenError> {
    let t = PutRecordRequest {
        envelope_version: ENVELOPE_VERSION,
        stream_name: p.streams[stream].physical_name.clone(),
        partition_key_param: match &route.partition_key {
            PartitionKeySource::PathParam(param) => Some(param.clone()),
            PartitionKeySource::RequestId => None,
        },
    };
    t.render().map_err(|source| GenError::Render {
        file: "vtl/put_record_request.vtl".into(),
        source,
    })
}

/// The error integration response template.
pub fn error_template() -> Result<String, GenError> {
    PutRecordError::new()
        .render()
        .map_err(|source| GenError::Render {
            file: "vtl/put_record_error.vtl".into(),
            source,
        })
}

/// The errors the PutRecord integration response picks from Kinesis's answer (`put_record_error.vtl`).
pub const KINESIS_ERRORS: [ApiError; 5] = [
    ApiError::Throttled,
    ApiError::RecordTooLarge,
    ApiError::InvalidPartitionKey,
    ApiError::StreamNotFound,
    ApiError::BackendError,
];

fn openapi(p: &Pipeline) -> Result<OpenApi, GenError> {
    let ok_template = PutRecordOk.render().map_err(|source| GenError::Render {
        file: "vtl/put_record_ok.vtl".into(),
        source,
    })?;
    let error_template = error_template()?;
    let mut statuses: Vec<u16> = KINESIS_ERRORS.iter().map(|e| e.status()).collect();
    statuses.push(200);
    statuses.sort_unstable();
    statuses.dedup();

    let mut paths: BTreeMap<String, Vec<OperationView>> = BTreeMap::new();
    for route in p.routes.values() {
        for stream in route.streams() {
            let path = route.concrete_path(stream);
            let params = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_string)
                .collect();
            paths.entry(path).or_default().push(OperationView {
                method: route.method.to_ascii_lowercase(),
                operation_id: format!("{}_{}", route.name, stream),
                params,
                content_type: route.content_type.clone(),
                secured: route.auth,
                request_template: request_template(p, route, stream)?,
                ok_template: ok_template.clone(),
                error_template: error_template.clone(),
                statuses: statuses.clone(),
            });
        }
    }
    let paths = paths
        .into_iter()
        .map(|(path, mut operations)| {
            operations.sort_by(|a, b| a.method.cmp(&b.method));
            PathView { path, operations }
        })
        .collect();

    let mut gateway_responses = Vec::new();
    for e in ApiError::ALL {
        for kind in e.gateway_response_types() {
            let body = GatewayResponseBody { error: e.into() };
            gateway_responses.push(GatewayResponseView {
                kind,
                status: Some(e.status()),
                www_authenticate: (e == ApiError::Unauthorized)
                    .then(|| format!("'Basic realm=\"{}\"'", p.name)),
                template: body.render().map_err(|source| GenError::Render {
                    file: "vtl/gateway_response.vtl".into(),
                    source,
                })?,
            });
        }
    }
    // A request over API Gateway's 10 MB payload limit is certainly over Kinesis's record limit.
    gateway_responses.push(GatewayResponseView {
        kind: "REQUEST_TOO_LARGE",
        status: Some(ApiError::RecordTooLarge.status()),
        www_authenticate: None,
        template: GatewayResponseBody {
            error: ApiError::RecordTooLarge.into(),
        }
        .render()
        .map_err(|source| GenError::Render {
            file: "vtl/gateway_response.vtl".into(),
            source,
        })?,
    });
    // Everything else keeps API Gateway's status but answers in the contract's shape.
    for kind in ["DEFAULT_4XX", "DEFAULT_5XX"] {
        gateway_responses.push(GatewayResponseView {
            kind,
            status: None,
            www_authenticate: None,
            template: GatewayResponseBody {
                error: default_error(kind),
            }
            .render()
            .map_err(|source| GenError::Render {
                file: "vtl/gateway_response.vtl".into(),
                source,
            })?,
        });
    }
    gateway_responses.sort_by(|a, b| a.kind.cmp(b.kind));

    Ok(OpenApi {
        title: p.name.clone(),
        paths,
        authorizer_ttl: p.auth.as_ref().map(|a| a.cache_ttl_seconds),
        gateway_responses,
    })
}

/// The bodies of API Gateway's catch-all responses, which the error contract has no row for.
fn default_error(kind: &str) -> ErrorView {
    if kind == "DEFAULT_4XX" {
        ErrorView {
            status: 400,
            code: "BadRequest",
            message: "the gateway refused the request",
        }
    } else {
        ErrorView {
            status: 500,
            code: ApiError::BackendError.code(),
            message: ApiError::BackendError.message(),
        }
    }
}

pub(super) fn render_all(p: &Pipeline) -> Result<Files, GenError> {
    let mut files = Files::new();
    let header = HEADER;

    let streams = p
        .streams
        .values()
        .map(|s| StreamView {
            key: s.name.clone(),
            name: s.physical_name.clone(),
            mode: match s.capacity {
                StreamCapacity::Provisioned { .. } => "PROVISIONED",
                StreamCapacity::OnDemand => "ON_DEMAND",
            },
            shard_count: match s.capacity {
                StreamCapacity::Provisioned { shard_count } => shard_count.to_string(),
                StreamCapacity::OnDemand => "null".into(),
            },
            retention_hours: s.retention_hours,
            kms_key_arn: opt_str(s.kms_key_arn.as_deref()),
        })
        .collect();
    let tables = p
        .tables
        .values()
        .map(|t| {
            let (billing_mode, read, write) = match t.billing {
                Billing::OnDemand => ("PAY_PER_REQUEST", None, None),
                Billing::Provisioned {
                    read_capacity,
                    write_capacity,
                } => ("PROVISIONED", Some(read_capacity), Some(write_capacity)),
            };
            TableView {
                key: t.name.clone(),
                name: t.physical_name.clone(),
                billing_mode,
                read_capacity: opt_num(read),
                write_capacity: opt_num(write),
                partition_key: (&t.partition_key).into(),
                sort_key: t.sort_key.as_ref().map(Into::into),
                point_in_time_recovery: t.point_in_time_recovery,
                ttl_attribute: opt_str(t.ttl_attribute.as_deref()),
                deletion_protection: t.deletion_protection,
            }
        })
        .collect();
    let queues = p
        .queues
        .values()
        .map(|q| QueueView {
            key: q.name.clone(),
            name: q.physical_name.clone(),
            message_retention_seconds: q.message_retention_seconds,
        })
        .collect();
    let consumers = p
        .consumers
        .values()
        .map(|c| {
            let table = &p.tables[&c.table];
            ConsumerView {
                key: c.name.clone(),
                function_name: c.function_name.clone(),
                stream: c.stream.clone(),
                table: c.table.clone(),
                dead_letter_queue: c.dead_letter_queue.clone(),
                batch_size: c.batch_size,
                batching_window_seconds: c.batching_window_seconds,
                starting_position: c.starting_position.as_str(),
                retry_attempts: c.retry_attempts,
                maximum_record_age_seconds: c.maximum_record_age_seconds,
                bisect_on_error: c.bisect_on_error,
                parallelization_factor: c.parallelization_factor,
                partition_key: (&table.partition_key).into(),
                sort_key: table.sort_key.as_ref().map(Into::into),
            }
        })
        .collect();
    let auth = p.auth.as_ref().map(|a| AuthView {
        function_name: format!("{}-authorizer", p.name),
        secret_name: a.secret_name.clone(),
        username: a.username.clone(),
        cache_ttl_seconds: a.cache_ttl_seconds,
        password_length: a.password_length,
        password_version: a.password_version,
    });
    let mut routed_streams: Vec<String> = p
        .routes
        .values()
        .flat_map(|r| r.streams())
        .map(str::to_string)
        .collect();
    routed_streams.sort();
    routed_streams.dedup();

    put(
        &mut files,
        "main.tf",
        RootMain {
            header,
            name: p.name.clone(),
            tags: aligned(
                p.tags
                    .iter()
                    .map(|(k, v)| (k.clone(), hcl_string(v)))
                    .collect(),
            ),
            authorizer_function: function_view(&p.functions.authorizer),
            writer_function: function_view(&p.functions.writer),
            streams,
            tables,
            queues,
            consumers,
            auth,
            routed_streams,
            api: ApiView {
                name: p.name.clone(),
                stage: p.stage.clone(),
                access_log_retention_days: p.api.access_log_retention_days,
                throttle_rate_limit: p.api.throttle_rate_limit.to_string(),
                throttle_burst_limit: p.api.throttle_burst_limit,
                manage_account: p.api.manage_api_gateway_account,
            },
        },
    )?;
    put(
        &mut files,
        "variables.tf",
        RootVariables {
            header,
            region: p.region.clone(),
            auth: p.auth.is_some(),
        },
    )?;
    put(
        &mut files,
        "outputs.tf",
        RootOutputs {
            header,
            auth: p.auth.is_some(),
        },
    )?;
    put(&mut files, "versions.tf", Versions { header })?;

    for module in ["stream", "table", "queue", "auth", "consumer", "api"] {
        if module == "auth" && p.auth.is_none() {
            continue;
        }
        put(
            &mut files,
            &format!("modules/{module}/versions.tf"),
            Versions { header },
        )?;
    }
    put(&mut files, "modules/stream/main.tf", StreamMain { header })?;
    put(
        &mut files,
        "modules/stream/variables.tf",
        StreamVariables { header },
    )?;
    put(
        &mut files,
        "modules/stream/outputs.tf",
        StreamOutputs { header },
    )?;
    put(&mut files, "modules/table/main.tf", TableMain { header })?;
    put(
        &mut files,
        "modules/table/variables.tf",
        TableVariables { header },
    )?;
    put(
        &mut files,
        "modules/table/outputs.tf",
        TableOutputs { header },
    )?;
    put(&mut files, "modules/queue/main.tf", QueueMain { header })?;
    put(
        &mut files,
        "modules/queue/variables.tf",
        QueueVariables { header },
    )?;
    put(
        &mut files,
        "modules/queue/outputs.tf",
        QueueOutputs { header },
    )?;
    if p.auth.is_some() {
        put(&mut files, "modules/auth/main.tf", AuthMain { header })?;
        put(
            &mut files,
            "modules/auth/variables.tf",
            AuthVariables { header },
        )?;
        put(
            &mut files,
            "modules/auth/outputs.tf",
            AuthOutputs { header },
        )?;
    }
    put(
        &mut files,
        "modules/consumer/main.tf",
        ConsumerMain { header },
    )?;
    put(
        &mut files,
        "modules/consumer/variables.tf",
        ConsumerVariables { header },
    )?;
    put(
        &mut files,
        "modules/consumer/outputs.tf",
        ConsumerOutputs { header },
    )?;
    put(&mut files, "modules/api/main.tf", ApiMain { header })?;
    put(
        &mut files,
        "modules/api/variables.tf",
        ApiVariables { header },
    )?;
    put(&mut files, "modules/api/outputs.tf", ApiOutputs { header })?;
    put(&mut files, "modules/api/openapi.json.tftpl", openapi(p)?)?;

    let mut listed: Vec<String> = files.keys().cloned().collect();
    listed.push(MANIFEST.to_string());
    listed.sort();
    put(
        &mut files,
        MANIFEST,
        Readme {
            header,
            name: p.name.clone(),
            files: listed,
        },
    )?;
    Ok(files)
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
