//! Where a forward request is going, and which connector address (if any) it targets.
//!
//! `CONNECT` carries an authority (`host:port`); other forward requests carry an absolute URI.
//! Both are reduced to an [`Origin`] and compared with connector addresses, whose origins are
//! normalised the same way (default ports, IP literals, case).

use std::net::Ipv6Addr;
use std::sync::Arc;

use crate::address::{Address, Origin, Scheme, canonical_host};
use crate::catalog::ConnectorEntry;

/// Why a request target was refused (answered with `400`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TargetError {
    /// A `CONNECT` authority without a port.
    #[error("CONNECT target must be host:port")]
    MissingPort,
    /// The port is not a number from 1 to 65535.
    #[error("target port is not a number from 1 to 65535")]
    InvalidPort,
    /// An IPv6 literal without brackets: where the address ends and the port starts is unclear.
    #[error("IPv6 targets must be written in brackets, as [2001:db8::1]:443")]
    AmbiguousIpv6,
    /// The host is empty, or has characters no host name or IP literal has.
    #[error("target host is not a valid host name or IP literal")]
    InvalidHost,
    /// An absolute-form request without an `http` or `https` scheme and a host.
    #[error("forward requests need an absolute http:// or https:// URI")]
    NotAbsolute,
    /// The URI carries userinfo (`user:pass@host`).
    #[error("request URI must not carry credentials")]
    Userinfo,
}

/// The host and port of a `CONNECT` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConnectTarget {
    /// The host as [`canonical_host`] normalises it (IPv6 keeps its brackets).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl ConnectTarget {
    /// The origin of the HTTPS traffic expected inside the tunnel.
    pub(crate) fn https_origin(&self) -> Origin {
        Origin::new(Scheme::Https, &self.host, Some(self.port))
    }
}

/// The parts of an absolute-form request URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AbsoluteTarget {
    /// Scheme, host and port.
    pub origin: Origin,
    /// The raw path, `/` when the URI has none.
    pub path: String,
    /// The raw query, without `?`.
    pub query: Option<String>,
}

/// Parses the authority form of a `CONNECT` request target: `host:port` or `[v6]:port`.
pub(crate) fn parse_authority_form(authority: &str) -> Result<ConnectTarget, TargetError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inner, after) = rest.split_once(']').ok_or(TargetError::InvalidHost)?;
        inner
            .parse::<Ipv6Addr>()
            .map_err(|_| TargetError::InvalidHost)?;
        let port = after.strip_prefix(':').ok_or(TargetError::MissingPort)?;
        (&authority[..inner.len() + 2], port)
    } else {
        let (host, port) = authority.rsplit_once(':').ok_or(TargetError::MissingPort)?;
        if host.contains(':') {
            return Err(TargetError::AmbiguousIpv6);
        }
        if host.is_empty() || !host.bytes().all(is_host_byte) {
            return Err(TargetError::InvalidHost);
        }
        (host, port)
    };
    Ok(ConnectTarget {
        host: canonical_host(host),
        port: parse_port(port)?,
    })
}

/// Splits an absolute-form request URI into origin, raw path and raw query.
pub(crate) fn origin_of_absolute(uri: &http::Uri) -> Result<AbsoluteTarget, TargetError> {
    let scheme = uri
        .scheme_str()
        .and_then(Scheme::parse)
        .ok_or(TargetError::NotAbsolute)?;
    let authority = uri.authority().ok_or(TargetError::NotAbsolute)?;
    if authority.as_str().contains('@') {
        return Err(TargetError::Userinfo);
    }
    if authority.host().is_empty() {
        return Err(TargetError::NotAbsolute);
    }
    let path = match uri.path() {
        "" => "/",
        path => path,
    };
    Ok(AbsoluteTarget {
        origin: Origin::new(scheme, authority.host(), authority.port_u16()),
        path: path.to_owned(),
        query: uri.query().map(str::to_owned),
    })
}

/// The connector address a request to `origin` with raw `path` targets, with its connector.
///
/// Every address of every candidate (`spec.address`, then extensions) is considered; the
/// longest matching path prefix wins, and among equally long ones the earliest candidate.
pub(crate) fn best_match<'a>(
    candidates: &'a [Arc<ConnectorEntry>],
    origin: &Origin,
    path: &str,
) -> Option<(&'a Arc<ConnectorEntry>, &'a Address)> {
    let mut best: Option<(&'a Arc<ConnectorEntry>, &'a Address)> = None;
    for entry in candidates {
        for address in entry.addresses() {
            let longer = best.is_none_or(|(_, b)| address.prefix().len() > b.prefix().len());
            if longer && address.matches(origin, path) {
                best = Some((entry, address));
            }
        }
    }
    best
}

/// Whether any address of any candidate has this origin: a `CONNECT` to it is intercepted.
pub(crate) fn host_matches(candidates: &[Arc<ConnectorEntry>], origin: &Origin) -> bool {
    candidates
        .iter()
        .flat_map(|entry| entry.addresses())
        .any(|address| address.origin() == origin)
}

fn parse_port(text: &str) -> Result<u16, TargetError> {
    if text.is_empty() {
        return Err(TargetError::MissingPort);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TargetError::InvalidPort);
    }
    match text.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(TargetError::InvalidPort),
    }
}

/// Bytes allowed in a host name or IPv4 literal of a `CONNECT` target.
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
}

#[cfg(test)]
mod tests;
