//! One function instance's server on 127.0.0.1: the Lambda Runtime API (version `2018-06-01`) its process
//! polls, and the local seams (`sluice_writer::local`) through which it writes dev's tables, queues and
//! bucket.
//!
//! Runtime API, as Lambda answers it (docs: "Using the Lambda runtime API for custom runtimes"):
//! - `GET /2018-06-01/runtime/invocation/next` holds the request open until an invocation comes, then
//!   answers `200` with the event and the headers `Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`,
//!   `-Invoked-Function-Arn`, `-Trace-Id`.
//! - `POST …/invocation/{id}/response` and `…/invocation/{id}/error`: `202 {"status":"OK"}`; `400
//!   InvalidRequestID` for an id that is not the invocation in flight (unknown, or already answered); a
//!   response over 6 MB is `413 RequestEntityTooLarge` and the invocation fails as
//!   `Function.ResponseSizeTooLarge`.
//! - `POST …/init/error`: `202`, and the instance's start fails; `403 InvalidStateTransition` once the
//!   runtime has asked for an invocation (it is then too late for an init error).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::json;
use sluice_contract::limits::MAX_INVOCATION_PAYLOAD_BYTES;
use sluice_writer::local::{self as wire, ObjectPut};
use sluice_writer::{DeadLetterMessage, DeadLetters as _, Table as _, WriterError};
use tokio::sync::{mpsc, oneshot};

use crate::sinks::{SqliteDeadLetters, SqliteTable};

/// One invocation handed to the runtime.
pub(crate) struct Invocation {
    pub request_id: String,
    pub deadline_ms: i64,
    pub function_arn: String,
    pub trace_id: String,
    pub event: Vec<u8>,
    pub answer: oneshot::Sender<Answer>,
}

/// What the runtime answered for an invocation, or for its start.
#[derive(Debug)]
pub(crate) enum Answer {
    Response(Bytes),
    /// `Lambda-Runtime-Function-Error-Type` and the body.
    Error {
        error_type: String,
        body: Bytes,
    },
}

/// The tables, queues and bucket a function may write, by name (logical and physical).
pub(crate) struct Sinks {
    pub tables: BTreeMap<String, SqliteTable>,
    pub queues: BTreeMap<String, SqliteDeadLetters>,
    /// The dead-letter bucket's name and a writer of it.
    pub bucket: (String, SqliteDeadLetters),
}

/// The state of one instance's server.
pub(crate) struct Instance {
    invocations: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    /// The invocation in flight: its id and where its answer goes.
    current: Mutex<Option<(String, oneshot::Sender<Answer>)>>,
    /// Taken by the first `init/error`, before the first `next`.
    init_error: Mutex<Option<oneshot::Sender<Answer>>>,
    sinks: Arc<Sinks>,
}

impl Instance {
    pub(crate) fn new(
        invocations: mpsc::Receiver<Invocation>,
        init_error: oneshot::Sender<Answer>,
        sinks: Arc<Sinks>,
    ) -> Arc<Self> {
        Arc::new(Instance {
            invocations: tokio::sync::Mutex::new(invocations),
            current: Mutex::new(None),
            init_error: Mutex::new(Some(init_error)),
            sinks,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const API: &str = "/2018-06-01/runtime";

/// The instance's routes.
pub(crate) fn router(instance: Arc<Instance>) -> Router {
    Router::new()
        .route(&format!("{API}/invocation/next"), get(next))
        .route(&format!("{API}/invocation/{{id}}/response"), post(response))
        .route(&format!("{API}/invocation/{{id}}/error"), post(error))
        .route(&format!("{API}/init/error"), post(init_error))
        .route(&wire::put_items_path("{table}"), post(put_items))
        .route(&wire::messages_path("{queue}"), post(send_message))
        .route(&wire::objects_path("{bucket}"), post(put_object))
        .with_state(instance)
        // The seams carry up to a batch of items or one record's data; the Runtime API up to 6 MB.
        .layer(axum::extract::DefaultBodyLimit::max(
            MAX_INVOCATION_PAYLOAD_BYTES * 2,
        ))
}

/// Lambda's error answer: `{"errorMessage", "errorType"}`.
fn refusal(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errorMessage": message, "errorType": error_type})),
    )
        .into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

async fn next(State(instance): State<Arc<Instance>>) -> Response {
    // Too late for an init error from now on.
    lock(&instance.init_error).take();
    let invocation = instance.invocations.lock().await.recv().await;
    let Some(invocation) = invocation else {
        // The instance is being stopped: nothing more comes.
        return refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Runtime.ExitError",
            "the instance is shutting down",
        );
    };
    *lock(&instance.current) = Some((invocation.request_id.clone(), invocation.answer));
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("lambda-runtime-aws-request-id", invocation.request_id),
        (
            "lambda-runtime-deadline-ms",
            invocation.deadline_ms.to_string(),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            invocation.function_arn,
        ),
        ("lambda-runtime-trace-id", invocation.trace_id),
        ("content-type", "application/json".to_owned()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers, invocation.event).into_response()
}

/// Takes the invocation in flight if `id` is its id.
fn take_current(instance: &Instance, id: &str) -> Option<oneshot::Sender<Answer>> {
    let mut current = lock(&instance.current);
    match current.take() {
        Some((current_id, answer)) if current_id == id => Some(answer),
        other => {
            *current = other;
            None
        }
    }
}

fn invalid_request_id() -> Response {
    refusal(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

async fn response(
    State(instance): State<Arc<Instance>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(answer) = take_current(&instance, &id) else {
        return invalid_request_id();
    };
    if body.len() > MAX_INVOCATION_PAYLOAD_BYTES {
        let message = format!(
            "Response payload size ({} bytes) exceeded maximum allowed payload size ({MAX_INVOCATION_PAYLOAD_BYTES} bytes).",
            body.len()
        );
        let _ = answer.send(Answer::Error {
            error_type: "Function.ResponseSizeTooLarge".to_owned(),
            body: Bytes::from(
                json!({"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"})
                    .to_string(),
            ),
        });
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &message,
        );
    }
    let _ = answer.send(Answer::Response(body));
    accepted()
}

fn error_type(headers: &HeaderMap) -> String {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled")
        .to_owned()
}

async fn error(
    State(instance): State<Arc<Instance>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(answer) = take_current(&instance, &id) else {
        return invalid_request_id();
    };
    let _ = answer.send(Answer::Error {
        error_type: error_type(&headers),
        body,
    });
    accepted()
}

async fn init_error(
    State(instance): State<Arc<Instance>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(answer) = lock(&instance.init_error).take() else {
        return refusal(
            StatusCode::FORBIDDEN,
            "InvalidStateTransition",
            "State transition from Ready to InitError failed: the runtime has already asked for an invocation",
        );
    };
    let _ = answer.send(Answer::Error {
        error_type: error_type(&headers),
        body,
    });
    accepted()
}

fn seam_refusal(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}

async fn put_items(
    State(instance): State<Arc<Instance>>,
    Path(table): Path<String>,
    body: Bytes,
) -> Response {
    let Some(sqlite) = instance.sinks.tables.get(&table) else {
        return seam_refusal(
            StatusCode::NOT_FOUND,
            format!(
                "the function may not write table {table:?}: it is not one of the pipeline's tables"
            ),
        );
    };
    let items: Vec<sluice_writer::Item> = match serde_json::from_slice(&body) {
        Ok(items) => items,
        Err(e) => {
            return seam_refusal(
                StatusCode::BAD_REQUEST,
                format!("not a JSON array of items: {e}"),
            );
        }
    };
    let result = sqlite.put_items(items).await;
    axum::Json(result.outcomes).into_response()
}

async fn send_message(
    State(instance): State<Arc<Instance>>,
    Path(queue): Path<String>,
    body: Bytes,
) -> Response {
    let Some(dead_letters) = instance.sinks.queues.get(&queue) else {
        return seam_refusal(
            StatusCode::NOT_FOUND,
            format!(
                "the function may not send to queue {queue:?}: it is not one of the pipeline's queues"
            ),
        );
    };
    let message = match std::str::from_utf8(&body)
        .map_err(|e| e.to_string())
        .and_then(|s| DeadLetterMessage::from_json(s).map_err(|e| e.to_string()))
    {
        Ok(message) => message,
        Err(e) => {
            return seam_refusal(
                StatusCode::BAD_REQUEST,
                format!("not a dead-letter message: {e}"),
            );
        }
    };
    match dead_letters.send(message).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(WriterError::DeadLetterTooLarge(detail)) => {
            seam_refusal(StatusCode::PAYLOAD_TOO_LARGE, detail)
        }
        Err(e) => seam_refusal(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn put_object(
    State(instance): State<Arc<Instance>>,
    Path(bucket): Path<String>,
    axum::Json(put): axum::Json<ObjectPut>,
) -> Response {
    let (name, dead_letters) = &instance.sinks.bucket;
    if bucket != *name {
        return seam_refusal(
            StatusCode::NOT_FOUND,
            format!("no local bucket {bucket:?}; the dead-letter bucket is {name:?}"),
        );
    }
    let data = match base64::engine::general_purpose::STANDARD.decode(&put.data) {
        Ok(data) => data,
        Err(e) => return seam_refusal(StatusCode::BAD_REQUEST, format!("data is not base64: {e}")),
    };
    let Some(sha256) = parse_sha256(&put.sha256) else {
        return seam_refusal(
            StatusCode::BAD_REQUEST,
            "sha256 must be 64 lowercase hex digits",
        );
    };
    match dead_letters.store_data(put.key, data, sha256).await {
        Ok(bucket) => bucket.into_response(),
        Err(e) => seam_refusal(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    //! The Runtime API's contract over real HTTP on loopback, driven as a runtime would drive it.

    use super::*;
    use crate::store::{Durability, Store};

    struct Served {
        base: String,
        invocations: mpsc::Sender<Invocation>,
        init_error: Option<oneshot::Receiver<Answer>>,
        _dir: tempfile::TempDir,
    }

    async fn serve() -> Served {
        let dir = tempfile::tempdir().unwrap();
        // The shipped pipeline: the store needs one; these routes never touch it.
        let pipeline =
            sluice_config::load(&sluice_config::layout::project_root().join("pipeline.toml"))
                .map_err(|e| format!("{e:?}"))
                .unwrap();
        let store = Store::open(dir.path(), &pipeline, Durability::Normal).unwrap();
        let sinks = Arc::new(Sinks {
            tables: BTreeMap::new(),
            queues: BTreeMap::new(),
            bucket: ("b".to_owned(), SqliteDeadLetters::new(store, "q", "b")),
        });
        let (invocations, rx) = mpsc::channel(1);
        let (init_tx, init_rx) = oneshot::channel();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}{API}", listener.local_addr().unwrap());
        let router = router(Instance::new(rx, init_tx, sinks));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Served {
            base,
            invocations,
            init_error: Some(init_rx),
            _dir: dir,
        }
    }

    fn invocation(id: &str) -> (Invocation, oneshot::Receiver<Answer>) {
        let (answer, rx) = oneshot::channel();
        (
            Invocation {
                request_id: id.to_owned(),
                deadline_ms: 1_700_000_000_000,
                function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".to_owned(),
                trace_id:
                    "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0"
                        .to_owned(),
                event: br#"{"Records":[]}"#.to_vec(),
                answer,
            },
            rx,
        )
    }

    #[tokio::test]
    async fn next_waits_for_an_invocation_and_answers_with_lambdas_headers() {
        let served = serve().await;
        let client = reqwest::Client::new();
        let next = tokio::spawn({
            let (client, url) = (client.clone(), format!("{}/invocation/next", served.base));
            async move { client.get(url).send().await.unwrap() }
        });
        // Held open while there is nothing to run.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!next.is_finished(), "next is a long poll");
        let (inv, answer) = invocation("req-1");
        served.invocations.send(inv).await.unwrap();
        let response = next.await.unwrap();
        assert_eq!(response.status(), 200);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("lambda-runtime-aws-request-id").as_deref(),
            Some("req-1")
        );
        assert_eq!(
            header("lambda-runtime-deadline-ms").as_deref(),
            Some("1700000000000")
        );
        assert_eq!(
            header("lambda-runtime-invoked-function-arn").as_deref(),
            Some("arn:aws:lambda:us-east-1:000000000000:function:f")
        );
        assert!(
            header("lambda-runtime-trace-id")
                .unwrap()
                .starts_with("Root=1-")
        );
        assert_eq!(response.text().await.unwrap(), r#"{"Records":[]}"#);

        // An id that is not the invocation in flight: 400 InvalidRequestID.
        let wrong = client
            .post(format!("{}/invocation/other/response", served.base))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 400);
        let body: serde_json::Value = wrong.json().await.unwrap();
        assert_eq!(body["errorType"], "InvalidRequestID");

        let ok = client
            .post(format!("{}/invocation/req-1/response", served.base))
            .body(r#"{"batchItemFailures":[]}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 202);
        match answer.await.unwrap() {
            Answer::Response(bytes) => assert_eq!(&bytes[..], br#"{"batchItemFailures":[]}"#),
            other => panic!("expected the response, got {other:?}"),
        }
        // Answered once: a second answer for the same id is refused.
        let again = client
            .post(format!("{}/invocation/req-1/error", served.base))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 400);

        // Too late for an init error once the runtime has asked for an invocation.
        let init = client
            .post(format!("{}/init/error", served.base))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(init.status(), 403);
    }

    #[tokio::test]
    async fn errors_carry_their_type_and_an_init_error_fails_the_start() {
        let mut served = serve().await;
        let client = reqwest::Client::new();
        let init = client
            .post(format!("{}/init/error", served.base))
            .header("lambda-runtime-function-error-type", "Runtime.ConfigError")
            .body(r#"{"errorMessage":"TABLE_NAME is not set"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(init.status(), 202);
        match served.init_error.take().unwrap().await.unwrap() {
            Answer::Error { error_type, body } => {
                assert_eq!(error_type, "Runtime.ConfigError");
                assert!(String::from_utf8_lossy(&body).contains("TABLE_NAME"));
            }
            other => panic!("expected the init error, got {other:?}"),
        }

        let (inv, answer) = invocation("req-2");
        served.invocations.send(inv).await.unwrap();
        let next = client
            .get(format!("{}/invocation/next", served.base))
            .send()
            .await
            .unwrap();
        assert_eq!(next.status(), 200);
        let error = client
            .post(format!("{}/invocation/req-2/error", served.base))
            .header("lambda-runtime-function-error-type", "Handled")
            .body(r#"{"errorMessage":"no","errorType":"Handled"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(error.status(), 202);
        match answer.await.unwrap() {
            Answer::Error { error_type, .. } => assert_eq!(error_type, "Handled"),
            other => panic!("expected the error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_response_over_six_megabytes_is_refused_and_fails_the_invocation() {
        let served = serve().await;
        let client = reqwest::Client::new();
        let (inv, answer) = invocation("req-3");
        served.invocations.send(inv).await.unwrap();
        let next = client
            .get(format!("{}/invocation/next", served.base))
            .send()
            .await
            .unwrap();
        assert_eq!(next.status(), 200);
        let big = client
            .post(format!("{}/invocation/req-3/response", served.base))
            .body(vec![b' '; MAX_INVOCATION_PAYLOAD_BYTES + 1])
            .send()
            .await
            .unwrap();
        assert_eq!(big.status(), 413);
        match answer.await.unwrap() {
            Answer::Error { error_type, .. } => {
                assert_eq!(error_type, "Function.ResponseSizeTooLarge")
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }
}
