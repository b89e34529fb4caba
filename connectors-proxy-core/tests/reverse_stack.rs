//! The reverse stack end to end over an in-memory catalog, a fake reviewer and a recording
//! innermost service: no network, so every step's effect is visible exactly.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use connectors_proxy_core::address::Address;
use connectors_proxy_core::body::{Body, Request, Response};
use connectors_proxy_core::catalog::{
    ClassEntry, ConnectorEntry, Credentials, MemoryCatalog, SecretData,
};
use connectors_proxy_core::credentials::encode_basic;
use connectors_proxy_core::metrics::Metrics;
use connectors_proxy_core::proxy::{StackConfig, reverse_stack_with};
use connectors_proxy_core::review::{
    AccessCheck, Authentication, Identity, ReviewError, Reviewer, UserInfo,
};
use connectors_proxy_core::secret::{ClientToken, SecretString};
use connectors_proxy_core::upstream::{Upstream, UpstreamSettings, tls_config};
use http_body_util::BodyExt;
use tower::ServiceExt;

const CLIENT_TOKEN: &str = "client-sa-token";
const OTHER_TOKEN: &str = "other-sa-token";

/// Accepts two tokens; only the first may use connectors named `allowed-*`.
struct FakeReviewer;

#[async_trait]
impl Reviewer for FakeReviewer {
    async fn authenticate(&self, token: &ClientToken) -> Result<Authentication, ReviewError> {
        let username = match token.expose() {
            CLIENT_TOKEN => "system:serviceaccount:ns:client",
            OTHER_TOKEN => "system:serviceaccount:ns:other",
            _ => return Ok(Authentication::Rejected),
        };
        let user = UserInfo {
            username: username.into(),
            ..UserInfo::default()
        };
        Ok(Authentication::Authenticated {
            user: Arc::new(user),
            expires_at: None,
        })
    }

    async fn authorize(
        &self,
        identity: &Identity,
        check: &AccessCheck,
    ) -> Result<bool, ReviewError> {
        Ok(identity.user.username.ends_with(":client") && check.verb == "get")
    }
}

fn entry(name: &str, address: &str, credentials: Credentials, proxied: bool) -> ConnectorEntry {
    ConnectorEntry {
        namespace: "ns".into(),
        name: name.into(),
        address: Address::parse(address).unwrap(),
        extensions: Vec::new(),
        class: Arc::new(ClassEntry {
            name: "http".into(),
            proxied,
            auth_types: Vec::new(),
            ..ClassEntry::default()
        }),
        credentials,
    }
}

fn secret(type_: &str, pairs: &[(&str, &str)]) -> Credentials {
    let data: BTreeMap<String, SecretString> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), SecretString::new(*v)))
        .collect();
    Credentials::Secret {
        auth_type: "auth".into(),
        secret: Arc::new(SecretData {
            name: "s".into(),
            type_: type_.into(),
            data,
        }),
    }
}

type Seen = Arc<Mutex<Vec<http::request::Parts>>>;

struct Harness {
    stack: connectors_proxy_core::proxy::ProxyStack,
    seen: Seen,
}

impl Harness {
    fn new(respond: fn(&http::request::Parts) -> Response) -> Self {
        let catalog = Arc::new(MemoryCatalog::new());
        catalog.insert(entry(
            "allowed-basic",
            "https://tool.example/gitlab",
            secret(
                "kubernetes.io/basic-auth",
                &[("username", "tool-user"), ("password", "tool-pass")],
            ),
            true,
        ));
        catalog.insert(entry(
            "allowed-bearer",
            "http://127.0.0.1:9",
            secret(
                "connectors.cpaas.io/bearer-token",
                &[("token", "tool-token")],
            ),
            true,
        ));
        catalog.insert(entry(
            "allowed-open",
            "http://open.example",
            Credentials::None,
            true,
        ));
        catalog.insert(entry(
            "allowed-noproxy",
            "http://x.example",
            Credentials::None,
            false,
        ));
        catalog.insert(entry(
            "allowed-broken",
            "http://x.example",
            Credentials::Broken("secret s not found in ns".into()),
            true,
        ));
        let metrics = Arc::new(Metrics::new());
        let config = StackConfig::new(
            catalog,
            Arc::new(FakeReviewer),
            Upstream::new(
                tls_config(None).expect("TLS roots load"),
                UpstreamSettings::default(),
                metrics.clone(),
            ),
            metrics,
        );
        let seen: Seen = Arc::default();
        let record = seen.clone();
        let upstream = tower::service_fn(move |req: Request| {
            let (parts, _) = req.into_parts();
            let response = respond(&parts);
            record.lock().unwrap().push(parts);
            async move { Ok::<_, Infallible>(response) }
        });
        Self {
            stack: reverse_stack_with(&config, upstream),
            seen,
        }
    }

    async fn send(
        &self,
        req: http::request::Builder,
    ) -> (http::StatusCode, http::HeaderMap, String) {
        let response = self
            .stack
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    fn last(&self) -> http::request::Parts {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the tool saw a request")
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn ok(_: &http::request::Parts) -> Response {
    Response::new(Body::full("tool says hi"))
}

fn get(uri: &str) -> http::request::Builder {
    http::Request::builder()
        .uri(uri)
        .header("host", "proxy.local:8080")
}

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
