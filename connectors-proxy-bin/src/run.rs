//! Building the proxy from flags and running it until a shutdown signal.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use connectors_proxy_core::admin::Admin;
use connectors_proxy_core::catalog::FileCatalog;
use connectors_proxy_core::layers::forward::NonTargets;
use connectors_proxy_core::metrics::Metrics;
use connectors_proxy_core::proxy::{Router, StackConfig};
use connectors_proxy_core::review::{
    CacheSettings, CachedReviewer, RbacRules, StaticReviewer, TokenTable,
};
use connectors_proxy_core::server::{ServerSettings, serve};
use connectors_proxy_core::tls::{CertificateAuthority, LeafCache};
use connectors_proxy_core::upstream::{self, Upstream, UpstreamSettings};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::cli::{Args, NonTargetPolicy};

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
    let (catalog, reviewer) = match args.manifests.as_deref() {
        Some(manifests) => embedded(manifests, args.token_file.clone())?,
        None => crate::kube_mode::start(&args.kube).await?,
    };
    let cached = Arc::new(CachedReviewer::new(
        reviewer,
        CacheSettings::default(),
        metrics.clone(),
    ));

    let tls = upstream::tls_config(args.upstream_ca_file.as_deref())?;
    let upstream_settings = UpstreamSettings {
        response_timeout: Duration::from_secs(args.upstream_timeout),
        ..UpstreamSettings::default()
    };
    let upstream = Upstream::new(tls, upstream_settings, metrics.clone());
    let router = Router::new(&StackConfig {
        catalog: catalog.clone(),
        reviewer: cached,
        metrics: metrics.clone(),
        upstream,
        cluster_domain: args.cluster_domain.clone(),
        require_proxy_permission: args.require_proxy_permission,
        max_body_bytes: args.max_body_bytes,
        non_targets: match args.forward_non_targets {
            NonTargetPolicy::Allow => NonTargets::Allow,
            NonTargetPolicy::Deny => NonTargets::Deny,
        },
        leaves: Some(Arc::new(LeafCache::new(ca))),
        server: ServerSettings::default(),
        rego_body_limit: args.rego_body_limit,
    });

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
    let proxy = serve(
        listener,
        router,
        ServerSettings::default(),
        stopped(stop_rx.clone()),
    );
    let admin = serve(
        admin_listener,
        admin,
        ServerSettings::default(),
        stopped(stop_rx),
    );
    let signal = async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    tokio::join!(proxy, admin, signal);
    info!("stopped");
    Ok(())
}

/// Embedded mode: the manifest folder and the static token file, both reloaded on change.
fn embedded(
    manifests: &Path,
    token_file: Option<std::path::PathBuf>,
) -> Result<crate::kube_mode::Sources, BoxError> {
    let Some(token_file) = token_file else {
        return Err(
            "embedded mode needs --token-file FILE (kube-apiserver static token format)".into(),
        );
    };
    let catalog = Arc::new(FileCatalog::load(manifests)?);
    catalog.spawn_watcher()?;
    let reviewer = Arc::new(StaticReviewer::new(
        TokenTable::load(&token_file)?,
        rbac_rules(&catalog),
    ));
    spawn_reviewer_reload(catalog.clone(), reviewer.clone(), token_file);
    Ok((catalog, reviewer))
}

/// Rebuilds the RBAC rules when the manifests change and the token table when its file does.
fn spawn_reviewer_reload(
    catalog: Arc<FileCatalog>,
    reviewer: Arc<StaticReviewer>,
    token_file: std::path::PathBuf,
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
                Ok(table) => {
                    info!(file = %token_file.display(), "token file reloaded");
                    reviewer.set_tokens(table);
                }
                Err(err) => {
                    warn!(error = %err, "token file not reloaded; keeping the previous tokens")
                }
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
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    info!("shutdown signal received");
}
