//! Who a client is and what it may use: token authentication and connector authorization.
//!
//! A [`Reviewer`] answers the two questions the Kubernetes API answers with TokenReview and
//! SubjectAccessReview. Implementations talk to their source directly; [`CachedReviewer`] wraps
//! any of them with the hashed-key, split-TTL, single-flight cache every deployment uses.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::secret::{ClientToken, TokenHash};

mod cache;
mod kube;
mod rate_limit;
mod rbac;
mod static_reviewer;
mod token_file;

pub use self::kube::{KubeReviewer, KubeReviewerSettings};
pub use cache::{CacheSettings, CachedReviewer};
pub use rbac::RbacRules;
pub use static_reviewer::StaticReviewer;
pub use token_file::{TokenFileError, TokenTable};

/// The identity a token belongs to, as TokenReview reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name, e.g. `system:serviceaccount:ns:sa`.
    pub username: String,
    /// The user's UID.
    pub uid: String,
    /// The user's groups.
    pub groups: Vec<String>,
    /// Extra attributes, copied into SubjectAccessReview.
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The outcome of authenticating a token.
#[derive(Debug, Clone)]
pub enum Authentication {
    /// The token is valid.
    Authenticated {
        /// Who it belongs to.
        user: Arc<UserInfo>,
        /// When the token stops being valid, when known; caches never outlive it.
        expires_at: Option<SystemTime>,
    },
    /// The token is not valid (unknown, expired, wrong audience).
    Rejected,
}

/// An authenticated client: its identity and the hash of the token that proved it.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Who the client is.
    pub user: Arc<UserInfo>,
    /// The hash of the client's token, used to key authorization caches.
    pub token_hash: TokenHash,
}

/// A request to use one connector: the attributes a SubjectAccessReview checks.
///
/// Group and resource are always `connectors.alauda.io` / `connectors`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccessCheck {
    /// The connector's namespace.
    pub namespace: String,
    /// The connector's name.
    pub name: String,
    /// The verb; `get` for using a connector.
    pub verb: String,
    /// `Some("proxy")` when proxy permission is required.
    pub subresource: Option<String>,
}

impl AccessCheck {
    /// The check for `get` on `connectors/<name>` (plus `/proxy` when `proxy` is set).
    pub fn use_connector(namespace: &str, name: &str, proxy: bool) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            verb: "get".to_owned(),
            subresource: proxy.then(|| crate::model::PROXY_SUBRESOURCE.to_owned()),
        }
    }
}

/// Why a review could not be completed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReviewError {
    /// The review source (the Kubernetes API) could not be reached or failed.
    #[error("the review service is unavailable: {0}")]
    Unavailable(String),
}

/// Authenticates tokens and authorizes identities.
#[async_trait]
pub trait Reviewer: Send + Sync + 'static {
    /// Checks a token.
    async fn authenticate(&self, token: &ClientToken) -> Result<Authentication, ReviewError>;

    /// Checks whether an authenticated identity may perform `check`.
    async fn authorize(
        &self,
        identity: &Identity,
        check: &AccessCheck,
    ) -> Result<bool, ReviewError>;
}
