//! Policy outcomes as HTTP responses: every refusal the proxy sends is built here.
//!
//! Bodies are small JSON objects, `{"error": "<word>", "message": "<sentence>"}`. Messages name
//! connectors, classes and hosts, never a token or a credential: callers build them from
//! identifiers only.

use http::{HeaderValue, StatusCode, header};

use crate::body::{Body, Response};

/// The challenge sent with `401` in reverse mode.
pub(crate) const WWW_AUTHENTICATE_CHALLENGE: &str = r#"Basic realm="connectors-proxy""#;
/// The challenge sent with `407` in forward mode.
pub(crate) const PROXY_AUTHENTICATE_CHALLENGE: &str = r#"Basic realm="connectors-proxy""#;

/// Why the proxy refused or failed a request; each kind maps to one status code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No usable client token in reverse mode (`401` with a `WWW-Authenticate` challenge).
    Unauthenticated(String),
    /// No usable proxy credentials in forward mode (`407` with a `Proxy-Authenticate` challenge).
    ProxyUnauthenticated(String),
    /// The token is valid but may not use the connector (`403`).
    Forbidden(String),
    /// The request names no connector, or one that does not exist (`404`).
    NotFound(String),
    /// The request is malformed (`400`).
    BadRequest(String),
    /// The request body is larger than allowed (`413`).
    PayloadTooLarge(String),
    /// The request headers are larger than allowed (`431`).
    HeadersTooLarge(String),
    /// The connector or its class cannot be used as configured (`500`).
    Misconfigured(String),
    /// The tool could not be reached, or answered with something unusable (`502`).
    BadGateway(String),
    /// A dependency the proxy needs to decide (the Kubernetes API) is unavailable (`503`).
    Unavailable(String),
    /// The tool did not answer in time (`504`).
    GatewayTimeout(String),
}

impl Refusal {
    /// The status code of this refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::ProxyUnauthenticated(_) => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Misconfigured(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The machine-readable word in the body's `error` field.
    pub(crate) fn word(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "unauthenticated",
            Self::ProxyUnauthenticated(_) => "proxy_authentication_required",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::BadRequest(_) => "bad_request",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::HeadersTooLarge(_) => "headers_too_large",
            Self::Misconfigured(_) => "misconfigured",
            Self::BadGateway(_) => "bad_gateway",
            Self::Unavailable(_) => "unavailable",
            Self::GatewayTimeout(_) => "gateway_timeout",
        }
    }

    /// The one-sentence message in the body's `message` field.
    pub fn message(&self) -> &str {
        match self {
            Self::Unauthenticated(m)
            | Self::ProxyUnauthenticated(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::BadRequest(m)
            | Self::PayloadTooLarge(m)
            | Self::HeadersTooLarge(m)
            | Self::Misconfigured(m)
            | Self::BadGateway(m)
            | Self::Unavailable(m)
            | Self::GatewayTimeout(m) => m,
        }
    }

    /// Builds the response the client receives.
    pub fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.word(), "message": self.message() });
        let mut response = Response::new(Body::full(body.to_string()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match self {
            Self::Unauthenticated(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(WWW_AUTHENTICATE_CHALLENGE),
                );
            }
            Self::ProxyUnauthenticated(_) => {
                headers.insert(
                    header::PROXY_AUTHENTICATE,
                    HeaderValue::from_static(PROXY_AUTHENTICATE_CHALLENGE),
                );
            }
            _ => {}
        }
        response
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message(), self.status().as_u16())
    }
}

impl From<Refusal> for Response {
    fn from(refusal: Refusal) -> Self {
        refusal.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn refusal_bodies_are_small_json_with_challenges() {
        let response = Refusal::Unauthenticated("A token is required.".into()).into_response();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            WWW_AUTHENTICATE_CHALLENGE
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["error"], "unauthenticated");
        assert_eq!(value["message"], "A token is required.");

        let response = Refusal::ProxyUnauthenticated("x".into()).into_response();
        assert_eq!(response.status(), 407);
        assert!(response.headers().contains_key(header::PROXY_AUTHENTICATE));
    }
}
