//! `connectors-proxy check --manifests DIR`: report every problem of a manifest folder.

use std::path::PathBuf;
use std::process::ExitCode;

use connectors_proxy_core::catalog::file::check_dir;

/// Flags of the `check` command.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// Folder of Kubernetes manifests to check.
    #[arg(long)]
    pub(crate) manifests: PathBuf,
}

/// Prints each problem on its own line and a summary; fails when there is any problem.
pub(crate) fn run(args: &CheckArgs) -> ExitCode {
    let report = match check_dir(&args.manifests) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    for problem in &report.problems {
        println!("error: {problem}");
    }
    let summary = format!(
        "{} file(s), {} ConnectorClass(es), {} Connector(s)",
        report.files, report.classes, report.connectors
    );
    if report.problems.is_empty() {
        println!("ok: {summary}, no problems");
        ExitCode::SUCCESS
    } else {
        println!("failed: {summary}, {} problem(s)", report.problems.len());
        ExitCode::FAILURE
    }
}
