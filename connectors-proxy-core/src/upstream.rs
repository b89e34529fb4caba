//! The client that sends requests to tools: pooled, rustls, HTTP/1.1 and HTTP/2 by ALPN.
//!
//! Bodies stream both ways. Only the wait for response headers is time-limited; a body may take
//! as long as it takes. Upgrades (`101 Switching Protocols`) are bridged byte for byte.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tracing::{debug, warn};

use crate::body::{Body, Request, Response};
use crate::error::Refusal;
use crate::layers::sanitize::{is_upgrade, strip_hop_by_hop};
use crate::layers::{Mode, ResponseFuture};
use crate::metrics::Metrics;

/// Why the upstream client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The CA file could not be read or holds no certificate.
    #[error("cannot use CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// Settings of the upstream client.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// How long to wait for the tool's response headers.
    pub response_timeout: Duration,
    /// How long to wait for a TCP connection.
    pub connect_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            response_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
        }
    }
}

/// Builds the TLS settings for tools: system roots plus the certificates in `extra_ca_file`.
pub fn tls_config(extra_ca_file: Option<&Path>) -> Result<rustls::ClientConfig, UpstreamError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        if let Err(error) = roots.add(cert) {
            debug!(%error, "skipping an unusable system certificate");
        }
    }
    if let Some(path) = extra_ca_file {
        let ca_error = |reason: String| UpstreamError::CaFile {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        let mut added = 0;
        for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
            let cert: rustls_pki_types::CertificateDer<'static> =
                cert.map_err(|e| ca_error(e.to_string()))?;
            roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(ca_error("no PEM certificate found".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // ALPN (h2, http/1.1) is set by the connector, which then picks the protocol per connection.
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>;

/// The innermost service: sends a routed request to its tool and relays the response.
#[derive(Clone)]
pub struct Upstream {
    client: HttpsClient,
    settings: UpstreamSettings,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    /// Builds the pooled client from TLS settings.
    pub fn new(
        tls: rustls::ClientConfig,
        settings: UpstreamSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(settings.pool_idle_timeout)
            .pool_max_idle_per_host(512)
            .timer(hyper_util::rt::TokioTimer::new())
            .build(connector);
        Self {
            client,
            settings,
            metrics,
        }
    }

    /// Sends `req` and returns the tool's response, or a `502`/`504` refusal.
    pub async fn send(&self, mut req: Request) -> Response {
        let mode = req
            .extensions()
            .get::<Mode>()
            .copied()
            .unwrap_or(Mode::Reverse);
        let host = req
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let client_upgrade = is_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
        // The tool connection's own ALPN picks HTTP/2 or HTTP/1.1; a request still marked with
        // the client's HTTP/2 would be refused on an HTTP/1.1-only tool connection.
        if req.version() >= http::Version::HTTP_2 {
            *req.version_mut() = http::Version::HTTP_11;
        }
        let started = Instant::now();
        let result =
            tokio::time::timeout(self.settings.response_timeout, self.client.request(req)).await;
        self.metrics
            .observe_upstream(mode.as_str(), started.elapsed().as_secs_f64());
        let mut response = match result {
            Err(_) => {
                return Refusal::GatewayTimeout(format!(
                    "The tool at {host} did not answer within {} s.",
                    self.settings.response_timeout.as_secs()
                ))
                .into_response();
            }
            Ok(Err(error)) => return bad_gateway(&host, &error),
            Ok(Ok(response)) => response,
        };
        if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client_upgrade) = client_upgrade {
                let tool_upgrade = hyper::upgrade::on(&mut response);
                tokio::spawn(bridge(client_upgrade, tool_upgrade));
            }
            return response.map(Body::new);
        }
        strip_hop_by_hop(response.headers_mut(), false);
        response.map(Body::new)
    }
}

fn bad_gateway(host: &str, error: &hyper_util::client::legacy::Error) -> Response {
    let cause = root_cause(error);
    if error.is_connect() {
        warn!(host, cause, "cannot connect to tool");
        Refusal::BadGateway(format!("Cannot connect to the tool at {host}: {cause}."))
            .into_response()
    } else {
        debug!(host, cause, "tool request failed");
        Refusal::BadGateway(format!(
            "The request to the tool at {host} failed: {cause}."
        ))
        .into_response()
    }
}

/// What went wrong, as a phrase: a sentence of our own for TLS failures, otherwise the
/// innermost error's text.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut source: &(dyn std::error::Error + 'static) = error;
    loop {
        if let Some(tls) = tls_error(source) {
            return tls_phrase(tls);
        }
        match source.source() {
            Some(next) => source = next,
            None => return source.to_string(),
        }
    }
}

/// The rustls error in `error`, also when wrapped in `io::Error`s (whose `source` skips it).
fn tls_error<'a>(mut error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    loop {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner = error.downcast_ref::<std::io::Error>()?.get_ref()?;
        error = inner;
    }
}

/// A phrase for a TLS failure that names the likely fix, without rustls's debug text.
fn tls_phrase(error: &rustls::Error) -> String {
    use rustls::CertificateError as Cert;
    let rustls::Error::InvalidCertificate(cert) = error else {
        return format!("the TLS handshake failed ({error})");
    };
    match cert {
        // A CA with the same name as a trusted one but another key shows as a bad signature.
        Cert::UnknownIssuer | Cert::BadSignature => {
            "its TLS certificate is not signed by a trusted CA (see --upstream-ca-file)"
        }
        Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
            "its TLS certificate is not valid for this host name"
        }
        Cert::Expired | Cert::ExpiredContext { .. } => "its TLS certificate has expired",
        Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
            "its TLS certificate is not valid yet"
        }
        Cert::Revoked => "its TLS certificate is revoked",
        _ => "its TLS certificate was rejected as unusable",
    }
    .to_owned()
}

async fn bridge(client: hyper::upgrade::OnUpgrade, tool: hyper::upgrade::OnUpgrade) {
    let (client, tool) = match tokio::try_join!(client, tool) {
        Ok(pair) => pair,
        Err(error) => {
            debug!(%error, "upgrade failed");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut tool = TokioIo::new(tool);
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut tool).await {
        debug!(%error, "upgraded connection ended");
    }
}

impl tower::Service<Request> for Upstream {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        let this = self.clone();
        Box::pin(async move { Ok(this.send(req).await) })
    }
}
