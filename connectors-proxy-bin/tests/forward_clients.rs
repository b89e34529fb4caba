//! Real tools through the forward proxy configured only with `https_proxy` and the proxy CA:
//! `git clone` and `pip download` from HTTPS servers that demand Basic credentials.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::fixture::*;
use support::forward_fixture::start_proxy;
use support::git_client::GitClient;
use support::git_server::GitServer;
use support::manifests::{Manifests, NS};
use support::proxy::ProxyProcess;
use support::tls_tool::{HttpsTool, TestCa, TlsFront};
use support::upstream::Reply;

/// Runs `program args` with only the forward proxy in the environment (no user config).
fn through_proxy(
    program: &str,
    args: &[&str],
    proxy_url: &str,
    home: &Path,
    extra: &[(&str, &str)],
) -> Output {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("https_proxy", proxy_url)
        .env("HTTPS_PROXY", proxy_url)
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .env_remove("CURL_CA_BUNDLE")
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("SSL_CERT_FILE");
    for (key, value) in extra {
        command.env(key, value);
    }
    command.output().expect("run the client")
}

fn proxy_url(proxy: &ProxyProcess, connector: &str) -> String {
    format!(
        "http://{NS}%2F{connector}:{CLIENT_TOKEN}@{}",
        proxy.proxy_addr
    )
}

#[test]
fn git_clone_over_https_proxy_gets_the_connector_credentials() {
    let server = GitServer::start(TOOL_USER, TOOL_PASSWORD);
    let bare = server.create_repo("project");
    let client = GitClient::new();
    let seed = client.new_repo("seed", "seeded over TLS\n");
    client.run(&seed, &[], &["push", "-q", bare.to_str().unwrap(), "main"]);

    let tool_ca = TestCa::new();
    let backend = server.url().trim_start_matches("http://").parse().unwrap();
    let front = TlsFront::start(&tool_ca, backend);
    let manifests = Manifests::new();
    manifests.basic_connector("git", &front.url(), TOOL_USER, TOOL_PASSWORD);
    manifests.grant(CLIENT_SA, &["git"]);
    manifests.service_account_token(CLIENT_TOKEN, CLIENT_SA);
    let proxy = start_proxy(&manifests, &tool_ca, &[]);

    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".gitconfig"), "").unwrap();
    let ca = proxy.ca_cert_path().display().to_string();
    let output = through_proxy(
        "git",
        &[
            "-c",
            "credential.helper=",
            "clone",
            "-q",
            &format!("{}/project.git", front.url()),
            "clone",
        ],
        &proxy_url(&proxy, "git"),
        home.path(),
        &[
            ("GIT_SSL_CAINFO", &ca),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_TERMINAL_PROMPT", "0"),
        ],
    );
    assert!(
        output.status.success(),
        "git clone failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(home.path().join("clone/README")).unwrap(),
        "seeded over TLS\n"
    );
    let requests = server.requests();
    assert!(requests.len() >= 2, "{requests:?}");
    for request in &requests {
        assert_eq!(
            request.authorization.as_deref(),
            Some(server.expected_authorization()),
            "{}",
            request.line
        );
    }
}

/// A minimal pure-Python wheel `demo_pkg-0.1-py3-none-any.whl`, built with python's zipfile.
fn build_wheel(dir: &Path) -> Vec<u8> {
    let script = r#"
import sys, zipfile
info = "demo_pkg-0.1.dist-info/"
with zipfile.ZipFile(sys.argv[1], "w") as whl:
    whl.writestr("demo_pkg/__init__.py", "VALUE = 1\n")
    whl.writestr(info + "METADATA", "Metadata-Version: 2.1\nName: demo-pkg\nVersion: 0.1\n")
    whl.writestr(info + "WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    whl.writestr(info + "RECORD", "")
"#;
    let path = dir.join("demo_pkg-0.1-py3-none-any.whl");
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .status()
        .expect("run python3");
    assert!(status.success(), "building the wheel failed");
    std::fs::read(path).expect("read the wheel")
}

#[test]
fn pip_download_over_https_proxy_uses_the_connector_credentials() {
    let work = tempfile::tempdir().unwrap();
    let wheel = build_wheel(work.path());
    let expected = tool_basic();
    let index_ca = TestCa::new();
    let index = HttpsTool::with(&index_ca, "127.0.0.1:0", &["h2", "http/1.1"], move |req| {
        if req.header("authorization") != Some(expected.as_str()) {
            return Reply::status(401).header("www-authenticate", "Basic realm=\"pypi\"");
        }
        match req.target.as_str() {
            "/simple/demo-pkg/" => Reply::ok(
                "<!DOCTYPE html><html><body>\
                 <a href=\"/files/demo_pkg-0.1-py3-none-any.whl\">demo_pkg-0.1-py3-none-any.whl</a>\
                 </body></html>",
            )
            .header("content-type", "text/html"),
            "/files/demo_pkg-0.1-py3-none-any.whl" => {
                let mut reply = Reply::ok("").header("content-type", "application/octet-stream");
                reply.body = wheel.clone();
                reply
            }
            _ => Reply::status(404),
        }
    })
    .unwrap();
    let manifests = Manifests::new();
    manifests.basic_connector("pypi", &index.url(), TOOL_USER, TOOL_PASSWORD);
    manifests.grant(CLIENT_SA, &["pypi"]);
    manifests.service_account_token(CLIENT_TOKEN, CLIENT_SA);
    let proxy = start_proxy(&manifests, &index_ca, &[]);

    let dest = work.path().join("dest");
    let ca = proxy.ca_cert_path().display().to_string();
    let index_url = format!("{}/simple/", index.url());
    let output = through_proxy(
        "python3",
        &[
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--no-input",
            "--index-url",
            &index_url,
            "--cert",
            &ca,
            "-d",
            dest.to_str().unwrap(),
            "demo-pkg",
        ],
        &proxy_url(&proxy, "pypi"),
        work.path(),
        &[("PIP_CONFIG_FILE", "/dev/null")],
    );
    assert!(
        output.status.success(),
        "pip download failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let downloaded = dest.join("demo_pkg-0.1-py3-none-any.whl");
    assert!(downloaded.exists(), "no wheel in {}", dest.display());
    let requests = index.requests();
    assert!(requests.len() >= 2, "{requests:?}");
    for seen in &requests {
        assert_eq!(
            seen.request.header_values("authorization"),
            vec![tool_basic()]
        );
        assert!(!format!("{:?}", seen.request.headers).contains(CLIENT_TOKEN));
    }
}
