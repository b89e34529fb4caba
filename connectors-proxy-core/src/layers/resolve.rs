//! Which connector a reverse request is for: path form or host form.
//!
//! Path form: `/namespaces/<ns>/connectors/<name>[/rest]`. Host form:
//! `c-<name>.<ns>[.svc[.<cluster-domain>]]` (with any port). The host form wins when the `Host`
//! matches it. The connector is looked up here but refusing an unknown one waits until the
//! client is authenticated, so unauthenticated clients learn nothing about what exists.

use std::sync::Arc;

use crate::address::has_dot_segment;
use crate::body::Request;
use crate::catalog::{Catalog, CatalogError, ConnectorEntry, ConnectorRef};
use crate::error::Refusal;
use crate::layers::step::{AsyncStep, AsyncStepService};

/// A reverse request's connector, as addressed and as found in the catalog.
#[derive(Debug, Clone)]
pub struct ReverseTarget {
    /// The connector the request names.
    pub connector: ConnectorRef,
    /// The raw path below the connector (`""` or starting with `/`).
    pub rest: String,
    /// The path prefix clients use for this connector (`""` in host form).
    pub proxy_prefix: String,
    /// The catalog's answer, refused (if need be) only after authentication.
    pub lookup: Result<Option<Arc<ConnectorEntry>>, CatalogError>,
}

/// Splits a path-form request path into the connector and the raw rest.
///
/// `/namespaces/ns/connectors/c/x%2Fy` gives `ns/c` and `/x%2Fy`; `/namespaces/ns/connectors/c`
/// gives an empty rest. Names must be valid Kubernetes names, so nothing needs decoding.
pub fn parse_path_form(path: &str) -> Option<(ConnectorRef, &str)> {
    let after = path.strip_prefix("/namespaces/")?;
    let (namespace, after) = after.split_once('/')?;
    let after = after.strip_prefix("connectors/")?;
    let (name, rest) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, ""),
    };
    ConnectorRef::new(namespace, name).ok().map(|c| (c, rest))
}

/// A connector named by a request path: the path to send below its address, and the path
/// prefix clients use for it (what response rewriting puts back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMatch {
    /// The connector the path names.
    pub connector: ConnectorRef,
    /// The raw path to send below the connector's address (`""` or starting with `/`).
    pub rest: String,
    /// The path prefix clients use for this connector.
    pub proxy_prefix: String,
}

/// Reads the connector a path-form request names; [`ResolveLayer::with_path_parser`] swaps
/// in another path scheme (such as a registry's `/v2/namespaces/…`).
pub type PathParser = fn(&str) -> Option<PathMatch>;

/// The standard [`PathParser`]: [`parse_path_form`], with the prefix the client used.
pub fn standard_path_parser(path: &str) -> Option<PathMatch> {
    let (connector, rest) = parse_path_form(path)?;
    Some(PathMatch {
        connector,
        proxy_prefix: path[..path.len() - rest.len()].to_owned(),
        rest: rest.to_owned(),
    })
}

/// Reads a host-form `Host` (`c-<name>.<ns>[.svc[.<cluster-domain>]]`, any port).
pub fn parse_host_form(host: &str, cluster_domain: &str) -> Option<ConnectorRef> {
    let host = strip_port(host)?.trim_end_matches('.');
    let host = host.to_ascii_lowercase();
    let domain_suffix = format!(
        ".svc.{}",
        cluster_domain.trim_matches('.').to_ascii_lowercase()
    );
    let short = host
        .strip_suffix(domain_suffix.as_str())
        .or_else(|| host.strip_suffix(".svc"))
        .unwrap_or(&host);
    let (first, namespace) = short.split_once('.')?;
    let name = first.strip_prefix("c-")?;
    ConnectorRef::new(namespace, name)
        .ok()
        .filter(|_| !name.contains('.'))
}

/// Removes a `:port` suffix; `None` for bracketed IPv6 literals, which are never host form.
fn strip_port(host: &str) -> Option<&str> {
    if host.starts_with('[') {
        return None;
    }
    Some(match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    })
}

/// The authority a request was addressed to: `Host` in HTTP/1, `:authority` in HTTP/2.
pub fn request_authority(req: &Request) -> Option<&str> {
    req.headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

/// Layer that finds the connector of reverse requests.
#[derive(Clone)]
pub struct ResolveLayer {
    catalog: Arc<dyn Catalog>,
    cluster_domain: Arc<str>,
    path_parser: PathParser,
}

impl ResolveLayer {
    /// Resolves against `catalog`, accepting host form under `cluster_domain`.
    pub fn new(catalog: Arc<dyn Catalog>, cluster_domain: &str) -> Self {
        Self {
            catalog,
            cluster_domain: cluster_domain.into(),
            path_parser: standard_path_parser,
        }
    }

    /// Reads path-form requests with `parser` instead of [`standard_path_parser`].
    pub fn with_path_parser(mut self, parser: PathParser) -> Self {
        self.path_parser = parser;
        self
    }
}

impl<S> tower::Layer<S> for ResolveLayer {
    type Service = Resolve<S>;

    fn layer(&self, inner: S) -> Resolve<S> {
        AsyncStepService::new(self.clone(), inner)
    }
}

/// The answer to a path with a `.` or `..` segment (see [`has_dot_segment`]).
pub(crate) fn dot_segment_refusal() -> Refusal {
    Refusal::BadRequest(
        "The path has a \".\" or \"..\" segment (perhaps percent-encoded); send it normalized."
            .into(),
    )
}

/// Service that finds the connector of reverse requests; see [`ResolveLayer`].
pub type Resolve<S> = AsyncStepService<ResolveLayer, S>;

impl AsyncStep for ResolveLayer {
    async fn apply(&self, mut req: Request) -> Result<Request, Refusal> {
        let host_form =
            request_authority(&req).and_then(|host| parse_host_form(host, &self.cluster_domain));
        let path = req.uri().path();
        let (connector, rest, proxy_prefix) = match host_form {
            Some(connector) => (connector, path.to_owned(), String::new()),
            None => match (self.path_parser)(path) {
                Some(found) => (found.connector, found.rest, found.proxy_prefix),
                None => {
                    return Err(Refusal::NotFound(
                        "The request names no connector: use /namespaces/<namespace>/connectors/<name>/ or a c-<name>.<namespace> host.".into(),
                    ));
                }
            },
        };
        if has_dot_segment(&rest) {
            return Err(dot_segment_refusal());
        }
        let lookup = self
            .catalog
            .connector(&connector.namespace, &connector.name)
            .await;
        req.extensions_mut().insert(ReverseTarget {
            connector,
            rest,
            proxy_prefix,
            lookup,
        });
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn path_form() {
        let (c, rest) = parse_path_form("/namespaces/ns/connectors/git/o/r.git/info/refs").unwrap();
        assert_eq!(
            (c.namespace.as_str(), c.name.as_str(), rest),
            ("ns", "git", "/o/r.git/info/refs")
        );
        assert_eq!(
            parse_path_form("/namespaces/ns/connectors/git").unwrap().1,
            ""
        );
        assert_eq!(
            parse_path_form("/namespaces/ns/connectors/git/").unwrap().1,
            "/"
        );
        assert_eq!(
            parse_path_form("/namespaces/ns/connectors/g/a%2Fb//c")
                .unwrap()
                .1,
            "/a%2Fb//c"
        );
        assert!(parse_path_form("/namespaces/ns/connectors/").is_none());
        assert!(parse_path_form("/namespaces/NS/connectors/x").is_none());
        assert!(parse_path_form("/namespaces/ns/connectors/a%2Fb").is_none());
        assert!(parse_path_form("/namespaces/ns/connector/x").is_none());
        assert!(parse_path_form("/api/v1/namespaces/ns/connectors/x").is_none());
    }

    #[test]
    fn host_form() {
        let expect = ConnectorRef::new("default", "github").ok();
        assert_eq!(
            parse_host_form("c-github.default.svc.cluster.local", "cluster.local"),
            expect
        );
        assert_eq!(
            parse_host_form("c-github.default.svc.cluster.local.:80", "cluster.local"),
            expect
        );
        assert_eq!(
            parse_host_form("C-GitHub.Default.svc", "cluster.local"),
            expect
        );
        assert_eq!(parse_host_form("c-github.default", "cluster.local"), expect);
        assert_eq!(
            parse_host_form("c-github.default.svc.corp.example", "corp.example"),
            expect
        );
        assert_eq!(
            parse_host_form("c-github.default.svc.other.domain", "cluster.local"),
            None
        );
        assert_eq!(parse_host_form("github.default.svc", "cluster.local"), None);
        assert_eq!(parse_host_form("127.0.0.1:8080", "cluster.local"), None);
        assert_eq!(parse_host_form("[::1]:8080", "cluster.local"), None);
    }

    fn label() -> impl Strategy<Value = String> {
        "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
    }

    proptest! {
        #[test]
        fn path_form_roundtrips(ns in label(), name in label(), rest in "(/[a-zA-Z0-9%._~-]{0,12}){0,4}") {
            let path = format!("/namespaces/{ns}/connectors/{name}{rest}");
            let (c, r) = parse_path_form(&path).unwrap();
            prop_assert_eq!(c, ConnectorRef::new(&ns, &name).unwrap());
            prop_assert_eq!(r, rest.as_str());
        }

        #[test]
        fn path_form_needs_a_segment_boundary(ns in label(), name in label(), tail in "[a-z%]{1,5}") {
            // `/connectors/<name>x` names connector `<name>x`, never `<name>`.
            let path = format!("/namespaces/{ns}/connectors/{name}{tail}/x");
            if let Some((c, _)) = parse_path_form(&path) {
                prop_assert_ne!(c.name, name);
            }
        }

        #[test]
        fn host_form_roundtrips(ns in label(), name in label(), port in proptest::option::of(1u16..)) {
            let mut host = format!("c-{name}.{ns}.svc.cluster.local");
            if let Some(port) = port { host.push_str(&format!(":{port}")); }
            prop_assert_eq!(parse_host_form(&host, "cluster.local"), ConnectorRef::new(&ns, &name).ok());
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,64}") {
            let _ = parse_path_form(&s);
            let _ = parse_host_form(&s, "cluster.local");
        }
    }
}
