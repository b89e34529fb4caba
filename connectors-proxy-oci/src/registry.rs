//! Logging in to the registry on the client's behalf: the innermost step of the OCI stack.
//!
//! The registry's challenge is learnt once per registry origin by pinging `/v2/`. Bearer
//! registries get a token for the scopes the request needs (`pull` for reads, `pull,push` for
//! writes), fetched from the realm with the connector's login and cached per connector;
//! concurrent requests needing the same token share one fetch. Basic registries get the
//! connector's login. A `401` on a request without a body drops the token and retries once;
//! bodies are streamed and never replayed. A token minted for the request's scopes that the
//! registry still finds short (`insufficient_scope`) becomes a `403` saying the connector may
//! not do this. The registry's own challenge never reaches the client.

use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use connectors_proxy_core::address::Origin;
use connectors_proxy_core::body::{Body, Request, Response};
use connectors_proxy_core::catalog::{ConnectorEntry, Credentials};
use connectors_proxy_core::error::Refusal;
use connectors_proxy_core::layers::inject::authorization_for;
use connectors_proxy_core::layers::resolve::ReverseTarget;
use connectors_proxy_core::layers::{Authorized, Mode, ProxyService, ResponseFuture};
use connectors_proxy_core::secret::TokenHash;
use http::{HeaderValue, StatusCode, header};
use tower::ServiceExt;
use tracing::debug;

use crate::challenge::{self, Challenge};
use crate::realm::{self, Login};
use crate::scope;
use crate::token::{TokenCache, TokenKey, usable_for};
use retry::{Refused, Replay, not_granted};

/// How long a learnt registry challenge is trusted before the registry is pinged again.
const CHALLENGE_TTL: Duration = Duration::from_secs(300);

/// What a registry asks of its clients, as learnt from `GET /v2/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryChallenge {
    /// No authentication.
    Open,
    /// HTTP Basic with the connector's login.
    Basic,
    /// Bearer tokens from `realm`.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The `service` parameter.
        service: Option<String>,
    },
}

impl RegistryChallenge {
    /// The challenge to follow among `challenges`: Bearer first, then Basic.
    pub fn choose(challenges: &[Challenge]) -> Option<Self> {
        let bearer = challenges.iter().find(|c| c.is("bearer"));
        if let Some(realm) = bearer.and_then(|c| c.param("realm")) {
            return Some(Self::Bearer {
                realm: realm.to_owned(),
                service: bearer.and_then(|c| c.param("service")).map(str::to_owned),
            });
        }
        challenges
            .iter()
            .any(|c| c.is("basic"))
            .then_some(Self::Basic)
    }
}

/// Marks responses that came from the registry rather than from the proxy's own checks.
#[derive(Debug, Clone, Copy)]
pub struct FromRegistry;

/// The registry login state shared by every request: learnt challenges and cached tokens.
#[derive(Debug, Clone)]
pub struct RegistryAuthLayer {
    challenges: moka::future::Cache<Origin, RegistryChallenge>,
    tokens: TokenCache,
}

impl Default for RegistryAuthLayer {
    fn default() -> Self {
        Self {
            challenges: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CHALLENGE_TTL)
                .build(),
            tokens: TokenCache::default(),
        }
    }
}

impl<S> tower::Layer<S> for RegistryAuthLayer {
    type Service = RegistryAuth<S>;

    fn layer(&self, inner: S) -> RegistryAuth<S> {
        RegistryAuth {
            inner,
            state: self.clone(),
        }
    }
}

/// Service that logs in to the registry for each routed request; see [`RegistryAuthLayer`].
#[derive(Debug, Clone)]
pub struct RegistryAuth<S> {
    inner: S,
    state: RegistryAuthLayer,
}

impl<S: ProxyService + Sync> tower::Service<Request> for RegistryAuth<S> {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        let this = self.clone();
        Box::pin(async move {
            let Some(Authorized(entry)) = req.extensions().get::<Authorized>().cloned() else {
                // A forward request to a host that is no connector's: sent as it is.
                return Ok(this.forward(req).await);
            };
            let challenge_client = !matches!(
                req.extensions().get::<Mode>(),
                Some(Mode::Forward | Mode::Connect)
            );
            // The proxy's own refusals get the registry error shape from the front layer.
            Ok(match this.send(req, &entry).await {
                Ok(response) => finish(response, challenge_client),
                Err(refusal) => refusal.into_response(),
            })
        })
    }
}

impl<S: ProxyService + Sync> RegistryAuth<S> {
    async fn send(&self, mut req: Request, entry: &ConnectorEntry) -> Result<Response, Refusal> {
        let login = login_of(entry)?;
        crate::path::unprefix_mount_source(&mut req);
        let scopes = request_scopes(&req);
        let known = self.challenge(entry).await;
        let sent = self
            .authorize(&mut req, entry, login.as_ref(), &known, &scopes, false)
            .await?;
        let replay = Replay::of(&req);
        let method = req.method().clone();
        let response = self.forward(req).await;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let refused = Refused::read(&response);
        let Some(fresh) = refused.challenge.clone() else {
            return Ok(response);
        };
        let retry_scopes = refused.scopes.clone().unwrap_or_else(|| scopes.clone());
        let retry = match (&fresh, &sent) {
            (RegistryChallenge::Bearer { .. }, Sent::Token(key)) if refused.token_refused() => {
                self.state.tokens.remove(key).await;
                true
            }
            (RegistryChallenge::Bearer { .. }, Sent::Token(_)) => false,
            (RegistryChallenge::Basic, Sent::Basic) => false,
            _ => true,
        };
        let Some(replay) = replay.filter(|_| retry) else {
            // A token minted for exactly these scopes fell short: the login lacks the right.
            if refused.insufficient_scope() && matches!(sent, Sent::Token(_)) {
                return Err(not_granted(entry, &method, &retry_scopes));
            }
            return Ok(response);
        };
        debug!(connector = %entry.key(), "registry refused the request; retrying once");
        self.state
            .challenges
            .insert(entry.address.origin().clone(), fresh.clone())
            .await;
        let mut again = replay.request();
        again.headers_mut().remove(header::AUTHORIZATION);
        let sent = self
            .authorize(
                &mut again,
                entry,
                login.as_ref(),
                &fresh,
                &retry_scopes,
                true,
            )
            .await?;
        let response = self.forward(again).await;
        if response.status() == StatusCode::UNAUTHORIZED
            && matches!(sent, Sent::Token(_))
            && Refused::read(&response).insufficient_scope()
        {
            return Err(not_granted(entry, &method, &retry_scopes));
        }
        Ok(response)
    }

    async fn forward(&self, req: Request) -> Response {
        match self.inner.clone().oneshot(req).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }

    /// The registry's challenge: cached, or learnt by pinging `/v2/` without credentials
    /// (one ping per registry however many requests wait for it).
    async fn challenge(&self, entry: &ConnectorEntry) -> RegistryChallenge {
        let origin = entry.address.origin();
        let learn = async {
            let uri = format!("{origin}{}", entry.address.join("/v2/", None));
            let mut ping = http::Request::new(Body::empty());
            *ping.uri_mut() = uri.parse().map_err(|_| ())?;
            let response = self.forward(ping).await;
            let learnt = match response.status() {
                StatusCode::UNAUTHORIZED => {
                    let values = response.headers().get_all(header::WWW_AUTHENTICATE);
                    let parsed =
                        challenge::parse_all(values.iter().filter_map(|v| v.to_str().ok()));
                    RegistryChallenge::choose(&parsed).unwrap_or(RegistryChallenge::Open)
                }
                status if status.is_success() => RegistryChallenge::Open,
                // Unreachable or broken: do not remember; the request itself will tell.
                _ => return Err(()),
            };
            debug!(registry = %origin, challenge = ?learnt, "learnt registry challenge");
            Ok(learnt)
        };
        self.state
            .challenges
            .try_get_with(origin.clone(), learn)
            .await
            .unwrap_or(RegistryChallenge::Open)
    }

    /// Adds the credential `challenge` asks for; `fresh` skips the token cache.
    async fn authorize(
        &self,
        req: &mut Request,
        entry: &ConnectorEntry,
        login: Option<&Login>,
        challenge: &RegistryChallenge,
        scopes: &[String],
        fresh: bool,
    ) -> Result<Sent, Refusal> {
        match challenge {
            RegistryChallenge::Open => Ok(Sent::Nothing),
            RegistryChallenge::Basic => {
                let Credentials::Secret { secret, .. } = &entry.credentials else {
                    return Ok(Sent::Nothing);
                };
                let value = authorization_for(entry, secret)?;
                req.headers_mut().insert(header::AUTHORIZATION, value);
                Ok(Sent::Basic)
            }
            RegistryChallenge::Bearer { realm, service } => {
                let (key, token) = self
                    .token(entry, login, realm, service.as_deref(), scopes, fresh)
                    .await?;
                let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose()))
                    .map_err(|_| {
                        Refusal::BadGateway("The registry issued a malformed token.".into())
                    })?;
                value.set_sensitive(true);
                req.headers_mut().insert(header::AUTHORIZATION, value);
                Ok(Sent::Token(key))
            }
        }
    }

    async fn token(
        &self,
        entry: &ConnectorEntry,
        login: Option<&Login>,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        fresh: bool,
    ) -> Result<(TokenKey, connectors_proxy_core::secret::SecretString), Refusal> {
        let failed = |error: &realm::RealmError| {
            Refusal::BadGateway(format!(
                "Cannot get a registry token for connector {}: {error}.",
                entry.key()
            ))
        };
        let realm_origin = realm::realm_origin(realm).map_err(|e| failed(&e))?;
        let login = login.filter(|_| {
            let allowed = realm::may_send_login(entry.address.origin(), &realm_origin);
            if !allowed {
                debug!(realm = %realm_origin, "not sending the connector login to a plain-http realm on another host");
            }
            allowed
        });
        let key = TokenKey {
            connector: entry.key(),
            credentials: login
                .map(|l| TokenHash::of(&format!("{}\0{}", l.username, l.password.expose()))),
            realm: realm.to_owned(),
            service: service.map(str::to_owned),
            scopes: scope::scope_set(scopes),
        };
        if fresh {
            self.state.tokens.remove(&key).await;
        }
        let fetch = async {
            let request = realm::token_request(realm, service, scopes, login);
            let response = self.forward(request).await;
            let answer = realm::read_token(&realm_origin.host, response).await?;
            let usable = usable_for(
                answer.expires_in,
                answer.issued_at.as_deref(),
                SystemTime::now(),
            );
            Ok::<_, realm::RealmError>((answer.token, usable))
        };
        let token = self
            .state
            .tokens
            .get_or_fetch(key.clone(), fetch)
            .await
            .map_err(|error| failed(&error))?;
        Ok((key, token))
    }
}

/// Which credential went with a request.
enum Sent {
    Nothing,
    Basic,
    Token(TokenKey),
}

/// The connector's registry login, `None` when it has no Secret or no username/password.
fn login_of(entry: &ConnectorEntry) -> Result<Option<Login>, Refusal> {
    match &entry.credentials {
        Credentials::None => Ok(None),
        Credentials::Broken(reason) => Err(Refusal::Misconfigured(format!(
            "Connector {} cannot be used: {reason}.",
            entry.key()
        ))),
        Credentials::Secret { secret, .. } => {
            Ok(match (secret.get("username"), secret.get("password")) {
                (Some(user), Some(password)) => Some(Login {
                    username: user.expose().to_owned(),
                    password: password.clone(),
                }),
                _ => None,
            })
        }
    }
}

/// The scopes a routed request needs, from its repository, method and query.
fn request_scopes(req: &Request) -> Vec<String> {
    let Some(rest) = registry_path(req) else {
        return Vec::new();
    };
    crate::path::repository(rest)
        .map(|repo| scope::scopes_for(req.method(), repo, req.uri().query()))
        .unwrap_or_default()
}

/// The registry path of a routed request (`/v2/<repo>/…`, no query): below the connector in
/// reverse mode, below the connector's address in forward mode.
fn registry_path(req: &Request) -> Option<&str> {
    let rest = match req.extensions().get::<ReverseTarget>() {
        Some(target) => target.rest.as_str(),
        None => {
            let Authorized(entry) = req.extensions().get::<Authorized>()?;
            entry.address.strip_prefix(req.uri().path())?
        }
    };
    rest.split('?').next()
}

/// Takes the registry's challenge off the response (clients log in to the proxy, not to the
/// registry) and marks the response as the registry's. A reverse-mode `401` carries the
/// proxy's own challenge; forward-mode clients logged in on `CONNECT` and get none.
fn finish(mut response: Response, challenge_client: bool) -> Response {
    let headers = response.headers_mut();
    headers.remove(header::WWW_AUTHENTICATE);
    if challenge_client && response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(crate::front::CHALLENGE),
        );
    }
    response.extensions_mut().insert(FromRegistry);
    response
}

mod retry;
#[cfg(test)]
mod tests;
