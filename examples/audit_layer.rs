//! A custom Tower layer added to the stock stack: every request that reaches a tool carries an
//! audit header naming the connector and the ServiceAccount that used it.
//!
//! Run: `cargo run -p connectors-proxy-core --example audit_layer`
//!
//! The stack is exactly the stock binary's (embedded mode over a manifest folder), built with
//! `ProxyBuilder` and one extra layer at the "after injection" point, where the connector and
//! the client's identity are known. The program writes a small manifest folder, starts a
//! stand-in tool that echoes the header, sends one request and prints the tool's answer.

use std::convert::Infallible;
use std::sync::Arc;

use connectors_proxy_core::body::{Body, Request, Response};
use connectors_proxy_core::builder::ProxyBuilder;
use connectors_proxy_core::layers::Authorized;
use connectors_proxy_core::metrics::Metrics;
use connectors_proxy_core::proxy::StackConfig;
use connectors_proxy_core::review::Identity;
use connectors_proxy_core::runtime::Sources;
use connectors_proxy_core::server::{ServerSettings, serve};
use connectors_proxy_core::upstream::{Upstream, UpstreamSettings, tls_config};
use http::HeaderValue;
use http_body_util::BodyExt;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use tokio::net::TcpListener;

/// Adds `X-Connector-Audit: <namespace>/<connector> used by <user>` to authorized requests.
fn audit(mut req: Request) -> Request {
    let connector = req
        .extensions()
        .get::<Authorized>()
        .map(|Authorized(entry)| entry.key());
    let user = req
        .extensions()
        .get::<Identity>()
        .map(|identity| identity.user.username.clone());
    if let (Some(connector), Some(user)) = (connector, user)
        && let Ok(value) = HeaderValue::try_from(format!("{connector} used by {user}"))
    {
        req.headers_mut().insert("x-connector-audit", value);
    }
    req
}

/// Manifests for one connector pointing at `tool`, and a token for the ServiceAccount `ci/bot`.
fn write_manifests(dir: &std::path::Path, tool: std::net::SocketAddr) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("tokens.csv"),
        "bot-token,system:serviceaccount:ci:bot,uid-1\n",
    )?;
    std::fs::write(
        dir.join("manifests.yaml"),
        format!(
            r#"apiVersion: connectors.alauda.io/v1alpha1
kind: ConnectorClass
metadata: {{name: http}}
spec:
  auth: {{types: [{{name: bearer, secretType: connectors.cpaas.io/bearer-token}}]}}
  proxy: {{ref: {{kind: Service, name: connectors-proxy-service, namespace: connectors-system}}}}
---
apiVersion: connectors.alauda.io/v1alpha1
kind: Connector
metadata: {{name: tool, namespace: ci}}
spec:
  connectorClassName: http
  address: http://{tool}
  auth: {{name: bearer, secretRef: {{name: tool-token}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: tool-token, namespace: ci}}
type: connectors.cpaas.io/bearer-token
stringData: {{token: tool-secret-token}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: bot-uses-connectors, namespace: ci}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: connector-user}}
subjects: [{{kind: ServiceAccount, name: bot, namespace: ci}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {{name: connector-user}}
rules: [{{apiGroups: [connectors.alauda.io], resources: [connectors], verbs: [get]}}]
"#
        ),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let tool_listener = TcpListener::bind("127.0.0.1:0").await?;
    let tool = tool_listener.local_addr()?;
    let echo = tower::service_fn(|req: Request| async move {
        let audit = req
            .headers()
            .get("x-connector-audit")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        Ok::<_, Infallible>(Response::new(Body::full(audit)))
    });
    tokio::spawn(serve(
        tool_listener,
        echo,
        ServerSettings::default(),
        std::future::pending(),
    ));

    let dir = std::env::temp_dir().join(format!("connectors-audit-example-{}", std::process::id()));
    write_manifests(&dir, tool)?;
    let sources = Sources::embedded(&dir, &dir.join("tokens.csv"))?;
    let metrics = Arc::new(Metrics::new());
    let upstream = Upstream::new(
        tls_config(None)?,
        UpstreamSettings::default(),
        metrics.clone(),
    );
    let config = StackConfig::new(
        sources.catalog.clone(),
        sources.cached_reviewer(metrics.clone()),
        upstream,
        metrics,
    );
    let router = ProxyBuilder::new(config)
        .after_injection(tower::util::MapRequestLayer::new(
            audit as fn(Request) -> Request,
        ))
        .router();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy = listener.local_addr()?;
    tokio::spawn(serve(
        listener,
        router,
        ServerSettings::default(),
        std::future::pending(),
    ));

    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let request = http::Request::get(format!(
        "http://{proxy}/namespaces/ci/connectors/tool/build/42"
    ))
    .header("authorization", "Bearer bot-token")
    .body(Body::empty())?;
    let response = client.request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    println!("status: {status}");
    println!(
        "the tool saw: X-Connector-Audit: {}",
        String::from_utf8_lossy(&body)
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
