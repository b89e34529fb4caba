//! The OCI stack: core's resolve, extract, authorize and sanitize around the registry steps.

use connectors_proxy_core::layers::Mode;
use connectors_proxy_core::layers::authorize::AuthorizeLayer;
use connectors_proxy_core::layers::extract::ExtractLayer;
use connectors_proxy_core::layers::limit::BodyLimitLayer;
use connectors_proxy_core::layers::observe::ObserveLayer;
use connectors_proxy_core::layers::resolve::ResolveLayer;
use connectors_proxy_core::layers::route::RouteLayer;
use connectors_proxy_core::layers::sanitize::SanitizeLayer;
use connectors_proxy_core::proxy::{ProxyStack, StackConfig};
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use crate::front::FrontLayer;
use crate::path::parse_registry_path;
use crate::registry::RegistryAuthLayer;
use crate::rewrite::registry_rewrite_layer;

/// Composes the registry proxy: observe, the `/v2/` front, resolve (registry paths), extract,
/// authorize, sanitize, rewrite, route, registry login, upstream.
pub fn oci_stack(config: &StackConfig) -> ProxyStack {
    let authorize = AuthorizeLayer::new(config.reviewer.clone(), config.require_proxy_permission);
    let service = ServiceBuilder::new()
        .layer(ObserveLayer::new(config.metrics.clone(), Mode::Reverse))
        .layer(FrontLayer::new(authorize.clone()))
        .option_layer(config.max_body_bytes.map(BodyLimitLayer::new))
        .layer(
            ResolveLayer::new(config.catalog.clone(), &config.cluster_domain)
                .with_path_parser(parse_registry_path),
        )
        .layer(ExtractLayer)
        .layer(authorize)
        .layer(SanitizeLayer)
        .layer(registry_rewrite_layer())
        .layer(RouteLayer)
        .layer(RegistryAuthLayer::default())
        .service(config.upstream.clone());
    BoxCloneSyncService::new(service)
}
