//! Start-up shared by proxy binaries: where connectors and review answers come from, and running
//! the proxy and admin listeners until a shutdown signal.
//!
//! A custom proxy's `main` picks [`Sources`], builds its stack, calls [`bind`] and [`run`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::admin::Admin;
use crate::body::{BoxError, Request, Response};
use crate::catalog::{Catalog, FileCatalog, KubeCatalog, KubeCatalogSettings};
use crate::metrics::Metrics;
use crate::review::{
    CacheSettings, CachedReviewer, KubeReviewer, KubeReviewerSettings, RbacRules, Reviewer,
    StaticReviewer, TokenTable,
};
use crate::server::{ServerSettings, serve};

/// Where a proxy's connectors and review answers come from.
#[derive(Clone)]
pub struct Sources {
    /// The connectors.
    pub catalog: Arc<dyn Catalog>,
    /// The token and access reviews, uncached.
    pub reviewer: Arc<dyn Reviewer>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sources")
    }
}

impl Sources {
    /// Embedded mode: a folder of manifests and a kube-apiserver static token file, both
    /// reloaded when they change. Needs a running Tokio runtime.
    pub fn embedded(manifests: &Path, token_file: &Path) -> Result<Self, BoxError> {
        let catalog = Arc::new(FileCatalog::load(manifests)?);
        catalog.spawn_watcher()?;
        let reviewer = Arc::new(StaticReviewer::new(
            TokenTable::load(token_file)?,
            rbac_rules(&catalog),
        ));
        spawn_reviewer_reload(catalog.clone(), reviewer.clone(), token_file.to_owned());
        Ok(Self { catalog, reviewer })
    }

    /// Kubernetes mode: watched custom resources, and TokenReview and SubjectAccessReview
    /// through `client`.
    pub fn kubernetes(
        client: kube::Client,
        catalog: KubeCatalogSettings,
        reviewer: KubeReviewerSettings,
    ) -> Self {
        Self {
            catalog: Arc::new(KubeCatalog::start(client.clone(), catalog)),
            reviewer: Arc::new(KubeReviewer::new(client, reviewer)),
        }
    }

    /// The reviewer behind the standard cache (hashed keys, split TTLs, single flight).
    pub fn cached_reviewer(&self, metrics: Arc<Metrics>) -> Arc<dyn Reviewer> {
        Arc::new(CachedReviewer::new(
            self.reviewer.clone(),
            CacheSettings::default(),
            metrics,
        ))
    }
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

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The proxy and admin listeners, bound.
#[derive(Debug)]
pub struct Listeners {
    proxy: TcpListener,
    admin: TcpListener,
}

/// Binds both listeners and logs `proxy listening on ADDR` and `admin listening on ADDR`.
pub async fn bind(proxy: SocketAddr, admin: SocketAddr) -> std::io::Result<Listeners> {
    let proxy = TcpListener::bind(proxy).await?;
    info!("proxy listening on {}", proxy.local_addr()?);
    let admin = TcpListener::bind(admin).await?;
    info!("admin listening on {}", admin.local_addr()?);
    Ok(Listeners { proxy, admin })
}

/// Serves `service` and `admin` until SIGTERM or SIGINT, then lets in-flight requests finish.
pub async fn run<S>(listeners: Listeners, service: S, admin: Admin, settings: ServerSettings)
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let proxy = serve(
        listeners.proxy,
        service,
        settings.clone(),
        stopped(stop_rx.clone()),
    );
    let admin = serve(listeners.admin, admin, settings, stopped(stop_rx));
    let signal = async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    };
    tokio::join!(proxy, admin, signal);
    info!("stopped");
}

/// Runs a proxy binary: logs to stderr (text, or JSON with `json_logs`; level from `RUST_LOG`,
/// `info` by default), runs `body` on a multi-threaded runtime and turns its result into the
/// process exit code.
pub fn main<F>(name: &str, json_logs: bool, body: F) -> std::process::ExitCode
where
    F: std::future::Future<Output = Result<(), BoxError>>,
{
    use std::process::ExitCode;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json_logs {
        builder.json().init();
    } else {
        builder.init();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(body) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "{name} stopped");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
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
