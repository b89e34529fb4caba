//! Real git clone and push through the reverse proxy, configured as the upstream docs describe.

mod support;

use support::fixture::{CLIENT_SA, CLIENT_TOKEN, b64, secret_needles};
use support::git_client::GitClient;
use support::git_server::{GitServer, git_output};
use support::manifests::{Manifests, NS};
use support::proxy::ProxyProcess;

const GIT_USER: &str = "git-tool-user";
const GIT_PASSWORD: &str = "git-tool-password-71c0";

#[test]
fn clone_and_chunked_push_through_the_proxy_use_only_connector_credentials() {
    let server = GitServer::start(GIT_USER, GIT_PASSWORD);
    let bare = server.create_repo("project");
    let client = GitClient::new();
    let seed = client.new_repo("seed", "seeded\n");
    client.run(&seed, &[], &["push", "-q", bare.to_str().unwrap(), "main"]);

    let manifests = Manifests::new();
    manifests.basic_connector("git", &server.url(), GIT_USER, GIT_PASSWORD);
    manifests.grant(CLIENT_SA, &["git"]);
    manifests.service_account_token(CLIENT_TOKEN, CLIENT_SA);
    let args = manifests.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let proxy = ProxyProcess::start(&args, &[]);

    let tool_url = format!("{}/", server.url());
    let proxy_url = format!("{}/", proxy.connector_url(NS, "git"));
    let config = vec![
        format!("url.{proxy_url}.insteadOf={tool_url}"),
        format!(
            "http.extraHeader=Authorization: Basic {}",
            b64(&format!(":{CLIENT_TOKEN}"))
        ),
        "protocol.version=2".to_owned(),
        "http.postBuffer=65536".to_owned(),
    ];
    let repo_url = format!("{tool_url}project.git");
    let home = client.path("");
    client.run(&home, &config, &["clone", "-q", &repo_url, "clone"]);
    let clone = client.path("clone");
    assert_eq!(
        std::fs::read_to_string(clone.join("README")).unwrap(),
        "seeded\n"
    );

    let head = client.commit_random(&clone, "large.bin", 5 * 1024 * 1024);
    client.run(&clone, &config, &["push", "-q", "origin", "main"]);
    let server_head = git_output(&["rev-parse", "main"], Some(&bare));
    assert_eq!(server_head.trim(), head, "the pushed commit did not arrive");

    let requests = server.requests();
    assert!(requests.len() >= 4, "{requests:?}");
    for request in &requests {
        assert_eq!(
            request.authorization.as_deref(),
            Some(server.expected_authorization()),
            "{} did not carry the connector's credentials",
            request.line
        );
    }
    let debug = format!("{requests:?}");
    for needle in secret_needles() {
        assert!(
            !debug.contains(&needle),
            "a client token reached the git server"
        );
    }
    assert!(
        requests.iter().any(|r| r.line.contains("git-upload-pack")
            && r.git_protocol.as_deref() == Some("version=2")),
        "Git-Protocol did not reach the server: {requests:?}"
    );
    assert!(
        requests.iter().any(|r| r.line.starts_with("POST")
            && r.line.ends_with("/git-receive-pack")
            && r.body_len > 5_000_000),
        "the large pack did not arrive whole: {requests:?}"
    );
    // The clone through the proxy must have fetched from our server, not a local path.
    assert!(
        requests
            .iter()
            .any(|r| r.line.contains("info/refs?service=git-upload-pack"))
    );
}
