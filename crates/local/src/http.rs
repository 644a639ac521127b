//! The local gateway's HTTP server, hardened the way a public endpoint must be (API Gateway's front end does
//! this on AWS): a client gets [`ServeLimits::header_read_timeout`] to send its request head and
//! [`ServeLimits::body_timeout`] to send its body (the gateway answers 408 then), at most
//! [`ServeLimits::max_connections`] connections are served at once (more wait in the listen backlog), and no
//! body is buffered beyond what a record can hold (see `gateway`). hyper's own timeouts are off unless a
//! timer is given, which `axum::serve` does not do; so this accepts connections itself.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;

/// What one client may take of the local gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Time to send a request's line and headers (also how long an idle keep-alive connection stays open).
    pub header_read_timeout: Duration,
    /// Time to send a request's body, from the end of its headers.
    pub body_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_read_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Serves `router` on `listener` until `stop` turns true, then stops accepting and waits for the requests in
/// flight (idle keep-alive connections are closed).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ServeLimits,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off a little, as hyper's examples do.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = graceful
            .watch(builder.serve_connection(TokioIo::new(ContractErrors::new(stream)), service));
        tokio::spawn(async move {
            // A client that is too slow, resets, or sends garbage ends its own connection only.
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The limit applied to a future reading a request body.
pub fn body_deadline<F: Future>(limits: &ServeLimits, read: F) -> tokio::time::Timeout<F> {
    tokio::time::timeout(limits.body_timeout, read)
}

/// The connection as hyper sees it: hyper answers a request head it cannot parse (a garbage request line, a
/// NUL byte in the path, too many or too long headers, a URI too long) by itself, before any service runs,
/// with an empty body — `400`, `431` or `414` and `content-length: 0`. API Gateway answers those in the
/// error contract's shape (its `DEFAULT_4XX` response), so this rewrites that one answer, as it is written,
/// into the contract's JSON ([`sluice_contract::api::default_body`]) with a request id. The gateway itself
/// never answers a 4xx without a body, so nothing else matches. (hyper has no hook for its automatic answer;
/// it writes it and closes the connection.)
pub(crate) struct ContractErrors<S> {
    inner: S,
    /// The rewritten answer and how much of it is written; once set, hyper's own bytes are dropped.
    replacement: Option<(Vec<u8>, usize)>,
}

impl<S> ContractErrors<S> {
    pub(crate) fn new(inner: S) -> Self {
        ContractErrors {
            inner,
            replacement: None,
        }
    }
}

/// hyper's automatic answer to an unparseable head: its status, if `buf` is one.
fn automatic_error_status(buf: &[u8]) -> Option<u16> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..head_end + 2]).ok()?;
    let status: u16 = head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let automatic = matches!(status, 400 | 414 | 431)
        && head
            .split("\r\n")
            .any(|line| line.eq_ignore_ascii_case("content-length: 0"));
    automatic.then_some(status)
}

fn contract_error_answer(status: u16) -> Vec<u8> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::to_vec(&sluice_contract::api::default_body(status, &request_id))
        .unwrap_or_default();
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Bad Request");
    tracing::info!(
        target: crate::REQUEST_LOG,
        "- - → {status} {} (hyper could not parse the request head) (request {request_id})",
        sluice_contract::api::DEFAULT_4XX_CODE
    );
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-amzn-requestid: {request_id}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

impl<S: AsyncWrite + Unpin> ContractErrors<S> {
    /// Writes what is left of the replacement; ready once all of it is written (or there is none).
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Some((bytes, written)) = &mut self.replacement {
            while *written < bytes.len() {
                let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ContractErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ContractErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if this.replacement.is_none() {
            match automatic_error_status(buf) {
                Some(status) => this.replacement = Some((contract_error_answer(status), 0)),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        ready!(this.poll_replacement(cx))?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::automatic_error_status;

    #[test]
    fn only_an_empty_400_414_or_431_is_hypers_automatic_answer() {
        let empty = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(automatic_error_status(empty), Some(400));
        let long = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_error_status(long), Some(431));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 93\r\n\r\n{}";
        assert_eq!(automatic_error_status(ours), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_error_status(ok), None);
    }
}
