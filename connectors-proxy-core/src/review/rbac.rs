//! Kubernetes RBAC evaluated locally, for connector access checks in embedded mode.
//!
//! [`RbacRules`] answers the question a SubjectAccessReview answers for group
//! `connectors.alauda.io`, resource `connectors` (or `connectors/<subresource>`), following the
//! API server's RBAC authorizer:
//!
//! - a rule matches when its `apiGroups` hold the group or `*`, its `verbs` the verb or `*`, its
//!   `resources` the resource, `*`, or for a subresource `connectors/<sub>` or `*/<sub>`, and its
//!   `resourceNames` are empty or hold the connector's name;
//! - a RoleBinding grants its role's rules in its own namespace only; it may reference a Role (in
//!   that namespace) or a ClusterRole. A ClusterRoleBinding grants a ClusterRole's rules in every
//!   namespace; a ClusterRoleBinding that references a Role grants nothing;
//! - subjects are `User` (by name), `Group` (by name) and `ServiceAccount` (name and namespace;
//!   in a RoleBinding the namespace defaults to the binding's, in a ClusterRoleBinding it is
//!   required). Other kinds match nobody;
//! - a binding whose role is missing grants nothing, as in the API server.
//!
//! Namespaced objects with no `metadata.namespace` count as in `default`, where `kubectl apply`
//! would put them with a default context.
//!
//! Aggregated ClusterRoles are not modelled: the `aggregationRule` of a ClusterRole is ignored and
//! only the `rules` written in the manifest count. In a cluster the aggregation controller fills
//! those rules in; in a manifest folder, write them out.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use super::{AccessCheck, UserInfo};
use crate::model::{CONNECTORS_RESOURCE, GROUP};

/// The value that matches anything in a rule's `apiGroups`, `resources` and `verbs`.
const ALL: &str = "*";
/// The namespace of namespaced objects that name none.
const DEFAULT_NAMESPACE: &str = "default";
/// The user-name prefix of service accounts.
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// Who a binding's subject names, resolved when the rules are built.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    /// A user, by name.
    User(String),
    /// A group, by name.
    Group(String),
    /// A service account, by its full user name `system:serviceaccount:<ns>:<name>`.
    ServiceAccount(String),
}

impl Who {
    /// Resolves a subject; `namespace` is the binding's namespace (`None` for cluster bindings).
    fn from_subject(subject: &Subject, namespace: Option<&str>) -> Option<Self> {
        match subject.kind.as_str() {
            "User" => Some(Self::User(subject.name.clone())),
            "Group" => Some(Self::Group(subject.name.clone())),
            "ServiceAccount" => {
                let sa_namespace = subject
                    .namespace
                    .as_deref()
                    .filter(|ns| !ns.is_empty())
                    .or(namespace)?;
                Some(Self::ServiceAccount(format!(
                    "{SERVICE_ACCOUNT_PREFIX}{sa_namespace}:{}",
                    subject.name
                )))
            }
            _ => None,
        }
    }

    fn matches(&self, user: &UserInfo) -> bool {
        match self {
            Self::User(name) | Self::ServiceAccount(name) => user.username == *name,
            Self::Group(name) => user.groups.iter().any(|group| group == name),
        }
    }
}

/// One binding: who it names and the rules (of the connectors group) it grants them.
#[derive(Debug, Clone)]
struct Grant {
    subjects: Vec<Who>,
    rules: Arc<[PolicyRule]>,
}

impl Grant {
    fn allows(&self, user: &UserInfo, check: &AccessCheck) -> bool {
        self.subjects.iter().any(|who| who.matches(user))
            && self.rules.iter().any(|rule| rule_allows(rule, check))
    }
}

/// RBAC roles and bindings, indexed for answering connector access checks.
#[derive(Debug, Clone, Default)]
pub struct RbacRules {
    /// Grants of ClusterRoleBindings: valid in every namespace.
    cluster: Vec<Grant>,
    /// Grants of RoleBindings, by the binding's namespace.
    namespaced: HashMap<String, Vec<Grant>>,
}

impl RbacRules {
    /// Builds the index from the four kinds of RBAC objects.
    pub fn new(
        roles: &[Role],
        cluster_roles: &[ClusterRole],
        role_bindings: &[RoleBinding],
        cluster_role_bindings: &[ClusterRoleBinding],
    ) -> Self {
        let roles: HashMap<(&str, &str), Arc<[PolicyRule]>> = roles
            .iter()
            .map(|role| {
                let key = (namespace_of(&role.metadata), name_of(&role.metadata));
                (key, relevant_rules(role.rules.as_deref()))
            })
            .collect();
        let cluster_roles: HashMap<&str, Arc<[PolicyRule]>> = cluster_roles
            .iter()
            .map(|role| {
                let rules = relevant_rules(role.rules.as_deref());
                (name_of(&role.metadata), rules)
            })
            .collect();

        let mut namespaced: HashMap<String, Vec<Grant>> = HashMap::new();
        for binding in role_bindings {
            let namespace = namespace_of(&binding.metadata);
            let rules = match binding.role_ref.kind.as_str() {
                "Role" => roles.get(&(namespace, binding.role_ref.name.as_str())),
                "ClusterRole" => cluster_roles.get(binding.role_ref.name.as_str()),
                _ => None,
            };
            if let Some(grant) = grant(binding.subjects.as_deref(), Some(namespace), rules) {
                namespaced
                    .entry(namespace.to_owned())
                    .or_default()
                    .push(grant);
            }
        }
        let cluster = cluster_role_bindings
            .iter()
            .filter_map(|binding| {
                let rules = cluster_role_of(&binding.role_ref, &cluster_roles);
                grant(binding.subjects.as_deref(), None, rules)
            })
            .collect();
        Self {
            cluster,
            namespaced,
        }
    }

    /// Whether `user` may perform `check` on a connector.
    pub fn allows(&self, user: &UserInfo, check: &AccessCheck) -> bool {
        let namespaced = self
            .namespaced
            .get(check.namespace.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        self.cluster
            .iter()
            .chain(namespaced)
            .any(|grant| grant.allows(user, check))
    }
}

/// The ClusterRole a ClusterRoleBinding references; a reference to a Role is invalid there.
fn cluster_role_of<'a>(
    role_ref: &RoleRef,
    cluster_roles: &'a HashMap<&str, Arc<[PolicyRule]>>,
) -> Option<&'a Arc<[PolicyRule]>> {
    (role_ref.kind == "ClusterRole")
        .then(|| cluster_roles.get(role_ref.name.as_str()))
        .flatten()
}

/// A grant for a binding, or `None` when it can grant nothing to anybody.
fn grant(
    subjects: Option<&[Subject]>,
    namespace: Option<&str>,
    rules: Option<&Arc<[PolicyRule]>>,
) -> Option<Grant> {
    let rules = rules.filter(|rules| !rules.is_empty())?.clone();
    let subjects: Vec<Who> = subjects
        .unwrap_or_default()
        .iter()
        .filter_map(|subject| Who::from_subject(subject, namespace))
        .collect();
    (!subjects.is_empty()).then_some(Grant { subjects, rules })
}

/// The rules that can apply to the connectors group; the others never match a check.
fn relevant_rules(rules: Option<&[PolicyRule]>) -> Arc<[PolicyRule]> {
    rules
        .unwrap_or_default()
        .iter()
        .filter(|rule| contains_or_all(rule.api_groups.as_deref(), GROUP))
        .cloned()
        .collect()
}

fn namespace_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.namespace
        .as_deref()
        .filter(|ns| !ns.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// Whether one policy rule allows a connector access check.
fn rule_allows(rule: &PolicyRule, check: &AccessCheck) -> bool {
    contains_or_all(Some(&rule.verbs), &check.verb)
        && contains_or_all(rule.api_groups.as_deref(), GROUP)
        && resource_matches(rule.resources.as_deref(), check.subresource.as_deref())
        && name_matches(rule.resource_names.as_deref(), &check.name)
}

fn contains_or_all(values: Option<&[String]>, wanted: &str) -> bool {
    values
        .unwrap_or_default()
        .iter()
        .any(|value| value == ALL || value == wanted)
}

/// `connectors`, `connectors/<sub>`, `*/<sub>` or `*`, as the API server matches resources.
fn resource_matches(resources: Option<&[String]>, subresource: Option<&str>) -> bool {
    let subresource = subresource.filter(|sub| !sub.is_empty());
    resources.unwrap_or_default().iter().any(|resource| {
        if resource == ALL {
            return true;
        }
        let Some(sub) = subresource else {
            return resource == CONNECTORS_RESOURCE;
        };
        let (owner, rule_sub) = resource.split_once('/').unwrap_or((resource, ""));
        rule_sub == sub && (owner == CONNECTORS_RESOURCE || owner == ALL)
    })
}

fn name_matches(names: Option<&[String]>, name: &str) -> bool {
    let names = names.unwrap_or_default();
    names.is_empty() || names.iter().any(|allowed| allowed == name)
}

#[cfg(test)]
mod tests;
