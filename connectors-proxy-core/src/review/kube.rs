//! The Kubernetes-mode reviewer: TokenReview and SubjectAccessReview against the API server.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec, TokenReviewStatus};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};
use tracing::{debug, warn};

use super::rate_limit::RateLimiter;
use super::{AccessCheck, Authentication, Identity, ReviewError, Reviewer, UserInfo};
use crate::model::{CONNECTORS_RESOURCE, GROUP};
use crate::secret::ClientToken;

/// How long one review call may take before it counts as the API being unavailable.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How a [`KubeReviewer`] calls the API server.
#[derive(Debug, Clone)]
pub struct KubeReviewerSettings {
    /// The audiences sent in TokenReview; when non-empty, a token must be valid for one of them.
    pub audiences: Vec<String>,
    /// Review calls per second, sustained.
    pub qps: f64,
    /// Review calls allowed in a burst.
    pub burst: u32,
}

impl Default for KubeReviewerSettings {
    fn default() -> Self {
        Self {
            audiences: Vec::new(),
            qps: 50.0,
            burst: 100,
        }
    }
}

/// A [`Reviewer`] asking the Kubernetes API; wrap it in a [`super::CachedReviewer`].
pub struct KubeReviewer {
    client: Client,
    audiences: Vec<String>,
    limiter: RateLimiter,
}

impl std::fmt::Debug for KubeReviewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeReviewer")
            .field("audiences", &self.audiences)
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl KubeReviewer {
    /// A reviewer calling through `client`.
    pub fn new(client: Client, settings: KubeReviewerSettings) -> Self {
        Self {
            client,
            audiences: settings.audiences,
            limiter: RateLimiter::new(settings.qps, settings.burst),
        }
    }

    /// Waits for a permit, then runs one API call with a time limit.
    async fn call<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ReviewError> {
        self.limiter.acquire().await;
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(kube::Error::Api(status))) if matches!(status.code, 401 | 403) => {
                warn!(
                    code = status.code,
                    "the API server refused the proxy's own {what}; check its RBAC"
                );
                Err(ReviewError::Unavailable(format!(
                    "{what} refused with {}",
                    status.code
                )))
            }
            Ok(Err(err)) => Err(ReviewError::Unavailable(format!(
                "{what} failed: {}",
                crate::catalog::describe_error(&err)
            ))),
            Err(_) => Err(ReviewError::Unavailable(format!(
                "{what} took longer than {CALL_TIMEOUT:?}"
            ))),
        }
    }
}

#[async_trait]
impl Reviewer for KubeReviewer {
    async fn authenticate(&self, token: &ClientToken) -> Result<Authentication, ReviewError> {
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.expose().to_owned(),
                audiences: (!self.audiences.is_empty()).then(|| self.audiences.clone()),
            },
            ..TokenReview::default()
        };
        let api: Api<TokenReview> = Api::all(self.client.clone());
        let answer = self
            .call("TokenReview", api.create(&PostParams::default(), &review))
            .await?;
        let status = answer.status.unwrap_or_default();
        Ok(authentication(status, &self.audiences, token))
    }

    async fn authorize(
        &self,
        identity: &Identity,
        check: &AccessCheck,
    ) -> Result<bool, ReviewError> {
        let user = &identity.user;
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    group: Some(GROUP.to_owned()),
                    resource: Some(CONNECTORS_RESOURCE.to_owned()),
                    subresource: check.subresource.clone(),
                    name: Some(check.name.clone()),
                    namespace: Some(check.namespace.clone()),
                    verb: Some(check.verb.clone()),
                    ..ResourceAttributes::default()
                }),
                user: Some(user.username.clone()),
                uid: (!user.uid.is_empty()).then(|| user.uid.clone()),
                groups: Some(user.groups.clone()),
                extra: (!user.extra.is_empty()).then(|| user.extra.clone()),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        let answer = self
            .call(
                "SubjectAccessReview",
                api.create(&PostParams::default(), &review),
            )
            .await?;
        let status = answer.status.unwrap_or_default();
        Ok(status.allowed && status.denied != Some(true))
    }
}

/// The outcome of a TokenReview answer: authenticated, and (when the proxy has audiences)
/// valid for at least one of them.
fn authentication(
    status: TokenReviewStatus,
    audiences: &[String],
    token: &ClientToken,
) -> Authentication {
    if status.authenticated != Some(true) {
        debug!(
            reason = status.error.as_deref().unwrap_or(""),
            "token rejected by TokenReview"
        );
        return Authentication::Rejected;
    }
    if !audiences.is_empty() {
        let granted = status.audiences.unwrap_or_default();
        if !granted.iter().any(|a| audiences.contains(a)) {
            debug!(?granted, "token is not valid for the proxy's audiences");
            return Authentication::Rejected;
        }
    }
    let user = status.user.unwrap_or_default();
    Authentication::Authenticated {
        user: Arc::new(UserInfo {
            username: user.username.unwrap_or_default(),
            uid: user.uid.unwrap_or_default(),
            groups: user.groups.unwrap_or_default(),
            extra: user.extra.unwrap_or_default(),
        }),
        expires_at: jwt_expiry(token.expose()),
    }
}

/// The `exp` claim of a JWT, read without verifying it (the API server verified the token;
/// this only bounds how long the answer is cached). `None` for anything else.
fn jwt_expiry(token: &str) -> Option<SystemTime> {
    let mut segments = token.split('.');
    let (_, payload, _, None) = (
        segments.next()?,
        segments.next()?,
        segments.next()?,
        segments.next(),
    ) else {
        return None;
    };
    let json = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let exp = claims.get("exp")?.as_u64()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(exp))
}

#[cfg(test)]
mod tests;
