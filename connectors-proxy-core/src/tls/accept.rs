//! Accepting the client side of an intercepted `CONNECT` tunnel.
//!
//! The leaf is always minted for the `CONNECT` host: inside a tunnel that authority is the
//! identity, whatever the ClientHello says. The SNI is only reported, so the caller can refuse
//! to inject credentials when a client names a different host than it connected to.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

use super::{LeafCache, TlsError};
use crate::address::canonical_host;

/// A client connection whose TLS handshake completed with a minted leaf.
#[derive(Debug)]
pub(crate) struct Intercepted<IO> {
    /// The decrypted stream.
    pub(crate) stream: TlsStream<IO>,
    /// The server name the client sent, if any.
    pub(crate) sni: Option<String>,
}

impl<IO> Intercepted<IO> {
    /// Whether the client named no server or named `connect_host` (compared canonically).
    ///
    /// When this is false the client asked for another host than it tunnelled to, and no
    /// credentials may be injected into its requests.
    pub(crate) fn sni_matches(&self, connect_host: &str) -> bool {
        self.sni
            .as_deref()
            .is_none_or(|sni| canonical_host(sni) == canonical_host(connect_host))
    }
}

impl LeafCache {
    /// Runs the server side of the TLS handshake on `io`, presenting the leaf for
    /// `connect_host` (the host of the `CONNECT` request, as [`canonical_host`] gives it).
    pub(crate) async fn accept<IO>(
        &self,
        io: IO,
        connect_host: &str,
    ) -> Result<Intercepted<IO>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake_failed = |source| TlsError::Handshake {
            host: connect_host.to_owned(),
            source,
        };
        let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io)
            .await
            .map_err(handshake_failed)?;
        let sni = start.client_hello().server_name().map(str::to_owned);
        let config = self.server_config(connect_host).await?;
        let stream = start.into_stream(config).await.map_err(handshake_failed)?;
        Ok(Intercepted { stream, sni })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_rustls::TlsConnector;

    use super::*;
    use crate::tls::{CertificateAuthority, provider};

    fn client(ca: &CertificateAuthority, sni: bool) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der().clone()).unwrap();
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        config.enable_sni = sni;
        TlsConnector::from(Arc::new(config))
    }

    /// Connects a client that verifies `name` to a server accepting for `connect_host`.
    async fn handshake(
        cache: &LeafCache,
        sni: bool,
        name: &str,
        connect_host: &str,
    ) -> (Option<String>, bool, Option<Vec<u8>>) {
        let (client_io, server_io) = tokio::io::duplex(16 * 1024);
        let connector = client(cache.ca(), sni);
        let name = ServerName::try_from(name.to_owned()).unwrap();
        let client = async move {
            let mut tls = connector.connect(name, client_io).await.unwrap();
            tls.write_all(b"ping").await.unwrap();
            tls.flush().await.unwrap();
            let mut reply = [0u8; 4];
            tls.read_exact(&mut reply).await.unwrap();
            assert_eq!(&reply, b"pong");
        };
        let server = async {
            let mut accepted = cache.accept(server_io, connect_host).await.unwrap();
            let mut request = [0u8; 4];
            accepted.stream.read_exact(&mut request).await.unwrap();
            assert_eq!(&request, b"ping");
            accepted.stream.write_all(b"pong").await.unwrap();
            accepted.stream.flush().await.unwrap();
            accepted
        };
        let ((), accepted) = tokio::join!(client, server);
        let matches = accepted.sni_matches(connect_host);
        let alpn = accepted
            .stream
            .get_ref()
            .1
            .alpn_protocol()
            .map(<[u8]>::to_vec);
        (accepted.sni, matches, alpn)
    }

    #[tokio::test]
    async fn presents_the_connect_host_with_and_without_sni() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Arc::new(CertificateAuthority::load_or_generate(dir.path()).unwrap());
        let cache = LeafCache::new(ca);

        let (sni, matches, alpn) = handshake(&cache, true, "example.test", "example.test").await;
        assert_eq!(sni.as_deref(), Some("example.test"));
        assert!(matches);
        assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));

        let (sni, matches, _) = handshake(&cache, false, "example.test", "example.test").await;
        assert_eq!(sni, None);
        assert!(matches);
        assert_eq!(cache.minted(), 1, "the leaf is reused");

        // A client naming another host still gets the CONNECT host's certificate (so it
        // must verify that name) and the mismatch is reported.
        let (sni, matches, _) = handshake(&cache, true, "example.test", "EXAMPLE.test.").await;
        assert_eq!(sni.as_deref(), Some("example.test"));
        assert!(matches, "names are compared canonically");
    }

    /// Verifies the server's certificate for a fixed name, whatever name the client sends.
    #[derive(Debug)]
    struct VerifyAs(Arc<WebPkiServerVerifier>, ServerName<'static>);

    impl ServerCertVerifier for VerifyAs {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            _sent_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            self.0
                .verify_server_cert(end_entity, intermediates, &self.1, ocsp, now)
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }

    #[tokio::test]
    async fn reports_an_sni_that_differs_from_the_connect_host() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Arc::new(CertificateAuthority::load_or_generate(dir.path()).unwrap());
        let cache = LeafCache::new(ca.clone());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der().clone()).unwrap();
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap();
        let verifier = VerifyAs(webpki, ServerName::try_from("example.test").unwrap());
        let config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let connector = TlsConnector::from(Arc::new(config));

        let (client_io, server_io) = tokio::io::duplex(16 * 1024);
        let name = ServerName::try_from("other.test").unwrap();
        let client = async move {
            let mut tls = connector.connect(name, client_io).await.unwrap();
            tls.write_all(b"x").await.unwrap();
            tls.flush().await.unwrap();
            tls
        };
        let (_client, accepted) = tokio::join!(client, cache.accept(server_io, "example.test"));
        // The handshake completed: the client got the certificate of the CONNECT host.
        let accepted = accepted.unwrap();
        assert_eq!(accepted.sni.as_deref(), Some("other.test"));
        assert!(!accepted.sni_matches("example.test"));
        let alpn = accepted.stream.get_ref().1.alpn_protocol();
        assert_eq!(alpn, None, "the client offered no ALPN");
    }

    #[tokio::test]
    async fn concurrent_requests_for_one_host_mint_once() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Arc::new(CertificateAuthority::load_or_generate(dir.path()).unwrap());
        let cache = LeafCache::new(ca);
        let configs =
            futures_util::future::join_all((0..16).map(|_| cache.server_config("same.test"))).await;
        let first = configs[0].as_ref().unwrap();
        assert!(
            configs
                .iter()
                .all(|c| Arc::ptr_eq(c.as_ref().unwrap(), first))
        );
        assert_eq!(first.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(cache.minted(), 1);
        cache.server_config("[::1]").await.unwrap();
        cache.server_config("0:0::1").await.unwrap();
        assert_eq!(cache.minted(), 2, "IPv6 spellings share one leaf");
    }
}
