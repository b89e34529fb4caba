use super::*;

fn user<'t>(table: &'t TokenTable, token: &str) -> &'t UserInfo {
    table
        .get(&TokenHash::of(token))
        .unwrap_or_else(|| panic!("no user for {token}"))
}

#[test]
fn parses_users_uids_and_quoted_groups() {
    let table = TokenTable::parse(
        "# comment line\n\
         \n\
         tok-a,alice,uid-1,\"dev,ops\"\n\
         tok-b,bob,uid-2\n",
    )
    .unwrap();
    assert_eq!(table.len(), 2);
    let alice = user(&table, "tok-a");
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.uid, "uid-1");
    assert_eq!(alice.groups, ["dev", "ops", "system:authenticated"]);
    let bob = user(&table, "tok-b");
    assert_eq!(bob.username, "bob");
    assert_eq!(bob.groups, ["system:authenticated"]);
    assert!(table.get(&TokenHash::of("tok-c")).is_none());
}

#[test]
fn service_accounts_get_their_groups() {
    let table = TokenTable::parse("t,system:serviceaccount:team-a:builder,u1,ci\n").unwrap();
    assert_eq!(
        user(&table, "t").groups,
        [
            "ci",
            "system:serviceaccounts",
            "system:serviceaccounts:team-a",
            "system:authenticated",
        ]
    );
    // Not a well-formed service-account name: no service-account groups.
    let table = TokenTable::parse("t,system:serviceaccount:team-a,u1\n").unwrap();
    assert_eq!(user(&table, "t").groups, ["system:authenticated"]);
}

#[test]
fn repeated_groups_appear_once() {
    let table = TokenTable::parse("t,alice,u,\"dev, dev,system:authenticated\"\n").unwrap();
    assert_eq!(user(&table, "t").groups, ["dev", "system:authenticated"]);
}

#[test]
fn crlf_and_whitespace_only_lines_are_accepted() {
    let table = TokenTable::parse("a,alice,1\r\n   \r\nb,bob,2\r\n").unwrap();
    assert_eq!(table.len(), 2);
    assert_eq!(user(&table, "a").uid, "1");
}

fn line_of(err: TokenFileError) -> u64 {
    match err {
        TokenFileError::Malformed { line, .. } => line,
        TokenFileError::DuplicateToken { line, .. } => line,
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn malformed_lines_are_named_by_number_without_the_token() {
    let cases = [
        ("# c\nsecret-token,alice\n", 2),
        ("ok,a,1\n\nsecret-token,alice,1,g,extra\n", 3),
        (",alice,1\n", 1),
        ("secret-token, ,1\n", 1),
    ];
    for (text, want) in cases {
        let err = TokenTable::parse(text).unwrap_err();
        let message = err.to_string();
        assert!(!message.contains("secret-token"), "{message}");
        assert!(message.starts_with(&format!("line {want}:")), "{message}");
        assert_eq!(line_of(err), want, "{text:?}");
    }
}

#[test]
fn a_repeated_token_is_an_error() {
    let err = TokenTable::parse("secret-token,a,1\nother,b,2\nsecret-token,c,3\n").unwrap_err();
    assert!(matches!(
        err,
        TokenFileError::DuplicateToken { line: 3, first: 1 }
    ));
    assert!(!err.to_string().contains("secret-token"));
}

#[test]
fn load_names_the_file() {
    let dir = std::env::temp_dir().join(format!("token-file-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.csv");
    std::fs::write(&good, "tok,alice,1,\"a,b\"\n").unwrap();
    assert_eq!(TokenTable::load(&good).unwrap().len(), 1);

    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "tok,alice\n").unwrap();
    let message = TokenTable::load(&bad).unwrap_err().to_string();
    assert!(
        message.contains("bad.csv") && message.contains("line 1"),
        "{message}"
    );

    let missing = TokenTable::load(dir.join("missing.csv")).unwrap_err();
    assert!(matches!(missing, TokenFileError::Read { .. }));
    std::fs::remove_dir_all(&dir).unwrap();
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the input, parsing never panics and an error never echoes a token column.
        #[test]
        fn errors_never_contain_the_token(
            token in "[A-Za-z0-9]{12,20}",
            rest in "[a-z,\" #\n]{0,40}",
        ) {
            let text = format!("{token}{rest}");
            if let Err(err) = TokenTable::parse(&text) {
                prop_assert!(!err.to_string().contains(&token));
            }
        }
    }
}
