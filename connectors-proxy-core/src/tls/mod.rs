//! TLS for the forward proxy: the proxy's certificate authority, leaf certificates minted for
//! intercepted `CONNECT` hosts, and the the `CONNECT` acceptor. The client side toward tools is [`crate::upstream::tls_config`].
//!
//! All configurations use the `ring` provider explicitly, so nothing depends on a process-wide
//! default provider being installed.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

pub(crate) mod accept;
mod ca;
mod leaf;

pub use ca::CertificateAuthority;
pub use leaf::LeafCache;

/// The ALPN protocols offered on both sides of an intercepted connection, preferred first.
pub(crate) const ALPN_PROTOCOLS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why a TLS setup step failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file's contents are not what was expected.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Creating a certificate or key failed.
    #[error("cannot create a certificate for {subject}: {source}")]
    Generate {
        /// The certificate's subject (a host, or the CA).
        subject: String,
        /// The underlying error.
        source: rcgen::Error,
    },
    /// rustls refused a configuration.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// Minting a leaf failed for a request that waited on another's attempt.
    #[error(transparent)]
    Shared(#[from] Arc<TlsError>),
    /// The TLS handshake with a client failed.
    #[error("TLS handshake with the client for {host} failed: {source}")]
    Handshake {
        /// The `CONNECT` host.
        host: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl TlsError {
    fn invalid(path: &std::path::Path, reason: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }

    fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The `ring` crypto provider, shared by every configuration built here.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: LazyLock<Arc<rustls::crypto::CryptoProvider>> =
        LazyLock::new(|| Arc::new(rustls::crypto::ring::default_provider()));
    PROVIDER.clone()
}
