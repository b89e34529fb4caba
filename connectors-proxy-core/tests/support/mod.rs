//! An in-memory catalog, a fake reviewer and a recording innermost service for the stack
//! suites: no network, so every step's effect is visible exactly.
#![allow(dead_code)]
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use connectors_proxy_core::address::Address;
use connectors_proxy_core::body::{Body, Request, Response};
use connectors_proxy_core::builder::ProxyBuilder;
use connectors_proxy_core::catalog::{
    ClassEntry, ConnectorEntry, Credentials, MemoryCatalog, SecretData,
};
use connectors_proxy_core::layers::Mode;
use connectors_proxy_core::metrics::Metrics;
use connectors_proxy_core::proxy::{ProxyStack, StackConfig};
use connectors_proxy_core::review::{
    AccessCheck, Authentication, Identity, ReviewError, Reviewer, UserInfo,
};
use connectors_proxy_core::secret::{ClientToken, SecretString};
use connectors_proxy_core::upstream::{Upstream, UpstreamSettings, tls_config};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub(crate) const CLIENT_TOKEN: &str = "client-sa-token";
pub(crate) const OTHER_TOKEN: &str = "other-sa-token";

/// Accepts two tokens; only the first may use connectors named `allowed-*`.
pub(crate) struct FakeReviewer;

#[async_trait]
impl Reviewer for FakeReviewer {
    async fn authenticate(&self, token: &ClientToken) -> Result<Authentication, ReviewError> {
        let username = match token.expose() {
            CLIENT_TOKEN => "system:serviceaccount:ns:client",
            OTHER_TOKEN => "system:serviceaccount:ns:other",
            _ => return Ok(Authentication::Rejected),
        };
        let user = UserInfo {
            username: username.into(),
            ..UserInfo::default()
        };
        Ok(Authentication::Authenticated {
            user: Arc::new(user),
            expires_at: None,
        })
    }

    async fn authorize(
        &self,
        identity: &Identity,
        check: &AccessCheck,
    ) -> Result<bool, ReviewError> {
        Ok(identity.user.username.ends_with(":client") && check.verb == "get")
    }
}

pub(crate) fn entry(
    name: &str,
    address: &str,
    credentials: Credentials,
    proxied: bool,
) -> ConnectorEntry {
    ConnectorEntry {
        namespace: "ns".into(),
        name: name.into(),
        address: Address::parse(address).unwrap(),
        extensions: Vec::new(),
        class: Arc::new(ClassEntry {
            name: "http".into(),
            proxied,
            auth_types: Vec::new(),
            ..ClassEntry::default()
        }),
        credentials,
    }
}

pub(crate) fn secret(type_: &str, pairs: &[(&str, &str)]) -> Credentials {
    let data: BTreeMap<String, SecretString> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), SecretString::new(*v)))
        .collect();
    Credentials::Secret {
        auth_type: "auth".into(),
        secret: Arc::new(SecretData {
            name: "s".into(),
            type_: type_.into(),
            data,
        }),
    }
}

pub(crate) type Seen = Arc<Mutex<Vec<http::request::Parts>>>;

/// A stack over the test catalog whose innermost service records requests and answers with
/// `respond`.
pub(crate) struct Harness {
    /// The reverse stack.
    pub(crate) stack: ProxyStack,
    /// The forward stack (absolute-form requests).
    pub(crate) forward: ProxyStack,
    seen: Seen,
}

impl Harness {
    /// The standard stacks.
    pub(crate) fn new(respond: fn(&http::request::Parts) -> Response) -> Self {
        Self::built(respond, |builder| builder)
    }

    /// The stacks `options` makes of the standard builder.
    pub(crate) fn built(
        respond: fn(&http::request::Parts) -> Response,
        options: fn(ProxyBuilder) -> ProxyBuilder,
    ) -> Self {
        let catalog = Arc::new(MemoryCatalog::new());
        catalog.insert(entry(
            "allowed-basic",
            "https://tool.example/gitlab",
            secret(
                "kubernetes.io/basic-auth",
                &[("username", "tool-user"), ("password", "tool-pass")],
            ),
            true,
        ));
        catalog.insert(entry(
            "allowed-bearer",
            "http://127.0.0.1:9",
            secret(
                "connectors.cpaas.io/bearer-token",
                &[("token", "tool-token")],
            ),
            true,
        ));
        catalog.insert(entry(
            "allowed-open",
            "http://open.example",
            Credentials::None,
            true,
        ));
        catalog.insert(entry(
            "allowed-noproxy",
            "http://x.example",
            Credentials::None,
            false,
        ));
        catalog.insert(entry(
            "allowed-broken",
            "http://x.example",
            Credentials::Broken("secret s not found in ns".into()),
            true,
        ));
        let metrics = Arc::new(Metrics::new());
        let config = StackConfig::new(
            catalog,
            Arc::new(FakeReviewer),
            Upstream::new(
                tls_config(None).expect("TLS roots load"),
                UpstreamSettings::default(),
                metrics.clone(),
            ),
            metrics,
        );
        let seen: Seen = Arc::default();
        let record = seen.clone();
        let upstream = tower::service_fn(move |req: Request| {
            let (parts, _) = req.into_parts();
            let response = respond(&parts);
            record.lock().unwrap().push(parts);
            async move { Ok::<_, Infallible>(response) }
        });
        let builder = options(ProxyBuilder::new(config));
        let recorder = upstream.clone();
        let forward = builder
            .clone()
            .around_upstream(tower::layer::layer_fn(move |_| recorder.clone()))
            .forward(Mode::Forward);
        Self {
            stack: builder.reverse_with(upstream),
            forward,
            seen,
        }
    }

    /// Sends `req` through the reverse stack: status, headers and body.
    pub(crate) async fn send(
        &self,
        req: http::request::Builder,
    ) -> (http::StatusCode, http::HeaderMap, String) {
        let response = self
            .stack
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    /// The last request the tool saw.
    pub(crate) fn last(&self) -> http::request::Parts {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the tool saw a request")
    }

    /// How many requests the tool saw.
    pub(crate) fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// A `200` from the tool.
pub(crate) fn ok(_: &http::request::Parts) -> Response {
    Response::new(Body::full("tool says hi"))
}

/// A reverse request to the proxy.
pub(crate) fn get(uri: &str) -> http::request::Builder {
    http::Request::builder()
        .uri(uri)
        .header("host", "proxy.local:8080")
}
