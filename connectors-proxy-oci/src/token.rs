//! Registry tokens: the cache key, the cache, and how long a token may be used.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use connectors_proxy_core::secret::{SecretString, TokenHash};
use time::OffsetDateTime;

/// The lifetime a token response without `expires_in` gets, as the token spec says.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

/// Who a token was minted for and what it allows: two keys are equal only when the same
/// connector, with the same credentials, asked the same realm and service for the same scopes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    /// The connector, `<namespace>/<name>`.
    pub connector: String,
    /// A hash of the connector's credentials (`None` when anonymous), so rotated credentials
    /// never reuse a token minted with the old ones.
    pub credentials: Option<TokenHash>,
    /// The token endpoint.
    pub realm: String,
    /// The `service` parameter.
    pub service: Option<String>,
    /// The normalized scope set.
    pub scopes: BTreeSet<String>,
}

/// A token and the moment it stops being used.
#[derive(Debug, Clone)]
struct Cached {
    token: SecretString,
    until: Instant,
}

/// Drops each token when its usable lifetime ends, so the cache never hands out a stale one.
struct UntilExpiry;

impl moka::Expiry<TokenKey, Cached> for UntilExpiry {
    fn expire_after_create(&self, _: &TokenKey, value: &Cached, now: Instant) -> Option<Duration> {
        Some(value.until.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _: &TokenKey,
        value: &Cached,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.until.saturating_duration_since(now))
    }
}

/// Tokens by [`TokenKey`], each kept until its usable lifetime ends. Concurrent requests for
/// a missing key share one fetch ([`TokenCache::get_or_fetch`]).
#[derive(Debug, Clone)]
pub struct TokenCache {
    entries: moka::future::Cache<TokenKey, Cached>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl TokenCache {
    /// A cache holding at most `capacity` tokens.
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: moka::future::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilExpiry)
                // No registry token lives longer than this, whatever its response says.
                .time_to_live(Duration::from_secs(3600))
                .build(),
        }
    }

    /// The cached token for `key`, if it is still usable at `now`.
    pub async fn get(&self, key: &TokenKey, now: Instant) -> Option<SecretString> {
        let cached = self.entries.get(key).await?;
        (cached.until > now).then_some(cached.token)
    }

    /// Keeps `token` for `key` until `until`.
    pub async fn insert(&self, key: TokenKey, token: SecretString, until: Instant) {
        self.entries.insert(key, Cached { token, until }).await;
    }

    /// Drops the token for `key` (the registry refused it).
    pub async fn remove(&self, key: &TokenKey) {
        self.entries.invalidate(key).await;
    }

    /// The cached token for `key`, or the one `fetch` gets, kept for the usable time it
    /// returns (zero: handed to the callers waiting now, then dropped). Callers asking for
    /// the same key while a fetch runs wait for it instead of starting their own.
    pub async fn get_or_fetch<F, E>(&self, key: TokenKey, fetch: F) -> Result<SecretString, Arc<E>>
    where
        F: Future<Output = Result<(SecretString, Duration), E>>,
        E: Send + Sync + 'static,
    {
        let fetched = async {
            let started = Instant::now();
            let (token, usable) = fetch.await?;
            Ok(Cached {
                token,
                until: started + usable,
            })
        };
        self.entries
            .try_get_with(key, fetched)
            .await
            .map(|cached| cached.token)
    }
}

/// How long a token may still be used: `expires_in` (or [`DEFAULT_LIFETIME`]) counted from
/// `issued_at` when given (else from now), minus a safety margin of a tenth of the lifetime,
/// at least 5 s and at most 30 s. Zero means "use once, do not cache".
pub fn usable_for(expires_in: Option<u64>, issued_at: Option<&str>, now: SystemTime) -> Duration {
    let lifetime = expires_in
        .filter(|s| *s > 0)
        .map_or(DEFAULT_LIFETIME, Duration::from_secs);
    let margin = (lifetime / 10).clamp(Duration::from_secs(5), Duration::from_secs(30));
    let age = issued_at
        .and_then(|text| {
            OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
        })
        .and_then(|issued| now.duration_since(SystemTime::from(issued)).ok())
        .unwrap_or_default();
    lifetime.saturating_sub(age).saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(connector: &str, scopes: &[&str]) -> TokenKey {
        TokenKey {
            connector: connector.into(),
            credentials: Some(TokenHash::of(connector)),
            realm: "https://auth/token".into(),
            service: Some("reg".into()),
            scopes: crate::scope::scope_set(scopes),
        }
    }

    #[test]
    fn lifetimes() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(usable_for(None, None, now), Duration::from_secs(54));
        assert_eq!(usable_for(Some(0), None, now), Duration::from_secs(54));
        assert_eq!(usable_for(Some(300), None, now), Duration::from_secs(270));
        assert_eq!(usable_for(Some(7200), None, now), Duration::from_secs(7170));
        assert_eq!(usable_for(Some(3), None, now), Duration::ZERO);
        // Issued 100 s ago with a 300 s lifetime: 200 s left, minus the 30 s margin.
        let issued = "2023-11-14T22:11:40Z";
        assert_eq!(
            usable_for(Some(300), Some(issued), now),
            Duration::from_secs(170)
        );
        assert_eq!(usable_for(Some(60), Some(issued), now), Duration::ZERO);
        // Issued in the future (clock skew) counts from now; garbage is ignored.
        assert_eq!(
            usable_for(Some(300), Some("2030-01-01T00:00:00Z"), now),
            Duration::from_secs(270)
        );
        assert_eq!(
            usable_for(Some(300), Some("yesterday"), now),
            Duration::from_secs(270)
        );
    }

    #[tokio::test]
    async fn connectors_and_scopes_never_share_tokens() {
        let cache = TokenCache::default();
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        cache
            .insert(key("ns/x", &["repository:a:pull,push"]), "tx".into(), later)
            .await;
        let got = cache
            .get(&key("ns/x", &["repository:a:push,pull"]), now)
            .await;
        assert_eq!(got.map(|t| t.expose().to_owned()), Some("tx".into()));
        let others = [
            key("ns/y", &["repository:a:pull,push"]),
            key("ns/x", &["repository:a:pull"]),
            TokenKey {
                credentials: None,
                ..key("ns/x", &["repository:a:pull,push"])
            },
        ];
        for other in &others {
            assert!(cache.get(other, now).await.is_none(), "{other:?}");
        }
        let same = key("ns/x", &["repository:a:pull,push"]);
        assert!(cache.get(&same, later).await.is_none());
    }

    #[tokio::test]
    async fn removed_tokens_are_gone() {
        let cache = TokenCache::default();
        let now = Instant::now();
        let k = key("ns/x", &["s"]);
        cache
            .insert(k.clone(), "t".into(), now + Duration::from_secs(9))
            .await;
        cache.remove(&k).await;
        assert!(cache.get(&k, now).await.is_none());
    }

    /// A fetch that counts its calls and takes a while, answering `usable`.
    async fn counted(
        calls: &std::sync::atomic::AtomicUsize,
        usable: Duration,
    ) -> Result<(SecretString, Duration), std::io::Error> {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok((format!("t{n}").into(), usable))
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch() {
        let cache = TokenCache::default();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let k = key("ns/x", &["repository:a:pull"]);
        let usable = Duration::from_secs(60);
        let all = futures_util::future::join_all(
            (0..20).map(|_| cache.get_or_fetch(k.clone(), counted(&calls, usable))),
        )
        .await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(all.iter().all(|t| t.as_ref().unwrap().expose() == "t0"));
        // Another key is fetched on its own; the first stays cached.
        let other = key("ns/y", &["repository:a:pull"]);
        let t = cache.get_or_fetch(other, counted(&calls, usable)).await;
        assert_eq!(t.unwrap().expose(), "t1");
        let again = cache.get_or_fetch(k, counted(&calls, usable)).await;
        assert_eq!(again.unwrap().expose(), "t0");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn use_once_tokens_and_failures_are_not_kept() {
        let cache = TokenCache::default();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let k = key("ns/x", &["repository:a:pull"]);
        for expected in ["t0", "t1"] {
            let t = cache.get_or_fetch(k.clone(), counted(&calls, Duration::ZERO));
            assert_eq!(t.await.unwrap().expose(), expected);
        }
        let failed = cache
            .get_or_fetch(k.clone(), async {
                Err::<(SecretString, Duration), _>(std::io::Error::other("down"))
            })
            .await;
        assert!(failed.is_err());
        let t = cache.get_or_fetch(k, counted(&calls, Duration::from_secs(60)));
        assert_eq!(t.await.unwrap().expose(), "t2");
    }

    proptest! {
        #[test]
        fn never_longer_than_the_lifetime(expires in proptest::option::of(0u64..100_000), age in 0u64..100_000) {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            let issued = OffsetDateTime::from(now - Duration::from_secs(age))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap();
            let left = usable_for(expires, Some(&issued), now);
            let lifetime = expires.filter(|s| *s > 0).unwrap_or(60);
            prop_assert!(left.as_secs() + age.min(lifetime) < lifetime || left.is_zero());
        }
    }
}
