//! Hot reload of the manifests folder: a rotated Secret applies without a restart.

mod support;

use std::time::{Duration, Instant};

use support::curl::curl;
use support::fixture::*;

#[test]
fn rotated_secret_reaches_the_tool_within_seconds() {
    let fixture = Fixture::start();
    let url = format!("{}/rotate", fixture.url("basic"));
    let response = curl(&["-H", &bearer_header(), &url]);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        fixture.upstream.last().header("authorization"),
        Some(tool_basic().as_str())
    );

    let rotated = "rotated-password-0c5e91";
    fixture.manifests.basic_secret("basic", TOOL_USER, rotated);
    let expected = format!("Basic {}", b64(&format!("{TOOL_USER}:{rotated}")));
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        let response = curl(&["-H", &bearer_header(), &url]);
        assert_eq!(response.status, 200, "{}", response.text());
        if fixture.upstream.last().header("authorization") == Some(expected.as_str()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rotated Secret was not picked up within 8 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !fixture.proxy.logs().contains(rotated),
        "the new password was logged"
    );
}

#[test]
fn new_role_binding_applies_without_restart() {
    let fixture = Fixture::start();
    let url = format!("{}/grant", fixture.url("basic"));
    let intruder = format!("Authorization: Bearer {INTRUDER_TOKEN}");
    assert_eq!(curl(&["-H", &intruder, &url]).status, 403);

    // A cached denial may live up to 10 s (design §4), plus the reload interval.
    fixture.manifests.grant("intruder", &["basic"]);
    let deadline = Instant::now() + Duration::from_secs(16);
    while curl(&["-H", &intruder, &url]).status != 200 {
        assert!(
            Instant::now() < deadline,
            "the new RoleBinding was not picked up within 16 s"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}
