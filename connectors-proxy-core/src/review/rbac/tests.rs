use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str], names: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(strings(groups)),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        resource_names: (!names.is_empty()).then(|| strings(names)),
        non_resource_urls: None,
    }
}

/// `get` on every connector.
fn get_connectors() -> PolicyRule {
    rule(&[GROUP], &["connectors"], &["get"], &[])
}

fn meta(namespace: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta {
        namespace: namespace.map(str::to_owned),
        name: Some(name.to_owned()),
        ..Default::default()
    }
}

fn role(namespace: &str, name: &str, rules: Vec<PolicyRule>) -> Role {
    Role {
        metadata: meta(Some(namespace), name),
        rules: Some(rules),
    }
}

fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: meta(None, name),
        rules: Some(rules),
        aggregation_rule: None,
    }
}

fn subject(kind: &str, name: &str, namespace: Option<&str>) -> Subject {
    Subject {
        kind: kind.to_owned(),
        name: name.to_owned(),
        namespace: namespace.map(str::to_owned),
        api_group: None,
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef {
        api_group: Some("rbac.authorization.k8s.io".to_owned()),
        kind: kind.to_owned(),
        name: name.to_owned(),
    }
}

fn role_binding(namespace: &str, kind: &str, role: &str, subjects: Vec<Subject>) -> RoleBinding {
    RoleBinding {
        metadata: meta(Some(namespace), "binding"),
        role_ref: role_ref(kind, role),
        subjects: Some(subjects),
    }
}

fn cluster_binding(kind: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(None, "binding"),
        role_ref: role_ref(kind, role),
        subjects: Some(subjects),
    }
}

fn user(name: &str, groups: &[&str]) -> UserInfo {
    UserInfo {
        username: name.to_owned(),
        groups: strings(groups),
        ..Default::default()
    }
}

fn check(namespace: &str, name: &str) -> AccessCheck {
    AccessCheck::use_connector(namespace, name, false)
}

fn alice() -> UserInfo {
    user("alice", &["system:authenticated"])
}

/// Rules where `alice` is bound in namespace `team-a` to a Role holding `rules`.
fn alice_with(rules: Vec<PolicyRule>) -> RbacRules {
    RbacRules::new(
        &[role("team-a", "r", rules)],
        &[],
        &[role_binding(
            "team-a",
            "Role",
            "r",
            vec![subject("User", "alice", None)],
        )],
        &[],
    )
}

#[test]
fn nothing_is_allowed_without_rules() {
    assert!(!RbacRules::default().allows(&alice(), &check("team-a", "git")));
}

#[test]
fn role_binding_grants_its_role_in_its_namespace_only() {
    let rules = alice_with(vec![get_connectors()]);
    assert!(rules.allows(&alice(), &check("team-a", "git")));
    assert!(!rules.allows(&alice(), &check("team-b", "git")));
    assert!(!rules.allows(&user("bob", &[]), &check("team-a", "git")));
}

#[test]
fn role_binding_cannot_reach_a_role_of_another_namespace() {
    let rules = RbacRules::new(
        &[role("team-b", "r", vec![get_connectors()])],
        &[],
        &[role_binding(
            "team-a",
            "Role",
            "r",
            vec![subject("User", "alice", None)],
        )],
        &[],
    );
    assert!(!rules.allows(&alice(), &check("team-a", "git")));
    assert!(!rules.allows(&alice(), &check("team-b", "git")));
}

#[test]
fn role_binding_to_a_cluster_role_grants_in_the_binding_namespace() {
    let rules = RbacRules::new(
        &[],
        &[cluster_role("use", vec![get_connectors()])],
        &[role_binding(
            "team-a",
            "ClusterRole",
            "use",
            vec![subject("User", "alice", None)],
        )],
        &[],
    );
    assert!(rules.allows(&alice(), &check("team-a", "git")));
    assert!(!rules.allows(&alice(), &check("team-b", "git")));
}

#[test]
fn cluster_role_binding_grants_everywhere_but_not_through_a_role() {
    let subjects = vec![subject("Group", "devs", None)];
    let rules = RbacRules::new(
        &[role("team-a", "use", vec![get_connectors()])],
        &[cluster_role("use", vec![get_connectors()])],
        &[],
        &[cluster_binding("ClusterRole", "use", subjects.clone())],
    );
    let dev = user("carol", &["devs"]);
    assert!(rules.allows(&dev, &check("team-a", "git")));
    assert!(rules.allows(&dev, &check("anywhere", "git")));

    let through_role = RbacRules::new(
        &[role("team-a", "use", vec![get_connectors()])],
        &[],
        &[],
        &[cluster_binding("Role", "use", subjects)],
    );
    assert!(!through_role.allows(&dev, &check("team-a", "git")));
}

#[test]
fn missing_role_grants_nothing() {
    let rules = RbacRules::new(
        &[],
        &[],
        &[role_binding(
            "team-a",
            "ClusterRole",
            "absent",
            vec![subject("User", "alice", None)],
        )],
        &[cluster_binding(
            "ClusterRole",
            "absent",
            vec![subject("User", "alice", None)],
        )],
    );
    assert!(!rules.allows(&alice(), &check("team-a", "git")));
}

#[test]
fn objects_without_namespace_are_in_default() {
    let mut binding = role_binding("x", "Role", "r", vec![subject("User", "alice", None)]);
    binding.metadata.namespace = None;
    let mut unnamespaced = role("x", "r", vec![get_connectors()]);
    unnamespaced.metadata.namespace = None;
    let rules = RbacRules::new(&[unnamespaced], &[], &[binding], &[]);
    assert!(rules.allows(&alice(), &check("default", "git")));
    assert!(!rules.allows(&alice(), &check("x", "git")));
}

#[test]
fn subjects_match_users_groups_and_service_accounts() {
    let sa = |ns: &str, name: &str| user(&format!("system:serviceaccount:{ns}:{name}"), &[]);
    let subjects = vec![
        subject("User", "alice", None),
        subject("Group", "devs", None),
        subject("ServiceAccount", "builder", Some("ci")),
        subject("ServiceAccount", "local", None),
        subject("Robot", "r2", None),
    ];
    let rules = RbacRules::new(
        &[role("team-a", "r", vec![get_connectors()])],
        &[],
        &[role_binding("team-a", "Role", "r", subjects)],
        &[],
    );
    let allowed = |u: &UserInfo| rules.allows(u, &check("team-a", "git"));
    assert!(allowed(&alice()));
    assert!(allowed(&user("dave", &["devs"])));
    assert!(allowed(&sa("ci", "builder")));
    assert!(
        allowed(&sa("team-a", "local")),
        "namespace defaults to the binding's"
    );
    assert!(!allowed(&sa("other", "local")));
    assert!(!allowed(&sa("team-a", "builder")));
    assert!(
        !allowed(&user("r2", &[])),
        "unknown subject kinds match nobody"
    );
    assert!(
        !allowed(&user("devs", &[])),
        "a group name is not a user name"
    );
    assert!(
        !allowed(&user("eve", &["alice"])),
        "a user name is not a group"
    );
}

#[test]
fn cluster_binding_service_account_needs_a_namespace() {
    let rules = RbacRules::new(
        &[],
        &[cluster_role("use", vec![get_connectors()])],
        &[],
        &[cluster_binding(
            "ClusterRole",
            "use",
            vec![
                subject("ServiceAccount", "nowhere", None),
                subject("ServiceAccount", "builder", Some("ci")),
            ],
        )],
    );
    let sa = |ns: &str, name: &str| user(&format!("system:serviceaccount:{ns}:{name}"), &[]);
    assert!(!rules.allows(&sa("team-a", "nowhere"), &check("team-a", "git")));
    assert!(rules.allows(&sa("ci", "builder"), &check("team-a", "git")));
}

#[test]
fn api_groups_must_name_the_connectors_group_or_all() {
    let allowed = |groups: &[&str]| {
        let rules = alice_with(vec![rule(groups, &["connectors"], &["get"], &[])]);
        rules.allows(&alice(), &check("team-a", "git"))
    };
    assert!(allowed(&[GROUP]));
    assert!(allowed(&["apps", "*"]));
    assert!(!allowed(&["apps"]));
    assert!(!allowed(&[]));
}

#[test]
fn verbs_must_name_the_verb_or_all() {
    let allowed = |verbs: &[&str]| {
        let rules = alice_with(vec![rule(&[GROUP], &["connectors"], verbs, &[])]);
        rules.allows(&alice(), &check("team-a", "git"))
    };
    assert!(allowed(&["list", "get"]));
    assert!(allowed(&["*"]));
    assert!(!allowed(&["list", "watch"]));
}

#[test]
fn resource_names_restrict_to_listed_connectors() {
    let rules = alice_with(vec![rule(&[GROUP], &["connectors"], &["get"], &["git"])]);
    assert!(rules.allows(&alice(), &check("team-a", "git")));
    assert!(!rules.allows(&alice(), &check("team-a", "registry")));
}

#[test]
fn subresources_need_their_own_grant() {
    let proxy = AccessCheck::use_connector("team-a", "git", true);
    let plain = check("team-a", "git");
    let allows = |resources: &[&str], check: &AccessCheck| {
        let rules = alice_with(vec![rule(&[GROUP], resources, &["get"], &[])]);
        rules.allows(&alice(), check)
    };
    assert!(allows(&["connectors"], &plain));
    assert!(!allows(&["connectors"], &proxy));
    assert!(allows(&["connectors/proxy"], &proxy));
    assert!(!allows(&["connectors/proxy"], &plain));
    assert!(allows(&["*/proxy"], &proxy));
    assert!(!allows(&["*/proxy"], &plain));
    assert!(allows(&["*"], &proxy));
    assert!(allows(&["*"], &plain));
    // The API server has no `connectors/*` wildcard: it names a subresource called `*`.
    assert!(!allows(&["connectors/*"], &proxy));
    assert!(!allows(&["connectors/status", "*/exec"], &proxy));
    assert!(!allows(&["secrets"], &plain));
}

mod properties;
