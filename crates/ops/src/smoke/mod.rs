//! `cargo xtask smoke-test`: proves a running pipeline end to end, locally (`--local`, against
//! `cargo xtask dev`) or deployed (default: `terraform output -json` + Secrets Manager + DynamoDB + SQS).
//!
//! Both targets sit behind one small interface — an endpoint, credentials, a table reader and a
//! dead-letter reader — so the checks are written once.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use miette::{IntoDiagnostic, WrapErr, miette};
use serde_json::{Value, json};

use sluice_config::{self as config, KeyType, PartitionKeySource, Pipeline};
use sluice_contract::writer::attribute;

/// `cargo xtask smoke-test`.
#[derive(Debug, Clone, clap::Args)]
pub struct SmokeArgs {
    /// Test the pipeline `cargo xtask dev` runs instead of the deployed one.
    #[arg(long)]
    pub local: bool,
    /// The local pipeline's port.
    #[arg(long, default_value_t = sluice_local::DEFAULT_PORT)]
    pub port: u16,
    /// The local pipeline's state dir.
    #[arg(long, default_value = sluice_local::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// The Terraform root whose `terraform output -json` describes the deployed stack.
    #[arg(long, default_value = "terraform")]
    pub terraform_dir: PathBuf,
}

/// Reads one item of the table under test by its partition key.
pub trait TableReader: Send + Sync {
    fn get(&self, key: &str) -> impl Future<Output = miette::Result<Option<Value>>> + Send;
}

/// Counts what is waiting in the dead-letter queue under test.
pub trait DeadLetterReader: Send + Sync {
    fn count(&self) -> impl Future<Output = miette::Result<u64>> + Send;
}

/// Where and how to reach a running pipeline.
pub struct Target<T, D> {
    /// Base URL including the stage, e.g. `http://127.0.0.1:4566/prod`.
    pub base_url: String,
    pub username: String,
    pub password: String,
    pub table: T,
    pub dead_letters: D,
    /// How long to wait for an item to appear.
    pub patience: Duration,
}

/// What the smoke test exercises, chosen from pipeline.toml: the first authenticated route whose
/// partition key comes from the path, one of its streams, and the consumer of that stream.
#[derive(Debug, Clone)]
pub struct Probe {
    pub route_path: String,
    pub key_param: String,
    pub key_type: KeyType,
    pub table: String,
    pub table_key: String,
    pub queue: String,
    pub content_type: String,
}

impl Probe {
    pub fn from_pipeline(p: &Pipeline) -> miette::Result<Probe> {
        for route in p.routes.values().filter(|r| r.auth) {
            let PartitionKeySource::PathParam(key_param) = &route.partition_key else {
                continue;
            };
            for stream in route.streams() {
                if let Some(c) = p.consumers.values().find(|c| c.stream == stream) {
                    let table = &p.tables[&c.table];
                    return Ok(Probe {
                        route_path: route.concrete_path(stream),
                        key_param: key_param.clone(),
                        key_type: table.partition_key.kind,
                        table: c.table.clone(),
                        table_key: table.partition_key.name.clone(),
                        queue: c.dead_letter_queue.clone(),
                        content_type: route.content_type.clone(),
                    });
                }
            }
        }
        Err(miette!(
            "pipeline.toml has no authenticated route whose partition key is a path parameter and whose stream has a consumer; the smoke test needs one"
        ))
    }

    /// The URL path for one event id (other path parameters, if any, get "smoke").
    fn path_for(&self, id: &str) -> String {
        let mut out = String::new();
        for seg in self.route_path.split('/').filter(|s| !s.is_empty()) {
            out.push('/');
            if seg == format!("{{{}}}", self.key_param) {
                out.push_str(id);
            } else if seg.starts_with('{') {
                out.push_str("smoke");
            } else {
                out.push_str(seg);
            }
        }
        out
    }

    fn fresh_id(&self) -> String {
        match self.key_type {
            KeyType::S => format!("smoke-{}", uuid::Uuid::new_v4()),
            KeyType::N => format!("{}", rand::random::<u32>()),
        }
    }
}

/// One check's outcome.
#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// Runs every check against `target`, printing PASS/FAIL lines as it goes.
pub async fn run_checks<T: TableReader, D: DeadLetterReader>(
    target: &Target<T, D>,
    probe: &Probe,
) -> Vec<Check> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client");
    let mut checks = Vec::new();
    let mut record = |name: &'static str, passed: bool, detail: String| {
        println!("{} {name}: {detail}", if passed { "PASS" } else { "FAIL" });
        checks.push(Check {
            name,
            passed,
            detail,
        });
    };

    let dead_before = target.dead_letters.count().await;

    // 1. An authenticated event is accepted.
    let id = probe.fresh_id();
    let body = json!({ "smoke": true, "eventId": id, "note": "sluice smoke test: quotes \" backslash \\ unicode é $x #y" });
    let url = format!("{}{}", target.base_url, probe.path_for(&id));
    let sent = http
        .post(&url)
        .basic_auth(&target.username, Some(&target.password))
        .header("content-type", &probe.content_type)
        .body(body.to_string())
        .send()
        .await;
    let accepted = match sent {
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            let ok = status.as_u16() == 200
                && serde_json::from_str::<Value>(&text)
                    .is_ok_and(|v| v["SequenceNumber"].is_string());
            record(
                "authenticated event accepted",
                ok,
                format!("POST {url} → {status} {text}"),
            );
            ok
        }
        Err(e) => {
            record(
                "authenticated event accepted",
                false,
                format!("POST {url} failed: {e}"),
            );
            false
        }
    };

    // 2. It lands in the table, equal to what was sent.
    if accepted {
        let started = Instant::now();
        let mut last = String::from("not there yet");
        let mut found = false;
        eprint!(
            "waiting up to {}s for {}[{}={id}]",
            target.patience.as_secs(),
            probe.table,
            probe.table_key
        );
        while started.elapsed() < target.patience {
            match target.table.get(&id).await {
                Ok(Some(item)) => {
                    found = item.get(attribute::PAYLOAD) == Some(&body);
                    last = if found {
                        format!(
                            "found after {} ms, payload equal",
                            started.elapsed().as_millis()
                        )
                    } else {
                        format!("found, but payload differs: {item}")
                    };
                    break;
                }
                Ok(None) => {}
                Err(e) => last = format!("reading the table failed: {e}"),
            }
            eprint!(".");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        eprintln!();
        record("item stored and equal to the event", found, last);
    } else {
        record(
            "item stored and equal to the event",
            false,
            "skipped: the event was not accepted".into(),
        );
    }

    // 3. Wrong credentials are denied and nothing is written.
    let bad_id = probe.fresh_id();
    let bad_url = format!("{}{}", target.base_url, probe.path_for(&bad_id));
    let denied = http
        .post(&bad_url)
        .basic_auth(&target.username, Some(format!("{}-wrong", target.password)))
        .header("content-type", &probe.content_type)
        .body(json!({ "smoke": "should be denied" }).to_string())
        .send()
        .await;
    match denied {
        Ok(r) => {
            let status = r.status().as_u16();
            tokio::time::sleep(Duration::from_secs(2).min(target.patience)).await;
            let written = target.table.get(&bad_id).await;
            let ok = status == 403 && matches!(written, Ok(None));
            record(
                "wrong credentials denied, nothing written",
                ok,
                format!(
                    "status {status}, item {}",
                    match written {
                        Ok(None) => "absent".to_string(),
                        Ok(Some(_)) => "PRESENT".to_string(),
                        Err(e) => format!("unreadable: {e}"),
                    }
                ),
            );
        }
        Err(e) => record(
            "wrong credentials denied, nothing written",
            false,
            format!("request failed: {e}"),
        ),
    }

    // 4. The dead-letter queue did not grow.
    let dead_after = target.dead_letters.count().await;
    match (dead_before, dead_after) {
        (Ok(b), Ok(a)) => record(
            "dead-letter queue did not grow",
            a <= b,
            format!("{b} before, {a} after"),
        ),
        (b, a) => record(
            "dead-letter queue did not grow",
            false,
            format!("could not read it: {b:?} / {a:?}"),
        ),
    }
    checks
}

// ---- local target: the SQLite file of `cargo xtask dev` ----

/// Reads `<state-dir>/pipeline.db`: a table per DynamoDB table (`item` column), a table per queue.
pub struct SqliteReader {
    db: PathBuf,
    table: String,
    key_column: String,
    queue: String,
}

impl SqliteReader {
    pub fn new(state_dir: &Path, probe: &Probe) -> SqliteReader {
        SqliteReader {
            db: state_dir.join("pipeline.db"),
            table: probe.table.clone(),
            key_column: probe.table_key.clone(),
            queue: probe.queue.clone(),
        }
    }

    fn open(&self) -> miette::Result<rusqlite::Connection> {
        rusqlite::Connection::open_with_flags(&self.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .into_diagnostic()
            .wrap_err_with(|| {
                format!(
                    "cannot open {} (is `cargo xtask dev` running with this --state-dir?)",
                    self.db.display()
                )
            })
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl TableReader for SqliteReader {
    async fn get(&self, key: &str) -> miette::Result<Option<Value>> {
        let conn = self.open()?;
        let sql = format!(
            "SELECT item FROM {} WHERE {} = ?1",
            quote_ident(&self.table),
            quote_ident(&self.key_column)
        );
        let item: Option<String> = match conn.query_row(&sql, [key], |r| r.get(0)) {
            Ok(s) => Some(s),
            Err(rusqlite::Error::QueryReturnedNoRows) => None,
            Err(e) => {
                return Err(miette!(
                    "reading {} from {}: {e}",
                    self.table,
                    self.db.display()
                ));
            }
        };
        item.map(|s| serde_json::from_str(&s).into_diagnostic())
            .transpose()
    }
}

impl DeadLetterReader for SqliteReader {
    async fn count(&self) -> miette::Result<u64> {
        let conn = self.open()?;
        let sql = format!("SELECT count(*) FROM {}", quote_ident(&self.queue));
        conn.query_row(&sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| miette!("counting {}: {e}", self.queue))
    }
}

/// `username`/`password` of `<state-dir>/credentials.json`.
pub fn local_credentials(state_dir: &Path) -> miette::Result<(String, String)> {
    let path = state_dir.join("credentials.json");
    let text = std::fs::read_to_string(&path)
        .into_diagnostic()
        .wrap_err_with(|| {
            format!(
                "cannot read {} (start `cargo xtask dev` first)",
                path.display()
            )
        })?;
    credentials_from_json(&text)
        .ok_or_else(|| miette!("{} has no username/password", path.display()))
}

fn credentials_from_json(text: &str) -> Option<(String, String)> {
    let v: Value = serde_json::from_str(text).ok()?;
    Some((
        v.get("username")?.as_str()?.to_string(),
        v.get("password")?.as_str()?.to_string(),
    ))
}

// ---- deployed target: DynamoDB, SQS, Secrets Manager ----

/// Reads a DynamoDB table (consistent reads) and counts an SQS queue's messages.
pub struct AwsReader {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    table_name: String,
    key: String,
    key_type: KeyType,
    queue_url: String,
}

impl AwsReader {
    pub fn new(
        sdk: &aws_config::SdkConfig,
        table_name: String,
        key: String,
        key_type: KeyType,
        queue_url: String,
    ) -> AwsReader {
        AwsReader {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            table_name,
            key,
            key_type,
            queue_url,
        }
    }
}

impl TableReader for AwsReader {
    async fn get(&self, key: &str) -> miette::Result<Option<Value>> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let value = match self.key_type {
            KeyType::S => AttributeValue::S(key.to_string()),
            KeyType::N => AttributeValue::N(key.to_string()),
        };
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table_name)
            .key(&self.key, value)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                miette!(
                    "GetItem on {}: {}",
                    self.table_name,
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )
            })?;
        match out.item {
            None => Ok(None),
            Some(item) => serde_dynamo::from_item(item)
                .map(Some)
                .map_err(|e| miette!("item of {} is not JSON-convertible: {e}", self.table_name)),
        }
    }
}

impl DeadLetterReader for AwsReader {
    async fn count(&self) -> miette::Result<u64> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| {
                miette!(
                    "GetQueueAttributes on {}: {}",
                    self.queue_url,
                    aws_sdk_sqs::error::DisplayErrorContext(e)
                )
            })?;
        let attrs = out.attributes.unwrap_or_default();
        let n = |a: A| {
            attrs
                .get(&a)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(n(A::ApproximateNumberOfMessages) + n(A::ApproximateNumberOfMessagesNotVisible))
    }
}

/// Username and password from the credentials secret (`{"username":…,"password":…}`).
pub async fn secret_credentials(
    sdk: &aws_config::SdkConfig,
    secret_id: &str,
) -> miette::Result<(String, String)> {
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            miette!(
                "GetSecretValue on {secret_id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?;
    out.secret_string()
        .and_then(credentials_from_json)
        .ok_or_else(|| miette!("secret {secret_id} does not hold {{\"username\",\"password\"}}"))
}

/// An AWS SDK config for `region` (else the environment's); honours `AWS_ENDPOINT_URL` and the usual
/// credential chain. Every deployed command (`smoke-test`, `status`, `items`, `rotate`, `dlq`) loads it so.
pub async fn sdk_config(region: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    loader.load().await
}

fn report(checks: &[Check]) -> miette::Result<()> {
    let failed = checks.iter().filter(|c| !c.passed).count();
    println!("{} passed, {} failed", checks.len() - failed, failed);
    if failed == 0 {
        Ok(())
    } else {
        Err(miette!(
            "smoke test failed: {failed} of {} checks",
            checks.len()
        ))
    }
}

pub fn run(config: &Path, opts: SmokeArgs) -> miette::Result<()> {
    let pipeline = config::load(config)?;
    let probe = Probe::from_pipeline(&pipeline)?;
    let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
    rt.block_on(async {
        if opts.local {
            let (username, password) = local_credentials(&opts.state_dir)?;
            let reader = SqliteReader::new(&opts.state_dir, &probe);
            let dead = SqliteReader::new(&opts.state_dir, &probe);
            let target = Target {
                base_url: format!("http://127.0.0.1:{}/{}", opts.port, pipeline.stage),
                username,
                password,
                table: reader,
                dead_letters: dead,
                patience: Duration::from_secs(15),
            };
            println!("smoke-testing the local pipeline at {}", target.base_url);
            report(&run_checks(&target, &probe).await)
        } else {
            let outputs = crate::tf_outputs::TerraformOutputs::from_dir(&opts.terraform_dir)?;
            let sdk = sdk_config(outputs.optional_string("region").as_deref()).await;
            let secret_arn = outputs.string("credentials_secret_arn")?;
            let (username, password) = secret_credentials(&sdk, &secret_arn).await?;
            let table_name = outputs.entry("table_names", &probe.table)?;
            let queue_url = outputs.entry("dead_letter_queue_urls", &probe.queue)?;
            let reader = |_: ()| {
                AwsReader::new(
                    &sdk,
                    table_name.to_string(),
                    probe.table_key.clone(),
                    probe.key_type,
                    queue_url.to_string(),
                )
            };
            let target = Target {
                base_url: outputs.string("api_url")?.trim_end_matches('/').to_string(),
                username,
                password,
                table: reader(()),
                dead_letters: reader(()),
                patience: Duration::from_secs(90),
            };
            println!("smoke-testing the deployed pipeline at {}", target.base_url);
            report(&run_checks(&target, &probe).await)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_follows_the_shipped_pipeline() {
        let p = config::load(&sluice_config::project_root().join("pipeline.toml")).unwrap();
        let probe = Probe::from_pipeline(&p).unwrap();
        assert_eq!(probe.route_path, "/submit/GatewayEventsStream/{eventId}");
        assert_eq!(probe.path_for("abc"), "/submit/GatewayEventsStream/abc");
        assert_eq!(
            (
                probe.table.as_str(),
                probe.table_key.as_str(),
                probe.queue.as_str()
            ),
            ("EventTable", "eventId", "LambdaDeadLetterQueue")
        );
        assert!(probe.fresh_id().starts_with("smoke-"));
        assert_ne!(probe.fresh_id(), probe.fresh_id());
    }

    #[test]
    fn credentials_json_is_read() {
        assert_eq!(
            credentials_from_json(r#"{"username":"u","password":"p:w"}"#),
            Some(("u".into(), "p:w".into()))
        );
        assert_eq!(credentials_from_json(r#"{"username":"u"}"#), None);
    }
}
