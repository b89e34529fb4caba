//! Serving positive results during an outage of the inner reviewer.

use super::*;

/// Fresh results live [`SHORT`]; positive ones may stand in for `window` after confirmation.
fn outage_settings(window: Duration) -> CacheSettings {
    CacheSettings {
        authentication_ttl: SHORT,
        allow_ttl: SHORT,
        deny_ttl: SHORT,
        stale_window: window,
        ..settings()
    }
}

#[tokio::test]
async fn allows_are_served_stale_within_the_window_only() {
    let fake = Fake::new();
    let (cache, _) = cached(&fake, outage_settings(Duration::from_millis(700)));
    assert!(may_use(&cache, "tok", "git").await.unwrap());

    fake.allows(Err(outage()));
    tokio::time::sleep(PAST_SHORT).await;
    assert!(may_use(&cache, "tok", "git").await.unwrap());
    assert_eq!(fake.calls().1, 2, "the inner reviewer was asked first");
    // Nothing was known about this connector: fail closed.
    assert!(may_use(&cache, "tok", "ci").await.is_err());

    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(matches!(
        may_use(&cache, "tok", "git").await,
        Err(ReviewError::Unavailable(_))
    ));
}

#[tokio::test]
async fn denies_are_never_served_stale() {
    let fake = Fake::new();
    let (cache, _) = cached(&fake, outage_settings(LONG));
    fake.allows(Ok(false));
    assert!(!may_use(&cache, "tok", "git").await.unwrap());

    fake.allows(Err(outage()));
    tokio::time::sleep(PAST_SHORT).await;
    assert!(may_use(&cache, "tok", "git").await.is_err());
}

#[tokio::test]
async fn a_later_deny_forgets_the_earlier_allow() {
    let fake = Fake::new();
    let (cache, _) = cached(&fake, outage_settings(LONG));
    assert!(may_use(&cache, "tok", "git").await.unwrap());
    tokio::time::sleep(PAST_SHORT).await;
    fake.allows(Ok(false));
    assert!(!may_use(&cache, "tok", "git").await.unwrap());

    fake.allows(Err(outage()));
    tokio::time::sleep(PAST_SHORT).await;
    assert!(may_use(&cache, "tok", "git").await.is_err());
}

#[tokio::test]
async fn authentications_are_served_stale_but_never_past_token_expiry() {
    let fake = Fake::new();
    let (cache, _) = cached(&fake, outage_settings(LONG));
    let lasting = ClientToken::new("lasting");
    let expiring = ClientToken::new("expiring");
    fake.authenticates(Ok(authenticated(None)));
    assert!(is_authenticated(&cache.authenticate(&lasting).await));
    let expires_at = SystemTime::now() + Duration::from_millis(500);
    fake.authenticates(Ok(authenticated(Some(expires_at))));
    assert!(is_authenticated(&cache.authenticate(&expiring).await));

    fake.authenticates(Err(outage()));
    tokio::time::sleep(PAST_SHORT).await;
    assert!(is_authenticated(&cache.authenticate(&lasting).await));
    assert!(is_authenticated(&cache.authenticate(&expiring).await));
    assert_eq!(fake.calls().0, 4, "the inner reviewer was asked first");

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(is_authenticated(&cache.authenticate(&lasting).await));
    assert!(cache.authenticate(&expiring).await.is_err());
}

#[tokio::test]
async fn rejected_tokens_are_never_served_stale() {
    let fake = Fake::new();
    let (cache, _) = cached(&fake, outage_settings(LONG));
    let token = ClientToken::new("tok");
    assert!(is_authenticated(&cache.authenticate(&token).await));
    tokio::time::sleep(PAST_SHORT).await;
    fake.authenticates(Ok(Authentication::Rejected));
    assert!(!is_authenticated(&cache.authenticate(&token).await));

    fake.authenticates(Err(outage()));
    tokio::time::sleep(PAST_SHORT).await;
    assert!(cache.authenticate(&token).await.is_err());
}
