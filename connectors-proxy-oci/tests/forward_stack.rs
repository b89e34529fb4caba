//! The registry proxy's forward stack in process, against stand-in registries on loopback
//! ports: what reaches the registry and what the client gets back.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use connectors_proxy_core::body::{Body, Request, Response};
use connectors_proxy_core::builder::ProxyBuilder;
use connectors_proxy_core::credentials::encode_basic;
use connectors_proxy_core::layers::Mode;
use connectors_proxy_core::metrics::Metrics;
use connectors_proxy_core::proxy::{ProxyStack, StackConfig};
use connectors_proxy_core::runtime::Sources;
use connectors_proxy_core::server::{ServerSettings, serve};
use connectors_proxy_core::upstream::{Upstream, UpstreamSettings, tls_config};
use connectors_proxy_oci::oci_builder;
use http::StatusCode;
use http_body_util::BodyExt;
use support::fixture::{self, CLIENT_TOKEN, Conn};
use tower::ServiceExt;

/// Path and `Authorization` of each request a stand-in registry received.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A stand-in registry: open, or refusing every `/v2/` request with a Bearer challenge whose
/// realm (`/token` on the same server) hands out the token `registry-token`.
async fn stand_in(refusing: bool) -> (SocketAddr, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let log = seen.clone();
    let service = tower::service_fn(move |req: Request| {
        let auth = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        let path = req.uri().to_string();
        log.lock().unwrap().push((path.clone(), auth));
        let mut response = Response::new(Body::full("{}"));
        if path.starts_with("/token") {
            *response.body_mut() = Body::full(r#"{"token":"registry-token"}"#);
        } else if refusing {
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            let challenge = format!(r#"Bearer realm="http://{addr}/token",service="stand-in""#);
            response
                .headers_mut()
                .insert("www-authenticate", challenge.parse().unwrap());
        }
        std::future::ready(Ok::<_, Infallible>(response))
    });
    tokio::spawn(serve(
        listener,
        service,
        ServerSettings::default(),
        std::future::pending(),
    ));
    (addr, seen)
}

/// The stack configuration for connector `ns/reg` at `registry` with a Basic login.
fn config(dir: &std::path::Path, registry: SocketAddr) -> StackConfig {
    fixture::write(
        dir,
        &format!("http://{registry}"),
        "kubernetes.io/basic-auth",
        &[Conn {
            name: "reg",
            login: Some(("alice", "alice-pw")),
            granted: true,
        }],
    );
    let sources = Sources::embedded(&dir.join("manifests"), &dir.join("tokens.csv")).unwrap();
    let metrics = Arc::new(Metrics::new());
    let upstream = Upstream::new(
        tls_config(None).unwrap(),
        UpstreamSettings::default(),
        metrics.clone(),
    );
    StackConfig::new(sources.catalog, sources.reviewer, upstream, metrics)
}

/// Sends `GET <url>` as a forward-proxy client of `ns/reg`.
async fn get(stack: ProxyStack, url: &str) -> Response {
    let req = http::Request::get(url)
        .header("proxy-authorization", encode_basic("ns/reg", CLIENT_TOKEN))
        .body(Body::empty())
        .unwrap();
    stack.oneshot(req).await.unwrap()
}

#[tokio::test]
async fn the_registry_login_replaces_core_injection() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, seen) = stand_in(false).await;
    let config = config(dir.path(), registry);
    let url = format!("http://{registry}/v2/team/app/manifests/v1");

    // Core's forward stack would send the connector's login to an open registry...
    let core = ProxyBuilder::new(config.clone()).forward(Mode::Forward);
    assert_eq!(get(core, &url).await.status(), 200);
    let login = encode_basic("alice", "alice-pw");
    assert_eq!(seen.lock().unwrap().pop().unwrap().1, Some(login));

    // ...the registry proxy sends nothing an open registry did not ask for.
    let oci = oci_builder(&config).forward(Mode::Forward);
    assert_eq!(get(oci, &url).await.status(), 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.last().unwrap(),
        &("/v2/team/app/manifests/v1".to_owned(), None)
    );
}

#[tokio::test]
async fn forward_clients_get_tokens_for_their_repository_and_no_challenge() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, seen) = stand_in(true).await;
    let stack = oci_builder(&config(dir.path(), registry)).forward(Mode::Forward);
    let response = get(
        stack,
        &format!("http://{registry}/v2/team/app/manifests/v1"),
    )
    .await;

    assert_eq!(response.status(), 401);
    assert!(response.headers().get("www-authenticate").is_none());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(!String::from_utf8_lossy(&body).contains("registry-token"));
    let seen = seen.lock().unwrap().clone();
    let login = encode_basic("alice", "alice-pw");
    assert!(
        seen.contains(&(
            "/token?service=stand-in&scope=repository%3Ateam%2Fapp%3Apull".to_owned(),
            Some(login)
        )),
        "{seen:?}"
    );
    assert_eq!(
        seen.last().unwrap(),
        &(
            "/v2/team/app/manifests/v1".to_owned(),
            Some("Bearer registry-token".to_owned())
        )
    );
}

#[tokio::test]
async fn requests_to_other_hosts_pass_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, registry_seen) = stand_in(true).await;
    let (elsewhere, seen) = stand_in(false).await;
    let stack = oci_builder(&config(dir.path(), registry)).forward(Mode::Forward);
    let response = get(stack, &format!("http://{elsewhere}/blob?sig=1")).await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        seen.lock().unwrap().clone(),
        [("/blob?sig=1".to_owned(), None)]
    );
    assert!(registry_seen.lock().unwrap().is_empty());
}
