//! Building the registry proxy from flags and running it until a shutdown signal.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use connectors_proxy_core::admin::Admin;
use connectors_proxy_core::catalog::{Catalog, FileCatalog};
use connectors_proxy_core::metrics::Metrics;
use connectors_proxy_core::proxy::{Router, StackConfig};
use connectors_proxy_core::review::{
    CacheSettings, CachedReviewer, RbacRules, StaticReviewer, TokenTable,
};
use connectors_proxy_core::server::{ServerSettings, serve};
use connectors_proxy_core::upstream::{self, Upstream, UpstreamSettings};
use connectors_proxy_oci::oci_stack;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::cli::Args;

type BoxError = Box<dyn Error + Send + Sync>;

pub(crate) async fn run(args: Args) -> Result<(), BoxError> {
    let metrics = Arc::new(Metrics::new());
    let (Some(manifests), Some(token_file)) = (args.manifests.as_deref(), args.token_file.clone())
    else {
        return Err("Kubernetes mode is not built into this version: pass --manifests DIR and --token-file FILE".into());
    };
    let catalog = Arc::new(FileCatalog::load(manifests)?);
    catalog.spawn_watcher()?;
    let reviewer = Arc::new(StaticReviewer::new(
        TokenTable::load(&token_file)?,
        rbac_rules(&catalog),
    ));
    spawn_reviewer_reload(catalog.clone(), reviewer.clone(), token_file);
    let cached = Arc::new(CachedReviewer::new(
        reviewer,
        CacheSettings::default(),
        metrics.clone(),
    ));

    let tls = upstream::tls_config(args.upstream_ca_file.as_deref())?;
    let settings = UpstreamSettings {
        response_timeout: Duration::from_secs(args.upstream_timeout),
        ..UpstreamSettings::default()
    };
    let upstream = Upstream::new(tls, settings, metrics.clone());
    let mut config = StackConfig::new(catalog.clone(), cached, upstream, metrics.clone());
    config.cluster_domain = args.cluster_domain.clone();
    config.require_proxy_permission = args.require_proxy_permission;
    let stack = oci_stack(&config);
    let router = Router::with_reverse(stack);

    let listener = TcpListener::bind(args.listen).await?;
    info!("proxy listening on {}", listener.local_addr()?);
    let admin_listener = TcpListener::bind(args.admin_listen).await?;
    info!("admin listening on {}", admin_listener.local_addr()?);
    let ready_catalog = catalog.clone();
    let admin = Admin::new(metrics, move || ready_catalog.is_ready());

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let settings = ServerSettings::default();
    let proxy = serve(listener, router, settings.clone(), stopped(stop_rx.clone()));
    let admin = serve(admin_listener, admin, settings, stopped(stop_rx));
    let signal = async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    tokio::join!(proxy, admin, signal);
    info!("stopped");
    Ok(())
}

/// Rebuilds the RBAC rules when the manifests change and the token table when its file does.
fn spawn_reviewer_reload(
    catalog: Arc<FileCatalog>,
    reviewer: Arc<StaticReviewer>,
    token_file: PathBuf,
) {
    let mut changes = catalog.subscribe();
    let rules_reviewer = reviewer.clone();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            rules_reviewer.set_rules(rbac_rules(&catalog));
        }
    });
    tokio::spawn(async move {
        let mut last = modified(&token_file);
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = modified(&token_file);
            if now == last {
                continue;
            }
            last = now;
            match TokenTable::load(&token_file) {
                Ok(table) => reviewer.set_tokens(table),
                Err(err) => warn!(error = %err, "token file not reloaded"),
            }
        }
    });
}

fn rbac_rules(catalog: &FileCatalog) -> RbacRules {
    let rbac = catalog.rbac();
    RbacRules::new(
        &rbac.roles,
        &rbac.cluster_roles,
        &rbac.role_bindings,
        &rbac.cluster_role_bindings,
    )
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    info!("shutdown signal received");
}
