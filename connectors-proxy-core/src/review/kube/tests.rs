use k8s_openapi::api::authentication::v1::UserInfo as KubeUser;

use super::*;

fn jwt(payload: &str) -> String {
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
        URL_SAFE_NO_PAD.encode(payload)
    )
}

fn status(authenticated: bool, audiences: Option<&[&str]>) -> TokenReviewStatus {
    TokenReviewStatus {
        authenticated: Some(authenticated),
        audiences: audiences.map(|a| a.iter().map(|s| (*s).to_owned()).collect()),
        user: Some(KubeUser {
            username: Some("system:serviceaccount:ns:sa".to_owned()),
            uid: Some("u-1".to_owned()),
            groups: Some(vec!["system:serviceaccounts".to_owned()]),
            extra: Some([("k".to_owned(), vec!["v".to_owned()])].into()),
        }),
        error: None,
    }
}

#[test]
fn expiry_comes_from_the_exp_claim_of_a_jwt_only() {
    let token = jwt(r#"{"aud":["x"],"exp":1700000000,"sub":"s"}"#);
    assert_eq!(
        jwt_expiry(&token),
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    );
    assert_eq!(jwt_expiry(&jwt(r#"{"sub":"s"}"#)), None);
    assert_eq!(jwt_expiry(&jwt(r#"{"exp":"soon"}"#)), None);
    assert_eq!(jwt_expiry("opaque-static-token"), None);
    assert_eq!(jwt_expiry("a.b"), None);
    assert_eq!(jwt_expiry("a.!!!.c"), None);
    assert_eq!(jwt_expiry(&format!("{token}.extra")), None);
}

#[test]
fn audiences_must_intersect_when_configured() {
    let ours = vec!["proxy".to_owned()];
    let token = ClientToken::new("t");
    let accepted = |s| {
        matches!(
            authentication(s, &ours, &token),
            Authentication::Authenticated { .. }
        )
    };
    assert!(accepted(status(true, Some(&["api", "proxy"]))));
    assert!(!accepted(status(true, Some(&["api"]))));
    assert!(!accepted(status(true, None)));
    assert!(!accepted(status(false, Some(&["proxy"]))));

    let any = matches!(
        authentication(status(true, None), &[], &token),
        Authentication::Authenticated { .. }
    );
    assert!(
        any,
        "without configured audiences the API server's default applies"
    );
}

#[test]
fn the_user_is_copied_whole() {
    let Authentication::Authenticated { user, expires_at } =
        authentication(status(true, None), &[], &ClientToken::new("t"))
    else {
        panic!("expected authenticated");
    };
    assert_eq!(user.username, "system:serviceaccount:ns:sa");
    assert_eq!(user.uid, "u-1");
    assert_eq!(user.groups, ["system:serviceaccounts"]);
    assert_eq!(
        user.extra.get("k").map(Vec::as_slice),
        Some(&["v".to_owned()][..])
    );
    assert_eq!(expires_at, None);
}
