//! What a registry's `401` says, and sending a bodiless request again.

use connectors_proxy_core::body::{Body, Request, Response};
use connectors_proxy_core::catalog::ConnectorEntry;
use connectors_proxy_core::error::Refusal;
use connectors_proxy_core::layers::Mode;
use http::{Method, header};
use http_body::Body as _;

use super::RegistryChallenge;
use crate::{challenge, scope};

/// A bodiless request's head, kept to send it again.
pub(super) struct Replay {
    method: Method,
    uri: http::Uri,
    version: http::Version,
    headers: http::HeaderMap,
    mode: Option<Mode>,
}

impl Replay {
    pub(super) fn of(req: &Request) -> Option<Self> {
        let bodiless = matches!(*req.method(), Method::GET | Method::HEAD | Method::DELETE)
            || req.body().is_end_stream();
        bodiless.then(|| Self {
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            headers: req.headers().clone(),
            mode: req.extensions().get::<Mode>().copied(),
        })
    }

    pub(super) fn request(self) -> Request {
        let mut req = http::Request::new(Body::empty());
        *req.method_mut() = self.method;
        *req.uri_mut() = self.uri;
        *req.version_mut() = self.version;
        *req.headers_mut() = self.headers;
        if let Some(mode) = self.mode {
            req.extensions_mut().insert(mode);
        }
        req
    }
}

/// What a registry's `401` says: the challenge to follow, the scopes it names, and why it
/// refused the token sent.
pub(super) struct Refused {
    pub(super) challenge: Option<RegistryChallenge>,
    pub(super) scopes: Option<Vec<String>>,
    error: Option<String>,
}

impl Refused {
    pub(super) fn read(response: &Response) -> Self {
        let challenges = challenge::parse_all(
            response
                .headers()
                .get_all(header::WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let bearer = challenges.iter().find(|c| c.is("bearer"));
        Self {
            challenge: RegistryChallenge::choose(&challenges),
            scopes: bearer
                .and_then(|c| c.param("scope"))
                .map(scope::split_scope_param),
            error: bearer.and_then(|c| c.param("error")).map(str::to_owned),
        }
    }

    /// The token was refused: expired or revoked (`invalid_token`) or short of the scopes.
    pub(super) fn token_refused(&self) -> bool {
        matches!(
            self.error.as_deref(),
            Some("invalid_token" | "insufficient_scope")
        )
    }

    pub(super) fn insufficient_scope(&self) -> bool {
        self.error.as_deref() == Some("insufficient_scope")
    }
}

/// The refusal for a request the connector's login is not allowed to make.
pub(super) fn not_granted(entry: &ConnectorEntry, method: &Method, scopes: &[String]) -> Refusal {
    let what = match scope::actions_for(method) {
        "pull" => "pull from",
        "delete" => "delete from",
        _ => "push to",
    };
    let repositories: Vec<&str> = scopes
        .iter()
        .filter_map(|s| s.split_once(':')?.1.rsplit_once(':').map(|(name, _)| name))
        .collect();
    Refusal::Forbidden(format!(
        "Connector {} may not {what} {}: the registry granted its login less than {}.",
        entry.key(),
        repositories.join(", "),
        scopes.join(" ")
    ))
}
