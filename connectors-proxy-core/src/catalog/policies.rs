//! Compiling a class's Rego policies once per class version.
//!
//! [`compile_class`] turns `spec.proxy.authExtractor.rego` and every
//! `spec.auth.types[].generator.rego` into ready [`Policy`] values. Compiled policies are kept
//! in a small process-wide cache keyed by kind and source text, so reloading a folder in which
//! one class changed does not recompile every other class.

use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex, PoisonError};

use crate::model::ConnectorClass;
use crate::rego::{Policy, PolicyError, PolicyKind};

/// How many distinct policy sources the cache keeps before it starts afresh.
const CACHE_LIMIT: usize = 256;

type Cache = HashMap<(bool, String), Result<Policy, PolicyError>>;

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(Mutex::default);

/// The compiled policies of one class, and what prevented any of them from compiling.
#[derive(Debug, Default)]
pub(crate) struct ClassPolicies {
    /// The compiled `authExtractor`, when the class has one.
    pub extractor: Option<Policy>,
    /// The compiled generators, by auth type name.
    pub generators: BTreeMap<String, Policy>,
    /// Every policy that failed, as `<field>: <reason>` (line and column included).
    pub problems: Vec<String>,
}

/// Compiles every Rego policy of `class`; a policy that fails is left out and reported.
pub(crate) fn compile_class(class: &ConnectorClass) -> ClassPolicies {
    let mut policies = ClassPolicies::default();
    let extractor = class
        .spec
        .proxy
        .as_ref()
        .and_then(|proxy| proxy.auth_extractor.as_ref())
        .filter(|policy| !policy.rego.trim().is_empty());
    if let Some(source) = extractor {
        match compile(&source.rego, PolicyKind::Extractor) {
            Ok(policy) => policies.extractor = Some(policy),
            Err(error) => policies
                .problems
                .push(format!("spec.proxy.authExtractor: {error}")),
        }
    }
    let types = class.spec.auth.iter().flat_map(|auth| &auth.types);
    for auth_type in types {
        let Some(source) = auth_type
            .generator
            .as_ref()
            .filter(|policy| !policy.rego.trim().is_empty())
        else {
            continue;
        };
        match compile(&source.rego, PolicyKind::Generator) {
            Ok(policy) => {
                policies.generators.insert(auth_type.name.clone(), policy);
            }
            Err(error) => policies.problems.push(format!(
                "the generator of auth type {:?}: {error}",
                auth_type.name
            )),
        }
    }
    policies
}

/// Compiles `source`, or returns the result of an earlier compilation of the same text.
fn compile(source: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let key = (kind == PolicyKind::Extractor, source.to_owned());
    if let Some(done) = CACHE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
    {
        return done.clone();
    }
    // Compiled outside the lock: a slow policy must not hold up other classes.
    let result = Policy::compile(source, kind);
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(key, result.clone());
    result
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn class(spec: serde_json::Value) -> ConnectorClass {
        serde_json::from_value(json!({"metadata": {"name": "c"}, "spec": spec})).unwrap()
    }

    #[test]
    fn compiles_extractor_and_generators_and_reports_failures() {
        let class = class(json!({
            "proxy": {"uri": "http://p", "authExtractor": {"rego":
                "package proxy\nauth := {\"token\": input.request.headers[\"Private-Token\"][0]}\n"}},
            "auth": {"types": [
                {"name": "pat", "generator": {"rego":
                    "package proxy\nauth := {\"position\": \"header\", \"auth\": {\"Private-Token\": input.data.token}}\n"}},
                {"name": "broken", "generator": {"rego": "package proxy\nauth := {\n"}},
                {"name": "plain"},
            ]},
        }));
        let policies = compile_class(&class);
        assert!(policies.extractor.is_some());
        assert_eq!(
            policies.generators.keys().collect::<Vec<_>>(),
            ["pat"],
            "{policies:?}"
        );
        assert_eq!(policies.problems.len(), 1);
        assert!(
            policies.problems[0].starts_with("the generator of auth type \"broken\""),
            "{:?}",
            policies.problems
        );
        assert!(
            policies.problems[0].contains("line "),
            "{:?}",
            policies.problems
        );
    }

    #[test]
    fn an_unchanged_source_is_compiled_once() {
        let source = "package proxy\nauth := {\"token\": \"cached-once\"}\n";
        compile(source, PolicyKind::Extractor).unwrap();
        let key = (true, source.to_owned());
        assert!(CACHE.lock().unwrap().contains_key(&key));
        let generator = compile(source, PolicyKind::Generator).unwrap();
        assert_eq!(generator.kind(), PolicyKind::Generator);
    }
}
