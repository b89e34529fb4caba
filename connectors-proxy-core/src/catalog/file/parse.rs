//! Reading one manifest file into typed objects.
//!
//! Errors say where a file is wrong and never quote it: a manifest may hold Secret values, and
//! both YAML error snippets and serde's "invalid type: string ..." messages would repeat them.

use k8s_openapi::Resource;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::debug;

use super::RbacObjects;
use crate::catalog::snapshot::{DEFAULT_NAMESPACE, Objects};
use crate::model::{Connector, GROUP, VERSION};

/// Everything one manifest file defines.
#[derive(Debug, Clone, Default)]
pub(super) struct FileObjects {
    /// Connectors, classes and Secrets.
    pub(super) objects: Objects,
    /// Roles and bindings.
    pub(super) rbac: RbacObjects,
}

/// Why a manifest file could not be read; the message never quotes the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum ParseError {
    /// The file is not UTF-8 text.
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    /// The YAML is malformed.
    #[error("invalid YAML{}", at(*.line, *.column))]
    Yaml {
        /// 1-based line, 0 when unknown.
        line: u64,
        /// 1-based column, 0 when unknown.
        column: u64,
    },
    /// The JSON is malformed.
    #[error("invalid JSON ({category}){}", at(*.line as u64, *.column as u64))]
    Json {
        /// `syntax`, `data` or `eof`.
        category: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A document is well-formed but is not a valid object of its kind.
    #[error("document {index} ({kind} {name:?}): {reason}")]
    Object {
        /// 1-based position of the document in the file.
        index: usize,
        /// The document's kind.
        kind: String,
        /// The document's `metadata.name`.
        name: String,
        /// What does not match the kind's schema.
        reason: String,
    },
}

fn at(line: u64, column: u64) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(" at line {line}, column {column}")
    }
}

/// Parses a JSON file (`json == true`) or a multi-document YAML file.
pub(super) fn parse_file(bytes: &[u8], json: bool) -> Result<FileObjects, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ParseError::NotUtf8)?;
    let documents: Vec<Value> = if json {
        let value = serde_json::from_str(text).map_err(|e| ParseError::Json {
            category: match e.classify() {
                serde_json::error::Category::Io => "io",
                serde_json::error::Category::Syntax => "syntax",
                serde_json::error::Category::Data => "data",
                serde_json::error::Category::Eof => "unexpected end",
            },
            line: e.line(),
            column: e.column(),
        })?;
        vec![value]
    } else {
        serde_saphyr::from_multiple::<Value>(text).map_err(|e| {
            let location = e.location().unwrap_or(serde_saphyr::Location::UNKNOWN);
            ParseError::Yaml {
                line: location.line(),
                column: location.column(),
            }
        })?
    };
    let mut out = FileObjects::default();
    for (index, document) in documents.into_iter().enumerate() {
        add_document(&mut out, document, index + 1)?;
    }
    Ok(out)
}

/// Adds one document (or the items of a `List`) to `out`, by `apiVersion` and `kind`.
fn add_document(out: &mut FileObjects, document: Value, index: usize) -> Result<(), ParseError> {
    let api_version = document["apiVersion"].as_str().unwrap_or_default();
    let kind = document["kind"].as_str().unwrap_or_default().to_owned();
    let objects = &mut out.objects;
    let rbac = &mut out.rbac;
    if api_version.split_once('/') == Some((GROUP, VERSION)) {
        match kind.as_str() {
            "Connector" => {
                let mut connector: Connector = typed(document, index, false)?;
                default_namespace(&mut connector.metadata);
                objects.connectors.push(connector);
                return Ok(());
            }
            "ConnectorClass" => {
                objects.classes.push(typed(document, index, false)?);
                return Ok(());
            }
            _ => {}
        }
    }
    if is::<Secret>(api_version, &kind) {
        let mut secret: Secret = typed(document, index, true)?;
        default_namespace(&mut secret.metadata);
        objects.secrets.push(secret);
    } else if is::<Role>(api_version, &kind) {
        let mut role: Role = typed(document, index, false)?;
        default_namespace(&mut role.metadata);
        rbac.roles.push(role);
    } else if is::<RoleBinding>(api_version, &kind) {
        let mut binding: RoleBinding = typed(document, index, false)?;
        default_namespace(&mut binding.metadata);
        rbac.role_bindings.push(binding);
    } else if is::<ClusterRole>(api_version, &kind) {
        rbac.cluster_roles.push(typed(document, index, false)?);
    } else if is::<ClusterRoleBinding>(api_version, &kind) {
        rbac.cluster_role_bindings
            .push(typed(document, index, false)?);
    } else if api_version == "v1" && kind == "List" {
        let Value::Array(items) = document["items"].clone() else {
            return Err(object_error(&document, index, "items is not a list".into()));
        };
        for item in items {
            add_document(out, item, index)?;
        }
    } else {
        debug!(
            index,
            api_version, kind, "ignoring a document of an unused kind"
        );
    }
    Ok(())
}

fn is<K: Resource>(api_version: &str, kind: &str) -> bool {
    api_version == K::API_VERSION && kind == K::KIND
}

/// Converts a document into its type; for Secrets the serde message is withheld, since serde
/// quotes the offending value.
fn typed<T: DeserializeOwned>(
    document: Value,
    index: usize,
    secret: bool,
) -> Result<T, ParseError> {
    T::deserialize(&document).map_err(|e| {
        let reason = if secret {
            "not a valid Secret (data values must be base64 strings, stringData values strings)"
                .to_owned()
        } else {
            e.to_string()
        };
        object_error(&document, index, reason)
    })
}

fn object_error(document: &Value, index: usize, reason: String) -> ParseError {
    ParseError::Object {
        index,
        kind: document["kind"].as_str().unwrap_or_default().to_owned(),
        name: document["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        reason,
    }
}

/// Gives a namespaced object without a namespace the one `kubectl apply` would.
fn default_namespace(metadata: &mut ObjectMeta) {
    if metadata.namespace.as_deref().is_none_or(str::is_empty) {
        metadata.namespace = Some(DEFAULT_NAMESPACE.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_locate_without_quoting() {
        let yaml = "apiVersion: v1\nkind: Secret\nstringData:\n  password: hunter2\n  : [oops\n";
        let error = parse_file(yaml.as_bytes(), false).unwrap_err();
        let text = error.to_string();
        assert!(
            matches!(error, ParseError::Yaml { line: 1.., .. }),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");

        let wrong_type =
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  pin: 4242\n";
        let text = parse_file(wrong_type.as_bytes(), false)
            .unwrap_err()
            .to_string();
        assert!(text.contains("Secret \"s\""), "{text}");
        assert!(!text.contains("4242"), "{text}");

        let json = parse_file(
            br#"{"kind": "Secret", "stringData": {"password": hunter2}}"#,
            true,
        );
        let text = json.unwrap_err().to_string();
        assert!(text.contains("line 1"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn namespaced_objects_default_their_namespace() {
        let yaml = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n\
                    metadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n";
        let parsed = parse_file(yaml.as_bytes(), false).unwrap();
        let namespace = parsed.rbac.role_bindings[0].metadata.namespace.as_deref();
        assert_eq!(namespace, Some(DEFAULT_NAMESPACE));
    }
}
