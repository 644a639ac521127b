//! View models: the pipeline model turned into plain fields (names, numbers, pre-escaped literals) so that
//! the askama templates only loop and branch. One template struct per output file kind.

use askama::Template;

use super::escape::{filters, hcl_string};
use super::output::{Files, GenError, HEADER, LambdaDir, MANIFEST};
use sluice_config::{Billing, KeyAttribute, KmsKey, Pipeline, StreamCapacity};
use sluice_contract::limits::MAX_DEAD_LETTER_MESSAGE_BYTES;
use sluice_contract::{ApiError, env};

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
    aligned_as_is(
        items
            .into_iter()
            .map(|(k, v)| (hcl_string(&k), v))
            .collect(),
    )
}

/// Entries whose keys are HCL identifiers already (environment variable names), aligned.
fn aligned_idents(items: &[(&str, String)]) -> Vec<Entry> {
    aligned_as_is(
        items
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
    )
}

fn aligned_as_is(items: Vec<(String, String)>) -> Vec<Entry> {
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
    /// The writer's environment from pipeline.toml (key names and types).
    environment: Vec<Entry>,
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

/// What the modules' templates branch on besides their variables: which checkov findings are answered by
/// configuration and which need a skip with its reason.
#[derive(Debug, Clone, Copy)]
struct Edge {
    /// A customer-managed KMS key encrypts the pipeline's data and logs.
    cmk: bool,
    /// X-Ray tracing of the stage and the functions.
    tracing: bool,
    /// A WAF web ACL protects the stage.
    waf: bool,
}

impl Edge {
    fn of(p: &Pipeline) -> Self {
        Edge {
            cmk: p.kms_key != KmsKey::AwsManaged,
            tracing: p.xray_tracing,
            waf: p.waf.is_some(),
        }
    }
}

/// `[alerts]`: the addresses (raw; the template quotes them) and the topic ARN as HCL (`null`: create one).
struct AlertsView {
    emails: Vec<String>,
    sns_topic_arn: String,
}

/// One alarm of [`super::monitoring::alarms`], as the root's `alarms` map writes it (HCL literals).
struct AlarmView {
    name: String,
    description: String,
    namespace: String,
    metric_name: String,
    /// Dimension names and HCL expressions.
    dimensions: Vec<Entry>,
    statistic: String,
    extended_statistic: String,
    period: u32,
    evaluation_periods: u32,
    datapoints_to_alarm: u32,
    threshold: String,
    comparison: &'static str,
    treat_missing_data: &'static str,
}

/// The API's 4XX rate alarm (metric math).
struct RateView {
    name: String,
    description: String,
    api_name: String,
    threshold: String,
    min_requests: u32,
    period: u32,
    evaluation_periods: u32,
    datapoints_to_alarm: u32,
}

struct WafView {
    rate_limit: u32,
    /// The 429 answer's JSON body: the error contract's `Throttled`, without a request id.
    throttled_body: String,
}

#[derive(Template)]
#[template(path = "terraform/root/main.tf", escape = "none")]
struct RootMain {
    header: &'static str,
    name: String,
    /// HCL for the pipeline's customer-managed key ARN, or `null`.
    kms_key_expression: String,
    kms_create: bool,
    xray_tracing: bool,
    waf: Option<WafView>,
    tags: Vec<Entry>,
    authorizer_function: FunctionView,
    writer_function: FunctionView,
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
#[template(path = "terraform/root/variables.tf", escape = "none")]
struct RootVariables {
    header: &'static str,
    region: String,
    auth: bool,
    lambda_dir: LambdaDir,
}

#[derive(Template)]
#[template(path = "terraform/root/outputs.tf", escape = "none")]
struct RootOutputs {
    header: &'static str,
    auth: bool,
    waf: bool,
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
    TableVariables => "terraform/modules/table/variables.tf",
    TableOutputs => "terraform/modules/table/outputs.tf",
    QueueMain => "terraform/modules/queue/main.tf",
    QueueVariables => "terraform/modules/queue/variables.tf",
    QueueOutputs => "terraform/modules/queue/outputs.tf",
    AuthVariables => "terraform/modules/auth/variables.tf",
    AuthOutputs => "terraform/modules/auth/outputs.tf",
    ConsumerVariables => "terraform/modules/consumer/variables.tf",
    ConsumerOutputs => "terraform/modules/consumer/outputs.tf",
    ApiVariables => "terraform/modules/api/variables.tf",
    ApiOutputs => "terraform/modules/api/outputs.tf",
    FunctionVariables => "terraform/modules/function/variables.tf",
    FunctionOutputs => "terraform/modules/function/outputs.tf",
    KmsMain => "terraform/modules/kms/main.tf",
    KmsVariables => "terraform/modules/kms/variables.tf",
    KmsOutputs => "terraform/modules/kms/outputs.tf",
    WafVariables => "terraform/modules/waf/variables.tf",
    WafOutputs => "terraform/modules/waf/outputs.tf",
    DeadLetterBucketMain => "terraform/modules/dead_letter_bucket/main.tf",
    DeadLetterBucketVariables => "terraform/modules/dead_letter_bucket/variables.tf",
    DeadLetterBucketOutputs => "terraform/modules/dead_letter_bucket/outputs.tf",
    AlertsMain => "terraform/modules/alerts/main.tf",
    AlertsVariables => "terraform/modules/alerts/variables.tf",
    AlertsOutputs => "terraform/modules/alerts/outputs.tf",
}

/// Module files whose checkov skips depend on the pipeline's [`Edge`].
macro_rules! edge_module_files {
    ($($ty:ident => $path:literal),* $(,)?) => {
        $(
            #[derive(Template)]
            #[template(path = $path, escape = "none")]
            struct $ty {
                header: &'static str,
                edge: Edge,
            }
        )*
    };
}

edge_module_files! {
    ApiMain => "terraform/modules/api/main.tf",
    FunctionMain => "terraform/modules/function/main.tf",
    WafMain => "terraform/modules/waf/main.tf",
}

/// The table module: every table's instance.
#[derive(Template)]
#[template(path = "terraform/modules/table/main.tf", escape = "none")]
struct TableMain {
    header: &'static str,
    edge: Edge,
    /// Some table has point-in-time recovery off (a checkov finding the module answers with a skip).
    some_without_pitr: bool,
}

/// The authorizer's module: its environment's names come from the contract.
#[derive(Template)]
#[template(path = "terraform/modules/auth/main.tf", escape = "none")]
struct AuthMain {
    header: &'static str,
    edge: Edge,
    environment: Vec<Entry>,
}

/// A consumer's module: the environment names it adds come from the contract.
#[derive(Template)]
#[template(path = "terraform/modules/consumer/main.tf", escape = "none")]
struct ConsumerMain {
    header: &'static str,
    environment: Vec<Entry>,
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

fn function_view(f: &sluice_config::FunctionSettings) -> FunctionView {
    FunctionView {
        architecture: f.architecture.lambda_name(),
        memory_mb: f.memory_mb,
        timeout_seconds: f.timeout_seconds,
        reserved_concurrency: opt_num(f.reserved_concurrency),
        log_retention_days: f.log_retention_days,
    }
}

/// The alarms as the root's `alarms` map writes them, and the 4XX rate alarm.
fn alarm_views(p: &Pipeline) -> (Vec<AlarmView>, RateView) {
    use super::monitoring::{self as m, Metric, Statistic};
    let mut views = Vec::new();
    let mut rate = None;
    for a in m::alarms(p) {
        match a.metric {
            Metric::Single {
                namespace,
                name,
                dimensions,
                statistic,
            } => {
                let (statistic, extended_statistic) = match statistic {
                    Statistic::Standard(s) => (hcl_string(s), "null".to_string()),
                    Statistic::Extended(s) => ("null".to_string(), hcl_string(s)),
                };
                views.push(AlarmView {
                    name: a.name,
                    description: a.description,
                    namespace: namespace.to_string(),
                    metric_name: name,
                    dimensions: dimensions
                        .into_iter()
                        .map(|(key, value)| Entry {
                            key: key.to_string(),
                            pad: String::new(),
                            value,
                        })
                        .collect(),
                    statistic,
                    extended_statistic,
                    period: m::PERIOD,
                    evaluation_periods: a.evaluation_periods,
                    datapoints_to_alarm: a.datapoints_to_alarm,
                    threshold: m::hcl_number(a.threshold),
                    comparison: a.comparison,
                    treat_missing_data: a.treat_missing_data,
                });
            }
            Metric::ClientErrorRate { api_name, .. } => {
                rate = Some(RateView {
                    name: a.name,
                    description: a.description,
                    api_name,
                    threshold: m::hcl_number(a.threshold),
                    min_requests: m::MIN_REQUESTS_FOR_RATE,
                    period: m::PERIOD,
                    evaluation_periods: a.evaluation_periods,
                    datapoints_to_alarm: a.datapoints_to_alarm,
                });
            }
        }
    }
    let rate = rate.unwrap_or_else(|| RateView {
        name: format!("{}-api-4xx-rate", p.name),
        description: String::new(),
        api_name: p.name.clone(),
        threshold: m::hcl_number(m::CLIENT_ERROR_RATE_PERCENT),
        min_requests: m::MIN_REQUESTS_FOR_RATE,
        period: m::PERIOD,
        evaluation_periods: 3,
        datapoints_to_alarm: 3,
    });
    (views, rate)
}

pub(super) fn render_all(p: &Pipeline, lambda_dir: &LambdaDir) -> Result<Files, GenError> {
    let mut files = Files::new();
    let header = HEADER;
    let edge = Edge::of(p);
    let kms_key_expression = match &p.kms_key {
        KmsKey::AwsManaged => "null".to_string(),
        KmsKey::Create => "module.kms.key_arn".to_string(),
        KmsKey::Arn(arn) => hcl_string(arn),
    };

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
            // The stream's own key, else the pipeline's.
            kms_key_arn: match (&s.kms_key_arn, edge.cmk) {
                (Some(arn), _) => hcl_string(arn),
                (None, true) => "local.kms_key_arn".to_string(),
                (None, false) => "null".to_string(),
            },
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
            max_message_size: MAX_DEAD_LETTER_MESSAGE_BYTES,
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
                environment: writer_environment(table),
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
        previous_password_grace_seconds: a.previous_password_grace_seconds,
    });
    let mut routed_streams: Vec<String> = p
        .routes
        .values()
        .flat_map(|r| r.streams())
        .map(str::to_string)
        .collect();
    routed_streams.sort();
    routed_streams.dedup();
    let (alarms, rate) = alarm_views(p);

    put(
        &mut files,
        "main.tf",
        RootMain {
            header,
            name: p.name.clone(),
            kms_key_expression,
            kms_create: p.kms_key == KmsKey::Create,
            xray_tracing: p.xray_tracing,
            waf: p.waf.as_ref().map(|w| WafView {
                rate_limit: w.rate_limit,
                throttled_body: serde_json::to_string(&ApiError::Throttled.body(""))
                    .unwrap_or_default(),
            }),
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
            dead_letter_bucket: DeadLetterBucketView::new(p),
            consumers,
            auth,
            routed_streams,
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
    put(
        &mut files,
        "variables.tf",
        RootVariables {
            header,
            region: p.region.clone(),
            auth: p.auth.is_some(),
            lambda_dir: lambda_dir.clone(),
        },
    )?;
    put(
        &mut files,
        "outputs.tf",
        RootOutputs {
            header,
            auth: p.auth.is_some(),
            waf: p.waf.is_some(),
        },
    )?;
    put(&mut files, "versions.tf", Versions { header })?;

    for module in [
        "stream",
        "table",
        "queue",
        "dead_letter_bucket",
        "function",
        "auth",
        "consumer",
        "api",
        "kms",
        "waf",
        "alerts",
    ] {
        let absent = match module {
            "auth" => p.auth.is_none(),
            "kms" => p.kms_key != KmsKey::Create,
            "waf" => p.waf.is_none(),
            _ => false,
        };
        if absent {
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
    put(
        &mut files,
        "modules/table/main.tf",
        TableMain {
            header,
            edge,
            some_without_pitr: p.tables.values().any(|t| !t.point_in_time_recovery),
        },
    )?;
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
    put(
        &mut files,
        "modules/dead_letter_bucket/main.tf",
        DeadLetterBucketMain { header },
    )?;
    put(
        &mut files,
        "modules/dead_letter_bucket/variables.tf",
        DeadLetterBucketVariables { header },
    )?;
    put(
        &mut files,
        "modules/dead_letter_bucket/outputs.tf",
        DeadLetterBucketOutputs { header },
    )?;
    put(
        &mut files,
        "modules/function/main.tf",
        FunctionMain { header, edge },
    )?;
    put(
        &mut files,
        "modules/function/variables.tf",
        FunctionVariables { header },
    )?;
    put(
        &mut files,
        "modules/function/outputs.tf",
        FunctionOutputs { header },
    )?;
    if p.auth.is_some() {
        put(
            &mut files,
            "modules/auth/main.tf",
            AuthMain {
                header,
                edge,
                environment: aligned_idents(&[
                    (env::SECRET_ID, "aws_secretsmanager_secret.this.arn".into()),
                    (
                        env::PREVIOUS_PASSWORD_GRACE_SECONDS,
                        "tostring(var.auth.previous_password_grace_seconds)".into(),
                    ),
                ]),
            },
        )?;
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
        ConsumerMain {
            header,
            environment: aligned_idents(&[
                (env::TABLE_NAME, "var.table.name".into()),
                (
                    env::DEAD_LETTER_QUEUE_URL,
                    "var.dead_letter_queue.url".into(),
                ),
                (
                    env::DEAD_LETTER_BUCKET,
                    "var.dead_letter_bucket.name".into(),
                ),
            ]),
        },
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
    put(&mut files, "modules/api/main.tf", ApiMain { header, edge })?;
    put(
        &mut files,
        "modules/api/variables.tf",
        ApiVariables { header },
    )?;
    put(&mut files, "modules/api/outputs.tf", ApiOutputs { header })?;
    if p.kms_key == KmsKey::Create {
        put(&mut files, "modules/kms/main.tf", KmsMain { header })?;
        put(
            &mut files,
            "modules/kms/variables.tf",
            KmsVariables { header },
        )?;
        put(&mut files, "modules/kms/outputs.tf", KmsOutputs { header })?;
    }
    if p.waf.is_some() {
        put(&mut files, "modules/waf/main.tf", WafMain { header, edge })?;
        put(
            &mut files,
            "modules/waf/variables.tf",
            WafVariables { header },
        )?;
        put(&mut files, "modules/waf/outputs.tf", WafOutputs { header })?;
    }
    put(&mut files, "modules/alerts/main.tf", AlertsMain { header })?;
    put(
        &mut files,
        "modules/alerts/variables.tf",
        AlertsVariables { header },
    )?;
    put(
        &mut files,
        "modules/alerts/outputs.tf",
        AlertsOutputs { header },
    )?;
    let mut dashboard = super::monitoring::dashboard(p);
    dashboard.push('\n');
    files.insert("modules/alerts/dashboard.json.tftpl".into(), dashboard);
    let mut document = super::openapi::render(p)?;
    document.push('\n');
    files.insert("modules/api/openapi.json.tftpl".into(), document);

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
