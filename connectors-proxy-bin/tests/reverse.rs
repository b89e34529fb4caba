//! The reverse proxy driven by real curl: addressing, client auth, injection and refusals.

mod support;

use std::time::{Duration, Instant};

use support::curl::{CurlResponse, curl};
use support::fixture::*;
use support::manifests::NS;
use support::upstream::{Reply, Upstream};

fn get_with_bearer(url: &str) -> CurlResponse {
    curl(&["-H", &bearer_header(), url])
}

/// Asserts the tool saw exactly the connector's credential and nothing of the client's.
fn assert_clean_injection(fixture: &Fixture, expected: &str) {
    let seen = fixture.upstream.last();
    assert_eq!(seen.header_values("authorization"), vec![expected]);
    let all = format!("{:?}", seen.headers);
    assert!(
        !all.contains(CLIENT_TOKEN),
        "client token reached the tool: {all}"
    );
    assert!(!all.contains(&b64(&format!(":{CLIENT_TOKEN}"))), "{all}");
}

#[test]
fn path_form_injects_basic_and_bearer_credentials() {
    let fixture = Fixture::start();
    let response = get_with_bearer(&format!("{}/repo/info", fixture.url("basic")));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), "upstream ok");
    assert_eq!(fixture.upstream.last().target, "/repo/info");
    assert_clean_injection(&fixture, &tool_basic());
    assert_eq!(
        fixture.upstream.last().header("host"),
        Some(fixture.upstream.addr().to_string().as_str())
    );

    let response = get_with_bearer(&format!("{}/v1/items", fixture.url("bearer")));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_clean_injection(&fixture, &format!("Bearer {TOOL_TOKEN}"));
}

#[test]
fn host_form_resolves_every_host_spelling() {
    let fixture = Fixture::start();
    let url = format!("{}/from-host?x=1", fixture.proxy.url());
    for host in [
        format!("c-basic.{NS}"),
        format!("c-basic.{NS}.svc"),
        format!("c-basic.{NS}.svc.cluster.local"),
    ] {
        let response = curl(&[
            "-H",
            &format!("Host: {host}"),
            "-u",
            &format!(":{CLIENT_TOKEN}"),
            &url,
        ]);
        assert_eq!(response.status, 200, "{host}: {}", response.text());
        assert_eq!(fixture.upstream.last().target, "/from-host?x=1", "{host}");
        assert_clean_injection(&fixture, &tool_basic());
    }
}

#[test]
fn every_client_credential_form_is_accepted() {
    let fixture = Fixture::start();
    let url = format!("{}/forms", fixture.url("basic"));
    let basic_no_colon = format!("Authorization: Basic {}", b64(CLIENT_TOKEN));
    let bearer = format!("Authorization: Bearer {CLIENT_TOKEN}");
    let empty_user = format!(":{CLIENT_TOKEN}");
    let any_user = format!("anything:{CLIENT_TOKEN}");
    let forms: [[&str; 2]; 4] = [
        ["-u", &empty_user],
        ["-u", &any_user],
        ["-H", &basic_no_colon],
        ["-H", &bearer],
    ];
    for [flag, value] in forms {
        let response = curl(&[flag, value, &url]);
        assert_eq!(response.status, 200, "{flag} {value}: {}", response.text());
        assert_clean_injection(&fixture, &tool_basic());
    }
    assert_eq!(fixture.upstream.requests().len(), 4);
}

#[test]
fn refusals_are_json_and_never_forwarded() {
    let fixture = Fixture::start();
    let url = format!("{}/secret-stuff", fixture.url("basic"));

    let anonymous = curl(&[&url]);
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Basic realm=\"connectors-proxy\"")
    );
    anonymous.error_word();

    let wrong = curl(&["-u", ":not-a-known-token", &url]);
    assert_eq!(wrong.status, 401);

    // "\xff:token" in base64: the header is Basic, but not UTF-8 once decoded.
    let garbled = curl(&["-H", "Authorization: Basic /zp0b2tlbg==", &url]);
    assert_eq!(garbled.status, 401);
    assert!(
        garbled.text().contains("not valid base64"),
        "{}",
        garbled.text()
    );

    let intruder = curl(&[
        "-H",
        &format!("Authorization: Bearer {INTRUDER_TOKEN}"),
        &url,
    ]);
    assert_eq!(intruder.status, 403, "{}", intruder.text());
    intruder.error_word();
    assert!(!intruder.text().contains(INTRUDER_TOKEN));

    let unknown_url = format!("{}/x", fixture.url("no-such-connector"));
    let unknown = get_with_bearer(&unknown_url);
    assert_eq!(unknown.status, 404, "{}", unknown.text());
    unknown.error_word();
    assert!(!unknown.text().contains(CLIENT_TOKEN));
    let unknown_anonymous = curl(&[&unknown_url]);
    assert_eq!(unknown_anonymous.status, 401);

    assert!(
        fixture.upstream.requests().is_empty(),
        "a refused request was forwarded"
    );
}

#[test]
fn unreachable_tool_gives_502() {
    let fixture = Fixture::start();
    let response = get_with_bearer(&format!("{}/x", fixture.url("down")));
    assert_eq!(response.status, 502, "{}", response.text());
    response.error_word();
}

#[test]
fn slow_tool_gives_504_after_the_upstream_timeout() {
    let upstream = Upstream::with_handler(|_| Reply::ok("late").delayed(Duration::from_secs(8)));
    let fixture = Fixture::with(upstream, &["--upstream-timeout", "1"], &[]);
    let started = Instant::now();
    let response = get_with_bearer(&format!("{}/slow", fixture.url("basic")));
    assert_eq!(response.status, 504, "{}", response.text());
    response.error_word();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn optional_auth_without_secret_sends_no_authorization() {
    let fixture = Fixture::start();
    let response = get_with_bearer(&format!("{}/public", fixture.url("optional")));
    assert_eq!(response.status, 200, "{}", response.text());
    let seen = fixture.upstream.last();
    assert_eq!(seen.target, "/public");
    assert!(seen.header("authorization").is_none(), "{:?}", seen.headers);
}

#[test]
fn paths_and_queries_reach_the_tool_byte_for_byte() {
    let fixture = Fixture::start();
    let cases = [
        ("basic", "/x", "/x"),
        ("prefixed", "/x", "/api/x"),
        (
            "prefixed",
            "/g/r.git/info/refs?service=git-upload-pack",
            "/api/g/r.git/info/refs?service=git-upload-pack",
        ),
        (
            "basic",
            "/api/v4/projects/group%2Fproject/files/dir%2Ffile?ref=main",
            "/api/v4/projects/group%2Fproject/files/dir%2Ffile?ref=main",
        ),
        ("basic", "/a//b/", "/a//b/"),
        ("prefixed", "/q?a=%2B&b=&a=2", "/api/q?a=%2B&b=&a=2"),
        ("basic", "/p%25q", "/p%25q"),
    ];
    for (connector, rest, expected) in cases {
        let response = get_with_bearer(&format!("{}{rest}", fixture.url(connector)));
        assert_eq!(
            response.status,
            200,
            "{connector}{rest}: {}",
            response.text()
        );
        assert_eq!(
            fixture.upstream.last().target,
            expected,
            "{connector}{rest}"
        );
    }
}

#[test]
fn dot_segments_never_reach_the_tool() {
    let fixture = Fixture::start();
    let before = fixture.upstream.requests().len();
    for rest in ["/../x", "/a/%2e%2e/x", "/.%2E", "/a/..%2Fx", "/./x"] {
        let url = format!("{}{rest}", fixture.url("prefixed"));
        let response = curl(&["--path-as-is", "-H", &bearer_header(), &url]);
        assert_eq!(response.status, 400, "{rest}: {}", response.text());
        assert!(response.text().contains("segment"), "{}", response.text());
    }
    assert_eq!(fixture.upstream.requests().len(), before);
}

#[test]
fn locations_and_links_pointing_at_the_tool_are_rewritten() {
    let upstream_url = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let tool = upstream_url.clone();
    let upstream = Upstream::with_handler(move |req| {
        let tool = tool.get().expect("tool url set");
        match req.target.as_str() {
            "/api/absolute" => {
                Reply::status(302).header("location", &format!("{tool}/api/next?s=a%2Bb&t="))
            }
            "/api/relative" => Reply::status(201).header("location", "/api/uploads/7?_state=x%3D"),
            "/api/elsewhere" => {
                Reply::status(307).header("location", "https://storage.example.invalid/blob?sig=1")
            }
            _ => Reply::ok("page").header("link", &format!("<{tool}/api/page/2>; rel=\"next\"")),
        }
    });
    upstream_url.set(upstream.url()).unwrap();
    let fixture = Fixture::with(upstream, &[], &[]);
    let base = fixture.url("prefixed");
    let resolve = |location: &str| {
        if location.starts_with('/') {
            format!("{}{location}", fixture.proxy.url())
        } else {
            location.to_owned()
        }
    };

    let absolute = get_with_bearer(&format!("{base}/absolute"));
    assert_eq!(absolute.status, 302);
    assert_eq!(
        resolve(absolute.header("location").unwrap()),
        format!("{base}/next?s=a%2Bb&t=")
    );

    let relative = get_with_bearer(&format!("{base}/relative"));
    assert_eq!(relative.status, 201);
    assert_eq!(
        resolve(relative.header("location").unwrap()),
        format!("{base}/uploads/7?_state=x%3D")
    );

    let elsewhere = get_with_bearer(&format!("{base}/elsewhere"));
    assert_eq!(elsewhere.status, 307);
    assert_eq!(
        elsewhere.header("location"),
        Some("https://storage.example.invalid/blob?sig=1")
    );

    let linked = get_with_bearer(&format!("{base}/list"));
    assert_eq!(
        linked.header("link"),
        Some(format!("<{base}/page/2>; rel=\"next\"").as_str())
    );
}

#[test]
fn repeated_response_headers_stay_separate_and_tool_refusals_pass_through() {
    let fixture = Fixture::with_handler(|req| match req.target.as_str() {
        "/cookies" => Reply::ok("c")
            .header("set-cookie", "a=1; Path=/")
            .header("set-cookie", "b=2; Path=/"),
        "/denied" => Reply::status(403).body("tool forbids this"),
        _ => Reply::status(401)
            .header("www-authenticate", "Basic realm=\"tool\"")
            .body("tool wants auth"),
    });
    let cookies = get_with_bearer(&format!("{}/cookies", fixture.url("basic")));
    assert_eq!(
        cookies.header_values("set-cookie"),
        vec!["a=1; Path=/", "b=2; Path=/"]
    );

    let unauthorized = get_with_bearer(&format!("{}/login", fixture.url("basic")));
    assert_eq!(unauthorized.status, 401);
    assert_eq!(unauthorized.text(), "tool wants auth");
    assert_eq!(
        unauthorized.header("www-authenticate"),
        Some("Basic realm=\"tool\"")
    );

    let denied = get_with_bearer(&format!("{}/denied", fixture.url("basic")));
    assert_eq!(denied.status, 403);
    assert_eq!(denied.text(), "tool forbids this");
}
