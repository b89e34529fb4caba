//! Self-tests of the test servers and helpers, run without the proxy.

mod support;

use std::time::{Duration, Instant};

use support::curl::{curl, parse};
use support::proxy::{find_addr, strip_ansi};
use support::raw::{RawClient, status_of};
use support::upstream::{Reply, Upstream};

#[test]
fn finds_listen_addresses_in_log_lines() {
    let log = strip_ansi(
        "INFO \u{1b}[1mproxy listening on 127.0.0.1:4321\u{1b}[0m\nadmin listening on 127.0.0.1:99 ok",
    );
    assert_eq!(
        find_addr(&log, "proxy listening on "),
        Some("127.0.0.1:4321".parse().unwrap())
    );
    assert_eq!(
        find_addr(&log, "admin listening on "),
        Some("127.0.0.1:99".parse().unwrap())
    );
    assert_eq!(find_addr("nothing here", "proxy listening on "), None);
}

#[test]
fn curl_output_parser_skips_interim_responses() {
    let raw =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nA: 1\r\nA: 2\r\n\r\nbody".to_vec();
    let response = parse(raw);
    assert_eq!(response.interim, vec![100]);
    assert_eq!(response.status, 201);
    assert_eq!(response.header_values("a"), vec!["1", "2"]);
    assert_eq!(response.body, b"body");
}

#[test]
fn upstream_records_raw_targets_headers_and_bodies() {
    let upstream = Upstream::with_handler(|_| {
        Reply::ok("hello")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
    });
    let url = format!("{}/p/a%2Fb//c?a=%2B&b=&a=2", upstream.url());
    let response = curl(&[
        "-H",
        "X-Rep: one",
        "-H",
        "X-Rep: two",
        "--data-binary",
        "payload",
        &url,
    ]);
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "hello");
    assert_eq!(response.header_values("set-cookie"), vec!["a=1", "b=2"]);
    let seen = upstream.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.target, "/p/a%2Fb//c?a=%2B&b=&a=2");
    assert_eq!(seen.header_values("x-rep"), vec!["one", "two"]);
    assert_eq!(seen.body, b"payload");
}

#[test]
fn upstream_delays_replies() {
    let upstream =
        Upstream::with_handler(|_| Reply::ok("late").delayed(Duration::from_millis(600)));
    let started = Instant::now();
    let response = curl(&[&upstream.url()]);
    assert_eq!(response.text(), "late");
    assert!(started.elapsed() >= Duration::from_millis(600));
}

#[test]
fn upstream_echoes_over_an_upgraded_connection() {
    let upstream = Upstream::with_handler(|_| Reply::websocket_echo());
    let mut client = RawClient::connect(upstream.addr());
    client.send(
        b"GET /ws HTTP/1.1\r\nHost: tool\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    let head = client.read_head(Duration::from_secs(5));
    assert_eq!(
        status_of(&head),
        Some(101),
        "{}",
        String::from_utf8_lossy(&head)
    );
    client.send(b"ping-through-upgrade");
    let echoed = client.read_exact_within(20, Duration::from_secs(5));
    assert_eq!(echoed, b"ping-through-upgrade");
}

#[test]
fn git_server_serves_clone_and_chunked_push_with_basic_auth() {
    use support::git_client::GitClient;
    use support::git_server::{GitServer, git_output};

    let server = GitServer::start("git-user", "git-password");
    let bare = server.create_repo("project");
    let client = GitClient::new();
    let work = client.new_repo("work", "hello\n");
    let url = format!("{}/project.git", server.url());
    let auth = vec![format!(
        "http.extraHeader=Authorization: {}",
        server.expected_authorization()
    )];

    let denied = client.try_run(&work, &[], &["push", &url, "main"]);
    assert!(
        !denied.status.success(),
        "push without credentials succeeded"
    );

    client.run(&work, &auth, &["push", "-q", &url, "main"]);
    let head = client.commit_random(&work, "blob.bin", 2 * 1024 * 1024);
    let mut small_buffer = auth.clone();
    small_buffer.push("http.postBuffer=65536".into());
    client.run(&work, &small_buffer, &["push", "-q", &url, "main"]);
    let server_head = git_output(&["rev-parse", "main"], Some(&bare));
    assert_eq!(server_head.trim(), head);
    assert!(
        server.requests().iter().any(|r| r.chunked),
        "no chunked request reached the server"
    );

    let mut v2 = auth.clone();
    v2.push("protocol.version=2".into());
    let home = client.path("");
    client.run(&home, &v2, &["clone", "-q", &url, "clone"]);
    assert_eq!(client.head(&client.path("clone")), head);
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.git_protocol.as_deref() == Some("version=2"))
    );
    let unauthenticated = requests
        .iter()
        .filter(|r| r.authorization.is_none())
        .count();
    assert!(unauthenticated >= 1, "the denied push was not recorded");
}

#[test]
fn manifests_builder_writes_connectors_secrets_rbac_and_tokens() {
    use support::manifests::Manifests;

    let manifests = Manifests::new();
    manifests.basic_connector("tool", "http://127.0.0.1:1/api", "u", "p4ss");
    manifests.grant("builder", &["tool"]);
    manifests.service_account_token("tok-1", "builder");
    let dir = manifests.dir();
    let connector = std::fs::read_to_string(dir.join("connector-tool.yaml")).unwrap();
    assert!(connector.contains("address: \"http://127.0.0.1:1/api\""));
    assert!(connector.contains("name: tool-secret"));
    let secret = std::fs::read_to_string(dir.join("secret-tool.yaml")).unwrap();
    assert!(secret.contains("password: cDRzcw=="), "{secret}");
    manifests.basic_secret("tool", "u", "rotated");
    let secret = std::fs::read_to_string(dir.join("secret-tool.yaml")).unwrap();
    assert!(secret.contains("password: cm90YXRlZA=="), "{secret}");
    let rbac = std::fs::read_to_string(dir.join("rbac-builder.yaml")).unwrap();
    assert!(rbac.contains("kind: RoleBinding") && rbac.contains("resourceNames: [\"tool\"]"));
    let tokens = std::fs::read_to_string(manifests.token_file()).unwrap();
    assert_eq!(
        tokens,
        "tok-1,system:serviceaccount:team-a:builder,uid-0,\"\"\n"
    );
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| n.ends_with(".yaml")), "{names:?}");
}

#[test]
fn curl_reports_100_continue_from_the_upstream() {
    let upstream = Upstream::start();
    let body = vec![b'x'; 2 * 1024 * 1024];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body");
    std::fs::write(&file, &body).unwrap();
    let started = Instant::now();
    let response = curl(&[
        "-H",
        "Expect: 100-continue",
        "--expect100-timeout",
        "20",
        "--data-binary",
        &format!("@{}", file.display()),
        &upstream.url(),
    ]);
    assert_eq!(response.status, 200);
    assert_eq!(response.interim, vec![100]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(upstream.last().body.len(), body.len());
}
