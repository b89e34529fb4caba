//! Embedding the proxy in another tokio program, with connectors kept in memory.
//!
//! Run: `cargo run -p connectors-proxy-core --example embedded`
//!
//! The program starts a stand-in tool that echoes the `Authorization` it receives, serves the
//! standard proxy stack over an in-memory catalog and a reviewer written in a few lines, sends
//! one request through it with a client token, and prints what the tool saw: the connector's
//! credentials, never the client's token.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use connectors_proxy_core::address::Address;
use connectors_proxy_core::async_trait;
use connectors_proxy_core::body::{Body, Request, Response};
use connectors_proxy_core::catalog::{
    ClassEntry, ConnectorEntry, Credentials, MemoryCatalog, SecretData,
};
use connectors_proxy_core::metrics::Metrics;
use connectors_proxy_core::proxy::{Router, StackConfig};
use connectors_proxy_core::review::{
    AccessCheck, Authentication, Identity, ReviewError, Reviewer, UserInfo,
};
use connectors_proxy_core::secret::{ClientToken, SecretString};
use connectors_proxy_core::server::{ServerSettings, serve};
use connectors_proxy_core::upstream::{Upstream, UpstreamSettings, tls_config};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;

/// Accepts one token, for one ServiceAccount that may use every connector in `demo`.
struct OneToken(&'static str);

#[async_trait]
impl Reviewer for OneToken {
    async fn authenticate(&self, token: &ClientToken) -> Result<Authentication, ReviewError> {
        if token.expose() != self.0 {
            return Ok(Authentication::Rejected);
        }
        let user = UserInfo {
            username: "system:serviceaccount:demo:app".into(),
            ..UserInfo::default()
        };
        Ok(Authentication::Authenticated {
            user: Arc::new(user),
            expires_at: None,
        })
    }

    async fn authorize(&self, _: &Identity, check: &AccessCheck) -> Result<bool, ReviewError> {
        Ok(check.namespace == "demo" && check.verb == "get")
    }
}

/// A stand-in tool: answers with the `Authorization` header it received.
async fn start_tool() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the tool");
    let addr = listener.local_addr().expect("tool address");
    let echo = tower::service_fn(|req: Request| async move {
        let seen = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        Ok::<_, Infallible>(Response::new(Body::full(seen)))
    });
    tokio::spawn(serve(
        listener,
        echo,
        ServerSettings::default(),
        std::future::pending(),
    ));
    addr
}

fn connector(tool: SocketAddr) -> ConnectorEntry {
    let data = BTreeMap::from([
        ("username".to_owned(), SecretString::new("tool-user")),
        ("password".to_owned(), SecretString::new("tool-password")),
    ]);
    ConnectorEntry {
        namespace: "demo".into(),
        name: "tool".into(),
        address: Address::parse(&format!("http://{tool}")).expect("a valid address"),
        extensions: Vec::new(),
        class: Arc::new(ClassEntry {
            name: "http".into(),
            proxied: true,
            ..ClassEntry::default()
        }),
        credentials: Credentials::Secret {
            auth_type: "basicAuth".into(),
            secret: Arc::new(SecretData {
                name: "tool-secret".into(),
                type_: "kubernetes.io/basic-auth".into(),
                data,
            }),
        },
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let tool = start_tool().await;
    let catalog = Arc::new(MemoryCatalog::new());
    catalog.insert(connector(tool));

    let metrics = Arc::new(Metrics::new());
    let upstream = Upstream::new(
        tls_config(None)?,
        UpstreamSettings::default(),
        metrics.clone(),
    );
    let config = StackConfig::new(catalog, Arc::new(OneToken("app-token")), upstream, metrics);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy = listener.local_addr()?;
    tokio::spawn(serve(
        listener,
        Router::new(&config),
        ServerSettings::default(),
        std::future::pending(),
    ));

    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let request = http::Request::get(format!(
        "http://{proxy}/namespaces/demo/connectors/tool/hello"
    ))
    .header("authorization", "Bearer app-token")
    .body(Body::empty())?;
    let response = client.request(request).await?;
    let status = response.status();
    let seen = response.into_body().collect().await?.to_bytes();
    println!("status: {status}");
    println!(
        "the tool saw: Authorization: {}",
        String::from_utf8_lossy(&seen)
    );
    Ok(())
}
