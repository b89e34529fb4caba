//! `<namespace>/<name>` references to connectors, validated as Kubernetes object names.

use std::fmt;

/// A reference to one connector by namespace and name, as clients list it.
///
/// Values built with [`ConnectorRef::new`] or [`ConnectorRef::parse`] always hold a valid
/// namespace (a DNS-1123 label) and name (a DNS-1123 subdomain).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectorRef {
    /// The connector's namespace.
    pub namespace: String,
    /// The connector's name.
    pub name: String,
}

/// Why a connector reference was refused; it never repeats the text it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidConnectorRef {
    /// There is no `/` between namespace and name.
    #[error("a connector must be written <namespace>/<name>")]
    MissingSlash,
    /// The namespace is not a DNS-1123 label.
    #[error("the namespace is not a valid Kubernetes namespace name")]
    Namespace,
    /// The name is not a DNS-1123 subdomain.
    #[error("the connector name is not a valid Kubernetes object name")]
    Name,
}

impl ConnectorRef {
    /// Builds a reference, checking both parts.
    pub fn new(namespace: &str, name: &str) -> Result<Self, InvalidConnectorRef> {
        if !is_dns1123_label(namespace) {
            return Err(InvalidConnectorRef::Namespace);
        }
        if !is_dns1123_subdomain(name) {
            return Err(InvalidConnectorRef::Name);
        }
        Ok(Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    /// Parses `<namespace>/<name>`.
    pub fn parse(text: &str) -> Result<Self, InvalidConnectorRef> {
        let (namespace, name) = text
            .split_once('/')
            .ok_or(InvalidConnectorRef::MissingSlash)?;
        Self::new(namespace, name)
    }
}

impl fmt::Display for ConnectorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Whether `s` is a DNS-1123 label: at most 63 lowercase letters, digits and `-`, starting and
/// ending with a letter or digit. Namespaces are labels.
fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && is_label_text(s)
}

/// Whether `s` is a DNS-1123 subdomain: at most 253 characters of `.`-separated labels.
/// Most object names, connectors included, are subdomains.
fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label_text)
}

fn is_label_text(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|&b| alnum(b) || b == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_kubernetes_names() {
        assert!(is_dns1123_label("default"));
        assert!(is_dns1123_label("a-1"));
        assert!(!is_dns1123_label("a.b"));
        assert!(!is_dns1123_label(&"a".repeat(64)));
        assert!(!is_dns1123_label("-a"));
        assert!(!is_dns1123_label("A"));
        assert!(!is_dns1123_label(""));
        assert!(is_dns1123_subdomain("my.connector-1"));
        assert!(!is_dns1123_subdomain("my..connector"));
        assert!(!is_dns1123_subdomain("my.connector."));
        assert!(!is_dns1123_subdomain(&"a".repeat(254)));
    }

    #[test]
    fn parses_namespace_and_name() {
        let r = ConnectorRef::parse("default/github").unwrap();
        assert_eq!(
            (r.namespace.as_str(), r.name.as_str()),
            ("default", "github")
        );
        assert_eq!(r.to_string(), "default/github");
        assert_eq!(
            ConnectorRef::parse("github"),
            Err(InvalidConnectorRef::MissingSlash)
        );
        assert_eq!(
            ConnectorRef::parse("a.b/github"),
            Err(InvalidConnectorRef::Namespace)
        );
        assert_eq!(
            ConnectorRef::parse("default/a/b"),
            Err(InvalidConnectorRef::Name)
        );
    }
}
