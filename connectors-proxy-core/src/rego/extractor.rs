//! Running a class's `authExtractor`: the incoming request in, the client token out.

use std::collections::BTreeMap;

use http::HeaderName;
use http::request::Parts;
use regorus::Value;

use super::input::request_fields;
use super::query::decoded_pairs;
use super::{Policy, PolicyError, PolicyKind};

/// The extractor's `input` document, built once per request from its head and JSON body.
#[derive(Clone)]
pub struct ExtractorInput {
    pub(super) value: Value,
}

impl ExtractorInput {
    /// `{"request": {headers, query, method, path, host, body}}` for an incoming request.
    ///
    /// `body` is the request body already parsed as JSON (the caller decides whether to buffer
    /// it); without one, `input.request.body` is an empty object.
    pub fn new(parts: &Parts, body: Option<serde_json::Value>) -> Self {
        let mut request = request_fields(parts);
        let body = body.map_or_else(Value::new_object, Value::from);
        request.insert(Value::from("body"), body);
        let mut input = BTreeMap::new();
        input.insert(Value::from("request"), Value::from(request));
        Self {
            value: Value::from(input),
        }
    }

    /// The document as JSON, for tests and debugging tools (it holds the client's credentials).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.value).unwrap_or_default()
    }
}

impl Policy {
    /// Runs an extractor: `Ok(Some(token))` when `auth.token` is a non-empty string.
    ///
    /// An undefined `auth`, a missing or empty token, or a token that is not a string is
    /// `Ok(None)`, so the caller falls back to Basic/Bearer; errors and timeouts are `Err`.
    pub fn extract(&self, input: &ExtractorInput) -> Result<Option<String>, PolicyError> {
        self.expect_kind(PolicyKind::Extractor)?;
        let auth = self.evaluate(input.value.clone())?;
        let token = match &auth {
            Value::Object(fields) => fields.get(&Value::from("token")),
            _ => None,
        };
        Ok(match token {
            Some(Value::String(token)) if !token.is_empty() => Some(token.to_string()),
            _ => None,
        })
    }
}

/// Where in the incoming request an extracted token was found, so it can be removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// A header whose value is the token or `Bearer <token>`.
    Header(HeaderName),
    /// A query parameter (decoded name) whose decoded value is the token.
    Query(String),
    /// Neither: the token came from the body or was computed by the policy.
    Elsewhere,
}

/// Finds the header, or else the query parameter, that carries exactly `token`.
pub fn token_source(parts: &Parts, token: &str) -> TokenSource {
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else { continue };
        let value = value.trim();
        let bearer = value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, rest)| rest.trim());
        if value == token || bearer == Some(token) {
            return TokenSource::Header(name.clone());
        }
    }
    decoded_pairs(parts.uri.query().unwrap_or_default())
        .find(|(_, value)| value == token)
        .map_or(TokenSource::Elsewhere, |(name, _)| TokenSource::Query(name))
}
