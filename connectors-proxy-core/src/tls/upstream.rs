//! The TLS client configuration used toward tools.

use std::path::Path;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;

use super::{ALPN_PROTOCOLS, TlsError, provider};

/// A client configuration trusting the system roots plus every certificate in `extra_ca_file`,
/// offering ALPN `h2` and `http/1.1`.
///
/// System certificates that cannot be read or parsed are skipped (logged at debug); every
/// certificate in `extra_ca_file` must be usable, and the error names the file when one is not.
pub fn upstream_client_config(extra_ca_file: Option<&Path>) -> Result<ClientConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::debug!(%error, "skipping unreadable system CA certificates");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "loaded system CA certificates");
    if let Some(path) = extra_ca_file {
        add_pem_file(&mut roots, path)?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// Adds every certificate of a PEM file to `roots`; a file without one is an error.
fn add_pem_file(roots: &mut RootCertStore, path: &Path) -> Result<(), TlsError> {
    let pem = std::fs::read(path).map_err(|e| TlsError::io(path, e))?;
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert =
            cert.map_err(|e| TlsError::invalid(path, format!("unreadable PEM certificate: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| TlsError::invalid(path, format!("unusable CA certificate: {e}")))?;
        count += 1;
    }
    if count == 0 {
        return Err(TlsError::invalid(path, "contains no PEM certificate"));
    }
    tracing::debug!(path = %path.display(), count, "loaded extra CA certificates");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_extra_roots_and_names_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let ca = crate::tls::CertificateAuthority::load_or_generate(dir.path()).unwrap();
        let good = dir.path().join("ca.crt");
        let config = upstream_client_config(Some(&good)).unwrap();
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        assert!(ca.cert_pem().contains("BEGIN CERTIFICATE"));

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        let err = upstream_client_config(Some(&empty))
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty.pem") && err.contains("no PEM"), "{err}");

        let absent = dir.path().join("absent.pem");
        let err = upstream_client_config(Some(&absent))
            .unwrap_err()
            .to_string();
        assert!(err.contains("absent.pem"), "{err}");
    }
}
