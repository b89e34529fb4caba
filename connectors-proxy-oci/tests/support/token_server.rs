//! A Distribution token server: checks Basic logins, logs who asked for which scopes, and
//! issues ES256 JWTs signed by a certificate the registry trusts (`x5c` header).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use connectors_proxy_core::body::{Body, Request, Response};
use connectors_proxy_core::credentials::decode_basic;
use connectors_proxy_core::server::{ServerSettings, serve};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};

/// Who asked for a token (`anonymous` without a login) and for which scopes.
pub(crate) type Requests = Arc<Mutex<Vec<(String, Vec<String>)>>>;

/// A running token server.
pub(crate) struct TokenServer {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// Every token request so far.
    pub(crate) requests: Requests,
    /// Milliseconds each answer waits before it is sent.
    pub(crate) delay_ms: Arc<AtomicU64>,
}

/// The registry `auth:` block trusting this server.
pub(crate) fn registry_auth(addr: SocketAddr, cert_file: &Path) -> String {
    registry_auth_at(&addr.to_string(), cert_file)
}

/// The registry `auth:` block trusting this server, which clients reach at `authority`.
pub(crate) fn registry_auth_at(authority: &str, cert_file: &Path) -> String {
    format!(
        "auth:\n  token:\n    realm: http://{authority}/token\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: {}\n",
        cert_file.display()
    )
}

/// Starts the server on a loopback port; `users` maps usernames to passwords, and `readers`
/// are users granted only `pull` whatever they ask for. The signing certificate is written to
/// `cert_file`.
pub(crate) async fn start(
    users: &[(&str, &str)],
    readers: &[&str],
    cert_file: &Path,
) -> TokenServer {
    start_on(IpAddr::from([127, 0, 0, 1]), users, readers, cert_file).await
}

/// Starts the server on a port of `ip`; see [`start`].
pub(crate) async fn start_on(
    ip: IpAddr,
    users: &[(&str, &str)],
    readers: &[&str],
    cert_file: &Path,
) -> TokenServer {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["token-server".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(cert_file, cert.pem()).unwrap();
    let signer = Arc::new(
        EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &SystemRandom::new(),
        )
        .unwrap(),
    );
    let x5c = STANDARD.encode(cert.der());
    let users: Arc<BTreeMap<String, String>> = Arc::new(
        users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect(),
    );
    let readers: Arc<Vec<String>> = Arc::new(readers.iter().map(|r| r.to_string()).collect());
    let requests = Requests::default();
    let log = requests.clone();
    let delay_ms = Arc::new(AtomicU64::new(0));
    let delay = delay_ms.clone();
    let service = tower::service_fn(move |req: Request| {
        let response = answer(&req, &users, &readers, &signer, &x5c, &log);
        let wait = Duration::from_millis(delay.load(Ordering::Relaxed));
        async move {
            tokio::time::sleep(wait).await;
            Ok::<_, Infallible>(response)
        }
    });
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(
        listener,
        service,
        ServerSettings::default(),
        std::future::pending(),
    ));
    TokenServer {
        addr,
        requests,
        delay_ms,
    }
}

fn answer(
    req: &Request,
    users: &BTreeMap<String, String>,
    readers: &[String],
    signer: &EcdsaKeyPair,
    x5c: &str,
    log: &Requests,
) -> Response {
    let scopes: Vec<String> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.strip_prefix("scope="))
        .map(percent_decode)
        .collect();
    let login = req.headers().get("authorization").and_then(decode_basic);
    let subject = match login {
        None => "anonymous".to_owned(),
        Some((Some(user), password)) if users.get(&user) == Some(&password) => user,
        Some(_) => {
            log.lock().unwrap().push(("rejected".into(), scopes));
            let mut response = Response::new(Body::full("bad login"));
            *response.status_mut() = http::StatusCode::UNAUTHORIZED;
            return response;
        }
    };
    log.lock().unwrap().push((subject.clone(), scopes.clone()));
    let access: Vec<serde_json::Value> = if subject == "anonymous" {
        Vec::new()
    } else {
        scopes
            .iter()
            .filter_map(|s| {
                let (kind, rest) = s.split_once(':')?;
                let (name, actions) = rest.rsplit_once(':')?;
                let actions: Vec<&str> = actions
                    .split(',')
                    .filter(|a| *a == "pull" || !readers.contains(&subject))
                    .collect();
                Some(serde_json::json!({"type": kind, "name": name, "actions": actions}))
            })
            .collect()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": "test-issuer", "sub": subject, "aud": "test-registry",
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", log.lock().unwrap().len()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = signer
        .sign(&SystemRandom::new(), signing_input.as_bytes())
        .unwrap();
    let token = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    );
    let body = serde_json::json!({"token": token, "expires_in": 300});
    Response::new(Body::full(body.to_string()))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
