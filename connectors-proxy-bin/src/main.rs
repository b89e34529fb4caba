//! `connectors-proxy`: the stock credential-injecting proxy.

use std::process::ExitCode;

use clap::Parser;

mod check;
mod cli;
mod kube_mode;
mod run;

use cli::{Args, Command, LogFormat};

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Check(check)) = &args.command {
        return check::run(check);
    }
    if args.kube.print_crds {
        return match kube_mode::crds_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("cannot render the CRDs: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let json = args.log_format == LogFormat::Json;
    connectors_proxy_core::runtime::main("connectors-proxy", json, run::run(args))
}
