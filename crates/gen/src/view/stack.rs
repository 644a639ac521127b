//! The stack module's files (`stack/main.tf`, `variables.tf`, `outputs.tf`, `versions.tf`): every resource
//! of pipeline.toml as plain fields (names, numbers, pre-escaped literals), so that the templates only loop
//! and branch. The root that configures the provider and calls it is [`super::root`].

use askama::Template;

use sluice_config::{Billing, KeyAttribute, KmsKey, Pipeline, StreamCapacity};
use sluice_contract::api::Throttle;
use sluice_contract::env;
use sluice_contract::limits::MAX_DEAD_LETTER_MESSAGE_BYTES;

use super::alarm_map::{AlarmView, RateView, alarm_views};
use super::shared::{Edge, Entry, Versions, aligned_idents, opt_num, opt_str, put};
use crate::escape::{filters, hcl_string};
use crate::output::{Files, GenError, HEADER, LambdaDir};

/// Where the stack's files go, under the root.
pub(super) const DIR: &str = "stack";

/// Renders the stack's files into `files` (as `stack/…`).
pub(super) fn render(
    p: &Pipeline,
    lambda_dir: &LambdaDir,
    files: &mut Files,
) -> Result<(), GenError> {
    main_tf(p, lambda_dir, files)?;
    variables_tf(p, lambda_dir, files)?;
    outputs_tf(p, files)?;
    let header = HEADER;
    put(files, &format!("{DIR}/versions.tf"), Versions { header })?;
    let (inputs, outputs) = crate::docs::tables(
        &files[&format!("{DIR}/variables.tf")],
        &files[&format!("{DIR}/outputs.tf")],
    )?;
    put(
        files,
        &format!("{DIR}/README.md"),
        StackReadme {
            header,
            name: p.name.clone(),
            region: p.region.clone(),
            inputs,
            outputs,
        },
    )?;
    Ok(())
}

#[derive(Template)]
#[template(path = "terraform/stack/README.md", escape = "none")]
struct StackReadme {
    header: &'static str,
    name: String,
    region: String,
    inputs: Vec<Vec<String>>,
    outputs: Vec<Vec<String>>,
}

/// `main.tf`: the modules' instances, the alarms and the pipeline-wide settings.
fn main_tf(p: &Pipeline, lambda_dir: &LambdaDir, files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    let (alarms, rate) = alarm_views(p);
    put(
        files,
        &format!("{DIR}/main.tf"),
        StackMain {
            header,
            name: p.name.clone(),
            kms_key_expression: kms_key_expression(p),
            kms_create: p.kms_key == KmsKey::Create,
            xray_tracing: p.xray_tracing,
            waf: p.waf.as_ref().map(|w| WafView {
                rate_limit: w.rate_limit,
                throttled_body: serde_json::to_string(&Throttle::Waf.body("")).unwrap_or_default(),
            }),
            authorizer_function: function_view(&p.functions.authorizer),
            writer_function: function_view(&p.functions.writer),
            custom_functions: p
                .functions
                .custom
                .values()
                .map(|f| CustomFunctionView {
                    key: f.name.clone(),
                    settings: function_view(&f.settings),
                })
                .collect(),
            streams: stream_views(p),
            tables: table_views(p),
            queues: queue_views(p),
            dead_letter_bucket: DeadLetterBucketView::new(p),
            consumers: consumer_views(p),
            auth: auth_view(p),
            routed_streams: routed_streams(p),
            lambda_dir: lambda_dir.clone(),
            alerts: AlertsView {
                emails: p.alerts.emails.clone(),
                sns_topic_arn: opt_str(p.alerts.sns_topic_arn.as_deref()),
            },
            alarms,
            rate,
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
    Ok(())
}

fn variables_tf(p: &Pipeline, lambda_dir: &LambdaDir, files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    put(
        files,
        &format!("{DIR}/variables.tf"),
        StackVariables {
            header,
            auth: p.auth.is_some(),
            lambda_dir: lambda_dir.clone(),
            manage_account: p.api.manage_api_gateway_account,
            functions: !p.functions.custom.is_empty(),
        },
    )?;
    Ok(())
}

fn outputs_tf(p: &Pipeline, files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    put(
        files,
        &format!("{DIR}/outputs.tf"),
        StackOutputs {
            header,
            auth: p.auth.is_some(),
            waf: p.waf.is_some(),
            api_url_description: api_url_description(p),
        },
    )?;
    Ok(())
}

/// The `api_url` output's description: the invoke URL and the routes pipeline.toml declares under it.
fn api_url_description(p: &Pipeline) -> String {
    let routes: Vec<String> = p
        .routes
        .values()
        .map(|r| format!("{} {{api_url}}{}", r.method, r.path))
        .collect();
    format!(
        "The stage's invoke URL; the routes under it: {}.",
        routes.join(", ")
    )
}

/// HCL for the pipeline's customer-managed key ARN, or `null`.
fn kms_key_expression(p: &Pipeline) -> String {
    match &p.kms_key {
        KmsKey::AwsManaged => "null".to_string(),
        KmsKey::Create => "module.kms.key_arn".to_string(),
        KmsKey::Arn(arn) => hcl_string(arn),
    }
}

fn stream_views(p: &Pipeline) -> Vec<StreamView> {
    let edge = Edge::of(p);
    p.streams
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
            // The stream's own key, else the pipeline's.
            kms_key_arn: match (&s.kms_key_arn, edge.cmk) {
                (Some(arn), _) => hcl_string(arn),
                (None, true) => "local.kms_key_arn".to_string(),
                (None, false) => "null".to_string(),
            },
        })
        .collect()
}

fn table_views(p: &Pipeline) -> Vec<TableView> {
    p.tables
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
        .collect()
}

fn queue_views(p: &Pipeline) -> Vec<QueueView> {
    p.queues
        .values()
        .map(|q| QueueView {
            key: q.name.clone(),
            name: q.physical_name.clone(),
            message_retention_seconds: q.message_retention_seconds,
            max_message_size: MAX_DEAD_LETTER_MESSAGE_BYTES,
        })
        .collect()
}

fn consumer_views(p: &Pipeline) -> Vec<ConsumerView> {
    p.consumers
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
                retry_attempts: c.retry_attempts.to_aws(),
                maximum_record_age_seconds: c.maximum_record_age.to_aws(),
                bisect_on_error: c.bisect_on_error,
                parallelization_factor: c.parallelization_factor,
                filter_patterns: format!(
                    "[{}]",
                    c.filters
                        .iter()
                        .map(|f| hcl_string(&f.aws_pattern))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                environment: match &c.function {
                    None => writer_environment(table),
                    Some(_) => function_environment(p, c),
                },
                function: c.function.clone(),
                tables: c.tables.clone(),
            }
        })
        .collect()
}

fn auth_view(p: &Pipeline) -> Option<AuthView> {
    p.auth.as_ref().map(|a| AuthView {
        function_name: format!("{}-authorizer", p.name),
        secret_name: a.secret_name.clone(),
        username: a.username.clone(),
        cache_ttl_seconds: a.cache_ttl_seconds,
        password_length: a.password_length,
        password_version: a.password_version,
        previous_password_grace_seconds: a.previous_password_grace_seconds,
    })
}

/// The streams some route writes to, sorted, each once.
fn routed_streams(p: &Pipeline) -> Vec<String> {
    let mut routed_streams: Vec<String> = p
        .routes
        .values()
        .flat_map(|r| r.streams())
        .map(str::to_string)
        .collect();
    routed_streams.sort();
    routed_streams.dedup();
    routed_streams
}

/// The writer's environment from pipeline.toml: its table's key names and types (the table name, the
/// dead-letter queue URL and the dead-letter bucket are added by modules/consumer, from Terraform).
fn writer_environment(table: &sluice_config::Table) -> Vec<Entry> {
    let mut items = vec![
        (
            env::PARTITION_KEY_NAME,
            hcl_string(&table.partition_key.name),
        ),
        (
            env::PARTITION_KEY_TYPE,
            hcl_string(table.partition_key.kind.as_str()),
        ),
    ];
    if let Some(sort) = &table.sort_key {
        items.push((env::SORT_KEY_NAME, hcl_string(&sort.name)));
        items.push((env::SORT_KEY_TYPE, hcl_string(sort.kind.as_str())));
    }
    aligned_idents(&items)
}

/// A user function's environment from pipeline.toml: [`env::CONSUMER_TABLES`], the tables it may write by
/// logical name, with their physical names and keys (the dead-letter queue URL and bucket are added by
/// modules/consumer, from Terraform).
fn function_environment(p: &Pipeline, c: &sluice_config::Consumer) -> Vec<Entry> {
    aligned_idents(&[(
        env::CONSUMER_TABLES,
        hcl_string(&p.function_tables_document(c)),
    )])
}

fn function_view(f: &sluice_config::FunctionSettings) -> FunctionView {
    FunctionView {
        architecture: f.architecture.lambda_name(),
        memory_mb: f.memory_mb,
        timeout_seconds: f.timeout_seconds,
        reserved_concurrency: opt_num(f.reserved_concurrency),
        log_retention_days: f.log_retention_days,
    }
}

struct CustomFunctionView {
    key: String,
    settings: FunctionView,
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
    max_message_size: usize,
}

/// The pipeline's dead-letter bucket.
struct DeadLetterBucketView {
    /// `<pipeline name, lowercase, at most 23 characters>-dead-letters-` (S3 allows a 37-character prefix).
    name_prefix: String,
    /// The longest retention of the pipeline's queues, in whole days (at least 1).
    expiration_days: u32,
}

impl DeadLetterBucketView {
    fn new(p: &Pipeline) -> Self {
        let name: String = p.name.to_ascii_lowercase().chars().take(23).collect();
        let longest = p
            .queues
            .values()
            .map(|q| q.message_retention_seconds)
            .max()
            .unwrap_or(0);
        DeadLetterBucketView {
            name_prefix: format!("{name}-dead-letters-"),
            expiration_days: longest.div_ceil(86_400).max(1),
        }
    }
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
    retry_attempts: i64,
    maximum_record_age_seconds: i64,
    bisect_on_error: bool,
    parallelization_factor: u32,
    /// The event source mapping's filter patterns, as an HCL list of strings.
    filter_patterns: String,
    /// The writer's environment from pipeline.toml (key names and types), or a function's tables.
    environment: Vec<Entry>,
    /// The consumer's own function (`[functions.<name>]`), if it runs one.
    function: Option<String>,
    /// The tables its function may write.
    tables: Vec<String>,
}

struct AuthView {
    function_name: String,
    secret_name: String,
    username: String,
    cache_ttl_seconds: u32,
    password_length: u32,
    password_version: u32,
    previous_password_grace_seconds: u32,
}

struct ApiView {
    name: String,
    stage: String,
    access_log_retention_days: u32,
    throttle_rate_limit: String,
    throttle_burst_limit: u32,
    manage_account: bool,
}

/// `[alerts]`: the addresses (raw; the template quotes them) and the topic ARN as HCL (`null`: create one).
struct AlertsView {
    emails: Vec<String>,
    sns_topic_arn: String,
}

struct WafView {
    rate_limit: u32,
    /// The 429 answer's JSON body: the error contract's `Throttled`, without a request id.
    throttled_body: String,
}

#[derive(Template)]
#[template(path = "terraform/stack/main.tf", escape = "none")]
struct StackMain {
    header: &'static str,
    name: String,
    /// HCL for the pipeline's customer-managed key ARN, or `null`.
    kms_key_expression: String,
    kms_create: bool,
    xray_tracing: bool,
    waf: Option<WafView>,
    authorizer_function: FunctionView,
    writer_function: FunctionView,
    /// `[functions.<name>]` with a crate, by name.
    custom_functions: Vec<CustomFunctionView>,
    streams: Vec<StreamView>,
    tables: Vec<TableView>,
    queues: Vec<QueueView>,
    dead_letter_bucket: DeadLetterBucketView,
    consumers: Vec<ConsumerView>,
    auth: Option<AuthView>,
    routed_streams: Vec<String>,
    api: ApiView,
    /// Where `cargo xtask build` puts the zips, as the generated root sees it.
    lambda_dir: LambdaDir,
    alerts: AlertsView,
    alarms: Vec<AlarmView>,
    rate: RateView,
}

#[derive(Template)]
#[template(path = "terraform/stack/variables.tf", escape = "none")]
struct StackVariables {
    header: &'static str,
    auth: bool,
    lambda_dir: LambdaDir,
    manage_account: bool,
    /// Whether the pipeline has functions of its own (`var.function_zip_paths`).
    functions: bool,
}

#[derive(Template)]
#[template(path = "terraform/stack/outputs.tf", escape = "none")]
struct StackOutputs {
    header: &'static str,
    auth: bool,
    waf: bool,
    api_url_description: String,
}
