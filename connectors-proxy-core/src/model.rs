//! The Connector and ConnectorClass custom resources (`connectors.alauda.io/v1alpha1`).
//!
//! Field names follow the upstream API so the same manifests apply to a real cluster and to the
//! embedded manifest folder. Unknown fields are ignored when reading.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of both resources.
pub const GROUP: &str = "connectors.alauda.io";
/// The API version of both resources.
pub const VERSION: &str = "v1alpha1";
/// The resource name checked by SubjectAccessReview.
pub const CONNECTORS_RESOURCE: &str = "connectors";
/// The subresource checked when proxy permissions are required.
pub const PROXY_SUBRESOURCE: &str = "proxy";

/// A tool instance: its address and the Secret holding its credentials.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "connectors.alauda.io",
    version = "v1alpha1",
    kind = "Connector",
    namespaced,
    status = "ConnectorStatus",
    shortname = "ctr"
)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorSpec {
    /// The ConnectorClass this connector is an instance of.
    #[serde(default)]
    pub connector_class_name: String,
    /// The tool's base URL; may include a path prefix such as `https://h/gitlab`.
    pub address: String,
    /// Further URLs of the same tool (an API host, say); each counts as an injection target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address_extensions: Vec<AddressExtension>,
    /// Which class auth type to use and where its Secret is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ConnectorAuth>,
    /// Template parameters of the class (not used by the proxy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<NamedValue>,
    /// A Secret in the same namespace holding CA certificates for the tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_secret_ref: Option<LocalSecretReference>,
}

/// One named extra address of a connector.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct AddressExtension {
    /// The name the class declares for this address.
    pub name: String,
    /// An `http`/`https` URL.
    pub value: String,
}

/// The auth section of a connector.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorAuth {
    /// The class auth type to use.
    #[serde(default)]
    pub name: String,
    /// The Secret in the connector's namespace; absent only for an optional auth type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretReference>,
    /// Probe parameters (not used by the proxy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<NamedValue>,
}

/// A reference to a Secret, by name (the namespace defaults to the connector's).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct SecretReference {
    /// The Secret's name.
    pub name: String,
    /// The Secret's namespace; only the connector's own namespace is honoured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A reference to a Secret in the same namespace.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct LocalSecretReference {
    /// The Secret's name.
    pub name: String,
}

/// A name with a string value.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct NamedValue {
    /// The parameter name.
    pub name: String,
    /// The parameter value.
    #[serde(default)]
    pub value: String,
}

/// What the controller reports about a connector.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorStatus {
    /// Where clients reach the connector through its proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ConnectorProxyStatus>,
    /// Standard conditions, such as `ProxyServiceReady`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The proxy part of a connector's status.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorProxyStatus {
    /// The plain-HTTP proxy address; empty when the class has no proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_address: Option<UrlHolder>,
}

/// An object with one `url` field.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct UrlHolder {
    /// The URL.
    #[serde(default)]
    pub url: String,
}

/// A status condition as Kubernetes defines it.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The condition type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A machine-readable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A kind of tool: its auth types and how its proxy finds and builds credentials.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "connectors.alauda.io",
    version = "v1alpha1",
    kind = "ConnectorClass",
    status = "ConnectorClassStatus",
    shortname = "ctrc"
)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorClassSpec {
    /// The auth types connectors of this class may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<ClassAuth>,
    /// The proxy serving this class; without it the class's connectors are not proxied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ClassProxy>,
}

/// The auth section of a class.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct ClassAuth {
    /// The auth types, by name.
    #[serde(default)]
    pub types: Vec<AuthType>,
}

/// One auth type of a class.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthType {
    /// The name connectors refer to in `spec.auth.name`.
    pub name: String,
    /// The Secret type, such as `kubernetes.io/basic-auth`.
    #[serde(default)]
    pub secret_type: String,
    /// The Secret keys this type reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<AuthParam>,
    /// Whether a connector may omit the Secret.
    #[serde(default)]
    pub optional: bool,
    /// A Rego policy that builds the tool credentials from the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<RegoPolicy>,
}

/// A Secret key declared by an auth type.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct AuthParam {
    /// The Secret key.
    pub name: String,
    /// The declared value type, such as `string`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// The proxy section of a class.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClassProxy {
    /// The Service that serves this class's proxy.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<ServiceReference>,
    /// The proxy's URI, instead of a Service reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// A Rego policy that finds the client token in a request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_extractor: Option<RegoPolicy>,
}

/// A reference to the Service of a class proxy.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct ServiceReference {
    /// Always `Service`.
    #[serde(default)]
    pub kind: String,
    /// The Service's name.
    pub name: String,
    /// The Service's namespace.
    #[serde(default)]
    pub namespace: String,
}

/// A Rego policy held inline.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
pub struct RegoPolicy {
    /// The policy source (`package proxy`, rule `auth`).
    #[serde(default)]
    pub rego: String,
}

/// What the controller reports about a class.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorClassStatus {
    /// Where the class's proxy is reachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_address: Option<UrlHolder>,
    /// Standard conditions, such as `ProxyReady`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_upstream_shaped_manifests() {
        let connector: Connector = serde_json::from_value(serde_json::json!({
            "apiVersion": "connectors.alauda.io/v1alpha1",
            "kind": "Connector",
            "metadata": {"name": "github", "namespace": "default"},
            "spec": {
                "connectorClassName": "github",
                "address": "https://github.com",
                "addressExtensions": [{"name": "api", "value": "https://api.github.com"}],
                "auth": {"name": "basicAuth", "secretRef": {"name": "gh-secret"}},
                "unknownField": true
            }
        }))
        .unwrap();
        assert_eq!(connector.spec.address_extensions[0].name, "api");
        assert_eq!(
            connector.spec.auth.unwrap().secret_ref.unwrap().name,
            "gh-secret"
        );

        let class: ConnectorClass = serde_json::from_value(serde_json::json!({
            "apiVersion": "connectors.alauda.io/v1alpha1",
            "kind": "ConnectorClass",
            "metadata": {"name": "gitlab"},
            "spec": {
                "auth": {"types": [{
                    "name": "patAuth",
                    "secretType": "connectors.cpaas.io/gitlab-pat-auth",
                    "params": [{"name": "token", "type": "string"}],
                    "generator": {"rego": "package proxy"}
                }]},
                "proxy": {
                    "ref": {"kind": "Service", "name": "connectors-proxy-service", "namespace": "connectors-system"},
                    "authExtractor": {"rego": "package proxy"}
                }
            }
        }))
        .unwrap();
        let proxy = class.spec.proxy.unwrap();
        assert_eq!(proxy.reference.unwrap().name, "connectors-proxy-service");
        assert!(proxy.auth_extractor.is_some());
    }
}
