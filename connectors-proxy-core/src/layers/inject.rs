//! Adding the tool's credentials to requests authorized for a connector.
//!
//! `kubernetes.io/basic-auth` and `cpaas.io/distribution-registry-token` Secrets become
//! `Authorization: Basic`, `connectors.cpaas.io/bearer-token` becomes `Authorization: Bearer`.
//! Other Secret types are read by shape: `username` + `password` as Basic, `token` as Bearer.
//! Injected values are marked sensitive so HTTP/2 never indexes them and logs never show them.

use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, HeaderValue};

use crate::body::Request;
use crate::catalog::{ConnectorEntry, Credentials, SecretData};
use crate::credentials::encode_basic;
use crate::error::Refusal;
use crate::layers::{Authorized, ProxyService, StepFuture, pass, refuse};

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

/// Adds the authorized connector's credentials to `req`.
pub fn inject(req: &mut Request) -> Result<(), Refusal> {
    let Some(Authorized(entry)) = req.extensions().get::<Authorized>().cloned() else {
        return Ok(());
    };
    match &entry.credentials {
        Credentials::None => Ok(()),
        Credentials::Broken(reason) => Err(Refusal::Misconfigured(format!(
            "Connector {} cannot be used: {reason}.",
            entry.key()
        ))),
        Credentials::Secret { secret, .. } => {
            let value = authorization_for(&entry, secret)?;
            req.headers_mut().insert(AUTHORIZATION, value);
            Ok(())
        }
    }
}

/// Layer that injects tool credentials into authorized requests.
#[derive(Debug, Clone, Default)]
pub struct InjectLayer;

impl<S> tower::Layer<S> for InjectLayer {
    type Service = Inject<S>;

    fn layer(&self, inner: S) -> Inject<S> {
        Inject { inner }
    }
}

/// Service that injects tool credentials; see [`InjectLayer`].
#[derive(Debug, Clone)]
pub struct Inject<S> {
    inner: S,
}

impl<S: ProxyService> tower::Service<Request> for Inject<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = StepFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        match inject(&mut req) {
            Ok(()) => pass(self.inner.call(req)),
            Err(refusal) => refuse(refusal),
        }
    }
}
