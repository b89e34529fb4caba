//! The registry proxy in Kubernetes mode: connectors, Secrets and reviews come from a fake API
//! server speaking the real Kubernetes JSON (the stock proxy's suite drives the same server),
//! in front of a real `docker-registry` with htpasswd auth.

#[allow(dead_code, unreachable_pub)]
#[path = "../../connectors-proxy-bin/tests/support/kube_api.rs"]
mod kube_api;
mod support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kube_api::KubeApi;
use serde_json::json;
use support::fixture::{CLIENT_TOKEN, OUTSIDER_TOKEN};
use support::http::curl;
use support::{ok, process, pull, push, setup, write_image};

const NS: &str = "ns";
const BUILDER: &str = "system:serviceaccount:ns:builder";

fn cluster(registry: &str) -> KubeApi {
    let api = KubeApi::start();
    api.apply(
        json!({"apiVersion": "connectors.alauda.io/v1alpha1", "kind": "ConnectorClass",
        "metadata": {"name": "oci"},
        "spec": {"auth": {"types": [
            {"name": "basicAuth", "secretType": "kubernetes.io/basic-auth"}]},
            "proxy": {"ref": {"kind": "Service", "name": "connectors-oci-proxy",
                              "namespace": "connectors-system"}}}}),
    );
    for name in ["reg", "locked"] {
        api.apply(
            json!({"apiVersion": "connectors.alauda.io/v1alpha1", "kind": "Connector",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"connectorClassName": "oci", "address": registry,
                     "auth": {"name": "basicAuth", "secretRef": {"name": "login"}}}}),
        );
    }
    api.apply(
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
        "metadata": {"name": "login", "namespace": NS},
        "data": {"username": STANDARD.encode("alice"), "password": STANDARD.encode("alice-pw")}}),
    );
    let groups = ["system:serviceaccounts", "system:serviceaccounts:ns"];
    api.add_token(CLIENT_TOKEN, BUILDER, &groups, &[]);
    api.add_token(
        OUTSIDER_TOKEN,
        "system:serviceaccount:ns:outsider",
        &[],
        &[],
    );
    api.grant(BUILDER, NS, "reg", None);
    api
}

#[test]
fn pushes_and_pulls_with_connectors_and_reviews_from_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let (registry, port) = setup::htpasswd_registry(dir.path());
    let api = cluster(&format!("http://127.0.0.1:{port}"));
    let kubeconfig = api.kubeconfig();
    let state = dir.path().join("state");
    let (proxy, addr) = process::proxy_process(
        &["--state-dir".as_ref(), state.as_os_str()],
        &[("KUBECONFIG", kubeconfig.as_os_str())],
    );
    assert!(proxy.logs().contains("Kubernetes mode"), "{}", proxy.logs());

    // Ready once both watches have listed.
    let admin = proxy.logged_addr("admin");
    let deadline = Instant::now() + Duration::from_secs(20);
    while curl(&[&format!("http://{admin}/readyz")]).status != 200 {
        assert!(Instant::now() < deadline, "never ready:\n{}", proxy.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    let creds = format!("u:{CLIENT_TOKEN}");

    let image = tempfile::tempdir().unwrap();
    let digest = write_image(image.path());
    let reference = format!("docker://{addr}/namespaces/{NS}/connectors/reg/team/app:v1");
    ok(&push(&creds, image.path(), &reference));
    let (pulled, pulled_digest) = pull(&creds, &reference);
    ok(&pulled);
    assert_eq!(pulled_digest.as_deref(), Some(digest.as_str()));
    assert!(registry.logs().contains("alice"), "{}", registry.logs());

    // Reviews went to the API server; a token without RBAC and a connector the client may not
    // use are refused before the registry sees anything.
    assert!(
        api.token_reviews()
            .iter()
            .any(|review| review["spec"]["token"] == CLIENT_TOKEN)
    );
    let refused = format!("http://{addr}/v2/namespaces/{NS}/connectors/reg/refused/repo/tags/list");
    let outsider = format!("u:{OUTSIDER_TOKEN}");
    assert_eq!(curl(&["-u", &outsider, &refused]).status, 403);
    let locked = refused.replace("/connectors/reg/", "/connectors/locked/");
    assert_eq!(curl(&["-u", &creds, &locked]).status, 403);
    assert!(
        !registry.logs().contains("refused/repo"),
        "{}",
        registry.logs()
    );
    let logs = proxy.logs();
    for secret in [CLIENT_TOKEN, "alice-pw"] {
        assert!(!logs.contains(secret), "{secret} in the proxy log");
    }
}
