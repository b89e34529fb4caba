//! The forward proxy driven by real curl (`-x http://ns%2Fname:TOKEN@proxy`): injection for
//! `http://` and `https://` targets, proxy authentication, non-targets and target matching.

mod support;

use support::curl::{CurlResponse, curl};
use support::fixture::*;
use support::forward_fixture::*;
use support::manifests::{Manifests, NS};
use support::raw::{connect_head, status_of};
use support::tls_tool::{HttpsTool, TestCa};
use support::upstream::Upstream;

/// `curl -x <proxy> [--cacert <proxy CA>] <args>` without showing the CONNECT response.
fn via(fwd: &Forward, proxy: &str, args: &[&str]) -> CurlResponse {
    let ca = fwd.proxy_ca();
    let mut all = vec!["-x", proxy, "--suppress-connect-headers", "--cacert", &ca];
    all.extend_from_slice(args);
    curl(&all)
}

/// Asserts no client secret or proxy header appears in `headers`.
fn assert_nothing_of_the_client(headers: &[(String, String)]) {
    let all = format!("{headers:?}");
    assert!(
        !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("proxy-authorization")),
        "Proxy-Authorization reached the tool: {all}"
    );
    for needle in [CLIENT_TOKEN, "dXNlcjpwYXNzd29yZA==", "fake-token"] {
        assert!(!all.contains(needle), "{needle} reached the tool: {all}");
    }
    assert!(!all.contains(&b64(&format!("{NS}/{HTTP_BEARER}:{CLIENT_TOKEN}"))));
}

#[test]
fn each_listed_connector_injects_its_own_credentials_replacing_fake_ones() {
    let fwd = Forward::start(&[]);
    let proxy = fwd.proxy_for(&format!("{TLS_BASIC},{HTTP_BEARER}"));

    // kubeconfig-style fake bearer on an http:// target of the bearer connector.
    let plain = via(
        &fwd,
        &proxy,
        &[
            "-H",
            "Authorization: Bearer fake-token",
            &format!("{}/plain", fwd.http.url()),
        ],
    );
    assert_eq!(plain.status, 200, "{}", plain.text());
    let seen = fwd.http.last();
    assert_eq!(seen.target, "/plain");
    assert_eq!(
        seen.header_values("authorization"),
        vec![format!("Bearer {TOOL_TOKEN}")]
    );
    assert_nothing_of_the_client(&seen.headers);

    // npm-style fake basic on an https:// target of the basic connector.
    let tls = via(
        &fwd,
        &proxy,
        &[
            "-H",
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",
            &format!("{}/secure", fwd.tls.url()),
        ],
    );
    assert_eq!(tls.status, 200, "{}", tls.text());
    assert_eq!(tls.text(), "tool ok");
    let seen = fwd.tls.last().request;
    assert_eq!(seen.target, "/secure");
    assert_eq!(seen.header_values("authorization"), vec![tool_basic()]);
    assert_nothing_of_the_client(&seen.headers);
}

#[test]
fn missing_proxy_credentials_get_407_and_a_retry_succeeds() {
    let fwd = Forward::start(&[]);
    let target = format!("{}/x", fwd.http.url());
    let bare = via(&fwd, &fwd.proxy.url(), &[&target]);
    assert_eq!(bare.status, 407);
    assert_eq!(
        bare.header("proxy-authenticate"),
        Some("Basic realm=\"connectors-proxy\"")
    );
    assert!(fwd.http.requests().is_empty(), "forwarded without auth");
    let retry = via(&fwd, &fwd.proxy_for(HTTP_BEARER), &[&target]);
    assert_eq!(retry.status, 200);

    // The same for CONNECT, as Maven does it.
    let authority = fwd.tls.addr().to_string();
    let head = connect_head(fwd.proxy.proxy_addr, &authority, None);
    assert_eq!(status_of(head.as_bytes()), Some(407), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("proxy-authenticate: basic realm=\"connectors-proxy\""),
        "{head}"
    );
    let retry = via(&fwd, &fwd.proxy_for(TLS_BASIC), &[&fwd.tls.url()]);
    assert_eq!(retry.status, 200);
    assert_eq!(fwd.tls.requests().len(), 1);
}

#[test]
fn non_targets_pass_without_credentials() {
    let fwd = Forward::start(&[]);
    let proxy = fwd.proxy_for(&format!("{TLS_BASIC},{HTTP_BEARER}"));
    let other = Upstream::start();
    let response = via(&fwd, &proxy, &[&format!("{}/elsewhere", other.url())]);
    assert_eq!(response.status, 200);
    let seen = other.last();
    assert_eq!(seen.header("authorization"), None);
    assert_nothing_of_the_client(&seen.headers);

    // An https:// non-target is tunnelled blind: the client sees the tool's own certificate.
    let other_tls = HttpsTool::start(&fwd.tool_ca);
    let tool_ca = fwd.tool_ca.cert_path().display().to_string();
    let blind = curl(&[
        "-x",
        &proxy,
        "--suppress-connect-headers",
        "--cacert",
        &tool_ca,
        &format!("{}/blind", other_tls.url()),
    ]);
    assert_eq!(blind.status, 200);
    let seen = other_tls.last().request;
    assert_eq!(seen.header("authorization"), None);
    assert_nothing_of_the_client(&seen.headers);
}

#[test]
fn deny_refuses_non_targets_with_403() {
    let fwd = Forward::start(&["--forward-non-targets", "deny"]);
    let proxy = fwd.proxy_for(HTTP_BEARER);
    let other = Upstream::start();
    let refused = via(&fwd, &proxy, &[&format!("{}/elsewhere", other.url())]);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(other.requests().is_empty());

    let other_tls = HttpsTool::start(&fwd.tool_ca);
    let authority = other_tls.addr().to_string();
    let auth = format!(
        "Basic {}",
        b64(&format!("{NS}/{HTTP_BEARER}:{CLIENT_TOKEN}"))
    );
    let head = connect_head(fwd.proxy.proxy_addr, &authority, Some(&auth));
    assert_eq!(status_of(head.as_bytes()), Some(403), "{head}");
    assert!(other_tls.requests().is_empty());

    // Targets still work.
    let allowed = via(&fwd, &proxy, &[&format!("{}/ok", fwd.http.url())]);
    assert_eq!(allowed.status, 200);
}

#[test]
fn unknown_or_ungranted_connectors_are_refused() {
    let fwd = Forward::start(&[]);
    let target = format!("{}/x", fwd.http.url());
    // A connector the client may use but that does not exist: 404 naming it (only an
    // authorized client learns that); one it may not use: 403 naming it.
    let missing = via(&fwd, &fwd.proxy_for("missing"), &[&target]);
    assert_eq!(missing.status, 404, "{}", missing.text());
    assert!(
        missing.text().contains("team-a/missing"),
        "{}",
        missing.text()
    );
    let ungranted = via(&fwd, &fwd.proxy_for("never-granted"), &[&target]);
    assert_eq!(ungranted.status, 403, "{}", ungranted.text());
    assert!(
        ungranted.text().contains("team-a/never-granted"),
        "{}",
        ungranted.text()
    );
    let bad_token = via(
        &fwd,
        &fwd.proxy_url(&format!("{NS}%2F{HTTP_BEARER}"), "not-a-token"),
        &[&target],
    );
    assert_eq!(bad_token.status, 407);
    assert!(fwd.http.requests().is_empty());
}

#[test]
fn queries_reach_the_tool_verbatim() {
    let fwd = Forward::start(&[]);
    let proxy = fwd.proxy_for(&format!("{TLS_BASIC},{HTTP_BEARER}"));
    let query = "/test?username=u&empty=&x=%2B&x=2&y";
    via(&fwd, &proxy, &[&format!("{}{query}", fwd.http.url())]);
    assert_eq!(fwd.http.last().target, query);
    via(&fwd, &proxy, &[&format!("{}?q=1", fwd.http.url())]);
    assert_eq!(fwd.http.last().target, "/?q=1");
    via(&fwd, &proxy, &[&format!("{}{query}", fwd.tls.url())]);
    assert_eq!(fwd.tls.last().request.target, query);
}

#[test]
fn percent_encoded_userinfo_is_decoded() {
    let fwd = Forward::start(&[]);
    let encoded = ODD_TOKEN.replace('@', "%40").replace(':', "%3A");
    assert_ne!(encoded, ODD_TOKEN);
    let proxy = fwd.proxy_url(&format!("{NS}%2F{TLS_BASIC}"), &encoded);
    let response = via(&fwd, &proxy, &[&fwd.tls.url()]);
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        fwd.tls.last().request.header_values("authorization"),
        vec![tool_basic()]
    );
}

#[test]
fn a_16_kib_proxy_authorization_is_accepted() {
    let fwd = Forward::start(&[]);
    let token = long_token();
    let header = format!(
        "Proxy-Authorization: Basic {}",
        b64(&format!("{NS}/{HTTP_BEARER},{NS}/{TLS_BASIC}:{token}"))
    );
    assert!(header.len() > 16 * 1024);
    let plain = via(
        &fwd,
        &fwd.proxy.url(),
        &["-H", &header, &format!("{}/long", fwd.http.url())],
    );
    assert_eq!(plain.status, 200, "{}", plain.text());
    assert_eq!(
        fwd.http.last().header_values("authorization"),
        vec![format!("Bearer {TOOL_TOKEN}")]
    );
    let tls = via(
        &fwd,
        &fwd.proxy.url(),
        &[
            "--proxy-header",
            &header,
            &format!("{}/long", fwd.tls.url()),
        ],
    );
    assert_eq!(tls.status, 200, "{}", tls.text());
    assert_eq!(
        fwd.tls.last().request.header_values("authorization"),
        vec![tool_basic()]
    );
}

#[test]
fn dot_segments_to_targets_are_refused_plain_and_in_tunnels() {
    let fwd = Forward::start(&[]);
    for path in ["/../x", "/a/%2e%2E/x", "/a/..%2fx"] {
        let plain = format!("{}{path}", fwd.http.url());
        let response = via(&fwd, &fwd.proxy_for(HTTP_BEARER), &["--path-as-is", &plain]);
        assert_eq!(response.status, 400, "{path}: {}", response.text());
        let tunnelled = format!("{}{path}", fwd.tls.url());
        let response = via(
            &fwd,
            &fwd.proxy_for(TLS_BASIC),
            &["--path-as-is", &tunnelled],
        );
        assert_eq!(response.status, 400, "{path}: {}", response.text());
    }
    assert!(fwd.http.requests().is_empty());
    assert!(fwd.tls.requests().is_empty());
}

#[test]
fn extensions_are_targets_and_the_most_specific_prefix_wins() {
    let api_host = Upstream::start();
    let shared = Upstream::start();
    let manifests = Manifests::new();
    let home = format!("http://{}", closed_port());
    connector_with_extensions(
        &manifests,
        "ext",
        &home,
        &[("api", &api_host.url())],
        "pw-ext",
    );
    manifests.basic_connector("whole", &shared.url(), TOOL_USER, "pw-whole");
    manifests.basic_connector(
        "nested",
        &format!("{}/api", shared.url()),
        TOOL_USER,
        "pw-api",
    );
    manifests.grant(CLIENT_SA, &["ext", "whole", "nested"]);
    manifests.service_account_token(CLIENT_TOKEN, CLIENT_SA);
    let tool_ca = TestCa::new();
    let proxy = start_proxy(&manifests, &tool_ca, &[]);
    let url = format!(
        "http://{NS}%2Fwhole,{NS}%2Fnested,{NS}%2Fext:{CLIENT_TOKEN}@{}",
        proxy.proxy_addr
    );
    let basic = |pw: &str| format!("Basic {}", b64(&format!("{TOOL_USER}:{pw}")));

    curl(&["-x", &url, &format!("{}/v1/users", api_host.url())]);
    assert_eq!(
        api_host.last().header_values("authorization"),
        vec![basic("pw-ext")]
    );
    for (path, password) in [
        ("/api/v4/projects", "pw-api"),
        ("/api", "pw-api"),
        ("/apix/v1", "pw-whole"),
        ("/other", "pw-whole"),
    ] {
        let response = curl(&["-x", &url, &format!("{}{path}", shared.url())]);
        assert_eq!(response.status, 200);
        let seen = shared.last();
        assert_eq!(seen.target, path);
        assert_eq!(
            seen.header_values("authorization"),
            vec![basic(password)],
            "{path}"
        );
    }
}

#[test]
fn ipv6_literal_targets_are_intercepted() {
    let tool_ca = TestCa::new();
    let tool = match HttpsTool::with(&tool_ca, "[::1]:0", &["h2", "http/1.1"], |_| {
        support::upstream::Reply::ok("v6 ok")
    }) {
        Ok(tool) => tool,
        Err(error) => {
            println!("skipped: cannot bind [::1]:0 ({error})");
            return;
        }
    };
    let fwd = Forward::around(tool_ca, tool, &[]);
    assert!(fwd.tls.url().starts_with("https://[::1]:"));
    let response = via(
        &fwd,
        &fwd.proxy_for(TLS_BASIC),
        &["-g", &format!("{}/six", fwd.tls.url())],
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), "v6 ok");
    let seen = fwd.tls.last().request;
    assert_eq!(seen.target, "/six");
    assert_eq!(seen.header_values("authorization"), vec![tool_basic()]);
}
