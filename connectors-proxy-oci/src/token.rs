//! Registry tokens: the cache key, the cache, and how long a token may be used.

use std::collections::BTreeSet;
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

/// Tokens by [`TokenKey`], each kept until its usable lifetime ends.
#[derive(Debug, Clone)]
pub struct TokenCache {
    entries: moka::sync::Cache<TokenKey, Cached>,
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
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                // No registry token lives longer than this, whatever its response says.
                .time_to_live(Duration::from_secs(3600))
                .build(),
        }
    }

    /// The cached token for `key`, if it is still usable at `now`.
    pub fn get(&self, key: &TokenKey, now: Instant) -> Option<SecretString> {
        let cached = self.entries.get(key)?;
        if cached.until > now {
            return Some(cached.token);
        }
        self.entries.invalidate(key);
        None
    }

    /// Keeps `token` for `key` until `until`.
    pub fn insert(&self, key: TokenKey, token: SecretString, until: Instant) {
        self.entries.insert(key, Cached { token, until });
    }

    /// Drops the token for `key` (the registry refused it).
    pub fn remove(&self, key: &TokenKey) {
        self.entries.invalidate(key);
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

    #[test]
    fn connectors_and_scopes_never_share_tokens() {
        let cache = TokenCache::default();
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        cache.insert(key("ns/x", &["repository:a:pull,push"]), "tx".into(), later);
        assert_eq!(
            cache
                .get(&key("ns/x", &["repository:a:push,pull"]), now)
                .map(|t| t.expose().to_owned()),
            Some("tx".into())
        );
        assert!(
            cache
                .get(&key("ns/y", &["repository:a:pull,push"]), now)
                .is_none()
        );
        assert!(
            cache
                .get(&key("ns/x", &["repository:a:pull"]), now)
                .is_none()
        );
        let mut anonymous = key("ns/x", &["repository:a:pull,push"]);
        anonymous.credentials = None;
        assert!(cache.get(&anonymous, now).is_none());
        assert!(
            cache
                .get(&key("ns/x", &["repository:a:pull,push"]), later)
                .is_none()
        );
    }

    #[test]
    fn removed_tokens_are_gone() {
        let cache = TokenCache::default();
        let now = Instant::now();
        cache.insert(
            key("ns/x", &["s"]),
            "t".into(),
            now + Duration::from_secs(9),
        );
        cache.remove(&key("ns/x", &["s"]));
        assert!(cache.get(&key("ns/x", &["s"]), now).is_none());
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
