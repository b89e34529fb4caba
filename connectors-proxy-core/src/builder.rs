//! Assembling the standard stacks, with room for your own layers at named points.
//!
//! ```text
//! observe ─ body limit ─ ⟨before resolve⟩ ─ resolve ─ Rego extract ─ extract ─ ⟨before authorization⟩
//!   ─ authorize ─ sanitize ─ inject ─ ⟨after injection⟩ ─ rewrite ─ route ─ ⟨around upstream⟩ ─ upstream
//! ```
//!
//! Forward-mode stacks have the same points but the first: `⟨before authorization⟩` runs
//! before forward admission (which authenticates and authorizes), the other two where they are
//! above. A proxy for a particular kind of tool can also swap three standard parts: how reverse
//! paths name a connector ([`ProxyBuilder::path_parser`]), how tool URLs in responses map back
//! ([`ProxyBuilder::rewriter`]), and whether the stack injects credentials at all
//! ([`ProxyBuilder::without_injection`], for a layer around the upstream that logs in itself).

use std::sync::Arc;

use tower::util::{BoxCloneSyncService, Either};
use tower::{Layer, ServiceBuilder};

use crate::connect::ConnectHandler;
use crate::layers::authorize::AuthorizeLayer;
use crate::layers::extract::ExtractLayer;
use crate::layers::forward::ForwardLayer;
use crate::layers::inject::InjectLayer;
use crate::layers::limit::BodyLimitLayer;
use crate::layers::observe::ObserveLayer;
use crate::layers::rego_extract::RegoExtractLayer;
use crate::layers::resolve::{PathParser, ResolveLayer, standard_path_parser};
use crate::layers::rewrite::{RewriteLayer, RewriterFor, UrlRewriter};
use crate::layers::route::RouteLayer;
use crate::layers::sanitize::SanitizeLayer;
use crate::layers::{Mode, ProxyService};
use crate::proxy::{ProxyStack, Router, StackConfig, forward_policy};
use crate::upstream::Upstream;

/// A layer added at an insertion point, kept type-erased.
type Hook = Arc<dyn Fn(ProxyStack) -> ProxyStack + Send + Sync>;

/// Builds the standard reverse and forward stacks from a [`StackConfig`], with extra layers.
#[derive(Clone)]
pub struct ProxyBuilder {
    config: StackConfig,
    path_parser: PathParser,
    rewrite: Option<Hook>,
    inject: bool,
    before_resolve: Vec<Hook>,
    before_authorization: Vec<Hook>,
    after_injection: Vec<Hook>,
    around_upstream: Vec<Hook>,
}

impl std::fmt::Debug for ProxyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyBuilder")
            .field("custom_rewriter", &self.rewrite.is_some())
            .field("inject", &self.inject)
            .field("before_resolve", &self.before_resolve.len())
            .field("before_authorization", &self.before_authorization.len())
            .field("after_injection", &self.after_injection.len())
            .field("around_upstream", &self.around_upstream.len())
            .finish_non_exhaustive()
    }
}

fn hook<L>(layer: L) -> Hook
where
    L: Layer<ProxyStack> + Send + Sync + 'static,
    L::Service: ProxyService + Sync,
{
    Arc::new(move |inner| BoxCloneSyncService::new(layer.layer(inner)))
}

/// Wraps `inner` in `hooks`, the first hook outermost. Without hooks `inner` stays as it is,
/// unboxed, so an unused insertion point costs requests nothing.
fn wrap<S>(hooks: &[Hook], inner: S) -> Either<S, ProxyStack>
where
    S: ProxyService + Sync,
{
    if hooks.is_empty() {
        return Either::Left(inner);
    }
    let boxed = BoxCloneSyncService::new(inner);
    Either::Right(hooks.iter().rev().fold(boxed, |stack, hook| hook(stack)))
}

impl ProxyBuilder {
    /// Starts from `config` with no extra layers.
    pub fn new(config: StackConfig) -> Self {
        Self {
            config,
            path_parser: standard_path_parser,
            rewrite: None,
            inject: true,
            before_resolve: Vec::new(),
            before_authorization: Vec::new(),
            after_injection: Vec::new(),
            around_upstream: Vec::new(),
        }
    }

    /// The configuration the stacks are built from.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// Reads path-form reverse requests with `parser` instead of the standard
    /// `/namespaces/<ns>/connectors/<name>/…` form (host form is unchanged).
    pub fn path_parser(mut self, parser: PathParser) -> Self {
        self.path_parser = parser;
        self
    }

    /// Maps tool URLs in reverse-mode responses with the rewriter `rewriter_for` builds per
    /// request, in place of the standard rule.
    pub fn rewriter<R: UrlRewriter>(mut self, rewriter_for: RewriterFor<R>) -> Self {
        self.rewrite = Some(hook(RewriteLayer::with_rewriter(rewriter_for)));
        self
    }

    /// Leaves the tool's credentials out of both stacks: for a layer around the upstream that
    /// logs in to the tool itself. Client credentials are still removed.
    pub fn without_injection(mut self) -> Self {
        self.inject = false;
        self
    }

    /// Adds a layer in front of reverse-mode resolution: it sees every reverse request, named
    /// connector or not, and may answer requests the proxy serves itself.
    pub fn before_resolve<L>(mut self, layer: L) -> Self
    where
        L: Layer<ProxyStack> + Send + Sync + 'static,
        L::Service: ProxyService + Sync,
    {
        self.before_resolve.push(hook(layer));
        self
    }

    /// Adds a layer that sees requests after the connector and the client token are known, but
    /// before any review: a place for rate limits or request policies.
    pub fn before_authorization<L>(mut self, layer: L) -> Self
    where
        L: Layer<ProxyStack> + Send + Sync + 'static,
        L::Service: ProxyService + Sync,
    {
        self.before_authorization.push(hook(layer));
        self
    }

    /// Adds a layer that sees authorized requests with the tool's credentials already in: a
    /// place for audit headers or request signing.
    pub fn after_injection<L>(mut self, layer: L) -> Self
    where
        L: Layer<ProxyStack> + Send + Sync + 'static,
        L::Service: ProxyService + Sync,
    {
        self.after_injection.push(hook(layer));
        self
    }

    /// Adds a layer around the upstream client: routed requests in, tool responses out.
    pub fn around_upstream<L>(mut self, layer: L) -> Self
    where
        L: Layer<ProxyStack> + Send + Sync + 'static,
        L::Service: ProxyService + Sync,
    {
        self.around_upstream.push(hook(layer));
        self
    }

    /// The injection step, unless [`Self::without_injection`] took it out.
    fn injection(&self) -> Option<InjectLayer> {
        self.inject
            .then(|| InjectLayer::new(self.config.rego_body_limit))
    }

    /// The upstream client wrapped in the `around_upstream` layers.
    fn upstream(&self) -> Either<Upstream, ProxyStack> {
        wrap(&self.around_upstream, self.config.upstream.clone())
    }

    /// The reverse-mode stack.
    pub fn reverse(&self) -> ProxyStack {
        self.reverse_with(self.upstream())
    }

    /// The reverse-mode stack over another innermost service in place of the upstream client
    /// (the `around_upstream` layers are not applied to it).
    pub fn reverse_with<U>(&self, upstream: U) -> ProxyStack
    where
        U: ProxyService + Sync,
    {
        let config = &self.config;
        let routed = RouteLayer.layer(upstream);
        let tail = match &self.rewrite {
            Some(rewrite) => Either::Right(rewrite(BoxCloneSyncService::new(routed))),
            None => Either::Left(RewriteLayer::default().layer(routed)),
        };
        let injected = wrap(&self.after_injection, tail);
        let authorized = ServiceBuilder::new()
            .layer(AuthorizeLayer::new(
                config.reviewer.clone(),
                config.require_proxy_permission,
            ))
            .layer(SanitizeLayer)
            .option_layer(self.injection())
            .service(injected);
        let admitted = wrap(&self.before_authorization, authorized);
        let resolved = ServiceBuilder::new()
            .layer(
                ResolveLayer::new(config.catalog.clone(), &config.cluster_domain)
                    .with_path_parser(self.path_parser),
            )
            .layer(RegoExtractLayer::new(config.rego_body_limit))
            .layer(ExtractLayer)
            .service(admitted);
        let fronted = wrap(&self.before_resolve, resolved);
        let head = ServiceBuilder::new()
            .layer(ObserveLayer::new(config.metrics.clone(), Mode::Reverse))
            .option_layer(config.max_body_bytes.map(BodyLimitLayer::new))
            .service(fronted);
        BoxCloneSyncService::new(head)
    }

    /// The forward-mode stack: [`Mode::Forward`] for absolute-form requests, [`Mode::Connect`]
    /// for requests inside intercepted tunnels.
    pub fn forward(&self, mode: Mode) -> ProxyStack {
        let config = &self.config;
        let tail = ServiceBuilder::new()
            .layer(RouteLayer)
            .service(self.upstream());
        let injected = wrap(&self.after_injection, tail);
        let admitted = ServiceBuilder::new()
            .layer(ForwardLayer::new(forward_policy(config)))
            .layer(SanitizeLayer)
            .option_layer(self.injection())
            .service(injected);
        let admitted = wrap(&self.before_authorization, admitted);
        let head = ServiceBuilder::new()
            .layer(ObserveLayer::new(config.metrics.clone(), mode))
            .option_layer(config.max_body_bytes.map(BodyLimitLayer::new))
            .service(admitted);
        BoxCloneSyncService::new(head)
    }

    /// The front service for a listener: reverse, forward and (when the configuration has
    /// leaf certificates) `CONNECT`.
    pub fn router(&self) -> Router {
        let connect = self.config.leaves.clone().map(|leaves| {
            ConnectHandler::new(
                forward_policy(&self.config),
                leaves,
                self.forward(Mode::Connect),
                self.config.metrics.clone(),
                self.config.server.clone(),
            )
        });
        Router::from_parts(
            self.reverse(),
            Some(self.forward(Mode::Forward)),
            connect,
            self.config.server.max_header_bytes,
        )
    }
}
