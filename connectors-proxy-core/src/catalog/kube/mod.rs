//! A catalog that watches Connectors and ConnectorClasses in a Kubernetes cluster.
//!
//! Reflectors keep local copies of Connectors (every namespace, or one) and ConnectorClasses;
//! their watchers retry with backoff, so lookups keep being answered from the copies while the
//! API server is briefly unreachable. Secrets are read one by one as connectors need them (no
//! cluster-wide list or watch), cached and re-read once older than
//! [`KubeCatalogSettings::secret_refresh`] (a missing Secret after two seconds). Entries are built with the same
//! [`build_entry`] as the embedded snapshot and kept per resource versions of the connector,
//! its class and its Secret, so a lookup is a map hit until one of them changes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client, ResourceExt as _};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::snapshot::{Lookup, build_entry, class_entry, decode_secret, referenced_secret};
use super::{Catalog, CatalogError, ClassEntry, ConnectorEntry};
use crate::model::{Connector, ConnectorClass};

mod secrets;

use secrets::SecretCache;
pub(crate) use secrets::describe as describe_error;

/// How a [`KubeCatalog`] watches the cluster.
#[derive(Debug, Clone)]
pub struct KubeCatalogSettings {
    /// Watch Connectors in this namespace only; every namespace when `None`.
    pub namespace: Option<String>,
    /// How old a cached Secret may get before it is read again (rotation delay bound).
    pub secret_refresh: Duration,
}

impl Default for KubeCatalogSettings {
    fn default() -> Self {
        Self {
            namespace: None,
            secret_refresh: Duration::from_secs(20),
        }
    }
}

/// The resource versions an entry was built from; `None` for an absent object.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Versions {
    connector: Option<String>,
    class: Option<String>,
    secret: Option<Option<String>>,
}

/// A class entry and the resource version it was built from.
type ClassSlot = (Option<String>, Arc<ClassEntry>);

/// What the watchers, the refresher and lookups share.
struct Shared {
    connectors: Store<Connector>,
    classes: RwLock<HashMap<String, ClassSlot>>,
    secrets: SecretCache,
    entries: RwLock<HashMap<(String, String), (Versions, Lookup)>>,
    ready: AtomicBool,
    changed: Notify,
}

/// A [`Catalog`] backed by the Kubernetes API (see the module docs).
pub struct KubeCatalog {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for KubeCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeCatalog")
            .field("ready", &self.shared.ready.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl KubeCatalog {
    /// Starts watching through `client`; ready once both initial lists arrived.
    ///
    /// Must be called within a Tokio runtime; the watches stop when the catalog is dropped.
    pub fn start(client: Client, settings: KubeCatalogSettings) -> Self {
        let connectors_api: Api<Connector> = match &settings.namespace {
            Some(namespace) => Api::namespaced(client.clone(), namespace),
            None => Api::all(client.clone()),
        };
        let classes_api: Api<ConnectorClass> = Api::all(client.clone());
        let (connector_store, connector_writer) = reflector::store();
        let (class_store, class_writer) = reflector::store();
        let shared = Arc::new(Shared {
            connectors: connector_store.clone(),
            classes: RwLock::default(),
            secrets: SecretCache::new(client, settings.secret_refresh),
            entries: RwLock::default(),
            ready: AtomicBool::new(false),
            changed: Notify::new(),
        });

        let mut tasks = Vec::new();
        let watch = shared.clone();
        let stream = reflector::reflector(
            connector_writer,
            watcher(connectors_api, watcher::Config::default()).default_backoff(),
        );
        tasks.push(tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(_) => watch.changed.notify_one(),
                    Err(err) => warn!(error = %err, "watching Connectors failed; retrying"),
                }
            }
        }));
        let watch = shared.clone();
        let classes = class_store.clone();
        let stream = reflector::reflector(
            class_writer,
            watcher(classes_api, watcher::Config::default()).default_backoff(),
        );
        tasks.push(tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(_) => {
                        watch.sync_classes(&classes);
                        watch.changed.notify_one();
                    }
                    Err(err) => warn!(error = %err, "watching ConnectorClasses failed; retrying"),
                }
            }
        }));
        let watch = shared.clone();
        tasks.push(tokio::spawn(async move {
            let both = futures_util::future::join(
                connector_store.wait_until_ready(),
                class_store.wait_until_ready(),
            );
            if let (Ok(()), Ok(())) = both.await {
                watch.sync_classes(&class_store);
                watch.ready.store(true, Ordering::Release);
                info!(
                    connectors = watch.connectors.len(),
                    classes = class_store.len(),
                    "connector catalog synced"
                );
                watch.changed.notify_one();
            }
        }));
        tasks.push(tokio::spawn(refresh_loop(
            shared.clone(),
            settings.secret_refresh,
        )));
        Self { shared, tasks }
    }
}

impl Drop for KubeCatalog {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Keeps every connector's entry built and its Secret fresh, after each change and at least
/// once per refresh interval, so [`Catalog::connectors`] sees current entries.
async fn refresh_loop(shared: Arc<Shared>, every: Duration) {
    loop {
        let _ = tokio::time::timeout(every, shared.changed.notified()).await;
        if !shared.ready.load(Ordering::Acquire) {
            continue;
        }
        let current = shared.connectors.state();
        for connector in &current {
            let namespace = connector.namespace().unwrap_or_default();
            // Failures are reported by lookups; here the point is only to warm the entry.
            let _ = shared.lookup(&namespace, &connector.name_any()).await;
        }
        shared
            .entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(namespace, name), _| {
                let key = ObjectRef::new(name).within(namespace);
                shared.connectors.get(&key).is_some()
            });
        shared.secrets.prune(every * 3);
    }
}

impl Shared {
    /// Rebuilds the entries of classes whose resource version changed; drops deleted ones.
    fn sync_classes(&self, store: &Store<ConnectorClass>) {
        let current = store.state();
        let mut classes = self.classes.write().unwrap_or_else(PoisonError::into_inner);
        classes.retain(|name, _| current.iter().any(|c| c.name_any() == *name));
        for class in current {
            let name = class.name_any();
            let version = class.resource_version();
            if classes.get(&name).is_some_and(|(v, _)| *v == version) {
                continue;
            }
            let entry = Arc::new(class_entry(&name, &class));
            if let Some(problem) = &entry.problem {
                warn!(class = %name, reason = %problem, "ConnectorClass policy problem");
            }
            classes.insert(name, (version, entry));
        }
    }

    async fn lookup(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<ConnectorEntry>>, CatalogError> {
        if !self.ready.load(Ordering::Acquire) {
            return Err(CatalogError::Unavailable(
                "Connectors and ConnectorClasses are not synced yet".to_owned(),
            ));
        }
        let Some(connector) = self.connectors.get(&ObjectRef::new(name).within(namespace)) else {
            return Ok(None);
        };
        let class = self
            .classes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&connector.spec.connector_class_name)
            .cloned();
        let secret_name = connector
            .spec
            .auth
            .as_ref()
            .and_then(|auth| referenced_secret(namespace, auth));
        let secret = match secret_name {
            Some(secret_name) => Some(self.secrets.get(namespace, secret_name).await?),
            None => None,
        };
        let versions = Versions {
            connector: connector.resource_version(),
            class: class.as_ref().and_then(|(v, _)| v.clone()),
            secret: secret
                .as_ref()
                .map(|s| s.as_ref().and_then(|s| s.resource_version())),
        };
        let key = (namespace.to_owned(), name.to_owned());
        let cached = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .filter(|(built, _)| *built == versions)
            .map(|(_, lookup)| lookup.clone());
        let lookup = match cached {
            Some(lookup) => lookup,
            None => {
                let mut problems = Vec::new();
                let mut secret_problems = Vec::new();
                let lookup = build_entry(
                    namespace,
                    name,
                    &connector,
                    class.map(|(_, entry)| entry),
                    |ns, secret_name| {
                        let secret = secret.as_ref().and_then(Option::as_deref);
                        decode_secret(ns, secret_name, secret, &mut secret_problems)
                    },
                    &mut problems,
                );
                for problem in problems.iter().chain(&secret_problems) {
                    warn!(object = %problem.object, "{}", problem.reason);
                }
                self.entries
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key, (versions, lookup.clone()));
                lookup
            }
        };
        match lookup {
            Ok(entry) => Ok(Some(entry)),
            Err(reason) => Err(CatalogError::Unusable {
                key: format!("{namespace}/{name}"),
                reason,
            }),
        }
    }
}

#[async_trait]
impl Catalog for KubeCatalog {
    async fn connector(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<ConnectorEntry>>, CatalogError> {
        self.shared.lookup(namespace, name).await
    }

    fn connectors(&self) -> Vec<Arc<ConnectorEntry>> {
        self.shared
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter_map(|(_, lookup)| lookup.as_ref().ok().cloned())
            .collect()
    }

    fn is_ready(&self) -> bool {
        self.shared.ready.load(Ordering::Acquire)
    }
}
