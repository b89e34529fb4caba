//! Accepting connections: HTTP/1.1 and HTTP/2 on one listener, limits, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tracing::{debug, info, warn};

use crate::body::{Body, Request, Response};

/// The address of the client on the other end of the connection.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// Connection limits of a listener.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Time a client has to send a request's headers.
    pub header_read_timeout: Duration,
    /// The largest request head accepted, in bytes.
    pub max_header_bytes: usize,
    /// How long in-flight requests may run after shutdown starts.
    pub shutdown_grace: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// The HTTP/1.1 + HTTP/2 connection builder with the limits of `settings`.
pub(crate) fn http_builder(settings: &ServerSettings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        // hyper's buffer holds the request line and headers; allow the documented header budget.
        .max_buf_size(settings.max_header_bytes.max(8192) + 8192)
        .max_headers(256);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(settings.max_header_bytes as u32);
    builder
}

/// Serves `service` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish for up to [`ServerSettings::shutdown_grace`].
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    settings: ServerSettings,
    shutdown: impl Future<Output = ()>,
) where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let builder = http_builder(&settings);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = service
            .clone()
            .map_request(move |req: http::Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ClientAddr(peer));
                req
            });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                debug!(%peer, error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    info!("shutting down: waiting for in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => info!("all connections closed"),
        () = tokio::time::sleep(settings.shutdown_grace) => warn!("shutdown grace period ended with connections open"),
    }
}
