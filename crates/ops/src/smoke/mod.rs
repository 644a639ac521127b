//! `cargo xtask smoke-test`: proves a running pipeline end to end, locally (`--local`, against
//! `cargo xtask dev`) or deployed (default: `terraform output -json` + Secrets Manager + DynamoDB + SQS).
//!
//! Both targets sit behind one small interface — an endpoint, credentials, a table reader and a
//! dead-letter reader — so the checks are written once. The deployed target is in `deployed` (feature
//! `aws`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use miette::{IntoDiagnostic, WrapErr, miette};
use serde_json::{Value, json};

use sluice_config::{self as config, KeyType, PartitionKeySource, Pipeline, Table};
use sluice_contract::writer::attribute;
use sluice_local::inspect::{InspectError, Inspector};

#[cfg(feature = "aws")]
mod deployed;
#[cfg(feature = "aws")]
pub use deployed::{AwsReader, secret_credentials};

/// `cargo xtask smoke-test`.
#[derive(Debug, Clone, clap::Args)]
pub struct SmokeArgs {
    /// Test the pipeline `cargo xtask dev` runs instead of the deployed one.
    #[arg(long)]
    pub local: bool,
    /// The local pipeline's port (default: the one `cargo xtask dev` recorded in its state dir).
    #[arg(long)]
    pub port: Option<u16>,
    /// The local pipeline's state dir.
    #[arg(long, default_value = sluice_local::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// Where the deployed stack's API, secret, table and queue are named.
    #[command(flatten)]
    pub deployed: crate::deployment::OutputsArgs,
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
/// partition key comes from the path, and the first of its streams with a consumer whose filters deliver
/// the route's example body ([`sluice_config::Route::example_body`]), so that the event must reach the
/// table.
#[derive(Debug, Clone)]
pub struct Probe {
    pub route: String,
    pub method: &'static str,
    pub route_path: String,
    pub key_param: String,
    pub key_type: KeyType,
    pub table: String,
    pub table_key: String,
    pub queue: String,
    pub content_type: String,
    /// What is sent: the route's example body, with a member testing escaping when the route's schema and
    /// the consumer's filters still accept it.
    pub body: Value,
    /// The table as pipeline.toml declares it.
    pub table_spec: Table,
    /// Send the event again (with a fresh id) this often while none has landed: the consumer's mapping
    /// starts at `LATEST`, and a mapping just created (a smoke test right after `terraform apply`) reads
    /// only what arrives after its first poll, so the first event can be missed for good.
    pub resend_every: Option<Duration>,
}

/// How long a `LATEST` mapping is given before the probe is sent again.
pub const LATEST_RESEND: Duration = Duration::from_secs(15);

/// A member added to the example body when the schema allows: quotes, a backslash, non-ASCII and the
/// characters API Gateway's templates treat specially must reach the table unchanged.
const NOTE: (&str, &str) = (
    "smokeNote",
    "sluice smoke test: quotes \" backslash \\ unicode é $x #y",
);

/// Whether a consumer's filters deliver a request's record (the envelope as the gateway writes it; a
/// documentation address stands in for the caller's, so only the body and the key decide).
pub(crate) fn delivered(consumer: &sluice_config::Consumer, key: &str, body: &Value) -> bool {
    let data = sluice_contract::envelope::encode(&sluice_contract::envelope::Received {
        received_at_ms: 0,
        request_id: "smoke",
        source_ip: "192.0.2.1",
        body: &body.to_string(),
    });
    sluice_local::event_source_mapping::filter::delivers(&consumer.filters, key, &data)
}

impl Probe {
    pub fn from_pipeline(p: &Pipeline) -> miette::Result<Probe> {
        let mut refused = Vec::new();
        for route in p.routes.values().filter(|r| r.auth) {
            let PartitionKeySource::PathParam(key_param) = &route.partition_key else {
                continue;
            };
            let example = route.example_body();
            let accepts = |body: &Value| match &route.schema {
                Some(s) => s.validator().is_ok_and(|v| v.validate(body).is_ok()),
                None => body.is_object(),
            };
            let mut noted = example.clone();
            if let Value::Object(members) = &mut noted {
                members.insert(NOTE.0.to_string(), json!(NOTE.1));
            }
            for stream in route.streams() {
                for c in p.consumers.values().filter(|c| c.stream == stream) {
                    let table = &p.tables[&c.table];
                    let key_type = table.partition_key.kind;
                    let key = fresh_id(key_type);
                    let body = if accepts(&noted) && delivered(c, &key, &noted) {
                        noted.clone()
                    } else if delivered(c, &key, &example) {
                        example.clone()
                    } else {
                        refused.push(format!("{} on {stream} (consumer {})", route.name, c.name));
                        continue;
                    };
                    return Ok(Probe {
                        route: route.name.clone(),
                        method: route.method.as_str(),
                        route_path: route.concrete_path(stream),
                        key_param: key_param.clone(),
                        key_type,
                        table: c.table.clone(),
                        table_key: table.partition_key.name.clone(),
                        queue: c.dead_letter_queue.clone(),
                        content_type: route.content_type.clone(),
                        body,
                        table_spec: table.clone(),
                        resend_every: (c.starting_position
                            == sluice_config::StartingPosition::Latest)
                            .then_some(LATEST_RESEND),
                    });
                }
            }
        }
        if refused.is_empty() {
            Err(miette!(
                "pipeline.toml has no authenticated route whose partition key is a path parameter and whose stream has a consumer; the smoke test needs one"
            ))
        } else {
            Err(miette!(
                help = "give one of these routes an `example` body its consumer's filters deliver",
                "the consumers' filters skip every route's example body: {}",
                refused.join(", ")
            ))
        }
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
        fresh_id(self.key_type)
    }
}

fn fresh_id(key_type: KeyType) -> String {
    match key_type {
        KeyType::S => format!("smoke-{}", uuid::Uuid::new_v4()),
        KeyType::N => format!("{}", rand::random::<u32>()),
    }
}

/// One check's outcome.
#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// Sends the probe's body for event `id` with `password`, as a client would: (the URL, the answer).
async fn send_probe<T, D>(
    http: &reqwest::Client,
    target: &Target<T, D>,
    probe: &Probe,
    method: &reqwest::Method,
    id: &str,
    password: &str,
) -> (String, reqwest::Result<reqwest::Response>) {
    let url = format!("{}{}", target.base_url, probe.path_for(id));
    let sent = http
        .request(method.clone(), &url)
        .basic_auth(&target.username, Some(password))
        .header("content-type", &probe.content_type)
        .body(probe.body.to_string())
        .send()
        .await;
    (url, sent)
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
    let method =
        reqwest::Method::from_bytes(probe.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let id = probe.fresh_id();
    let body = probe.body.clone();
    let (url, sent) = send_probe(&http, target, probe, &method, &id, &target.password).await;
    // Whether the pipeline answered at all: without that, no check below can pass.
    let mut reached = true;
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
                format!("{method} {url} → {status} {text}"),
            );
            ok
        }
        Err(e) => {
            reached = false;
            record(
                "authenticated event accepted",
                false,
                format!("{method} {url} failed: {e} (is the pipeline running?)"),
            );
            false
        }
    };

    // 2. It lands in the table, equal to what was sent (or, with a LATEST mapping, one of its resends).
    if accepted {
        let started = Instant::now();
        let mut last = String::from("not there yet");
        let mut found = false;
        let mut ids = vec![id.clone()];
        let mut last_sent = Instant::now();
        eprint!(
            "waiting up to {}s for {}[{}={id}]",
            target.patience.as_secs(),
            probe.table,
            probe.table_key
        );
        'wait: while started.elapsed() < target.patience {
            for key in &ids {
                match target.table.get(key).await {
                    Ok(Some(item)) => {
                        found = item.get(attribute::PAYLOAD) == Some(&body);
                        let resent = match ids.len() - 1 {
                            0 => String::new(),
                            n => format!(
                                " (event {} of {}: the mapping starts at LATEST and missed the first {n})",
                                ids.iter().position(|i| i == key).unwrap_or(0) + 1,
                                ids.len()
                            ),
                        };
                        last = if found {
                            format!(
                                "found after {} ms, payload equal{resent}",
                                started.elapsed().as_millis()
                            )
                        } else {
                            format!("found, but payload differs: {item}")
                        };
                        break 'wait;
                    }
                    Ok(None) => {}
                    Err(e) => last = format!("reading the table failed: {e}"),
                }
            }
            if let Some(every) = probe.resend_every
                && last_sent.elapsed() >= every
            {
                let again = probe.fresh_id();
                let (_, sent) =
                    send_probe(&http, target, probe, &method, &again, &target.password).await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    eprint!(" resent as {again} ");
                    ids.push(again);
                }
                last_sent = Instant::now();
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
    let wrong = format!("{}-wrong", target.password);
    let (_, denied) = send_probe(&http, target, probe, &method, &bad_id, &wrong).await;
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
        Err(e) => {
            reached = false;
            record(
                "wrong credentials denied, nothing written",
                false,
                format!("request failed: {e}"),
            );
        }
    }

    // 4. The dead-letter queue did not grow.
    let dead_after = target.dead_letters.count().await;
    match (dead_before, dead_after) {
        _ if !reached => record(
            "dead-letter queue did not grow",
            false,
            "not checked: the pipeline could not be reached".into(),
        ),
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

// ---- local target: the state dir of `cargo xtask dev`, read through `sluice_local::inspect` ----

/// Reads `<state-dir>/pipeline.db` with [`Inspector`]: the probe's table and dead-letter queue. Opens it
/// afresh for each read (a read-only connection is cheap, and `cargo xtask dev` may start after this does).
pub struct SqliteReader {
    state_dir: PathBuf,
    table: Table,
    queue: String,
}

impl SqliteReader {
    pub fn new(state_dir: &Path, probe: &Probe) -> SqliteReader {
        SqliteReader {
            state_dir: state_dir.to_owned(),
            table: probe.table_spec.clone(),
            queue: probe.queue.clone(),
        }
    }

    fn open(&self) -> miette::Result<Inspector> {
        Inspector::open(&self.state_dir)
            .into_diagnostic()
            .wrap_err_with(|| {
                format!(
                    "cannot open {} (is `cargo xtask dev` running with this --state-dir?)",
                    self.state_dir.join("pipeline.db").display()
                )
            })
    }
}

impl TableReader for SqliteReader {
    async fn get(&self, key: &str) -> miette::Result<Option<Value>> {
        let inspector = self.open()?;
        inspector
            .item_with_partition_key(&self.table, key)
            .map_err(|e| match e {
                InspectError::Sqlite { path, source } => {
                    miette!(
                        "reading {} from {}: {source}",
                        self.table.name,
                        path.display()
                    )
                }
                e => miette!("{e}"),
            })
    }
}

impl DeadLetterReader for SqliteReader {
    async fn count(&self) -> miette::Result<u64> {
        let inspector = self.open()?;
        inspector.queue_messages(&self.queue).map_err(|e| match e {
            InspectError::Sqlite { source, .. } => miette!("counting {}: {source}", self.queue),
            e => miette!("{e}"),
        })
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

pub(crate) fn credentials_from_json(text: &str) -> Option<(String, String)> {
    let v: Value = serde_json::from_str(text).ok()?;
    Some((
        v.get("username")?.as_str()?.to_string(),
        v.get("password")?.as_str()?.to_string(),
    ))
}

pub(crate) fn report(checks: &[Check]) -> miette::Result<()> {
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

impl SmokeArgs {
    /// Whether this run would call AWS (it tests the deployed stack).
    pub fn needs_aws(&self) -> bool {
        !self.local
    }
}

pub fn run(config: &sluice_config::PipelineFile, opts: SmokeArgs) -> miette::Result<()> {
    #[cfg(not(feature = "aws"))]
    if opts.needs_aws() {
        return Err(crate::no_aws());
    }
    let pipeline = config::load(config)?;
    let probe = Probe::from_pipeline(&pipeline)?;
    let rt = tokio::runtime::Runtime::new().into_diagnostic()?;
    rt.block_on(async {
        if opts.local {
            let port = match opts.port {
                Some(port) => port,
                None => sluice_local::running_dev(&opts.state_dir)
                    .map(|dev| dev.port)
                    .ok_or_else(|| crate::send::not_running(&opts.state_dir, config))?,
            };
            let (username, password) = local_credentials(&opts.state_dir)?;
            let reader = SqliteReader::new(&opts.state_dir, &probe);
            let dead = SqliteReader::new(&opts.state_dir, &probe);
            let target = Target {
                base_url: format!("http://127.0.0.1:{port}/{}", pipeline.stage),
                username,
                password,
                table: reader,
                dead_letters: dead,
                patience: Duration::from_secs(15),
            };
            println!("smoke-testing the local pipeline at {}", target.base_url);
            report(&run_checks(&target, &probe).await)
        } else {
            run_deployed(&opts, &probe).await
        }
    })
}

#[cfg(feature = "aws")]
use deployed::run as run_deployed;

#[cfg(not(feature = "aws"))]
async fn run_deployed(_: &SmokeArgs, _: &Probe) -> miette::Result<()> {
    Err(crate::no_aws())
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
        assert_eq!(probe.body, json!({"message": "hello", NOTE.0: NOTE.1}));
        assert!(probe.fresh_id().starts_with("smoke-"));
        assert_ne!(probe.fresh_id(), probe.fresh_id());
    }

    #[test]
    fn the_probe_picks_a_stream_whose_filters_deliver_the_example() {
        let p = config::load(&sluice_config::project_root().join("examples/multi/pipeline.toml"))
            .unwrap();
        let probe = Probe::from_pipeline(&p).unwrap();
        // `events` takes Clicks or Orders; click-writer's filters skip an order, order-writer's deliver it.
        assert_eq!(probe.route, "events");
        assert_eq!(probe.route_path, "/events/Orders/{eventId}");
        assert_eq!(
            (probe.table.as_str(), probe.queue.as_str()),
            ("OrderTable", "OrderDeadLetters")
        );
        assert_eq!(probe.body["kind"], "order");
        assert_eq!(probe.body[NOTE.0], NOTE.1);

        // Without a body the filters deliver, the smoke test says which routes it tried.
        let mut p = p;
        for r in p.routes.values_mut() {
            r.example = Some(json!({"kind": "test", "version": 1}));
        }
        let err = Probe::from_pipeline(&p).unwrap_err();
        assert!(
            err.to_string()
                .contains("events on Orders (consumer order-writer)"),
            "{err}"
        );
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
