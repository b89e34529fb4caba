//! One Tower layer and service for every step that changes a request or refuses it.
//!
//! Most steps of the proxy do one thing to a request before the next service sees it: read a
//! header into an extension, rewrite the URI, strip headers, or answer with a [`Refusal`]. Such
//! a step implements [`Step`] (synchronous) or [`AsyncStep`] (it awaits a review or a lookup),
//! and [`StepService`] / [`AsyncStepService`] do the Tower plumbing. A closure
//! `Fn(Request) -> Result<Request, Refusal>` is a [`Step`] too, so a custom step is one function
//! wrapped in [`StepLayer`].

use std::future::Future;
use std::task::{Context, Poll};

use futures_util::future::Either;

use crate::body::Request;
use crate::error::Refusal;
use crate::layers::{ProxyService, ResponseFuture, StepFuture};

/// A synchronous request step: the request to pass on, or the refusal to answer with.
pub trait Step: Clone + Send + 'static {
    /// Changes `req` for the next service, or refuses it.
    fn apply(&self, req: Request) -> Result<Request, Refusal>;
}

impl<F> Step for F
where
    F: Fn(Request) -> Result<Request, Refusal> + Clone + Send + 'static,
{
    fn apply(&self, req: Request) -> Result<Request, Refusal> {
        self(req)
    }
}

/// An asynchronous request step, such as a review: the request to pass on, or the refusal.
pub trait AsyncStep: Clone + Send + Sync + 'static {
    /// Changes `req` for the next service, or refuses it.
    fn apply(&self, req: Request) -> impl Future<Output = Result<Request, Refusal>> + Send;
}

/// Layer that runs a [`Step`] in front of the inner service.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepLayer<T> {
    step: T,
}

impl<T> StepLayer<T> {
    /// Runs `step` on every request.
    pub const fn new(step: T) -> Self {
        Self { step }
    }
}

impl<T: Clone, S> tower::Layer<S> for StepLayer<T> {
    type Service = StepService<T, S>;

    fn layer(&self, inner: S) -> Self::Service {
        StepService::new(self.step.clone(), inner)
    }
}

/// Service that runs a [`Step`], then calls `inner` or answers with the refusal.
#[derive(Debug, Clone)]
pub struct StepService<T, S> {
    step: T,
    inner: S,
}

impl<T, S> StepService<T, S> {
    /// Runs `step` in front of `inner`.
    pub const fn new(step: T, inner: S) -> Self {
        Self { step, inner }
    }
}

impl<T: Step, S: ProxyService> tower::Service<Request> for StepService<T, S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = StepFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        match self.step.apply(req) {
            Ok(req) => Either::Left(self.inner.call(req)),
            Err(refusal) => Either::Right(std::future::ready(Ok(refusal.into_response()))),
        }
    }
}

/// Service that awaits an [`AsyncStep`], then calls `inner` or answers with the refusal.
#[derive(Debug, Clone)]
pub struct AsyncStepService<T, S> {
    step: T,
    inner: S,
}

impl<T, S> AsyncStepService<T, S> {
    /// Runs `step` in front of `inner`.
    pub const fn new(step: T, inner: S) -> Self {
        Self { step, inner }
    }
}

impl<T: AsyncStep, S: ProxyService> tower::Service<Request> for AsyncStepService<T, S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        let mut inner = super::take_ready(&mut self.inner);
        let step = self.step.clone();
        Box::pin(async move {
            match step.apply(req).await {
                Ok(req) => inner.call(req).await,
                Err(refusal) => Ok(refusal.into_response()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::body::{Body, Response};

    fn echo_path() -> impl ProxyService {
        tower::service_fn(|req: Request| async move {
            Ok::<_, Infallible>(Response::new(Body::full(req.uri().path().to_owned())))
        })
    }

    fn only_root(req: Request) -> Result<Request, Refusal> {
        if req.uri().path() == "/" {
            Ok(req)
        } else {
            Err(Refusal::NotFound("not here".into()))
        }
    }

    #[tokio::test]
    async fn a_step_passes_or_refuses() {
        let service = StepLayer::new(only_root).layer(echo_path());
        let ok = service.clone().oneshot(Request::new(Body::empty()));
        assert_eq!(ok.await.unwrap().status(), 200);
        let req = http::Request::get("/other").body(Body::empty()).unwrap();
        assert_eq!(service.oneshot(req).await.unwrap().status(), 404);
    }

    #[derive(Clone)]
    struct Later;

    impl AsyncStep for Later {
        async fn apply(&self, req: Request) -> Result<Request, Refusal> {
            tokio::task::yield_now().await;
            only_root(req)
        }
    }

    #[tokio::test]
    async fn an_async_step_passes_or_refuses() {
        let service = AsyncStepService::new(Later, echo_path());
        let ok = service.clone().oneshot(Request::new(Body::empty()));
        assert_eq!(ok.await.unwrap().status(), 200);
        let req = http::Request::get("/other").body(Body::empty()).unwrap();
        assert_eq!(service.oneshot(req).await.unwrap().status(), 404);
    }
}
