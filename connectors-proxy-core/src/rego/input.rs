//! The `input.request` document policies see: canonical header keys, decoded query, JSON body.
//!
//! Every documented field is always present (an empty object or string when the request has
//! nothing), so a policy never meets an absent field where it expected an empty one.

use std::collections::BTreeMap;

use http::HeaderMap;
use http::request::Parts;
use regorus::Value;

use super::query;

/// `Go`'s canonical MIME form of a header name: `private-token` becomes `Private-Token`.
///
/// The first letter and every letter after a `-` are upper case, all others lower case.
pub(super) fn canonical_header_key(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let mapped = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            mapped
        })
        .collect()
}

/// Headers as `{Canonical-Key: [values in order]}`; a value that is not UTF-8 is converted lossily.
pub(super) fn headers_value(headers: &HeaderMap) -> Value {
    let mut map: BTreeMap<Value, Vec<Value>> = BTreeMap::new();
    for (name, value) in headers {
        let text = String::from_utf8_lossy(value.as_bytes());
        map.entry(Value::from(canonical_header_key(name.as_str())))
            .or_default()
            .push(Value::from(text.as_ref()));
    }
    Value::from(
        map.into_iter()
            .map(|(key, values)| (key, Value::from(values)))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// The query as `{name: [values in order]}`, names and values form-decoded.
pub(super) fn query_value(raw_query: Option<&str>) -> Value {
    let mut map: BTreeMap<Value, Vec<Value>> = BTreeMap::new();
    for (name, value) in query::decoded_pairs(raw_query.unwrap_or_default()) {
        map.entry(Value::from(name))
            .or_default()
            .push(Value::from(value));
    }
    Value::from(
        map.into_iter()
            .map(|(key, values)| (key, Value::from(values)))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// The host a request is addressed to: the URI authority, else the `Host` header, else `""`.
pub(super) fn host_of(parts: &Parts) -> String {
    if let Some(authority) = parts.uri.authority() {
        return authority.as_str().to_owned();
    }
    parts
        .headers
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// `method`, `path`, `host`, `headers` and `query` of a request, the fields both kinds share.
pub(super) fn request_fields(parts: &Parts) -> BTreeMap<Value, Value> {
    let mut fields = BTreeMap::new();
    fields.insert(Value::from("method"), Value::from(parts.method.as_str()));
    fields.insert(Value::from("path"), Value::from(parts.uri.path()));
    fields.insert(Value::from("host"), Value::from(host_of(parts)));
    fields.insert(Value::from("headers"), headers_value(&parts.headers));
    fields.insert(Value::from("query"), query_value(parts.uri.query()));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_keys_match_go() {
        assert_eq!(canonical_header_key("private-token"), "Private-Token");
        assert_eq!(canonical_header_key("PRIVATE-TOKEN"), "Private-Token");
        assert_eq!(canonical_header_key("x-api-key"), "X-Api-Key");
        assert_eq!(canonical_header_key("www-authenticate"), "Www-Authenticate");
        assert_eq!(canonical_header_key("content-md5"), "Content-Md5");
        assert_eq!(canonical_header_key("a--b"), "A--B");
    }

    #[test]
    fn repeated_headers_keep_their_order_under_one_key() {
        let mut headers = HeaderMap::new();
        headers.append("x-team", "blue".parse().unwrap());
        headers.append("X-TEAM", "red".parse().unwrap());
        let value = headers_value(&headers);
        assert_eq!(
            value["X-Team"],
            Value::from(vec![Value::from("blue"), Value::from("red")])
        );
    }
}
