//! A hand-driven `CONNECT` client: tunnel, then TLS with chosen SNI and ALPN, then raw HTTP/1.1.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::curl::find;

const TIMEOUT: Duration = Duration::from_secs(10);

/// How the client speaks TLS inside the tunnel.
pub(crate) struct TlsOptions<'a> {
    /// The PEM file of the only trusted CA.
    pub(crate) ca: &'a Path,
    /// The name the certificate is verified against (and sent as SNI when `sni`).
    pub(crate) name: &'a str,
    /// Whether the ClientHello carries a server_name.
    pub(crate) sni: bool,
}

/// Sends `CONNECT authority` with `Proxy-Authorization: proxy_auth` (when given); returns the
/// response head and the connection.
pub(crate) async fn open(
    proxy: SocketAddr,
    authority: &str,
    proxy_auth: Option<&str>,
) -> (String, TcpStream) {
    let mut stream = TcpStream::connect(proxy).await.expect("connect the proxy");
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(auth) = proxy_auth {
        head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .expect("send CONNECT");
    let response = read_head(&mut stream).await;
    (response, stream)
}

/// Completes TLS over `io` as described by `options`.
pub(crate) async fn tls<IO>(io: IO, options: &TlsOptions<'_>) -> std::io::Result<TlsStream<IO>>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(options.ca).expect("read the CA") {
        roots.add(cert.expect("a CA certificate")).expect("add CA");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.enable_sni = options.sni;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = ServerName::try_from(options.name.to_owned()).expect("a server name");
    tokio::time::timeout(
        TIMEOUT,
        TlsConnector::from(Arc::new(config)).connect(name, io),
    )
    .await
    .map_err(|_| std::io::Error::other("TLS handshake timed out"))?
}

/// Writes `request` and reads one response head (and whatever body bytes came with it).
pub(crate) async fn exchange<IO>(io: &mut IO, request: &str) -> std::io::Result<String>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    io.write_all(request.as_bytes()).await?;
    io.flush().await?;
    Ok(read_head(io).await)
}

/// Reads until a complete header block arrived, or the peer closed, or 10 s passed.
pub(crate) async fn read_head<IO: AsyncRead + Unpin>(io: &mut IO) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while find(&out, b"\r\n\r\n").is_none() {
        match tokio::time::timeout(TIMEOUT, io.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads exactly `count` bytes within 10 s.
pub(crate) async fn read_bytes<IO: AsyncRead + Unpin>(io: &mut IO, count: usize) -> Vec<u8> {
    let mut out = vec![0u8; count];
    tokio::time::timeout(TIMEOUT, io.read_exact(&mut out))
        .await
        .expect("bytes within 10 s")
        .expect("read bytes");
    out
}
