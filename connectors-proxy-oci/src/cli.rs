//! Command-line flags; every flag also reads `CONNECTORS_OCI_PROXY_<FLAG>`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// Registry proxy for Kubernetes Connectors: runs the registry login for its clients, who use
/// it as a registry (`docker login`) or as `https_proxy` with its CA.
#[derive(Debug, Parser)]
#[command(name = "connectors-oci-proxy", version, about)]
pub(crate) struct Args {
    /// Address the proxy listens on.
    #[arg(
        long,
        env = "CONNECTORS_OCI_PROXY_LISTEN",
        default_value = "0.0.0.0:8081"
    )]
    pub(crate) listen: SocketAddr,

    /// Address of the admin listener (/healthz, /readyz, /metrics).
    #[arg(
        long,
        env = "CONNECTORS_OCI_PROXY_ADMIN_LISTEN",
        default_value = "127.0.0.1:9091"
    )]
    pub(crate) admin_listen: SocketAddr,

    /// Folder of Kubernetes manifests to serve from (embedded mode).
    #[arg(long, env = "CONNECTORS_OCI_PROXY_MANIFESTS")]
    pub(crate) manifests: Option<PathBuf>,

    /// kube-apiserver static token file (`token,user,uid,"groups"`) for embedded mode.
    #[arg(long, env = "CONNECTORS_OCI_PROXY_TOKEN_FILE", requires = "manifests")]
    pub(crate) token_file: Option<PathBuf>,

    /// PEM file of extra CA certificates trusted for registry connections.
    #[arg(long, env = "CONNECTORS_OCI_PROXY_UPSTREAM_CA_FILE")]
    pub(crate) upstream_ca_file: Option<PathBuf>,

    /// Also require the `connectors/proxy` subresource permission.
    #[arg(long, env = "CONNECTORS_OCI_PROXY_REQUIRE_PROXY_PERMISSION")]
    pub(crate) require_proxy_permission: bool,

    /// Cluster domain accepted in host-form addresses (`c-<name>.<ns>.svc.<domain>`).
    #[arg(
        long,
        env = "CONNECTORS_OCI_PROXY_CLUSTER_DOMAIN",
        default_value = "cluster.local"
    )]
    pub(crate) cluster_domain: String,

    /// Seconds to wait for a registry's response headers before answering 504.
    #[arg(
        long,
        env = "CONNECTORS_OCI_PROXY_UPSTREAM_TIMEOUT",
        default_value_t = 60
    )]
    pub(crate) upstream_timeout: u64,

    /// PEM certificate of the CA that signs intercepted TLS (with --ca-key).
    #[arg(long, env = "CONNECTORS_OCI_PROXY_CA_CERT", requires = "ca_key")]
    pub(crate) ca_cert: Option<PathBuf>,

    /// PEM (PKCS#8) private key of the CA given with --ca-cert.
    #[arg(long, env = "CONNECTORS_OCI_PROXY_CA_KEY", requires = "ca_cert")]
    pub(crate) ca_key: Option<PathBuf>,

    /// Folder where a CA is generated once and reused when --ca-cert is not given.
    #[arg(long, env = "CONNECTORS_OCI_PROXY_STATE_DIR", default_value = "state")]
    pub(crate) state_dir: PathBuf,

    /// Print the CA certificate that forward-mode clients must trust, then exit.
    #[arg(long)]
    pub(crate) print_ca_cert: bool,

    /// Log format.
    #[arg(long, env = "CONNECTORS_OCI_PROXY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
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
