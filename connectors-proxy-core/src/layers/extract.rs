//! Finding the client token in a reverse request.

use http::header::AUTHORIZATION;

use crate::body::Request;
use crate::credentials::{BasicError, decode_basic_text, reverse_token};
use crate::error::Refusal;
use crate::layers::step::{Step, StepService};
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
/// requests without one with `401`; a token already found (by a Rego extractor) is kept.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractLayer;

impl<S> tower::Layer<S> for ExtractLayer {
    type Service = Extract<S>;

    fn layer(&self, inner: S) -> Extract<S> {
        StepService::new(*self, inner)
    }
}

/// Service that finds the client token; see [`ExtractLayer`].
pub type Extract<S> = StepService<ExtractLayer, S>;

impl Step for ExtractLayer {
    fn apply(&self, mut req: Request) -> Result<Request, Refusal> {
        if req.extensions().get::<ClientToken>().is_none() {
            let header = req.headers().get(AUTHORIZATION);
            let Some(token) = header.and_then(reverse_token) else {
                let undecodable = header
                    .is_some_and(|value| decode_basic_text(value) == Err(BasicError::Encoding));
                return Err(Refusal::Unauthenticated(if undecodable {
                    "The Basic credentials are not valid base64 of UTF-8 text.".into()
                } else {
                    "A ServiceAccount token is required: send it as Basic password or Bearer token."
                        .into()
                }));
            };
            req.extensions_mut().insert(ClientToken::new(token));
            req.extensions_mut()
                .insert(TokenSource::Header(AUTHORIZATION));
        }
        Ok(req)
    }
}
