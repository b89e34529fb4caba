//! Finding the client token in a reverse request.

use std::task::{Context, Poll};

use http::header::AUTHORIZATION;

use crate::body::Request;
use crate::credentials::reverse_token;
use crate::error::Refusal;
use crate::layers::{ProxyService, StepFuture, pass, refuse};
use crate::secret::ClientToken;

/// Where the client token was found, so sanitizing can remove exactly that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// A request header, by name.
    Header(http::HeaderName),
    /// A query parameter, by name.
    Query(String),
    /// The request body (nothing to strip).
    Body,
}

/// Layer that takes the client token from `Authorization` (Basic or Bearer) and refuses
/// requests without one with `401`.
#[derive(Debug, Clone, Default)]
pub struct ExtractLayer;

impl<S> tower::Layer<S> for ExtractLayer {
    type Service = Extract<S>;

    fn layer(&self, inner: S) -> Extract<S> {
        Extract { inner }
    }
}

/// Service that finds the client token; see [`ExtractLayer`].
#[derive(Debug, Clone)]
pub struct Extract<S> {
    inner: S,
}

impl<S: ProxyService> tower::Service<Request> for Extract<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = StepFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        if req.extensions().get::<ClientToken>().is_none() {
            let Some(token) = req.headers().get(AUTHORIZATION).and_then(reverse_token) else {
                let refusal = Refusal::Unauthenticated(
                    "A ServiceAccount token is required: send it as Basic password or Bearer token."
                        .into(),
                );
                return refuse(refusal);
            };
            req.extensions_mut().insert(ClientToken::new(token));
            req.extensions_mut()
                .insert(TokenSource::Header(AUTHORIZATION));
        }
        pass(self.inner.call(req))
    }
}
