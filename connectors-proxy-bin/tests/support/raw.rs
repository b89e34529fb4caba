//! A raw TCP client for requests no well-behaved HTTP client would send.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::curl::find;

/// A plain TCP connection with a read deadline per call.
pub(crate) struct RawClient {
    stream: TcpStream,
}

impl RawClient {
    /// Connects to `addr`.
    pub(crate) fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("set a read timeout");
        Self { stream }
    }

    /// Writes all of `bytes`.
    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads until the peer closes or `timeout` passes; returns what arrived.
    pub(crate) fn read_until_close(&mut self, timeout: Duration) -> Vec<u8> {
        self.read_while(timeout, |_| true)
    }

    /// Reads until a whole response head (`\r\n\r\n`) arrived; returns everything read.
    pub(crate) fn read_head(&mut self, timeout: Duration) -> Vec<u8> {
        self.read_while(timeout, |buf| find(buf, b"\r\n\r\n").is_none())
    }

    /// Reads until `count` bytes arrived (or `timeout` passes).
    pub(crate) fn read_exact_within(&mut self, count: usize, timeout: Duration) -> Vec<u8> {
        self.read_while(timeout, |buf| buf.len() < count)
    }

    fn read_while(&mut self, timeout: Duration, more: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        while more(&out) && Instant::now() < deadline {
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        out
    }
}

/// Sends `CONNECT authority` (with `Proxy-Authorization: proxy_auth` when given) to the proxy at
/// `proxy` and returns the response head as text.
pub(crate) fn connect_head(proxy: SocketAddr, authority: &str, proxy_auth: Option<&str>) -> String {
    let mut raw = RawClient::connect(proxy);
    let auth = proxy_auth
        .map(|value| format!("Proxy-Authorization: {value}\r\n"))
        .unwrap_or_default();
    raw.send(format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{auth}\r\n").as_bytes());
    String::from_utf8_lossy(&raw.read_head(Duration::from_secs(10))).into_owned()
}

/// The status code of the first response in `bytes`, if it starts with a status line.
pub(crate) fn status_of(bytes: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next()?;
    line.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}
