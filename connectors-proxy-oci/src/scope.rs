//! Token scopes: which scopes a registry request needs, and their normal form for caching.
//!
//! Scope strings are always sent to the token endpoint verbatim. The parsed form
//! (`type[(class)]:name:actions`) only serves to compare scope sets, so that
//! `pull,push` and `push,pull` share a cached token; a scope that does not parse is kept as
//! it is.

use std::collections::BTreeSet;

use http::Method;
use percent_encoding::percent_decode_str;

/// The scopes a request to `repository` needs, as Distribution checks them: `pull` for reads,
/// `delete` for deletes, `pull,push` for other writes, and `pull` on the source repository of a
/// cross-repository mount (`?mount=…&from=<repo>`).
pub fn scopes_for(method: &Method, repository: &str, query: Option<&str>) -> Vec<String> {
    let actions = actions_for(method);
    let mut scopes = vec![format!("repository:{repository}:{actions}")];
    if *method == Method::POST
        && let Some(from) = mount_source(query)
        && from != repository
    {
        scopes.push(format!("repository:{from}:pull"));
    }
    scopes
}

/// The repository actions a request with `method` needs: `pull`, `delete` or `pull,push`.
pub(crate) fn actions_for(method: &Method) -> &'static str {
    match *method {
        Method::GET | Method::HEAD => "pull",
        Method::DELETE => "delete",
        _ => "pull,push",
    }
}

/// The `from` repository of a mount request, when `mount` is present too.
fn mount_source(query: Option<&str>) -> Option<String> {
    let pairs = || {
        query
            .unwrap_or("")
            .split('&')
            .filter_map(|pair| pair.split_once('='))
    };
    pairs().find(|(k, _)| *k == "mount")?;
    let (_, from) = pairs().find(|(k, _)| *k == "from")?;
    let from = percent_decode_str(from).decode_utf8().ok()?;
    (!from.is_empty()).then(|| from.into_owned())
}

/// Splits a challenge's `scope` parameter on spaces; each part is one scope.
pub fn split_scope_param(value: &str) -> Vec<String> {
    value
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The normal form of one scope: actions sorted and deduplicated; an unparseable scope as is.
///
/// The resource type keeps its class (`repository(plugin)`), so classes never share tokens.
pub fn normalize(scope: &str) -> String {
    let Some((kind, rest)) = scope.split_once(':') else {
        return scope.to_owned();
    };
    let Some((name, actions)) = rest.rsplit_once(':') else {
        return scope.to_owned();
    };
    if kind.is_empty() || name.is_empty() {
        return scope.to_owned();
    }
    let actions: BTreeSet<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
    let actions: Vec<&str> = actions.into_iter().collect();
    format!("{kind}:{name}:{}", actions.join(","))
}

/// The set of normalized scopes: the scope part of a token cache key.
pub fn scope_set<S: AsRef<str>>(scopes: &[S]) -> BTreeSet<String> {
    scopes.iter().map(|s| normalize(s.as_ref())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn scopes_follow_the_method() {
        assert_eq!(
            scopes_for(&Method::GET, "lib/app", None),
            ["repository:lib/app:pull"]
        );
        assert_eq!(scopes_for(&Method::HEAD, "a", None), ["repository:a:pull"]);
        assert_eq!(
            scopes_for(&Method::DELETE, "a", None),
            ["repository:a:delete"]
        );
        for method in [Method::POST, Method::PUT, Method::PATCH] {
            assert_eq!(
                scopes_for(&method, "a", Some("digest=sha256:1")),
                ["repository:a:pull,push"]
            );
        }
    }

    #[test]
    fn mounts_also_pull_the_source() {
        let query = Some("mount=sha256%3Aab&from=team%2Fbase");
        assert_eq!(
            scopes_for(&Method::POST, "team/app", query),
            ["repository:team/app:pull,push", "repository:team/base:pull"]
        );
        // `from` without `mount` is not a mount; a mount from itself needs nothing more.
        assert_eq!(scopes_for(&Method::POST, "a", Some("from=b")).len(), 1);
        assert_eq!(
            scopes_for(&Method::POST, "a", Some("mount=x&from=a")).len(),
            1
        );
    }

    #[test]
    fn normal_forms() {
        assert_eq!(
            normalize("repository:a:push,pull"),
            "repository:a:pull,push"
        );
        assert_eq!(
            normalize("repository(plugin):v/p:push,pull"),
            "repository(plugin):v/p:pull,push"
        );
        assert_eq!(
            normalize("repository:host:5000/a:pull"),
            "repository:host:5000/a:pull"
        );
        assert_eq!(normalize("aws"), "aws");
        assert_eq!(normalize(":x:pull"), ":x:pull");
        assert_eq!(
            split_scope_param("repository:a:pull,push  repository:b:pull"),
            ["repository:a:pull,push", "repository:b:pull"]
        );
        assert_ne!(
            scope_set(&["repository(plugin):a:pull"]),
            scope_set(&["repository:a:pull"])
        );
    }

    proptest! {
        #[test]
        fn action_order_does_not_matter(name in "[a-z0-9/]{1,12}", mut actions in proptest::collection::vec("[a-z*]{1,5}", 1..4)) {
            let one = format!("repository:{name}:{}", actions.join(","));
            actions.reverse();
            let other = format!("repository:{name}:{}", actions.join(","));
            prop_assert_eq!(normalize(&one), normalize(&other));
        }

        #[test]
        fn normalize_never_panics(s in "\\PC{0,40}") {
            let _ = normalize(&s);
        }
    }
}
