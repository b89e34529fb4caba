//! `CONNECT` and TLS interception: leaf names, SNI, ALPN, upstream verification, upgrades in
//! tunnels, malformed authorities and the proxy CA.

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::curl::curl;
use support::fixture::*;
use support::forward_fixture::*;
use support::manifests::NS;
use support::raw::{connect_head, status_of};
use support::tls_tool::{HttpsTool, TestCa};
use support::tunnel::{self, TlsOptions};
use support::upstream::Reply;

fn proxy_auth(connector: &str) -> String {
    format!("Basic {}", b64(&format!("{NS}/{connector}:{CLIENT_TOKEN}")))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs `openssl s_client` through the proxy to `connect`, sending `request`; returns stdout.
fn s_client(
    fwd: &Forward,
    connector: &str,
    connect: &str,
    servername: Option<&str>,
    request: &str,
) -> String {
    let mut command = Command::new("openssl");
    command
        .args(["s_client", "-connect", connect, "-proxy"])
        .arg(fwd.proxy.proxy_addr.to_string())
        .args(["-proxy_user", &format!("{NS}/{connector}")])
        .args(["-proxy_pass", &format!("pass:{CLIENT_TOKEN}")])
        .args(["-CAfile", &fwd.proxy_ca(), "-ign_eof", "-alpn", "http/1.1"]);
    match servername {
        Some(name) => command.args(["-servername", name]),
        None => command.arg("-noservername"),
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl s_client");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .expect("write the request");
    let output = child.wait_with_output().expect("openssl output");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The subjectAltName extension of the first certificate in `pem_text`.
fn san_of(pem_text: &str) -> String {
    let start = pem_text
        .find("-----BEGIN CERTIFICATE-----")
        .expect("a cert");
    let end = pem_text
        .find("-----END CERTIFICATE-----")
        .expect("cert end");
    let pem = &pem_text[start..end + "-----END CERTIFICATE-----".len()];
    let mut child = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run openssl x509");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(pem.as_bytes())
        .unwrap();
    let output = child.wait_with_output().expect("openssl x509 output");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn connect_to_an_ip_gets_an_ip_san_leaf_without_sni() {
    let fwd = Forward::start(&[]);
    let addr = fwd.tls.addr();
    let request = format!("GET /ip HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let output = s_client(&fwd, TLS_BASIC, &addr.to_string(), None, &request);
    assert!(
        output.contains("Verify return code: 0 (ok)"),
        "the leaf does not verify against the proxy CA: {output}"
    );
    let san = san_of(&output);
    assert!(san.contains(&format!("IP Address:{}", addr.ip())), "{san}");
    assert!(output.contains("tool ok"), "{output}");
    assert_eq!(
        fwd.tls.last().request.header_values("authorization"),
        vec![tool_basic()]
    );
}

#[test]
fn sni_less_client_gets_the_connect_host_certificate_and_credentials() {
    let fwd = Forward::start(&[]);
    let authority = format!("localhost:{}", fwd.tls.addr().port());
    runtime().block_on(async {
        let (head, stream) = tunnel::open(
            fwd.proxy.proxy_addr,
            &authority,
            Some(&proxy_auth(TLS_LOCAL)),
        )
        .await;
        assert_eq!(status_of(head.as_bytes()), Some(200), "{head}");
        let ca = fwd.proxy.ca_cert_path();
        let options = TlsOptions {
            ca: &ca,
            name: "localhost",
            sni: false,
        };
        let mut tls = tunnel::tls(stream, &options)
            .await
            .expect("TLS with the leaf for the CONNECT host");
        let request = format!("GET /nosni HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        let response = tunnel::exchange(&mut tls, &request).await.unwrap();
        assert_eq!(status_of(response.as_bytes()), Some(200), "{response}");
    });
    let seen = fwd.tls.last().request;
    assert_eq!(seen.target, "/nosni");
    assert_eq!(seen.header_values("authorization"), vec![tool_basic()]);
}

#[test]
fn sni_differing_from_the_connect_host_gets_nothing_injected() {
    let fwd = Forward::start(&[]);
    let authority = format!("localhost:{}", fwd.tls.addr().port());
    let request = format!("GET /sni HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    // The control: the matching SNI is served.
    let matching = s_client(&fwd, TLS_LOCAL, &authority, Some("localhost"), &request);
    assert!(matching.contains("tool ok"), "{matching}");
    assert_eq!(fwd.tls.requests().len(), 1);
    let other = s_client(&fwd, TLS_LOCAL, &authority, Some("tool.example"), &request);
    assert!(!other.contains("HTTP/1.1 200"), "{other}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        fwd.tls.requests().len(),
        1,
        "a request with a foreign SNI reached the tool"
    );
}

#[test]
fn connect_needs_a_port_and_brackets_for_ipv6() {
    let fwd = Forward::start(&[]);
    let auth = proxy_auth(TLS_BASIC);
    for authority in ["127.0.0.1", "::1:443", "[::1]"] {
        let head = connect_head(fwd.proxy.proxy_addr, authority, Some(&auth));
        assert_eq!(
            status_of(head.as_bytes()),
            Some(400),
            "CONNECT {authority}: {head}"
        );
    }
}

#[test]
fn alpn_is_negotiated_on_each_side() {
    let fwd = Forward::start(&[]);
    let proxy = fwd.proxy_for(TLS_BASIC);
    let ca = fwd.proxy_ca();
    let h2 = curl(&[
        "--http2",
        "-x",
        &proxy,
        "--suppress-connect-headers",
        "--cacert",
        &ca,
        &format!("{}/h2", fwd.tls.url()),
    ]);
    assert!(
        h2.raw.starts_with(b"HTTP/2 200"),
        "{}",
        String::from_utf8_lossy(&h2.raw)
    );
    let seen = fwd.tls.last();
    assert_eq!(seen.alpn.as_deref(), Some("h2"));
    assert_eq!(seen.version, "HTTP/2.0");
    assert_eq!(
        seen.request.header_values("authorization"),
        vec![tool_basic()]
    );

    let tool_ca = TestCa::new();
    let h1_tool = HttpsTool::with(&tool_ca, "127.0.0.1:0", &["http/1.1"], |_| {
        Reply::ok("h1 ok")
    })
    .unwrap();
    let h1 = Forward::around(tool_ca, h1_tool, &[]);
    let response = curl(&[
        "--http2",
        "-x",
        &h1.proxy_for(TLS_BASIC),
        "--suppress-connect-headers",
        "--cacert",
        &h1.proxy_ca(),
        &format!("{}/h1", h1.tls.url()),
    ]);
    assert!(
        response.raw.starts_with(b"HTTP/2 200"),
        "{}",
        String::from_utf8_lossy(&response.raw)
    );
    assert_eq!(response.text(), "h1 ok");
    let seen = h1.tls.last();
    assert_eq!(seen.alpn.as_deref(), Some("http/1.1"));
    assert_eq!(seen.version, "HTTP/1.1");
    assert_eq!(
        seen.request.header_values("authorization"),
        vec![tool_basic()]
    );
}

#[test]
fn an_untrusted_tool_certificate_is_a_502_naming_the_host() {
    let trusted = TestCa::new();
    let foreign = TestCa::new();
    let tool = HttpsTool::start(&foreign);
    let fwd = Forward::around(trusted, tool, &[]);
    let response = curl(&[
        "-x",
        &fwd.proxy_for(TLS_BASIC),
        "--suppress-connect-headers",
        "--cacert",
        &fwd.proxy_ca(),
        &format!("{}/x", fwd.tls.url()),
    ]);
    assert_eq!(response.status, 502, "{}", response.text());
    let authority = fwd.tls.addr().to_string();
    assert!(response.text().contains(&authority), "{}", response.text());
    assert!(
        response.text().contains("not signed by a trusted CA"),
        "{}",
        response.text()
    );
    assert!(fwd.tls.requests().is_empty());
}

#[test]
fn websocket_upgrade_in_an_intercepted_tunnel_carries_credentials() {
    let tool_ca = TestCa::new();
    let tool = HttpsTool::with(&tool_ca, "127.0.0.1:0", &["http/1.1"], |_| {
        Reply::websocket_echo()
    })
    .unwrap();
    let fwd = Forward::around(tool_ca, tool, &[]);
    let authority = fwd.tls.addr().to_string();
    runtime().block_on(async {
        let (head, stream) = tunnel::open(
            fwd.proxy.proxy_addr,
            &authority,
            Some(&proxy_auth(TLS_BASIC)),
        )
        .await;
        assert_eq!(status_of(head.as_bytes()), Some(200), "{head}");
        let ca = fwd.proxy.ca_cert_path();
        let options = TlsOptions {
            ca: &ca,
            name: "127.0.0.1",
            sni: true,
        };
        let mut tls = tunnel::tls(stream, &options).await.expect("TLS");
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        let response = tunnel::exchange(&mut tls, &request).await.unwrap();
        assert!(
            response.starts_with("HTTP/1.1 101"),
            "no switch: {response}"
        );
        use tokio::io::AsyncWriteExt as _;
        tls.write_all(b"frames-both-ways").await.unwrap();
        tls.flush().await.unwrap();
        assert_eq!(
            tunnel::read_bytes(&mut tls, 16).await,
            b"frames-both-ways".to_vec()
        );
    });
    let seen = fwd.tls.last().request;
    assert_eq!(seen.header_values("authorization"), vec![tool_basic()]);
    assert_eq!(seen.header("upgrade"), Some("websocket"));
}

#[test]
fn print_ca_cert_prints_the_state_dir_ca_and_a_restart_keeps_it() {
    let fwd = Forward::start(&[]);
    let state = fwd.proxy.ca_cert_path().parent().unwrap().to_owned();
    let print = || {
        let output = Command::new(env!("CARGO_BIN_EXE_connectors-proxy"))
            .arg("--print-ca-cert")
            .arg("--state-dir")
            .arg(&state)
            .output()
            .expect("run --print-ca-cert");
        assert!(output.status.success());
        String::from_utf8(output.stdout).expect("PEM text")
    };
    let first = print();
    assert!(first.starts_with("-----BEGIN CERTIFICATE-----"), "{first}");
    assert!(!first.contains("PRIVATE KEY"));
    assert_eq!(
        first,
        std::fs::read_to_string(fwd.proxy.ca_cert_path()).unwrap()
    );
    assert_eq!(print(), first, "the CA changed between runs");

    // A fresh state folder gets another CA.
    let other = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_connectors-proxy"))
        .arg("--print-ca-cert")
        .arg("--state-dir")
        .arg(other.path())
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&output.stdout), first);

    // The printed PEM is what clients must trust for intercepted hosts.
    let printed = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(printed.path(), &first).unwrap();
    let response = curl(&[
        "-x",
        &fwd.proxy_for(TLS_BASIC),
        "--suppress-connect-headers",
        "--cacert",
        printed.path().to_str().unwrap(),
        &fwd.tls.url(),
    ]);
    assert_eq!(response.status, 200);
}
