//! The proxy's steps as Tower layers, each usable on its own.
//!
//! A request passes, outermost first: [`observe`] (metrics and a span), [`limit`] (optional
//! body cap), [`resolve`] (which connector), [`rego_extract`] (the client token by the class's
//! Rego policy), [`extract`] (the client token by Basic/Bearer), [`authorize`] (token review,
//! access review, and the connector lookup), [`sanitize`] (client credentials and hop-by-hop
//! headers out), [`inject`] (tool credentials in), [`rewrite`] (tool URLs in responses back to
//! proxy URLs), [`route`] (the upstream URI), and finally the [`crate::upstream`] client.
//! Forward-mode stacks use [`forward`] in place of resolve, extract and authorize.
//!
//! State passes between steps in request extensions, never in globals:
//!
//! | layer | constructor | reads | writes |
//! |---|---|---|---|
//! | [`observe::ObserveLayer`] | `new(metrics, mode)` | | [`Mode`] |
//! | [`limit::BodyLimitLayer`] | `new(max_bytes)` | | |
//! | [`resolve::ResolveLayer`] | `new(catalog, cluster_domain)` | | [`resolve::ReverseTarget`] |
//! | [`rego_extract::RegoExtractLayer`] | `new(body_limit)` | `ReverseTarget` | [`ClientToken`](crate::secret::ClientToken), [`extract::TokenSource`] |
//! | [`extract::ExtractLayer`] | unit value | `ClientToken` | `ClientToken`, `TokenSource` |
//! | [`authorize::AuthorizeLayer`] | `new(reviewer, require_proxy_permission)` | `ClientToken` (removed), `ReverseTarget` | [`Identity`](crate::review::Identity), [`Destination`], [`Authorized`] |
//! | [`forward::ForwardLayer`] | `new(policy)` | | `Identity`, `Destination`, `Authorized` (connector targets only) |
//! | [`sanitize::SanitizeLayer`] | unit value | `TokenSource`, `Destination` | `Destination` (token query parameter removed) |
//! | [`inject::InjectLayer`] | `new(body_limit)` | `Authorized`, `Destination` | `Destination` (generated query) |
//! | [`rewrite::RewriteLayer`] | `default()` | `ReverseTarget`, `Authorized` | |
//! | [`route::RouteLayer`] | unit value | `Destination` | |
//! | [`crate::upstream::Upstream`] | `new(tls, settings, metrics)` | `Mode` | |
//!
//! Every service here has `Error = Infallible`: refusals are responses built by
//! [`crate::error::Refusal`]. A step of your own is a function
//! `fn(Request) -> Result<Request, Refusal>` in a [`step::StepLayer`], or a type implementing
//! [`step::Step`] or [`step::AsyncStep`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::address::Origin;
use crate::body::{Request, Response};
use crate::catalog::ConnectorEntry;

pub mod authorize;
pub mod extract;
pub mod forward;
pub mod inject;
pub mod limit;
pub mod observe;
pub mod rego_extract;
pub mod resolve;
pub mod rewrite;
pub mod route;
pub mod sanitize;
pub mod step;

/// The future returned by the asynchronous services in this module.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// The future of a synchronous step: the inner service's future, or an immediate refusal.
pub type StepFuture<F> =
    futures_util::future::Either<F, std::future::Ready<Result<Response, Infallible>>>;

/// A [`StepFuture`] that answers at once with `refusal`.
pub(crate) fn refuse<F>(refusal: crate::error::Refusal) -> StepFuture<F> {
    futures_util::future::Either::Right(std::future::ready(Ok(refusal.into_response())))
}

/// A [`StepFuture`] that continues with the inner service.
pub(crate) fn pass<F>(future: F) -> StepFuture<F> {
    futures_util::future::Either::Left(future)
}

/// A service that the layers here can wrap.
pub trait ProxyService:
    tower::Service<Request, Response = Response, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static
{
}

impl<S> ProxyService for S where
    S: tower::Service<Request, Response = Response, Error = Infallible, Future: Send>
        + Clone
        + Send
        + 'static
{
}

/// Takes the ready service out of `slot`, leaving a fresh clone behind (the usual Tower idiom
/// for moving a service into a future after `poll_ready`).
pub fn take_ready<S: Clone>(slot: &mut S) -> S {
    let clone = slot.clone();
    std::mem::replace(slot, clone)
}

/// How a request reached the proxy; recorded in metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Origin-form request addressed to a connector by path or host.
    Reverse,
    /// Absolute-form request (`http_proxy`).
    Forward,
    /// A request inside an intercepted `CONNECT` tunnel.
    Connect,
    /// A blind `CONNECT` tunnel to a host that is no connector's target.
    Tunnel,
}

impl Mode {
    /// The label used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reverse => "reverse",
            Self::Forward => "forward",
            Self::Connect => "connect",
            Self::Tunnel => "tunnel",
        }
    }
}

/// The connector a request was authorized for (set by authorization, read by injection).
#[derive(Debug, Clone)]
pub struct Authorized(pub Arc<ConnectorEntry>);

/// Where the request goes: the tool's origin and the raw path and query to send.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The tool's scheme, host and port.
    pub origin: Origin,
    /// The raw path and query, as they will be sent.
    pub path_and_query: String,
}
