//! Forward-proxy steps: authenticating `Proxy-Authorization`, then deciding whether the
//! request's target belongs to one of the listed connectors.
//!
//! A request to a connector's target gets that connector's credentials after an access review
//! for it; the most specific address across the listed connectors wins. Any other target is
//! forwarded without credentials (or refused with [`NonTargets::Deny`]), and only for a client
//! allowed to use at least one listed connector.

use std::sync::Arc;

use http::header::PROXY_AUTHORIZATION;
use tracing::Span;

use crate::address::{Origin, has_dot_segment};
use crate::body::Request;
use crate::catalog::{Catalog, ConnectorEntry, ConnectorRef};
use crate::error::Refusal;
use crate::forward::{best_match, origin_of_absolute, parse_proxy_authorization};
use crate::layers::authorize::AuthorizeLayer;
use crate::layers::resolve::dot_segment_refusal;
use crate::layers::step::{AsyncStep, AsyncStepService};
use crate::layers::{Authorized, Destination};
use crate::review::Identity;

/// What to do with requests whose target is none of the listed connectors' addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonTargets {
    /// Forward them (and tunnel `CONNECT` blind) without credentials.
    #[default]
    Allow,
    /// Refuse them with `403`.
    Deny,
}

/// An authenticated forward-proxy client and the connectors it listed.
#[derive(Debug, Clone)]
pub(crate) struct ForwardClient {
    /// Who the client is.
    pub identity: Identity,
    /// The connectors named in `Proxy-Authorization`, in order.
    pub connectors: Vec<ConnectorRef>,
}

/// Checks forward-proxy credentials and decides what a target gets.
#[derive(Clone)]
pub struct ForwardPolicy {
    catalog: Arc<dyn Catalog>,
    reviews: AuthorizeLayer,
    non_targets: NonTargets,
}

impl std::fmt::Debug for ForwardPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardPolicy")
            .field("non_targets", &self.non_targets)
            .finish_non_exhaustive()
    }
}

/// What a forward request is allowed to do.
#[derive(Debug)]
pub(crate) enum Decision {
    /// The target belongs to this connector: inject its credentials.
    Inject(Arc<ConnectorEntry>),
    /// Not a target of any listed connector: forward without credentials.
    PassThrough,
}

impl ForwardPolicy {
    /// Looks connectors up in `catalog` and reviews through `reviews`.
    pub fn new(
        catalog: Arc<dyn Catalog>,
        reviews: AuthorizeLayer,
        non_targets: NonTargets,
    ) -> Self {
        Self {
            catalog,
            reviews,
            non_targets,
        }
    }

    /// Authenticates the `Proxy-Authorization` in `headers` (`407` when missing or invalid).
    pub(crate) async fn authenticate(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<ForwardClient, Refusal> {
        let missing = || {
            Refusal::ProxyUnauthenticated(
                "Proxy credentials are required: user <namespace>/<connector>, password a ServiceAccount token."
                    .into(),
            )
        };
        let header = headers.get(PROXY_AUTHORIZATION).ok_or_else(missing)?;
        let credentials = parse_proxy_authorization(header).map_err(|error| {
            Refusal::ProxyUnauthenticated(format!("The proxy credentials are unusable: {error}."))
        })?;
        let identity = self.reviews.authenticate(&credentials.token, true).await?;
        Ok(ForwardClient {
            identity,
            connectors: credentials.connectors,
        })
    }

    /// Decides what a request to `origin` and raw `path` gets.
    pub(crate) async fn decide(
        &self,
        client: &ForwardClient,
        origin: &Origin,
        path: &str,
    ) -> Result<Decision, Refusal> {
        let entries = self.listed_entries(client).await;
        if let Some((entry, _)) = best_match(&entries, origin, path) {
            if has_dot_segment(path) {
                return Err(dot_segment_refusal());
            }
            self.reviews
                .check(&client.identity, &entry.namespace, &entry.name)
                .await?;
            if !entry.class.proxied {
                return Err(Refusal::NotFound(format!(
                    "Connector {} has no proxy.",
                    entry.key()
                )));
            }
            return Ok(Decision::Inject(entry.clone()));
        }
        self.allow_non_target(client, &entries, origin).await?;
        Ok(Decision::PassThrough)
    }

    /// Whether a `CONNECT` to `origin` should be intercepted: some listed connector has an
    /// address there. Also refuses clients that may use none of the listed connectors.
    pub(crate) async fn intercepts(
        &self,
        client: &ForwardClient,
        origin: &Origin,
    ) -> Result<bool, Refusal> {
        let entries = self.listed_entries(client).await;
        if crate::forward::host_matches(&entries, origin) {
            self.allowed_any(client, &entries).await?;
            return Ok(true);
        }
        self.allow_non_target(client, &entries, origin).await?;
        Ok(false)
    }

    async fn listed_entries(&self, client: &ForwardClient) -> Vec<Arc<ConnectorEntry>> {
        let mut entries = Vec::with_capacity(client.connectors.len());
        for connector in &client.connectors {
            if let Ok(Some(entry)) = self
                .catalog
                .connector(&connector.namespace, &connector.name)
                .await
            {
                entries.push(entry);
            }
        }
        entries
    }

    async fn allow_non_target(
        &self,
        client: &ForwardClient,
        entries: &[Arc<ConnectorEntry>],
        origin: &Origin,
    ) -> Result<(), Refusal> {
        if self.non_targets == NonTargets::Deny {
            return Err(Refusal::Forbidden(format!(
                "{origin} is not an address of the listed connectors, and this proxy forwards only to connector addresses."
            )));
        }
        self.allowed_any(client, entries).await
    }

    /// Succeeds when the client may use at least one listed connector that exists. A connector
    /// the client may use but that does not exist is reported as `404`, and only then, so an
    /// unauthorized client learns nothing about which connectors exist.
    async fn allowed_any(
        &self,
        client: &ForwardClient,
        entries: &[Arc<ConnectorEntry>],
    ) -> Result<(), Refusal> {
        let mut refusal = None;
        for connector in &client.connectors {
            match self
                .reviews
                .check(&client.identity, &connector.namespace, &connector.name)
                .await
            {
                Ok(())
                    if entries.iter().any(|e| {
                        e.namespace == connector.namespace && e.name == connector.name
                    }) =>
                {
                    return Ok(());
                }
                Ok(()) => {
                    refusal = Some(Refusal::NotFound(format!(
                        "Connector {connector} does not exist."
                    )))
                }
                Err(denied) => {
                    if refusal.is_none() {
                        refusal = Some(denied);
                    }
                }
            }
        }
        Err(refusal.unwrap_or_else(|| {
            Refusal::Forbidden("No connector is listed in the proxy credentials.".into())
        }))
    }

    /// Authenticates (unless a tunnel already did) and authorizes one forward request, adding
    /// its [`Destination`] and, for targets, the [`Authorized`] connector.
    pub(crate) async fn admit(&self, mut req: Request) -> Result<Request, Refusal> {
        let client = match req.extensions_mut().remove::<ForwardClient>() {
            Some(client) => client,
            None => self.authenticate(req.headers()).await?,
        };
        let target = origin_of_absolute(req.uri()).map_err(|error| {
            Refusal::BadRequest(format!("The request target is unusable: {error}."))
        })?;
        Span::current().record("host", target.origin.authority());
        let decision = self.decide(&client, &target.origin, &target.path).await?;
        let mut path_and_query = target.path;
        if let Some(query) = &target.query {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        let extensions = req.extensions_mut();
        if let Decision::Inject(entry) = decision {
            Span::current().record("connector", entry.key());
            extensions.insert(Authorized(entry));
        }
        extensions.insert(Destination {
            origin: target.origin,
            path_and_query,
        });
        extensions.insert(client.identity);
        Ok(req)
    }
}

/// Layer that admits forward requests with a [`ForwardPolicy`].
#[derive(Debug, Clone)]
pub struct ForwardLayer {
    policy: ForwardPolicy,
}

impl ForwardLayer {
    /// Admits requests with `policy`.
    pub fn new(policy: ForwardPolicy) -> Self {
        Self { policy }
    }
}

impl<S> tower::Layer<S> for ForwardLayer {
    type Service = Forward<S>;

    fn layer(&self, inner: S) -> Forward<S> {
        AsyncStepService::new(self.policy.clone(), inner)
    }
}

/// Service that admits forward requests; see [`ForwardLayer`].
pub type Forward<S> = AsyncStepService<ForwardPolicy, S>;

impl AsyncStep for ForwardPolicy {
    async fn apply(&self, req: Request) -> Result<Request, Refusal> {
        self.admit(req).await
    }
}
