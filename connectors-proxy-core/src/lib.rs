//! Building blocks for credential-injecting Connectors proxies.
//!
//! A client holds only a short-lived Kubernetes ServiceAccount token. The proxy checks that
//! token and the client's right to use a *Connector*, removes the client's credentials, adds the
//! tool's real credentials and forwards the request.
//!
//! The pieces: a [`catalog::Catalog`] says what connectors exist; a [`review::Reviewer`] checks
//! tokens and access; the [`layers`] are the steps of a request, each a Tower layer; the
//! [`upstream::Upstream`] client sends requests to tools; [`proxy`] composes the standard
//! stack and [`server`] runs it. [`forward`] and [`tls`] hold the forward-proxy pieces.

pub mod address;
pub mod admin;
pub mod body;
pub mod builder;
pub mod catalog;
pub mod connect;
pub mod credentials;
pub mod error;
pub mod forward;
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
