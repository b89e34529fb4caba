//! The whole reverse stack (observe, resolve, extract, authorize, sanitize, inject, rewrite) over
//! an in-memory catalog, a reviewer that answers at once and an innermost service that answers
//! at once: what the proxy itself costs per request, without network or review latency.

mod support;

use std::convert::Infallible;
use std::sync::Arc;

use connectors_proxy_core::body::{Body, Request, Response};
use connectors_proxy_core::credentials::encode_basic;
use connectors_proxy_core::proxy::{ProxyStack, reverse_stack_with};
use criterion::{Criterion, criterion_group, criterion_main};
use support::{CONNECTOR, InstantReviewer, NS, client_token, stack_config};
use tower::ServiceExt;

fn stack() -> ProxyStack {
    let token = client_token();
    let config = stack_config(Arc::new(InstantReviewer::new(&token)));
    let tool = tower::service_fn(|_req: Request| async {
        Ok::<_, Infallible>(Response::new(Body::full("hello from the tool\n")))
    });
    reverse_stack_with(&config, tool)
}

fn request(uri: &str, host: &str, authorization: Option<&str>) -> Request {
    let mut builder = http::Request::builder()
        .uri(uri)
        .header("host", host)
        .header("user-agent", "git/2.47.0")
        .header("accept", "*/*");
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    builder.body(Body::empty()).expect("valid request")
}

async fn send(stack: &ProxyStack, req: Request) -> u16 {
    let response = stack.clone().oneshot(req).await.expect("infallible");
    response.status().as_u16()
}

fn reverse(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let stack = stack();
    let basic = encode_basic("", &client_token());
    let path = format!("/namespaces/{NS}/connectors/{CONNECTOR}/api/v4/projects?per_page=100");
    let host_form = format!("c-{CONNECTOR}.{NS}.svc:8080");

    // Fail loudly here rather than time a refusal by mistake.
    let status = runtime.block_on(send(&stack, request(&path, "proxy:8080", Some(&basic))));
    assert_eq!(status, 200, "the bench request must pass the stack");

    let mut group = c.benchmark_group("reverse_stack");
    group.bench_function("path_form/basic/200", |b| {
        b.to_async(&runtime)
            .iter(|| send(&stack, request(&path, "proxy:8080", Some(&basic))))
    });
    group.bench_function("host_form/basic/200", |b| {
        b.to_async(&runtime).iter(|| {
            send(
                &stack,
                request("/api/v4/projects", &host_form, Some(&basic)),
            )
        })
    });
    group.bench_function("path_form/no_token/401", |b| {
        b.to_async(&runtime)
            .iter(|| send(&stack, request(&path, "proxy:8080", None)))
    });
    group.finish();
}

criterion_group!(benches, reverse);
criterion_main!(benches);
