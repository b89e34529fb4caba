//! Query strings: form-decoded pairs for policies, byte-preserving edits for forwarding.
//!
//! Policies see names and values decoded with form semantics (`+` is a space, `%XX` a byte).
//! What is forwarded keeps the client's bytes: removing a parameter drops only that parameter's
//! pairs, and adding one appends encoded pairs after the existing text.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Bytes written as they are in an appended query name or value; everything else is escaped.
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Decodes one form-encoded component: `+` is a space, `%XX` a byte, invalid UTF-8 lossy.
pub(super) fn form_decode(component: &str) -> String {
    let spaced: Cow<'_, str> = if component.contains('+') {
        Cow::Owned(component.replace('+', " "))
    } else {
        Cow::Borrowed(component)
    };
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Encodes one name or value for a query string.
pub(super) fn form_encode(component: &str) -> String {
    utf8_percent_encode(component, QUERY_COMPONENT).to_string()
}

/// The raw pairs of a query: split on `&`, each split once on `=`; empty pieces are skipped.
fn raw_pairs(raw_query: &str) -> impl Iterator<Item = (&str, &str)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// The decoded `(name, value)` pairs of a raw query, in order.
pub(super) fn decoded_pairs(raw_query: &str) -> impl Iterator<Item = (String, String)> {
    raw_pairs(raw_query).map(|(name, value)| (form_decode(name), form_decode(value)))
}

/// Removes every pair whose decoded name is `name`; every other byte of the query is kept.
///
/// Pairs are separated by `&`; a removed pair takes one neighbouring `&` with it, so no empty
/// pair is left behind where there was none.
pub fn strip_query_param(raw_query: &str, name: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for piece in raw_query.split('&') {
        let piece_name = piece.split_once('=').map_or(piece, |(n, _)| n);
        if piece.is_empty() || form_decode(piece_name) != name {
            kept.push(piece);
        }
    }
    kept.join("&")
}

/// Appends `name=value` pairs, form-encoded, after the existing query text.
pub(super) fn append_query_pairs<'a>(
    raw_query: &str,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut query = raw_query.to_owned();
    for (name, value) in pairs {
        if !query.is_empty() && !query.ends_with('&') {
            query.push('&');
        }
        query.push_str(&form_encode(name));
        query.push('=');
        query.push_str(&form_encode(value));
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_with_form_semantics() {
        let pairs: Vec<_> = decoded_pairs("a=1+2&b%20c=%2Fx&flag&&d=").collect();
        assert_eq!(
            pairs,
            vec![
                ("a".to_owned(), "1 2".to_owned()),
                ("b c".to_owned(), "/x".to_owned()),
                ("flag".to_owned(), String::new()),
                ("d".to_owned(), String::new()),
            ]
        );
    }

    #[test]
    fn strips_only_the_named_parameter() {
        assert_eq!(strip_query_param("token=T&a=1", "token"), "a=1");
        assert_eq!(strip_query_param("a=1&token=T", "token"), "a=1");
        assert_eq!(
            strip_query_param("a=%2F&token=T&b=x+y", "token"),
            "a=%2F&b=x+y"
        );
        assert_eq!(strip_query_param("to%6Ben=T&tokens=1", "token"), "tokens=1");
        assert_eq!(strip_query_param("token=1&token=2", "token"), "");
        assert_eq!(strip_query_param("a=1&&b=2", "token"), "a=1&&b=2");
        assert_eq!(strip_query_param("token", "token"), "");
    }

    #[test]
    fn appends_encoded_pairs() {
        assert_eq!(
            append_query_pairs("", [("api_key", "a b&c")]),
            "api_key=a%20b%26c"
        );
        assert_eq!(append_query_pairs("x=%2F", [("k", "v")]), "x=%2F&k=v");
        assert_eq!(append_query_pairs("x=1&", [("k", "v")]), "x=1&k=v");
    }

    /// One query piece: either the parameter to strip (plainly or percent-encoded) or another.
    fn piece(name: &'static str) -> impl Strategy<Value = (bool, String)> {
        let value = "[a-zA-Z0-9%+=/]{0,8}";
        prop_oneof![
            (any::<bool>(), value).prop_map(move |(escaped, value)| {
                let written = if escaped {
                    format!("%{:02X}{}", name.as_bytes()[0], &name[1..])
                } else {
                    name.to_owned()
                };
                (true, format!("{written}={value}"))
            }),
            ("[a-z0-9]{1,4}", proptest::option::of(value))
                .prop_filter("another name", move |(other, _)| other != name)
                .prop_map(|(other, value)| match value {
                    Some(value) => (false, format!("{other}={value}")),
                    None => (false, other),
                }),
        ]
    }

    proptest! {
        #[test]
        fn stripping_keeps_every_other_pair_byte_for_byte(
            pieces in proptest::collection::vec(piece("tok"), 0..8),
        ) {
            let raw = pieces.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>().join("&");
            let others: Vec<&str> = pieces
                .iter()
                .filter(|(target, _)| !target)
                .map(|(_, p)| p.as_str())
                .collect();
            prop_assert_eq!(strip_query_param(&raw, "tok"), others.join("&"));
        }
    }
}
