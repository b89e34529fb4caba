//! Values that must never be printed: tool credentials and client tokens.

use std::fmt;

use sha2::{Digest, Sha256};

/// A string holding a credential; its `Debug` and `Display` print `REDACTED`.
///
/// The only way to read the value is [`SecretString::expose`], so every place that handles the
/// raw credential is easy to find.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Returns the raw credential, for building the header or request that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the credential is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// The SHA-256 of a client token: the only form of a token that caches and logs may hold.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a token.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// A short, non-reversible tag for correlating log lines about the same token.
    pub fn short(&self) -> String {
        self.0[..4].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", self.short())
    }
}

/// A client's bearer token, kept with its hash so the hash is computed once per request.
#[derive(Clone)]
pub struct ClientToken {
    token: SecretString,
    hash: TokenHash,
}

impl ClientToken {
    /// Wraps a token taken from a request.
    pub fn new(token: impl Into<String>) -> Self {
        let token = SecretString::new(token);
        let hash = TokenHash::of(token.expose());
        Self { token, hash }
    }

    /// The raw token, for the review call that checks it.
    pub fn expose(&self) -> &str {
        self.token.expose()
    }

    /// The token's hash, the key under which review results are cached.
    pub fn hash(&self) -> TokenHash {
        self.hash
    }
}

impl fmt::Debug for ClientToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientToken")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let s = SecretString::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "REDACTED REDACTED");
        let t = ClientToken::new("eyJhbGciOi.secret");
        assert!(!format!("{t:?}").contains("secret"));
    }

    #[test]
    fn token_hash_is_stable_and_distinct() {
        assert_eq!(TokenHash::of("a"), TokenHash::of("a"));
        assert_ne!(TokenHash::of("a"), TokenHash::of("b"));
        assert_eq!(TokenHash::of("a").short().len(), 8);
    }
}
