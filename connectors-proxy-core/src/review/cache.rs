//! The review cache every deployment puts in front of its [`Reviewer`].
//!
//! Results are keyed by the SHA-256 of the token ([`TokenHash`]), never by the token itself,
//! with split lifetimes: an authenticated token for [`CacheSettings::authentication_ttl`] but
//! never past the token's own expiry, an allow for [`CacheSettings::allow_ttl`], a rejected
//! token or a deny for [`CacheSettings::deny_ttl`]. Concurrent misses for the same key share
//! one call to the inner reviewer.
//!
//! When the inner reviewer is unavailable, a positive result (an authenticated token, an allow)
//! that the inner reviewer confirmed less than [`CacheSettings::stale_window`] ago is served
//! instead, never past the token's expiry; a rejected token or a deny is never served stale, and
//! a later negative answer forgets the positive one. Everything else fails closed with the
//! inner error.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use moka::Expiry;
use moka::future::Cache;
use tracing::debug;

use super::{AccessCheck, Authentication, Identity, ReviewError, Reviewer};
use crate::metrics::Metrics;
use crate::secret::{ClientToken, TokenHash};

mod key;

use key::{AuthorizationKey, AuthorizationKeyRef};

/// Lifetimes and size of a [`CachedReviewer`]'s caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// How long an authenticated token is trusted without asking again (capped by its expiry).
    pub authentication_ttl: Duration,
    /// How long an allow is trusted without asking again.
    pub allow_ttl: Duration,
    /// How long a rejected token or a deny is remembered.
    pub deny_ttl: Duration,
    /// How long after its last confirmation a positive result may stand in during an outage.
    pub stale_window: Duration,
    /// The most entries each of the cache's tables holds.
    pub max_entries: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            authentication_ttl: Duration::from_secs(120),
            allow_ttl: Duration::from_secs(60),
            deny_ttl: Duration::from_secs(10),
            stale_window: Duration::from_secs(300),
            max_entries: 100_000,
        }
    }
}

/// A cached value and how long it may live, decided when it was stored.
#[derive(Clone)]
struct Timed<T> {
    value: T,
    ttl: Duration,
}

/// Gives each entry the lifetime stored with it.
struct StoredTtl;

impl<K, T> Expiry<K, Timed<T>> for StoredTtl {
    fn expire_after_create(&self, _: &K, value: &Timed<T>, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _: &K,
        value: &Timed<T>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// A [`Reviewer`] that caches another one's answers (see the module docs for the rules).
pub struct CachedReviewer {
    inner: Arc<dyn Reviewer>,
    settings: CacheSettings,
    metrics: Arc<Metrics>,
    /// Current authentication results, positive and negative.
    authentications: Cache<TokenHash, Timed<Authentication>>,
    /// Current authorization results, allows and denies.
    authorizations: Cache<AuthorizationKey, Timed<bool>>,
    /// The last authenticated result per token, kept for the stale window.
    last_authenticated: Cache<TokenHash, Timed<Authentication>>,
    /// The last allows, kept for the stale window; a later deny removes its entry.
    last_allowed: Cache<AuthorizationKey, ()>,
}

impl fmt::Debug for CachedReviewer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedReviewer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl CachedReviewer {
    /// Wraps `inner` with caches sized and timed by `settings`, counting lookups in `metrics`.
    pub fn new(inner: Arc<dyn Reviewer>, settings: CacheSettings, metrics: Arc<Metrics>) -> Self {
        fn timed<K, T>(max: u64) -> Cache<K, Timed<T>>
        where
            K: Hash + Eq + Send + Sync + 'static,
            T: Clone + Send + Sync + 'static,
        {
            Cache::builder()
                .max_capacity(max)
                .expire_after(StoredTtl)
                .build()
        }
        Self {
            authentications: timed(settings.max_entries),
            authorizations: timed(settings.max_entries),
            last_authenticated: timed(settings.max_entries),
            last_allowed: Cache::builder()
                .max_capacity(settings.max_entries)
                .time_to_live(settings.stale_window)
                .build(),
            inner,
            settings,
            metrics,
        }
    }

    /// Asks the inner reviewer about a token and records the answer for outages.
    async fn authenticate_inner(
        &self,
        token: &ClientToken,
    ) -> Result<Timed<Authentication>, ReviewError> {
        let outcome = self.inner.authenticate(token).await?;
        let ttl = match &outcome {
            Authentication::Authenticated { expires_at, .. } => {
                let last = Timed {
                    value: outcome.clone(),
                    ttl: capped(self.settings.stale_window, *expires_at),
                };
                self.last_authenticated.insert(token.hash(), last).await;
                capped(self.settings.authentication_ttl, *expires_at)
            }
            Authentication::Rejected => {
                self.last_authenticated.invalidate(&token.hash()).await;
                self.settings.deny_ttl
            }
        };
        Ok(Timed {
            value: outcome,
            ttl,
        })
    }

    /// Asks the inner reviewer about an access and records the answer for outages.
    async fn authorize_inner(
        &self,
        identity: &Identity,
        check: &AccessCheck,
        key: &AuthorizationKey,
    ) -> Result<Timed<bool>, ReviewError> {
        let allowed = self.inner.authorize(identity, check).await?;
        let ttl = if allowed {
            self.last_allowed.insert(key.clone(), ()).await;
            self.settings.allow_ttl
        } else {
            self.last_allowed.invalidate(key).await;
            self.settings.deny_ttl
        };
        Ok(Timed {
            value: allowed,
            ttl,
        })
    }
}

/// `ttl`, shortened so that it ends no later than `expires_at`.
fn capped(ttl: Duration, expires_at: Option<SystemTime>) -> Duration {
    expires_at.map_or(ttl, |at| {
        let left = at.duration_since(SystemTime::now()).unwrap_or_default();
        ttl.min(left)
    })
}

/// Whether an authentication result is still true now.
fn still_valid(outcome: &Authentication) -> bool {
    match outcome {
        Authentication::Authenticated {
            expires_at: Some(at),
            ..
        } => SystemTime::now() < *at,
        _ => true,
    }
}

/// Whether an error is one during which positive results may be served stale.
fn is_outage(error: &ReviewError) -> bool {
    match error {
        ReviewError::Unavailable(_) => true,
    }
}

#[async_trait]
impl Reviewer for CachedReviewer {
    async fn authenticate(&self, token: &ClientToken) -> Result<Authentication, ReviewError> {
        const REVIEW: &str = "authentication";
        let hash = token.hash();
        match self.authentications.get(&hash).await {
            Some(entry) if still_valid(&entry.value) => {
                self.metrics.record_review_cache(REVIEW, true);
                return Ok(entry.value);
            }
            // The token expired a moment before its entry would have: ask again.
            Some(_) => self.authentications.invalidate(&hash).await,
            None => {}
        }
        self.metrics.record_review_cache(REVIEW, false);
        let fresh = self
            .authentications
            .try_get_with(hash, self.authenticate_inner(token))
            .await;
        let error = match fresh {
            Ok(entry) if still_valid(&entry.value) => return Ok(entry.value),
            // The answer is about a token that has expired since: it is no longer valid.
            Ok(_) => return Ok(Authentication::Rejected),
            Err(error) => error,
        };
        if is_outage(&error)
            && let Some(last) = self.last_authenticated.get(&hash).await
            && still_valid(&last.value)
        {
            debug!(token = %hash.short(), %error, "serving a stale authentication");
            return Ok(last.value);
        }
        Err(ReviewError::clone(&error))
    }

    async fn authorize(
        &self,
        identity: &Identity,
        check: &AccessCheck,
    ) -> Result<bool, ReviewError> {
        const REVIEW: &str = "authorization";
        let borrowed = AuthorizationKeyRef::new(&identity.token_hash, check);
        if let Some(entry) = self.authorizations.get(&borrowed).await {
            self.metrics.record_review_cache(REVIEW, true);
            return Ok(entry.value);
        }
        self.metrics.record_review_cache(REVIEW, false);
        let key = borrowed.to_key();
        let fresh = self
            .authorizations
            .try_get_with(key.clone(), self.authorize_inner(identity, check, &key))
            .await;
        let error = match fresh {
            Ok(entry) => return Ok(entry.value),
            Err(error) => error,
        };
        if is_outage(&error) && self.last_allowed.contains_key(&key) {
            let token = identity.token_hash.short();
            debug!(%token, namespace = %check.namespace, connector = %check.name, %error,
                "serving a stale allow");
            return Ok(true);
        }
        Err(ReviewError::clone(&error))
    }
}

#[cfg(test)]
mod tests;
