//! Checking a manifest folder without serving it: every file parsed, every class policy
//! compiled, every connector prepared, each problem attributed to its file.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::parse::parse_file;
use super::{CatalogLoadError, has_extension, manifest_paths};
use crate::catalog::snapshot::{DEFAULT_NAMESPACE, Objects, Problem, Snapshot};

/// One problem found by [`check_dir`], with the file that holds the object when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// The manifest file, when the problem can be traced to one.
    pub file: Option<PathBuf>,
    /// The object and what is wrong with it.
    pub problem: Problem,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}: {}", file.display(), self.problem),
            None => write!(f, "{}", self.problem),
        }
    }
}

/// What [`check_dir`] found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// How many manifest files were read.
    pub files: usize,
    /// How many ConnectorClasses were found.
    pub classes: usize,
    /// How many Connectors were found.
    pub connectors: usize,
    /// Everything wrong, in file order.
    pub problems: Vec<FileProblem>,
}

/// Reads every manifest in `dir` as [`super::FileCatalog`] would and reports every problem:
/// files that do not parse, class policies that do not compile (with line and column), and
/// connectors that cannot be used. Fails only when the folder cannot be listed.
pub fn check_dir(dir: &Path) -> Result<CheckReport, CatalogLoadError> {
    let mut report = CheckReport::default();
    let mut objects = Objects::default();
    let mut origin: HashMap<String, PathBuf> = HashMap::new();
    for path in manifest_paths(dir)? {
        report.files += 1;
        let parsed = std::fs::read(&path)
            .map_err(|error| error.to_string())
            .and_then(|bytes| {
                parse_file(&bytes, has_extension(&path, &["json"])).map_err(|e| e.to_string())
            });
        let parsed = match parsed {
            Ok(parsed) => parsed.objects,
            Err(reason) => {
                report.problems.push(FileProblem {
                    file: Some(path.clone()),
                    problem: Problem {
                        object: "file".to_owned(),
                        reason,
                    },
                });
                continue;
            }
        };
        for class in &parsed.classes {
            let name = class.metadata.name.clone().unwrap_or_default();
            origin.insert(format!("ConnectorClass {name}"), path.clone());
        }
        for connector in &parsed.connectors {
            origin.insert(
                format!("Connector {}", namespaced(&connector.metadata)),
                path.clone(),
            );
        }
        for secret in &parsed.secrets {
            origin.insert(
                format!("Secret {}", namespaced(&secret.metadata)),
                path.clone(),
            );
        }
        objects.connectors.extend(parsed.connectors);
        objects.classes.extend(parsed.classes);
        objects.secrets.extend(parsed.secrets);
    }
    report.classes = objects.classes.len();
    report.connectors = objects.connectors.len();
    let (_, problems) = Snapshot::build(&objects);
    report
        .problems
        .extend(problems.into_iter().map(|problem| FileProblem {
            file: origin.get(&problem.object).cloned(),
            problem,
        }));
    Ok(report)
}

fn namespaced(metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    let namespace = metadata.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
    format!(
        "{namespace}/{}",
        metadata.name.as_deref().unwrap_or_default()
    )
}
