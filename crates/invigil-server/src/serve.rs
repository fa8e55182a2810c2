//! Accepting connections: at most so many open at once, a deadline for
//! each request's headers, a limit on the wait between body bytes, and a
//! 413 before reading a body whose declared length is over the limit.

use std::convert::Infallible;
use std::sync::Arc;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::error::ApiError;

/// Connection limits; see docs/api.md "Limits".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Time for a request's headers to arrive, from its first byte (or from
    /// the end of the previous request on a kept-alive connection).
    pub header_timeout: Duration,
    /// Longest wait for the next bytes of a request body.
    pub body_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open
/// requests finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, "connection refused: {} open already", limits.max_connections);
            tokio::spawn(refuse_busy(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.oneshot(req.map(Body::new)).await.into_response()) }
        });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// What a client over the connection cap is told before it is closed.
async fn refuse_busy(mut stream: TcpStream) {
    let body = r#"{"error":{"code":"busy","message":"the server has too many open connections; try again shortly"}}"#;
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(reply.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Bodies declared up to this size are read and discarded before the 413
/// goes out, so that an ordinary client, still writing when the answer
/// comes, reads the 413 instead of a reset connection. Larger ones are
/// refused without reading a byte.
const DRAIN_AT_MOST: u64 = 16 << 20;

/// Refuses a body whose declared `Content-Length` is over `limit`, and
/// closes the connection after the answer. Up to [`DRAIN_AT_MOST`] bytes
/// are discarded first (the body timeout still applies to them).
pub(crate) async fn declared_length(limit: usize, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => {
            if n <= DRAIN_AT_MOST {
                discard(req.into_body(), n).await;
            }
            ApiError::too_large(format!(
                "the request body declares {n} bytes; this endpoint takes at most {limit}"
            ))
            .closing()
            .into_response()
        }
        _ => next.run(req).await,
    }
}

/// Reads and drops at most `n` bytes of `body`; stops at its end, at an
/// error or at a stalled sender (the connection's body timeout).
async fn discard(body: Body, n: u64) {
    use futures_util::StreamExt;
    let mut data = body.into_data_stream();
    let mut seen = 0u64;
    while seen < n {
        match data.next().await {
            Some(Ok(chunk)) => seen += chunk.len() as u64,
            _ => break,
        }
    }
}
