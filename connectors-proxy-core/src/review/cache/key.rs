//! The authorization cache key, and a borrowed form that looks it up without allocating.

use moka::Equivalent;

use crate::review::AccessCheck;
use crate::secret::TokenHash;

/// The key of an authorization result: whose token, and which access.
///
/// Its `Hash` must feed the hasher exactly what [`AuthorizationKeyRef`]'s does: both derive it
/// over the same fields in the same order, and hashing a reference hashes its target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct AuthorizationKey {
    token: TokenHash,
    check: AccessCheck,
}

/// An [`AuthorizationKey`] made of references, for lookups on the hit path.
#[derive(Debug, Clone, Copy, Hash)]
pub(super) struct AuthorizationKeyRef<'a> {
    token: &'a TokenHash,
    check: &'a AccessCheck,
}

impl<'a> AuthorizationKeyRef<'a> {
    pub(super) fn new(token: &'a TokenHash, check: &'a AccessCheck) -> Self {
        Self { token, check }
    }

    /// The owned key, for storing a result.
    pub(super) fn to_key(self) -> AuthorizationKey {
        AuthorizationKey {
            token: *self.token,
            check: self.check.clone(),
        }
    }
}

impl Equivalent<AuthorizationKey> for AuthorizationKeyRef<'_> {
    fn equivalent(&self, key: &AuthorizationKey) -> bool {
        *self.token == key.token && *self.check == key.check
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn borrowed_and_owned_keys_hash_and_compare_alike() {
        let hasher = std::collections::hash_map::RandomState::new();
        let token = TokenHash::of("t");
        let check = AccessCheck::use_connector("ns", "git", true);
        let borrowed = AuthorizationKeyRef::new(&token, &check);
        let owned = borrowed.to_key();
        assert_eq!(hasher.hash_one(borrowed), hasher.hash_one(&owned));
        assert!(borrowed.equivalent(&owned));

        let other = AccessCheck::use_connector("ns", "git", false);
        assert!(!AuthorizationKeyRef::new(&token, &other).equivalent(&owned));
        let other_token = TokenHash::of("u");
        assert!(!AuthorizationKeyRef::new(&other_token, &check).equivalent(&owned));
    }
}
