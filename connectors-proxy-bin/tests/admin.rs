//! The admin listener and graceful shutdown.

mod support;

use std::time::Duration;

use support::curl::curl;
use support::fixture::*;
use support::upstream::{Reply, Upstream};

#[test]
fn health_readiness_and_metrics() {
    let fixture = Fixture::start();
    let admin = fixture.proxy.admin_url();
    assert_eq!(curl(&[&format!("{admin}/healthz")]).status, 200);
    assert_eq!(curl(&[&format!("{admin}/readyz")]).status, 200);

    let response = curl(&[
        "-H",
        &bearer_header(),
        &format!("{}/m", fixture.url("basic")),
    ]);
    assert_eq!(response.status, 200, "{}", response.text());
    let metrics = curl(&[&format!("{admin}/metrics")]);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text().contains("connectors_proxy_requests_total"),
        "{}",
        metrics.text()
    );
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_zero() {
    let upstream =
        Upstream::with_handler(|_| Reply::ok("finished late").delayed(Duration::from_secs(2)));
    let mut fixture = Fixture::with(upstream, &[], &[]);
    let url = format!("{}/slow", fixture.url("basic"));
    let request = std::thread::spawn(move || curl(&["-H", &bearer_header(), &url]));
    fixture
        .upstream
        .wait_for_requests(1, Duration::from_secs(10));

    fixture.proxy.terminate();
    let response = request.join().expect("the client thread");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), "finished late");
    let status = fixture
        .proxy
        .wait_exit(Duration::from_secs(20))
        .expect("the proxy did not exit after SIGTERM");
    assert!(status.success(), "exit status {status}");
}
