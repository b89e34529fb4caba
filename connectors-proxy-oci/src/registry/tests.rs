use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use connectors_proxy_core::address::Address;
use connectors_proxy_core::catalog::{ClassEntry, ConnectorRef, SecretData};
use connectors_proxy_core::layers::resolve::ReverseTarget;
use tower::{Layer, Service};

use http::Method;

use super::*;

/// What the fake registry saw: method, URI and `Authorization`.
type Seen = Arc<Mutex<Vec<(String, String, Option<String>)>>>;

fn entry(name: &str, user: Option<&str>) -> Arc<ConnectorEntry> {
    let credentials = match user {
        Some(user) => {
            let mut data = BTreeMap::new();
            data.insert("username".into(), user.into());
            data.insert("password".into(), format!("{user}-pw").into());
            Credentials::Secret {
                auth_type: "basicAuth".into(),
                secret: Arc::new(SecretData {
                    name: "s".into(),
                    type_: "kubernetes.io/basic-auth".into(),
                    data,
                }),
            }
        }
        None => Credentials::None,
    };
    Arc::new(ConnectorEntry {
        namespace: "ns".into(),
        name: name.into(),
        address: Address::parse("http://reg.test:5000").unwrap(),
        extensions: Vec::new(),
        class: Arc::new(ClassEntry::default()),
        credentials,
    })
}

/// Sends `method path` without a body for the connector `entry` through `service`.
async fn send<S>(
    service: &mut S,
    entry: &Arc<ConnectorEntry>,
    method: Method,
    path: &str,
) -> Response
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
{
    service
        .call(request(entry, method, path, Body::empty()))
        .await
        .unwrap()
}

fn request(entry: &Arc<ConnectorEntry>, method: Method, path: &str, body: Body) -> Request {
    let mut req = http::Request::new(body);
    *req.method_mut() = method;
    *req.uri_mut() = format!("http://reg.test:5000{path}").parse().unwrap();
    req.extensions_mut().insert(Authorized(entry.clone()));
    req.extensions_mut().insert(ReverseTarget {
        connector: ConnectorRef::new("ns", &entry.name).unwrap(),
        rest: path.split('?').next().unwrap().into(),
        proxy_prefix: String::new(),
        lookup: Ok(Some(entry.clone())),
    });
    req
}

fn respond(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    let mut response = Response::new(Body::full(body.to_owned()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    for (k, v) in headers {
        response.headers_mut().append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    response
}

/// A registry whose realm is `realm`; tokens are `tok-<user>-<n>`; `refuse` makes the
/// registry answer every token with `invalid_token`.
fn registry(realm: &'static str, refuse: bool) -> (impl ProxyService + Sync, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let counter = Arc::new(Mutex::new(0));
    let service = tower::service_fn(move |req: Request| {
        let auth = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let uri = req.uri().to_string();
        log.lock()
            .unwrap()
            .push((req.method().to_string(), uri.clone(), auth.clone()));
        let challenge = format!(r#"Bearer realm="{realm}",service="reg.test""#);
        let response = if uri.starts_with(realm) {
            let mut n = counter.lock().unwrap();
            *n += 1;
            let user = auth.map_or("anon".to_owned(), |_| "user".to_owned());
            respond(
                200,
                &[],
                &format!(r#"{{"token":"tok-{user}-{n}","expires_in":300}}"#),
            )
        } else {
            match auth.as_deref() {
                Some(a) if a.starts_with("Bearer ") && !refuse => {
                    respond(200, &[("docker-content-digest", "sha256:1")], "ok")
                }
                Some(_) => respond(
                    401,
                    &[(
                        "www-authenticate",
                        &format!(r#"{challenge},error="invalid_token""#),
                    )],
                    "",
                ),
                None => respond(401, &[("www-authenticate", &challenge)], ""),
            }
        };
        std::future::ready(Ok::<_, Infallible>(response))
    });
    (service, seen)
}

fn tokens_fetched(seen: &Seen, realm: &str) -> Vec<(String, Option<String>)> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(_, uri, _)| uri.starts_with(realm))
        .map(|(_, uri, auth)| (uri.clone(), auth.clone()))
        .collect()
}

#[tokio::test]
async fn bearer_tokens_are_fetched_once_per_connector_and_scope() {
    let realm = "http://reg.test:5000/token";
    let (upstream, seen) = registry(realm, false);
    let mut service = RegistryAuthLayer::default().layer(upstream);
    let x = entry("x", Some("alice"));
    for _ in 0..2 {
        let response = send(&mut service, &x, Method::GET, "/v2/team/app/manifests/v1").await;
        assert_eq!(response.status(), 200);
    }
    let fetched = tokens_fetched(&seen, realm);
    assert_eq!(fetched.len(), 1, "{fetched:?}");
    assert_eq!(
        fetched[0].0,
        "http://reg.test:5000/token?service=reg.test&scope=repository%3Ateam%2Fapp%3Apull"
    );
    assert!(fetched[0].1.as_deref().unwrap().starts_with("Basic "));

    // Another connector on the same registry gets its own token, never x's.
    let y = entry("y", None);
    send(&mut service, &y, Method::GET, "/v2/team/app/manifests/v1").await;
    let fetched = tokens_fetched(&seen, realm);
    assert_eq!(fetched.len(), 2);
    assert_eq!(fetched[1].1, None);
    let last = seen.lock().unwrap().last().unwrap().2.clone();
    assert_eq!(last.as_deref(), Some("Bearer tok-anon-2"));
}

#[tokio::test]
async fn mounts_ask_for_both_repositories() {
    let realm = "http://reg.test:5000/token";
    let (upstream, seen) = registry(realm, false);
    let mut service = RegistryAuthLayer::default().layer(upstream);
    let x = entry("x", Some("alice"));
    let path = "/v2/a/blobs/uploads/?mount=sha256%3A1&from=b%2Fc";
    send(&mut service, &x, Method::POST, path).await;
    let fetched = tokens_fetched(&seen, realm);
    assert!(
        fetched[0]
            .0
            .ends_with("&scope=repository%3Aa%3Apull%2Cpush&scope=repository%3Ab%2Fc%3Apull"),
        "{fetched:?}"
    );
}

#[tokio::test]
async fn refused_tokens_are_retried_once_and_only_without_a_body() {
    let realm = "http://reg.test:5000/token";
    let (upstream, seen) = registry(realm, true);
    let mut service = RegistryAuthLayer::default().layer(upstream);
    let x = entry("x", Some("alice"));
    let response = send(&mut service, &x, Method::GET, "/v2/a/manifests/v1").await;
    assert_eq!(response.status(), 401);
    // The registry's challenge is replaced by the proxy's.
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        crate::front::CHALLENGE
    );
    let sends = |seen: &Seen| {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|(_, uri, _)| uri.contains("/manifests/") || uri.contains("/uploads/"))
            .count()
    };
    assert_eq!(sends(&seen), 2, "one send and one retry");
    assert_eq!(tokens_fetched(&seen, realm).len(), 2);

    seen.lock().unwrap().clear();
    let body = Body::full("not replayable");
    let response = service
        .call(request(
            &x,
            Method::PATCH,
            "/v2/a/blobs/uploads/u1?_state=s",
            body,
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(sends(&seen), 1, "a streamed body is never sent twice");
}

#[tokio::test]
async fn no_login_goes_to_a_plain_http_realm_on_another_host() {
    let realm = "http://auth.other:80/token";
    let (upstream, seen) = registry(realm, false);
    let mut service = RegistryAuthLayer::default().layer(upstream);
    let x = entry("x", Some("alice"));
    send(&mut service, &x, Method::GET, "/v2/a/manifests/v1").await;
    let fetched = tokens_fetched(&seen, realm);
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].1, None, "no Basic to an http realm elsewhere");
}

#[test]
fn chooses_bearer_over_basic() {
    let parsed = challenge::parse(r#"Basic realm="r", Bearer realm="https://t/token""#);
    assert_eq!(
        RegistryChallenge::choose(&parsed),
        Some(RegistryChallenge::Bearer {
            realm: "https://t/token".into(),
            service: None
        })
    );
    assert_eq!(
        RegistryChallenge::choose(&challenge::parse("Basic realm=x")),
        Some(RegistryChallenge::Basic)
    );
    assert_eq!(RegistryChallenge::choose(&challenge::parse("Bearer")), None);
}

#[test]
fn realm_policy() {
    let registry = connectors_proxy_core::address::Address::parse("http://reg.test:5000")
        .unwrap()
        .origin()
        .clone();
    let check =
        |realm: &str| realm::may_send_login(&registry, &realm::realm_origin(realm).unwrap());
    assert!(check("https://auth.example/token"));
    assert!(check("http://reg.test:5001/token"));
    assert!(!check("http://auth.example/token"));
    assert!(realm::realm_origin("ftp://x/token").is_err());
    assert!(realm::realm_origin("https://user@x/token").is_err());
}
