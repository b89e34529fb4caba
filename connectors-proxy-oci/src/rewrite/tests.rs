use connectors_proxy_core::address::Address;
use connectors_proxy_core::body::Response;
use http::header::{HeaderValue, LINK, LOCATION};

use super::*;

fn rewrite(address: &str, prefix: &str) -> RegistryRewrite {
    RegistryRewrite {
        rule: RewriteRule {
            tool: Address::parse(address).unwrap(),
            proxy_origin: "http://proxy:8081".into(),
            proxy_prefix: String::new(),
        },
        connector_prefix: prefix.into(),
        base_path: "/v2/team/app/blobs/uploads/".into(),
    }
}

const PREFIX: &str = "/namespaces/ns/connectors/reg";

#[test]
fn absolute_and_path_locations_go_under_the_prefix() {
    let r = rewrite("https://reg.example", PREFIX);
    assert_eq!(
        r.rewrite("https://reg.example/v2/team/app/blobs/uploads/u1?_state=a%2Bb%3D%3D&x=1")
            .as_deref(),
        Some(
            "http://proxy:8081/v2/namespaces/ns/connectors/reg/team/app/blobs/uploads/u1?_state=a%2Bb%3D%3D&x=1"
        )
    );
    // C01: a path-only Location keeps its query bytes.
    assert_eq!(
        r.rewrite("/v2/team/app/blobs/uploads/u1?_state=Zm9v+/=&digest=sha256:ab")
            .as_deref(),
        Some(
            "/v2/namespaces/ns/connectors/reg/team/app/blobs/uploads/u1?_state=Zm9v+/=&digest=sha256:ab"
        )
    );
}

#[test]
fn relative_locations_resolve_against_the_request() {
    let r = rewrite("https://reg.example", PREFIX);
    assert_eq!(
        r.rewrite("u2?_state=s").as_deref(),
        Some("/v2/namespaces/ns/connectors/reg/team/app/blobs/uploads/u2?_state=s")
    );
    assert_eq!(
        r.rewrite("../sha256:ab").as_deref(),
        Some("/v2/namespaces/ns/connectors/reg/team/app/blobs/sha256:ab")
    );
    assert_eq!(resolve("/a/b/c", "./"), "/a/b/");
    assert_eq!(resolve("/a/b/c", ".."), "/a/");
}

#[test]
fn other_hosts_pass_unchanged() {
    // C06: a redirect to blob storage is not the registry's, so it is left alone.
    let r = rewrite("https://reg.example", PREFIX);
    let s3 = "https://bucket.s3.amazonaws.com/blob?X-Amz-Signature=abc";
    assert_eq!(r.rewrite(s3), None);
    assert_eq!(r.rewrite("https://sub.reg.example/v2/x/blobs/y"), None);
    assert_eq!(r.rewrite("http://reg.example/v2/x/blobs/y"), None);
    let mut response = Response::new(connectors_proxy_core::body::Body::empty());
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static(s3));
    r.apply(&mut response);
    assert_eq!(response.headers()[LOCATION], s3);
}

#[test]
fn host_form_keeps_paths_and_links_are_rewritten() {
    let r = rewrite("http://127.0.0.1:5000", "");
    assert_eq!(
        r.rewrite("http://127.0.0.1:5000/v2/a/tags/list?n=1&last=x")
            .as_deref(),
        Some("http://proxy:8081/v2/a/tags/list?n=1&last=x")
    );
    let r = rewrite("http://127.0.0.1:5000", PREFIX);
    let mut response = Response::new(connectors_proxy_core::body::Body::empty());
    response.headers_mut().insert(
        LINK,
        HeaderValue::from_static(r#"</v2/a/tags/list?n=1&last=x>; rel="next""#),
    );
    r.apply(&mut response);
    assert_eq!(
        response.headers()[LINK],
        r#"</v2/namespaces/ns/connectors/reg/a/tags/list?n=1&last=x>; rel="next""#
    );
}
