//! Class Rego policies through the real binary: a GitLab-style `authExtractor` and credential
//! `generator`s, their fallbacks and failures, and `connectors-proxy check`.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::curl::{CurlResponse, curl};
use support::fixture::{CLIENT_SA, CLIENT_TOKEN, INTRUDER_TOKEN};
use support::manifests::{Manifests, NS};
use support::proxy::ProxyProcess;
use support::upstream::{RecordedRequest, Upstream};

/// The tool's personal access token in every connector's Secret.
const PAT: &str = "glpat-tool-pat-7c1e94d0";
const GITLAB_PAT: &str = "connectors.cpaas.io/gitlab-pat-auth";

/// The documented GitLab extractor (Rego v1, `default auth`).
const PRIVATE_TOKEN_V1: &str = r#"package proxy

default auth := {"token": ""}

auth := {"token": token} if {
  token := input.request.headers["Private-Token"][0]
}
"#;

/// The same extractor in the older v0 syntax, with no default.
const PRIVATE_TOKEN_V0: &str = r#"package proxy

auth = {"token": token} {
  token := input.request.headers["Private-Token"][0]
}
"#;

const QUERY_EXTRACTOR: &str = r#"package proxy

auth := {"token": input.request.query["private_token"][0]}
"#;

const BODY_EXTRACTOR: &str = r#"package proxy

auth := {"token": input.request.body.auth.token}
"#;

/// C40: deny by default, with `not` over inputs that may be missing.
const GUARDED_EXTRACTOR: &str = r#"package proxy

default auth := {"token": ""}

auth := {"token": token} if {
  token := input.request.headers["Private-Token"][0]
  not denied
}

denied if not startswith(input.request.path, "/namespaces/team-a/connectors/guarded/api/")

denied if not input.request.headers["X-Team"][0] == "blue"
"#;

/// Iterates 25 million times: always stopped by the 50 ms limit.
const SLOW_EXTRACTOR: &str = r#"package proxy

auth := {"token": "late"} if {
  count([1 | some a in numbers.range(1, 5000); some b in numbers.range(1, 5000); a == 0 - b]) == 0
}
"#;

const BROKEN_EXTRACTOR: &str = "package proxy\n\nauth := {\"token\": \n";

const HEADER_GENERATOR: &str = r#"package proxy

auth := {"position": "header", "auth": {"Private-Token": input.data.token}}
"#;

const QUERY_GENERATOR: &str = r#"package proxy

auth := {"position": "query", "auth": {"private_token": input.data.token}}
"#;

const NUMBER_GENERATOR: &str = r#"package proxy

auth := {"position": "header", "auth": {"Private-Token": 42}}
"#;

/// A ConnectorClass with an optional extractor and a `gitlabPat` auth type using `generator`.
fn class_yaml(name: &str, extractor: Option<&str>, generator: &str) -> String {
    let block = |text: &str, indent: usize| {
        text.lines()
            .map(|line| format!("{:indent$}{line}\n", ""))
            .collect::<String>()
    };
    let mut yaml = format!(
        "apiVersion: connectors.alauda.io/v1alpha1\nkind: ConnectorClass\nmetadata:\n  \
         name: {name}\nspec:\n  auth:\n    types:\n      - name: gitlabPat\n        \
         secretType: {GITLAB_PAT}\n        generator:\n          rego: |\n{}  proxy:\n    \
         ref:\n      kind: Service\n      name: connectors-proxy-service\n      \
         namespace: connectors-system\n",
        block(generator, 12),
    );
    if let Some(extractor) = extractor {
        yaml.push_str("    authExtractor:\n      rego: |\n");
        yaml.push_str(&block(extractor, 8));
    }
    yaml
}

/// Manifests with one class and one connector (of the same name) per `(name, extractor,
/// generator)`, all granted to the client.
fn manifests(upstream: &Upstream, classes: &[(&str, Option<&str>, &str)]) -> Manifests {
    let manifests = Manifests::new();
    for (name, extractor, generator) in classes {
        manifests.write(
            &format!("class-{name}.yaml"),
            &class_yaml(name, *extractor, generator),
        );
        manifests.class_connector(
            name,
            name,
            &upstream.url(),
            "gitlabPat",
            GITLAB_PAT,
            &[("token", PAT), ("username", "tool-user")],
        );
    }
    let names: Vec<&str> = classes.iter().map(|(name, _, _)| *name).collect();
    manifests.grant(CLIENT_SA, &names);
    manifests.service_account_token(CLIENT_TOKEN, CLIENT_SA);
    manifests.service_account_token(INTRUDER_TOKEN, "intruder");
    manifests
}

fn start(manifests: &Manifests, env: &[(&str, &str)]) -> ProxyProcess {
    let args = manifests.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ProxyProcess::start(&args, env)
}

fn url(proxy: &ProxyProcess, connector: &str, rest: &str) -> String {
    format!("{}{rest}", proxy.connector_url(NS, connector))
}

/// Asserts the tool got the PAT as `Private-Token` and nothing of the client's token.
fn assert_pat_only(request: &RecordedRequest) {
    assert_eq!(request.header_values("private-token"), [PAT], "{request:?}");
    assert_eq!(request.header("authorization"), None, "{request:?}");
    let seen = format!("{} {:?}", request.target, request.headers);
    assert!(
        !seen.contains(CLIENT_TOKEN),
        "the tool saw the client token: {seen}"
    );
}

fn assert_status(response: &CurlResponse, status: u16) {
    assert_eq!(response.status, status, "{}", response.text());
}

#[test]
fn private_token_in_any_casing_and_basic_fallback_reach_the_tool_as_the_pat() {
    let upstream = Upstream::start();
    let manifests = manifests(
        &upstream,
        &[
            ("gitlab", Some(PRIVATE_TOKEN_V1), HEADER_GENERATOR),
            ("gitlab-v0", Some(PRIVATE_TOKEN_V0), HEADER_GENERATOR),
        ],
    );
    let proxy = start(&manifests, &[]);
    for connector in ["gitlab", "gitlab-v0"] {
        for name in [
            "PRIVATE-TOKEN",
            "private-token",
            "Private-Token",
            "pRiVaTe-tOkEn",
        ] {
            let header = format!("{name}: {CLIENT_TOKEN}");
            let response = curl(&["-H", &header, &url(&proxy, connector, "/api/v4/projects")]);
            assert_status(&response, 200);
            let request = upstream.last();
            assert_eq!(request.target, "/api/v4/projects");
            assert_pat_only(&request);
        }
        // git sends Basic with an empty user: the same class falls back to it.
        let basic = format!(":{CLIENT_TOKEN}");
        let response = curl(&[
            "-u",
            &basic,
            &url(&proxy, connector, "/group/repo.git/info/refs"),
        ]);
        assert_status(&response, 200);
        assert_pat_only(&upstream.last());
        // An empty header is no token; with nothing else, the client is challenged.
        let response = curl(&["-H", "Private-Token;", &url(&proxy, connector, "/x")]);
        assert_status(&response, 401);
        let header = format!("Private-Token: {INTRUDER_TOKEN}");
        assert_status(&curl(&["-H", &header, &url(&proxy, connector, "/x")]), 403);
    }
    assert_eq!(upstream.requests().len(), 10);
}

#[test]
fn query_token_is_removed_and_query_credentials_are_appended() {
    let upstream = Upstream::start();
    let manifests = manifests(
        &upstream,
        &[("gitlab-query", Some(QUERY_EXTRACTOR), QUERY_GENERATOR)],
    );
    let proxy = start(&manifests, &[]);
    let target =
        format!("/api/v4/projects?per_page=20&private_token={CLIENT_TOKEN}&search=a%2Fb+c&flag");
    let response = curl(&[&url(&proxy, "gitlab-query", &target)]);
    assert_status(&response, 200);
    let request = upstream.last();
    assert_eq!(
        request.target,
        format!("/api/v4/projects?per_page=20&search=a%2Fb+c&flag&private_token={PAT}")
    );
    assert_eq!(request.header("private-token"), None);
    // Without the query parameter, Bearer still works, and the PAT is the only query added.
    let bearer = format!("Authorization: Bearer {CLIENT_TOKEN}");
    let response = curl(&["-H", &bearer, &url(&proxy, "gitlab-query", "/api/v4/user")]);
    assert_status(&response, 200);
    let request = upstream.last();
    assert_eq!(request.target, format!("/api/v4/user?private_token={PAT}"));
    assert_eq!(request.header("authorization"), None);
}

#[test]
fn json_body_token_is_read_and_the_body_reaches_the_tool_unchanged() {
    let upstream = Upstream::start();
    let manifests = manifests(
        &upstream,
        &[("gitlab-body", Some(BODY_EXTRACTOR), HEADER_GENERATOR)],
    );
    let proxy = start(&manifests, &[]);
    let body = format!(
        "{{ \"auth\": {{\"token\": \"{CLIENT_TOKEN}\"}},\n  \"items\": [1, 2.50, \"x\"] }}"
    );
    let response = curl(&[
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &body,
        &url(&proxy, "gitlab-body", "/api/v4/session"),
    ]);
    assert_status(&response, 200);
    let request = upstream.last();
    assert_eq!(request.body, body.as_bytes());
    assert_eq!(request.method, "POST");
    assert_eq!(request.header_values("private-token"), [PAT]);
    // Not JSON: the body is not read for the policy, so there is no token.
    let response = curl(&[
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        &body,
        &url(&proxy, "gitlab-body", "/api/v4/session"),
    ]);
    assert_status(&response, 401);
}

#[test]
fn deny_by_default_extractor_is_not_fooled_by_missing_inputs_or_casing() {
    // C40 and C41.
    let upstream = Upstream::start();
    let manifests = manifests(
        &upstream,
        &[("guarded", Some(GUARDED_EXTRACTOR), HEADER_GENERATOR)],
    );
    let proxy = start(&manifests, &[]);
    let token = format!("private-token: {CLIENT_TOKEN}");
    let allowed = url(&proxy, "guarded", "/api/v4/projects");
    for team in ["x-team: blue", "X-TEAM: blue", "X-Team: blue"] {
        assert_status(&curl(&["-H", &token, "-H", team, &allowed]), 200);
    }
    assert_status(&curl(&["-H", &token, &allowed]), 401);
    assert_status(&curl(&["-H", &token, "-H", "x-team: red", &allowed]), 401);
    let other_path = url(&proxy, "guarded", "/other");
    assert_status(
        &curl(&["-H", &token, "-H", "x-team: blue", &other_path]),
        401,
    );
    assert_eq!(upstream.requests().len(), 3);
}

#[test]
fn slow_extractor_times_out_and_falls_back() {
    let upstream = Upstream::start();
    let manifests = manifests(
        &upstream,
        &[("slow", Some(SLOW_EXTRACTOR), HEADER_GENERATOR)],
    );
    let proxy = start(&manifests, &[]);
    let token = format!("Private-Token: {CLIENT_TOKEN}");
    assert_status(&curl(&["-H", &token, &url(&proxy, "slow", "/x")]), 401);
    let basic = format!(":{CLIENT_TOKEN}");
    let response = curl(&["-u", &basic, &url(&proxy, "slow", "/x")]);
    assert_status(&response, 200);
    assert_pat_only(&upstream.last());
    let logs = wait_for_log(&proxy, "authExtractor failed");
    let line = logs
        .lines()
        .find(|line| line.contains("authExtractor failed"))
        .unwrap();
    assert!(
        line.contains("slow") && line.contains("did not finish"),
        "{line}"
    );
    assert!(!logs.contains(CLIENT_TOKEN), "{logs}");
}

#[test]
fn a_policy_that_does_not_compile_fails_its_class_only_until_fixed() {
    let upstream = Upstream::start();
    let manifests = manifests(
        &upstream,
        &[
            ("broken", Some(BROKEN_EXTRACTOR), HEADER_GENERATOR),
            ("gitlab", Some(PRIVATE_TOKEN_V1), HEADER_GENERATOR),
            ("numeric", Some(PRIVATE_TOKEN_V1), NUMBER_GENERATOR),
        ],
    );
    let proxy = start(&manifests, &[]);
    let logs = wait_for_log(&proxy, "ConnectorClass broken");
    assert!(logs.contains("line 4, column 1"), "{logs}");

    let bearer = format!("Authorization: Bearer {CLIENT_TOKEN}");
    let response = curl(&["-H", &bearer, &url(&proxy, "broken", "/x")]);
    assert_status(&response, 500);
    let message = response.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("ConnectorClass broken"), "{message}");
    assert!(message.contains("line 4"), "{message}");
    // An unauthenticated client learns nothing about the class.
    assert_status(&curl(&[&url(&proxy, "broken", "/x")]), 401);

    let token = format!("Private-Token: {CLIENT_TOKEN}");
    assert_status(&curl(&["-H", &token, &url(&proxy, "gitlab", "/x")]), 200);

    // A generator that returns a number: 500 naming the class, never a value.
    let response = curl(&["-H", &token, &url(&proxy, "numeric", "/x")]);
    assert_status(&response, 500);
    let text = response.text();
    assert!(text.contains("ConnectorClass numeric"), "{text}");
    assert!(
        !text.contains(PAT) && !text.contains(CLIENT_TOKEN),
        "{text}"
    );
    assert_eq!(upstream.requests().len(), 1);

    manifests.write(
        "class-broken.yaml",
        &class_yaml("broken", Some(PRIVATE_TOKEN_V1), HEADER_GENERATOR),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = curl(&["-H", &token, &url(&proxy, "broken", "/fixed")]);
        if response.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fix was not picked up: {}",
            response.text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_pat_only(&upstream.last());
}

#[test]
fn check_command_reports_policy_problems_with_file_and_class() {
    let upstream = Upstream::start();
    let good = manifests(
        &upstream,
        &[
            ("gitlab", Some(PRIVATE_TOKEN_V1), HEADER_GENERATOR),
            ("gitlab-v0", Some(PRIVATE_TOKEN_V0), QUERY_GENERATOR),
        ],
    );
    let output = check(&good);
    assert!(output.0, "{}", output.1);
    assert!(output.1.starts_with("ok: "), "{}", output.1);
    assert_eq!(output.1.lines().count(), 1, "{}", output.1);

    let bad = manifests(
        &upstream,
        &[
            ("broken", Some(BROKEN_EXTRACTOR), HEADER_GENERATOR),
            (
                "gitlab",
                Some(PRIVATE_TOKEN_V1),
                "package proxy\nauth := {\"position\": \"header\", \"auth\": {\"A\": uper(\"x\")}}\n",
            ),
        ],
    );
    let (success, text) = check(&bad);
    assert!(!success, "{text}");
    assert!(
        text.contains("class-broken.yaml: ConnectorClass broken:"),
        "{text}"
    );
    assert!(text.contains("line 4, column 1"), "{text}");
    assert!(
        text.contains("class-gitlab.yaml: ConnectorClass gitlab:"),
        "{text}"
    );
    assert!(text.contains("auth type \"gitlabPat\""), "{text}");
    assert!(text.contains("failed: "), "{text}");
}

/// Runs `connectors-proxy check --manifests DIR`: whether it succeeded, and its output.
fn check(manifests: &Manifests) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_connectors-proxy"))
        .arg("check")
        .arg("--manifests")
        .arg(manifests.dir())
        .env_remove("RUST_LOG")
        .output()
        .expect("run connectors-proxy check");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn trace_logs_carry_neither_the_pat_nor_the_client_token() {
    let upstream = Upstream::start();
    let manifests = manifests(
        &upstream,
        &[
            ("gitlab", Some(PRIVATE_TOKEN_V1), HEADER_GENERATOR),
            ("gitlab-query", Some(QUERY_EXTRACTOR), QUERY_GENERATOR),
            ("gitlab-body", Some(BODY_EXTRACTOR), HEADER_GENERATOR),
            ("numeric", Some(PRIVATE_TOKEN_V1), NUMBER_GENERATOR),
        ],
    );
    let proxy = start(&manifests, &[("RUST_LOG", "trace")]);
    let token = format!("Private-Token: {CLIENT_TOKEN}");
    let query = format!("/p?private_token={CLIENT_TOKEN}");
    let body = format!("{{\"auth\": {{\"token\": \"{CLIENT_TOKEN}\"}}}}");
    let responses = [
        curl(&["-H", &token, &url(&proxy, "gitlab", "/api/v4/projects")]),
        curl(&[&url(&proxy, "gitlab-query", &query)]),
        curl(&[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body,
            &url(&proxy, "gitlab-body", "/s"),
        ]),
        curl(&["-H", &token, &url(&proxy, "numeric", "/x")]),
    ];
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 200, 500]);
    std::thread::sleep(Duration::from_millis(300));
    let logs = proxy.logs();
    assert!(logs.lines().count() > 5, "{logs}");
    for needle in [PAT, CLIENT_TOKEN] {
        assert!(
            !logs.contains(needle),
            "a secret appears in the logs:\n{logs}"
        );
        for response in &responses {
            let raw = String::from_utf8_lossy(&response.raw);
            assert!(
                !raw.contains(needle),
                "a secret appears in a response:\n{raw}"
            );
        }
    }
}

/// Waits up to 10 s for `marker` to appear in the proxy's log, and returns the log.
fn wait_for_log(proxy: &ProxyProcess, marker: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs = proxy.logs();
        if logs.contains(marker) {
            return logs;
        }
        assert!(
            Instant::now() < deadline,
            "no {marker:?} in the log:\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
