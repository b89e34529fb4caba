//! A custom ConnectorClass proxy for a tool that wants every request signed with HMAC.
//!
//! Run: `cargo run -p connectors-proxy-core --example hmac_proxy`
//!
//! The tool in this example accepts a request only when `X-Signature` is
//! `hex(HMAC-SHA256(key, "<method>\n<path>\n<X-Timestamp>"))`, with the key from the connector's
//! Secret. The proxy is core's standard reverse steps with one step swapped: instead of
//! injecting a header from the Secret, `SignLayer` computes the signature. The program starts
//! the tool and the proxy, sends a request with a client token, and prints the tool's verdict.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use connectors_proxy_core::address::Address;
use connectors_proxy_core::body::{Body, Request, Response};
use connectors_proxy_core::catalog::{
    ClassEntry, ConnectorEntry, Credentials, MemoryCatalog, SecretData,
};
use connectors_proxy_core::error::Refusal;
use connectors_proxy_core::layers::{
    Authorized, Destination, Mode, authorize::AuthorizeLayer, extract::ExtractLayer,
    observe::ObserveLayer, resolve::ResolveLayer, route::RouteLayer, sanitize::SanitizeLayer,
};
use connectors_proxy_core::metrics::Metrics;
use connectors_proxy_core::review::{
    AccessCheck, Authentication, Identity, ReviewError, Reviewer, UserInfo,
};
use connectors_proxy_core::secret::{ClientToken, SecretString};
use connectors_proxy_core::server::{ServerSettings, serve};
use connectors_proxy_core::upstream::{Upstream, UpstreamSettings, tls_config};
use hmac::{Hmac, Mac};
use http::HeaderValue;
use http_body_util::BodyExt;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use sha2::Sha256;
use tokio::net::TcpListener;
use tower::ServiceBuilder;

/// `hex(HMAC-SHA256(key, "<method>\n<path>\n<timestamp>"))`.
fn signature(key: &str, method: &str, path: &str, timestamp: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{method}\n{path}\n{timestamp}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Signs authorized requests with the connector's `key`; replaces core's `InjectLayer`.
#[derive(Clone)]
struct SignLayer;

impl<S> tower::Layer<S> for SignLayer {
    type Service = tower::util::MapRequest<S, fn(Request) -> Request>;
    fn layer(&self, inner: S) -> Self::Service {
        tower::util::MapRequest::new(inner, sign as fn(Request) -> Request)
    }
}

fn sign(mut req: Request) -> Request {
    let key = match req
        .extensions()
        .get::<Authorized>()
        .map(|Authorized(entry)| &entry.credentials)
    {
        Some(Credentials::Secret { secret, .. }) => {
            secret.get("key").map(|k| k.expose().to_owned())
        }
        _ => None,
    };
    let path = req
        .extensions()
        .get::<Destination>()
        .map(|d| d.path_and_query.clone());
    if let (Some(key), Some(path)) = (key, path) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .to_string();
        let mut value = HeaderValue::try_from(signature(&key, req.method().as_str(), &path, &now))
            .expect("hex is a valid header");
        value.set_sensitive(true);
        req.headers_mut().insert("x-signature", value);
        req.headers_mut()
            .insert("x-timestamp", HeaderValue::try_from(now).expect("digits"));
    }
    req
}

/// Accepts one client token for every connector in `demo`.
struct OneToken;

#[async_trait]
impl Reviewer for OneToken {
    async fn authenticate(&self, token: &ClientToken) -> Result<Authentication, ReviewError> {
        Ok(match token.expose() {
            "app-token" => Authentication::Authenticated {
                user: Arc::new(UserInfo::default()),
                expires_at: None,
            },
            _ => Authentication::Rejected,
        })
    }
    async fn authorize(&self, _: &Identity, check: &AccessCheck) -> Result<bool, ReviewError> {
        Ok(check.namespace == "demo")
    }
}

/// The tool: checks the signature with the key it shares with the connector's Secret.
fn tool(req: Request) -> Response {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let path = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let expected = signature(
        "shared-signing-key",
        req.method().as_str(),
        path,
        header("x-timestamp"),
    );
    if header("x-signature") == expected && req.headers().get("authorization").is_none() {
        Response::new(Body::full("signature ok"))
    } else {
        Refusal::Forbidden("Bad signature.".into()).into_response()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let tool_listener = TcpListener::bind("127.0.0.1:0").await?;
    let tool_addr = tool_listener.local_addr()?;
    let tool_service =
        tower::service_fn(|req: Request| async move { Ok::<_, Infallible>(tool(req)) });
    tokio::spawn(serve(
        tool_listener,
        tool_service,
        ServerSettings::default(),
        std::future::pending(),
    ));

    let catalog = Arc::new(MemoryCatalog::new());
    catalog.insert(ConnectorEntry {
        namespace: "demo".into(),
        name: "signed".into(),
        address: Address::parse(&format!("http://{tool_addr}/api"))?,
        extensions: Vec::new(),
        class: Arc::new(ClassEntry {
            name: "hmac".into(),
            proxied: true,
            ..ClassEntry::default()
        }),
        credentials: Credentials::Secret {
            auth_type: "hmacKey".into(),
            secret: Arc::new(SecretData {
                name: "signing-key".into(),
                type_: "Opaque".into(),
                data: BTreeMap::from([("key".to_owned(), SecretString::new("shared-signing-key"))]),
            }),
        },
    });
    let metrics = Arc::new(Metrics::new());
    let proxy_service = ServiceBuilder::new()
        .layer(ObserveLayer::new(metrics.clone(), Mode::Reverse))
        .layer(ResolveLayer::new(catalog, "cluster.local"))
        .layer(ExtractLayer)
        .layer(AuthorizeLayer::new(Arc::new(OneToken), false))
        .layer(SanitizeLayer)
        .layer(SignLayer)
        .layer(RouteLayer)
        .service(Upstream::new(
            tls_config(None)?,
            UpstreamSettings::default(),
            metrics,
        ));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy = listener.local_addr()?;
    tokio::spawn(serve(
        listener,
        proxy_service,
        ServerSettings::default(),
        std::future::pending(),
    ));

    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let request = http::Request::get(format!(
        "http://{proxy}/namespaces/demo/connectors/signed/items?page=2"
    ))
    .header("authorization", "Bearer app-token")
    .body(Body::empty())?;
    let response = client.request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    println!("status: {status}");
    println!("the tool said: {}", String::from_utf8_lossy(&body));
    Ok(())
}
