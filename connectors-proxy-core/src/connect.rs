//! `CONNECT`: intercepting TLS to connector targets, tunnelling everything else blind.
//!
//! The tunnel is authenticated on the `CONNECT` request itself. To a host where a listed
//! connector has an address, the proxy answers `200`, completes TLS with a leaf minted for the
//! `CONNECT` host, and serves every request inside through the forward stack, which injects
//! credentials per request. The `CONNECT` authority is the identity of the tunnel: a client
//! whose TLS SNI names another host is disconnected before any request is read.

use std::sync::Arc;

use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::ServiceExt;
use tracing::{debug, warn};

use crate::address::Origin;
use crate::body::{Body, Request, Response};
use crate::error::Refusal;
use crate::forward::{ConnectTarget, parse_authority_form};
use crate::layers::Mode;
use crate::layers::forward::{ForwardClient, ForwardPolicy};
use crate::metrics::Metrics;
use crate::proxy::ProxyStack;
use crate::server::{ServerSettings, http_builder};
use crate::tls::LeafCache;

/// Handles `CONNECT` requests.
#[derive(Clone)]
pub(crate) struct ConnectHandler {
    policy: ForwardPolicy,
    leaves: Arc<LeafCache>,
    stack: ProxyStack,
    metrics: Arc<Metrics>,
    settings: ServerSettings,
}

impl std::fmt::Debug for ConnectHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectHandler")
    }
}

impl ConnectHandler {
    /// Intercepts with leaves from `leaves` and serves tunnelled requests with `stack`.
    pub(crate) fn new(
        policy: ForwardPolicy,
        leaves: Arc<LeafCache>,
        stack: ProxyStack,
        metrics: Arc<Metrics>,
        settings: ServerSettings,
    ) -> Self {
        Self {
            policy,
            leaves,
            stack,
            metrics,
            settings,
        }
    }

    /// Answers a `CONNECT` request and, on success, runs the tunnel in the background.
    pub(crate) async fn handle(&self, mut req: Request) -> Response {
        let response = match self.open(&mut req).await {
            Ok(response) => response,
            Err(refusal) => refusal.into_response(),
        };
        let mode =
            if response.status().is_success() && req.extensions().get::<Intercept>().is_some() {
                Mode::Connect
            } else {
                Mode::Tunnel
            };
        self.metrics
            .record_request(mode.as_str(), response.status().as_u16());
        response
    }

    async fn open(&self, req: &mut Request) -> Result<Response, Refusal> {
        let authority = req
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let target = parse_authority_form(&authority).map_err(|error| {
            Refusal::BadRequest(format!("The CONNECT target is unusable: {error}."))
        })?;
        let client = self.policy.authenticate(req.headers()).await?;
        let origin = target.https_origin();
        let upgrade = hyper::upgrade::on(&mut *req);
        if self.policy.intercepts(&client, &origin).await? {
            req.extensions_mut().insert(Intercept);
            let this = self.clone();
            tokio::spawn(async move {
                match upgrade.await {
                    Ok(upgraded) => {
                        this.intercept(TokioIo::new(upgraded), target, origin, client)
                            .await
                    }
                    Err(error) => debug!(%error, "CONNECT upgrade failed"),
                }
            });
        } else {
            let tool = TcpStream::connect((dial_host(&target), target.port))
                .await
                .map_err(|error| {
                    Refusal::BadGateway(format!(
                        "Cannot connect to {}: {error}.",
                        origin.authority()
                    ))
                })?;
            tokio::spawn(async move {
                match upgrade.await {
                    Ok(upgraded) => {
                        let mut client = TokioIo::new(upgraded);
                        let mut tool = tool;
                        if let Err(error) =
                            tokio::io::copy_bidirectional(&mut client, &mut tool).await
                        {
                            debug!(%error, "tunnel ended");
                        }
                    }
                    Err(error) => debug!(%error, "CONNECT upgrade failed"),
                }
            });
        }
        Ok(Response::new(Body::empty()))
    }

    async fn intercept<IO>(
        &self,
        io: IO,
        target: ConnectTarget,
        origin: Origin,
        client: ForwardClient,
    ) where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let intercepted = match self.leaves.accept(io, &target.host).await {
            Ok(intercepted) => intercepted,
            Err(error) => {
                debug!(host = %target.host, %error, "TLS handshake with the client failed");
                return;
            }
        };
        if !intercepted.sni_matches(&target.host) {
            warn!(host = %target.host, "client TLS server name differs from the CONNECT host; closing the tunnel");
            return;
        }
        let base = origin.to_string();
        let stack = self.stack.clone();
        let service =
            tower::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let stack = stack.clone();
                let mut req = req.map(Body::new);
                let path_and_query = req
                    .uri()
                    .path_and_query()
                    .map_or("/", |pq| pq.as_str())
                    .to_owned();
                let uri = format!("{base}{path_and_query}").parse();
                req.extensions_mut().insert(client.clone());
                async move {
                    match uri {
                        Ok(uri) => {
                            *req.uri_mut() = uri;
                            stack.oneshot(req).await
                        }
                        Err(_) => Ok(Refusal::BadRequest("The request path is unusable.".into())
                            .into_response()),
                    }
                }
            });
        let builder = http_builder(&self.settings);
        let connection = builder.serve_connection_with_upgrades(
            TokioIo::new(intercepted.stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        if let Err(error) = connection.await {
            debug!(host = %target.host, %error, "intercepted connection ended with an error");
        }
    }
}

/// Marks a `CONNECT` that was intercepted rather than tunnelled blind.
#[derive(Debug, Clone, Copy)]
struct Intercept;

fn dial_host(target: &ConnectTarget) -> &str {
    target
        .host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(&target.host)
}
