use proptest::prelude::*;

use super::*;

#[test]
fn bearer_with_commas_inside_quotes() {
    let parsed = parse(
        r#"Bearer realm="https://auth.example/v2/token",service="reg",scope="repository:a/b:pull,push""#,
    );
    assert_eq!(parsed.len(), 1);
    let c = &parsed[0];
    assert!(c.is("bearer"));
    assert_eq!(c.param("realm"), Some("https://auth.example/v2/token"));
    assert_eq!(c.param("Service"), Some("reg"));
    assert_eq!(c.param("SCOPE"), Some("repository:a/b:pull,push"));
}

#[test]
fn escapes_spaces_and_case() {
    let parsed = parse(r#"BEARER Realm = "a\"b\\c" , ERROR=insufficient_scope"#);
    assert_eq!(parsed[0].param("realm"), Some(r#"a"b\c"#));
    assert_eq!(parsed[0].param("error"), Some("insufficient_scope"));
}

#[test]
fn several_challenges_and_lines() {
    let parsed = parse_all([
        r#"Basic realm="x", Bearer realm="https://t/token",service="s""#,
        "Negotiate abc+/==, Digest realm=d, qop=\"auth,auth-int\"",
    ]);
    let schemes: Vec<_> = parsed.iter().map(|c| c.scheme.as_str()).collect();
    assert_eq!(schemes, ["Basic", "Bearer", "Negotiate", "Digest"]);
    assert_eq!(parsed[1].param("service"), Some("s"));
    assert_eq!(parsed[2].token68.as_deref(), Some("abc+/=="));
    assert_eq!(parsed[3].param("qop"), Some("auth,auth-int"));
}

#[test]
fn bare_scheme_and_junk() {
    assert_eq!(parse("Basic")[0].params, vec![]);
    assert!(parse("").is_empty());
    assert!(parse(" , ,").is_empty());
    let parsed = parse(r#"Bearer realm="unterminated"#);
    assert_eq!(parsed[0].param("realm"), Some("unterminated"));
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,10}"
}

fn render(scheme: &str, params: &[(String, String)]) -> String {
    let params: Vec<String> = params
        .iter()
        .map(|(n, v)| {
            let escaped = v.replace('\\', "\\\\").replace('"', "\\\"");
            format!("{n}=\"{escaped}\"")
        })
        .collect();
    format!("{scheme} {}", params.join(", "))
}

proptest! {
    #[test]
    fn rendered_challenges_roundtrip(
        challenges in proptest::collection::vec(
            (token(), proptest::collection::vec((token(), "[ -~]{0,20}"), 1..4)),
            1..4,
        )
    ) {
        let header: Vec<String> = challenges.iter().map(|(s, p)| render(s, p)).collect();
        let parsed = parse(&header.join(", "));
        prop_assert_eq!(parsed.len(), challenges.len());
        for (got, (scheme, params)) in parsed.iter().zip(&challenges) {
            prop_assert_eq!(&got.scheme, scheme);
            let want: Vec<(String, String)> = params
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect();
            prop_assert_eq!(&got.params, &want);
        }
    }

    #[test]
    fn names_match_in_any_case(name in token(), value in "[a-z0-9]{1,8}", upper in any::<bool>()) {
        let sent = if upper { name.to_ascii_uppercase() } else { name.to_ascii_lowercase() };
        let parsed = parse(&format!("Bearer {sent}={value}"));
        prop_assert_eq!(parsed[0].param(&name), Some(value.as_str()));
    }

    #[test]
    fn never_panics(s in "\\PC{0,80}") {
        let _ = parse(&s);
    }

    #[test]
    fn never_panics_on_header_bytes(s in "[ -~\t]{0,80}") {
        for c in parse(&s) {
            prop_assert!(!c.scheme.is_empty());
        }
    }
}
