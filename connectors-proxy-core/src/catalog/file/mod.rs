//! A catalog read from a folder of Kubernetes manifests, for running without a cluster.
//!
//! The folder holds ordinary YAML or JSON (`.yaml`, `.yml`, `.json`, multi-document YAML and
//! `List` objects): Connectors, ConnectorClasses, Secrets and RBAC objects, exactly as they
//! would be applied to a cluster. Each file keeps its last good contents: a file that stops
//! parsing is reported and its previous objects stay in service until it is fixed, while a
//! deleted file takes its objects with it. [`FileCatalog::spawn_watcher`] reloads on changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tracing::{info, warn};

use super::snapshot::{Objects, Snapshot};
use super::{Catalog, CatalogError, ConnectorEntry};

mod check;
mod parse;
mod watch_dir;

pub use check::{CheckReport, FileProblem, check_dir};

use parse::FileObjects;

/// The RBAC objects of a manifest folder, from which the embedded reviewer builds its rules.
#[derive(Debug, Clone, Default)]
pub struct RbacObjects {
    /// Namespaced roles.
    pub roles: Vec<Role>,
    /// Cluster roles.
    pub cluster_roles: Vec<ClusterRole>,
    /// Bindings of roles or cluster roles within a namespace.
    pub role_bindings: Vec<RoleBinding>,
    /// Cluster-wide bindings of cluster roles.
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
}

/// Why a manifest folder could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogLoadError {
    /// The folder could not be listed.
    #[error("cannot read the manifest folder {}: {source}", dir.display())]
    ReadDir {
        /// The folder.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The folder could not be watched for changes.
    #[error("cannot watch the manifest folder {}: {source}", dir.display())]
    Watch {
        /// The folder.
        dir: PathBuf,
        /// The watcher's error.
        #[source]
        source: notify::Error,
    },
}

/// What is known about one manifest file.
#[derive(Debug, Default)]
struct FileState {
    /// The SHA-256 of the contents last read, parsed or not: unchanged files are not re-parsed.
    digest: Option<[u8; 32]>,
    /// The objects of the last contents that parsed.
    last_good: Option<FileObjects>,
}

/// A [`Catalog`] over a folder of manifests, with the folder's RBAC objects alongside.
#[derive(Debug)]
pub struct FileCatalog {
    dir: PathBuf,
    files: Mutex<BTreeMap<PathBuf, FileState>>,
    snapshot: RwLock<Arc<Snapshot>>,
    rbac: RwLock<Arc<RbacObjects>>,
    generation: watch::Sender<u64>,
}

impl FileCatalog {
    /// Reads every manifest in `dir`; fails only when the folder itself cannot be read.
    pub fn load(dir: impl Into<PathBuf>) -> Result<Self, CatalogLoadError> {
        let catalog = Self {
            dir: dir.into(),
            files: Mutex::default(),
            snapshot: RwLock::default(),
            rbac: RwLock::default(),
            generation: watch::Sender::new(0),
        };
        catalog.reload()?;
        Ok(catalog)
    }

    /// The folder this catalog reads.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The connectors as last loaded.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The RBAC objects as last loaded.
    pub fn rbac(&self) -> Arc<RbacObjects> {
        Arc::clone(&self.rbac.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// A counter that goes up each time a reload changes the catalog or its RBAC objects.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Re-reads every manifest file and, when any changed, rebuilds the snapshot.
    ///
    /// Blocking file I/O: call it from a blocking context. Fails only when the folder cannot
    /// be listed, in which case everything loaded so far stays in service.
    pub fn reload(&self) -> Result<(), CatalogLoadError> {
        let paths = manifest_paths(&self.dir)?;
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let before = files.len();
        files.retain(|path, _| paths.contains(path));
        let mut changed = files.len() != before;
        for path in paths {
            changed |= read_file(&path, files.entry(path.clone()).or_default());
        }
        let first = *self.generation.borrow() == 0;
        if changed || first {
            self.publish(&files);
        }
        Ok(())
    }

    /// Builds and installs a snapshot from every file's last good objects.
    fn publish(&self, files: &BTreeMap<PathBuf, FileState>) {
        let mut objects = Objects::default();
        let mut rbac = RbacObjects::default();
        for parsed in files.values().filter_map(|f| f.last_good.as_ref()) {
            let o = &parsed.objects;
            objects.connectors.extend(o.connectors.iter().cloned());
            objects.classes.extend(o.classes.iter().cloned());
            objects.secrets.extend(o.secrets.iter().cloned());
            let r = &parsed.rbac;
            rbac.roles.extend(r.roles.iter().cloned());
            rbac.cluster_roles.extend(r.cluster_roles.iter().cloned());
            rbac.role_bindings.extend(r.role_bindings.iter().cloned());
            rbac.cluster_role_bindings
                .extend(r.cluster_role_bindings.iter().cloned());
        }
        let (snapshot, problems) = Snapshot::build(&objects);
        for problem in &problems {
            warn!(object = %problem.object, reason = %problem.reason, "manifest problem");
        }
        info!(
            dir = %self.dir.display(),
            files = files.len(),
            connectors = snapshot.len(),
            usable = snapshot.entries().count(),
            classes = objects.classes.len(),
            secrets = objects.secrets.len(),
            roles = rbac.roles.len() + rbac.cluster_roles.len(),
            bindings = rbac.role_bindings.len() + rbac.cluster_role_bindings.len(),
            "manifests loaded"
        );
        *self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
        *self.rbac.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(rbac);
        self.generation.send_modify(|generation| *generation += 1);
    }
}

#[async_trait]
impl Catalog for FileCatalog {
    async fn connector(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<ConnectorEntry>>, CatalogError> {
        self.snapshot().get(namespace, name)
    }

    fn connectors(&self) -> Vec<Arc<ConnectorEntry>> {
        self.snapshot().entries().cloned().collect()
    }

    /// Always true: [`FileCatalog::load`] reads the folder before returning.
    fn is_ready(&self) -> bool {
        true
    }
}

/// Reads one file into `state` unless its contents are unchanged; returns whether they changed.
fn read_file(path: &Path, state: &mut FileState) -> bool {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) => {
            warn!(file = %path.display(), %error, "cannot read a manifest file; keeping its previous objects");
            return false;
        }
    };
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    if state.digest == Some(digest) {
        return false;
    }
    state.digest = Some(digest);
    match parse::parse_file(&bytes, has_extension(path, &["json"])) {
        Ok(objects) => state.last_good = Some(objects),
        Err(error) => {
            warn!(file = %path.display(), %error, "invalid manifest file; keeping its previous objects");
        }
    }
    true
}

/// The manifest files of `dir`, sorted; hidden entries (editor swap files, the `..data` links
/// of a mounted ConfigMap) are skipped, and symbolic links are followed.
fn manifest_paths(dir: &Path) -> Result<Vec<PathBuf>, CatalogLoadError> {
    let read_error = |source| CatalogLoadError::ReadDir {
        dir: dir.to_owned(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let hidden = path
            .file_name()
            .is_none_or(|name| name.to_string_lossy().starts_with('.'));
        if hidden || !has_extension(&path, &["yaml", "yml", "json"]) {
            continue;
        }
        // `metadata` follows links; a dangling link (mid-swap) is skipped like a missing file.
        if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| extensions.iter().any(|e| ext.eq_ignore_ascii_case(e)))
}
