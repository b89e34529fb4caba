//! Token-registry cases: a pull-only connector, and one token fetch for a burst of requests.

mod support;

use std::time::{Duration, Instant};

use support::fixture::{CLIENT_TOKEN, Conn};
use support::http::curl;
use support::{ok, pull, push, setup, token_server, write_image};

const PUSHER: Conn<'static> = Conn {
    name: "pusher",
    login: Some(("alice", "alice-pw")),
    granted: true,
};
const READER: Conn<'static> = Conn {
    name: "reader",
    login: Some(("carol", "carol-pw")),
    granted: true,
};

/// The token server (carol may only pull) and the registry and proxy behind it.
async fn start() -> (token_server::TokenServer, setup::Setup) {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("token-cert.pem");
    let tokens = token_server::start(
        &[("alice", "alice-pw"), ("carol", "carol-pw")],
        &["carol"],
        &cert,
    )
    .await;
    let s = setup::token(&tokens, dir, &cert, &[PUSHER, READER]);
    (tokens, s)
}

fn reference(s: &setup::Setup, conn: &str) -> String {
    format!(
        "docker://{}/namespaces/ns/connectors/{conn}/team/app:v1",
        s.proxy_addr
    )
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pull_only_connector_pulls_and_is_refused_pushes_clearly() {
    let (tokens, s) = start().await;
    let image = tempfile::tempdir().unwrap();
    let digest = write_image(image.path());
    let creds = format!("u:{CLIENT_TOKEN}");
    let layout = image.path().to_owned();
    let (to, c, img) = (reference(&s, "pusher"), creds.clone(), layout.clone());
    ok(&blocking(move || push(&c, &img, &to)).await);

    // A second repository through the same connector mounts the layers instead of uploading.
    let (copy, c, img) = (
        reference(&s, "pusher").replace("team/app", "team/copy"),
        creds.clone(),
        layout.clone(),
    );
    ok(&blocking(move || push(&c, &img, &copy)).await);
    let mounted = s
        .registry
        .logs()
        .lines()
        .filter(|l| l.contains("POST /v2/team/copy/blobs/uploads/?") && l.contains("from=team/app"))
        .filter(|l| l.contains("HTTP/1.1\" 201"))
        .count();
    assert!(mounted >= 2, "{}", s.registry.logs());

    // Pulling through the reader works.
    let (from, c) = (reference(&s, "reader"), creds.clone());
    let (pulled, pulled_digest) = blocking(move || pull(&c, &from)).await;
    if !pulled.status.success() {
        eprintln!(
            "proxy:\n{}\nregistry:\n{}",
            s.proxy.logs(),
            s.registry.logs()
        );
    }
    ok(&pulled);
    assert_eq!(pulled_digest.as_deref(), Some(digest.as_str()));

    // Pushing through the reader is refused at once, with a message that says why.
    let (to, c) = (
        reference(&s, "reader").replace("team/app", "team/other"),
        creds.clone(),
    );
    let started = Instant::now();
    let pushed = blocking(move || push(&c, &layout, &to)).await;
    let stderr = String::from_utf8_lossy(&pushed.stderr).into_owned();
    assert!(!pushed.status.success(), "the push went through");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the refusal took {:?}",
        started.elapsed()
    );
    assert!(stderr.contains("denied"), "{stderr}");
    assert!(stderr.contains("may not push"), "{stderr}");

    // The refusal is the proxy's: no registry challenge or token reaches the client.
    let url = s.proxy_url("/v2/namespaces/ns/connectors/reader/team/app/blobs/uploads/");
    let r = blocking(move || curl(&["-u", &format!("u:{CLIENT_TOKEN}"), "-X", "POST", &url])).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains(r#""code":"DENIED""#), "{}", r.body);
    assert!(
        !r.headers.to_ascii_lowercase().contains("bearer"),
        "{}",
        r.headers
    );
    assert!(
        !r.headers.contains("test-registry") && !r.body.contains("eyJ"),
        "{}",
        r.body
    );

    // A write with a body cannot be sent again: refused on the first insufficient_scope.
    let url = s.proxy_url("/v2/namespaces/ns/connectors/reader/team/app/manifests/v3");
    let manifest = std::fs::read(image.path().join("blobs/sha256").join(&digest[7..])).unwrap();
    let r = blocking(move || {
        curl(&[
            "-u",
            &format!("u:{CLIENT_TOKEN}"),
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
            "--data-binary",
            std::str::from_utf8(&manifest).unwrap(),
            &url,
        ])
    })
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("ns/reader may not push to team/app"),
        "{}",
        r.body
    );

    // Reads asked carol's token server for pull only; only the refused writes asked for push.
    let asked = tokens.requests.lock().unwrap().clone();
    let carol: Vec<&Vec<String>> = asked
        .iter()
        .filter(|(u, _)| u == "carol")
        .map(|(_, s)| s)
        .collect();
    assert!(
        carol.contains(&&vec!["repository:team/app:pull".to_owned()])
            && carol.contains(&&vec!["repository:team/other:pull".to_owned()]),
        "{asked:?}"
    );
    assert!(
        carol
            .iter()
            .flat_map(|s| s.iter())
            .all(|s| [":pull", ":pull,push", ":push,pull"]
                .iter()
                .any(|a| s.ends_with(a))),
        "{asked:?}"
    );
    // skopeo tried to mount the layers from the reader's and the pusher's repository: the
    // first became a mount from `team/app`, the second (another connector) a plain upload.
    assert!(
        carol
            .iter()
            .flat_map(|s| s.iter())
            .all(|s| !s.contains("namespaces/")),
        "{asked:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_requests_fetches_one_token() {
    let (tokens, s) = start().await;
    // A slow token server: every request of the burst arrives while the first fetch runs.
    tokens
        .delay_ms
        .store(500, std::sync::atomic::Ordering::Relaxed);
    let digest = support::digest(b"not uploaded");
    let url = s.proxy_url(&format!(
        "/v2/namespaces/ns/connectors/reader/team/app/blobs/{digest}"
    ));
    let burst: Vec<_> = (0..20)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || curl(&["-u", &format!("u:{CLIENT_TOKEN}"), "-I", &url]))
        })
        .collect();
    let statuses: Vec<u16> = blocking(move || {
        burst
            .into_iter()
            .map(|t| t.join().unwrap().status)
            .collect()
    })
    .await;
    assert!(statuses.iter().all(|s| *s == 404), "{statuses:?}");
    let asked = tokens.requests.lock().unwrap().clone();
    assert_eq!(
        asked,
        [(
            "carol".to_owned(),
            vec!["repository:team/app:pull".to_owned()]
        )],
        "{}",
        s.proxy.logs()
    );
    // Later requests use the cached token.
    let r = blocking(move || curl(&["-u", &format!("u:{CLIENT_TOKEN}"), "-I", &url])).await;
    assert_eq!(r.status, 404);
    assert_eq!(tokens.requests.lock().unwrap().len(), 1);
}
