//! `connectors-oci-proxy`: the registry proxy that logs in to registries for its clients.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use connectors_proxy_core::cli::{self, ProxyFlags};
use connectors_proxy_core::runtime;
use connectors_proxy_oci::oci_builder;

/// Registry proxy for Kubernetes Connectors: runs the registry login for its clients.
/// Every flag also reads `CONNECTORS_OCI_PROXY_<FLAG>`.
#[derive(Debug, Parser)]
#[command(name = "connectors-oci-proxy", version, about)]
struct Args {
    /// Address the proxy listens on.
    #[arg(long, default_value = "0.0.0.0:8081")]
    listen: SocketAddr,

    /// Address of the admin listener (/healthz, /readyz, /metrics).
    #[arg(long, default_value = "127.0.0.1:9091")]
    admin_listen: SocketAddr,

    /// Source, review, upstream and interception flags.
    #[command(flatten)]
    proxy: ProxyFlags,
}

fn main() -> ExitCode {
    let args: Args = cli::parse("CONNECTORS_OCI_PROXY");
    let serving = cli::serve(args.listen, args.admin_listen, &args.proxy, |config| {
        oci_builder(&config).router()
    });
    runtime::main("connectors-oci-proxy", args.proxy.json_logs(), serving)
}
