//! Building blocks for credential-injecting Connectors proxies.
//!
//! A client holds only a short-lived Kubernetes ServiceAccount token. The proxy checks that
//! token and the client's right to use a *Connector*, removes the client's credentials, adds the
//! tool's real credentials and forwards the request.

pub mod address;
pub mod body;
pub mod catalog;
pub mod error;
pub mod metrics;
pub mod model;
pub mod rego;
pub mod review;
pub mod secret;
