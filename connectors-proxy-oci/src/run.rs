//! Building the registry proxy from flags and running it until a shutdown signal.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use connectors_proxy_core::admin::Admin;
use connectors_proxy_core::metrics::Metrics;
use connectors_proxy_core::proxy::StackConfig;
use connectors_proxy_core::runtime::{self, Sources};
use connectors_proxy_core::server::ServerSettings;
use connectors_proxy_core::tls::{CertificateAuthority, LeafCache};
use connectors_proxy_core::upstream::{self, Upstream, UpstreamSettings};
use connectors_proxy_oci::oci_builder;

use crate::cli::Args;

type BoxError = Box<dyn Error + Send + Sync>;

pub(crate) async fn run(args: Args) -> Result<(), BoxError> {
    let ca = Arc::new(match (&args.ca_cert, &args.ca_key) {
        (Some(cert), Some(key)) => CertificateAuthority::load(cert, key)?,
        _ => CertificateAuthority::load_or_generate(&args.state_dir)?,
    });
    if args.print_ca_cert {
        print!("{}", ca.cert_pem());
        return Ok(());
    }
    let metrics = Arc::new(Metrics::new());
    let (Some(manifests), Some(token_file)) =
        (args.manifests.as_deref(), args.token_file.as_deref())
    else {
        return Err(
            "this version serves from manifests only: pass --manifests DIR and --token-file FILE"
                .into(),
        );
    };
    let sources = Sources::embedded(manifests, token_file)?;

    let tls = upstream::tls_config(args.upstream_ca_file.as_deref())?;
    let settings = UpstreamSettings {
        response_timeout: Duration::from_secs(args.upstream_timeout),
        ..UpstreamSettings::default()
    };
    let upstream = Upstream::new(tls, settings, metrics.clone());
    let mut config = StackConfig::new(
        sources.catalog.clone(),
        sources.cached_reviewer(metrics.clone()),
        upstream,
        metrics.clone(),
    );
    config.cluster_domain = args.cluster_domain.clone();
    config.require_proxy_permission = args.require_proxy_permission;
    config.leaves = Some(Arc::new(LeafCache::new(ca)));
    let router = oci_builder(&config).router();

    let listeners = runtime::bind(args.listen, args.admin_listen).await?;
    let catalog = sources.catalog;
    let admin = Admin::new(metrics, move || catalog.is_ready());
    runtime::run(listeners, router, admin, ServerSettings::default()).await;
    Ok(())
}
