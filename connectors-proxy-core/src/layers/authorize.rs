//! Authenticating the client token, authorizing it for the connector, then refusing unknown
//! connectors: in that order, so an unauthenticated client learns nothing.

use std::sync::Arc;

use tracing::debug;

use crate::body::Request;
use crate::catalog::CatalogError;
use crate::error::Refusal;
use crate::layers::resolve::ReverseTarget;
use crate::layers::step::{AsyncStep, AsyncStepService};
use crate::layers::{Authorized, Destination};
use crate::review::{AccessCheck, Authentication, Identity, ReviewError, Reviewer};
use crate::secret::ClientToken;

/// Layer that reviews the client token and its right to use the requested connector.
#[derive(Clone)]
pub struct AuthorizeLayer {
    reviewer: Arc<dyn Reviewer>,
    require_proxy_permission: bool,
}

impl AuthorizeLayer {
    /// Reviews with `reviewer`; with `require_proxy_permission`, access also needs the
    /// `connectors/proxy` subresource.
    pub fn new(reviewer: Arc<dyn Reviewer>, require_proxy_permission: bool) -> Self {
        Self {
            reviewer,
            require_proxy_permission,
        }
    }

    /// Authenticates `token`, mapping failures to refusals. `forward` picks the challenge.
    pub async fn authenticate(
        &self,
        token: &ClientToken,
        forward: bool,
    ) -> Result<Identity, Refusal> {
        match self.reviewer.authenticate(token).await {
            Ok(Authentication::Authenticated { user, .. }) => Ok(Identity {
                user,
                token_hash: token.hash(),
            }),
            Ok(Authentication::Rejected) => {
                debug!(token = %token.hash().short(), "token rejected");
                let message = "The ServiceAccount token was not accepted.".to_owned();
                Err(if forward {
                    Refusal::ProxyUnauthenticated(message)
                } else {
                    Refusal::Unauthenticated(message)
                })
            }
            Err(ReviewError::Unavailable(reason)) => Err(unavailable(&reason)),
        }
    }

    /// Checks that `identity` may use connector `namespace/name`.
    pub async fn check(
        &self,
        identity: &Identity,
        namespace: &str,
        name: &str,
    ) -> Result<(), Refusal> {
        let check = AccessCheck::use_connector(namespace, name, self.require_proxy_permission);
        match self.reviewer.authorize(identity, &check).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Refusal::Forbidden(format!(
                "{} may not use connector {namespace}/{name}.",
                identity.user.username
            ))),
            Err(ReviewError::Unavailable(reason)) => Err(unavailable(&reason)),
        }
    }
}

fn unavailable(reason: &str) -> Refusal {
    debug!(reason, "review unavailable");
    Refusal::Unavailable("The proxy cannot check the token right now; try again shortly.".into())
}

impl<S> tower::Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Authorize<S> {
        AsyncStepService::new(self.clone(), inner)
    }
}

/// Service that reviews reverse requests; see [`AuthorizeLayer`].
pub type Authorize<S> = AsyncStepService<AuthorizeLayer, S>;

impl AsyncStep for AuthorizeLayer {
    async fn apply(&self, req: Request) -> Result<Request, Refusal> {
        authorize_reverse(self, req).await
    }
}

async fn authorize_reverse(layer: &AuthorizeLayer, mut req: Request) -> Result<Request, Refusal> {
    let token = req
        .extensions_mut()
        .remove::<ClientToken>()
        .ok_or_else(|| Refusal::Unauthenticated("A ServiceAccount token is required.".into()))?;
    let target = req
        .extensions()
        .get::<ReverseTarget>()
        .cloned()
        .ok_or_else(|| Refusal::NotFound("The request names no connector.".into()))?;
    let identity = layer.authenticate(&token, false).await?;
    let connector = &target.connector;
    layer
        .check(&identity, &connector.namespace, &connector.name)
        .await?;
    let entry = match target.lookup {
        Ok(Some(entry)) => entry,
        Ok(None) => {
            return Err(Refusal::NotFound(format!(
                "Connector {connector} does not exist."
            )));
        }
        Err(CatalogError::Unusable { key, reason }) => {
            return Err(Refusal::Misconfigured(format!(
                "Connector {key} cannot be used: {reason}."
            )));
        }
        Err(CatalogError::Unavailable(_)) => {
            return Err(Refusal::Unavailable(
                "The connector catalog is not loaded yet.".into(),
            ));
        }
    };
    if !entry.class.proxied {
        return Err(Refusal::NotFound(format!(
            "Connector {connector} has no proxy: its class {:?} defines none.",
            entry.class.name
        )));
    }
    let destination = Destination {
        origin: entry.address.origin().clone(),
        path_and_query: entry.address.join(&target.rest, req.uri().query()),
    };
    let extensions = req.extensions_mut();
    extensions.insert(identity);
    extensions.insert(destination);
    extensions.insert(Authorized(entry));
    Ok(req)
}
