//! The reverse stack end to end over an in-memory catalog, a fake reviewer and a recording
//! innermost service: no network, so every step's effect is visible exactly.

mod support;

use connectors_proxy_core::body::{Body, Response};
use connectors_proxy_core::credentials::encode_basic;
use support::{CLIENT_TOKEN, Harness, OTHER_TOKEN, get, ok};

#[tokio::test]
async fn injects_basic_and_maps_the_path() {
    let h = Harness::new(ok);
    let (status, _, body) = h
        .send(
            get(
                "/namespaces/ns/connectors/allowed-basic/g/r.git/info/refs?service=git-upload-pack",
            )
            .header("authorization", encode_basic("", CLIENT_TOKEN)),
        )
        .await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "tool says hi"));
    let seen = h.last();
    assert_eq!(
        seen.uri.to_string(),
        "https://tool.example/gitlab/g/r.git/info/refs?service=git-upload-pack"
    );
    assert_eq!(
        seen.headers["authorization"],
        encode_basic("tool-user", "tool-pass")
    );
    assert!(seen.headers["authorization"].is_sensitive());
    assert!(
        seen.headers.get("host").is_none(),
        "Host comes from the URI"
    );
}

#[tokio::test]
async fn injects_bearer_in_host_form_and_replaces_the_client_token() {
    let h = Harness::new(ok);
    let (status, _, _) = h
        .send(
            http::Request::builder()
                .uri("/a%2Fb//c?x=%2B&y=")
                .header("host", "c-allowed-bearer.ns.svc:80")
                .header("authorization", format!("Bearer {CLIENT_TOKEN}"))
                .header("proxy-authorization", "Basic Zm9vOmJhcg==")
                .header("connection", "authorization, x-hop")
                .header("x-hop", "1"),
        )
        .await;
    assert_eq!(status, 200);
    let seen = h.last();
    assert_eq!(seen.uri.to_string(), "http://127.0.0.1:9/a%2Fb//c?x=%2B&y=");
    assert_eq!(seen.headers["authorization"], "Bearer tool-token");
    assert!(seen.headers.get("proxy-authorization").is_none());
    assert!(seen.headers.get("x-hop").is_none());
    let all: String = format!("{:?}", seen.headers);
    assert!(!all.contains(CLIENT_TOKEN));
}

#[tokio::test]
async fn optional_auth_forwards_without_credentials() {
    let h = Harness::new(ok);
    let (status, _, _) = h
        .send(
            get("/namespaces/ns/connectors/allowed-open")
                .header("authorization", format!("Bearer {CLIENT_TOKEN}")),
        )
        .await;
    assert_eq!(status, 200);
    let seen = h.last();
    assert_eq!(seen.uri.to_string(), "http://open.example/");
    assert!(seen.headers.get("authorization").is_none());
}

#[tokio::test]
async fn refusals_come_in_order_and_never_reach_the_tool() {
    let h = Harness::new(ok);
    // No token, even for a connector that does not exist: 401 first.
    let (status, headers, body) = h.send(get("/namespaces/ns/connectors/missing/x")).await;
    assert_eq!(status, 401);
    assert_eq!(
        headers["www-authenticate"],
        r#"Basic realm="connectors-proxy""#
    );
    assert!(body.contains("\"error\":\"unauthenticated\""));
    // A token the reviewer rejects.
    let (status, _, _) = h
        .send(
            get("/namespaces/ns/connectors/allowed-basic/x").header("authorization", "Bearer nope"),
        )
        .await;
    assert_eq!(status, 401);
    // Authenticated but not authorized: 403, whether or not the connector exists.
    for name in ["allowed-basic", "missing"] {
        let uri = format!("/namespaces/ns/connectors/{name}/x");
        let (status, _, body) = h
            .send(get(&uri).header("authorization", format!("Bearer {OTHER_TOKEN}")))
            .await;
        assert_eq!(status, 403, "{name}");
        assert!(!body.contains(OTHER_TOKEN));
    }
    // Authorized, but the connector does not exist, has no proxy, or is broken.
    let (status, _, body) = h
        .send(
            get("/namespaces/ns/connectors/allowed-missing/x")
                .header("authorization", format!("Bearer {CLIENT_TOKEN}")),
        )
        .await;
    assert_eq!(status, 404);
    assert!(body.contains("ns/allowed-missing"), "{body}");
    let (status, _, _) = h
        .send(
            get("/namespaces/ns/connectors/allowed-noproxy/x")
                .header("authorization", format!("Bearer {CLIENT_TOKEN}")),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _, body) = h
        .send(
            get("/namespaces/ns/connectors/allowed-broken/x")
                .header("authorization", format!("Bearer {CLIENT_TOKEN}")),
        )
        .await;
    assert_eq!(status, 500);
    assert!(body.contains("not found"), "{body}");
    // No connector address at all.
    let (status, _, _) = h
        .send(get("/elsewhere").header("authorization", format!("Bearer {CLIENT_TOKEN}")))
        .await;
    assert_eq!(status, 404);
    assert_eq!(h.count(), 0, "no refused request reached the tool");
}

#[tokio::test]
async fn rewrites_locations_and_links_that_point_at_the_tool() {
    fn redirect(_: &http::request::Parts) -> Response {
        http::Response::builder()
            .status(302)
            .header(
                "location",
                "https://tool.example/gitlab/users/sign_in?redirect_to=%2Fx",
            )
            .header("link", "</gitlab/api?page=2>; rel=\"next\"")
            .header("link", "<https://cdn.example/x>; rel=\"alt\"")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .body(Body::empty())
            .unwrap()
    }
    let h = Harness::new(redirect);
    let (status, headers, _) = h
        .send(
            get("/namespaces/ns/connectors/allowed-basic/")
                .header("authorization", encode_basic("u", CLIENT_TOKEN)),
        )
        .await;
    assert_eq!(status, 302);
    assert_eq!(
        headers["location"],
        "http://proxy.local:8080/namespaces/ns/connectors/allowed-basic/users/sign_in?redirect_to=%2Fx"
    );
    let links: Vec<_> = headers.get_all("link").iter().collect();
    assert_eq!(
        links,
        [
            "</namespaces/ns/connectors/allowed-basic/api?page=2>; rel=\"next\"",
            "<https://cdn.example/x>; rel=\"alt\""
        ]
    );
    assert_eq!(headers.get_all("set-cookie").iter().count(), 2);
}
