//! Removing what must not reach the other side: client credentials and hop-by-hop headers.
//!
//! Runs before injection, so a client cannot name the injected header in `Connection` to have
//! it stripped. An upgrade request (`Connection: upgrade` with `Upgrade`) keeps exactly those
//! two headers so WebSocket and SPDY handshakes reach the tool.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::body::Request;
use crate::error::Refusal;
use crate::layers::Destination;
use crate::layers::extract::TokenSource;
use crate::layers::step::{Step, StepService};
use crate::rego;

/// Hop-by-hop headers removed in both directions (RFC 9110 §7.6.1 and common practice).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
];

/// Whether a message asks to switch protocols: `Connection` lists `upgrade` and `Upgrade` is set.
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Removes hop-by-hop headers and every header named in `Connection`. With `keep_upgrade`
/// and an upgrade message, `Connection: upgrade` and `Upgrade` survive.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let upgrade = keep_upgrade && is_upgrade(headers);
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok())
        .collect();
    for name in named {
        if !(upgrade && name == header::UPGRADE) {
            headers.remove(&name);
        }
    }
    let upgrade_value = upgrade
        .then(|| headers.get(header::UPGRADE).cloned())
        .flatten();
    let te_trailers = headers
        .get(header::TE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"));
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if let Some(value) = upgrade_value {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, value);
    }
}

/// Layer that strips client credentials and hop-by-hop headers from requests (see
/// [`sanitize_request`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SanitizeLayer;

impl<S> tower::Layer<S> for SanitizeLayer {
    type Service = Sanitize<S>;

    fn layer(&self, inner: S) -> Sanitize<S> {
        StepService::new(*self, inner)
    }
}

/// Service that strips client credentials and hop-by-hop headers; see [`SanitizeLayer`].
pub type Sanitize<S> = StepService<SanitizeLayer, S>;

impl Step for SanitizeLayer {
    fn apply(&self, mut req: Request) -> Result<Request, Refusal> {
        sanitize_request(&mut req);
        Ok(req)
    }
}

/// Strips hop-by-hop headers, `Proxy-Authorization`, `Expect` (answered by this hop) and the
/// header or query parameter the client token came from.
pub fn sanitize_request(req: &mut Request) {
    let headers = req.headers_mut();
    strip_hop_by_hop(headers, true);
    headers.remove(header::PROXY_AUTHORIZATION);
    headers.remove(header::EXPECT);
    match req.extensions().get::<TokenSource>().cloned() {
        Some(TokenSource::Header(name)) => {
            req.headers_mut().remove(name);
        }
        Some(TokenSource::Query(name)) => strip_query_param(req, &name),
        Some(TokenSource::Body) | None => {}
    }
}

/// Removes every `name=…` pair from the request's query, and from the query of its
/// [`Destination`] when it already has one, keeping all other bytes as they were.
fn strip_query_param(req: &mut Request, name: &str) {
    if let Some(destination) = req.extensions_mut().get_mut::<Destination>()
        && let Some((path, query)) = destination.path_and_query.split_once('?')
    {
        let kept = rego::strip_query_param(query, name);
        destination.path_and_query = join_query(path, &kept);
    }
    let Some(query) = req.uri().query() else {
        return;
    };
    let path_and_query = join_query(req.uri().path(), &rego::strip_query_param(query, name));
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
}

/// `path?query`, or `path` alone when nothing is left of the query.
fn join_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = http::Request::builder().uri("/x?token=T&a=%2B&b=");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn strips_hop_by_hop_and_named_headers() {
        let mut req = request(&[
            ("connection", "keep-alive, X-Hop-Secret"),
            ("x-hop-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "gzip"),
            ("proxy-authorization", "Basic abc"),
            ("x-end-to-end", "kept"),
            ("git-protocol", "version=2"),
        ]);
        sanitize_request(&mut req);
        let mut names: Vec<_> = req.headers().keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["git-protocol", "x-end-to-end"]);
    }

    #[test]
    fn keeps_upgrade_and_te_trailers() {
        let mut req = request(&[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("te", "trailers"),
        ]);
        sanitize_request(&mut req);
        assert_eq!(req.headers()["connection"], "upgrade");
        assert_eq!(req.headers()["upgrade"], "websocket");
        assert_eq!(req.headers()["te"], "trailers");
    }

    #[test]
    fn strips_the_token_source() {
        let mut req = request(&[("authorization", "Bearer T"), ("private-token", "T")]);
        req.extensions_mut()
            .insert(TokenSource::Header(header::AUTHORIZATION));
        sanitize_request(&mut req);
        assert!(!req.headers().contains_key("authorization"));
        assert!(req.headers().contains_key("private-token"));

        let mut req = request(&[]);
        req.extensions_mut()
            .insert(TokenSource::Query("token".into()));
        sanitize_request(&mut req);
        assert_eq!(req.uri().to_string(), "/x?a=%2B&b=");

        let mut req = request(&[]);
        req.extensions_mut()
            .insert(TokenSource::Query("token".into()));
        req.extensions_mut().insert(Destination {
            origin: crate::address::Address::parse("http://tool")
                .unwrap()
                .origin()
                .clone(),
            path_and_query: "/base/x?token=T&a=%2B&b=".into(),
        });
        sanitize_request(&mut req);
        let destination = req.extensions().get::<Destination>().unwrap();
        assert_eq!(destination.path_and_query, "/base/x?a=%2B&b=");
    }
}
