//! An optional cap on request bodies: `413` up front when `Content-Length` says the body is too
//! large, and a cut stream when a chunked body grows past the cap.
//!
//! Off by default: git packs and registry blobs may be many gigabytes and must stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http_body::{Frame, SizeHint};

use crate::body::{Body, BoxError, Request};
use crate::error::Refusal;
use crate::layers::step::{Step, StepService};

/// Layer that refuses request bodies larger than a limit.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    max: u64,
}

impl BodyLimitLayer {
    /// Refuses bodies over `max` bytes.
    pub fn new(max: u64) -> Self {
        Self { max }
    }
}

impl<S> tower::Layer<S> for BodyLimitLayer {
    type Service = BodyLimit<S>;

    fn layer(&self, inner: S) -> BodyLimit<S> {
        StepService::new(*self, inner)
    }
}

/// Service that refuses oversized request bodies; see [`BodyLimitLayer`].
pub type BodyLimit<S> = StepService<BodyLimitLayer, S>;

impl Step for BodyLimitLayer {
    fn apply(&self, req: Request) -> Result<Request, Refusal> {
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max) {
            return Err(Refusal::PayloadTooLarge(format!(
                "The request body is larger than the proxy's limit of {} bytes.",
                self.max
            )));
        }
        let left = self.max;
        Ok(req.map(|inner| Body::new(Limited { inner, left })))
    }
}

/// A body that fails once more than its limit has been read.
struct Limited {
    inner: Body,
    left: u64,
}

impl http_body::Body for Limited {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            let len = data.len() as u64;
            if len > self.left {
                return Poll::Ready(Some(Err("request body exceeds the proxy's limit".into())));
            }
            self.left -= len;
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::ProxyService;
    use http_body_util::BodyExt;
    use tower::{Layer, ServiceExt};

    fn echo() -> impl ProxyService {
        tower::service_fn(|req: Request| async move {
            let result = req.into_body().collect().await;
            let status = if result.is_ok() { 200 } else { 502 };
            Ok(http::Response::builder()
                .status(status)
                .body(Body::empty())
                .unwrap())
        })
    }

    #[tokio::test]
    async fn declared_length_over_the_limit_is_refused_unread() {
        let service = BodyLimitLayer::new(4).layer(echo());
        let req = http::Request::builder()
            .header("content-length", "5")
            .body(Body::full("12345"))
            .unwrap();
        assert_eq!(service.oneshot(req).await.unwrap().status(), 413);
    }

    #[tokio::test]
    async fn streamed_bodies_are_cut_at_the_limit() {
        let service = BodyLimitLayer::new(4);
        let ok = http::Request::new(Body::full("1234"));
        assert_eq!(
            service.layer(echo()).oneshot(ok).await.unwrap().status(),
            200
        );
        let big = http::Request::new(Body::full("12345"));
        assert_eq!(
            service.layer(echo()).oneshot(big).await.unwrap().status(),
            502
        );
    }
}
