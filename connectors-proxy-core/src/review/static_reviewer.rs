//! The embedded-mode reviewer: a static token file and RBAC manifests, with no cluster.

use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;

use super::rbac::RbacRules;
use super::token_file::TokenTable;
use super::{AccessCheck, Authentication, Identity, ReviewError, Reviewer};
use crate::secret::ClientToken;

/// A [`Reviewer`] answering from a [`TokenTable`] and [`RbacRules`], both replaceable while
/// it serves (when the token file or the manifest folder changes).
///
/// It never fails: it has no remote source to lose. Static tokens do not expire.
#[derive(Debug)]
pub struct StaticReviewer {
    tokens: RwLock<Arc<TokenTable>>,
    rules: RwLock<Arc<RbacRules>>,
}

impl StaticReviewer {
    /// A reviewer for these tokens and rules.
    pub fn new(tokens: TokenTable, rules: RbacRules) -> Self {
        Self {
            tokens: RwLock::new(Arc::new(tokens)),
            rules: RwLock::new(Arc::new(rules)),
        }
    }

    /// Replaces the token table; reviews already running finish with the old one.
    pub fn set_tokens(&self, tokens: TokenTable) {
        *self.tokens.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(tokens);
    }

    /// Replaces the RBAC rules; reviews already running finish with the old ones.
    pub fn set_rules(&self, rules: RbacRules) {
        *self.rules.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(rules);
    }

    fn tokens(&self) -> Arc<TokenTable> {
        // The lock only guards an `Arc` swap, which cannot leave it half-written.
        Arc::clone(&self.tokens.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn rules(&self) -> Arc<RbacRules> {
        Arc::clone(&self.rules.read().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl Reviewer for StaticReviewer {
    async fn authenticate(&self, token: &ClientToken) -> Result<Authentication, ReviewError> {
        Ok(match self.tokens().get(&token.hash()) {
            Some(user) => Authentication::Authenticated {
                user: Arc::clone(user),
                expires_at: None,
            },
            None => Authentication::Rejected,
        })
    }

    async fn authorize(
        &self,
        identity: &Identity,
        check: &AccessCheck,
    ) -> Result<bool, ReviewError> {
        Ok(self.rules().allows(&identity.user, check))
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::rbac::v1::{
        ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;
    use crate::model::GROUP;

    /// Rules that let `group` use every connector in every namespace.
    fn group_may_use(group: &str) -> RbacRules {
        let role = ClusterRole {
            metadata: ObjectMeta {
                name: Some("use".to_owned()),
                ..Default::default()
            },
            rules: Some(vec![PolicyRule {
                api_groups: Some(vec![GROUP.to_owned()]),
                resources: Some(vec!["connectors".to_owned()]),
                verbs: vec!["get".to_owned()],
                ..Default::default()
            }]),
            aggregation_rule: None,
        };
        let binding = ClusterRoleBinding {
            metadata: ObjectMeta::default(),
            role_ref: RoleRef {
                api_group: None,
                kind: "ClusterRole".to_owned(),
                name: "use".to_owned(),
            },
            subjects: Some(vec![Subject {
                kind: "Group".to_owned(),
                name: group.to_owned(),
                ..Default::default()
            }]),
        };
        RbacRules::new(&[] as &[Role], &[role], &[] as &[RoleBinding], &[binding])
    }

    async fn identity(reviewer: &StaticReviewer, token: &str) -> Option<Identity> {
        let token = ClientToken::new(token);
        match reviewer.authenticate(&token).await.unwrap() {
            Authentication::Authenticated { user, expires_at } => {
                assert_eq!(expires_at, None);
                Some(Identity {
                    user,
                    token_hash: token.hash(),
                })
            }
            Authentication::Rejected => None,
        }
    }

    #[tokio::test]
    async fn authenticates_listed_tokens_and_authorizes_by_rules() {
        let tokens = TokenTable::parse("tok-a,alice,1,devs\ntok-b,bob,2\n").unwrap();
        let reviewer = StaticReviewer::new(tokens, group_may_use("devs"));
        let check = AccessCheck::use_connector("team-a", "git", false);

        let alice = identity(&reviewer, "tok-a").await.expect("alice is listed");
        assert_eq!(alice.user.username, "alice");
        assert!(reviewer.authorize(&alice, &check).await.unwrap());

        let bob = identity(&reviewer, "tok-b").await.expect("bob is listed");
        assert!(!reviewer.authorize(&bob, &check).await.unwrap());

        assert!(identity(&reviewer, "tok-c").await.is_none());
    }

    #[tokio::test]
    async fn tokens_and_rules_can_be_replaced() {
        let reviewer = StaticReviewer::new(
            TokenTable::parse("old,alice,1,devs\n").unwrap(),
            group_may_use("devs"),
        );
        let check = AccessCheck::use_connector("team-a", "git", false);
        let alice = identity(&reviewer, "old").await.unwrap();
        assert!(reviewer.authorize(&alice, &check).await.unwrap());

        reviewer.set_tokens(TokenTable::parse("new,alice,1,devs\n").unwrap());
        assert!(identity(&reviewer, "old").await.is_none());
        assert!(identity(&reviewer, "new").await.is_some());

        reviewer.set_rules(group_may_use("ops"));
        assert!(!reviewer.authorize(&alice, &check).await.unwrap());
    }
}
