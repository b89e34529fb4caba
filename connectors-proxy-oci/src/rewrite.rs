//! Rewriting registry `Location` and `Link` URLs back under the proxy.
//!
//! Registry URLs `…/v2/<repo>/…` become `…/v2/namespaces/<ns>/connectors/<name>/<repo>/…` in
//! path form (unchanged paths in host form), on the origin the client used. Relative
//! references are resolved against the upstream request first. Query bytes (`_state`,
//! `digest`) are copied verbatim; URLs on other hosts (blob storage) pass unchanged.

use std::task::{Context, Poll};

use connectors_proxy_core::body::{Request, Response};
use connectors_proxy_core::layers::resolve::{ReverseTarget, request_authority};
use connectors_proxy_core::layers::rewrite::RewriteRule;
use connectors_proxy_core::layers::{Authorized, ProxyService, ResponseFuture, take_ready};
use http::header::{HeaderValue, LINK, LOCATION};

/// How registry URLs map to proxy URLs for one request.
#[derive(Debug, Clone)]
pub struct RegistryRewrite {
    /// Core's rule for the registry address and the client's origin, without a prefix.
    pub rule: RewriteRule,
    /// What goes after `/v2` on the proxy (`/namespaces/<ns>/connectors/<name>`, or `""`).
    pub connector_prefix: String,
    /// The upstream request path, against which relative references resolve.
    pub base_path: String,
}

impl RegistryRewrite {
    /// The proxy URL for `url`, or `None` when `url` does not point at the registry.
    pub fn rewrite(&self, url: &str) -> Option<String> {
        let resolved;
        let url = if is_relative_path(url) {
            resolved = resolve(&self.base_path, url);
            resolved.as_str()
        } else {
            url
        };
        let mapped = self.rule.rewrite(url)?;
        let path_start = if mapped.starts_with('/') {
            0
        } else {
            let after_scheme = mapped.find("://").map_or(0, |i| i + 3);
            after_scheme
                + mapped[after_scheme..]
                    .find('/')
                    .unwrap_or(mapped.len() - after_scheme)
        };
        let path = &mapped[path_start..];
        if path == "/v2" || path.starts_with("/v2/") || path.starts_with("/v2?") {
            let at = path_start + 3;
            return Some(format!(
                "{}{}{}",
                &mapped[..at],
                self.connector_prefix,
                &mapped[at..]
            ));
        }
        Some(mapped)
    }

    /// Rewrites each `<…>` target of a `Link` value; `None` when nothing changed.
    pub fn rewrite_link(&self, value: &str) -> Option<String> {
        let mut out = String::with_capacity(value.len() + 64);
        let mut changed = false;
        let mut rest = value;
        while let Some(open) = rest.find('<') {
            let Some(len) = rest[open..].find('>') else {
                break;
            };
            let target = &rest[open + 1..open + len];
            out.push_str(&rest[..=open]);
            match self.rewrite(target) {
                Some(new) => {
                    changed = true;
                    out.push_str(&new);
                }
                None => out.push_str(target),
            }
            rest = &rest[open + len..];
        }
        out.push_str(rest);
        changed.then_some(out)
    }

    /// Rewrites `Location` and every `Link` of `response` in place.
    pub fn apply(&self, response: &mut Response) {
        let headers = response.headers_mut();
        let location = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| self.rewrite(v))
            .and_then(|v| HeaderValue::try_from(v).ok());
        if let Some(location) = location {
            headers.insert(LOCATION, location);
        }
        let links: Vec<HeaderValue> = headers
            .get_all(LINK)
            .iter()
            .map(|v| {
                v.to_str()
                    .ok()
                    .and_then(|s| self.rewrite_link(s))
                    .and_then(|s| HeaderValue::try_from(s).ok())
                    .unwrap_or_else(|| v.clone())
            })
            .collect();
        if !links.is_empty() {
            headers.remove(LINK);
            for link in links {
                headers.append(LINK, link);
            }
        }
    }
}

/// A reference with no scheme and no leading `/`, such as `uploads/x?_state=1`.
fn is_relative_path(url: &str) -> bool {
    // A colon in the first segment would make it a scheme (RFC 3986 §4.2).
    let first_segment = url.split(['/', '?', '#']).next().unwrap_or_default();
    !url.is_empty() && !url.starts_with('/') && !first_segment.contains(':')
}

/// Resolves a relative path reference against `base` (RFC 3986 §5.2, dot segments removed
/// from the path only; the query is kept as sent).
fn resolve(base: &str, reference: &str) -> String {
    let split = reference.find(['?', '#']).unwrap_or(reference.len());
    let (path, query) = reference.split_at(split);
    let directory = &base[..base.rfind('/').map_or(0, |i| i + 1)];
    let mut segments: Vec<&str> = Vec::new();
    let joined = format!("{directory}{path}");
    let mut parts = joined.split('/').skip(1).peekable();
    while let Some(segment) = parts.next() {
        let last = parts.peek().is_none();
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
        if last && (segment == "." || segment == "..") {
            segments.push("");
        }
    }
    format!("/{}{query}", segments.join("/"))
}

/// Layer that rewrites registry URLs in responses.
#[derive(Debug, Clone, Default)]
pub struct RegistryRewriteLayer;

impl<S> tower::Layer<S> for RegistryRewriteLayer {
    type Service = RegistryRewriteService<S>;

    fn layer(&self, inner: S) -> RegistryRewriteService<S> {
        RegistryRewriteService { inner }
    }
}

/// Service that rewrites registry URLs in responses; see [`RegistryRewriteLayer`].
#[derive(Debug, Clone)]
pub struct RegistryRewriteService<S> {
    inner: S,
}

impl<S: ProxyService> tower::Service<Request> for RegistryRewriteService<S> {
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        let rewrite = rewrite_for(&req);
        let future = take_ready(&mut self.inner).call(req);
        Box::pin(async move {
            let mut response = future.await?;
            if let Some(rewrite) = rewrite {
                rewrite.apply(&mut response);
            }
            Ok(response)
        })
    }
}

fn rewrite_for(req: &Request) -> Option<RegistryRewrite> {
    let target = req.extensions().get::<ReverseTarget>()?;
    let Authorized(entry) = req.extensions().get::<Authorized>()?;
    let authority = request_authority(req)?;
    Some(RegistryRewrite {
        rule: RewriteRule {
            tool: entry.address.clone(),
            proxy_origin: format!("http://{authority}"),
            proxy_prefix: String::new(),
        },
        connector_prefix: target.proxy_prefix.clone(),
        base_path: entry.address.join(&target.rest, None),
    })
}

#[cfg(test)]
mod tests;
