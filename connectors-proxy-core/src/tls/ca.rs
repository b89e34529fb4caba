//! The proxy's certificate authority: loaded from PEM files, or generated once into a state
//! directory and reused on every restart.
//!
//! Clients of the forward proxy trust this CA so that intercepted `CONNECT` tunnels verify.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use time::{Duration, OffsetDateTime};

use super::TlsError;

/// The CA's common name when the proxy generates it.
pub(super) const GENERATED_CA_NAME: &str = "connectors-proxy CA";
/// The certificate file in the state directory.
pub(super) const CA_CERT_FILE: &str = "ca.crt";
/// The private key file in the state directory.
pub(super) const CA_KEY_FILE: &str = "ca.key";
/// How long a generated CA is valid.
const CA_VALIDITY: Duration = Duration::days(3650);

/// The certificate and key that sign leaf certificates for intercepted hosts.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
}

impl CertificateAuthority {
    /// Loads a CA from a PEM certificate and a PEM PKCS#8 private key.
    ///
    /// The pair is checked by signing a test leaf and verifying it against the certificate, so a
    /// key that does not belong to the certificate, or a certificate that is not a CA, is
    /// refused at startup rather than by every client.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let cert_pem = fs::read_to_string(cert_path).map_err(|e| TlsError::io(cert_path, e))?;
        let key_pem = fs::read_to_string(key_path).map_err(|e| TlsError::io(key_path, e))?;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| TlsError::invalid(cert_path, format!("no PEM certificate: {e}")))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| {
            TlsError::invalid(key_path, format!("not a PEM PKCS#8 private key: {e}"))
        })?;
        let issuer = Issuer::from_ca_cert_der(&cert_der, key)
            .map_err(|e| TlsError::invalid(cert_path, format!("unusable CA certificate: {e}")))?;
        let ca = Self {
            issuer,
            cert_der,
            cert_pem,
        };
        super::leaf::check_signing(&ca).map_err(|reason| {
            TlsError::invalid(
                cert_path,
                format!(
                    "cannot sign with this CA and the key in {}: {reason}",
                    key_path.display()
                ),
            )
        })?;
        Ok(ca)
    }

    /// Loads `ca.crt` and `ca.key` from `state_dir`, generating them first if neither exists.
    ///
    /// The directory is created with mode 0700 and the key with mode 0600. When only one of the
    /// two files exists, nothing is overwritten and the error names the missing one.
    pub fn load_or_generate(state_dir: &Path) -> Result<Self, TlsError> {
        let cert_path = state_dir.join(CA_CERT_FILE);
        let key_path = state_dir.join(CA_KEY_FILE);
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => return Self::load(&cert_path, &key_path),
            (true, false) => return Err(missing(&key_path, &cert_path)),
            (false, true) => return Err(missing(&cert_path, &key_path)),
            (false, false) => {}
        }
        let (cert_pem, key_pem) = generate()?;
        create_private_dir(state_dir)?;
        // The key goes first: a crash in between leaves a key without a certificate, which is
        // reported, never a certificate whose key is lost.
        write_new(&key_path, key_pem.as_bytes(), 0o600)?;
        write_new(&cert_path, cert_pem.as_bytes(), 0o644)?;
        tracing::debug!(path = %cert_path.display(), "generated the proxy CA");
        Self::load(&cert_path, &key_path)
    }

    /// The CA certificate in PEM, for clients to trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate in DER, sent after each leaf in the chain.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    pub(super) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

/// A new self-signed ECDSA P-256 CA: its certificate and key in PEM.
fn generate() -> Result<(String, String), TlsError> {
    let failed = |source| TlsError::Generate {
        subject: GENERATED_CA_NAME.to_owned(),
        source,
    };
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(failed)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, GENERATED_CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + CA_VALIDITY;
    let cert = params.self_signed(&key).map_err(failed)?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn missing(absent: &Path, present: &Path) -> TlsError {
    TlsError::invalid(
        absent,
        format!(
            "missing while {} exists; restore it or remove both to generate a new CA",
            present.display()
        ),
    )
}

fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| TlsError::io(dir, e))
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|e| TlsError::io(path, e))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| TlsError::io(path, e))
}

#[cfg(test)]
mod tests;
