//! Running an auth type's `generator`: the Secret and backend request in, credentials out.

use std::collections::BTreeMap;
use std::fmt;

use http::request::Parts;
use http::{HeaderName, HeaderValue, Uri};
use regorus::Value;

use super::input::request_fields;
use super::query::append_query_pairs;
use super::{Policy, PolicyError, PolicyKind};
use crate::secret::SecretString;

/// The generator's `input` document: `{"data": Secret data, "request": the backend request}`.
#[derive(Clone)]
pub struct GeneratorInput {
    pub(super) value: Value,
}

impl GeneratorInput {
    /// Builds the input from the Secret's data and the head of the request sent to the tool.
    pub fn new(parts: &Parts, data: &BTreeMap<String, SecretString>) -> Self {
        let data: BTreeMap<Value, Value> = data
            .iter()
            .map(|(key, value)| (Value::from(key.as_str()), Value::from(value.expose())))
            .collect();
        let mut input = BTreeMap::new();
        input.insert(Value::from("data"), Value::from(data));
        input.insert(Value::from("request"), Value::from(request_fields(parts)));
        Self {
            value: Value::from(input),
        }
    }
}

impl fmt::Debug for GeneratorInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GeneratorInput(REDACTED)")
    }
}

/// Where generated credentials go in the backend request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// Request headers, replacing any of the same name.
    Header,
    /// Query parameters appended to the existing query.
    Query,
    /// Fields merged into the JSON request body.
    Body,
}

/// The credentials a generator produced: where they go and the name/value pairs.
#[derive(Clone, Debug)]
pub struct Generated {
    /// Where the values go.
    pub position: Position,
    /// The body's content type (`contentType`), meaningful for [`Position::Body`] only.
    pub content_type: Option<String>,
    /// The names and values of `auth.auth`, sorted by name.
    pub values: Vec<(String, SecretString)>,
}

impl Policy {
    /// Runs a generator; any `auth` that is not a complete, well-typed credential is an error.
    pub fn generate(&self, input: &GeneratorInput) -> Result<Generated, PolicyError> {
        self.expect_kind(PolicyKind::Generator)?;
        let auth = self.evaluate(input.value.clone())?;
        let auth = match &auth {
            Value::Undefined => return Err(output("`auth` is undefined")),
            Value::Object(fields) => fields,
            _ => return Err(output("`auth` is not an object")),
        };
        let field = |name: &str| auth.get(&Value::from(name));
        let position = match field("position") {
            Some(Value::String(p)) if p.as_ref() == "header" => Position::Header,
            Some(Value::String(p)) if p.as_ref() == "query" => Position::Query,
            Some(Value::String(p)) if p.as_ref() == "body" => Position::Body,
            Some(_) => return Err(output("`auth.position` is not header, query or body")),
            None => return Err(output("`auth.position` is missing")),
        };
        let content_type = match field("contentType") {
            None | Some(Value::Null) => None,
            Some(Value::String(value)) => Some(value.to_string()),
            Some(_) => return Err(output("`auth.contentType` is not a string")),
        };
        let Some(Value::Object(pairs)) = field("auth") else {
            return Err(output("`auth.auth` is not an object"));
        };
        let mut values = Vec::with_capacity(pairs.len());
        for (name, value) in pairs.iter_sorted() {
            let Value::String(name) = name else {
                return Err(output("a key of `auth.auth` is not a string"));
            };
            let Value::String(value) = value else {
                return Err(PolicyError::Output {
                    message: format!("`auth.auth[\"{name}\"]` is not a string"),
                });
            };
            values.push((name.to_string(), SecretString::new(value.as_ref())));
        }
        Ok(Generated {
            position,
            content_type,
            values,
        })
    }
}

fn output(message: &str) -> PolicyError {
    PolicyError::Output {
        message: message.to_owned(),
    }
}

/// Puts header or query credentials into the backend request; body credentials are left to
/// [`merge_json_body`].
///
/// Headers replace any of the same name and are marked sensitive; query pairs are appended
/// encoded after the existing query, whose bytes are kept.
pub fn apply_to_parts(generated: &Generated, parts: &mut Parts) -> Result<(), PolicyError> {
    match generated.position {
        Position::Header => {
            for (name, value) in &generated.values {
                let header =
                    HeaderName::try_from(name.as_str()).map_err(|_| PolicyError::Apply {
                        message: format!("`{name}` is not a valid header name"),
                    })?;
                let mut value =
                    HeaderValue::try_from(value.expose()).map_err(|_| PolicyError::Apply {
                        message: format!("the value for header `{name}` is not a valid header"),
                    })?;
                value.set_sensitive(true);
                parts.headers.insert(header, value);
            }
            Ok(())
        }
        Position::Query => {
            let query = append_query_pairs(
                parts.uri.query().unwrap_or_default(),
                generated
                    .values
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.expose())),
            );
            let invalid = || PolicyError::Apply {
                message: "the generated query does not form a valid URI".to_owned(),
            };
            let path_and_query = format!("{}?{query}", parts.uri.path());
            let mut uri = parts.uri.clone().into_parts();
            uri.path_and_query = Some(path_and_query.parse().map_err(|_| invalid())?);
            parts.uri = Uri::from_parts(uri).map_err(|_| invalid())?;
            Ok(())
        }
        Position::Body => Ok(()),
    }
}

/// Merges body credentials into a JSON object body (an empty body counts as `{}`).
pub fn merge_json_body(generated: &Generated, body: &[u8]) -> Result<Vec<u8>, PolicyError> {
    let mut document = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice(body) {
            Ok(serde_json::Value::Object(fields)) => fields,
            _ => {
                return Err(PolicyError::Apply {
                    message: "the request body is not a JSON object".to_owned(),
                });
            }
        }
    };
    for (name, value) in &generated.values {
        document.insert(name.clone(), value.expose().into());
    }
    serde_json::to_vec(&document).map_err(|_| PolicyError::Apply {
        message: "the merged body could not be written".to_owned(),
    })
}
