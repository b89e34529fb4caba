//! HTTP semantics through the reverse proxy: hop-by-hop headers, `Expect`, framing, upgrades.

mod support;

use std::time::{Duration, Instant};

use support::curl::curl;
use support::fixture::*;
use support::manifests::NS;
use support::raw::{RawClient, status_of};
use support::upstream::Reply;

#[test]
fn hop_by_hop_headers_are_stripped_but_the_injected_credential_stays() {
    let fixture = Fixture::with_handler(|_| {
        Reply::ok("done")
            .header("connection", "X-Resp-Hop")
            .header("x-resp-hop", "tool-internal")
            .header("keep-alive", "timeout=20")
            .header("x-end-to-end", "kept")
    });
    let response = curl(&[
        "-H",
        &bearer_header(),
        "-H",
        "Connection: X-Hop, Authorization",
        "-H",
        "X-Hop: must-not-pass",
        "-H",
        "Keep-Alive: timeout=5",
        "-H",
        "Proxy-Connection: keep-alive",
        "-H",
        "TE: gzip",
        "-H",
        "Proxy-Authorization: Basic cHJveHktdXNlcjpwcm94eS1wYXNz",
        "-H",
        "X-Client-Header: kept",
        &format!("{}/hop", fixture.url("basic")),
    ]);
    assert_eq!(response.status, 200, "{}", response.text());
    let seen = fixture.upstream.last();
    assert_eq!(seen.header_values("authorization"), vec![tool_basic()]);
    for name in [
        "x-hop",
        "keep-alive",
        "proxy-connection",
        "te",
        "proxy-authorization",
    ] {
        assert!(
            seen.header(name).is_none(),
            "{name} reached the tool: {:?}",
            seen.headers
        );
    }
    assert_eq!(seen.header("x-client-header"), Some("kept"));
    assert!(
        response.header("x-resp-hop").is_none(),
        "{:?}",
        response.headers
    );
    assert!(
        response.header("keep-alive").is_none(),
        "{:?}",
        response.headers
    );
    assert_eq!(response.header("x-end-to-end"), Some("kept"));
}

#[test]
fn proxy_authorization_never_reaches_the_tool() {
    let fixture = Fixture::start();
    let proxy_credential = format!(
        "Proxy-Authorization: Basic {}",
        b64(&format!("{NS}/basic:{CLIENT_TOKEN}"))
    );
    let response = curl(&[
        "-u",
        &format!(":{CLIENT_TOKEN}"),
        "-H",
        &proxy_credential,
        &format!("{}/c23", fixture.url("basic")),
    ]);
    assert_eq!(response.status, 200, "{}", response.text());
    let seen = fixture.upstream.last();
    assert!(
        seen.header("proxy-authorization").is_none(),
        "{:?}",
        seen.headers
    );
    assert_eq!(seen.header_values("authorization"), vec![tool_basic()]);
}

#[test]
fn expect_100_continue_with_a_2_mib_body_does_not_hang() {
    let fixture = Fixture::start();
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let file = dir.path().join("body.bin");
    std::fs::write(&file, &body).unwrap();
    let started = Instant::now();
    let response = curl(&[
        "-H",
        &bearer_header(),
        "-H",
        "Expect: 100-continue",
        "--expect100-timeout",
        "20",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{}/upload", fixture.url("basic")),
    ]);
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response.interim.contains(&100),
        "no 100 Continue reached curl"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let seen = fixture.upstream.last();
    assert_eq!(seen.method, "POST");
    assert!(
        seen.body == body,
        "the tool got {} bytes, not the 2 MiB sent",
        seen.body.len()
    );
    assert_eq!(seen.header_values("authorization"), vec![tool_basic()]);
}

/// Sends one raw request to a fresh proxy connection and returns what came back before the
/// proxy closed it, with the requests the tool saw.
fn raw_exchange(
    fixture: &Fixture,
    head_tail: &str,
    body: &str,
) -> (Vec<u8>, Vec<support::upstream::RecordedRequest>) {
    let request = format!(
        "POST /namespaces/{NS}/connectors/basic/submit HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Bearer {CLIENT_TOKEN}\r\n{head_tail}\r\n{body}",
        fixture.proxy.proxy_addr
    );
    let mut client = RawClient::connect(fixture.proxy.proxy_addr);
    client.send(request.as_bytes());
    let answer = client.read_until_close(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(300));
    (answer, fixture.upstream.requests())
}

#[test]
fn content_length_with_transfer_encoding_cannot_smuggle() {
    // hyper frames such a request by its chunked encoding (RFC 9112 section 6.1), drops the
    // Content-Length and closes the connection after answering; the tool gets one request
    // re-framed from what was parsed, so the chunk's text stays body bytes.
    let fixture = Fixture::start();
    let smuggled = "GET /admin HTTP/1.1\r\nHost: internal\r\n\r\n";
    let chunked = format!("{:x}\r\n{smuggled}\r\n0\r\n\r\n", smuggled.len());
    let (answer, seen) = raw_exchange(
        &fixture,
        "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
        &chunked,
    );
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(
        text.matches("HTTP/1.1 ").count(),
        1,
        "exactly one response: {text}"
    );
    assert_eq!(seen.len(), 1, "the tool saw one request: {seen:?}");
    assert_eq!(seen[0].target, "/submit");
    assert_eq!(
        seen[0].body,
        smuggled.as_bytes(),
        "the smuggled text arrived as body bytes"
    );
    assert_ne!(seen[0].header("content-length"), Some("0"));
    assert!(seen.iter().all(|r| !r.target.contains("admin")));
}

#[test]
fn malformed_framing_is_refused_unforwarded() {
    let fixture = Fixture::start();
    for head in [
        "Transfer-Encoding: gzip\r\n",
        "Content-Length: 3\r\nContent-Length: 4\r\n",
        "Content-Length: 3x\r\n",
    ] {
        let (answer, seen) = raw_exchange(&fixture, head, "abcd");
        assert_eq!(
            status_of(&answer),
            Some(400),
            "{head:?}: {}",
            String::from_utf8_lossy(&answer)
        );
        assert!(seen.is_empty(), "{head:?} was forwarded: {seen:?}");
    }
}

#[test]
fn a_second_host_or_oversized_headers_are_refused_with_a_sentence() {
    let fixture = Fixture::start();
    let close = "Content-Length: 0\r\nConnection: close\r\n";
    let big = format!("X-Big: {}\r\n{close}", "a".repeat(80_000));
    let second_host = format!("Host: elsewhere\r\n{close}");
    for (head, status) in [(second_host.as_str(), 400), (big.as_str(), 431)] {
        let (answer, seen) = raw_exchange(&fixture, head, "");
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(status_of(&answer), Some(status), "{text}");
        assert!(text.contains(r#""message":"The request"#), "{text}");
        assert!(seen.is_empty(), "forwarded: {seen:?}");
    }
}

#[test]
fn websocket_upgrade_passes_through_with_injection() {
    let fixture = Fixture::with_handler(|req| {
        if req.header("upgrade") == Some("websocket") {
            Reply::websocket_echo()
        } else {
            Reply::status(426).body("upgrade required")
        }
    });
    let mut client = RawClient::connect(fixture.proxy.proxy_addr);
    client.send(
        format!(
            "GET /namespaces/{NS}/connectors/basic/ws?stream=1 HTTP/1.1\r\nHost: {}\r\n\
             Authorization: Bearer {CLIENT_TOKEN}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
            fixture.proxy.proxy_addr
        )
        .as_bytes(),
    );
    let head = client.read_head(Duration::from_secs(10));
    assert_eq!(
        status_of(&head),
        Some(101),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let head_text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(head_text.contains("upgrade: websocket"), "{head_text}");

    for message in [&b"first frame"[..], &b"second, longer frame of bytes"[..]] {
        client.send(message);
        let echoed = client.read_exact_within(message.len(), Duration::from_secs(5));
        assert_eq!(echoed, message);
    }
    let seen = fixture.upstream.last();
    assert_eq!(seen.target, "/ws?stream=1");
    assert_eq!(seen.header("upgrade"), Some("websocket"));
    assert!(
        seen.header("connection")
            .is_some_and(|c| c.to_ascii_lowercase().contains("upgrade"))
    );
    assert_eq!(
        seen.header("sec-websocket-protocol"),
        Some("v5.channel.k8s.io")
    );
    assert_eq!(seen.header_values("authorization"), vec![tool_basic()]);
}
