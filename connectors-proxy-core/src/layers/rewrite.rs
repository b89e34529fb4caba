//! Rewriting `Location` and `Link` headers that point at the tool back to the proxy.
//!
//! A URL is rewritten only when it is on the tool's origin and under its address prefix; the
//! rest of its path and its query are copied byte for byte. Everything else passes unchanged.

use std::task::{Context, Poll};

use http::header::{HeaderValue, LINK, LOCATION};

use crate::address::{Address, Origin, Scheme};
use crate::body::{Request, Response};
use crate::layers::resolve::{ReverseTarget, request_authority};
use crate::layers::{Authorized, ProxyService, ResponseFuture, take_ready};

/// How tool URLs map back to proxy URLs for one request.
#[derive(Debug, Clone)]
pub struct RewriteRule {
    /// The connector address the request was sent under.
    pub tool: Address,
    /// The proxy origin the client used, such as `http://proxy:8080`.
    pub proxy_origin: String,
    /// The connector's path prefix on the proxy (`""` in host form).
    pub proxy_prefix: String,
}

impl RewriteRule {
    /// The proxy URL for `url`, or `None` when `url` does not point at the tool.
    ///
    /// Absolute URLs become absolute proxy URLs; absolute paths stay paths.
    pub fn rewrite(&self, url: &str) -> Option<String> {
        if let Some(path) = url.strip_prefix('/').filter(|p| !p.starts_with('/')) {
            let (path, query) = split_query(path);
            let rest = self.tool.strip_prefix(&format!("/{path}"))?.to_owned();
            return Some(format!(
                "{}{}{}",
                self.proxy_prefix,
                rest_or_root(&rest, &self.proxy_prefix),
                query
            ));
        }
        let (scheme, after) = match url.split_once("://") {
            Some((scheme, after)) => (Scheme::parse(scheme)?, after),
            None => (self.tool.origin().scheme, url.strip_prefix("//")?),
        };
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let authority: http::uri::Authority = after[..end].parse().ok()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let origin = Origin::new(scheme, authority.host(), authority.port_u16());
        if &origin != self.tool.origin() {
            return None;
        }
        let (path, query) = split_query(&after[end..]);
        let rest = self.tool.strip_prefix(path)?;
        Some(format!(
            "{}{}{}{}",
            self.proxy_origin,
            self.proxy_prefix,
            rest_or_root(rest, &self.proxy_prefix),
            query
        ))
    }
}

/// Maps URLs that point at a tool to the URLs a client uses through the proxy.
///
/// Implementors say how one URL maps; `Link` values and whole responses are handled here.
pub trait UrlRewriter: Send + 'static {
    /// The proxy URL for `url`, or `None` when `url` does not point at the tool.
    fn rewrite(&self, url: &str) -> Option<String>;

    /// Rewrites each `<…>` target in a `Link` header value; `None` when nothing changed.
    fn rewrite_link(&self, value: &str) -> Option<String> {
        let mut out = String::with_capacity(value.len());
        let mut changed = false;
        let mut rest = value;
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>') else {
                break;
            };
            let target = &rest[open + 1..open + close];
            out.push_str(&rest[..=open]);
            match self.rewrite(target) {
                Some(new) => {
                    out.push_str(&new);
                    changed = true;
                }
                None => out.push_str(target),
            }
            rest = &rest[open + close..];
        }
        out.push_str(rest);
        changed.then_some(out)
    }

    /// Rewrites `Location` and every `Link` header of a response in place.
    fn apply(&self, response: &mut Response) {
        let headers = response.headers_mut();
        if let Some(new) = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| self.rewrite(v))
            .and_then(|v| HeaderValue::try_from(v).ok())
        {
            headers.insert(LOCATION, new);
        }
        if headers.contains_key(LINK) {
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
            headers.remove(LINK);
            for link in links {
                headers.append(LINK, link);
            }
        }
    }
}

impl UrlRewriter for RewriteRule {
    fn rewrite(&self, url: &str) -> Option<String> {
        RewriteRule::rewrite(self, url)
    }
}

/// Splits `path?query#fragment` into the path and the rest (kept verbatim).
fn split_query(s: &str) -> (&str, &str) {
    let i = s.find(['?', '#']).unwrap_or(s.len());
    (&s[..i], &s[i..])
}

/// The path below the connector, or `/` for the tool's root in host form.
fn rest_or_root<'a>(rest: &'a str, proxy_prefix: &str) -> &'a str {
    if rest.is_empty() && proxy_prefix.is_empty() {
        "/"
    } else {
        rest
    }
}

/// Builds the rewriter for one request from its extensions, before it is sent on.
pub type RewriterFor<R> = fn(&Request) -> Option<R>;

/// Layer that rewrites tool URLs in reverse-mode responses.
#[derive(Debug)]
pub struct RewriteLayer<R = RewriteRule> {
    rewriter_for: RewriterFor<R>,
}

impl<R> Clone for RewriteLayer<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for RewriteLayer<R> {}

impl Default for RewriteLayer<RewriteRule> {
    fn default() -> Self {
        Self {
            rewriter_for: rule_for,
        }
    }
}

impl<R: UrlRewriter> RewriteLayer<R> {
    /// Rewrites with the rewriter `rewriter_for` builds per request (`None`: no rewriting).
    pub fn with_rewriter(rewriter_for: RewriterFor<R>) -> Self {
        Self { rewriter_for }
    }
}

impl<S, R> tower::Layer<S> for RewriteLayer<R> {
    type Service = Rewrite<S, R>;

    fn layer(&self, inner: S) -> Rewrite<S, R> {
        Rewrite {
            inner,
            rewriter_for: self.rewriter_for,
        }
    }
}

/// Service that rewrites tool URLs in responses; see [`RewriteLayer`].
#[derive(Debug)]
pub struct Rewrite<S, R = RewriteRule> {
    inner: S,
    rewriter_for: RewriterFor<R>,
}

impl<S: Clone, R> Clone for Rewrite<S, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            rewriter_for: self.rewriter_for,
        }
    }
}

impl<S: ProxyService, R: UrlRewriter> tower::Service<Request> for Rewrite<S, R> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        let rewriter = (self.rewriter_for)(&req);
        let future = take_ready(&mut self.inner).call(req);
        Box::pin(async move {
            let mut response = future.await?;
            if let Some(rewriter) = rewriter {
                rewriter.apply(&mut response);
            }
            Ok(response)
        })
    }
}

/// The standard rule: the connector's address maps to its path-form or host-form prefix.
pub fn rule_for(req: &Request) -> Option<RewriteRule> {
    let target = req.extensions().get::<ReverseTarget>()?;
    let Authorized(entry) = req.extensions().get::<Authorized>()?;
    let authority = request_authority(req)?;
    Some(RewriteRule {
        tool: entry.address.clone(),
        proxy_origin: format!("http://{authority}"),
        proxy_prefix: target.proxy_prefix.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(address: &str, prefix: &str) -> RewriteRule {
        RewriteRule {
            tool: Address::parse(address).unwrap(),
            proxy_origin: "http://proxy:8080".into(),
            proxy_prefix: prefix.into(),
        }
    }

    #[test]
    fn rewrites_tool_urls_only() {
        let r = rule("https://git.example/gitlab", "/namespaces/ns/connectors/gl");
        assert_eq!(
            r.rewrite("https://git.example/gitlab/a/b?_state=x%2B%3D&digest=sha256:1")
                .as_deref(),
            Some(
                "http://proxy:8080/namespaces/ns/connectors/gl/a/b?_state=x%2B%3D&digest=sha256:1"
            )
        );
        assert_eq!(
            r.rewrite("https://GIT.example:443/gitlab").as_deref(),
            Some("http://proxy:8080/namespaces/ns/connectors/gl")
        );
        assert_eq!(
            r.rewrite("/gitlab/x?q").as_deref(),
            Some("/namespaces/ns/connectors/gl/x?q")
        );
        assert_eq!(r.rewrite("/gitlabx/y"), None);
        assert_eq!(r.rewrite("https://storage.example/blob?sig=1"), None);
        assert_eq!(r.rewrite("http://git.example/gitlab/x"), None);
        assert_eq!(r.rewrite("relative/path"), None);
        assert_eq!(
            r.rewrite("//git.example/gitlab/z").as_deref(),
            Some("http://proxy:8080/namespaces/ns/connectors/gl/z")
        );
    }

    #[test]
    fn host_form_rewrites_to_root() {
        let r = rule("http://127.0.0.1:9000", "");
        assert_eq!(
            r.rewrite("http://127.0.0.1:9000").as_deref(),
            Some("http://proxy:8080/")
        );
        assert_eq!(r.rewrite("/x").as_deref(), Some("/x"));
    }

    #[test]
    fn rewrites_links() {
        let r = rule("https://reg.example", "/namespaces/ns/connectors/r");
        assert_eq!(
            r.rewrite_link(r#"<https://reg.example/v2/x/tags/list?n=2&last=b>; rel="next", <https://other/x>; rel="alt""#).as_deref(),
            Some(r#"<http://proxy:8080/namespaces/ns/connectors/r/v2/x/tags/list?n=2&last=b>; rel="next", <https://other/x>; rel="alt""#)
        );
        assert_eq!(r.rewrite_link("<https://other/x>"), None);
    }
}
