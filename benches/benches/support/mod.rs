//! Pieces shared by the stack and review benches: a reviewer that answers at once from memory
//! and a stack configuration over an in-memory catalog.

#![allow(dead_code, reason = "each bench target uses only part of this module")]

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use connectors_proxy_core::address::Address;
use connectors_proxy_core::catalog::{
    ClassEntry, ConnectorEntry, Credentials, MemoryCatalog, SecretData,
};
use connectors_proxy_core::layers::inject::BASIC_AUTH;
use connectors_proxy_core::metrics::Metrics;
use connectors_proxy_core::proxy::StackConfig;
use connectors_proxy_core::review::{
    AccessCheck, Authentication, Identity, ReviewError, Reviewer, UserInfo,
};
use connectors_proxy_core::secret::{ClientToken, SecretString};
use connectors_proxy_core::upstream::{Upstream, UpstreamSettings, tls_config};

/// The namespace of the bench connector.
pub(crate) const NS: &str = "team-a";
/// The name of the bench connector.
pub(crate) const CONNECTOR: &str = "gitlab";

/// A client token of realistic length (ServiceAccount JWTs are about 1 KiB).
pub(crate) fn client_token() -> String {
    "eyJhbGciOiJSUzI1NiJ9.".repeat(48)
}

/// Knows one token, whose ServiceAccount may `get` every connector; answers without waiting.
pub(crate) struct InstantReviewer {
    token: String,
    user: Arc<UserInfo>,
}

impl InstantReviewer {
    /// A reviewer that accepts only `token`.
    pub(crate) fn new(token: &str) -> Self {
        let user = UserInfo {
            username: format!("system:serviceaccount:{NS}:client"),
            ..UserInfo::default()
        };
        Self {
            token: token.to_owned(),
            user: Arc::new(user),
        }
    }
}

#[async_trait]
impl Reviewer for InstantReviewer {
    async fn authenticate(&self, token: &ClientToken) -> Result<Authentication, ReviewError> {
        Ok(if token.expose() == self.token {
            Authentication::Authenticated {
                user: self.user.clone(),
                expires_at: None,
            }
        } else {
            Authentication::Rejected
        })
    }

    async fn authorize(
        &self,
        identity: &Identity,
        check: &AccessCheck,
    ) -> Result<bool, ReviewError> {
        Ok(identity.user.username == self.user.username && check.verb == "get")
    }
}

/// The bench connector: basic-auth credentials for a tool under a path prefix.
pub(crate) fn connector() -> ConnectorEntry {
    let data: BTreeMap<String, SecretString> = [
        ("username".to_owned(), SecretString::new("tool-user")),
        ("password".to_owned(), SecretString::new("tool-password")),
    ]
    .into_iter()
    .collect();
    ConnectorEntry {
        namespace: NS.into(),
        name: CONNECTOR.into(),
        address: Address::parse("https://git.example.com/gitlab").expect("valid address"),
        extensions: Vec::new(),
        class: Arc::new(ClassEntry {
            name: "gitlab".into(),
            proxied: true,
            auth_types: Vec::new(),
            ..ClassEntry::default()
        }),
        credentials: Credentials::Secret {
            auth_type: "basicAuth".into(),
            secret: Arc::new(SecretData {
                name: "gitlab-secret".into(),
                type_: BASIC_AUTH.into(),
                data,
            }),
        },
    }
}

/// A stack configuration over a catalog holding [`connector`] and the given reviewer.
pub(crate) fn stack_config(reviewer: Arc<dyn Reviewer>) -> StackConfig {
    let catalog = Arc::new(MemoryCatalog::new());
    catalog.insert(connector());
    let metrics = Arc::new(Metrics::new());
    let tls = tls_config(None).expect("TLS roots load");
    let upstream = Upstream::new(tls, UpstreamSettings::default(), metrics.clone());
    StackConfig::new(catalog, reviewer, upstream, metrics)
}
