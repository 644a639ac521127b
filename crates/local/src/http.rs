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
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
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
