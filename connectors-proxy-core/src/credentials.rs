//! Reading client credentials from `Authorization` headers.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::HeaderValue;

/// Splits `<scheme> <rest>` and returns `rest` when the scheme matches, case-insensitively.
pub(crate) fn strip_scheme<'a>(value: &'a HeaderValue, scheme: &str) -> Option<&'a str> {
    let text = value.to_str().ok()?.trim();
    let (name, rest) = text.split_once(' ')?;
    name.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// Why a `Basic` header value could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BasicError {
    /// The value does not use the `Basic` scheme.
    NotBasic,
    /// The credentials are not base64, or not UTF-8 once decoded.
    Encoding,
}

/// Standard base64 that accepts the value with or without its `=` padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes the credentials of a `Basic` value to text; the scheme name is case-insensitive.
pub(crate) fn decode_basic_text(value: &HeaderValue) -> Result<String, BasicError> {
    let text = value.to_str().map_err(|_| BasicError::Encoding)?.trim();
    let (scheme, encoded) = text.split_once(' ').ok_or(BasicError::NotBasic)?;
    if !scheme.eq_ignore_ascii_case("Basic") {
        return Err(BasicError::NotBasic);
    }
    let bytes = BASE64
        .decode(encoded.trim())
        .map_err(|_| BasicError::Encoding)?;
    String::from_utf8(bytes).map_err(|_| BasicError::Encoding)
}

/// Decodes Basic credentials into `(user, password)`, splitting on the first `:` only.
///
/// A decoded value with no colon yields `(None, value)`: some clients send `b64(token)`.
pub fn decode_basic(value: &HeaderValue) -> Option<(Option<String>, String)> {
    let text = decode_basic_text(value).ok()?;
    Some(match text.split_once(':') {
        Some((user, password)) => (Some(user.to_owned()), password.to_owned()),
        None => (None, text),
    })
}

/// Encodes `user:password` as a Basic `Authorization` value.
pub fn encode_basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// The client token of a reverse request: the Basic password (any user, or the whole value
/// when it has no colon) or the Bearer token. Empty tokens count as absent.
pub fn reverse_token(value: &HeaderValue) -> Option<String> {
    let token = match decode_basic(value) {
        Some((_, password)) => password,
        None => strip_scheme(value, "Bearer")?.to_owned(),
    };
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    #[test]
    fn reverse_tokens() {
        assert_eq!(
            reverse_token(&header(&encode_basic("", "T"))).as_deref(),
            Some("T")
        );
        assert_eq!(
            reverse_token(&header(&encode_basic("any", "T:with:colons"))).as_deref(),
            Some("T:with:colons")
        );
        let no_colon = format!("Basic {}", STANDARD.encode("T"));
        assert_eq!(reverse_token(&header(&no_colon)).as_deref(), Some("T"));
        assert_eq!(reverse_token(&header("bearer T")).as_deref(), Some("T"));
        assert_eq!(reverse_token(&header("Bearer ")), None);
        assert_eq!(reverse_token(&header(&encode_basic("u", ""))), None);
        assert_eq!(reverse_token(&header("Basic !!!")), None);
        assert_eq!(reverse_token(&header("Digest x")), None);
    }

    proptest! {
        #[test]
        fn basic_roundtrips(user in "[^:\\x00-\\x1f]{0,20}", password in "[^\\x00-\\x1f]{1,40}") {
            let value = header(&encode_basic(&user, &password));
            prop_assert_eq!(decode_basic(&value), Some((Some(user), password.clone())));
            prop_assert_eq!(reverse_token(&value), Some(password));
        }

        #[test]
        fn never_panics(s in "[ -~]{0,80}") {
            if let Ok(value) = HeaderValue::from_str(&s) {
                let _ = reverse_token(&value);
            }
        }
    }
}
