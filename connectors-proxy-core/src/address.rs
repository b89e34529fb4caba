//! Tool addresses: parsing `spec.address`, joining request paths onto it, and comparing origins.
//!
//! Paths are handled as raw, still-escaped text: nothing here decodes `%2F`, merges `//` or
//! touches the query, so what the client sent is what the tool receives.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// Why a connector address could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The text is not an absolute URL.
    #[error("address {0:?} is not an absolute http or https URL")]
    NotAbsolute(String),
    /// The scheme is neither `http` nor `https`.
    #[error("address {0:?} must use http or https")]
    Scheme(String),
    /// The URL has userinfo, a query or a fragment.
    #[error("address {0:?} must not carry credentials, a query or a fragment")]
    Extra(String),
}

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    /// Parses a scheme name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("http") {
            Some(Self::Http)
        } else if s.eq_ignore_ascii_case("https") {
            Some(Self::Https)
        } else {
            None
        }
    }

    /// The scheme's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// The port used when a URL names none.
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scheme, host and port, compared with default ports and IP literals normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The scheme.
    pub scheme: Scheme,
    /// The host: lowercase DNS name without a trailing dot, or an IP literal in canonical form
    /// (IPv6 in brackets).
    pub host: String,
    /// The port, explicit or the scheme's default.
    pub port: u16,
}

impl Origin {
    /// Builds an origin from parts, normalising the host.
    pub fn new(scheme: Scheme, host: &str, port: Option<u16>) -> Self {
        Self {
            scheme,
            host: canonical_host(host),
            port: port.unwrap_or(scheme.default_port()),
        }
    }

    /// The authority as a client would write it: the port only when it is not the default.
    pub fn authority(&self) -> String {
        if self.port == self.scheme.default_port() {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority())
    }
}

/// Normalises a host: lowercase, no trailing dot, IP literals in canonical form.
pub(crate) fn canonical_host(host: &str) -> String {
    let host = host.trim_end_matches('.');
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return match inner.parse::<Ipv6Addr>() {
            Ok(ip) => format!("[{ip}]"),
            Err(_) => host.to_ascii_lowercase(),
        };
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.to_string(),
        Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
        Err(_) => host.to_ascii_lowercase(),
    }
}

/// A connector's `spec.address` (or an `addressExtensions` value), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    origin: Origin,
    /// The path as written in the manifest (`""` when there is none).
    path: String,
    /// The path without trailing slashes: what request paths are appended to.
    prefix: String,
}

impl Address {
    /// Parses an absolute `http`/`https` URL without userinfo, query or fragment.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let text = text.trim();
        let uri: http::Uri = text
            .parse()
            .map_err(|_| AddressError::NotAbsolute(text.to_owned()))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| AddressError::NotAbsolute(text.to_owned()))?;
        let scheme = Scheme::parse(scheme).ok_or_else(|| AddressError::Scheme(text.to_owned()))?;
        let authority = uri
            .authority()
            .ok_or_else(|| AddressError::NotAbsolute(text.to_owned()))?;
        if authority.as_str().contains('@') || uri.query().is_some() || text.contains('#') {
            return Err(AddressError::Extra(text.to_owned()));
        }
        if authority.host().is_empty() {
            return Err(AddressError::NotAbsolute(text.to_owned()));
        }
        let origin = Origin::new(scheme, authority.host(), authority.port_u16());
        // `http::Uri` reports "/" for both "https://h" and "https://h/"; keep what was written.
        let after_scheme = text.find("://").map_or(0, |i| i + 3);
        let path = text[after_scheme + authority.as_str().len()..].to_owned();
        let prefix = path.trim_end_matches('/').to_owned();
        Ok(Self {
            origin,
            path,
            prefix,
        })
    }

    /// The address's origin.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The path prefix requests are mapped under, without a trailing slash (`""` for none).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The upstream path and query for a request whose path below the connector is `rest`.
    ///
    /// `rest` is raw and either empty or starts with `/`; `query` is copied verbatim. An empty
    /// `rest` maps to the address itself (its path as written, or `/`).
    pub fn join(&self, rest: &str, query: Option<&str>) -> String {
        let mut out =
            String::with_capacity(self.path.len() + rest.len() + 1 + query.map_or(0, str::len));
        if rest.is_empty() {
            out.push_str(if self.path.is_empty() {
                "/"
            } else {
                &self.path
            });
        } else {
            out.push_str(&self.prefix);
            if !rest.starts_with('/') {
                out.push('/');
            }
            out.push_str(rest);
        }
        if let Some(query) = query {
            out.push('?');
            out.push_str(query);
        }
        out
    }

    /// If `path` lies under this address's prefix at a segment boundary, the part after it.
    ///
    /// `"/gitlab/x"` under `/gitlab` gives `Some("/x")`, `"/gitlab"` gives `Some("")`, and
    /// `"/gitlabx"` gives `None`.
    pub fn strip_prefix<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(self.prefix.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }

    /// Whether a request to `origin` with raw `path` is a target of this address.
    pub fn matches(&self, origin: &Origin, path: &str) -> bool {
        self.origin == *origin && self.strip_prefix(path).is_some()
    }
}

/// Whether a raw request path has a `.` or `..` segment once percent-decoded, counting `\`
/// and decoded `%2F` as separators too. A tool that normalises such a path would apply the
/// connector's credentials outside the connector's address (`/api/../admin`), so the proxy
/// refuses these paths rather than forwarding them as they are.
pub fn has_dot_segment(path: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    decoded
        .split(['/', '\\'])
        .any(|segment| segment == "." || segment == "..")
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments() {
        for path in [
            "/..",
            "/api/../x",
            "/api/./x",
            "/api/%2e%2E/x",
            "/api/.%2e",
            "/api/..%2fx",
            "/api/..%5Cx",
            "..",
            "/a/..\\b",
        ] {
            assert!(has_dot_segment(path), "{path}");
        }
        for path in [
            "/",
            "",
            "/api/x",
            "/a..b/c",
            "/...",
            "/.git/config",
            "/a%2Fb",
            "//x",
        ] {
            assert!(!has_dot_segment(path), "{path}");
        }
    }

    proptest::proptest! {
        #[test]
        fn paths_without_dots_have_no_dot_segment(path in "(/[a-zA-Z0-9_~-]{0,8}){0,6}") {
            proptest::prop_assert!(!has_dot_segment(&path));
        }

        #[test]
        fn a_dot_segment_anywhere_is_found(
            head in "(/[a-z]{1,4}){0,3}",
            dots in proptest::sample::select(vec!["..", ".", "%2e%2e", "%2E.", "%2e"]),
            tail in "(/[a-z]{0,4}){0,3}",
        ) {
            let path = format!("{head}/{dots}{tail}");
            proptest::prop_assert!(has_dot_segment(&path), "{}", path);
        }
    }

    #[test]
    fn parses_and_normalises() {
        let a = Address::parse("HTTPS://Git.Example.com:443/gitlab/").unwrap();
        assert_eq!(a.origin().host, "git.example.com");
        assert_eq!(a.origin().port, 443);
        assert_eq!(a.origin().authority(), "git.example.com");
        assert_eq!(a.prefix(), "/gitlab");
        let v6 = Address::parse("http://[0:0::1]:8080").unwrap();
        assert_eq!(v6.origin().host, "[::1]");
        assert_eq!(v6.origin().authority(), "[::1]:8080");
        assert!(Address::parse("ftp://h").is_err());
        assert!(Address::parse("https://u:p@h").is_err());
        assert!(Address::parse("https://h/?q=1").is_err());
        assert!(Address::parse("/relative").is_err());
    }

    #[test]
    fn joins_raw_paths() {
        let root = Address::parse("https://h").unwrap();
        assert_eq!(root.join("", None), "/");
        assert_eq!(
            root.join("/a%2Fb//c", Some("x=%2B&y=")),
            "/a%2Fb//c?x=%2B&y="
        );
        let prefixed = Address::parse("https://h/gitlab").unwrap();
        assert_eq!(prefixed.join("", None), "/gitlab");
        assert_eq!(prefixed.join("/", None), "/gitlab/");
        assert_eq!(
            prefixed.join("/g/r.git/info/refs", Some("service=git-upload-pack")),
            "/gitlab/g/r.git/info/refs?service=git-upload-pack"
        );
        let slashed = Address::parse("https://h/gitlab/").unwrap();
        assert_eq!(slashed.join("", None), "/gitlab/");
        assert_eq!(slashed.join("/x", None), "/gitlab/x");
    }

    #[test]
    fn prefix_matches_at_segment_boundaries() {
        let a = Address::parse("https://h/gitlab").unwrap();
        assert_eq!(a.strip_prefix("/gitlab/x"), Some("/x"));
        assert_eq!(a.strip_prefix("/gitlab"), Some(""));
        assert_eq!(a.strip_prefix("/gitlabx"), None);
        let origin = Origin::new(Scheme::Https, "H", Some(443));
        assert!(a.matches(&origin, "/gitlab/api"));
        assert!(!a.matches(&Origin::new(Scheme::Http, "h", None), "/gitlab/api"));
    }
}
