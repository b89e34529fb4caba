//! Adding the tool's credentials to requests authorized for a connector.
//!
//! `kubernetes.io/basic-auth` and `cpaas.io/distribution-registry-token` Secrets become
//! `Authorization: Basic`, `connectors.cpaas.io/bearer-token` becomes `Authorization: Bearer`.
//! Other Secret types are read by shape: `username` + `password` as Basic, `token` as Bearer.
//! An auth type with a Rego `generator` gets what the generator builds instead, in a header,
//! the query or the JSON body. Injected values are marked sensitive so HTTP/2 never indexes
//! them and logs never show them.

use std::task::{Context, Poll};

use futures_util::future::Either;
use http::header::{AUTHORIZATION, HeaderValue};

use crate::body::Request;
use crate::catalog::{ConnectorEntry, Credentials, SecretData};
use crate::credentials::encode_basic;
use crate::error::Refusal;
use crate::layers::rego_extract::DEFAULT_REGO_BODY_LIMIT;
use crate::layers::{
    Authorized, ProxyService, ResponseFuture, StepFuture, pass, refuse, take_ready,
};

mod generate;

use generate::generate;
pub use generate::{BodyCredentials, inject_body};

/// Secret type whose `username`/`password` become Basic credentials.
pub const BASIC_AUTH: &str = "kubernetes.io/basic-auth";
/// Secret type whose `token` becomes a Bearer credential.
pub const BEARER_TOKEN: &str = "connectors.cpaas.io/bearer-token";
/// Registry Secret type whose `username`/`password` become Basic credentials.
pub const REGISTRY_TOKEN: &str = "cpaas.io/distribution-registry-token";

/// The `Authorization` value for a connector's Secret, or why there is none.
pub fn authorization_for(
    entry: &ConnectorEntry,
    secret: &SecretData,
) -> Result<HeaderValue, Refusal> {
    let basic = || match (secret.get("username"), secret.get("password")) {
        (Some(user), Some(password)) => Some(encode_basic(user.expose(), password.expose())),
        _ => None,
    };
    let bearer = || {
        secret
            .get("token")
            .map(|t| format!("Bearer {}", t.expose()))
    };
    let value = match secret.type_.as_str() {
        BASIC_AUTH | REGISTRY_TOKEN => basic(),
        BEARER_TOKEN => bearer(),
        _ => basic().or_else(bearer),
    };
    let value = value.ok_or_else(|| {
        Refusal::Misconfigured(format!(
            "Connector {} has a Secret of type {:?} that the proxy cannot turn into credentials.",
            entry.key(),
            secret.type_
        ))
    })?;
    let mut value = HeaderValue::try_from(value).map_err(|_| {
        Refusal::Misconfigured(format!(
            "Connector {} has credentials that are not valid in an HTTP header.",
            entry.key()
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Adds the authorized connector's credentials to `req`: Basic/Bearer from the Secret, or
/// header and query credentials from the auth type's generator.
///
/// Returns the generated credentials still to be merged into the body (see [`inject_body`]),
/// or `None` when nothing is left to do.
pub fn inject(req: &mut Request) -> Result<Option<BodyCredentials>, Refusal> {
    let Some(Authorized(entry)) = req.extensions().get::<Authorized>().cloned() else {
        return Ok(None);
    };
    if let Some(problem) = &entry.class.problem {
        return Err(Refusal::Misconfigured(format!(
            "ConnectorClass {} cannot be used: {problem}.",
            entry.class.name
        )));
    }
    match &entry.credentials {
        Credentials::None => Ok(None),
        Credentials::Broken(reason) => Err(Refusal::Misconfigured(format!(
            "Connector {} cannot be used: {reason}.",
            entry.key()
        ))),
        Credentials::Secret { auth_type, secret } => {
            if let Some(generator) = entry.class.generators.get(auth_type) {
                return generate(req, &entry, generator, secret);
            }
            let value = authorization_for(&entry, secret)?;
            req.headers_mut().insert(AUTHORIZATION, value);
            Ok(None)
        }
    }
}

/// Layer that injects tool credentials into authorized requests.
#[derive(Debug, Clone, Copy)]
pub struct InjectLayer {
    body_limit: u64,
}

impl InjectLayer {
    /// Injects credentials; a generator may merge into JSON bodies of at most `body_limit` bytes.
    pub fn new(body_limit: u64) -> Self {
        Self { body_limit }
    }
}

impl Default for InjectLayer {
    fn default() -> Self {
        Self::new(DEFAULT_REGO_BODY_LIMIT)
    }
}

impl<S> tower::Layer<S> for InjectLayer {
    type Service = Inject<S>;

    fn layer(&self, inner: S) -> Inject<S> {
        Inject {
            inner,
            body_limit: self.body_limit,
        }
    }
}

/// Service that injects tool credentials; see [`InjectLayer`].
#[derive(Debug, Clone)]
pub struct Inject<S> {
    inner: S,
    body_limit: u64,
}

impl<S: ProxyService> tower::Service<Request> for Inject<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<StepFuture<S::Future>, ResponseFuture>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        match inject(&mut req) {
            Ok(None) => Either::Left(pass(self.inner.call(req))),
            Ok(Some(credentials)) => {
                let mut inner = take_ready(&mut self.inner);
                let limit = self.body_limit;
                Either::Right(Box::pin(async move {
                    match inject_body(req, &credentials, limit).await {
                        Ok(req) => inner.call(req).await,
                        Err(refusal) => Ok(refusal.into_response()),
                    }
                }))
            }
            Err(refusal) => Either::Left(refuse(refusal)),
        }
    }
}
