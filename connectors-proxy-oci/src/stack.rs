//! The OCI stacks: core's builder with the registry's addressing, rewriting and login.

use connectors_proxy_core::builder::ProxyBuilder;
use connectors_proxy_core::layers::authorize::AuthorizeLayer;
use connectors_proxy_core::proxy::{ProxyStack, StackConfig};

use crate::front::FrontLayer;
use crate::path::parse_registry_path;
use crate::registry::RegistryAuthLayer;
use crate::rewrite::rewrite_for;

/// Core's builder set up for registries: the `/v2/` front before resolution, registry paths
/// (`/v2/namespaces/<ns>/connectors/<name>/<repo>/…`), registry URL rewriting, and the registry
/// login around the upstream in place of core's credential injection.
///
/// The reverse stack serves `docker login` clients; the forward stack serves clients that use
/// the proxy as `https_proxy` and authenticated on `CONNECT`, so it has no `/v2/` challenge.
/// Both share one registry login state (learnt challenges and cached tokens).
pub fn oci_builder(config: &StackConfig) -> ProxyBuilder {
    let authorize = AuthorizeLayer::new(config.reviewer.clone(), config.require_proxy_permission);
    ProxyBuilder::new(config.clone())
        .before_resolve(FrontLayer::new(authorize))
        .path_parser(parse_registry_path)
        .rewriter(rewrite_for)
        .without_injection()
        .around_upstream(RegistryAuthLayer::default())
}

/// The reverse-mode registry proxy: observe, the `/v2/` front, resolve (registry paths),
/// extract, authorize, sanitize, rewrite, route, registry login, upstream.
pub fn oci_stack(config: &StackConfig) -> ProxyStack {
    oci_builder(config).reverse()
}
