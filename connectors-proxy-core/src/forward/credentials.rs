//! The forward proxy's `Proxy-Authorization` header:
//! `Basic b64("<ns>/<name>[,<ns>/<name>…]:<token>")`.
//!
//! Clients write the username either plainly (`ns/name`) or percent-encoded as it appears in a
//! proxy URL (`ns%2Fname`), so the username is percent-decoded before it is split into
//! connectors. The password is the client's ServiceAccount token.

use crate::catalog::{ConnectorRef, InvalidConnectorRef};
use crate::credentials::{BasicError, decode_basic_text};
use crate::secret::ClientToken;

/// What a forward-proxy client presented: the connectors it wants and its token.
#[derive(Clone, Debug)]
pub(crate) struct ProxyCredentials {
    /// The connectors listed in the username, in the client's order, without duplicates.
    pub connectors: Vec<ConnectorRef>,
    /// The client's ServiceAccount token.
    pub token: ClientToken,
}

/// Why a `Proxy-Authorization` value was refused (answered with `407`).
///
/// Messages describe the problem only: they never repeat the header, the username or the
/// token, since a client may have put its token in the wrong place.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProxyAuthError {
    /// The value is not `Basic <credentials>`.
    #[error("Proxy-Authorization must use the Basic scheme")]
    NotBasic,
    /// The credentials are not base64, or not UTF-8 once decoded.
    #[error("Proxy-Authorization Basic credentials are not valid base64 text")]
    Encoding,
    /// There is no `:` between the connector list and the token.
    #[error("Proxy-Authorization credentials must be <namespace>/<name>:<token>")]
    MissingColon,
    /// The token (the password) is empty.
    #[error("Proxy-Authorization carries an empty token")]
    EmptyToken,
    /// The username has a `%` that does not start a two-digit hex escape.
    #[error("the proxy username has a malformed percent escape")]
    PercentEscape,
    /// The username lists no connector.
    #[error("the proxy username lists no connector")]
    NoConnector,
    /// One entry of the connector list is invalid.
    #[error("connector {position} in the proxy username is invalid: {reason}")]
    InvalidConnector {
        /// The entry's 1-based position in the list.
        position: usize,
        /// What is wrong with it.
        reason: InvalidConnectorRef,
    },
}

/// Parses a forward-proxy `Proxy-Authorization` header value.
///
/// The scheme name is case-insensitive, the credentials are split on the first `:` (tokens may
/// contain `:`), and the username is percent-decoded and then split on `,`.
pub(crate) fn parse_proxy_authorization(
    value: &http::HeaderValue,
) -> Result<ProxyCredentials, ProxyAuthError> {
    let decoded = decode_basic_text(value).map_err(|error| match error {
        BasicError::NotBasic => ProxyAuthError::NotBasic,
        BasicError::Encoding => ProxyAuthError::Encoding,
    })?;
    let (user, token) = decoded
        .split_once(':')
        .ok_or(ProxyAuthError::MissingColon)?;
    if token.is_empty() {
        return Err(ProxyAuthError::EmptyToken);
    }
    let connectors = parse_connector_list(&percent_decode(user)?)?;
    Ok(ProxyCredentials {
        connectors,
        token: ClientToken::new(token),
    })
}

/// Splits a decoded username into connectors: entries separated by `,`, surrounding whitespace
/// and empty entries ignored, duplicates dropped, first occurrence kept.
fn parse_connector_list(user: &str) -> Result<Vec<ConnectorRef>, ProxyAuthError> {
    let mut connectors: Vec<ConnectorRef> = Vec::new();
    for (index, entry) in user.split(',').map(str::trim).enumerate() {
        if entry.is_empty() {
            continue;
        }
        let connector =
            ConnectorRef::parse(entry).map_err(|reason| ProxyAuthError::InvalidConnector {
                position: index + 1,
                reason,
            })?;
        if !connectors.contains(&connector) {
            connectors.push(connector);
        }
    }
    if connectors.is_empty() {
        return Err(ProxyAuthError::NoConnector);
    }
    Ok(connectors)
}

/// Percent-decodes `s`, refusing a `%` not followed by two hex digits and non-UTF-8 results.
fn percent_decode(s: &str) -> Result<String, ProxyAuthError> {
    let bytes = s.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return Err(ProxyAuthError::PercentEscape);
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| ProxyAuthError::Encoding)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    use proptest::prelude::*;

    use super::*;

    fn header(text: &str) -> http::HeaderValue {
        http::HeaderValue::from_str(text).unwrap()
    }

    fn basic(credentials: &str) -> http::HeaderValue {
        header(&format!("Basic {}", STANDARD.encode(credentials)))
    }

    fn names(c: &ProxyCredentials) -> Vec<String> {
        c.connectors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn reads_connector_and_token() {
        let c = parse_proxy_authorization(&basic("default/github:tok:en")).unwrap();
        assert_eq!(names(&c), ["default/github"]);
        assert_eq!(c.token.expose(), "tok:en");
    }

    #[test]
    fn accepts_scheme_in_any_case_and_missing_padding() {
        let value = format!("bAsIc   {}", STANDARD_NO_PAD.encode("ns/a:t"));
        let c = parse_proxy_authorization(&header(&value)).unwrap();
        assert_eq!(names(&c), ["ns/a"]);
        assert_eq!(c.token.expose(), "t");
    }

    #[test]
    fn percent_decodes_the_username() {
        let c = parse_proxy_authorization(&basic("default%2Fsonarqube-connector:T")).unwrap();
        assert_eq!(names(&c), ["default/sonarqube-connector"]);
        let c = parse_proxy_authorization(&basic("ns1%2fa%2C%20ns2%2Fb:T")).unwrap();
        assert_eq!(names(&c), ["ns1/a", "ns2/b"]);
        for bad in ["ns%2/a:T", "ns%zz/a:T", "ns/a%:T"] {
            assert_eq!(
                parse_proxy_authorization(&basic(bad)).unwrap_err(),
                ProxyAuthError::PercentEscape,
                "{bad}"
            );
        }
    }

    #[test]
    fn splits_lists_trims_and_deduplicates() {
        let c = parse_proxy_authorization(&basic(" ns2/b , ns1/a,ns2/b,, :T")).unwrap();
        assert_eq!(names(&c), ["ns2/b", "ns1/a"]);
    }

    #[test]
    fn refuses_bad_values() {
        let cases = [
            (header("Bearer abc"), ProxyAuthError::NotBasic),
            (header("Basic"), ProxyAuthError::NotBasic),
            (header("Basic !!!"), ProxyAuthError::Encoding),
            (basic("ns/a"), ProxyAuthError::MissingColon),
            (basic("ns/a:"), ProxyAuthError::EmptyToken),
            (basic(":T"), ProxyAuthError::NoConnector),
            (basic(" , :T"), ProxyAuthError::NoConnector),
            (
                basic("ns/a,Bad/b:T"),
                ProxyAuthError::InvalidConnector {
                    position: 2,
                    reason: InvalidConnectorRef::Namespace,
                },
            ),
            (
                basic("eyJhbGciOiJSUzI1NiJ9.secret:x"),
                ProxyAuthError::InvalidConnector {
                    position: 1,
                    reason: InvalidConnectorRef::MissingSlash,
                },
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_proxy_authorization(&value).unwrap_err(), expected);
        }
    }

    #[test]
    fn errors_and_debug_never_show_the_token() {
        let secret = "eyJhbGciOiJSUzI1NiJ9.secret";
        let err = parse_proxy_authorization(&basic(&format!("{secret}:x"))).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
        let ok = parse_proxy_authorization(&basic(&format!("ns/a:{secret}"))).unwrap();
        assert!(!format!("{ok:?}").contains("secret"));
    }

    #[test]
    fn accepts_a_sixteen_kib_header() {
        let list: Vec<String> = (0..600)
            .map(|i| format!("namespace-{i}/connector-{i}"))
            .collect();
        let token = "x".repeat(2048);
        let value = basic(&format!("{}:{token}", list.join(",")));
        assert!(value.len() >= 16 * 1024, "{}", value.len());
        let c = parse_proxy_authorization(&value).unwrap();
        assert_eq!(c.connectors.len(), 600);
        assert_eq!(c.token.expose(), token);
    }

    fn connector_ref() -> impl Strategy<Value = ConnectorRef> {
        let label = "[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?";
        (
            label,
            proptest::string::string_regex(&format!("{label}(\\.{label}){{0,2}}")).unwrap(),
        )
            .prop_map(|(ns, name)| ConnectorRef::new(&ns, &name).unwrap())
    }

    proptest! {
        #[test]
        fn encoded_credentials_round_trip(
            refs in proptest::collection::vec(connector_ref(), 1..8),
            token in "[^\\p{Cc}]{1,64}",
            escape_slash in any::<bool>(),
        ) {
            let list: Vec<String> = refs.iter().map(|r| {
                let text = r.to_string();
                if escape_slash { text.replace('/', "%2F") } else { text }
            }).collect();
            let c = parse_proxy_authorization(&basic(&format!("{}:{token}", list.join(","))))
                .unwrap();
            let mut expected = refs.clone();
            let mut seen = std::collections::HashSet::new();
            expected.retain(|r| seen.insert(r.clone()));
            prop_assert_eq!(c.connectors, expected);
            prop_assert_eq!(c.token.expose(), token.as_str());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(value) = http::HeaderValue::from_bytes(&bytes) {
                let _ = parse_proxy_authorization(&value);
            }
            let value = header(&format!("Basic {}", STANDARD.encode(&bytes)));
            let _ = parse_proxy_authorization(&value);
        }
    }
}
