//! Command-line flags; every flag also reads `CONNECTORS_PROXY_<FLAG>`.

use std::net::SocketAddr;

use clap::{Parser, Subcommand};
use connectors_proxy_core::cli::ProxyFlags;

/// Credential-injecting proxy for Kubernetes Connectors.
#[derive(Debug, Parser)]
#[command(name = "connectors-proxy", version, about)]
pub(crate) struct Args {
    /// Address the proxy listens on.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub(crate) listen: SocketAddr,

    /// Address of the admin listener (/healthz, /readyz, /metrics).
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub(crate) admin_listen: SocketAddr,

    /// Source, review, upstream and interception flags.
    #[command(flatten)]
    pub(crate) proxy: ProxyFlags,

    /// Print the Connector and ConnectorClass CRDs as YAML and exit.
    #[arg(long)]
    pub(crate) print_crds: bool,

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
