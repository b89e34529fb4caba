//! The admin listener: `/healthz`, `/readyz` and `/metrics`.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{StatusCode, header};

use crate::body::{Body, Request, Response};
use crate::layers::ResponseFuture;
use crate::metrics::Metrics;

/// Answers health, readiness and metrics requests.
#[derive(Clone)]
pub struct Admin {
    metrics: Arc<Metrics>,
    ready: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Admin")
    }
}

impl Admin {
    /// Serves `metrics`, and reports ready when `ready` says so.
    pub fn new(metrics: Arc<Metrics>, ready: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        Self {
            metrics,
            ready: Arc::new(ready),
        }
    }

    fn answer(&self, req: &Request) -> Response {
        let text = |status: StatusCode, body: String, content_type: &'static str| {
            let mut response = Response::new(Body::full(body));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(content_type),
            );
            response
        };
        match req.uri().path() {
            "/healthz" => text(StatusCode::OK, "ok\n".into(), "text/plain"),
            "/readyz" if (self.ready)() => text(StatusCode::OK, "ready\n".into(), "text/plain"),
            "/readyz" => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready\n".into(),
                "text/plain",
            ),
            "/metrics" => text(
                StatusCode::OK,
                self.metrics.encode(),
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ),
            _ => text(StatusCode::NOT_FOUND, "not found\n".into(), "text/plain"),
        }
    }
}

impl tower::Service<Request> for Admin {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        let response = self.answer(&req);
        Box::pin(std::future::ready(Ok(response)))
    }
}
