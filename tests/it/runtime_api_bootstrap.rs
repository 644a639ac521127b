//! The built `bootstrap` binaries — the bytes inside target/lambda/<function>/bootstrap.zip that Terraform
//! uploads — start under a Lambda Runtime API and answer real invocations, against a moto server.
//!
//! The Runtime API is a stand-in written here: the four endpoints a custom runtime uses
//! (`invocation/next`, `invocation/{id}/response`, `invocation/{id}/error`, `init/error`) over plain
//! HTTP/1.1 on a free loopback port. It hands out a queue of events with the headers Lambda sends, records
//! every answer, and holds later `next` calls open, as Lambda does between invocations.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use sluice_tests::envelope_of as envelope;
use sluice_tests::{Moto, workspace_root};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const API: &str = "/2018-06-01/runtime";
const ACCOUNT: &str = "123456789012";

// ---------------------------------------------------------------------------------------------------
// The Runtime API stand-in

/// What the function answered for one invocation.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Response(Value),
    /// `Lambda-Runtime-Function-Error-Type` and the error body.
    Error {
        error_type: Option<String>,
        body: Value,
    },
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Value)>,
    outcomes: HashMap<String, Outcome>,
    init_error: Option<String>,
    next_calls: usize,
}

struct RuntimeApi {
    addr: String,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves `events` (request id, payload), in order, on 127.0.0.1 and a free port.
    async fn start(events: Vec<(String, Value)>) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the runtime API stand-in");
        let addr = listener.local_addr().expect("local addr").to_string();
        let state = Arc::new(Mutex::new(State {
            queue: events.into(),
            ..State::default()
        }));
        let server_state = Arc::clone(&state);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, Arc::clone(&server_state)));
            }
        });
        RuntimeApi {
            addr,
            state,
            server,
        }
    }

    /// Waits (at most `timeout`) until every request id has an outcome, the function reported an init
    /// error, or `child` exited; then returns the outcomes.
    async fn wait_for(
        &self,
        ids: &[&str],
        child: &mut RunningFunction,
        timeout: Duration,
    ) -> HashMap<String, Outcome> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let state = self.state.lock().unwrap();
                if let Some(init) = &state.init_error {
                    panic!(
                        "{} reported an init error: {init}\n{}",
                        child.name,
                        child.output()
                    );
                }
                if ids.iter().all(|id| state.outcomes.contains_key(*id)) {
                    return state.outcomes.clone();
                }
            }
            if let Some(status) = child.exited() {
                panic!(
                    "{} exited with {status} before answering\n{}",
                    child.name,
                    child.output()
                );
            }
            if Instant::now() > deadline {
                let state = self.state.lock().unwrap();
                panic!(
                    "{} did not answer {ids:?} within {timeout:?} (next called {} times, outcomes {:?})\n{}",
                    child.name,
                    state.next_calls,
                    state.outcomes,
                    child.output()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// One keep-alive HTTP/1.1 connection of the runtime client.
async fn serve_connection(stream: TcpStream, state: Arc<Mutex<State>>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    while let Some(req) = read_request(&mut reader).await {
        let reply = route(&req, &state).await;
        let Some((status, headers, body)) = reply else {
            return;
        };
        let mut head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if write.write_all(head.as_bytes()).await.is_err() || write.write_all(&body).await.is_err()
        {
            return;
        }
    }
}

async fn read_request<R: AsyncBufRead + Unpin>(reader: &mut R) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).await.ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await.ok()?;
            let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; size + 2]; // data and its CRLF
            reader.read_exact(&mut chunk).await.ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = headers
        .get("content-length")
        .and_then(|l| l.parse::<usize>().ok())
    {
        body.resize(len, 0);
        reader.read_exact(&mut body).await.ok()?;
    }
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

type Reply = (&'static str, Vec<(String, String)>, Vec<u8>);

/// `None`: hold the connection (a `next` call with no event left) until the test ends.
async fn route(req: &Request, state: &Mutex<State>) -> Option<Reply> {
    let accepted = || Some(("202 Accepted", vec![], br#"{"status":"OK"}"#.to_vec()));
    let path = req.path.strip_prefix(API).unwrap_or("");
    let body_json = || {
        serde_json::from_slice(&req.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&req.body).into()))
    };
    match (
        req.method.as_str(),
        path.split('/').collect::<Vec<_>>().as_slice(),
    ) {
        ("GET", ["", "invocation", "next"]) => {
            let next = {
                let mut s = state.lock().unwrap();
                s.next_calls += 1;
                s.queue.pop_front()
            };
            let Some((id, event)) = next else {
                std::future::pending::<()>().await;
                return None;
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + 30_000)
                .unwrap_or_default();
            let headers = vec![
                ("Lambda-Runtime-Aws-Request-Id".into(), id.clone()),
                ("Lambda-Runtime-Deadline-Ms".into(), deadline.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn".into(),
                    format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:sluice-test"),
                ),
                (
                    "Lambda-Runtime-Trace-Id".into(),
                    format!(
                        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=1:{id}:0"
                    ),
                ),
            ];
            Some(("200 OK", headers, serde_json::to_vec(&event).unwrap()))
        }
        ("POST", ["", "invocation", id, "response"]) => {
            state
                .lock()
                .unwrap()
                .outcomes
                .insert(id.to_string(), Outcome::Response(body_json()));
            accepted()
        }
        ("POST", ["", "invocation", id, "error"]) => {
            let error_type = req
                .headers
                .get("lambda-runtime-function-error-type")
                .cloned();
            state.lock().unwrap().outcomes.insert(
                id.to_string(),
                Outcome::Error {
                    error_type,
                    body: body_json(),
                },
            );
            accepted()
        }
        ("POST", ["", "init", "error"]) => {
            state.lock().unwrap().init_error =
                Some(String::from_utf8_lossy(&req.body).into_owned());
            accepted()
        }
        _ => Some((
            "404 Not Found",
            vec![],
            br#"{"errorMessage":"unknown runtime API path"}"#.to_vec(),
        )),
    }
}

// ---------------------------------------------------------------------------------------------------
// The function process

/// A `bootstrap` started under the stand-in; killed on drop. Its stdout/stderr go to files, shown when
/// something fails.
struct RunningFunction {
    name: &'static str,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl RunningFunction {
    /// Unzips `target/lambda/<name>/bootstrap.zip` into a temp dir and starts it, with the environment
    /// Lambda gives a function plus `env`, and nothing else of this process's environment.
    fn start(name: &'static str, runtime_api: &str, env: &[(&str, String)]) -> RunningFunction {
        let zip = workspace_root()
            .join("target/lambda")
            .join(name)
            .join("bootstrap.zip");
        let bytes = sluice_build::read_bootstrap(&zip).unwrap_or_else(|e| panic!("{e}"));
        let dir = tempfile::tempdir().expect("temp dir");
        let bootstrap = dir.path().join("bootstrap");
        std::fs::write(&bootstrap, bytes).expect("write bootstrap");
        set_executable(&bootstrap);
        let log = dir.path().join("output.log");
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(&bootstrap)
            .current_dir(dir.path())
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("sluice-{name}"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/01/01/[$LATEST]0123456789abcdef",
            )
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/sluice-{name}"),
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_SESSION_TOKEN", "testing")
            .env("LAMBDA_TASK_ROOT", dir.path())
            .env("TZ", ":UTC")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bootstrap.display()));
        RunningFunction {
            name,
            child,
            log,
            _dir: dir,
        }
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn output(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("--- {} output ---\n{}", self.name, text.trim_end())
    }
}

impl Drop for RunningFunction {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(unix)]
fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod 755");
}

#[cfg(not(unix))]
fn set_executable(_: &Path) {}

/// `cargo xtask build` (a no-op when the code is unchanged), bounded; panics with its output on failure.
fn build_functions() {
    let run = sluice_tests::cargo_xtask(&["build"], Duration::from_secs(45 * 60));
    assert!(
        run.status.success(),
        "cargo xtask build failed ({})\n{}",
        run.status,
        run.output
    );
}

/// Builds once per test process, whichever test asks first.
fn built() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_functions);
}

// ---------------------------------------------------------------------------------------------------
// The tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_bootstrap_writes_a_kinesis_batch_into_the_table() {
    tokio::task::spawn_blocking(built).await.expect("build");
    let moto = tokio::task::spawn_blocking(Moto::start)
        .await
        .expect("moto");
    let sdk = moto.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    use aws_sdk_dynamodb::types::AttributeValue;
    sluice_tests::create_event_table(&dynamodb, "sluice-EventTable").await;
    let queue_url = sqs
        .create_queue()
        .queue_name("sluice-LambdaDeadLetterQueue")
        .send()
        .await
        .expect("create the moto queue")
        .queue_url
        .expect("queue url");

    let data = envelope(
        1_732_752_000_123,
        "c0ffee-1",
        "203.0.113.9",
        r#"{"hello":"wörld","n":1,"nested":{"ok":true}}"#,
    );
    let sequence_number = "49590338271490256608559692538361571095921575989136588898";
    let event = json!({
        "Records": [{
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "evt-1",
                "sequenceNumber": sequence_number,
                "data": base64::engine::general_purpose::STANDARD.encode(&data),
                "approximateArrivalTimestamp": 1_732_752_000.5
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": format!("shardId-000000000000:{sequence_number}"),
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": format!("arn:aws:iam::{ACCOUNT}:role/sluice-event-writer"),
            "awsRegion": "us-east-1",
            "eventSourceARN": format!("arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/sluice-GatewayEventsStream")
        }]
    });

    let api = RuntimeApi::start(vec![("req-writer-1".into(), event)]).await;
    let mut env = moto.env();
    env.retain(|(k, _)| *k == "AWS_ENDPOINT_URL");
    env.extend([
        ("TABLE_NAME", "sluice-EventTable".to_string()),
        ("PARTITION_KEY_NAME", "eventId".to_string()),
        ("PARTITION_KEY_TYPE", "S".to_string()),
        ("DEAD_LETTER_QUEUE_URL", queue_url.clone()),
        ("DEAD_LETTER_BUCKET", "sluice-dead-letters-test".to_string()),
    ]);
    let mut function = RunningFunction::start("writer", &api.addr, &env);
    let outcomes = api
        .wait_for(&["req-writer-1"], &mut function, Duration::from_secs(60))
        .await;

    assert_eq!(
        outcomes["req-writer-1"],
        Outcome::Response(json!({"batchItemFailures": []})),
        "{}",
        function.output()
    );
    let item = dynamodb
        .get_item()
        .table_name("sluice-EventTable")
        .key("eventId", AttributeValue::S("evt-1".into()))
        .consistent_read(true)
        .send()
        .await
        .expect("get the item")
        .item
        .unwrap_or_else(|| panic!("no item evt-1 in the moto table\n{}", function.output()));
    let payload = item
        .get("payload")
        .and_then(|p| p.as_m().ok())
        .expect("payload is a map");
    assert_eq!(
        payload.get("hello"),
        Some(&AttributeValue::S("wörld".into()))
    );
    assert_eq!(payload.get("n"), Some(&AttributeValue::N("1".into())));
    assert_eq!(
        item.get("requestId"),
        Some(&AttributeValue::S("c0ffee-1".into()))
    );
    assert_eq!(
        item.get("sequenceNumber"),
        Some(&AttributeValue::S(sequence_number.into()))
    );
    let dead = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(0)
        .send()
        .await
        .expect("receive");
    assert!(
        dead.messages.unwrap_or_default().is_empty(),
        "nothing should be dead-lettered"
    );

    // The batch's counts, as the one Embedded Metric Format line CloudWatch Logs turns into metrics: the
    // names the alarms read (sluice_contract::metrics), the function's name from Lambda's environment.
    let output = std::fs::read_to_string(&function.log).unwrap_or_default();
    let emf: Vec<Value> = output
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|doc| doc.get("_aws").is_some())
        .collect();
    assert_eq!(
        emf.len(),
        1,
        "one EMF line per batch\n{}",
        function.output()
    );
    let doc = &emf[0];
    use sluice_contract::metrics as m;
    assert_eq!(
        doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        m::NAMESPACE
    );
    assert_eq!(doc[m::DIMENSION], "sluice-writer");
    assert_eq!(doc[m::RECORDS], 1);
    assert_eq!(doc[m::WRITTEN], 1);
    assert_eq!(doc[m::DEAD_LETTERED], 0);
    assert!(doc[m::BATCH_DURATION].is_u64(), "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_bootstrap_fails_records_fast_when_dynamodb_hangs() {
    tokio::task::spawn_blocking(built).await.expect("build");
    // An "AWS endpoint" that accepts connections and never answers: without SDK timeouts every put would
    // wait until the function's timeout and fail the whole batch.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hole_addr = hole.local_addr().expect("an address");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in hole.incoming().flatten() {
            held.push(stream);
        }
    });
    let records: Vec<Value> = ["49590338271490256608559692538361571095921575989136588801", "49590338271490256608559692538361571095921575989136588802"]
        .iter()
        .enumerate()
        .map(|(i, sequence_number)| {
            json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": format!("evt-{i}"),
                    "sequenceNumber": sequence_number,
                    "data": base64::engine::general_purpose::STANDARD.encode(envelope(1, "r", "203.0.113.9", "{}")),
                    "approximateArrivalTimestamp": 1_732_752_000.5
                },
                "eventSource": "aws:kinesis",
                "eventID": format!("shardId-000000000000:{sequence_number}"),
                "eventSourceARN": format!("arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/sluice-GatewayEventsStream")
            })
        })
        .collect();
    let api = RuntimeApi::start(vec![("req-hang".into(), json!({ "Records": records }))]).await;
    let env = [
        ("AWS_ENDPOINT_URL", format!("http://{hole_addr}")),
        ("TABLE_NAME", "sluice-EventTable".to_string()),
        ("PARTITION_KEY_NAME", "eventId".to_string()),
        (
            "DEAD_LETTER_QUEUE_URL",
            format!("http://{hole_addr}/123456789012/q"),
        ),
        ("DEAD_LETTER_BUCKET", "sluice-dead-letters-test".to_string()),
    ];
    let mut function = RunningFunction::start("writer", &api.addr, &env);
    // Far above the writer's 10 s operation timeout, and below a function timeout's 60 s.
    let outcomes = api
        .wait_for(&["req-hang"], &mut function, Duration::from_secs(45))
        .await;
    assert_eq!(
        outcomes["req-hang"],
        Outcome::Response(json!({"batchItemFailures": [
            {"itemIdentifier": "49590338271490256608559692538361571095921575989136588801"},
            {"itemIdentifier": "49590338271490256608559692538361571095921575989136588802"}
        ]})),
        "every record is a transient failure\n{}",
        function.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_bootstrap_allows_with_the_secret_and_refuses_without_a_header() {
    tokio::task::spawn_blocking(built).await.expect("build");
    let moto = tokio::task::spawn_blocking(Moto::start)
        .await
        .expect("moto");
    let sdk = moto.sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let secret_arn = secrets
        .create_secret()
        .name("sluice-basic-auth")
        .secret_string(r#"{"username":"alice","password":"wonder:land"}"#)
        .send()
        .await
        .expect("create the moto secret")
        .arn
        .expect("secret arn");

    let method_arn = format!(
        "arn:aws:execute-api:us-east-1:{ACCOUNT}:abcdef1234/prod/POST/submit/GatewayEventsStream/evt-1"
    );
    let request = |authorization: Option<String>| {
        let headers = match &authorization {
            Some(a) => json!({"Authorization": a, "Content-Type": "application/json"}),
            None => json!({"Content-Type": "application/json"}),
        };
        json!({
            "type": "REQUEST",
            "methodArn": method_arn,
            "resource": "/submit/{streamName}/{eventId}",
            "path": "/submit/GatewayEventsStream/evt-1",
            "httpMethod": "POST",
            "headers": headers,
            "queryStringParameters": {},
            "pathParameters": {"streamName": "GatewayEventsStream", "eventId": "evt-1"},
            "stageVariables": {},
            "requestContext": {
                "path": "/prod/submit/GatewayEventsStream/evt-1",
                "accountId": ACCOUNT,
                "resourceId": "a1b2c3",
                "stage": "prod",
                "requestId": "c0ffee-2",
                "identity": {"sourceIp": "203.0.113.9", "userAgent": "curl/8.5.0"},
                "resourcePath": "/submit/{streamName}/{eventId}",
                "httpMethod": "POST",
                "apiId": "abcdef1234"
            }
        })
    };
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:wonder:land")
    );
    let api = RuntimeApi::start(vec![
        ("req-auth-allow".into(), request(Some(basic))),
        ("req-auth-missing".into(), request(None)),
    ])
    .await;
    let mut env = moto.env();
    env.retain(|(k, _)| *k == "AWS_ENDPOINT_URL");
    env.push(("SECRET_ID", secret_arn));
    let mut function = RunningFunction::start("authorizer", &api.addr, &env);
    let outcomes = api
        .wait_for(
            &["req-auth-allow", "req-auth-missing"],
            &mut function,
            Duration::from_secs(60),
        )
        .await;

    let Outcome::Response(allow) = &outcomes["req-auth-allow"] else {
        panic!(
            "the authorizer failed a correct Basic header: {:?}\n{}",
            outcomes["req-auth-allow"],
            function.output()
        );
    };
    assert_eq!(allow["principalId"], "alice", "{allow:#}");
    let statements = allow["policyDocument"]["Statement"]
        .as_array()
        .expect("Statement is a list");
    assert_eq!(statements.len(), 1, "{allow:#}");
    let statement = &statements[0];
    assert_eq!(statement["Effect"], "Allow", "{allow:#}");
    let as_list = |v: &Value| match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    assert_eq!(
        as_list(&statement["Action"]),
        vec![json!("execute-api:Invoke")],
        "{allow:#}"
    );
    assert_eq!(
        as_list(&statement["Resource"]),
        vec![json!(format!(
            "arn:aws:execute-api:us-east-1:{ACCOUNT}:abcdef1234/prod/*/*"
        ))],
        "{allow:#}"
    );

    // No Authorization header: the function fails with `Unauthorized`, which API Gateway turns into 401.
    match &outcomes["req-auth-missing"] {
        Outcome::Error { body, .. } => {
            assert_eq!(
                body["errorMessage"],
                "Unauthorized",
                "{body:#}\n{}",
                function.output()
            );
        }
        other => {
            panic!("a request without Authorization must fail with Unauthorized, got {other:?}")
        }
    }
    let output = function.output();
    assert!(
        !output.contains("wonder:land") && !output.contains("YWxpY2U6"),
        "credentials leaked into the logs:\n{output}"
    );
}

// ---------------------------------------------------------------------------------------------------
// TLS: the functions reach AWS over HTTPS with the SDK's default client (hyper 1, rustls with aws-lc),
// trusting the platform's root certificates (rustls-native-certs, which honours `SSL_CERT_FILE`). Trimming
// the SDK's features for the zip size must keep exactly that.

const FIXTURES: &str = "tests/fixtures/tls";

/// A Secrets Manager stand-in over HTTPS on a free loopback port, presenting tests/fixtures/tls/localhost.pem
/// (signed by the fixtures' test-only CA): every request it can read is answered with the secret
/// `{"username":"alice","password":"wonder:land"}` and counted.
struct HttpsSecrets {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    server: tokio::task::JoinHandle<()>,
}

impl HttpsSecrets {
    async fn start() -> HttpsSecrets {
        use tokio_rustls::rustls::{self, pki_types::pem::PemObject};
        let dir = workspace_root().join(FIXTURES);
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(dir.join("localhost.pem"))
            .expect("read localhost.pem")
            .collect::<Result<Vec<_>, _>>()
            .expect("parse localhost.pem");
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(dir.join("localhost.key"))
            .expect("read localhost.key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, seen) = (acceptor.clone(), Arc::clone(&seen));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let (read, mut write) = tokio::io::split(tls);
                    let mut reader = BufReader::new(read);
                    while let Some(req) = read_request(&mut reader).await {
                        let target = req.headers.get("x-amz-target").cloned().unwrap_or_default();
                        seen.lock().unwrap().push(target);
                        let body = json!({
                            "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:sluice-credentials-AbCdEf",
                            "Name": "sluice-credentials",
                            "VersionId": "v1",
                            "SecretString": r#"{"username":"alice","password":"wonder:land"}"#,
                            "VersionStages": ["AWSCURRENT"],
                            "CreatedDate": 1_732_752_000
                        })
                        .to_string();
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n",
                            body.len()
                        );
                        if write.write_all(head.as_bytes()).await.is_err()
                            || write.write_all(body.as_bytes()).await.is_err()
                            || write.flush().await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        HttpsSecrets {
            port,
            requests,
            server,
        }
    }
}

impl Drop for HttpsSecrets {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The authorizer's event for one request with `Authorization: authorization`.
fn authorizer_event(authorization: &str) -> Value {
    json!({
        "type": "REQUEST",
        "methodArn": format!("arn:aws:execute-api:us-east-1:{ACCOUNT}:abcdef1234/prod/POST/submit/GatewayEventsStream/evt-1"),
        "resource": "/submit/{streamName}/{eventId}",
        "path": "/submit/GatewayEventsStream/evt-1",
        "httpMethod": "POST",
        "headers": {"Authorization": authorization, "Content-Type": "application/json"},
        "queryStringParameters": {},
        "pathParameters": {"streamName": "GatewayEventsStream", "eventId": "evt-1"},
        "stageVariables": {},
        "requestContext": {
            "path": "/prod/submit/GatewayEventsStream/evt-1",
            "accountId": ACCOUNT,
            "resourceId": "a1b2c3",
            "stage": "prod",
            "requestId": "c0ffee-3",
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "curl/8.5.0"},
            "resourcePath": "/submit/{streamName}/{eventId}",
            "httpMethod": "POST",
            "apiId": "abcdef1234"
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_bootstrap_reaches_aws_over_tls_trusting_only_the_platform_roots() {
    tokio::task::spawn_blocking(built).await.expect("build");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:wonder:land")
    );
    let untrusted = tempfile::NamedTempFile::new().expect("an empty certificate file");
    let ca = workspace_root().join(FIXTURES).join("ca.pem");
    for (case, cert_file) in [("trusted", ca.as_path()), ("untrusted", untrusted.path())] {
        // The authorizer gives Secrets Manager 1 s per attempt (its production budget); on a loaded test
        // machine this debug-built server's handshake can take that long, so a trusted run that failed is
        // tried again, at most 3 times in all. The untrusted case is never retried.
        let attempts = if case == "trusted" { 3 } else { 1 };
        let mut attempt = 0;
        let (secrets, outcomes, function) = loop {
            attempt += 1;
            let secrets = HttpsSecrets::start().await;
            let api =
                RuntimeApi::start(vec![(format!("req-tls-{case}"), authorizer_event(&basic))])
                    .await;
            let env = [
                (
                    "AWS_ENDPOINT_URL",
                    format!("https://127.0.0.1:{}", secrets.port),
                ),
                ("SSL_CERT_FILE", cert_file.display().to_string()),
                ("SECRET_ID", "sluice-credentials".to_string()),
            ];
            let mut function = RunningFunction::start("authorizer", &api.addr, &env);
            let outcomes = api
                .wait_for(
                    &[format!("req-tls-{case}").as_str()],
                    &mut function,
                    Duration::from_secs(60),
                )
                .await;
            let failed = matches!(outcomes.values().next(), Some(Outcome::Error { .. }));
            if !failed || attempt >= attempts {
                break (secrets, outcomes, function);
            }
            eprintln!(
                "attempt {attempt} failed, trying again:\n{}",
                function.output()
            );
        };
        let id = format!("req-tls-{case}");
        let requests = secrets.requests.lock().unwrap().clone();
        match (case, &outcomes[&id]) {
            ("trusted", Outcome::Response(allow)) => {
                assert_eq!(allow["principalId"], "alice", "{allow:#}");
                assert!(
                    requests
                        .iter()
                        .any(|t| t == "secretsmanager.GetSecretValue"),
                    "{requests:?}"
                );
            }
            ("untrusted", Outcome::Error { .. }) => {
                // The handshake failed on the certificate: no request reached the endpoint. The SDK retries
                // a failed connection, so on a loaded machine its 2 s operation timeout can be what it
                // reports last instead of the certificate error; the endpoint seeing nothing is the proof.
                assert_eq!(requests, Vec::<String>::new());
                let output = function.output();
                assert!(
                    output.contains("UnknownIssuer") || output.contains("operation timeout"),
                    "{output}"
                );
            }
            (case, other) => panic!(
                "{case} CA: unexpected outcome {other:?} (requests {requests:?})\n{}",
                function.output()
            ),
        }
    }
}
