//! Class policies end to end: compile, extract a client token, generate and apply credentials.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use connectors_proxy_core::rego::{
    ExtractorInput, GeneratorInput, Policy, PolicyError, PolicyKind, Position, TokenSource,
    apply_to_parts, merge_json_body, strip_query_param, token_source,
};
use connectors_proxy_core::secret::SecretString;
use http::request::Parts;

/// The GitLab extractor in Rego v1: the first `Private-Token` value, else an empty token.
const GITLAB_V1: &str = r#"
package proxy

default auth := {"token": ""}

auth := {"token": token} if {
	token := input.request.headers["Private-Token"][0]
}
"#;

/// The same extractor in the older v0 syntax (no `if`, `=` heads).
const GITLAB_V0: &str = r#"
package proxy

default auth = {"token": ""}

auth = {"token": token} {
	token := input.request.headers["Private-Token"][0]
}
"#;

/// A policy that iterates 25 million times and produces nothing: stopped by the time limit.
const SLOW: &str = r#"
package proxy

auth := {"token": "late"} if {
	count([1 | some a in numbers.range(1, 5000); some b in numbers.range(1, 5000); a == 0 - b]) == 0
}
"#;

fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn extract(policy: &Policy, parts: &Parts, body: Option<serde_json::Value>) -> Option<String> {
    policy
        .extract(&ExtractorInput::new(parts, body))
        .expect("the extractor evaluates")
}

fn secret(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretString> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), SecretString::new(*value)))
        .collect()
}

fn generate(source: &str, parts: &Parts, data: &[(&str, &str)]) -> Result<Policy, PolicyError> {
    let policy = Policy::compile(source, PolicyKind::Generator)?;
    policy.generate(&GeneratorInput::new(parts, &secret(data)))?;
    Ok(policy)
}

#[test]
fn gitlab_extractor_finds_private_token_in_any_casing_in_v1_and_v0() {
    let v1 = Policy::compile(GITLAB_V1, PolicyKind::Extractor).unwrap();
    let v0 = Policy::compile(GITLAB_V0, PolicyKind::Extractor).unwrap();
    assert!(!v1.is_rego_v0());
    assert!(v0.is_rego_v0());
    for policy in [&v1, &v0] {
        for name in [
            "PRIVATE-TOKEN",
            "private-token",
            "Private-Token",
            "pRiVaTe-ToKeN",
        ] {
            let parts = request("GET", "/api/v4/projects", &[(name, "glpat-T1")]);
            assert_eq!(extract(policy, &parts, None).as_deref(), Some("glpat-T1"));
            assert_eq!(
                token_source(&parts, "glpat-T1"),
                TokenSource::Header(http::HeaderName::from_static("private-token"))
            );
        }
    }
}

#[test]
fn default_empty_token_and_non_string_tokens_are_no_token() {
    let policy = Policy::compile(GITLAB_V1, PolicyKind::Extractor).unwrap();
    let parts = request("GET", "/api/v4/projects", &[("authorization", "Bearer x")]);
    assert_eq!(extract(&policy, &parts, None), None);

    let number = r#"
package proxy
auth := {"token": 5}
"#;
    let policy = Policy::compile(number, PolicyKind::Extractor).unwrap();
    assert_eq!(extract(&policy, &parts, None), None);

    let undefined = r#"
package proxy
auth := {"token": "x"} if input.request.headers["Missing"][0] == "y"
"#;
    let policy = Policy::compile(undefined, PolicyKind::Extractor).unwrap();
    assert_eq!(extract(&policy, &parts, None), None);
}

#[test]
fn every_documented_field_is_present_for_a_bare_request() {
    let policy = r#"
package proxy
auth := {"token": "complete"} if {
	is_object(input.request.headers)
	is_object(input.request.query)
	is_object(input.request.body)
	input.request.method == "GET"
	input.request.path == "/"
	input.request.host == ""
	not input.request.headers["Private-Token"]
}
"#;
    let policy = Policy::compile(policy, PolicyKind::Extractor).unwrap();
    let parts = request("GET", "/", &[]);
    assert_eq!(extract(&policy, &parts, None).as_deref(), Some("complete"));
}

#[test]
fn token_from_query_is_found_and_stripped_byte_for_byte() {
    let policy = r#"
package proxy
auth := {"token": input.request.query["token"][0]}
"#;
    let policy = Policy::compile(policy, PolicyKind::Extractor).unwrap();
    let parts = request("GET", "/x?a=%2F&token=T%2B1&b=c+d", &[]);
    assert_eq!(extract(&policy, &parts, None).as_deref(), Some("T+1"));
    assert_eq!(
        token_source(&parts, "T+1"),
        TokenSource::Query("token".to_owned())
    );
    assert_eq!(
        strip_query_param(parts.uri.query().unwrap(), "token"),
        "a=%2F&b=c+d"
    );
}

#[test]
fn token_from_json_body_is_found_elsewhere() {
    let policy = r#"
package proxy
auth := {"token": input.request.body.credentials.token}
"#;
    let policy = Policy::compile(policy, PolicyKind::Extractor).unwrap();
    let parts = request("POST", "/login", &[("content-type", "application/json")]);
    let body = serde_json::json!({"credentials": {"token": "from-body"}});
    assert_eq!(
        extract(&policy, &parts, Some(body)).as_deref(),
        Some("from-body")
    );
    assert_eq!(extract(&policy, &parts, None), None);
    assert_eq!(token_source(&parts, "from-body"), TokenSource::Elsewhere);
}

#[test]
fn bearer_header_is_a_token_source() {
    let parts = request("GET", "/", &[("authorization", "Bearer abc")]);
    assert_eq!(
        token_source(&parts, "abc"),
        TokenSource::Header(http::header::AUTHORIZATION)
    );
    assert_eq!(token_source(&parts, "Bearer"), TokenSource::Elsewhere);
}

#[test]
fn policies_that_do_not_compile_say_where() {
    let broken = "package proxy\n\nauth := {\"token\": \n";
    let error = Policy::compile(broken, PolicyKind::Extractor).unwrap_err();
    let PolicyError::Syntax { message } = &error else {
        panic!("expected a syntax error, got {error:?}");
    };
    assert!(message.starts_with("line 4, column 1:"), "{message}");
    assert!(message.contains("expecting expression"), "{message}");

    let no_rule = "package proxy\n\nother := 1\n";
    let error = Policy::compile(no_rule, PolicyKind::Extractor).unwrap_err();
    assert!(matches!(error, PolicyError::Invalid { .. }), "{error:?}");
    assert!(error.to_string().contains("auth"), "{error}");

    let wrong_package = "package other\n\nauth := {\"token\": \"x\"}\n";
    let error = Policy::compile(wrong_package, PolicyKind::Extractor).unwrap_err();
    assert!(error.to_string().contains("package proxy"), "{error}");

    let misspelt = "package proxy\n\nauth := {\"token\": uper(\"x\")}\n";
    let error = Policy::compile(misspelt, PolicyKind::Extractor).unwrap_err();
    assert!(matches!(error, PolicyError::Invalid { .. }), "{error:?}");
    assert!(error.to_string().contains("line 3"), "{error}");
    assert!(error.to_string().contains("uper"), "{error}");
}

#[test]
fn evaluation_errors_name_the_position_not_the_input() {
    let type_error = r#"
package proxy
auth := {"token": t} if t := input.request.headers["A"][0] + 1
"#;
    let policy = Policy::compile(type_error, PolicyKind::Extractor).unwrap();
    let parts = request("GET", "/", &[("a", "first-secret")]);
    let error = policy
        .extract(&ExtractorInput::new(&parts, None))
        .unwrap_err();
    let PolicyError::Evaluation { position, .. } = &error else {
        panic!("expected an evaluation error, got {error:?}");
    };
    assert!(position.starts_with("line 3, column"), "{position}");
    let text = format!("{error} {error:?}");
    assert!(!text.contains("secret"), "{text}");

    let conflicting = r#"
package proxy
auth := {"token": t} if t := input.request.headers["A"][0]
auth := {"token": t} if t := input.request.headers["B"][0]
"#;
    let policy = Policy::compile(conflicting, PolicyKind::Extractor).unwrap();
    let parts = request("GET", "/", &[("a", "first-secret"), ("b", "second-secret")]);
    let error = policy
        .extract(&ExtractorInput::new(&parts, None))
        .unwrap_err();
    assert!(matches!(error, PolicyError::Evaluation { .. }), "{error:?}");
    let text = format!("{error} {error:?}");
    assert!(!text.contains("secret"), "{text}");
}

#[test]
fn slow_policies_are_stopped_at_the_time_limit_and_the_policy_stays_usable() {
    let policy =
        Policy::compile_with_time_limit(SLOW, PolicyKind::Extractor, Duration::from_millis(50))
            .unwrap();
    let parts = request("GET", "/", &[]);
    for _ in 0..2 {
        let started = Instant::now();
        let error = policy
            .extract(&ExtractorInput::new(&parts, None))
            .unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    assert_eq!(
        Policy::compile(SLOW, PolicyKind::Extractor)
            .unwrap()
            .time_limit(),
        Policy::DEFAULT_TIME_LIMIT
    );
}

#[test]
fn pooled_engines_never_mix_up_concurrent_requests() {
    let policy = Policy::compile(GITLAB_V1, PolicyKind::Extractor).unwrap();
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let policy = policy.clone();
            scope.spawn(move || {
                for n in 0..200 {
                    let token = format!("token-{worker}-{n}");
                    let parts = request("GET", "/", &[("private-token", token.as_str())]);
                    assert_eq!(extract(&policy, &parts, None), Some(token));
                }
            });
        }
    });
}

#[test]
fn a_policy_is_used_only_as_its_kind() {
    let policy = Policy::compile(GITLAB_V1, PolicyKind::Extractor).unwrap();
    let parts = request("GET", "/", &[]);
    let error = policy
        .generate(&GeneratorInput::new(&parts, &secret(&[])))
        .unwrap_err();
    assert!(matches!(error, PolicyError::WrongKind { .. }), "{error:?}");
}

#[test]
fn header_generator_sets_sensitive_private_token() {
    let source = r#"
package proxy
auth := {"position": "header", "auth": {"Private-Token": input.data.token}}
"#;
    let mut parts = request("GET", "/api/v4/projects", &[("private-token", "client-sa")]);
    let policy = generate(source, &parts, &[("token", "glpat-PAT")]).unwrap();
    let generated = policy
        .generate(&GeneratorInput::new(
            &parts,
            &secret(&[("token", "glpat-PAT")]),
        ))
        .unwrap();
    assert_eq!(generated.position, Position::Header);
    assert!(!format!("{generated:?}").contains("glpat"));
    apply_to_parts(&generated, &mut parts).unwrap();
    let values: Vec<_> = parts.headers.get_all("private-token").iter().collect();
    assert_eq!(values, ["glpat-PAT"]);
    assert!(values[0].is_sensitive());
}

#[test]
fn query_generator_appends_an_encoded_pair() {
    let source = r#"
package proxy
auth := {"position": "query", "auth": {"api_key": input.data.apikey}}
"#;
    let mut parts = request("GET", "http://tool.example/v1/items?page=%2F2", &[]);
    let policy = generate(source, &parts, &[("apikey", "k 1&2")]).unwrap();
    let generated = policy
        .generate(&GeneratorInput::new(
            &parts,
            &secret(&[("apikey", "k 1&2")]),
        ))
        .unwrap();
    apply_to_parts(&generated, &mut parts).unwrap();
    assert_eq!(
        parts.uri.to_string(),
        "http://tool.example/v1/items?page=%2F2&api_key=k%201%262"
    );
}

#[test]
fn body_generator_merges_into_the_json_object() {
    let source = r#"
package proxy
auth := {"position": "body", "contentType": "application/json", "auth": {"token": input.data.token}}
"#;
    let parts = request("POST", "/api/login", &[]);
    let policy = generate(source, &parts, &[("token", "s3cr3t")]).unwrap();
    let generated = policy
        .generate(&GeneratorInput::new(
            &parts,
            &secret(&[("token", "s3cr3t")]),
        ))
        .unwrap();
    assert_eq!(generated.position, Position::Body);
    assert_eq!(generated.content_type.as_deref(), Some("application/json"));
    let merged = merge_json_body(&generated, br#"{"name": "n", "token": "old"}"#).unwrap();
    let merged: serde_json::Value = serde_json::from_slice(&merged).unwrap();
    assert_eq!(merged, serde_json::json!({"name": "n", "token": "s3cr3t"}));
    assert!(merge_json_body(&generated, b"[1]").is_err());
    let empty: serde_json::Value =
        serde_json::from_slice(&merge_json_body(&generated, b"").unwrap()).unwrap();
    assert_eq!(empty, serde_json::json!({"token": "s3cr3t"}));
}

#[test]
fn conditional_generator_prefers_oauth_over_api_key() {
    let source = r#"
package proxy

auth := {"position": "header", "auth": {"Authorization": concat(" ", ["Bearer", input.data.oauth_token])}} if {
	input.data.oauth_token != ""
} else := {"position": "header", "auth": {"X-Api-Key": input.data.apikey}}
"#;
    let policy = Policy::compile(source, PolicyKind::Generator).unwrap();
    let parts = request("GET", "/", &[]);
    let both = secret(&[("oauth_token", "oauth-1"), ("apikey", "key-1")]);
    let generated = policy
        .generate(&GeneratorInput::new(&parts, &both))
        .unwrap();
    assert_eq!(generated.values.len(), 1);
    assert_eq!(generated.values[0].0, "Authorization");
    assert_eq!(generated.values[0].1.expose(), "Bearer oauth-1");

    let key_only = secret(&[("apikey", "key-1")]);
    let generated = policy
        .generate(&GeneratorInput::new(&parts, &key_only))
        .unwrap();
    assert_eq!(generated.values[0].0, "X-Api-Key");
    assert_eq!(generated.values[0].1.expose(), "key-1");
}

#[test]
fn generator_output_errors_never_quote_values() {
    let parts = request("GET", "/", &[]);
    let number = r#"
package proxy
auth := {"position": "header", "auth": {"X-Count": 424242}}
"#;
    let error = generate(number, &parts, &[]).unwrap_err();
    assert!(matches!(error, PolicyError::Output { .. }), "{error:?}");
    assert!(error.to_string().contains("X-Count"), "{error}");
    assert!(!error.to_string().contains("424242"), "{error}");

    let position = r#"
package proxy
auth := {"position": "cookie-jar", "auth": {"a": input.data.token}}
"#;
    let error = generate(position, &parts, &[("token", "t")]).unwrap_err();
    assert!(error.to_string().contains("position"), "{error}");
    assert!(!error.to_string().contains("cookie-jar"), "{error}");

    let undefined = r#"
package proxy
auth := {"position": "header", "auth": {"a": input.data.token}} if input.data.token == "never"
"#;
    let error = generate(undefined, &parts, &[("token", "t")]).unwrap_err();
    assert!(error.to_string().contains("undefined"), "{error}");
}

#[test]
fn generator_sees_the_backend_method_path_and_host() {
    let source = r#"
package proxy
auth := {"position": "header", "auth": {"X-Seen": sprintf("%s %s %s", [input.request.method, input.request.path, input.request.host])}}
"#;
    let parts = request("POST", "https://gitlab.example/api/v4/projects?x=1", &[]);
    let policy = Policy::compile(source, PolicyKind::Generator).unwrap();
    let generated = policy
        .generate(&GeneratorInput::new(&parts, &secret(&[])))
        .unwrap();
    assert_eq!(
        generated.values[0].1.expose(),
        "POST /api/v4/projects gitlab.example"
    );
}

/// Prints the median cost of one extraction: `cargo test --release -p connectors-proxy-core
/// --test rego -- --ignored --nocapture`. Compares the engine pool with cloning per request.
#[test]
#[ignore = "a timing report, not a check"]
fn report_extraction_cost() {
    const RUNS: usize = 10_000;
    let policy = Policy::compile(GITLAB_V1, PolicyKind::Extractor).unwrap();
    let parts = request(
        "GET",
        "/api/v4/projects?per_page=20",
        &[
            ("private-token", "glpat-0123456789abcdef"),
            ("user-agent", "glab/1.50"),
            ("accept", "application/json"),
        ],
    );
    let time = |mut run: Box<dyn FnMut() + '_>| {
        let mut samples: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                run();
                started.elapsed()
            })
            .collect();
        samples.sort();
        samples[RUNS / 2]
    };
    let whole = time(Box::new(|| {
        let input = ExtractorInput::new(&parts, None);
        assert!(policy.extract(&input).unwrap().is_some());
    }));
    let input = ExtractorInput::new(&parts, None);
    let build = time(Box::new(|| {
        std::hint::black_box(ExtractorInput::new(&parts, None));
    }));
    let pooled = time(Box::new(|| {
        assert!(policy.extract(&input).unwrap().is_some());
    }));

    let mut template = regorus::Engine::new();
    template.set_gather_prints(true);
    template.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: Duration::from_millis(50),
        check_interval: std::num::NonZeroU32::new(32).unwrap(),
    });
    template
        .add_policy("policy.rego".into(), GITLAB_V1.into())
        .unwrap();
    template
        .compile_with_entrypoint(&"data.proxy.auth".into())
        .unwrap();
    let raw_input = regorus::Value::from(input.to_json());
    let cloned = time(Box::new(|| {
        let mut engine = template.clone();
        engine.set_input(raw_input.clone());
        let value = engine.eval_rule("data.proxy.auth".into()).unwrap();
        assert_ne!(value, regorus::Value::Undefined);
    }));
    let mut unprepared = regorus::Engine::new();
    unprepared
        .add_policy("policy.rego".into(), GITLAB_V1.into())
        .unwrap();
    let cloned_unprepared = time(Box::new(|| {
        let mut engine = unprepared.clone();
        engine.set_input(raw_input.clone());
        let value = engine.eval_rule("data.proxy.auth".into()).unwrap();
        assert_ne!(value, regorus::Value::Undefined);
    }));
    println!(
        "median of {RUNS}: extract with input built {whole:?} = input {build:?} + pooled \
         evaluation {pooled:?}; clone of the prepared engine + evaluation {cloned:?}; clone of an \
         engine never evaluated (analysis runs again) + evaluation {cloned_unprepared:?}"
    );
}
