//! `connectors-proxy`: the stock credential-injecting proxy.

use std::process::ExitCode;

use connectors_proxy_core::builder::ProxyBuilder;
use connectors_proxy_core::{cli, runtime};

mod check;
mod cli_args;
mod crds;

use cli_args::{Args, Command};

fn main() -> ExitCode {
    let args: Args = cli::parse("CONNECTORS_PROXY");
    if let Some(Command::Check(check)) = &args.command {
        return check::run(check);
    }
    if args.print_crds {
        return match crds::crds_yaml() {
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
    let serving = cli::serve(args.listen, args.admin_listen, &args.proxy, |config| {
        ProxyBuilder::new(config).router()
    });
    runtime::main("connectors-proxy", args.proxy.json_logs(), serving)
}
