//! The harness shared by the integration suites: the proxy process, test servers and clients.
//!
//! Each suite uses a different part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub(crate) mod curl;
pub(crate) mod fixture;
pub(crate) mod forward_fixture;
pub(crate) mod git_client;
pub(crate) mod git_server;
pub(crate) mod kube_api;
pub(crate) mod manifests;
pub(crate) mod proxy;
pub(crate) mod raw;
pub(crate) mod tls_tool;
pub(crate) mod tunnel;
pub(crate) mod upstream;

/// All values of header `name` (case-insensitive) in a recorded header list, in order.
pub(crate) fn header_values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}
