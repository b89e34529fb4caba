//! Rego costs per request: the documented `Private-Token` extractor (design target: under
//! 20 µs) and the header generator, each on a policy compiled once, as the proxy runs them.

use std::collections::BTreeMap;
use std::hint::black_box;

use connectors_proxy_core::rego::{
    ExtractorInput, GeneratorInput, Policy, PolicyKind, apply_to_parts,
};
use connectors_proxy_core::secret::SecretString;
use criterion::{Criterion, criterion_group, criterion_main};
use http::request::Parts;

/// The documented GitLab extractor.
const PRIVATE_TOKEN_EXTRACTOR: &str = r#"package proxy

default auth := {"token": ""}

auth := {"token": token} if {
  token := input.request.headers["Private-Token"][0]
}
"#;

/// The documented GitLab generator.
const PRIVATE_TOKEN_GENERATOR: &str = r#"package proxy

auth := {"position": "header", "auth": {"Private-Token": input.data.token}}
"#;

/// A glab-like request head: a handful of headers, a query and the token header.
fn glab_request() -> Parts {
    http::Request::builder()
        .method("GET")
        .uri("/namespaces/demo/connectors/gitlab/api/v4/projects?membership=true&per_page=100")
        .header("host", "connectors-proxy-service.connectors-system.svc")
        .header("user-agent", "glab/1.36.0")
        .header("accept", "application/json")
        .header("accept-encoding", "gzip")
        .header("private-token", "sa-token-for-the-bench")
        .body(())
        .expect("request")
        .into_parts()
        .0
}

fn extraction(c: &mut Criterion) {
    let policy = Policy::compile(PRIVATE_TOKEN_EXTRACTOR, PolicyKind::Extractor).expect("compile");
    let parts = glab_request();
    let token = policy.extract(&ExtractorInput::new(&parts, None));
    assert_eq!(
        token.expect("extract").as_deref(),
        Some("sa-token-for-the-bench")
    );
    c.bench_function("rego/extract_private_token", |b| {
        b.iter(|| {
            let input = ExtractorInput::new(black_box(&parts), None);
            policy.extract(&input)
        })
    });
}

fn generation(c: &mut Criterion) {
    let policy = Policy::compile(PRIVATE_TOKEN_GENERATOR, PolicyKind::Generator).expect("compile");
    let mut parts = glab_request();
    parts.uri = "http://gitlab.example:8080/api/v4/projects?membership=true&per_page=100"
        .parse()
        .expect("uri");
    parts.headers.remove("private-token");
    let data = BTreeMap::from([
        ("token".to_owned(), SecretString::new("glpat-bench")),
        ("username".to_owned(), SecretString::new("bench-user")),
    ]);
    c.bench_function("rego/generate_private_token_header", |b| {
        b.iter(|| {
            let generated = policy
                .generate(&GeneratorInput::new(black_box(&parts), &data))
                .expect("generate");
            let mut out = parts.clone();
            apply_to_parts(&generated, &mut out).expect("apply");
            out
        })
    });
}

criterion_group!(benches, extraction, generation);
criterion_main!(benches);
