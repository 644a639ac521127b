//! The local gateway under abuse, over raw TCP on loopback: a client that never finishes its headers is cut
//! off, one that never finishes its body gets 408, a declared body larger than any record is refused before
//! it is sent, and no more than the connection limit is served at once.

use std::net::SocketAddr;
use std::time::Duration;

use crate::common::*;
use base64::Engine as _;
use serde_json::Value;
use sluice_local::{RunningPipeline, ServeLimits, StartOptions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long a test waits for something that should happen well before (a bound on a broken server, not a
/// performance expectation).
const PATIENCE: Duration = Duration::from_secs(20);

async fn start_with(dir: &std::path::Path, limits: ServeLimits) -> RunningPipeline {
    let mut opts = StartOptions::new(parse(&pipeline_toml(1, "")), dir);
    opts.credentials = Some(format!("{USER}:{PASS}"));
    opts.timings = fast_timings();
    opts.serve = limits;
    sluice_local::start(opts)
        .await
        .expect("the local pipeline starts")
}

fn authorization() -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASS}"));
    format!("Authorization: Basic {token}\r\n")
}

/// The head of a valid submit request, without its body.
fn head(id: &str, content_length: usize) -> String {
    format!(
        "POST /prod/submit/GatewayEventsStream/{id} HTTP/1.1\r\nHost: localhost\r\n{}Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n",
        authorization()
    )
}

/// Reads until the server closes the connection (or `PATIENCE` passes: `None`); answers what was read.
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&out).into_owned())
}

/// Reads one HTTP response (head and a JSON body of the declared length).
async fn read_response(stream: &mut TcpStream) -> Option<(u16, Value)> {
    let mut out = Vec::new();
    tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&out).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if out.len() >= end + 4 + length {
                    let status = text[9..12].parse().ok()?;
                    let body = serde_json::from_slice(&out[end + 4..end + 4 + length]).ok()?;
                    return Some((status, body));
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
    .flatten()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ServeLimits {
        header_read_timeout: Duration::from_millis(300),
        ..ServeLimits::default()
    };
    let running = start_with(dir.path(), limits).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream
        .write_all(b"POST /prod/submit/GatewayEventsStream/slow HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let got = read_until_closed(&mut stream).await;
    assert!(
        got.is_some(),
        "the connection is still open {PATIENCE:?} after a 300 ms header timeout"
    );
    assert!(
        !got.unwrap().contains("200 OK"),
        "a half-sent request was served"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_never_arrives_gets_408_in_the_error_contract() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ServeLimits {
        body_timeout: Duration::from_millis(300),
        ..ServeLimits::default()
    };
    let running = start_with(dir.path(), limits).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream
        .write_all(head("slow-body", 50).as_bytes())
        .await
        .unwrap();
    stream.write_all(b"{\"message\":").await.unwrap();
    let (status, body) = read_response(&mut stream)
        .await
        .expect("an answer within the body timeout");
    assert_eq!(status, 408);
    assert_eq!(body["error"], "RequestTimeout");
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(
        items(dir.path(), "EventTable").is_empty() && records(dir.path()) == 0,
        "nothing is written for a request that timed out"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_body_larger_than_a_record_is_refused_before_it_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_with(dir.path(), ServeLimits::default()).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    // 5 MB announced, nothing sent: the answer must not wait for the body.
    stream
        .write_all(head("too-big", 5_000_000).as_bytes())
        .await
        .unwrap();
    let (status, body) = read_response(&mut stream)
        .await
        .expect("an answer without the body");
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("RecordTooLarge"))
    );

    // Chunked, with no length announced: refused once more than a record can hold has arrived.
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    let chunk = format!("{{\"message\":\"{}\"", "x".repeat(600_000));
    let request = format!(
        "POST /prod/submit/GatewayEventsStream/chunked HTTP/1.1\r\nHost: localhost\r\n{}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        authorization()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    for _ in 0..2 {
        let _ = stream
            .write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
            .await;
    }
    let (status, body) = read_response(&mut stream)
        .await
        .expect("an answer before the chunked body ends");
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("RecordTooLarge"))
    );
    assert_eq!(records(dir.path()), 0);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_more_than_the_connection_limit_is_served_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ServeLimits {
        header_read_timeout: Duration::from_millis(800),
        max_connections: 2,
        ..ServeLimits::default()
    };
    let running = start_with(dir.path(), limits).await;
    let addr: SocketAddr = running.addr;
    // Two clients take both places and say nothing; the server ends them after the header timeout.
    let mut idle = Vec::new();
    for _ in 0..2 {
        let stream = TcpStream::connect(addr).await.unwrap();
        idle.push(tokio::spawn(async move {
            let mut stream = stream;
            let _ = read_until_closed(&mut stream).await;
            std::time::Instant::now()
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A third, well-behaved client is served only once a place is free.
    let mut third = TcpStream::connect(addr).await.unwrap();
    let body = r#"{"message":"third"}"#;
    third
        .write_all(format!("{}{body}", head("third", body.len())).as_bytes())
        .await
        .unwrap();
    let (status, _) = read_response(&mut third).await.expect("served eventually");
    let answered = std::time::Instant::now();
    assert_eq!(status, 200);
    let mut first_closed = None;
    for task in idle {
        let closed = task.await.unwrap();
        first_closed = Some(first_closed.map_or(closed, |c: std::time::Instant| c.min(closed)));
    }
    let first_closed = first_closed.unwrap();
    assert!(
        answered >= first_closed,
        "the third connection was served while both places were taken"
    );
    running.shutdown().await;
}

/// Records on the stream (all shards).
fn records(state_dir: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(db_path(state_dir)).unwrap();
    conn.query_row("SELECT count(*) FROM _sluice_records", [], |r| r.get(0))
        .unwrap()
}

/// A request head hyper cannot parse is answered by hyper itself; the answer still carries the error
/// contract's JSON (API Gateway's `DEFAULT_4XX`), and the server stays up.
#[tokio::test(flavor = "multi_thread")]
async fn an_unparseable_request_head_gets_the_contracts_json() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_with(dir.path(), ServeLimits::default()).await;
    let many_headers: String = (0..10_000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases = [
        ("garbage request line", "GARBAGE\r\n\r\n".to_owned(), 400),
        (
            "NUL in the path",
            "POST /prod/sub\0mit HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
            400,
        ),
        (
            "10,000 headers",
            format!("POST /prod/x HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n"),
            431,
        ),
    ];
    for (what, request, status) in cases {
        let mut stream = TcpStream::connect(running.addr).await.unwrap();
        let _ = stream.write_all(request.as_bytes()).await;
        let answer = read_response(&mut stream).await;
        let Some((got, body)) = answer else {
            panic!("{what}: no JSON answer");
        };
        assert_eq!(got, status, "{what}");
        assert_eq!(body["error"], "BadRequest", "{what}: {body}");
        assert_eq!(body["message"], "the gateway refused the request", "{what}");
        assert_eq!(body["requestId"].as_str().map(str::len), Some(36), "{what}");
    }
    let response = submit(&client(), &running.base_url(), "still-up", SEED_BODY).await;
    assert_eq!(response.status(), 200);
    running.shutdown().await;
}

/// The credentials file cannot be read: 500 in the contract's shape, as API Gateway answers when the
/// deployed authorizer cannot read its secret (it fails closed), not 403.
#[tokio::test(flavor = "multi_thread")]
async fn a_credentials_read_failure_answers_500() {
    let dir = tempfile::tempdir().unwrap();
    let running = start_with(dir.path(), ServeLimits::default()).await;
    let file = sluice_local::credentials_path(dir.path());
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let response = submit(&client(), &running.base_url(), "no-credentials", SEED_BODY).await;
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "BackendError", "{body}");
    assert_eq!(body["requestId"].as_str().map(str::len), Some(36));
    running.shutdown().await;
}
