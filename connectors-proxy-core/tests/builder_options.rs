//! The builder's replaceable parts: a path scheme, a URL rewriter, a layer in front of
//! resolution, and stacks without credential injection.

mod support;

use std::task::{Context, Poll};

use connectors_proxy_core::body::{Body, Request, Response};
use connectors_proxy_core::builder::ProxyBuilder;
use connectors_proxy_core::catalog::ConnectorRef;
use connectors_proxy_core::credentials::encode_basic;
use connectors_proxy_core::layers::resolve::PathMatch;
use connectors_proxy_core::layers::rewrite::UrlRewriter;
use connectors_proxy_core::layers::{ProxyService, ResponseFuture, take_ready};
use support::{CLIENT_TOKEN, Harness, get, ok};
use tower::ServiceExt;

/// Paths `/tools/<ns>/<name>/<rest>`.
fn tools_path(path: &str) -> Option<PathMatch> {
    let mut parts = path.strip_prefix("/tools/")?.splitn(3, '/');
    let (namespace, name) = (parts.next()?, parts.next()?);
    let rest = parts.next().map_or(String::new(), |r| format!("/{r}"));
    Some(PathMatch {
        connector: ConnectorRef::new(namespace, name).ok()?,
        proxy_prefix: format!("/tools/{namespace}/{name}"),
        rest,
    })
}

/// Points every URL at a fixed page, to show which rewriter ran.
struct Moved;

impl UrlRewriter for Moved {
    fn rewrite(&self, url: &str) -> Option<String> {
        Some(format!("/moved?from={url}"))
    }
}

/// Answers `GET /ping` itself; everything else goes on.
#[derive(Clone)]
struct Ping<S>(S);

impl<S: ProxyService> tower::Service<Request> for Ping<S> {
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        if req.uri().path() == "/ping" {
            return Box::pin(std::future::ready(Ok(Response::new(Body::full("pong")))));
        }
        Box::pin(take_ready(&mut self.0).call(req))
    }
}

fn redirect(_: &http::request::Parts) -> Response {
    http::Response::builder()
        .status(302)
        .header("location", "https://tool.example/gitlab/next")
        .body(Body::empty())
        .unwrap()
}

fn custom(builder: ProxyBuilder) -> ProxyBuilder {
    builder
        .path_parser(tools_path)
        .rewriter(|_| Some(Moved))
        .before_resolve(tower::layer::layer_fn(Ping))
}

#[tokio::test]
async fn a_path_scheme_a_rewriter_and_a_front_layer_replace_the_standard_ones() {
    let h = Harness::built(redirect, custom);
    let login = encode_basic("", CLIENT_TOKEN);

    let (status, headers, _) = h
        .send(get("/tools/ns/allowed-basic/g/r").header("authorization", &login))
        .await;
    assert_eq!(status, 302);
    assert_eq!(h.last().uri.to_string(), "https://tool.example/gitlab/g/r");
    assert_eq!(
        headers["location"],
        "/moved?from=https://tool.example/gitlab/next"
    );

    let (status, _, _) = h
        .send(get("/namespaces/ns/connectors/allowed-basic/g/r").header("authorization", &login))
        .await;
    assert_eq!(status, 404, "the standard path form is replaced");

    let (status, _, body) = h.send(get("/ping")).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "pong"));
    assert_eq!(h.count(), 1, "only the first request reached the tool");

    // Host form still works, with the replaced rewriter.
    let (status, headers, _) = h
        .send(
            http::Request::get("/g/r")
                .header("host", "c-allowed-basic.ns")
                .header("authorization", &login),
        )
        .await;
    assert_eq!(status, 302);
    assert!(headers["location"].to_str().unwrap().starts_with("/moved"));
}

#[tokio::test]
async fn without_injection_no_tool_credentials_are_sent() {
    let login = encode_basic("", CLIENT_TOKEN);
    let proxy_login = encode_basic("ns/allowed-bearer", CLIENT_TOKEN);
    let forward = || {
        http::Request::get("http://127.0.0.1:9/api")
            .header("proxy-authorization", &proxy_login)
            .body(Body::empty())
            .unwrap()
    };
    let standard = Harness::new(ok);
    let (status, _, _) = standard
        .send(get("/namespaces/ns/connectors/allowed-basic/x").header("authorization", &login))
        .await;
    assert_eq!(status, 200);
    assert!(standard.last().headers.contains_key("authorization"));
    let response = standard.forward.clone().oneshot(forward()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        standard.last().headers["authorization"],
        "Bearer tool-token"
    );

    let bare = Harness::built(ok, ProxyBuilder::without_injection);
    let (status, _, _) = bare
        .send(get("/namespaces/ns/connectors/allowed-basic/x").header("authorization", &login))
        .await;
    assert_eq!(status, 200);
    let seen = bare.last();
    assert_eq!(seen.uri.to_string(), "https://tool.example/gitlab/x");
    assert!(!seen.headers.contains_key("authorization"), "{seen:?}");
    let response = bare.forward.clone().oneshot(forward()).await.unwrap();
    assert_eq!(response.status(), 200);
    let seen = bare.last();
    assert_eq!(seen.uri.to_string(), "http://127.0.0.1:9/api");
    assert!(!seen.headers.contains_key("authorization"), "{seen:?}");
    assert!(!seen.headers.contains_key("proxy-authorization"));
}
