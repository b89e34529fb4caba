//! Finding the client token with the class's Rego `authExtractor`, before Basic/Bearer.
//!
//! Runs between resolve and extract in reverse mode. When the resolved connector's class has an
//! extractor, the policy sees the request as the client sent it; a small JSON body (known
//! length, at most the body limit) is read for it and put back unchanged, so the tool still
//! receives every byte. A non-empty token becomes the request's [`ClientToken`], with the header
//! or query parameter it came from recorded for sanitizing. No token, an error or a time-out
//! leaves the request to [`super::extract`] and its Basic/Bearer rules; errors are logged with
//! the class name and the reason, never an input value.

use std::task::{Context, Poll};

use futures_util::future::Either;
use http::header::CONTENT_TYPE;
use http::request::Parts;
use http_body::Body as _;
use http_body_util::{BodyExt, Limited};
use tracing::warn;

use crate::body::{Body, Request};
use crate::error::Refusal;
use crate::layers::extract::TokenSource;
use crate::layers::resolve::ReverseTarget;
use crate::layers::{ProxyService, ResponseFuture, take_ready};
use crate::rego::{self, ExtractorInput, Policy};
use crate::secret::ClientToken;

/// The largest JSON body a policy sees by default (1 MiB).
pub const DEFAULT_REGO_BODY_LIMIT: u64 = 1024 * 1024;

/// Layer that runs the class's `authExtractor` on reverse requests.
#[derive(Debug, Clone, Copy)]
pub struct RegoExtractLayer {
    body_limit: u64,
}

impl RegoExtractLayer {
    /// Shows policies JSON bodies of at most `body_limit` bytes.
    pub fn new(body_limit: u64) -> Self {
        Self { body_limit }
    }
}

impl Default for RegoExtractLayer {
    fn default() -> Self {
        Self::new(DEFAULT_REGO_BODY_LIMIT)
    }
}

impl<S> tower::Layer<S> for RegoExtractLayer {
    type Service = RegoExtract<S>;

    fn layer(&self, inner: S) -> RegoExtract<S> {
        RegoExtract {
            inner,
            body_limit: self.body_limit,
        }
    }
}

/// Service that runs the class's `authExtractor`; see [`RegoExtractLayer`].
#[derive(Debug, Clone)]
pub struct RegoExtract<S> {
    inner: S,
    body_limit: u64,
}

impl<S: ProxyService> tower::Service<Request> for RegoExtract<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<S::Future, ResponseFuture>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let Some((class, policy)) = extractor_of(&req) else {
            return Either::Left(self.inner.call(req));
        };
        if !wants_body(&req, self.body_limit) {
            let (mut parts, body) = req.into_parts();
            run_extractor(&class, &policy, &mut parts, None);
            return Either::Left(self.inner.call(Request::from_parts(parts, body)));
        }
        let mut inner = take_ready(&mut self.inner);
        let limit = usize::try_from(self.body_limit).unwrap_or(usize::MAX);
        Either::Right(Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let Ok(collected) = Limited::new(body, limit).collect().await else {
                let refusal = Refusal::BadRequest("The request body could not be read.".into());
                return Ok(refusal.into_response());
            };
            let bytes = collected.to_bytes();
            let json = serde_json::from_slice(&bytes).ok();
            run_extractor(&class, &policy, &mut parts, json);
            inner
                .call(Request::from_parts(parts, Body::full(bytes)))
                .await
        }))
    }
}

/// The class name and extractor of the connector the request resolved to, if it has one.
fn extractor_of(req: &Request) -> Option<(String, Policy)> {
    if req.extensions().get::<ClientToken>().is_some() {
        return None;
    }
    let target = req.extensions().get::<ReverseTarget>()?;
    let entry = target.lookup.as_ref().ok()?.as_ref()?;
    let policy = entry.class.extractor.clone()?;
    Some((entry.class.name.clone(), policy))
}

/// Whether the body is JSON of a known, non-zero length within the limit.
fn wants_body(req: &Request, limit: u64) -> bool {
    let json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(is_json);
    let length = req.body().size_hint().exact();
    json && length.is_some_and(|length| length > 0 && length <= limit)
}

/// Whether a Content-Type names JSON: `application/json` or a `+json` type, any parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Evaluates the extractor and records a found token and where it came from.
fn run_extractor(class: &str, policy: &Policy, parts: &mut Parts, body: Option<serde_json::Value>) {
    let input = ExtractorInput::new(parts, body);
    let token = match policy.extract(&input) {
        Ok(Some(token)) => token,
        Ok(None) => return,
        Err(error) => {
            warn!(
                class,
                reason = %error,
                "the class's authExtractor failed; trying Basic/Bearer instead"
            );
            return;
        }
    };
    let source = match rego::token_source(parts, &token) {
        rego::TokenSource::Header(name) => TokenSource::Header(name),
        rego::TokenSource::Query(name) => TokenSource::Query(name),
        rego::TokenSource::Elsewhere => TokenSource::Body,
    };
    parts.extensions.insert(ClientToken::new(token));
    parts.extensions.insert(source);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/vnd.api+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
