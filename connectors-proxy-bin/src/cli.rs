//! Command-line flags; every flag also reads `CONNECTORS_PROXY_<FLAG>`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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

    /// PEM certificate of the CA that signs intercepted TLS (with --ca-key).
    #[arg(long, env = "CONNECTORS_PROXY_CA_CERT", requires = "ca_key")]
    pub(crate) ca_cert: Option<PathBuf>,

    /// PEM (PKCS#8) private key of the CA given with --ca-cert.
    #[arg(long, env = "CONNECTORS_PROXY_CA_KEY", requires = "ca_cert")]
    pub(crate) ca_key: Option<PathBuf>,

    /// Folder where a CA is generated once and reused when --ca-cert is not given.
    #[arg(long, env = "CONNECTORS_PROXY_STATE_DIR", default_value = "state")]
    pub(crate) state_dir: PathBuf,

    /// What forward requests to hosts that are no listed connector's address get.
    #[arg(long, env = "CONNECTORS_PROXY_FORWARD_NON_TARGETS", value_enum, default_value_t = NonTargetPolicy::Allow)]
    pub(crate) forward_non_targets: NonTargetPolicy,

    /// Print the CA certificate that clients must trust for intercepted TLS, then exit.
    #[arg(long)]
    pub(crate) print_ca_cert: bool,

    /// Kubernetes-mode flags.
    #[command(flatten)]
    pub(crate) kube: crate::kube_mode::KubeArgs,

    /// Log format.
    #[arg(long, env = "CONNECTORS_PROXY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,

    /// Largest JSON request body, in bytes, that Rego policies read or generators write into.
    #[arg(
        long,
        env = "CONNECTORS_PROXY_REGO_BODY_LIMIT",
        default_value_t = 1024 * 1024
    )]
    pub(crate) rego_body_limit: u64,

    /// A command to run instead of serving.
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// Commands other than serving.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check a manifest folder: parse every file, compile every class policy, then exit.
    Check(crate::check::CheckArgs),
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What forward requests to non-target hosts get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum NonTargetPolicy {
    /// Forward them (tunnel `CONNECT` blind) without credentials.
    Allow,
    /// Refuse them with 403.
    Deny,
}
