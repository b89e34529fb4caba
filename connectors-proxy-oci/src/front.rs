//! What registry clients see of the proxy itself: the `/v2/` version check, the proxy's
//! challenge, and refusals in both the proxy's and the distribution API's error shape.

use std::task::{Context, Poll};

use bytes::Bytes;
use connectors_proxy_core::body::{Body, Request, Response};
use connectors_proxy_core::credentials::reverse_token;
use connectors_proxy_core::error::Refusal;
use connectors_proxy_core::layers::authorize::AuthorizeLayer;
use connectors_proxy_core::layers::{ProxyService, ResponseFuture, take_ready};
use connectors_proxy_core::secret::ClientToken;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Limited};

use crate::path::is_version_check;
use crate::registry::FromRegistry;

/// The challenge clients get: log in to the proxy with Basic (any username, the
/// ServiceAccount token as password), as `docker login` and `config.json` do.
pub const CHALLENGE: &str = r#"Basic realm="connectors-oci-proxy""#;

/// The largest refusal body rewritten into the registry error shape.
const MAX_REFUSAL_BODY: usize = 64 * 1024;

/// Layer that answers `/v2/` itself and gives refusals the registry error shape.
#[derive(Clone)]
pub struct FrontLayer {
    authorize: AuthorizeLayer,
}

impl FrontLayer {
    /// Authenticates version checks with `authorize` (no connector is involved).
    pub fn new(authorize: AuthorizeLayer) -> Self {
        Self { authorize }
    }
}

impl<S> tower::Layer<S> for FrontLayer {
    type Service = Front<S>;

    fn layer(&self, inner: S) -> Front<S> {
        Front {
            inner,
            layer: self.clone(),
        }
    }
}

/// Service that answers `/v2/` and reshapes refusals; see [`FrontLayer`].
#[derive(Clone)]
pub struct Front<S> {
    inner: S,
    layer: FrontLayer,
}

impl<S: ProxyService> tower::Service<Request> for Front<S> {
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        if is_version_check(req.uri().path()) {
            let authorize = self.layer.authorize.clone();
            let token = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(reverse_token);
            return Box::pin(async move {
                let response = match version_check(&authorize, token).await {
                    Ok(response) => response,
                    Err(refusal) => refusal.into_response(),
                };
                Ok(registry_shape(response).await)
            });
        }
        let future = take_ready(&mut self.inner).call(req);
        Box::pin(async move { Ok(registry_shape(future.await?).await) })
    }
}

/// `GET /v2/`: `200` for a valid ServiceAccount token, else `401` with the proxy's challenge.
async fn version_check(
    authorize: &AuthorizeLayer,
    token: Option<String>,
) -> Result<Response, Refusal> {
    let token = token.ok_or_else(|| {
        Refusal::Unauthenticated(
            "Log in with a ServiceAccount token as the password (any username).".into(),
        )
    })?;
    authorize
        .authenticate(&ClientToken::new(token), false)
        .await?;
    let mut response = Response::new(Body::full("{}"));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    Ok(response)
}

/// The distribution API error code for a refusal status.
fn registry_code(status: StatusCode) -> Option<&'static str> {
    Some(match status {
        StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
        StatusCode::FORBIDDEN => "DENIED",
        StatusCode::NOT_FOUND => "NAME_UNKNOWN",
        _ => return None,
    })
}

/// Gives the proxy's own 401/403/404 refusals the registry error shape as well: the body
/// keeps `error` and `message` and gains `errors: [{code, message}]`; a 401 carries
/// [`CHALLENGE`]. Registry responses pass untouched.
pub async fn registry_shape(response: Response) -> Response {
    let Some(code) = registry_code(response.status()) else {
        return response;
    };
    if response.extensions().get::<FromRegistry>().is_some() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = Limited::new(body, MAX_REFUSAL_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let mut value: serde_json::Value =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| serde_json::json!({}));
    let message = value["message"].as_str().unwrap_or_default().to_owned();
    value["errors"] = serde_json::json!([{ "code": code, "message": message }]);
    if parts.status == StatusCode::UNAUTHORIZED {
        parts.headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(CHALLENGE),
        );
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = Bytes::from(value.to_string());
    Response::from_parts(parts, Body::full(body))
}
