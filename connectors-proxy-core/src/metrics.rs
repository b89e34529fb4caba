//! Prometheus metrics: requests by mode and status, upstream latency, review cache use.
//!
//! Labels are low-cardinality and never carry a token, a credential or a path.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    mode: &'static str,
    status: u16,
}

/// Labels of the upstream latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: &'static str,
}

/// Labels of the review cache counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    review: &'static str,
    result: &'static str,
}

/// The proxy's metrics, shared by every layer that records something.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    upstream_seconds: Family<ModeLabels, Histogram>,
    review_cache: Family<CacheLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates the metrics and registers them.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("connectors_proxy");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by mode and status code",
            requests.clone(),
        );
        let upstream_seconds = Family::<ModeLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        registry.register(
            "upstream_response_seconds",
            "Time from sending a request to the tool until its response headers arrived",
            upstream_seconds.clone(),
        );
        let review_cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "review_cache",
            "Review cache lookups, by review kind and hit or miss",
            review_cache.clone(),
        );
        Self {
            registry,
            requests,
            upstream_seconds,
            review_cache,
        }
    }

    /// Counts one answered request.
    pub(crate) fn record_request(&self, mode: &'static str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels { mode, status })
            .inc();
    }

    /// Records how long the tool took to send response headers.
    pub(crate) fn observe_upstream(&self, mode: &'static str, seconds: f64) {
        self.upstream_seconds
            .get_or_create(&ModeLabels { mode })
            .observe(seconds);
    }

    /// Counts one review cache lookup; `review` is `authentication` or `authorization`.
    pub(crate) fn record_review_cache(&self, review: &'static str, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.review_cache
            .get_or_create(&CacheLabels { review, result })
            .inc();
    }

    /// The metrics in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_recorded_values() {
        let metrics = Metrics::new();
        metrics.record_request("reverse", 200);
        metrics.record_review_cache("authentication", true);
        metrics.observe_upstream("reverse", 0.01);
        let text = metrics.encode();
        assert!(
            text.contains(r#"connectors_proxy_requests_total{mode="reverse",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains(
            r#"connectors_proxy_review_cache_total{review="authentication",result="hit"} 1"#
        ));
        assert!(text.contains("connectors_proxy_upstream_response_seconds_count"));
    }
}
