//! A catalog held in memory, for embedding the proxy in another program and for tests.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::catalog::{Catalog, CatalogError, ConnectorEntry};

/// Connectors kept in a map that the embedding program fills and changes at will.
#[derive(Debug, Default)]
pub struct MemoryCatalog {
    entries: RwLock<HashMap<(String, String), Arc<ConnectorEntry>>>,
}

impl MemoryCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a connector.
    pub fn insert(&self, entry: ConnectorEntry) {
        let key = (entry.namespace.clone(), entry.name.clone());
        self.write().insert(key, Arc::new(entry));
    }

    /// Removes a connector; later requests for it get `404`.
    pub fn remove(&self, namespace: &str, name: &str) {
        self.write()
            .remove(&(namespace.to_owned(), name.to_owned()));
    }

    fn write(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<(String, String), Arc<ConnectorEntry>>> {
        self.entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<(String, String), Arc<ConnectorEntry>>> {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Catalog for MemoryCatalog {
    async fn connector(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<ConnectorEntry>>, CatalogError> {
        Ok(self
            .read()
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned())
    }

    fn connectors(&self) -> Vec<Arc<ConnectorEntry>> {
        self.read().values().cloned().collect()
    }

    fn is_ready(&self) -> bool {
        true
    }
}
