//! A custom ConnectorClass proxy for a tool that wants every request signed with HMAC.
//!
//! Run: `cargo run -p connectors-proxy-core --example hmac_proxy`
//!
//! The tool in this example accepts a request only when `X-Signature` is
//! `hex(HMAC-SHA256(key, "<method>\n<path>\n<X-Timestamp>"))`, with the key from the connector's
//! Secret. The proxy is core's standard reverse stack with the credential step swapped: instead
//! of injecting `Authorization` from the Secret, the `sign` step computes the signature. The
//! program starts the tool and the proxy, sends a request with a client token, and prints the
//! tool's verdict.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use connectors_proxy_core::async_trait;
use connectors_proxy_core::{
    AccessCheck, Address, Authentication, Authorized, Body, ClassEntry, ClientToken,
    ConnectorEntry, Credentials, Identity, MemoryCatalog, Metrics, ProxyBuilder, Refusal, Request,
    Response, ReviewError, Reviewer, SecretData, ServerSettings, StackConfig, StepLayer, Upstream,
    UpstreamSettings, UserInfo, serve, upstream::tls_config,
};
use hmac::{Hmac, Mac};
use http::HeaderValue;
use http_body_util::BodyExt;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use sha2::Sha256;

/// `hex(HMAC-SHA256(key, "<method>\n<path>\n<timestamp>"))`.
fn signature(key: &str, method: &str, path: &str, timestamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(format!("{method}\n{path}\n{timestamp}").as_bytes());
    let bytes = mac.finalize().into_bytes();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The custom step, run on routed requests: signs them with the connector's `key`.
fn sign(mut req: Request) -> Result<Request, Refusal> {
    let Some(Authorized(entry)) = req.extensions().get::<Authorized>().cloned() else {
        return Err(Refusal::Forbidden("The request is not authorized.".into()));
    };
    let Some(key) = entry.secret().and_then(|secret| secret.get("key")) else {
        let problem = format!("Connector {} has no signing key.", entry.key());
        return Err(Refusal::Misconfigured(problem));
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH);
    let now = now.map_or(0, |d| d.as_secs()).to_string();
    let path = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let signed = signature(key.expose(), req.method().as_str(), path, &now);
    let mut signed = HeaderValue::try_from(signed).expect("hex is a valid header");
    signed.set_sensitive(true);
    req.headers_mut().insert("x-signature", signed);
    req.headers_mut()
        .insert("x-timestamp", now.parse().expect("digits"));
    Ok(req)
}

/// Accepts one client token, for every connector in `demo`.
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
async fn tool(req: Request) -> Result<Response, Infallible> {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let path = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let timestamp = header("x-timestamp").unwrap_or_default();
    let expected = signature("shared-signing-key", req.method().as_str(), path, timestamp);
    Ok(match header("x-signature") {
        Some(sent) if sent == expected && header("authorization").is_none() => {
            Response::new(Body::full("signature ok"))
        }
        _ => Refusal::Forbidden("Bad signature.".into()).into_response(),
    })
}

/// Serves `service` on a free local port in the background.
async fn start<S>(service: S) -> std::io::Result<SocketAddr>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let settings = ServerSettings::default();
    tokio::spawn(serve(listener, service, settings, std::future::pending()));
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let tool = start(tower::service_fn(tool)).await?;

    let catalog = Arc::new(MemoryCatalog::new());
    let key = SecretData::new("signing-key", "Opaque", [("key", "shared-signing-key")]);
    catalog.insert(ConnectorEntry::new(
        "demo",
        "signed",
        Address::parse(&format!("http://{tool}/api"))?,
        ClassEntry::proxied("hmac"),
        Credentials::secret("hmacKey", key),
    ));
    let metrics = Arc::new(Metrics::new());
    let upstream = Upstream::new(
        tls_config(None)?,
        UpstreamSettings::default(),
        metrics.clone(),
    );
    // The standard reverse stack without its credential step; `sign` runs on routed requests.
    let config = StackConfig::new(catalog, Arc::new(OneToken), upstream, metrics);
    let builder = ProxyBuilder::new(config)
        .without_injection()
        .around_upstream(StepLayer::new(sign));
    let proxy = start(builder.reverse()).await?;

    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let request = http::Request::get(format!(
        "http://{proxy}/namespaces/demo/connectors/signed/items?page=2"
    ))
    .header("authorization", "Bearer app-token")
    .body(Body::empty())?;
    let response = client.request(request).await?;
    println!("status: {}", response.status());
    let body = response.into_body().collect().await?.to_bytes();
    println!("the tool said: {}", String::from_utf8_lossy(&body));
    Ok(())
}
