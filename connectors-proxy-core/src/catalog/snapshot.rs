//! A prepared view of connectors, classes and Secrets that catalogs serve lookups from.
//!
//! [`Snapshot::build`] resolves every connector's addresses, class and Secret once, so a lookup
//! on the hot path is two map reads. Anything wrong with an object becomes a [`Problem`] for the
//! operator and, where it affects requests, a refusal reason for clients. No reason ever holds a
//! Secret value.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;

use super::policies::compile_class;
use super::{CatalogError, ClassEntry, ConnectorEntry, Credentials, SecretData};
use crate::address::{Address, AddressError};
use crate::model::{Connector, ConnectorAuth, ConnectorClass};
use crate::secret::SecretString;

/// The namespace of a namespaced object whose manifest names none, as `kubectl apply` does.
pub(crate) const DEFAULT_NAMESPACE: &str = "default";

/// The keys each well-known Secret type must hold; other types are used as they are.
const REQUIRED_KEYS: &[(&str, &[&str])] = &[
    ("kubernetes.io/basic-auth", &["username", "password"]),
    ("connectors.cpaas.io/bearer-token", &["token"]),
    (
        "cpaas.io/distribution-registry-token",
        &["username", "password"],
    ),
];

/// The raw objects a [`Snapshot`] is built from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Objects {
    /// Connectors, from any namespace.
    pub connectors: Vec<Connector>,
    /// ConnectorClasses (cluster-scoped).
    pub classes: Vec<ConnectorClass>,
    /// Secrets connectors may reference.
    pub secrets: Vec<Secret>,
}

/// Something wrong with one object, reported to the operator when a snapshot is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The object, such as `Connector demo/echo` or `ConnectorClass http`.
    pub object: String,
    /// What is wrong, without any Secret value.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, self.reason)
    }
}

/// A connector ready to serve, or why it cannot be used.
pub(crate) type Lookup = Result<Arc<ConnectorEntry>, String>;

/// Every connector of a set of [`Objects`], prepared for lookup by namespace and name.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    by_namespace: HashMap<String, HashMap<String, Lookup>>,
}

impl Snapshot {
    /// Prepares every connector in `objects` and reports what is wrong with any object.
    pub(crate) fn build(objects: &Objects) -> (Self, Vec<Problem>) {
        let mut builder = Builder::new(objects);
        let mut by_namespace: HashMap<String, HashMap<String, Lookup>> = HashMap::new();
        for connector in &objects.connectors {
            let namespace = connector
                .metadata
                .namespace
                .as_deref()
                .unwrap_or(DEFAULT_NAMESPACE);
            let Some(name) = connector.metadata.name.as_deref() else {
                builder.problem(format!("Connector in {namespace}"), "has no metadata.name");
                continue;
            };
            let object = format!("Connector {namespace}/{name}");
            let class = builder
                .classes
                .get(connector.spec.connector_class_name.as_str())
                .cloned();
            let mut problems = Vec::new();
            let lookup = build_entry(
                namespace,
                name,
                connector,
                class,
                |ns, secret| builder.secret(ns, secret),
                &mut problems,
            );
            builder.problems.append(&mut problems);
            let previous = by_namespace
                .entry(namespace.to_owned())
                .or_default()
                .insert(name.to_owned(), lookup);
            if previous.is_some() {
                builder.problem(object, "is defined more than once; the last one is used");
            }
        }
        (Self { by_namespace }, builder.problems)
    }

    /// The connector `namespace/name`: `None` when there is none, `Unusable` when it is broken.
    pub(crate) fn get(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Arc<ConnectorEntry>>, CatalogError> {
        match self.by_namespace.get(namespace).and_then(|m| m.get(name)) {
            None => Ok(None),
            Some(Ok(entry)) => Ok(Some(Arc::clone(entry))),
            Some(Err(reason)) => Err(CatalogError::Unusable {
                key: format!("{namespace}/{name}"),
                reason: reason.clone(),
            }),
        }
    }

    /// Every usable connector, in no particular order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Arc<ConnectorEntry>> {
        self.by_namespace
            .values()
            .flat_map(HashMap::values)
            .filter_map(|lookup| lookup.as_ref().ok())
    }

    /// How many connectors the snapshot holds, usable or not.
    pub(crate) fn len(&self) -> usize {
        self.by_namespace.values().map(HashMap::len).sum()
    }
}

/// The indexes and the problem list used while building one snapshot.
struct Builder<'a> {
    classes: HashMap<&'a str, Arc<ClassEntry>>,
    secrets: HashMap<(String, String), &'a Secret>,
    decoded: HashMap<(String, String), Result<Arc<SecretData>, String>>,
    problems: Vec<Problem>,
}

impl<'a> Builder<'a> {
    fn new(objects: &'a Objects) -> Self {
        let mut builder = Self {
            classes: HashMap::new(),
            secrets: HashMap::new(),
            decoded: HashMap::new(),
            problems: Vec::new(),
        };
        for class in &objects.classes {
            let Some(name) = class.metadata.name.as_deref() else {
                builder.problem("ConnectorClass".to_owned(), "has no metadata.name");
                continue;
            };
            let entry = class_entry(name, class);
            if let Some(problem) = &entry.problem {
                builder.problem(format!("ConnectorClass {name}"), problem.clone());
            }
            if builder.classes.insert(name, Arc::new(entry)).is_some() {
                builder.problem(
                    format!("ConnectorClass {name}"),
                    "is defined more than once; the last one is used",
                );
            }
        }
        for secret in &objects.secrets {
            let namespace = secret
                .metadata
                .namespace
                .as_deref()
                .unwrap_or(DEFAULT_NAMESPACE);
            let Some(name) = secret.metadata.name.as_deref() else {
                builder.problem(format!("Secret in {namespace}"), "has no metadata.name");
                continue;
            };
            if builder
                .secrets
                .insert((namespace.to_owned(), name.to_owned()), secret)
                .is_some()
            {
                builder.problem(
                    format!("Secret {namespace}/{name}"),
                    "is defined more than once; the last one is used",
                );
            }
        }
        builder
    }

    fn problem(&mut self, object: String, reason: impl Into<String>) {
        let reason = reason.into();
        self.problems.push(Problem { object, reason });
    }

    /// The decoded Secret `namespace/name`, decoded once however many connectors use it.
    fn secret(&mut self, namespace: &str, name: &str) -> Result<Arc<SecretData>, String> {
        let key = (namespace.to_owned(), name.to_owned());
        if let Some(done) = self.decoded.get(&key) {
            return done.clone();
        }
        let secret = self.secrets.get(&key).copied();
        let result = decode_secret(namespace, name, secret, &mut self.problems);
        self.decoded.insert(key, result.clone());
        result
    }
}

/// The proxy's view of one ConnectorClass named `name`, its Rego policies compiled.
///
/// A policy that does not compile sets [`ClassEntry::problem`] instead of failing: requests
/// for the class's connectors are then refused, and other classes are unaffected.
pub(crate) fn class_entry(name: &str, class: &ConnectorClass) -> ClassEntry {
    let policies = compile_class(class);
    ClassEntry {
        name: name.to_owned(),
        proxied: class.spec.proxy.is_some(),
        auth_types: class
            .spec
            .auth
            .as_ref()
            .map(|auth| auth.types.clone())
            .unwrap_or_default(),
        extractor: policies.extractor,
        generators: policies.generators,
        problem: (!policies.problems.is_empty()).then(|| policies.problems.join("; ")),
    }
}

/// Prepares the connector `namespace/name`; `Err` makes every lookup of it fail with that
/// reason.
///
/// `class` is its ConnectorClass when that exists. `secret(namespace, name)` yields the
/// decoded Secret the connector references (see [`decode_secret`]); it is called at most once,
/// and only when the connector references a Secret of its own namespace. What the operator
/// should hear about, including the returned reason, is added to `problems`.
pub(crate) fn build_entry(
    namespace: &str,
    name: &str,
    connector: &Connector,
    class: Option<Arc<ClassEntry>>,
    secret: impl FnOnce(&str, &str) -> Result<Arc<SecretData>, String>,
    problems: &mut Vec<Problem>,
) -> Lookup {
    let object = format!("Connector {namespace}/{name}");
    let mut problem = |reason: &str| {
        problems.push(Problem {
            object: object.clone(),
            reason: reason.to_owned(),
        });
    };
    let spec = &connector.spec;
    let class_name = spec.connector_class_name.as_str();
    let (address, extensions) = addresses(connector).inspect_err(|reason| problem(reason))?;
    if class.is_none() {
        problem(&format!(
            "ConnectorClass {class_name:?} not found; the connector is not proxied"
        ));
    }
    let credentials = credentials(namespace, spec.auth.as_ref(), class.as_deref(), secret)
        .inspect_err(|reason| problem(reason))?;
    if let Credentials::Broken(reason) = &credentials {
        problem(reason);
    }
    let class = class.unwrap_or_else(|| {
        Arc::new(ClassEntry {
            name: class_name.to_owned(),
            ..ClassEntry::default()
        })
    });
    Ok(Arc::new(ConnectorEntry {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        address,
        extensions,
        class,
        credentials,
    }))
}

/// The parsed `spec.address` and `spec.addressExtensions`.
fn addresses(connector: &Connector) -> Result<(Address, Vec<(String, Address)>), String> {
    let spec = &connector.spec;
    let address = Address::parse(&spec.address).map_err(|e| address_reason("spec.address", &e))?;
    let extensions = spec
        .address_extensions
        .iter()
        .map(|ext| {
            let field = format!("spec.addressExtensions {:?}", ext.name);
            let address = Address::parse(&ext.value).map_err(|e| address_reason(&field, &e))?;
            Ok((ext.name.clone(), address))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((address, extensions))
}

/// The connector's credentials; `Err` when its auth type is not one its class declares.
fn credentials(
    namespace: &str,
    auth: Option<&ConnectorAuth>,
    class: Option<&ClassEntry>,
    secret: impl FnOnce(&str, &str) -> Result<Arc<SecretData>, String>,
) -> Result<Credentials, String> {
    let Some(auth) = auth else {
        return Ok(Credentials::None);
    };
    let auth_type = class.and_then(|c| c.auth_types.iter().find(|t| t.name == auth.name));
    if let (Some(class), None) = (class, auth_type) {
        return Err(format!(
            "auth type {:?} is not declared by ConnectorClass {}",
            auth.name, class.name
        ));
    }
    let Some(secret_name) = referenced_secret(namespace, auth) else {
        if let Some(other) = auth
            .secret_ref
            .as_ref()
            .and_then(|r| r.namespace.as_deref())
        {
            let secret_name = auth.secret_ref.as_ref().map_or("", |r| r.name.as_str());
            return Ok(Credentials::Broken(format!(
                "secret {secret_name} is in namespace {other}; only Secrets in the connector's \
                 namespace {namespace} are used"
            )));
        }
        if auth_type.is_some_and(|t| t.optional) {
            return Ok(Credentials::None);
        }
        return Ok(Credentials::Broken(format!(
            "auth type {:?} needs a Secret but spec.auth.secretRef is not set",
            auth.name
        )));
    };
    Ok(match secret(namespace, secret_name) {
        Ok(secret) => Credentials::Secret {
            auth_type: auth.name.clone(),
            secret,
        },
        Err(reason) => Credentials::Broken(reason),
    })
}

/// The name of the Secret a connector in `namespace` uses: its `spec.auth.secretRef`, unless
/// that points at another namespace.
pub(crate) fn referenced_secret<'c>(namespace: &str, auth: &'c ConnectorAuth) -> Option<&'c str> {
    let secret_ref = auth.secret_ref.as_ref()?;
    match secret_ref.namespace.as_deref() {
        Some(other) if !other.is_empty() && other != namespace => None,
        _ => Some(secret_ref.name.as_str()),
    }
}

/// The Secret `namespace/name` (`None` when it does not exist) as a connector uses it: `data`
/// (already base64-decoded) with `stringData` merged over it, checked for the keys its type
/// requires. Values that are not UTF-8 are dropped and added to `problems`.
pub(crate) fn decode_secret(
    namespace: &str,
    name: &str,
    secret: Option<&Secret>,
    problems: &mut Vec<Problem>,
) -> Result<Arc<SecretData>, String> {
    let Some(secret) = secret else {
        return Err(format!("secret {name} not found in {namespace}"));
    };
    let type_ = secret
        .type_
        .as_deref()
        .filter(|t| !t.is_empty())
        .unwrap_or("Opaque");
    let mut data = BTreeMap::new();
    for (key, value) in secret.data.iter().flatten() {
        match std::str::from_utf8(&value.0) {
            Ok(text) => {
                data.insert(key.clone(), SecretString::new(text));
            }
            Err(_) => problems.push(Problem {
                object: format!("Secret {namespace}/{name}"),
                reason: format!("the value of key {key:?} is not UTF-8 and is ignored"),
            }),
        }
    }
    for (key, value) in secret.string_data.iter().flatten() {
        data.insert(key.clone(), SecretString::new(value.as_str()));
    }
    let required = REQUIRED_KEYS
        .iter()
        .find(|(t, _)| *t == type_)
        .map_or(&[][..], |(_, keys)| *keys);
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|key| !data.contains_key(*key))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "secret {name} of type {type_} lacks key(s) {}",
            missing.join(", ")
        ));
    }
    Ok(Arc::new(SecretData {
        name: name.to_owned(),
        type_: type_.to_owned(),
        data,
    }))
}

/// Why an address is unusable, without repeating the address: it might carry a password.
fn address_reason(field: &str, error: &AddressError) -> String {
    let why = match error {
        AddressError::NotAbsolute(_) => "is not an absolute http or https URL",
        AddressError::Scheme(_) => "must use http or https",
        AddressError::Extra(_) => "must not carry credentials, a query or a fragment",
    };
    format!("{field} {why}")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn class(name: &str, proxied: bool) -> ConnectorClass {
        let mut spec = json!({"auth": {"types": [
            {"name": "basicAuth", "secretType": "kubernetes.io/basic-auth"},
            {"name": "bearerToken", "secretType": "connectors.cpaas.io/bearer-token"},
            {"name": "none", "optional": true},
        ]}});
        if proxied {
            spec["proxy"] = json!({"ref": {"kind": "Service", "name": "p", "namespace": "s"}});
        }
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    }

    fn connector(name: &str, class: &str, address: &str, auth: Value) -> Connector {
        let mut spec = json!({"connectorClassName": class, "address": address});
        if !auth.is_null() {
            spec["auth"] = auth;
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns"}, "spec": spec,
        }))
        .unwrap()
    }

    fn secret(name: &str, type_: &str, body: Value) -> Secret {
        let mut secret = json!({"metadata": {"name": name, "namespace": "ns"}, "type": type_});
        secret
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        serde_json::from_value(secret).unwrap()
    }

    fn with_secret(auth_type: &str, secret_name: &str) -> Value {
        json!({"name": auth_type, "secretRef": {"name": secret_name}})
    }

    fn build(connectors: Vec<Connector>, secrets: Vec<Secret>) -> (Snapshot, Vec<Problem>) {
        let classes = vec![class("http", true), class("plain", false)];
        Snapshot::build(&Objects {
            connectors,
            classes,
            secrets,
        })
    }

    fn credentials(snapshot: &Snapshot, name: &str) -> Credentials {
        snapshot
            .get("ns", name)
            .unwrap()
            .unwrap()
            .credentials
            .clone()
    }

    fn value(credentials: &Credentials, key: &str) -> String {
        let Credentials::Secret { secret, .. } = credentials else {
            panic!("expected Secret credentials, got {credentials:?}");
        };
        secret
            .get(key)
            .map(|v| v.expose().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn string_data_is_merged_over_decoded_data() {
        let s = secret(
            "s",
            "kubernetes.io/basic-auth",
            // "old-user" / "old-pass" in base64; stringData replaces the password only.
            json!({"data": {"username": "b2xkLXVzZXI=", "password": "b2xkLXBhc3M="},
                   "stringData": {"password": "new-pass"}}),
        );
        let c = connector("c", "http", "https://h", with_secret("basicAuth", "s"));
        let (snapshot, problems) = build(vec![c], vec![s]);
        assert!(problems.is_empty(), "{problems:?}");
        let creds = credentials(&snapshot, "c");
        assert_eq!(value(&creds, "username"), "old-user");
        assert_eq!(value(&creds, "password"), "new-pass");
        let Credentials::Secret { auth_type, secret } = creds else {
            unreachable!()
        };
        assert_eq!(
            (auth_type.as_str(), secret.type_.as_str()),
            ("basicAuth", "kubernetes.io/basic-auth")
        );
    }

    #[test]
    fn each_secret_type_requires_its_keys() {
        let cases = [
            (
                "kubernetes.io/basic-auth",
                json!({"username": "u"}),
                "password",
            ),
            (
                "connectors.cpaas.io/bearer-token",
                json!({"tok": "t"}),
                "token",
            ),
            (
                "cpaas.io/distribution-registry-token",
                json!({"password": "p"}),
                "username",
            ),
        ];
        for (type_, data, missing) in cases {
            let s = secret("s", type_, json!({"stringData": data}));
            let c = connector("c", "http", "https://h", with_secret("basicAuth", "s"));
            let (snapshot, problems) = build(vec![c], vec![s]);
            let Credentials::Broken(reason) = credentials(&snapshot, "c") else {
                panic!("{type_}: expected Broken");
            };
            assert!(reason.contains(missing), "{type_}: {reason}");
            assert_eq!(problems.len(), 1, "{problems:?}");
        }
        let complete = [
            (
                "kubernetes.io/basic-auth",
                json!({"username": "u", "password": "p"}),
            ),
            ("connectors.cpaas.io/bearer-token", json!({"token": "t"})),
            (
                "cpaas.io/distribution-registry-token",
                json!({"username": "u", "password": "p"}),
            ),
            ("Opaque", json!({"anything": "x"})),
            ("example.com/custom", json!({})),
        ];
        for (type_, data) in complete {
            let s = secret("s", type_, json!({"stringData": data}));
            let c = connector("c", "http", "https://h", with_secret("bearerToken", "s"));
            let (snapshot, _) = build(vec![c], vec![s]);
            let creds = credentials(&snapshot, "c");
            assert!(
                matches!(creds, Credentials::Secret { .. }),
                "{type_}: {creds:?}"
            );
        }
    }

    #[test]
    fn auth_without_secret() {
        let optional = connector("opt", "http", "https://h", json!({"name": "none"}));
        let no_auth = connector("bare", "http", "https://h", Value::Null);
        let required = connector("req", "http", "https://h", json!({"name": "basicAuth"}));
        let missing = connector(
            "gone",
            "http",
            "https://h",
            with_secret("basicAuth", "nope"),
        );
        let elsewhere = connector(
            "far",
            "http",
            "https://h",
            json!({"name": "basicAuth", "secretRef": {"name": "s", "namespace": "other"}}),
        );
        let (snapshot, problems) = build(
            vec![optional, no_auth, required, missing, elsewhere],
            vec![],
        );
        assert!(matches!(credentials(&snapshot, "opt"), Credentials::None));
        assert!(matches!(credentials(&snapshot, "bare"), Credentials::None));
        assert!(matches!(
            credentials(&snapshot, "req"),
            Credentials::Broken(_)
        ));
        let Credentials::Broken(reason) = credentials(&snapshot, "gone") else {
            panic!("expected Broken");
        };
        assert_eq!(reason, "secret nope not found in ns");
        let Credentials::Broken(reason) = credentials(&snapshot, "far") else {
            panic!("expected Broken");
        };
        assert!(reason.contains("namespace other"), "{reason}");
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn classes_decide_whether_connectors_are_proxied() {
        let a = connector("a", "http", "https://h", Value::Null);
        let b = connector("b", "plain", "https://h", Value::Null);
        let c = connector("c", "missing", "https://h", Value::Null);
        let (snapshot, problems) = build(vec![a, b, c], vec![]);
        let proxied = |n| snapshot.get("ns", n).unwrap().unwrap().class.proxied;
        assert!(proxied("a"));
        assert!(!proxied("b"));
        assert!(!proxied("c"));
        assert_eq!(
            snapshot.get("ns", "c").unwrap().unwrap().class.name,
            "missing"
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(snapshot.get("ns", "zzz").unwrap().is_none());
        assert!(snapshot.get("other", "a").unwrap().is_none());
    }

    #[test]
    fn unusable_connectors_fail_lookup_without_leaking() {
        let bad = connector("bad", "http", "https://user:hunter2@h", Value::Null);
        let ftp = connector("ftp", "http", "ftp://h", Value::Null);
        let mut ext = connector("ext", "http", "https://h", Value::Null);
        ext.spec.address_extensions = vec![crate::model::AddressExtension {
            name: "api".into(),
            value: "api.h".into(),
        }];
        let unknown = connector("unk", "http", "https://h", json!({"name": "oauth"}));
        let good = connector("good", "http", "https://h", Value::Null);
        let (snapshot, problems) = build(vec![bad, ftp, ext, unknown, good], vec![]);
        for (name, expected) in [
            ("bad", "spec.address must not carry credentials"),
            ("ftp", "spec.address must use http"),
            ("ext", "spec.addressExtensions \"api\""),
            ("unk", "auth type \"oauth\" is not declared"),
        ] {
            match snapshot.get("ns", name) {
                Err(CatalogError::Unusable { key, reason }) => {
                    assert_eq!(key, format!("ns/{name}"));
                    assert!(reason.contains(expected), "{name}: {reason}");
                    assert!(!reason.contains("hunter2"));
                }
                other => panic!("{name}: expected Unusable, got {other:?}"),
            }
        }
        assert_eq!(problems.len(), 4);
        assert!(problems.iter().all(|p| !p.to_string().contains("hunter2")));
        let usable: Vec<_> = snapshot.entries().map(|e| e.key()).collect();
        assert_eq!(usable, ["ns/good"]);
        assert_eq!(snapshot.len(), 5);
    }

    #[test]
    fn non_utf8_values_are_dropped_and_reported() {
        // 0xff 0xfe is not UTF-8; the token is still present, so the Secret stays usable.
        let s = secret(
            "s",
            "connectors.cpaas.io/bearer-token",
            json!({"data": {"blob": "//4="}, "stringData": {"token": "t"}}),
        );
        let c = connector("c", "http", "https://h", with_secret("bearerToken", "s"));
        let (snapshot, problems) = build(vec![c], vec![s]);
        let creds = credentials(&snapshot, "c");
        assert_eq!(value(&creds, "token"), "t");
        assert_eq!(value(&creds, "blob"), "");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].object, "Secret ns/s");
    }
}
