//! Properties of rule matching over small generated rules and checks.

use proptest::prelude::*;

use super::*;

fn field() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(vec![
            "get",
            "list",
            "git",
            "ci",
            "connectors",
            "connectors/proxy",
            "*/proxy",
            "apps",
            GROUP,
        ])
        .prop_map(str::to_owned),
        0..4,
    )
}

fn any_rule() -> impl Strategy<Value = PolicyRule> {
    (field(), field(), field(), field()).prop_map(|(groups, resources, verbs, names)| PolicyRule {
        api_groups: Some(groups),
        resources: Some(resources),
        verbs,
        resource_names: Some(names),
        non_resource_urls: None,
    })
}

fn any_check() -> impl Strategy<Value = AccessCheck> {
    let word = || prop::sample::select(vec!["get", "list", "git", "ci"]);
    (word(), word(), any::<bool>()).prop_map(|(verb, name, proxy)| AccessCheck {
        verb: verb.to_owned(),
        ..AccessCheck::use_connector("ns", name, proxy)
    })
}

proptest! {
    /// Widening any one field of a rule to `*` (or dropping its name list) never takes away
    /// an access the rule allowed.
    #[test]
    fn wildcards_allow_everything_a_specific_rule_allows(
        rule in any_rule(),
        check in any_check(),
        field in 0..4usize,
    ) {
        let mut wide = rule.clone();
        match field {
            0 => wide.api_groups = Some(vec!["*".to_owned()]),
            1 => wide.resources = Some(vec!["*".to_owned()]),
            2 => wide.verbs = vec!["*".to_owned()],
            _ => wide.resource_names = None,
        }
        if rule_allows(&rule, &check) {
            prop_assert!(rule_allows(&wide, &check));
        }
    }

    /// A rule written for exactly one check allows it, and a binding of it allows the user
    /// only that check's connector among the others.
    #[test]
    fn an_exact_rule_allows_its_check(check in any_check(), other in any_check()) {
        let resource = match &check.subresource {
            Some(sub) => format!("connectors/{sub}"),
            None => "connectors".to_owned(),
        };
        let exact = rule(&[GROUP], &[&resource], &[&check.verb], &[&check.name]);
        prop_assert!(rule_allows(&exact, &check));
        let rules = alice_with(vec![exact]);
        let mut here = check.clone();
        here.namespace = "team-a".to_owned();
        prop_assert!(rules.allows(&alice(), &here));
        let mut there = other.clone();
        there.namespace = "team-a".to_owned();
        prop_assert_eq!(rules.allows(&alice(), &there), there == here);
    }
}
