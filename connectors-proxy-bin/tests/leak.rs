//! No secret or client token ever leaves the proxy: not in logs, responses or metrics.

mod support;

use support::curl::curl;
use support::fixture::*;
use support::upstream::{Reply, Upstream};

#[test]
fn trace_logs_responses_and_metrics_carry_no_secret() {
    let upstream = Upstream::with_handler(|req| match req.target.as_str() {
        "/tool-denies" => Reply::status(401)
            .header("www-authenticate", "Basic realm=\"tool\"")
            .body("no"),
        _ => Reply::ok("fine").header("x-tool", "1"),
    });
    let fixture = Fixture::with(
        upstream,
        &["--log-format", "text"],
        &[("RUST_LOG", "trace")],
    );
    let bearer = bearer_header();
    let basic_any = format!("x:{CLIENT_TOKEN}");
    let basic_empty = format!(":{CLIENT_TOKEN}");
    let intruder = format!("Authorization: Bearer {INTRUDER_TOKEN}");
    let scenario: Vec<(u16, Vec<String>)> = vec![
        (
            200,
            vec![
                "-H".into(),
                bearer.clone(),
                fixture.url("basic") + "/ok?x=1",
            ],
        ),
        (
            200,
            vec!["-u".into(), basic_any, fixture.url("bearer") + "/ok"],
        ),
        (
            200,
            vec![
                "-u".into(),
                basic_empty.clone(),
                fixture.url("prefixed") + "/ok",
            ],
        ),
        (
            200,
            vec![
                "--data-binary".into(),
                "payload".into(),
                "-H".into(),
                bearer.clone(),
                fixture.url("basic") + "/post",
            ],
        ),
        (401, vec![fixture.url("basic") + "/anonymous"]),
        (
            401,
            vec![
                "-u".into(),
                ":wrong-token-value".into(),
                fixture.url("basic") + "/bad",
            ],
        ),
        (
            403,
            vec!["-H".into(), intruder, fixture.url("basic") + "/intruder"],
        ),
        (
            404,
            vec!["-H".into(), bearer.clone(), fixture.url("missing") + "/x"],
        ),
        (
            502,
            vec!["-u".into(), basic_empty, fixture.url("down") + "/x"],
        ),
        (
            401,
            vec!["-H".into(), bearer, fixture.url("basic") + "/tool-denies"],
        ),
    ];
    let mut received = Vec::new();
    for (expected, args) in &scenario {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let response = curl(&args);
        assert_eq!(response.status, *expected, "{args:?}: {}", response.text());
        received.push(String::from_utf8_lossy(&response.raw).into_owned());
    }
    assert_eq!(
        fixture.upstream.requests().len(),
        5,
        "the successful requests reached the tool"
    );
    let metrics = curl(&[&format!("{}/metrics", fixture.proxy.admin_url())]);
    assert_eq!(metrics.status, 200);
    received.push(metrics.text());

    std::thread::sleep(std::time::Duration::from_millis(300));
    let logs = fixture.proxy.logs();
    assert!(
        logs.lines().count() > 2,
        "trace logging produced almost nothing:\n{logs}"
    );
    for needle in secret_needles() {
        assert!(
            !logs.contains(&needle),
            "a secret appears in the logs:\n{logs}"
        );
        for (i, text) in received.iter().enumerate() {
            assert!(
                !text.contains(&needle),
                "a secret appears in response {i}:\n{text}"
            );
        }
    }
}
