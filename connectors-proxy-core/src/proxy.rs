//! The standard stack: classifying requests and composing the layers into one service.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Method, Version, header};
use tower::util::BoxCloneSyncService;

use crate::body::{Request, Response};
use crate::builder::ProxyBuilder;
use crate::catalog::Catalog;
use crate::connect::ConnectHandler;
use crate::error::Refusal;
use crate::layers::authorize::AuthorizeLayer;
use crate::layers::forward::{ForwardPolicy, NonTargets};
use crate::layers::rego_extract::DEFAULT_REGO_BODY_LIMIT;
use crate::layers::{Mode, ProxyService, ResponseFuture};
use crate::metrics::Metrics;
use crate::review::Reviewer;
use crate::server::ServerSettings;
use crate::tls::LeafCache;
use crate::upstream::Upstream;

/// A cloneable, type-erased proxy service.
pub type ProxyStack = BoxCloneSyncService<Request, Response, Infallible>;

/// What the standard stack is built from.
#[derive(Clone)]
pub struct StackConfig {
    /// Where connectors come from.
    pub catalog: Arc<dyn Catalog>,
    /// Who checks tokens and access.
    pub reviewer: Arc<dyn Reviewer>,
    /// Where metrics go.
    pub metrics: Arc<Metrics>,
    /// The client for tools.
    pub upstream: Upstream,
    /// The cluster domain accepted in host-form addresses.
    pub cluster_domain: String,
    /// Whether access also needs the `connectors/proxy` subresource.
    pub require_proxy_permission: bool,
    /// The largest request body accepted, in bytes; `None` streams bodies of any size.
    pub max_body_bytes: Option<u64>,
    /// What forward requests to non-target hosts get.
    pub non_targets: NonTargets,
    /// Leaf certificates for intercepting `CONNECT`; without them `CONNECT` is refused.
    pub leaves: Option<Arc<LeafCache>>,
    /// Connection limits, also applied inside intercepted tunnels.
    pub server: ServerSettings,
    /// The largest JSON body, in bytes, that Rego policies read or generators write into.
    pub rego_body_limit: u64,
}

impl StackConfig {
    /// A configuration with the defaults: cluster domain `cluster.local`, no proxy-permission
    /// check, no body limit, non-targets allowed, no `CONNECT` interception, Rego bodies up to
    /// 1 MiB.
    pub fn new(
        catalog: Arc<dyn Catalog>,
        reviewer: Arc<dyn Reviewer>,
        upstream: Upstream,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            catalog,
            reviewer,
            metrics,
            upstream,
            cluster_domain: "cluster.local".into(),
            require_proxy_permission: false,
            max_body_bytes: None,
            non_targets: NonTargets::default(),
            leaves: None,
            server: ServerSettings::default(),
            rego_body_limit: DEFAULT_REGO_BODY_LIMIT,
        }
    }
}

/// The reverse-mode stack of `config`, without extra layers (see [`ProxyBuilder`]).
pub fn reverse_stack(config: &StackConfig) -> ProxyStack {
    ProxyBuilder::new(config.clone()).reverse()
}

/// The reverse-mode stack over any innermost service in place of the upstream client.
pub fn reverse_stack_with<U>(config: &StackConfig, upstream: U) -> ProxyStack
where
    U: ProxyService + Sync,
{
    ProxyBuilder::new(config.clone()).reverse_with(upstream)
}

/// The forward-mode policy of `config`.
pub(crate) fn forward_policy(config: &StackConfig) -> ForwardPolicy {
    ForwardPolicy::new(
        config.catalog.clone(),
        AuthorizeLayer::new(config.reviewer.clone(), config.require_proxy_permission),
        config.non_targets,
    )
}

/// The forward-mode stack of `config`, without extra layers (see [`ProxyBuilder`]).
pub fn forward_stack(config: &StackConfig, mode: Mode) -> ProxyStack {
    ProxyBuilder::new(config.clone()).forward(mode)
}

/// The front service: refuses ambiguous framing, then dispatches by request form.
#[derive(Clone)]
pub struct Router {
    reverse: ProxyStack,
    forward: Option<ProxyStack>,
    connect: Option<ConnectHandler>,
    max_header_bytes: usize,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Router")
    }
}

impl Router {
    /// Builds the router over the standard stacks (see [`ProxyBuilder::router`]).
    pub fn new(config: &StackConfig) -> Self {
        ProxyBuilder::new(config.clone()).router()
    }

    /// Builds the router from its stacks: reverse, forward (absolute-form requests; refused when
    /// `None`) and `CONNECT` (refused when `None`).
    pub(crate) fn from_parts(
        reverse: ProxyStack,
        forward: Option<ProxyStack>,
        connect: Option<ConnectHandler>,
        max_header_bytes: usize,
    ) -> Self {
        Self {
            reverse,
            forward,
            connect,
            max_header_bytes,
        }
    }

    /// Builds the router over another reverse-mode stack (such as a registry proxy's), keeping
    /// the framing checks in front of it.
    pub fn with_reverse(reverse: ProxyStack) -> Self {
        Self {
            reverse,
            forward: None,
            connect: None,
            max_header_bytes: ServerSettings::default().max_header_bytes,
        }
    }
}

/// Whether an HTTP/1 request is in absolute form (`GET http://host/path`), as sent to a
/// forward proxy.
pub(crate) fn is_absolute_form(req: &Request) -> bool {
    req.version() <= Version::HTTP_11 && req.uri().scheme().is_some()
}

/// Refuses request heads the proxy will not pass on: framing that could be read two ways
/// (request smuggling), more than one `Host`, and header sections over `max_header_bytes`
/// (counted as they appear on the wire; HTTP/1 parsing only caps them loosely).
fn check_head(req: &Request, max_header_bytes: usize) -> Result<(), Refusal> {
    let headers = req.headers();
    if headers.contains_key(header::TRANSFER_ENCODING)
        && headers.contains_key(header::CONTENT_LENGTH)
    {
        return Err(Refusal::BadRequest(
            "The request has both Content-Length and Transfer-Encoding.".into(),
        ));
    }
    if headers.get_all(header::HOST).iter().nth(1).is_some() {
        return Err(Refusal::BadRequest(
            "The request has more than one Host header.".into(),
        ));
    }
    let size: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if size > max_header_bytes {
        return Err(Refusal::HeadersTooLarge(format!(
            "The request headers are larger than {max_header_bytes} bytes."
        )));
    }
    Ok(())
}

impl tower::Service<Request> for Router {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        use tower::ServiceExt;
        if let Err(refusal) = check_head(&req, self.max_header_bytes) {
            return Box::pin(std::future::ready(Ok(refusal.into_response())));
        }
        if req.method() == Method::CONNECT {
            return match self.connect.clone() {
                Some(connect) => Box::pin(async move { Ok(connect.handle(req).await) }),
                None => Box::pin(std::future::ready(Ok(Refusal::BadRequest(
                    "This proxy does not accept CONNECT: TLS interception is not configured."
                        .into(),
                )
                .into_response()))),
            };
        }
        if is_absolute_form(&req) {
            return match self.forward.clone() {
                Some(forward) => Box::pin(forward.oneshot(req)),
                None => Box::pin(std::future::ready(Ok(Refusal::BadRequest(
                    "This listener serves reverse-proxy requests: address a connector by path or host.".into(),
                )
                .into_response()))),
            };
        }
        Box::pin(self.reverse.clone().oneshot(req))
    }
}
