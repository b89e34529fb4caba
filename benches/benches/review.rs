//! Review costs without network: the uncached reviewer call that every request would pay
//! without a cache, as the baseline, and a hit in `CachedReviewer` (design target: under 2 µs).

mod support;

use std::hint::black_box;
use std::sync::Arc;

use connectors_proxy_core::metrics::Metrics;
use connectors_proxy_core::review::{
    AccessCheck, Authentication, CacheSettings, CachedReviewer, Identity, Reviewer,
};
use connectors_proxy_core::secret::ClientToken;
use criterion::{Criterion, criterion_group, criterion_main};
use support::{CONNECTOR, InstantReviewer, NS, client_token};

/// Authenticates then authorizes one request, as the authorize layer does.
async fn review(reviewer: &dyn Reviewer, token: &ClientToken, check: &AccessCheck) -> bool {
    let Ok(Authentication::Authenticated { user, .. }) = reviewer.authenticate(token).await else {
        return false;
    };
    let identity = Identity {
        user,
        token_hash: token.hash(),
    };
    reviewer
        .authorize(&identity, check)
        .await
        .unwrap_or_default()
}

fn uncached(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let token = ClientToken::new(client_token());
    let check = AccessCheck::use_connector(NS, CONNECTOR, false);
    let reviewer: Arc<dyn Reviewer> = Arc::new(InstantReviewer::new(token.expose()));
    assert!(
        runtime.block_on(review(reviewer.as_ref(), &token, &check)),
        "the bench token must be allowed"
    );
    c.bench_function("review/uncached_instant", |b| {
        b.to_async(&runtime)
            .iter(|| review(black_box(reviewer.as_ref()), &token, &check))
    });
}

/// A cache hit for authenticate + authorize: the token (and its SHA-256) built once outside the
/// loop, as the stack does before it reviews; then the same with `ClientToken::new` (the
/// hashing of a 1 KiB token) inside the timed call.
fn cached(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let raw = client_token();
    let token = ClientToken::new(raw.clone());
    let check = AccessCheck::use_connector(NS, CONNECTOR, false);
    let inner: Arc<dyn Reviewer> = Arc::new(InstantReviewer::new(token.expose()));
    let cached: Arc<dyn Reviewer> = Arc::new(CachedReviewer::new(
        inner,
        CacheSettings::default(),
        Arc::new(Metrics::new()),
    ));
    assert!(
        runtime.block_on(review(cached.as_ref(), &token, &check)),
        "the bench token must be allowed (and is now cached)"
    );
    c.bench_function("review/cached_hit", |b| {
        b.to_async(&runtime)
            .iter(|| review(black_box(cached.as_ref()), &token, &check))
    });
    c.bench_function("review/cached_hit_with_token_hash", |b| {
        b.to_async(&runtime).iter(|| async {
            let token = ClientToken::new(black_box(raw.as_str()));
            review(black_box(cached.as_ref()), &token, &check).await
        })
    });
}

criterion_group!(benches, uncached, cached);
criterion_main!(benches);
