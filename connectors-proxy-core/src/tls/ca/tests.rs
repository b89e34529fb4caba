use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier as _;
use rustls_pki_types::{ServerName, UnixTime};

use super::*;
use crate::tls::provider;

fn verify(ca: &CertificateAuthority, host: &str, name: &str) -> Result<(), rustls::Error> {
    let leaf = ca.mint_leaf(host).unwrap();
    assert_eq!(leaf.cert.len(), 2, "leaf then CA");
    assert_eq!(&leaf.cert[1], ca.cert_der());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der().clone()).unwrap();
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .unwrap();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    verifier
        .verify_server_cert(&leaf.cert[0], &[], &name, &[], UnixTime::now())
        .map(drop)
}

#[test]
fn generates_once_and_reloads_the_same_ca() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let first = CertificateAuthority::load_or_generate(&state).unwrap();
    let second = CertificateAuthority::load_or_generate(&state).unwrap();
    assert_eq!(first.cert_pem(), second.cert_pem());
    assert_eq!(first.cert_der(), second.cert_der());
    assert!(first.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    // A leaf signed after the reload verifies against the CA written the first time.
    verify(&second, "example.test", "example.test").unwrap();
    verify(&first, "example.test", "example.test").unwrap();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&state.join(CA_KEY_FILE)), 0o600);
    }
}

#[test]
fn refuses_half_a_ca_and_names_files() {
    let dir = tempfile::tempdir().unwrap();
    CertificateAuthority::load_or_generate(dir.path()).unwrap();
    fs::remove_file(dir.path().join(CA_KEY_FILE)).unwrap();
    let err = CertificateAuthority::load_or_generate(dir.path()).unwrap_err();
    assert!(err.to_string().contains(CA_KEY_FILE), "{err}");
    assert!(
        dir.path().join(CA_CERT_FILE).exists(),
        "nothing overwritten"
    );

    let garbage = dir.path().join("garbage.pem");
    fs::write(&garbage, "not pem").unwrap();
    let err = CertificateAuthority::load(&dir.path().join(CA_CERT_FILE), &garbage).unwrap_err();
    assert!(err.to_string().contains("garbage.pem"), "{err}");
    let err = CertificateAuthority::load(&garbage, &garbage).unwrap_err();
    assert!(err.to_string().contains("garbage.pem"), "{err}");
}

#[test]
fn refuses_a_key_that_does_not_belong_to_the_certificate() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    CertificateAuthority::load_or_generate(a.path()).unwrap();
    CertificateAuthority::load_or_generate(b.path()).unwrap();
    let err = CertificateAuthority::load(&a.path().join(CA_CERT_FILE), &b.path().join(CA_KEY_FILE))
        .unwrap_err();
    assert!(err.to_string().contains("cannot sign"), "{err}");
}

#[test]
fn leaves_name_exactly_their_host() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::load_or_generate(dir.path()).unwrap();
    verify(&ca, "Example.Test", "example.test").unwrap();
    assert!(verify(&ca, "example.test", "other.test").is_err());
    assert!(verify(&ca, "example.test", "sub.example.test").is_err());
    verify(&ca, "127.0.0.1", "127.0.0.1").unwrap();
    assert!(verify(&ca, "127.0.0.1", "127.0.0.2").is_err());
    verify(&ca, "[::1]", "::1").unwrap();
    verify(&ca, "0:0::1", "::1").unwrap();
    assert!(verify(&ca, "[::1]", "::2").is_err());
    // An IP literal gets an IP SAN, not a DNS name that looks like one.
    assert!(verify(&ca, "127.0.0.1", "localhost").is_err());
}
