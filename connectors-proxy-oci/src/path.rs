//! Registry addressing: `/v2/namespaces/<ns>/connectors/<name>/<repo>/…` to `/v2/<repo>/…`.

use connectors_proxy_core::body::Request;
use connectors_proxy_core::catalog::ConnectorRef;
use connectors_proxy_core::layers::resolve::{PathMatch, ReverseTarget, parse_path_form};
use percent_encoding::percent_decode_str;

/// The route kinds of the distribution API that follow a repository name.
const KINDS: [&str; 4] = ["manifests", "blobs", "tags", "referrers"];

/// Reads a path-form registry path: the connector, the registry path to send (`/v2/<repo>/…`)
/// and the prefix clients put after `/v2` (`/namespaces/<ns>/connectors/<name>`).
pub fn parse_registry_path(path: &str) -> Option<PathMatch> {
    let after = path.strip_prefix("/v2")?;
    let (connector, rest): (ConnectorRef, &str) = parse_path_form(after)?;
    repository(&format!("/v2{rest}"))?;
    Some(PathMatch {
        connector,
        proxy_prefix: after[..after.len() - rest.len()].to_owned(),
        rest: format!("/v2{rest}"),
    })
}

/// The repository name in a registry path `/v2/<repo>/<kind>/…`, where `<kind>` is the first
/// `manifests`, `blobs`, `tags` or `referrers` segment after at least one name segment.
pub fn repository(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v2/")?;
    let mut offset = 0;
    for segment in rest.split('/') {
        if offset > 0 && KINDS.contains(&segment) {
            let name = &rest[..offset - 1];
            return (!name.split('/').any(str::is_empty)).then_some(name);
        }
        offset += segment.len() + 1;
    }
    None
}

/// Whether `path` is the API version check, `/v2` or `/v2/`, answered by the proxy itself.
pub fn is_version_check(path: &str) -> bool {
    path == "/v2" || path == "/v2/"
}

/// The query of a cross-repository mount (`?mount=<digest>&from=<repo>`) as the registry must
/// see it: clients name the source repository as they see it, under the connector's
/// `proxy_prefix` (`namespaces/<ns>/connectors/<name>/<repo>`), and the registry knows it as
/// `<repo>`. A source under any other prefix cannot be mounted with this connector's login, so
/// `mount` and `from` are dropped and the request starts a plain upload. `None` when nothing
/// changes (no `from`, or host form with its empty prefix); other parameters stay verbatim.
pub fn registry_mount_query(query: &str, proxy_prefix: &str) -> Option<String> {
    let prefix = proxy_prefix.trim_start_matches('/');
    if prefix.is_empty() {
        return None;
    }
    let pairs: Vec<&str> = query.split('&').collect();
    let from = pairs.iter().find_map(|p| p.strip_prefix("from="))?;
    let from = percent_decode_str(from).decode_utf8().ok();
    let repo = from
        .as_deref()
        .and_then(|f| f.strip_prefix(prefix)?.strip_prefix('/'))
        .filter(|r| !r.is_empty());
    let kept: Vec<String> = pairs
        .iter()
        .filter_map(|pair| match (pair.split('=').next(), repo) {
            (Some("from"), Some(repo)) => Some(format!("from={repo}")),
            (Some("from" | "mount"), None) => None,
            _ => Some((*pair).to_owned()),
        })
        .collect();
    Some(kept.join("&"))
}

/// Gives a mount request's `from` the registry's repository name (see
/// [`registry_mount_query`]).
pub(crate) fn unprefix_mount_source(req: &mut Request) {
    let (Some(target), Some(query)) = (req.extensions().get::<ReverseTarget>(), req.uri().query())
    else {
        return;
    };
    let Some(query) = crate::path::registry_mount_query(query, &target.proxy_prefix) else {
        return;
    };
    let mut parts = req.uri().clone().into_parts();
    let path = parts
        .path_and_query
        .as_ref()
        .map_or("/", |pq| pq.path())
        .to_owned();
    let separator = if query.is_empty() { "" } else { "?" };
    let Ok(path_and_query) = format!("{path}{separator}{query}").parse() else {
        return;
    };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = http::Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn maps_registry_paths() {
        let m = parse_registry_path("/v2/namespaces/ns/connectors/reg/team/app/blobs/uploads/u1")
            .unwrap();
        assert_eq!(m.connector, ConnectorRef::new("ns", "reg").unwrap());
        assert_eq!(m.rest, "/v2/team/app/blobs/uploads/u1");
        assert_eq!(m.proxy_prefix, "/namespaces/ns/connectors/reg");
        assert!(parse_registry_path("/v2/namespaces/ns/connectors/reg").is_none());
        assert!(parse_registry_path("/v2/namespaces/ns/connectors/reg/app").is_none());
        assert!(parse_registry_path("/namespaces/ns/connectors/reg/app/tags/list").is_none());
    }

    #[test]
    fn finds_repositories() {
        assert_eq!(repository("/v2/a/manifests/latest"), Some("a"));
        assert_eq!(repository("/v2/a/b/c/tags/list"), Some("a/b/c"));
        assert_eq!(repository("/v2/a/referrers/sha256:1"), Some("a"));
        assert_eq!(repository("/v2/a/blobs/uploads/"), Some("a"));
        assert_eq!(repository("/v2/manifests/manifests/x"), Some("manifests"));
        assert_eq!(repository("/v2/a//b/blobs/x"), None);
        assert_eq!(repository("/v2/tags/list"), None);
        assert_eq!(repository("/v2/"), None);
        assert!(is_version_check("/v2/") && is_version_check("/v2"));
        assert!(!is_version_check("/v2/x"));
    }

    #[test]
    fn mount_sources_lose_the_connector_prefix() {
        let prefix = "/namespaces/ns/connectors/reg";
        let same = "mount=sha256%3Aab&from=namespaces%2Fns%2Fconnectors%2Freg%2Fteam%2Fbase";
        assert_eq!(
            registry_mount_query(same, prefix).as_deref(),
            Some("mount=sha256%3Aab&from=team/base")
        );
        assert_eq!(
            registry_mount_query(
                "from=namespaces/ns/connectors/reg/a&mount=x&_state=A%3D",
                prefix
            )
            .as_deref(),
            Some("from=a&mount=x&_state=A%3D")
        );
        // Another connector's repository, or no repository at all: a plain upload.
        for foreign in [
            "mount=x&from=namespaces/ns/connectors/other/a&keep=1",
            "mount=x&from=namespaces/ns/connectors/reg&keep=1",
            "mount=x&from=namespaces/ns/connectors/regx/a&keep=1",
            "mount=x&from=team/base&keep=1",
        ] {
            assert_eq!(
                registry_mount_query(foreign, prefix).as_deref(),
                Some("keep=1"),
                "{foreign}"
            );
        }
        assert_eq!(registry_mount_query("digest=sha256:1", prefix), None);
        assert_eq!(registry_mount_query("mount=x&from=team/base", ""), None);
    }

    proptest! {
        #[test]
        fn repository_roundtrips(repo in "[a-z0-9]{1,6}(/[a-z0-9._-]{1,6}){0,3}", kind in proptest::sample::select(KINDS.to_vec()), tail in "[a-z0-9:]{0,10}") {
            prop_assume!(!repo.split('/').any(|s| KINDS.contains(&s)));
            let path = format!("/v2/{repo}/{kind}/{tail}");
            prop_assert_eq!(repository(&path), Some(repo.as_str()));
        }
    }
}
