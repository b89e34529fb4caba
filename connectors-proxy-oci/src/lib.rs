//! An OCI registry proxy built on `connectors-proxy-core`.
//!
//! Clients address a registry connector as `<proxy>/namespaces/<ns>/connectors/<name>/<repo>`
//! (or through a `c-<name>.<ns>` host) and log in with a ServiceAccount token. The proxy checks
//! the token and the client's right to use the connector with core's layers, then runs the
//! registry's token flow itself with the connector's credentials: registry tokens and the
//! connector's login never reach the client. [`stack::oci_builder`] sets core's builder up for
//! it, in reverse mode (`docker login` to the proxy) and forward mode (`https_proxy` with the
//! proxy's interception CA).

pub mod challenge;
pub mod front;
pub mod path;
pub mod realm;
pub mod registry;
pub mod rewrite;
pub mod scope;
pub mod stack;
pub mod token;

pub use connectors_proxy_core as core;
pub use stack::{oci_builder, oci_stack};
