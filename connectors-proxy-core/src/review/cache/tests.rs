use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::review::UserInfo;

/// A reviewer whose answers the test sets, counting the calls it gets.
struct Fake {
    authentication: Mutex<Result<Authentication, ReviewError>>,
    allowed: Mutex<Result<bool, ReviewError>>,
    delay: Duration,
    authentications: AtomicUsize,
    authorizations: AtomicUsize,
}

impl Fake {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            authentication: Mutex::new(Ok(authenticated(None))),
            allowed: Mutex::new(Ok(true)),
            delay: Duration::ZERO,
            authentications: AtomicUsize::new(0),
            authorizations: AtomicUsize::new(0),
        })
    }

    fn slow(delay: Duration) -> Arc<Self> {
        let mut fake = Arc::into_inner(Self::new()).unwrap();
        fake.delay = delay;
        Arc::new(fake)
    }

    fn authenticates(&self, outcome: Result<Authentication, ReviewError>) {
        *self.authentication.lock().unwrap() = outcome;
    }

    fn allows(&self, outcome: Result<bool, ReviewError>) {
        *self.allowed.lock().unwrap() = outcome;
    }

    fn calls(&self) -> (usize, usize) {
        (
            self.authentications.load(Ordering::SeqCst),
            self.authorizations.load(Ordering::SeqCst),
        )
    }
}

#[async_trait]
impl Reviewer for Fake {
    async fn authenticate(&self, _: &ClientToken) -> Result<Authentication, ReviewError> {
        self.authentications.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.authentication.lock().unwrap().clone()
    }

    async fn authorize(&self, _: &Identity, _: &AccessCheck) -> Result<bool, ReviewError> {
        self.authorizations.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.allowed.lock().unwrap().clone()
    }
}

fn authenticated(expires_at: Option<SystemTime>) -> Authentication {
    Authentication::Authenticated {
        user: Arc::new(UserInfo {
            username: "alice".to_owned(),
            ..Default::default()
        }),
        expires_at,
    }
}

fn outage() -> ReviewError {
    ReviewError::Unavailable("connection refused".to_owned())
}

const LONG: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(100);
/// Comfortably longer than [`SHORT`], for a loaded machine.
const PAST_SHORT: Duration = Duration::from_millis(250);

/// Settings with every lifetime long unless a test shortens it.
fn settings() -> CacheSettings {
    CacheSettings {
        authentication_ttl: LONG,
        allow_ttl: LONG,
        deny_ttl: LONG,
        stale_window: LONG,
        max_entries: 1_000,
    }
}

fn cached(fake: &Arc<Fake>, settings: CacheSettings) -> (CachedReviewer, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let inner: Arc<dyn Reviewer> = fake.clone();
    (
        CachedReviewer::new(inner, settings, metrics.clone()),
        metrics,
    )
}

fn identity(token: &str) -> Identity {
    Identity {
        user: Arc::new(UserInfo::default()),
        token_hash: TokenHash::of(token),
    }
}

fn check(name: &str) -> AccessCheck {
    AccessCheck::use_connector("team-a", name, false)
}

/// The cache's answer to whether the holder of `token` may use connector `name`.
async fn may_use(cache: &CachedReviewer, token: &str, name: &str) -> Result<bool, ReviewError> {
    cache.authorize(&identity(token), &check(name)).await
}

fn is_authenticated(outcome: &Result<Authentication, ReviewError>) -> bool {
    matches!(outcome, Ok(Authentication::Authenticated { .. }))
}

#[tokio::test]
async fn hits_do_not_call_the_inner_reviewer() {
    let fake = Fake::new();
    let (cache, metrics) = cached(&fake, settings());
    let token = ClientToken::new("tok");
    for _ in 0..3 {
        assert!(is_authenticated(&cache.authenticate(&token).await));
        assert!(may_use(&cache, "tok", "git").await.unwrap());
    }
    assert_eq!(fake.calls(), (1, 1));

    // Another connector, or another token, is another question.
    assert!(may_use(&cache, "tok", "ci").await.unwrap());
    assert!(may_use(&cache, "other", "git").await.unwrap());
    assert!(is_authenticated(
        &cache.authenticate(&ClientToken::new("other")).await
    ));
    assert_eq!(fake.calls(), (2, 3));

    let text = metrics.encode();
    for (review, result, count) in [
        ("authentication", "hit", 2),
        ("authentication", "miss", 2),
        ("authorization", "hit", 2),
        ("authorization", "miss", 3),
    ] {
        let line = format!(
            r#"connectors_proxy_review_cache_total{{review="{review}",result="{result}"}} {count}"#
        );
        assert!(text.contains(&line), "{line} not in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_misses_share_one_call() {
    let fake = Fake::slow(Duration::from_millis(100));
    let (cache, _) = cached(&fake, settings());
    let cache = Arc::new(cache);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                let token = ClientToken::new("tok");
                let authenticated = is_authenticated(&cache.authenticate(&token).await);
                let allowed = may_use(&cache, "tok", "git").await;
                authenticated && allowed.unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap());
    }
    assert_eq!(fake.calls(), (1, 1));
}

#[tokio::test]
async fn denies_expire_after_the_deny_ttl_and_allows_do_not() {
    let fake = Fake::new();
    let (cache, _) = cached(
        &fake,
        CacheSettings {
            deny_ttl: SHORT,
            ..settings()
        },
    );
    fake.allows(Ok(false));
    assert!(!may_use(&cache, "tok", "denied").await.unwrap());
    fake.allows(Ok(true));
    assert!(may_use(&cache, "tok", "allowed").await.unwrap());
    assert!(!may_use(&cache, "tok", "denied").await.unwrap());
    assert_eq!(fake.calls().1, 2);

    tokio::time::sleep(PAST_SHORT).await;
    assert!(may_use(&cache, "tok", "denied").await.unwrap());
    assert!(may_use(&cache, "tok", "allowed").await.unwrap());
    assert_eq!(fake.calls().1, 3, "only the deny was asked again");
}

#[tokio::test]
async fn rejected_tokens_are_remembered_for_the_deny_ttl() {
    let fake = Fake::new();
    let (cache, _) = cached(
        &fake,
        CacheSettings {
            deny_ttl: SHORT,
            ..settings()
        },
    );
    let token = ClientToken::new("tok");
    fake.authenticates(Ok(Authentication::Rejected));
    for _ in 0..3 {
        assert!(!is_authenticated(&cache.authenticate(&token).await));
    }
    assert_eq!(fake.calls().0, 1);

    fake.authenticates(Ok(authenticated(None)));
    tokio::time::sleep(PAST_SHORT).await;
    assert!(is_authenticated(&cache.authenticate(&token).await));
    assert_eq!(fake.calls().0, 2);
}

#[tokio::test]
async fn authentication_never_outlives_the_token() {
    let fake = Fake::new();
    let (cache, _) = cached(&fake, settings());
    let token = ClientToken::new("tok");
    fake.authenticates(Ok(authenticated(Some(SystemTime::now() + SHORT))));
    assert!(is_authenticated(&cache.authenticate(&token).await));
    assert!(is_authenticated(&cache.authenticate(&token).await));
    assert_eq!(fake.calls().0, 1);

    fake.authenticates(Ok(Authentication::Rejected));
    tokio::time::sleep(PAST_SHORT).await;
    assert!(!is_authenticated(&cache.authenticate(&token).await));
    assert_eq!(fake.calls().0, 2);
}

#[tokio::test]
async fn errors_are_not_cached() {
    let fake = Fake::new();
    let (cache, _) = cached(&fake, settings());
    let token = ClientToken::new("tok");
    fake.authenticates(Err(outage()));
    fake.allows(Err(outage()));
    assert!(matches!(
        cache.authenticate(&token).await,
        Err(ReviewError::Unavailable(_))
    ));
    assert!(may_use(&cache, "tok", "git").await.is_err());

    fake.authenticates(Ok(authenticated(None)));
    fake.allows(Ok(true));
    assert!(is_authenticated(&cache.authenticate(&token).await));
    assert!(may_use(&cache, "tok", "git").await.unwrap());
    assert_eq!(fake.calls(), (2, 2));
}

mod stale;
