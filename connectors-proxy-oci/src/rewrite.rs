//! Rewriting registry `Location` and `Link` URLs back under the proxy.
//!
//! Registry URLs `…/v2/<repo>/…` become `…/v2/namespaces/<ns>/connectors/<name>/<repo>/…` in
//! path form (unchanged paths in host form), on the origin the client used. Relative
//! references are resolved against the upstream request first. Query bytes (`_state`,
//! `digest`) are copied verbatim; URLs on other hosts (blob storage) pass unchanged.

use connectors_proxy_core::body::Request;
use connectors_proxy_core::layers::Authorized;
use connectors_proxy_core::layers::resolve::{ReverseTarget, request_authority};
use connectors_proxy_core::layers::rewrite::{RewriteRule, UrlRewriter};

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
}

impl UrlRewriter for RegistryRewrite {
    fn rewrite(&self, url: &str) -> Option<String> {
        RegistryRewrite::rewrite(self, url)
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

/// The registry rewriter for one reverse request (`None` before authorization): what
/// `ProxyBuilder::rewriter` is given.
pub fn rewrite_for(req: &Request) -> Option<RegistryRewrite> {
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
