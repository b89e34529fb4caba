//! Registry addressing: `/v2/namespaces/<ns>/connectors/<name>/<repo>/…` to `/v2/<repo>/…`.

use connectors_proxy_core::catalog::ConnectorRef;
use connectors_proxy_core::layers::resolve::{PathMatch, parse_path_form};

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

    proptest! {
        #[test]
        fn repository_roundtrips(repo in "[a-z0-9]{1,6}(/[a-z0-9._-]{1,6}){0,3}", kind in proptest::sample::select(KINDS.to_vec()), tail in "[a-z0-9:]{0,10}") {
            prop_assume!(!repo.split('/').any(|s| KINDS.contains(&s)));
            let path = format!("/v2/{repo}/{kind}/{tail}");
            prop_assert_eq!(repository(&path), Some(repo.as_str()));
        }
    }
}
