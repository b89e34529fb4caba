//! Command-line flags; every flag also reads `CONNECTORS_PROXY_<FLAG>`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Credential-injecting proxy for Kubernetes Connectors.
#[derive(Debug, Parser)]
#[command(name = "connectors-proxy", version, about)]
pub(crate) struct Args {
    /// Address the proxy listens on.
    #[arg(long, env = "CONNECTORS_PROXY_LISTEN", default_value = "0.0.0.0:8080")]
    pub(crate) listen: SocketAddr,

    /// Address of the admin listener (/healthz, /readyz, /metrics).
    #[arg(
        long,
        env = "CONNECTORS_PROXY_ADMIN_LISTEN",
        default_value = "127.0.0.1:9090"
    )]
    pub(crate) admin_listen: SocketAddr,

    /// Folder of Kubernetes manifests to serve from (embedded mode).
    #[arg(long, env = "CONNECTORS_PROXY_MANIFESTS")]
    pub(crate) manifests: Option<PathBuf>,

    /// kube-apiserver static token file (`token,user,uid,"groups"`) for embedded mode.
    #[arg(long, env = "CONNECTORS_PROXY_TOKEN_FILE", requires = "manifests")]
    pub(crate) token_file: Option<PathBuf>,

    /// PEM file of extra CA certificates trusted for tool connections.
    #[arg(long, env = "CONNECTORS_PROXY_UPSTREAM_CA_FILE")]
    pub(crate) upstream_ca_file: Option<PathBuf>,

    /// Also require the `connectors/proxy` subresource permission.
    #[arg(long, env = "CONNECTORS_PROXY_REQUIRE_PROXY_PERMISSION")]
    pub(crate) require_proxy_permission: bool,

    /// Cluster domain accepted in host-form addresses (`c-<name>.<ns>.svc.<domain>`).
    #[arg(
        long,
        env = "CONNECTORS_PROXY_CLUSTER_DOMAIN",
        default_value = "cluster.local"
    )]
    pub(crate) cluster_domain: String,

    /// Seconds to wait for a tool's response headers before answering 504.
    #[arg(long, env = "CONNECTORS_PROXY_UPSTREAM_TIMEOUT", default_value_t = 60)]
    pub(crate) upstream_timeout: u64,

    /// Largest request body accepted, in bytes (413 above it); unlimited when unset.
    #[arg(long, env = "CONNECTORS_PROXY_MAX_BODY_BYTES")]
    pub(crate) max_body_bytes: Option<u64>,

    /// Kubernetes-mode flags.
    #[command(flatten)]
    pub(crate) kube: crate::kube_mode::KubeArgs,

    /// Log format.
    #[arg(long, env = "CONNECTORS_PROXY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}
