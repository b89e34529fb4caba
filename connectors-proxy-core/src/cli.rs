//! Command-line flags shared by proxy binaries, and the start-up they drive.
//!
//! A binary flattens [`ProxyFlags`] into its own `clap` parser next to its listen addresses,
//! parses with [`parse`] (every long flag also reads `<PREFIX>_<FLAG>` from the environment,
//! e.g. `CONNECTORS_PROXY_UPSTREAM_CA_FILE`) and hands the flags to [`serve`] with a function
//! that builds its front service from the resulting [`StackConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tracing::info;

use crate::admin::Admin;
use crate::body::BoxError;
use crate::catalog::KubeCatalogSettings;
use crate::layers::forward::NonTargets;
use crate::metrics::Metrics;
use crate::proxy::{Router, StackConfig};
use crate::review::KubeReviewerSettings;
use crate::runtime::{self, Sources};
use crate::server::ServerSettings;
use crate::tls::{CertificateAuthority, LeafCache};
use crate::upstream::{self, Upstream, UpstreamSettings};

/// Where connectors come from, how clients are checked, how tools are reached, and the
/// interception CA: the flags every proxy binary takes.
#[derive(Debug, Clone, Args)]
pub struct ProxyFlags {
    /// Folder of Kubernetes manifests to serve from (embedded mode).
    #[arg(long)]
    pub manifests: Option<PathBuf>,

    /// kube-apiserver static token file (`token,user,uid,"groups"`) for embedded mode.
    #[arg(long, requires = "manifests")]
    pub token_file: Option<PathBuf>,

    /// PEM file of extra CA certificates trusted for tool connections.
    #[arg(long)]
    pub upstream_ca_file: Option<PathBuf>,

    /// Also require the `connectors/proxy` subresource permission.
    #[arg(long)]
    pub require_proxy_permission: bool,

    /// Cluster domain accepted in host-form addresses (`c-<name>.<ns>.svc.<domain>`).
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,

    /// Seconds to wait for a tool's response headers before answering 504.
    #[arg(long, default_value_t = 60)]
    pub upstream_timeout: u64,

    /// Largest request body accepted, in bytes (413 above it); unlimited when unset.
    #[arg(long)]
    pub max_body_bytes: Option<u64>,

    /// PEM certificate of the CA that signs intercepted TLS (with --ca-key).
    #[arg(long, requires = "ca_key")]
    pub ca_cert: Option<PathBuf>,

    /// PEM (PKCS#8) private key of the CA given with --ca-cert.
    #[arg(long, requires = "ca_cert")]
    pub ca_key: Option<PathBuf>,

    /// Folder where a CA is generated once and reused when --ca-cert is not given.
    #[arg(long, default_value = "state")]
    pub state_dir: PathBuf,

    /// What forward requests to hosts that are no listed connector's address get.
    #[arg(long, value_enum, default_value_t = NonTargetPolicy::Allow)]
    pub forward_non_targets: NonTargetPolicy,

    /// Print the CA certificate that clients must trust for intercepted TLS, then exit.
    #[arg(long)]
    pub print_ca_cert: bool,

    /// Largest JSON request body, in bytes, that Rego policies read or generators write into.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub rego_body_limit: u64,

    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Kubernetes-mode flags.
    #[command(flatten)]
    pub kube: KubeFlags,
}

/// Flags that apply when the proxy runs against a cluster (no `--manifests`).
#[derive(Debug, Clone, Args)]
pub struct KubeFlags {
    /// Watch Connectors in this namespace only (default: every namespace).
    #[arg(long)]
    pub namespace: Option<String>,

    /// Audience a client token must be valid for (repeatable; TokenReview `spec.audiences`).
    #[arg(long = "token-audience", value_delimiter = ',')]
    pub token_audiences: Vec<String>,

    /// Sustained rate of TokenReview and SubjectAccessReview calls per second.
    #[arg(long, default_value_t = 50.0)]
    pub kube_api_qps: f64,

    /// Review calls allowed in a burst above the sustained rate.
    #[arg(long, default_value_t = 100)]
    pub kube_api_burst: u32,

    /// Seconds after which a cached Secret is read again.
    #[arg(
        long,
        default_value_t = 20,
        value_parser = clap::value_parser!(u64).range(1..=30),
        hide = true
    )]
    pub secret_refresh_seconds: u64,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What forward requests to non-target hosts get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NonTargetPolicy {
    /// Forward them (tunnel `CONNECT` blind) without credentials.
    Allow,
    /// Refuse them with 403.
    Deny,
}

/// Parses the process arguments into `P`; every long flag also reads the environment variable
/// `<env_prefix>_<FLAG>` (upper case, `-` as `_`). Exits with clap's message on bad input.
pub fn parse<P: clap::Parser>(env_prefix: &str) -> P {
    let mut command = with_env_prefix(P::command(), env_prefix);
    let mut matches = command.get_matches_mut();
    P::from_arg_matches_mut(&mut matches).unwrap_or_else(|err| err.format(&mut command).exit())
}

/// `command` with an environment variable `<prefix>_<FLAG>` behind each of its long flags.
pub fn with_env_prefix(command: clap::Command, prefix: &str) -> clap::Command {
    command.mut_args(|arg| match arg.get_long() {
        Some(long) => {
            let name = format!("{prefix}_{}", long.replace('-', "_").to_ascii_uppercase());
            arg.env(name)
        }
        None => arg,
    })
}

impl ProxyFlags {
    /// Whether logs are JSON lines.
    pub fn json_logs(&self) -> bool {
        self.log_format == LogFormat::Json
    }

    /// The interception CA: the given pair, or the one kept in the state folder (generated on
    /// first use).
    pub fn certificate_authority(&self) -> Result<CertificateAuthority, BoxError> {
        Ok(match (&self.ca_cert, &self.ca_key) {
            (Some(cert), Some(key)) => CertificateAuthority::load(cert, key)?,
            _ => CertificateAuthority::load_or_generate(&self.state_dir)?,
        })
    }

    /// Embedded mode with `--manifests`, otherwise Kubernetes mode (in-cluster config or
    /// `KUBECONFIG`).
    pub async fn sources(&self) -> Result<Sources, BoxError> {
        match (self.manifests.as_deref(), self.token_file.as_deref()) {
            (Some(manifests), Some(token_file)) => Sources::embedded(manifests, token_file),
            (Some(_), None) => Err(
                "embedded mode needs --token-file FILE (kube-apiserver static token format)".into(),
            ),
            (None, _) => Ok(self.kube.start().await?),
        }
    }

    /// The stack configuration these flags describe, over `sources` and intercepting with `ca`.
    pub fn stack_config(
        &self,
        sources: &Sources,
        ca: CertificateAuthority,
        metrics: Arc<Metrics>,
    ) -> Result<StackConfig, BoxError> {
        let tls = upstream::tls_config(self.upstream_ca_file.as_deref())?;
        let settings = UpstreamSettings {
            response_timeout: Duration::from_secs(self.upstream_timeout),
            ..UpstreamSettings::default()
        };
        let upstream = Upstream::new(tls, settings, metrics.clone());
        let reviewer = sources.cached_reviewer(metrics.clone());
        let mut config = StackConfig::new(sources.catalog.clone(), reviewer, upstream, metrics);
        config.cluster_domain = self.cluster_domain.clone();
        config.require_proxy_permission = self.require_proxy_permission;
        config.max_body_bytes = self.max_body_bytes;
        config.non_targets = match self.forward_non_targets {
            NonTargetPolicy::Allow => NonTargets::Allow,
            NonTargetPolicy::Deny => NonTargets::Deny,
        };
        config.leaves = Some(Arc::new(LeafCache::new(Arc::new(ca))));
        config.rego_body_limit = self.rego_body_limit;
        Ok(config)
    }
}

impl KubeFlags {
    /// Connects with in-cluster config or `KUBECONFIG` and starts the catalog and reviewer.
    pub async fn start(&self) -> Result<Sources, kube::Error> {
        let client = kube::Client::try_default().await?;
        info!(
            namespace = self.namespace.as_deref().unwrap_or("(all)"),
            audiences = ?self.token_audiences,
            "Kubernetes mode"
        );
        Ok(Sources::kubernetes(
            client,
            KubeCatalogSettings {
                namespace: self.namespace.clone(),
                secret_refresh: Duration::from_secs(self.secret_refresh_seconds),
            },
            KubeReviewerSettings {
                audiences: self.token_audiences.clone(),
                qps: self.kube_api_qps,
                burst: self.kube_api_burst,
            },
        ))
    }
}

/// Runs a proxy binary's serving path: prints the CA and returns when `--print-ca-cert` is
/// given; otherwise builds the configuration from `flags`, the front service with `front`, and
/// serves it on `listen` (admin endpoints on `admin_listen`) until SIGTERM or SIGINT.
pub async fn serve<F>(
    listen: SocketAddr,
    admin_listen: SocketAddr,
    flags: &ProxyFlags,
    front: F,
) -> Result<(), BoxError>
where
    F: FnOnce(StackConfig) -> Router,
{
    let ca = flags.certificate_authority()?;
    if flags.print_ca_cert {
        print!("{}", ca.cert_pem());
        return Ok(());
    }
    let metrics = Arc::new(Metrics::new());
    let sources = flags.sources().await?;
    let router = front(flags.stack_config(&sources, ca, metrics.clone())?);
    let listeners = runtime::bind(listen, admin_listen).await?;
    let catalog = sources.catalog;
    let admin = Admin::new(metrics, move || catalog.is_ready());
    runtime::run(listeners, router, admin, ServerSettings::default()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct TestArgs {
        #[arg(long, default_value = "127.0.0.1:1")]
        listen: SocketAddr,
        #[command(flatten)]
        proxy: ProxyFlags,
    }

    #[test]
    fn every_long_flag_reads_a_prefixed_variable() {
        let command = with_env_prefix(TestArgs::command(), "EXAMPLE_PROXY");
        let env = |long: &str| {
            command
                .get_arguments()
                .find(|arg| arg.get_long() == Some(long))
                .and_then(|arg| arg.get_env())
                .map(|name| name.to_string_lossy().into_owned())
        };
        assert_eq!(env("listen").as_deref(), Some("EXAMPLE_PROXY_LISTEN"));
        assert_eq!(
            env("upstream-ca-file").as_deref(),
            Some("EXAMPLE_PROXY_UPSTREAM_CA_FILE")
        );
        assert_eq!(
            env("token-audience").as_deref(),
            Some("EXAMPLE_PROXY_TOKEN_AUDIENCE")
        );
        let unnamed = command
            .get_arguments()
            .filter(|arg| arg.get_long().is_some() && arg.get_env().is_none())
            .count();
        assert_eq!(unnamed, 0);
    }

    #[test]
    fn flags_parse_with_their_defaults() {
        let args = TestArgs::try_parse_from(["proxy", "--forward-non-targets", "deny"]).unwrap();
        assert_eq!(args.proxy.cluster_domain, "cluster.local");
        assert_eq!(args.proxy.upstream_timeout, 60);
        assert_eq!(args.proxy.forward_non_targets, NonTargetPolicy::Deny);
        assert!(!args.proxy.json_logs());
        assert!(TestArgs::try_parse_from(["proxy", "--token-file", "t.csv"]).is_err());
    }
}
