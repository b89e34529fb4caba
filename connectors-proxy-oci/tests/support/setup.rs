//! A registry, its connectors and the proxy in front of them, started together.

use std::net::SocketAddr;
use std::path::Path;

use super::fixture::{self, Conn};
use super::{free_port, process, token_server};

/// Everything one suite needs; the processes stop when it is dropped.
pub(crate) struct Setup {
    /// Holds the registry's storage, configs and manifests.
    pub(crate) dir: tempfile::TempDir,
    /// The registry.
    pub(crate) registry: process::Running,
    /// Where the registry listens.
    pub(crate) registry_port: u16,
    /// The proxy.
    pub(crate) proxy: process::Running,
    /// Where the proxy listens.
    pub(crate) proxy_addr: SocketAddr,
}

impl Setup {
    /// `http://<proxy>` followed by `path`.
    pub(crate) fn proxy_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.proxy_addr)
    }

    /// `http://127.0.0.1:<registry>` followed by `path`.
    pub(crate) fn registry_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.registry_port)
    }
}

/// A registry with htpasswd Basic auth (`alice` / `alice-pw`); connectors point at
/// `address(registry_port)`.
pub(crate) fn basic(conns: &[Conn<'_>], address: impl FnOnce(u16) -> String) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (registry, registry_port) = htpasswd_registry(dir.path());
    finish(
        dir,
        registry,
        registry_port,
        &address(registry_port),
        "kubernetes.io/basic-auth",
        conns,
    )
}

/// A registry on 127.0.0.1 with htpasswd Basic auth (`alice` / `alice-pw`), storing in `dir`;
/// returns it and its port.
pub(crate) fn htpasswd_registry(dir: &Path) -> (process::Running, u16) {
    let hash = bcrypt::hash("alice-pw", 4).unwrap();
    std::fs::write(dir.join("htpasswd"), format!("alice:{hash}\n")).unwrap();
    let port = free_port();
    let auth = format!(
        "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
        dir.join("htpasswd").display()
    );
    (process::registry(dir, port, &auth), port)
}

/// A registry trusting `tokens` (the token server), with connectors logging in to it.
pub(crate) fn token(
    tokens: &token_server::TokenServer,
    dir: tempfile::TempDir,
    cert: &Path,
    conns: &[Conn<'_>],
) -> Setup {
    let registry_port = free_port();
    let registry = process::registry(
        dir.path(),
        registry_port,
        &token_server::registry_auth(tokens.addr, cert),
    );
    finish(
        dir,
        registry,
        registry_port,
        &format!("http://127.0.0.1:{registry_port}"),
        "cpaas.io/distribution-registry-token",
        conns,
    )
}

fn finish(
    dir: tempfile::TempDir,
    registry: process::Running,
    registry_port: u16,
    address: &str,
    secret_type: &str,
    conns: &[Conn<'_>],
) -> Setup {
    fixture::write(dir.path(), address, secret_type, conns);
    let (proxy, proxy_addr) = process::proxy(
        &dir.path().join("manifests"),
        &dir.path().join("tokens.csv"),
    );
    Setup {
        dir,
        registry,
        registry_port,
        proxy,
        proxy_addr,
    }
}
