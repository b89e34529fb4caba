//! Runs each example program (built by `cargo test` alongside the tests) and checks its effect.

use std::path::PathBuf;
use std::process::Command;

/// The path of a built example: `target/<profile>/examples/<name>`, next to this test's `deps`.
fn example(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir.join("examples").join(name)
}

fn run(name: &str) -> String {
    let path = example(name);
    let output = Command::new(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): `cargo test` builds the examples; a filtered run needs `cargo build --examples`", path.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn embedded_proxy_injects_the_connectors_credentials() {
    let out = run("embedded");
    assert!(out.contains("status: 200 OK"), "{out}");
    // b64("tool-user:tool-password"): the tool saw the Secret, not the client's token.
    assert!(
        out.contains("Authorization: Basic dG9vbC11c2VyOnRvb2wtcGFzc3dvcmQ="),
        "{out}"
    );
    assert!(!out.contains("app-token"), "{out}");
}

#[test]
fn hmac_proxy_signs_requests_the_tool_accepts() {
    let out = run("hmac_proxy");
    assert!(out.contains("status: 200 OK"), "{out}");
    assert!(out.contains("the tool said: signature ok"), "{out}");
}

#[test]
fn audit_layer_runs_after_injection_on_the_stock_stack() {
    let out = run("audit_layer");
    assert!(out.contains("status: 200 OK"), "{out}");
    assert!(
        out.contains("X-Connector-Audit: ci/tool used by system:serviceaccount:ci:bot"),
        "{out}"
    );
}
