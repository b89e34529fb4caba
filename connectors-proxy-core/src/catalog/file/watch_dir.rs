//! Reloading a [`FileCatalog`] when its folder changes.
//!
//! Any change in the folder triggers a full re-read once events have been quiet for a moment:
//! editors that save through a temporary file and a rename, and Kubernetes ConfigMap volumes
//! that swap a `..data` symbolic link, both produce bursts of events about other names than the
//! manifest itself. Unchanged files are not re-parsed, so a full re-read is cheap.

use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};
use tracing::{debug, warn};

use super::{CatalogLoadError, FileCatalog};

/// How long events must be quiet before the folder is re-read.
const QUIET: Duration = Duration::from_millis(150);
/// The longest a reload waits for quiet while events keep coming.
const MAX_DELAY: Duration = Duration::from_secs(1);

impl FileCatalog {
    /// Watches the folder and reloads on every change until the catalog is dropped.
    ///
    /// Must be called within a Tokio runtime. The returned task owns the watcher; aborting it
    /// stops the watching.
    pub fn spawn_watcher(self: &Arc<Self>) -> Result<JoinHandle<()>, CatalogLoadError> {
        let watch_error = |source| CatalogLoadError::Watch {
            dir: self.dir.clone(),
            source,
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |event| {
            // The receiver is gone only when the task has ended; nothing is left to tell.
            let _ = tx.send(event);
        })
        .map_err(watch_error)?;
        watcher
            .watch(&self.dir, RecursiveMode::NonRecursive)
            .map_err(watch_error)?;
        let catalog = Arc::downgrade(self);
        Ok(tokio::spawn(async move {
            let _watcher = watcher;
            while let Some(event) = rx.recv().await {
                if !is_change(&event) {
                    continue;
                }
                let deadline = Instant::now() + MAX_DELAY;
                loop {
                    let quiet_until = (Instant::now() + QUIET).min(deadline);
                    match timeout_at(quiet_until, rx.recv()).await {
                        Ok(Some(_)) => continue,
                        Ok(None) => return,
                        Err(_) => break,
                    }
                }
                let Some(catalog) = catalog.upgrade() else {
                    return;
                };
                match tokio::task::spawn_blocking(move || catalog.reload()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => {
                        warn!(%error, "manifest reload failed; serving the last load")
                    }
                    Err(error) => warn!(%error, "manifest reload did not finish"),
                }
            }
        }))
    }
}

/// Whether an event may mean changed contents; opening and reading files (the catalog's own
/// reloads among them) does not.
fn is_change(event: &notify::Result<notify::Event>) -> bool {
    match event {
        Ok(event) => match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
            EventKind::Access(_) => false,
            _ => true,
        },
        Err(error) => {
            debug!(%error, "manifest folder watcher error; re-reading the folder");
            true
        }
    }
}
