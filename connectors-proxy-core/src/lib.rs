//! Building blocks for credential-injecting Connectors proxies.
//!
//! A client holds only a short-lived Kubernetes ServiceAccount token. The proxy checks that
//! token and the client's right to use a *Connector*, removes the client's credentials, adds the
//! tool's real credentials and forwards the request.
//!
//! # How a request flows
//!
//! A [`catalog::Catalog`] says what connectors exist (a folder of manifests, the Kubernetes API,
//! or memory); a [`review::Reviewer`] answers TokenReview and SubjectAccessReview (a static token
//! file with RBAC manifests, or the API), behind [`review::CachedReviewer`]. Each step of a
//! request is a Tower layer in [`layers`]: resolve the connector from the path or host, extract
//! the client token (a class's Rego policy first, then Basic or Bearer), authenticate and
//! authorize it, then look the connector up, sanitize the request, inject the tool's
//! credentials, rewrite tool URLs in the response, and route to the tool through the pooled
//! [`upstream::Upstream`] client. Steps pass state in request extensions, never globals;
//! refusals are responses built by [`error::Refusal`].
//!
//! [`builder::ProxyBuilder`] assembles the standard reverse and forward stacks and lets you add
//! layers before authorization, after injection and around the upstream; [`runtime`] binds the
//! proxy and admin listeners and runs them until a shutdown signal. [`forward`], [`connect`] and
//! [`tls`] hold the forward-proxy pieces, [`rego`] the class policies.
//!
//! # Example
//!
//! A proxy over an in-memory catalog, served on a local port:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use connectors_proxy_core::builder::ProxyBuilder;
//! use connectors_proxy_core::catalog::MemoryCatalog;
//! use connectors_proxy_core::metrics::Metrics;
//! use connectors_proxy_core::proxy::StackConfig;
//! use connectors_proxy_core::review::{RbacRules, StaticReviewer, TokenTable};
//! use connectors_proxy_core::server::{ServerSettings, serve};
//! use connectors_proxy_core::upstream::{Upstream, UpstreamSettings, tls_config};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let catalog = Arc::new(MemoryCatalog::new()); // insert ConnectorEntry values as needed
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
//! `examples/` in the repository has complete programs: embedding, a custom layer on the stock
//! stack, and a custom ConnectorClass proxy.

pub mod address;
pub mod admin;
pub mod body;
pub mod builder;
pub mod catalog;
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
