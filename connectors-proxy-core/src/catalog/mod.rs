//! Where connectors, their classes and their Secrets come from.
//!
//! A [`Catalog`] answers one question on the hot path: given a namespace and a name, what is the
//! connector, ready to use? Implementations keep a prepared [`ConnectorEntry`] per connector so
//! the answer costs a map lookup.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::address::Address;
use crate::model::AuthType;
use crate::rego::Policy;
use crate::secret::SecretString;

mod connector_ref;
pub mod file;
mod kube;
mod memory;
pub(crate) mod policies;
pub(crate) mod snapshot;

pub(crate) use self::kube::describe_error;
pub use self::kube::{KubeCatalog, KubeCatalogSettings};
pub use connector_ref::{ConnectorRef, InvalidConnectorRef};
pub use file::FileCatalog;
pub use memory::MemoryCatalog;

/// A connector as the proxy uses it: parsed addresses, its class and its credentials.
#[derive(Debug)]
pub struct ConnectorEntry {
    /// The connector's namespace.
    pub namespace: String,
    /// The connector's name.
    pub name: String,
    /// The parsed `spec.address`.
    pub address: Address,
    /// The parsed `spec.addressExtensions`, by name.
    pub extensions: Vec<(String, Address)>,
    /// The connector's class.
    pub class: Arc<ClassEntry>,
    /// What to inject into requests for this connector.
    pub credentials: Credentials,
}

impl ConnectorEntry {
    /// A connector at `address` with no extension addresses, such as a custom proxy or a test
    /// puts into a [`MemoryCatalog`].
    pub fn new(
        namespace: &str,
        name: &str,
        address: Address,
        class: Arc<ClassEntry>,
        credentials: Credentials,
    ) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            address,
            extensions: Vec::new(),
            class,
            credentials,
        }
    }

    /// The Secret the connector's credentials come from, when it has a usable one.
    pub fn secret(&self) -> Option<&SecretData> {
        match &self.credentials {
            Credentials::Secret { secret, .. } => Some(secret),
            Credentials::None | Credentials::Broken(_) => None,
        }
    }

    /// `spec.address` followed by every extension address.
    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        std::iter::once(&self.address).chain(self.extensions.iter().map(|(_, a)| a))
    }

    /// `<namespace>/<name>`, for messages and logs.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A ConnectorClass as the proxy uses it.
#[derive(Debug, Default)]
pub struct ClassEntry {
    /// The class name.
    pub name: String,
    /// Whether the class has a proxy (`spec.proxy`); connectors of other classes are refused.
    pub proxied: bool,
    /// The class's auth types.
    pub auth_types: Vec<AuthType>,
    /// The compiled `spec.proxy.authExtractor`, when the class has one that compiles.
    pub extractor: Option<Policy>,
    /// The compiled credential generators, by auth type name.
    pub generators: BTreeMap<String, Policy>,
    /// Why a policy of the class does not compile; its connectors are refused with `500`.
    pub problem: Option<String>,
}

impl ClassEntry {
    /// A class with a proxy and no auth types or policies: the class of a custom proxy that
    /// brings its own credential step.
    pub fn proxied(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            proxied: true,
            ..Self::default()
        })
    }
}

/// The tool credentials of a connector.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// The auth type is optional and no Secret is referenced: requests go without credentials.
    None,
    /// A Secret to inject from.
    Secret {
        /// The class auth type (`spec.auth.name`).
        auth_type: String,
        /// The Secret's contents.
        secret: Arc<SecretData>,
    },
    /// The Secret is missing or unusable; requests are refused with this reason (no values).
    Broken(String),
}

/// A Secret's type and decoded data.
#[derive(Debug, Clone, Default)]
pub struct SecretData {
    /// The Secret's name.
    pub name: String,
    /// The Secret's `type`, such as `kubernetes.io/basic-auth`.
    pub type_: String,
    /// `data` (base64-decoded) merged with `stringData`; values must be UTF-8.
    pub data: BTreeMap<String, SecretString>,
}

impl Credentials {
    /// Credentials from `secret` for the connector's auth type `auth_type` (the name in the
    /// connector's `spec.auth.name`, one of its class's auth types; a class from
    /// [`ClassEntry::proxied`] declares none, so any name serves as a label).
    pub fn secret(auth_type: &str, secret: SecretData) -> Self {
        Self::Secret {
            auth_type: auth_type.to_owned(),
            secret: Arc::new(secret),
        }
    }
}

impl SecretData {
    /// A Secret named `name` of type `type_` holding `data`.
    pub fn new<'a>(
        name: &str,
        type_: &str,
        data: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            type_: type_.to_owned(),
            data: data
                .into_iter()
                .map(|(key, value)| (key.to_owned(), SecretString::new(value)))
                .collect(),
        }
    }

    /// The value of one key.
    pub fn get(&self, key: &str) -> Option<&SecretString> {
        self.data.get(key)
    }
}

/// Why a catalog could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CatalogError {
    /// The connector exists but cannot be used as configured.
    #[error("connector {key} cannot be used: {reason}")]
    Unusable {
        /// `<namespace>/<name>`.
        key: String,
        /// What is wrong, without any credential.
        reason: String,
    },
    /// The catalog has no data yet or lost its source.
    #[error("the connector catalog is unavailable: {0}")]
    Unavailable(String),
}

/// A source of connectors.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// The connector `namespace/name`, or `None` when there is no such connector.
    async fn connector(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<ConnectorEntry>>, CatalogError>;

    /// Every connector in the catalog, for forward-mode target matching and diagnostics.
    fn connectors(&self) -> Vec<Arc<ConnectorEntry>>;

    /// Whether the catalog has loaded its initial data.
    fn is_ready(&self) -> bool;
}
