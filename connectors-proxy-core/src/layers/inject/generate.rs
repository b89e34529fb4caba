//! Credentials built by an auth type's Rego generator, put into the backend request.
//!
//! The generator sees the Secret data and the request as it will reach the tool: its method,
//! the routed path and query from the [`Destination`], the sanitized headers and the tool's
//! host. Header and query credentials are applied at once; body credentials need the body and
//! are merged by [`inject_body`]. Failures answer `500` naming the class and the reason, never a
//! value.

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, TRANSFER_ENCODING};
use http::request::Parts;
use http_body::Body as _;
use http_body_util::{BodyExt, Limited};
use tracing::warn;

use crate::body::{Body, Request};
use crate::catalog::{ConnectorEntry, SecretData};
use crate::error::Refusal;
use crate::layers::Destination;
use crate::rego::{Generated, GeneratorInput, Policy, PolicyError, Position};
use crate::rego::{apply_to_parts, merge_json_body};

/// Generated credentials that go into the request body, applied by [`inject_body`].
#[derive(Debug, Clone)]
pub struct BodyCredentials {
    /// The class whose generator produced them, for messages.
    pub class: String,
    /// What the generator produced.
    pub generated: Generated,
}

/// Runs `generator` for the request and applies header or query credentials to it.
pub(super) fn generate(
    req: &mut Request,
    entry: &ConnectorEntry,
    generator: &Policy,
    secret: &SecretData,
) -> Result<Option<BodyCredentials>, Refusal> {
    let class = entry.class.name.as_str();
    let fail = |error: PolicyError| {
        warn!(class, connector = %entry.key(), reason = %error, "the class's generator failed");
        Refusal::Misconfigured(format!(
            "ConnectorClass {class} could not generate credentials for connector {}: {error}.",
            entry.key()
        ))
    };
    let mut parts = backend_parts(req)?;
    let generated = generator
        .generate(&GeneratorInput::new(&parts, &secret.data))
        .map_err(fail)?;
    match generated.position {
        Position::Header | Position::Query => {
            apply_to_parts(&generated, &mut parts).map_err(fail)?;
            *req.headers_mut() = parts.headers;
            if let (Some(destination), Some(path_and_query)) = (
                req.extensions_mut().get_mut::<Destination>(),
                parts.uri.path_and_query(),
            ) {
                destination.path_and_query = path_and_query.as_str().to_owned();
            }
            Ok(None)
        }
        Position::Body => Ok(Some(BodyCredentials {
            class: class.to_owned(),
            generated,
        })),
    }
}

/// The head of the request as the tool will receive it.
fn backend_parts(req: &Request) -> Result<Parts, Refusal> {
    let uri = match req.extensions().get::<Destination>() {
        Some(destination) => format!("{}{}", destination.origin, destination.path_and_query)
            .parse()
            .map_err(|_| {
                Refusal::BadRequest("The request path cannot be sent to the tool.".into())
            })?,
        None => req.uri().clone(),
    };
    let mut parts = http::Request::new(()).into_parts().0;
    parts.method = req.method().clone();
    parts.uri = uri;
    parts.headers = req.headers().clone();
    Ok(parts)
}

/// Merges body credentials into the request's JSON body.
///
/// The body must have a known length of at most `limit` bytes (`413` otherwise) and be a JSON
/// object or empty (`400` otherwise). `Content-Length` follows the new body, and `Content-Type`
/// becomes the generator's `contentType` when it gives one.
pub async fn inject_body(
    req: Request,
    credentials: &BodyCredentials,
    limit: u64,
) -> Result<Request, Refusal> {
    let class = &credentials.class;
    if req
        .body()
        .size_hint()
        .exact()
        .is_none_or(|length| length > limit)
    {
        return Err(Refusal::PayloadTooLarge(format!(
            "ConnectorClass {class} adds credentials to the request body, which must then have \
             a known length of at most {limit} bytes."
        )));
    }
    let (mut parts, body) = req.into_parts();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|_| Refusal::BadRequest("The request body could not be read.".into()))?
        .to_bytes();
    let merged = merge_json_body(&credentials.generated, &bytes).map_err(|_| {
        Refusal::BadRequest(format!(
            "ConnectorClass {class} adds credentials to the request body, which must then be \
             a JSON object."
        ))
    })?;
    parts.headers.remove(TRANSFER_ENCODING);
    parts.headers.insert(CONTENT_LENGTH, merged.len().into());
    if let Some(content_type) = &credentials.generated.content_type {
        let value = HeaderValue::try_from(content_type.as_str()).map_err(|_| {
            Refusal::Misconfigured(format!(
                "ConnectorClass {class} generated a contentType that is not a valid header."
            ))
        })?;
        parts.headers.insert(CONTENT_TYPE, value);
    }
    Ok(Request::from_parts(parts, Body::full(merged)))
}
