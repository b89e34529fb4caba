//! A span per request and the request counter.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tracing::{Instrument, debug, field};

use crate::body::Request;
use crate::layers::{Mode, ProxyService, ResponseFuture, take_ready};
use crate::metrics::Metrics;

/// Layer that opens a span per request and counts responses by mode and status.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: Arc<Metrics>,
    mode: Mode,
}

impl ObserveLayer {
    /// Records into `metrics`, labelling requests with `mode`.
    pub fn new(metrics: Arc<Metrics>, mode: Mode) -> Self {
        Self { metrics, mode }
    }
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            layer: self.clone(),
        }
    }
}

/// Service that observes requests; see [`ObserveLayer`].
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    layer: ObserveLayer,
}

impl<S: ProxyService> tower::Service<Request> for Observe<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> ResponseFuture {
        let mode = self.layer.mode;
        req.extensions_mut().insert(mode);
        let metrics = self.layer.metrics.clone();
        let span = tracing::debug_span!(
            "request",
            mode = mode.as_str(),
            method = %req.method(),
            connector = field::Empty,
            host = field::Empty,
        );
        let future = take_ready(&mut self.inner).call(req);
        Box::pin(
            async move {
                let started = Instant::now();
                let response = future.await?;
                let status = response.status().as_u16();
                metrics.record_request(mode.as_str(), status);
                debug!(
                    status,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "answered"
                );
                Ok(response)
            }
            .instrument(span),
        )
    }
}
