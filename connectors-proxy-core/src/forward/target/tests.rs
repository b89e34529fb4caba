use std::net::Ipv6Addr;

use proptest::prelude::*;

use super::*;
use crate::catalog::{ClassEntry, Credentials};

fn entry(name: &str, address: &str, extensions: &[&str]) -> Arc<ConnectorEntry> {
    Arc::new(ConnectorEntry {
        namespace: "ns".to_owned(),
        name: name.to_owned(),
        address: Address::parse(address).unwrap(),
        extensions: extensions
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("ext{i}"), Address::parse(a).unwrap()))
            .collect(),
        class: Arc::new(ClassEntry::default()),
        credentials: Credentials::None,
    })
}

fn absolute(uri: &str) -> AbsoluteTarget {
    origin_of_absolute(&uri.parse().unwrap()).unwrap()
}

fn matched(candidates: &[Arc<ConnectorEntry>], uri: &str) -> Option<String> {
    let target = absolute(uri);
    best_match(candidates, &target.origin, &target.path)
        .map(|(entry, address)| format!("{} {address}", entry.name))
}

#[test]
fn parses_connect_authorities() {
    let t = parse_authority_form("Git.Example.COM.:443").unwrap();
    assert_eq!((t.host.as_str(), t.port), ("git.example.com", 443));
    let t = parse_authority_form("[2001:DB8:0::1]:8443").unwrap();
    assert_eq!((t.host.as_str(), t.port), ("[2001:db8::1]", 8443));
    assert_eq!(t.https_origin().authority(), "[2001:db8::1]:8443");
    let t = parse_authority_form("10.0.0.1:6443").unwrap();
    assert_eq!(t.host, "10.0.0.1");
}

#[test]
fn refuses_bad_connect_authorities() {
    let cases = [
        ("example.com", TargetError::MissingPort),
        ("example.com:", TargetError::MissingPort),
        ("[::1]", TargetError::MissingPort),
        ("example.com:0", TargetError::InvalidPort),
        ("example.com:+443", TargetError::InvalidPort),
        ("example.com:65536", TargetError::InvalidPort),
        ("example.com:https", TargetError::InvalidPort),
        ("2001:db8::1:443", TargetError::AmbiguousIpv6),
        ("::1:443", TargetError::AmbiguousIpv6),
        (":443", TargetError::InvalidHost),
        ("user@example.com:443", TargetError::InvalidHost),
        ("exa mple.com:443", TargetError::InvalidHost),
        ("[not-ip]:443", TargetError::InvalidHost),
        ("[fe80::1%25eth0]:443", TargetError::InvalidHost),
        ("[::1:443", TargetError::InvalidHost),
    ];
    for (authority, expected) in cases {
        assert_eq!(
            parse_authority_form(authority),
            Err(expected),
            "{authority}"
        );
    }
}

#[test]
fn splits_absolute_uris_verbatim() {
    let t = absolute("HTTP://Example.com:80");
    assert_eq!(t.origin, Origin::new(Scheme::Http, "example.com", None));
    assert_eq!((t.path.as_str(), t.query), ("/", None));
    let t = absolute("https://tools.test/a%2Fb//c?x=%2B&y");
    assert_eq!(t.path, "/a%2Fb//c");
    assert_eq!(t.query.as_deref(), Some("x=%2B&y"));
    let refuse = |uri: &str| origin_of_absolute(&uri.parse().unwrap()).unwrap_err();
    assert_eq!(refuse("/relative"), TargetError::NotAbsolute);
    assert_eq!(refuse("ftp://h/"), TargetError::NotAbsolute);
    assert_eq!(refuse("http://u:p@h/"), TargetError::Userinfo);
}

#[test]
fn longest_prefix_wins_then_candidate_order() {
    let candidates = [
        entry("root", "https://tools.test", &[]),
        entry(
            "nexus-a",
            "https://tools.test/repository/a",
            &["https://api.tools.test/v1"],
        ),
        entry("nexus-a2", "https://tools.test/repository/a/", &[]),
        entry(
            "api",
            "https://other",
            &["https://tools.test:443/repository"],
        ),
    ];
    let m = |uri| matched(&candidates, uri);
    assert_eq!(
        m("https://tools.test/x").as_deref(),
        Some("root https://tools.test")
    );
    assert_eq!(
        m("https://tools.test/repository/a/pkg").as_deref(),
        Some("nexus-a https://tools.test/repository/a")
    );
    assert_eq!(
        m("https://tools.test/repository/b").as_deref(),
        Some("api https://tools.test/repository")
    );
    assert_eq!(
        m("https://api.tools.test/v1/users").as_deref(),
        Some("nexus-a https://api.tools.test/v1")
    );
    assert_eq!(m("https://api.tools.test/v2"), None);
    assert_eq!(m("http://tools.test/x"), None);
    assert_eq!(m("https://tools.test:8443/x"), None);
}

#[test]
fn hosts_match_by_origin_only() {
    let candidates = [entry(
        "a",
        "https://tools.test/gitlab",
        &["https://[::1]:8443/api"],
    )];
    let origin = |host, port| Origin::new(Scheme::Https, host, Some(port));
    assert!(host_matches(&candidates, &origin("Tools.Test", 443)));
    assert!(host_matches(&candidates, &origin("[0:0::1]", 8443)));
    assert!(!host_matches(&candidates, &origin("tools.test", 8443)));
    assert!(!host_matches(&[], &origin("tools.test", 443)));
}

fn segment() -> impl Strategy<Value = String> {
    "([a-z0-9._-]|%2F){1,8}"
}

proptest! {
    #[test]
    fn matching_ignores_default_port_and_ipv6_spelling(
        ip in any::<u128>(),
        port_written in any::<bool>(),
        full_form in any::<bool>(),
        segments in proptest::collection::vec(segment(), 0..4),
    ) {
        let ip = Ipv6Addr::from(ip);
        let prefix: String = segments.iter().map(|s| format!("/{s}")).collect();
        let candidates = [entry("a", &format!("https://[{ip}]{prefix}"), &[])];
        let segs = ip.segments();
        let spelled = if full_form {
            segs.iter().map(|s| format!("{s:04X}")).collect::<Vec<_>>().join(":")
        } else {
            ip.to_string()
        };
        let port = if port_written { ":443" } else { "" };
        let uri = format!("https://[{spelled}]{port}{prefix}/rest");
        prop_assert_eq!(matched(&candidates, &uri).is_some(), true, "{}", uri);
        let t = parse_authority_form(&format!("[{spelled}]:443")).unwrap();
        prop_assert!(host_matches(&candidates, &t.https_origin()));
    }

    #[test]
    fn a_longer_matching_prefix_always_wins(
        short in proptest::collection::vec(segment(), 0..3),
        extra in proptest::collection::vec(segment(), 1..3),
        rest in proptest::collection::vec(segment(), 0..3),
        longer_first in any::<bool>(),
    ) {
        let short: String = short.iter().map(|s| format!("/{s}")).collect();
        let long: String = format!(
            "{short}{}", extra.iter().map(|s| format!("/{s}")).collect::<String>()
        );
        let rest: String = rest.iter().map(|s| format!("/{s}")).collect();
        let s = entry("short", &format!("https://tools.test{short}"), &[]);
        let l = entry("long", &format!("https://tools.test{long}"), &[]);
        let candidates = if longer_first { [l, s] } else { [s, l] };
        let found = matched(&candidates, &format!("https://tools.test{long}{rest}"));
        prop_assert_eq!(found, Some(format!("long https://tools.test{long}")));
    }

    #[test]
    fn a_non_segment_prefix_never_matches(
        prefix in proptest::collection::vec(segment(), 1..3),
        tail in "[a-z0-9._-]{1,8}",
        rest in proptest::collection::vec(segment(), 0..3),
    ) {
        let prefix: String = prefix.iter().map(|s| format!("/{s}")).collect();
        let rest: String = rest.iter().map(|s| format!("/{s}")).collect();
        let candidates = [entry("a", &format!("https://tools.test{prefix}"), &[])];
        let uri = format!("https://tools.test{prefix}{tail}{rest}");
        prop_assert_eq!(matched(&candidates, &uri), None);
    }
}
