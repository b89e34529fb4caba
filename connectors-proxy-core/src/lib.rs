//! Building blocks for credential-injecting Connectors proxies.
//!
//! A client holds only a short-lived Kubernetes ServiceAccount token. The proxy checks that
//! token and the client's right to use a *Connector*, removes the client's credentials, adds the
//! tool's real credentials and forwards the request.
//!
//! # How a request flows
//!
//! A [`Catalog`] says what connectors exist ([`FileCatalog`] reads a folder of manifests,
//! [`KubeCatalog`] watches the Kubernetes API, [`MemoryCatalog`] is filled by your program); a
//! [`Reviewer`] answers TokenReview and SubjectAccessReview ([`StaticReviewer`] from a token file
//! and RBAC manifests, [`KubeReviewer`] through the API), usually behind a [`CachedReviewer`].
//! Each step of a request is a Tower layer in [`layers`]: resolve the connector from the path
//! or host, extract the client token (a class's Rego policy first, then Basic or Bearer),
//! authenticate and authorize it, then look the connector up, sanitize the request, inject the
//! tool's credentials, rewrite tool URLs in the response, and route to the tool through the
//! pooled [`Upstream`] client. Steps pass state in request extensions ([`Authorized`],
//! [`Destination`], [`Identity`], …; the table in [`layers`] says which step reads and writes
//! which), never globals; refusals are responses built by [`Refusal`].
//!
//! [`ProxyBuilder`] assembles the standard reverse and forward stacks from a [`StackConfig`]
//! and lets you add layers before authorization, after injection and around the upstream;
//! [`Router`] puts them behind one listener and [`serve`] runs it. [`runtime`] binds the proxy
//! and admin listeners of a complete program and runs them until a shutdown signal; [`tls`]
//! mints the certificates for intercepting `CONNECT`, [`rego`] compiles and runs the classes'
//! policies.
//!
//! # Example
//!
//! A proxy over an in-memory catalog, served on a local port:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use connectors_proxy_core::review::{RbacRules, TokenTable};
//! use connectors_proxy_core::upstream::tls_config;
//! use connectors_proxy_core::{
//!     MemoryCatalog, Metrics, ProxyBuilder, ServerSettings, StackConfig, StaticReviewer,
//!     Upstream, UpstreamSettings, serve,
//! };
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // Empty as written: every request gets 404 until ConnectorEntry values are inserted.
//! let catalog = Arc::new(MemoryCatalog::new());
//! // No RBAC rules: the token authenticates but may use no connector (403) until rules are
//! // given, as RbacRules::new builds them from Role and RoleBinding objects.
//! let tokens = TokenTable::parse("app-token,system:serviceaccount:demo:app,uid-1\n")?;
//! let reviewer = Arc::new(StaticReviewer::new(tokens, RbacRules::default()));
//! let metrics = Arc::new(Metrics::new());
//! let upstream = Upstream::new(tls_config(None)?, UpstreamSettings::default(), metrics.clone());
//! let router = ProxyBuilder::new(StackConfig::new(catalog, reviewer, upstream, metrics)).router();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, router, ServerSettings::default(), std::future::pending()).await;
//! # Ok(())
//! # }
//! ```
//!
//! # A proxy for your own ConnectorClass
//!
//! A class whose tool wants something other than `Authorization` from a Secret needs one step
//! of its own: a function `fn(Request) -> Result<Request, Refusal>` wrapped in a [`StepLayer`]
//! (or a type implementing [`Step`], or [`AsyncStep`] when it must await). It finds the
//! connector in the request's [`Authorized`] extension and its Secret with
//! [`ConnectorEntry::secret`]. Take the standard step out with
//! [`ProxyBuilder::without_injection`] and add yours with [`ProxyBuilder::around_upstream`]
//! (it then sees the exact request sent to the tool), as `examples/hmac_proxy.rs` in the
//! repository does for a tool that wants HMAC-signed requests. A step that only adds to the
//! standard credentials goes in [`ProxyBuilder::after_injection`]. Every layer in [`layers`] is
//! also usable on its own with `tower::ServiceBuilder`.
//! [`ProxyBuilder::router`] is what a listener serves: the reverse stack behind checks of
//! ambiguous framing, plus forward mode and `CONNECT`; [`ProxyBuilder::reverse`] is the reverse
//! stack alone, for a proxy that only answers path- and host-form requests.
//!
//! `examples/` in the repository has complete programs: embedding, a custom layer on the stock
//! stack, and a custom ConnectorClass proxy.

pub mod address;
pub mod admin;
pub mod body;
pub mod builder;
pub mod catalog;
pub mod cli;
pub(crate) mod connect;
pub mod credentials;
pub mod error;
pub(crate) mod forward;
pub mod layers;
pub mod metrics;
pub mod model;
pub mod proxy;
pub mod rego;
pub mod review;
pub mod runtime;
pub mod secret;
pub mod server;
pub mod tls;
pub mod upstream;

/// Re-exported so that [`Reviewer`] and [`Catalog`] can be implemented without a direct
/// dependency on `async-trait`: write `#[connectors_proxy_core::async_trait]` on the impl.
pub use async_trait::async_trait;

pub use address::Address;
pub use body::{Body, Request, Response};
pub use builder::ProxyBuilder;
pub use catalog::{
    Catalog, ClassEntry, ConnectorEntry, Credentials, FileCatalog, KubeCatalog, MemoryCatalog,
    SecretData,
};
pub use error::Refusal;
pub use layers::step::{AsyncStep, Step, StepLayer};
pub use layers::{Authorized, Destination, Mode};
pub use metrics::Metrics;
pub use proxy::{ProxyStack, Router, StackConfig};
pub use review::{
    AccessCheck, Authentication, CachedReviewer, Identity, KubeReviewer, ReviewError, Reviewer,
    StaticReviewer, UserInfo,
};
pub use secret::{ClientToken, SecretString};
pub use server::{ServerSettings, serve};
pub use upstream::{Upstream, UpstreamSettings};
