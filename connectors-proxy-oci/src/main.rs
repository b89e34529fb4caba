//! `connectors-oci-proxy`: the registry proxy that logs in to registries for its clients.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod run;

use cli::{Args, LogFormat};

fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.log_format == LogFormat::Json;
    connectors_proxy_core::runtime::main("connectors-oci-proxy", json, run::run(args))
}
