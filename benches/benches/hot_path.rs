//! The per-request steps of the reverse path, each on its own and without network: addressing,
//! reading the client token, sanitizing headers, injecting credentials and mapping the address.

mod support;

use std::hint::black_box;
use std::sync::Arc;

use connectors_proxy_core::address::{Address, Origin, Scheme};
use connectors_proxy_core::body::{Body, Request};
use connectors_proxy_core::credentials::{decode_basic, encode_basic, reverse_token};
use connectors_proxy_core::layers::Authorized;
use connectors_proxy_core::layers::extract::TokenSource;
use connectors_proxy_core::layers::inject::inject;
use connectors_proxy_core::layers::resolve::{parse_host_form, parse_path_form};
use connectors_proxy_core::layers::sanitize::sanitize_request;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::HeaderValue;
use http::header::AUTHORIZATION;
use support::{client_token, connector};

/// A request as it reaches sanitize/inject: typical headers plus hop-by-hop ones to drop.
fn client_request(token: &str) -> Request {
    http::Request::builder()
        .uri("/namespaces/team-a/connectors/gitlab/api/v4/projects?per_page=100")
        .header("host", "proxy.example:8080")
        .header("user-agent", "git/2.47.0")
        .header("accept", "*/*")
        .header("accept-encoding", "deflate, gzip")
        .header("authorization", encode_basic("", token))
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("connection", "keep-alive, x-trace")
        .header("keep-alive", "timeout=5")
        .header("x-trace", "1")
        .body(Body::empty())
        .expect("valid request")
}

fn addressing(c: &mut Criterion) {
    let mut group = c.benchmark_group("resolve");
    group.bench_function("parse_path_form", |b| {
        b.iter(|| {
            parse_path_form(black_box(
                "/namespaces/team-a/connectors/gitlab/group/repo.git/info/refs",
            ))
        })
    });
    group.bench_function("parse_host_form", |b| {
        b.iter(|| {
            parse_host_form(
                black_box("c-gitlab.team-a.svc.cluster.local:8080"),
                black_box("cluster.local"),
            )
        })
    });
    group.finish();

    let address = Address::parse("https://git.example.com/gitlab").expect("valid address");
    let origin = Origin::new(Scheme::Https, "git.example.com", None);
    let mut group = c.benchmark_group("address");
    group.bench_function("join", |b| {
        b.iter(|| {
            black_box(&address).join(
                black_box("/group/repo.git/info/refs"),
                black_box(Some("service=git-upload-pack")),
            )
        })
    });
    group.bench_function("matches", |b| {
        b.iter(|| black_box(&address).matches(black_box(&origin), black_box("/gitlab/api/v4")))
    });
    group.bench_function("parse", |b| {
        b.iter(|| Address::parse(black_box("HTTPS://Git.Example.com:443/gitlab/")))
    });
    group.finish();
}

fn credentials(c: &mut Criterion) {
    let token = client_token();
    let basic = HeaderValue::try_from(encode_basic("", &token)).expect("valid header");
    let bearer = HeaderValue::try_from(format!("Bearer {token}")).expect("valid header");
    let mut group = c.benchmark_group("credentials");
    group.bench_function("decode_basic", |b| {
        b.iter(|| decode_basic(black_box(&basic)))
    });
    group.bench_function("reverse_token/basic", |b| {
        b.iter(|| reverse_token(black_box(&basic)))
    });
    group.bench_function("reverse_token/bearer", |b| {
        b.iter(|| reverse_token(black_box(&bearer)))
    });
    group.finish();
}

fn header_steps(c: &mut Criterion) {
    let token = client_token();
    let entry = Arc::new(connector());
    let mut group = c.benchmark_group("headers");
    group.bench_function("sanitize_request", |b| {
        b.iter_batched(
            || {
                let mut req = client_request(&token);
                req.extensions_mut()
                    .insert(TokenSource::Header(AUTHORIZATION));
                req
            },
            |mut req| {
                sanitize_request(&mut req);
                req
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("inject/basic", |b| {
        b.iter_batched(
            || {
                let mut req = client_request(&token);
                req.extensions_mut().insert(Authorized(entry.clone()));
                req
            },
            |mut req| {
                inject(&mut req).expect("credentials injected");
                req
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(hot_path, addressing, credentials, header_steps);
criterion_main!(hot_path);
