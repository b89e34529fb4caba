//! Kubernetes mode against a fake API server: watches, Secret reads, TokenReview and
//! SubjectAccessReview, outages, and parity with embedded mode.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::curl::{CurlResponse, curl};
use support::fixture::*;
use support::kube_api::KubeApi;
use support::manifests::{CLASS, NS};
use support::proxy::ProxyProcess;
use support::upstream::Upstream;

/// The user of [`CLIENT_TOKEN`] as the fake API server reports it.
const CLIENT_USER: &str = "system:serviceaccount:team-a:builder";
const CLIENT_GROUPS: [&str; 2] = ["system:serviceaccounts", "system:serviceaccounts:team-a"];

fn class() -> Value {
    json!({"apiVersion": "connectors.alauda.io/v1alpha1", "kind": "ConnectorClass",
        "metadata": {"name": CLASS},
        "spec": {"auth": {"types": [
            {"name": "basicAuth", "secretType": "kubernetes.io/basic-auth"},
            {"name": "bearerToken", "secretType": "connectors.cpaas.io/bearer-token"},
            {"name": "anonymous", "secretType": "kubernetes.io/basic-auth", "optional": true}]},
            "proxy": {"ref": {"kind": "Service", "name": "connectors-proxy-service",
                              "namespace": "connectors-system"}}}})
}

fn connector(name: &str, address: &str, auth: &str, secret: bool) -> Value {
    let mut auth = json!({"name": auth});
    if secret {
        auth["secretRef"] = json!({"name": format!("{name}-secret")});
    }
    json!({"apiVersion": "connectors.alauda.io/v1alpha1", "kind": "Connector",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"connectorClassName": CLASS, "address": address, "auth": auth}})
}

fn basic_secret(name: &str, user: &str, password: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
        "metadata": {"name": format!("{name}-secret"), "namespace": NS},
        "data": {"username": b64(user), "password": b64(password)}})
}

/// The fake cluster holding the same objects as the embedded fixture's manifests.
fn cluster(tool: &str) -> KubeApi {
    let api = KubeApi::start();
    api.apply(class());
    api.apply(connector("basic", tool, "basicAuth", true));
    api.apply(basic_secret("basic", TOOL_USER, TOOL_PASSWORD));
    api.apply(connector("bearer", tool, "bearerToken", true));
    api.apply(json!({"apiVersion": "v1", "kind": "Secret",
        "type": "connectors.cpaas.io/bearer-token",
        "metadata": {"name": "bearer-secret", "namespace": NS},
        "data": {"token": b64(TOOL_TOKEN)}}));
    api.apply(connector("optional", tool, "anonymous", false));
    api.apply(connector(
        "prefixed",
        &format!("{tool}/api"),
        "basicAuth",
        true,
    ));
    api.apply(basic_secret("prefixed", TOOL_USER, TOOL_PASSWORD));
    api.add_token(CLIENT_TOKEN, CLIENT_USER, &CLIENT_GROUPS, &[]);
    api.add_token(
        INTRUDER_TOKEN,
        "system:serviceaccount:team-a:intruder",
        &[],
        &[],
    );
    for name in ["basic", "bearer", "optional", "prefixed", "missing", "late"] {
        api.grant(CLIENT_USER, NS, name, None);
    }
    api
}

/// Starts the proxy in Kubernetes mode against `api` and waits until it is ready.
fn proxy(api: &KubeApi, args: &[&str], env: &[(&str, &str)]) -> ProxyProcess {
    let kubeconfig = api.kubeconfig().display().to_string();
    let mut all_env = vec![("KUBECONFIG", kubeconfig.as_str())];
    all_env.extend_from_slice(env);
    let proxy = ProxyProcess::start(args, &all_env);
    let ready = format!("{}/readyz", proxy.admin_url());
    wait_until(Duration::from_secs(20), "the proxy to become ready", || {
        curl(&[&ready]).status == 200
    });
    proxy
}

fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn get(proxy: &ProxyProcess, connector: &str, path: &str, token: &str) -> CurlResponse {
    let url = format!("{}{path}", proxy.connector_url(NS, connector));
    curl(&["-H", &format!("Authorization: Bearer {token}"), &url])
}

#[test]
fn connectors_added_changed_and_deleted_while_running() {
    let upstream = Upstream::start();
    let api = cluster(&upstream.url());
    let proxy = proxy(&api, &[], &[]);
    assert_eq!(get(&proxy, "late", "/x", CLIENT_TOKEN).status, 404);

    api.apply(connector("late", &upstream.url(), "basicAuth", true));
    api.apply(basic_secret("late", TOOL_USER, TOOL_PASSWORD));
    wait_until(Duration::from_secs(10), "the added connector", || {
        get(&proxy, "late", "/x", CLIENT_TOKEN).status == 200
    });
    assert_eq!(
        upstream.last().header("authorization"),
        Some(tool_basic().as_str())
    );
    assert_eq!(upstream.last().target, "/x");

    api.apply(connector(
        "late",
        &format!("{}/v2", upstream.url()),
        "basicAuth",
        true,
    ));
    wait_until(Duration::from_secs(10), "the changed address", || {
        get(&proxy, "late", "/x", CLIENT_TOKEN).status == 200 && upstream.last().target == "/v2/x"
    });

    // A watch resuming from a forgotten resourceVersion gets 410 and must relist.
    api.expire_history();
    api.delete("Connector", NS, "late");
    wait_until(Duration::from_secs(15), "the deleted connector", || {
        get(&proxy, "late", "/x", CLIENT_TOKEN).status == 404
    });
    assert_eq!(get(&proxy, "basic", "/", CLIENT_TOKEN).status, 200);
}

#[test]
fn rotated_secret_is_used_within_the_refresh_interval() {
    let upstream = Upstream::start();
    let api = cluster(&upstream.url());
    let proxy = proxy(
        &api,
        &[],
        &[("CONNECTORS_PROXY_SECRET_REFRESH_SECONDS", "1")],
    );
    assert_eq!(get(&proxy, "basic", "/", CLIENT_TOKEN).status, 200);
    assert_eq!(
        upstream.last().header("authorization"),
        Some(tool_basic().as_str())
    );

    let rotated = "rotated-password-kube-81d2";
    api.apply(basic_secret("basic", TOOL_USER, rotated));
    let expected = format!("Basic {}", b64(&format!("{TOOL_USER}:{rotated}")));
    wait_until(Duration::from_secs(8), "the rotated Secret", || {
        get(&proxy, "basic", "/", CLIENT_TOKEN).status == 200
            && upstream.last().header("authorization") == Some(expected.as_str())
    });
    assert!(
        !proxy.logs().contains(rotated),
        "the new password was logged"
    );
}

#[test]
fn reviews_decide_401_403_and_injection() {
    let upstream = Upstream::start();
    let api = cluster(&upstream.url());
    let proxy = proxy(&api, &[], &[]);

    assert_eq!(get(&proxy, "basic", "/", "not-a-known-token").status, 401);
    assert_eq!(get(&proxy, "basic", "/", INTRUDER_TOKEN).status, 403);
    let ok = get(&proxy, "basic", "/repo", CLIENT_TOKEN);
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        upstream.last().header_values("authorization"),
        vec![tool_basic()]
    );
    assert_eq!(
        upstream.requests().len(),
        1,
        "refused requests must not reach the tool"
    );

    let reviews = api.token_reviews();
    assert_eq!(reviews.len(), 3);
    assert_eq!(reviews[2]["spec"]["token"], CLIENT_TOKEN);
    assert!(
        reviews[2]["spec"].get("audiences").is_none(),
        "{}",
        reviews[2]
    );
    let sar = api
        .access_reviews()
        .last()
        .cloned()
        .expect("a SubjectAccessReview");
    let spec = &sar["spec"];
    assert_eq!(
        spec["resourceAttributes"],
        json!({"group": "connectors.alauda.io", "resource": "connectors", "name": "basic",
               "namespace": NS, "verb": "get"})
    );
    assert_eq!(spec["user"], CLIENT_USER);
    assert_eq!(spec["groups"], json!(CLIENT_GROUPS));
    assert_eq!(spec["uid"], format!("uid-{CLIENT_USER}"));
    assert_eq!(
        spec["extra"],
        json!({"authentication.kubernetes.io/pod-name": ["builder-pod"]})
    );
    assert!(
        !proxy.logs().contains(CLIENT_TOKEN),
        "a client token was logged"
    );
}

#[test]
fn require_proxy_permission_checks_the_proxy_subresource() {
    let upstream = Upstream::start();
    let api = cluster(&upstream.url());
    let proxy = proxy(&api, &["--require-proxy-permission"], &[]);
    assert_eq!(get(&proxy, "basic", "/", CLIENT_TOKEN).status, 403);
    let last = api
        .access_reviews()
        .last()
        .cloned()
        .expect("a SubjectAccessReview");
    assert_eq!(last["spec"]["resourceAttributes"]["subresource"], "proxy");
    assert_eq!(last["spec"]["resourceAttributes"]["resource"], "connectors");
    assert_eq!(last["spec"]["resourceAttributes"]["verb"], "get");

    api.grant(CLIENT_USER, NS, "bearer", Some("proxy"));
    assert_eq!(get(&proxy, "bearer", "/", CLIENT_TOKEN).status, 200);
    assert_eq!(
        upstream.last().header("authorization"),
        Some(format!("Bearer {TOOL_TOKEN}").as_str())
    );
}

#[test]
fn tokens_must_carry_one_of_our_audiences() {
    let upstream = Upstream::start();
    let api = cluster(&upstream.url());
    api.add_token(
        "scoped-token-1",
        CLIENT_USER,
        &CLIENT_GROUPS,
        &["connectors-proxy"],
    );
    api.add_token(
        "api-token-2",
        CLIENT_USER,
        &CLIENT_GROUPS,
        &["https://kubernetes.default.svc"],
    );
    let args = [
        "--token-audience",
        "connectors-proxy",
        "--token-audience",
        "other",
    ];
    let proxy = proxy(&api, &args, &[]);

    assert_eq!(get(&proxy, "basic", "/", "scoped-token-1").status, 200);
    assert_eq!(get(&proxy, "basic", "/", "api-token-2").status, 401);
    // CLIENT_TOKEN's answer names no audience at all: an authenticator that ignores them.
    assert_eq!(get(&proxy, "basic", "/", CLIENT_TOKEN).status, 401);
    for review in api.token_reviews() {
        assert_eq!(
            review["spec"]["audiences"],
            json!(["connectors-proxy", "other"])
        );
    }
}

#[test]
fn api_outage_keeps_cached_allows_and_fails_new_tokens_closed() {
    let upstream = Upstream::start();
    let api = cluster(&upstream.url());
    api.add_token("second-token-3", CLIENT_USER, &CLIENT_GROUPS, &[]);
    let proxy = proxy(&api, &[], &[]);
    assert_eq!(get(&proxy, "basic", "/", CLIENT_TOKEN).status, 200);

    api.stop();
    for _ in 0..3 {
        assert_eq!(get(&proxy, "basic", "/", CLIENT_TOKEN).status, 200);
    }
    assert_eq!(get(&proxy, "basic", "/", "second-token-3").status, 503);
    assert_eq!(
        upstream.last().header("authorization"),
        Some(tool_basic().as_str())
    );

    api.resume();
    wait_until(Duration::from_secs(15), "recovery after the outage", || {
        get(&proxy, "basic", "/", "second-token-3").status == 200
    });
}

#[test]
fn a_thousand_requests_cost_one_review_of_each_kind() {
    let upstream = Upstream::start();
    let api = cluster(&upstream.url());
    let proxy = proxy(&api, &[], &[]);
    let url = format!("{}/n", proxy.connector_url(NS, "basic"));
    let mut command = Command::new("curl");
    command.args(["-s", "-w", "%{http_code}\n", "-H", &bearer_header()]);
    for _ in 0..1000 {
        command.args(["-o", "/dev/null", &url]);
    }
    let output = command.output().expect("run curl");
    let codes = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        codes.lines().filter(|c| *c == "200").count(),
        1000,
        "{codes}"
    );
    assert_eq!(upstream.requests().len(), 1000);
    assert_eq!(api.token_reviews().len(), 1);
    assert_eq!(api.access_reviews().len(), 1);
}

#[test]
fn kubernetes_mode_answers_like_embedded_mode() {
    let embedded = Fixture::start();
    let api = cluster(&embedded.upstream.url());
    let kube = proxy(&api, &[], &[]);
    let cases = [
        ("basic", "/repo/a%2Fb?x=1", CLIENT_TOKEN),
        ("bearer", "/v1/items", CLIENT_TOKEN),
        ("optional", "/", CLIENT_TOKEN),
        ("prefixed", "/deep//path", CLIENT_TOKEN),
        ("missing", "/", CLIENT_TOKEN),
        ("basic", "/", INTRUDER_TOKEN),
        ("basic", "/", "unknown-token"),
    ];
    for (connector, path, token) in cases {
        let a = get(&embedded.proxy, connector, path, token);
        let seen_a = embedded.upstream.requests().len();
        let a_request = embedded.upstream.requests().last().cloned();
        let b = get(&kube, connector, path, token);
        let b_request = embedded.upstream.requests().last().cloned();
        let case = format!("{connector}{path} with {}", &token[..6]);
        assert_eq!(a.status, b.status, "{case}");
        assert_eq!(a.text(), b.text(), "{case}");
        for header in ["content-type", "www-authenticate"] {
            assert_eq!(a.header(header), b.header(header), "{case}: {header}");
        }
        if a.status == 200 {
            assert_eq!(embedded.upstream.requests().len(), seen_a + 1, "{case}");
            let (a_request, b_request) = (a_request.unwrap(), b_request.unwrap());
            assert_eq!(a_request.target, b_request.target, "{case}");
            assert_eq!(a_request.headers, b_request.headers, "{case}");
        }
    }
}
