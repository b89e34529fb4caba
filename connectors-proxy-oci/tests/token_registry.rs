//! The proxy in front of a `docker-registry` with token auth: the proxy runs the token flow
//! with each connector's login, and connectors never share tokens.

mod support;

use support::fixture::{CLIENT_TOKEN, Conn};
use support::http::curl;
use support::{fixture, free_port, ok, process, pull, push, skopeo, token_server, write_image};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn skopeo_through_a_token_registry_with_per_connector_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("token-cert.pem");
    let tokens = token_server::start(&[("alice", "alice-pw"), ("bob", "bob-pw")], &[], &cert).await;
    let registry_port = free_port();
    let registry = process::registry(
        dir.path(),
        registry_port,
        &token_server::registry_auth(tokens.addr, &cert),
    );
    fixture::write(
        dir.path(),
        &format!("http://127.0.0.1:{registry_port}"),
        "cpaas.io/distribution-registry-token",
        &[
            Conn {
                name: "pusher",
                login: Some(("alice", "alice-pw")),
                granted: true,
            },
            Conn {
                name: "puller",
                login: Some(("bob", "bob-pw")),
                granted: true,
            },
            Conn {
                name: "anon",
                login: None,
                granted: true,
            },
        ],
    );
    let (proxy, proxy_addr) = process::proxy(
        &dir.path().join("manifests"),
        &dir.path().join("tokens.csv"),
    );
    let image = tempfile::tempdir().unwrap();
    let digest = write_image(image.path());
    let creds = format!("u:{CLIENT_TOKEN}");
    let reference =
        |conn: &str| format!("docker://{proxy_addr}/namespaces/ns/connectors/{conn}/team/app:v1");

    let (to, creds2, layout) = (reference("pusher"), creds.clone(), image.path().to_owned());
    let pushed = tokio::task::spawn_blocking(move || push(&creds2, &layout, &to))
        .await
        .unwrap();
    if !pushed.status.success() {
        eprintln!("proxy:\n{}\nregistry:\n{}", proxy.logs(), registry.logs());
    }
    ok(&pushed);
    let (puller, creds2) = (reference("puller"), creds.clone());
    let inspect = tokio::task::spawn_blocking(move || {
        ok(&skopeo(&[
            "inspect",
            "--creds",
            &creds2,
            "--tls-verify=false",
            &puller,
        ]))
    })
    .await
    .unwrap();
    let inspected: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspected["Digest"], digest.as_str());

    let (from, creds2) = (reference("puller"), creds.clone());
    let (pulled, pulled_digest) = tokio::task::spawn_blocking(move || pull(&creds2, &from))
        .await
        .unwrap();
    ok(&pulled);
    assert_eq!(pulled_digest.as_deref(), Some(digest.as_str()));

    // The anonymous connector gets its own (empty) token and is refused by the registry: the
    // client is told the connector may not pull, not asked to log in again.
    let url = format!("http://{proxy_addr}/v2/namespaces/ns/connectors/anon/team/app/manifests/v1");
    let r = tokio::task::spawn_blocking(move || curl(&["-u", &format!("u:{CLIENT_TOKEN}"), &url]))
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains(r#""code":"DENIED""#)
            && r.body.contains("ns/anon may not pull from team/app"),
        "{}",
        r.body
    );
    assert_eq!(r.header("www-authenticate"), None);
    assert!(
        !r.headers.contains("test-registry"),
        "the registry challenge leaked: {}",
        r.headers
    );

    let asked = tokens.requests.lock().unwrap().clone();
    let who: std::collections::BTreeSet<&str> = asked.iter().map(|(u, _)| u.as_str()).collect();
    assert_eq!(
        who,
        ["alice", "anonymous", "bob"].into_iter().collect(),
        "{asked:?}"
    );
    // The pusher asked for pull,push; the puller only ever asked for pull.
    assert!(
        asked
            .iter()
            .any(|(u, s)| u == "alice" && s.contains(&"repository:team/app:pull,push".to_owned()))
    );
    assert!(
        asked
            .iter()
            .filter(|(u, _)| u == "bob")
            .all(|(_, s)| s == &["repository:team/app:pull".to_owned()])
    );
    // Tokens are cached: far fewer token requests than registry requests.
    let registry_requests = registry.logs().matches("\"GET /v2/team").count()
        + registry.logs().matches("\"HEAD /v2/team").count();
    assert!(
        asked.len() < registry_requests,
        "{} token requests for {registry_requests} registry requests",
        asked.len()
    );
    assert!(registry.logs().contains("auth.user.name=alice"));
    // The anonymous connector's 401 was retried exactly once with a fresh token.
    assert_eq!(
        registry
            .logs()
            .matches("\"GET /v2/team/app/manifests/v1 HTTP/1.1\" 401")
            .count(),
        2
    );

    // A delete asks for the `delete` action, as Distribution checks it, and removes the image.
    let manifest =
        format!("http://{proxy_addr}/v2/namespaces/ns/connectors/pusher/team/app/manifests");
    let (by_digest, by_tag) = (format!("{manifest}/{digest}"), format!("{manifest}/v1"));
    let auth = format!("u:{CLIENT_TOKEN}");
    let (deleted, after) = tokio::task::spawn_blocking(move || {
        let deleted = curl(&["-u", &auth, "-X", "DELETE", &by_digest]);
        (deleted, curl(&["-u", &auth, &by_tag]))
    })
    .await
    .unwrap();
    assert_eq!(deleted.status, 202, "{}", deleted.body);
    assert_eq!(after.status, 404, "{}", after.body);
    assert!(
        tokens
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|(u, s)| u == "alice" && s == &["repository:team/app:delete".to_owned()])
    );
    // The first attempt already carried the right token: no 401 from the registry.
    let logs = registry.logs();
    let deletes: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("\"DELETE /v2/team/app/manifests/"))
        .collect();
    assert!(
        deletes.len() == 1 && deletes[0].contains("\" 202"),
        "{deletes:?}"
    );
    assert!(!proxy.logs().contains("alice-pw") && !proxy.logs().contains(CLIENT_TOKEN));
}
