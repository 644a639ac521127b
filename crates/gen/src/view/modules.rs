//! The child modules' files (`modules/<module>/main.tf`, `variables.tf`, `outputs.tf`, `versions.tf`):
//! mostly static, taking everything through typed variables; what they branch on is the pipeline's
//! [`Edge`] and the contract's environment names.

use askama::Template;

use sluice_config::{KmsKey, Pipeline};
use sluice_contract::env;

use super::shared::{Edge, Entry, Versions, aligned_idents, put};
use crate::output::{Files, GenError, HEADER};

/// Renders every module's files the pipeline uses into `files`.
pub(super) fn render(p: &Pipeline, files: &mut Files) -> Result<(), GenError> {
    versions(p, files)?;
    stream(files)?;
    table(p, files)?;
    queue(files)?;
    dead_letter_bucket(files)?;
    function(p, files)?;
    auth(p, files)?;
    consumer(files)?;
    api(p, files)?;
    kms(p, files)?;
    waf(p, files)?;
    alerts(files)?;
    Ok(())
}

/// Each used module's `versions.tf`.
fn versions(p: &Pipeline, files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
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
            files,
            &format!("modules/{module}/versions.tf"),
            Versions { header },
        )?;
    }
    Ok(())
}

/// `modules/stream/`: Kinesis streams.
fn stream(files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    put(files, "modules/stream/main.tf", StreamMain { header })?;
    put(
        files,
        "modules/stream/variables.tf",
        StreamVariables { header },
    )?;
    put(files, "modules/stream/outputs.tf", StreamOutputs { header })?;
    Ok(())
}

/// `modules/table/`: DynamoDB tables (checkov skips where a table has point-in-time recovery off).
fn table(p: &Pipeline, files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    let edge = Edge::of(p);
    put(
        files,
        "modules/table/main.tf",
        TableMain {
            header,
            edge,
            some_without_pitr: p.tables.values().any(|t| !t.point_in_time_recovery),
        },
    )?;
    put(
        files,
        "modules/table/variables.tf",
        TableVariables { header },
    )?;
    put(files, "modules/table/outputs.tf", TableOutputs { header })?;
    Ok(())
}

/// `modules/queue/`: dead-letter queues.
fn queue(files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    put(files, "modules/queue/main.tf", QueueMain { header })?;
    put(
        files,
        "modules/queue/variables.tf",
        QueueVariables { header },
    )?;
    put(files, "modules/queue/outputs.tf", QueueOutputs { header })?;
    Ok(())
}

/// `modules/dead_letter_bucket/`: the dead-letter bucket.
fn dead_letter_bucket(files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    put(
        files,
        "modules/dead_letter_bucket/main.tf",
        DeadLetterBucketMain { header },
    )?;
    put(
        files,
        "modules/dead_letter_bucket/variables.tf",
        DeadLetterBucketVariables { header },
    )?;
    put(
        files,
        "modules/dead_letter_bucket/outputs.tf",
        DeadLetterBucketOutputs { header },
    )?;
    Ok(())
}

/// `modules/function/`: a Lambda function and its role, logs and tracing.
fn function(p: &Pipeline, files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    let edge = Edge::of(p);
    put(
        files,
        "modules/function/main.tf",
        FunctionMain { header, edge },
    )?;
    put(
        files,
        "modules/function/variables.tf",
        FunctionVariables { header },
    )?;
    put(
        files,
        "modules/function/outputs.tf",
        FunctionOutputs { header },
    )?;
    Ok(())
}

/// `modules/auth/`: the authorizer and its secret (with `[auth]` only).
fn auth(p: &Pipeline, files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    let edge = Edge::of(p);
    if p.auth.is_some() {
        put(
            files,
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
        put(files, "modules/auth/variables.tf", AuthVariables { header })?;
        put(files, "modules/auth/outputs.tf", AuthOutputs { header })?;
    }
    Ok(())
}

/// `modules/consumer/`: a consumer: its writer function and event source mapping.
fn consumer(files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    put(
        files,
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
        files,
        "modules/consumer/variables.tf",
        ConsumerVariables { header },
    )?;
    put(
        files,
        "modules/consumer/outputs.tf",
        ConsumerOutputs { header },
    )?;
    Ok(())
}

/// `modules/api/`: the API Gateway REST API and its stage.
fn api(p: &Pipeline, files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    let edge = Edge::of(p);
    put(files, "modules/api/main.tf", ApiMain { header, edge })?;
    put(files, "modules/api/variables.tf", ApiVariables { header })?;
    put(files, "modules/api/outputs.tf", ApiOutputs { header })?;
    Ok(())
}

/// `modules/kms/`: the customer-managed key (with `kms_key = "create"` only).
fn kms(p: &Pipeline, files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    if p.kms_key == KmsKey::Create {
        put(files, "modules/kms/main.tf", KmsMain { header })?;
        put(files, "modules/kms/variables.tf", KmsVariables { header })?;
        put(files, "modules/kms/outputs.tf", KmsOutputs { header })?;
    }
    Ok(())
}

/// `modules/waf/`: the WAF web ACL (with `[waf]` only).
fn waf(p: &Pipeline, files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    let edge = Edge::of(p);
    if p.waf.is_some() {
        put(files, "modules/waf/main.tf", WafMain { header, edge })?;
        put(files, "modules/waf/variables.tf", WafVariables { header })?;
        put(files, "modules/waf/outputs.tf", WafOutputs { header })?;
    }
    Ok(())
}

/// `modules/alerts/`: the SNS topic, the e-mail subscriptions and the dashboard.
fn alerts(files: &mut Files) -> Result<(), GenError> {
    let header = HEADER;
    put(files, "modules/alerts/main.tf", AlertsMain { header })?;
    put(
        files,
        "modules/alerts/variables.tf",
        AlertsVariables { header },
    )?;
    put(files, "modules/alerts/outputs.tf", AlertsOutputs { header })?;
    Ok(())
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
