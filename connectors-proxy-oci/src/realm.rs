//! Asking a registry's token endpoint (its `realm`) for a scoped Bearer token.

use std::time::Duration;

use connectors_proxy_core::address::{Origin, Scheme};
use connectors_proxy_core::body::{Body, Request};
use connectors_proxy_core::credentials::encode_basic;
use connectors_proxy_core::secret::SecretString;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

/// The largest token response read, in bytes.
const MAX_TOKEN_RESPONSE: usize = 1024 * 1024;

/// Bytes escaped in query values: everything but unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A connector's registry login: username and password from its Secret.
#[derive(Debug, Clone)]
pub struct Login {
    /// The registry username.
    pub username: String,
    /// The registry password or token.
    pub password: SecretString,
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum RealmError {
    /// The realm is not an absolute http or https URL.
    #[error("the registry's token realm {0:?} is not an http or https URL")]
    BadRealm(String),
    /// The token endpoint answered with an error status.
    #[error("the token endpoint {host} answered {status}")]
    Status {
        /// The realm's host.
        host: String,
        /// What it answered.
        status: StatusCode,
    },
    /// The answer was not a token response.
    #[error("the token endpoint {host} sent no usable token: {reason}")]
    Malformed {
        /// The realm's host.
        host: String,
        /// What was wrong.
        reason: String,
    },
}

/// A token endpoint's answer.
pub struct TokenResponse {
    /// The token.
    pub token: SecretString,
    /// Seconds the token lives.
    pub expires_in: Option<u64>,
    /// When the token was issued (RFC 3339).
    pub issued_at: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The JSON shape: `token`, or the OAuth2 `access_token`.
#[derive(Deserialize)]
struct RawTokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    issued_at: Option<String>,
}

/// The realm's scheme and origin, or why it cannot be used.
pub fn realm_origin(realm: &str) -> Result<Origin, RealmError> {
    let bad = || RealmError::BadRealm(realm.to_owned());
    let uri: http::Uri = realm.parse().map_err(|_| bad())?;
    let scheme = uri.scheme_str().and_then(Scheme::parse).ok_or_else(bad)?;
    let authority = uri.authority().ok_or_else(bad)?;
    if authority.as_str().contains('@') {
        return Err(bad());
    }
    Ok(Origin::new(scheme, authority.host(), authority.port_u16()))
}

/// Whether the connector's login may be sent to `realm`: always over https, and over plain
/// http only to the registry's own host (a registry that is itself on plain http).
pub fn may_send_login(registry: &Origin, realm: &Origin) -> bool {
    realm.scheme == Scheme::Https || realm.host == registry.host
}

/// The token request: `GET <realm>?service=<s>&scope=<a>&scope=<b>`, with the login as Basic.
pub fn token_request(
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    login: Option<&Login>,
) -> Request {
    let mut params = Vec::new();
    if let Some(service) = service {
        params.push(format!(
            "service={}",
            utf8_percent_encode(service, QUERY_VALUE)
        ));
    }
    for scope in scopes {
        params.push(format!("scope={}", utf8_percent_encode(scope, QUERY_VALUE)));
    }
    let mut uri = realm.to_owned();
    if !params.is_empty() {
        uri.push(if realm.contains('?') { '&' } else { '?' });
        uri.push_str(&params.join("&"));
    }
    let mut req = http::Request::new(Body::empty());
    *req.method_mut() = Method::GET;
    if let Ok(uri) = uri.parse() {
        *req.uri_mut() = uri;
    }
    if let Some(login) = login
        && let Ok(mut value) =
            HeaderValue::try_from(encode_basic(&login.username, login.password.expose()))
    {
        value.set_sensitive(true);
        req.headers_mut().insert(header::AUTHORIZATION, value);
    }
    req
}

/// Reads a token response, failing on error statuses and bodies over 1 MiB.
pub async fn read_token(
    host: &str,
    response: connectors_proxy_core::body::Response,
) -> Result<TokenResponse, RealmError> {
    if !response.status().is_success() {
        return Err(RealmError::Status {
            host: host.to_owned(),
            status: response.status(),
        });
    }
    let malformed = |reason: String| RealmError::Malformed {
        host: host.to_owned(),
        reason,
    };
    let body = Limited::new(response.into_body(), MAX_TOKEN_RESPONSE);
    let bytes = tokio::time::timeout(Duration::from_secs(30), body.collect())
        .await
        .map_err(|_| malformed("timed out".into()))?
        .map_err(|e| malformed(e.to_string()))?
        .to_bytes();
    let raw: RawTokenResponse =
        serde_json::from_slice(&bytes).map_err(|e| malformed(json_error_kind(&e).into()))?;
    let token = raw
        .token
        .or(raw.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| malformed("no token field".into()))?;
    Ok(TokenResponse {
        token: SecretString::new(token),
        expires_in: raw.expires_in,
        issued_at: raw.issued_at,
    })
}

/// The kind of a JSON error, never its text (which could quote the token).
fn json_error_kind(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Io => "unreadable body",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "unexpected JSON shape",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}
