//! The durable baseline: the least a server must do to answer 200 only once a request's body is on disk.
//!
//! An axum handler hands each body to one thread that appends whatever is queued to a file in one `write`
//! and syncs it with one `fdatasync` (group commit), then answers every request of the group. No database,
//! no index, no consumer: what is left is HTTP plus the wait for the disk. Its rate is the ceiling of any
//! closed-loop server that acknowledges only synced writes on this machine, so the bench shows, in the
//! same run, how much of the pipeline's gap to the no-storage baseline is the disk's and how much is ours.

use std::fs::File;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use miette::IntoDiagnostic as _;
use tokio::sync::oneshot;

/// A body waiting for its sync, and who to tell.
struct Pending {
    body: Bytes,
    done: oneshot::Sender<Result<(), String>>,
}

/// Appends each group of queued bodies (each after its length, 4 bytes little-endian) with one `write` and
/// one `fdatasync`, then answers the group. Returns once every sender is gone.
fn group_commit(mut file: File, queue: mpsc::Receiver<Pending>) {
    let mut buf = Vec::new();
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        group.extend(queue.try_iter());
        buf.clear();
        for pending in &group {
            let len = u32::try_from(pending.body.len()).unwrap_or(u32::MAX);
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&pending.body);
        }
        let synced = file
            .write_all(&buf)
            .and_then(|()| file.sync_data())
            .map_err(|e| e.to_string());
        for pending in group {
            let _ = pending.done.send(synced.clone());
        }
    }
}

async fn acknowledge_synced(
    State(queue): State<Arc<mpsc::Sender<Pending>>>,
    body: Bytes,
) -> axum::response::Response {
    let (done, synced) = oneshot::channel();
    if queue.send(Pending { body, done }).is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    match synced.await {
        Ok(Ok(())) => (
            [(header::CONTENT_TYPE, "application/json")],
            super::PUT_RECORD_REPLY,
        )
            .into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Starts the durable baseline on a free loopback port, appending to `log` (created, or truncated).
/// Dropping (or sending on) the returned sender stops it; its syncing thread ends with it.
pub async fn server(log: &Path) -> miette::Result<(SocketAddr, oneshot::Sender<()>)> {
    let file = File::create(log).into_diagnostic()?;
    let (queue, pending) = mpsc::channel::<Pending>();
    std::thread::Builder::new()
        .name("bench-group-commit".into())
        .spawn(move || group_commit(file, pending))
        .into_diagnostic()?;
    let app = axum::Router::new()
        .fallback(acknowledge_synced)
        .with_state(Arc::new(queue));
    super::serve_on_loopback(app).await
}

/// The median time of `rounds` appends of 4 KiB, each followed by an `fdatasync`, to a scratch file in
/// `dir` (removed after), on an otherwise idle process: what one sync costs on the disk the pipeline's
/// state lives on.
pub fn fdatasync_latency(dir: &Path, rounds: usize) -> std::io::Result<Duration> {
    let path = dir.join(format!("fdatasync-probe-{}", std::process::id()));
    let measured = (|| {
        let mut file = File::create(&path)?;
        let block = [0x5au8; 4096];
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds.max(1) {
            let started = Instant::now();
            file.write_all(&block)?;
            file.sync_data()?;
            times.push(started.elapsed());
        }
        times.sort();
        Ok(times[times.len() / 2])
    })();
    let _ = std::fs::remove_file(&path);
    measured
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_is_in_the_file_when_its_request_is_answered() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let (addr, stop) = server(&log).await.unwrap();
        let client = reqwest::Client::new();
        let mut expected = 0u64;
        for i in 0..5 {
            let body = format!(r#"{{"n":{i}}}"#);
            expected += 4 + body.len() as u64;
            let response = client
                .post(format!("http://{addr}/prod/submit/s/{i}"))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            // Answered only after the write (and its sync) of this body.
            assert_eq!(std::fs::metadata(&log).unwrap().len(), expected);
        }
        let stored = std::fs::read(&log).unwrap();
        assert_eq!(&stored[..4], &7u32.to_le_bytes());
        assert_eq!(&stored[4..11], br#"{"n":0}"#);
        let _ = stop.send(());
    }

    #[test]
    fn the_sync_probe_measures_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let median = fdatasync_latency(dir.path(), 5).unwrap();
        assert!(median > Duration::ZERO);
        assert!(median < Duration::from_secs(10), "{median:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(fdatasync_latency(&dir.path().join("missing"), 5).is_err());
    }
}
