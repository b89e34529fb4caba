//! Review costs without network: the uncached reviewer call that every request would pay
//! without a cache, as the baseline for the cached review (design target: under 2 µs).

mod support;

use std::hint::black_box;
use std::sync::Arc;

use connectors_proxy_core::review::{AccessCheck, Authentication, Identity, Reviewer};
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

// ---------------------------------------------------------------------------------------------
// Cached review: to be added once `review::CachedReviewer` is implemented. Build it as
// `CachedReviewer::new(reviewer.clone(), CacheSettings::default(), Arc::new(Metrics::new()))`,
// warm it with one `review` call, then time `review` against the cached reviewer here (a
// `cached_hit` bench, plus a `cached_miss` one with a fresh token per iteration), and add the
// function to `criterion_group!` below.
// ---------------------------------------------------------------------------------------------

criterion_group!(benches, uncached);
criterion_main!(benches);
