//! What a registry served over HTTPS needs in the suites: a name that Go clients send through a
//! proxy, and a certificate for it from a test CA.

use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

/// A name for this machine that a Go client sends through `https_proxy`, and where it points.
///
/// Go never proxies `localhost` or loopback IP literals, but it does proxy any other name,
/// even one that resolves to a loopback address: the machine's own host name serves.
pub(crate) fn proxied_host() -> (String, IpAddr) {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("read the host name")
        .trim()
        .to_owned();
    assert!(
        !name.is_empty() && name != "localhost",
        "this machine needs a host name other than localhost"
    );
    let ip = (name.as_str(), 0)
        .to_socket_addrs()
        .expect("the host name resolves")
        .map(|a| a.ip())
        .find(IpAddr::is_ipv4)
        .expect("the host name has an IPv4 address");
    (name, ip)
}

/// The files of a server certificate for `name`, signed by a fresh test CA.
pub(crate) struct ServerCert {
    /// The CA certificate (PEM), to be trusted by the server's clients.
    pub(crate) ca: PathBuf,
    /// The server certificate (PEM).
    pub(crate) cert: PathBuf,
    /// The server's private key (PEM, PKCS#8).
    pub(crate) key: PathBuf,
}

/// Writes a test CA and a certificate for `name` (a DNS name or IP literal) into `dir`.
pub(crate) fn server_cert(dir: &Path, name: &str) -> ServerCert {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test registry CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let files = ServerCert {
        ca: dir.join("registry-ca.pem"),
        cert: dir.join("registry.pem"),
        key: dir.join("registry-key.pem"),
    };
    std::fs::write(&files.ca, ca_cert.pem()).unwrap();
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}
