//! Secrets read one at a time, cached and re-read so a rotated Secret is used promptly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use tokio::time::Instant;
use tracing::debug;

use crate::catalog::CatalogError;

/// How long after a failed re-read the cached value is served without asking again.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// How long a Secret found missing stays missing before it is read again: it is usually being
/// created next to its Connector, and waiting a whole refresh interval would refuse the new
/// connector for that long.
const MISSING_RECHECK: Duration = Duration::from_secs(2);

/// One Secret as last read: `None` when it did not exist.
#[derive(Clone)]
struct Slot {
    secret: Option<Arc<Secret>>,
    fetched: Instant,
    retry_at: Instant,
    used: Instant,
}

/// Secrets fetched with `GET` on demand (no cluster-wide list) and re-read once older than
/// the refresh interval; a failed re-read keeps serving the cached value.
pub(super) struct SecretCache {
    client: Client,
    refresh: Duration,
    slots: Mutex<HashMap<(String, String), Slot>>,
}

impl SecretCache {
    pub(super) fn new(client: Client, refresh: Duration) -> Self {
        Self {
            client,
            refresh,
            slots: Mutex::default(),
        }
    }

    /// The Secret `namespace/name` (`None` when it does not exist), at most one refresh
    /// interval old unless the API server cannot be reached.
    pub(super) async fn get(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<Secret>>, CatalogError> {
        let key = (namespace.to_owned(), name.to_owned());
        let now = Instant::now();
        let cached = self.lock().get_mut(&key).map(|slot| {
            slot.used = now;
            slot.clone()
        });
        if let Some(slot) = &cached
            && (now.duration_since(slot.fetched) < self.max_age(slot) || now < slot.retry_at)
        {
            return Ok(slot.secret.clone());
        }
        let api = Api::<Secret>::namespaced(self.client.clone(), namespace);
        match api.get_opt(name).await {
            Ok(secret) => {
                let secret = secret.map(Arc::new);
                let slot = Slot {
                    secret: secret.clone(),
                    fetched: now,
                    retry_at: now,
                    used: now,
                };
                self.lock().insert(key, slot);
                Ok(secret)
            }
            Err(err) => {
                let why = describe(&err);
                let Some(mut slot) = cached else {
                    return Err(CatalogError::Unavailable(format!(
                        "cannot read secret {name} in {namespace}: {why}"
                    )));
                };
                debug!(namespace, secret = name, error = %why, "secret not re-read; serving the cached copy");
                slot.retry_at = now + RETRY_AFTER;
                let secret = slot.secret.clone();
                self.lock().insert(key, slot);
                Ok(secret)
            }
        }
    }

    /// How long a read is trusted: the refresh interval, or [`MISSING_RECHECK`] for a Secret
    /// found missing.
    fn max_age(&self, slot: &Slot) -> Duration {
        if slot.secret.is_some() {
            self.refresh
        } else {
            MISSING_RECHECK.min(self.refresh)
        }
    }

    /// Forgets Secrets no lookup has asked for within `idle`.
    pub(super) fn prune(&self, idle: Duration) {
        let now = Instant::now();
        self.lock()
            .retain(|_, slot| now.duration_since(slot.used) < idle);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Slot>> {
        // Every critical section is a single map operation, which cannot leave it half-done.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An API error as text that cannot carry Secret contents (decoding errors may quote values).
pub(crate) fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => {
            format!("the API server answered {}: {}", status.code, status.reason)
        }
        kube::Error::SerdeError(_) => "the API server's answer could not be decoded".to_owned(),
        other => other.to_string(),
    }
}
