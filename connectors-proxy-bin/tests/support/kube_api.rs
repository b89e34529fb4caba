//! A fake Kubernetes API server over HTTPS, serving just what Kubernetes mode calls.
//!
//! It serves list and watch of Connectors and ConnectorClasses (all namespaces or one), GET of
//! single Secrets, and TokenReview / SubjectAccessReview creation, in the real JSON shapes. It
//! records every review request, can be stopped and restarted on the same port, and can
//! forget its event history so a watch resuming from an old resourceVersion gets `410 Gone`.
//!
//! Not modelled: label or field selectors, pagination (`limit` is ignored and every list is
//! one page), `timeoutSeconds`, `sendInitialEvents` streaming lists, Secret list/watch, any
//! write to Connectors or other resources, server-side validation, API discovery, protobuf,
//! HTTP/2, and real RBAC: an access review is allowed exactly when the test granted that
//! (user, namespace, name, subresource) tuple; a token is known exactly when the test added it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// The bearer token the proxy presents, written into the kubeconfig.
pub(crate) const PROXY_SA_TOKEN: &str = "proxy-own-sa-token-77c1";

const GROUP_PATH: &str = "/apis/connectors.alauda.io/v1alpha1";

/// Which watched collection an object or event belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Connectors,
    Classes,
}

/// What the fake API server holds and has seen.
#[derive(Default)]
struct State {
    rv: u64,
    /// Events with a resourceVersion below this are forgotten: older watches get 410.
    oldest: u64,
    objects: BTreeMap<(String, String, String), Value>,
    events: Vec<(u64, Kind, &'static str, Value)>,
    tokens: HashMap<String, (Value, Vec<String>)>,
    grants: HashSet<(String, String, String, Option<String>)>,
    token_reviews: Vec<Value>,
    access_reviews: Vec<Value>,
}

fn kind_key(kind: Kind) -> &'static str {
    match kind {
        Kind::Connectors => "Connector",
        Kind::Classes => "ConnectorClass",
    }
}

struct Shared {
    state: Mutex<State>,
    /// Bumped on every change, so open watches send new events.
    changes: watch::Sender<u64>,
    /// Bumped to cut every open connection (stop, or history expiry for watches).
    cut: watch::Sender<u64>,
}

/// A running fake API server; stopped when dropped.
pub(crate) struct KubeApi {
    shared: Arc<Shared>,
    runtime: Runtime,
    addr: SocketAddr,
    acceptor: TlsAcceptor,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
    dir: TempDir,
}

impl KubeApi {
    /// Starts the server on an ephemeral port and writes its kubeconfig.
    pub(crate) fn start() -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("sign the CA");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().expect("server key");
        let params = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("server params");
        let cert = params
            .signed_by(&key, &issuer)
            .expect("sign the server cert");
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("server TLS config");
        let acceptor = TlsAcceptor::from(Arc::new(tls));

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    \
             server: https://{addr}\n    certificate-authority-data: {}\nusers:\n- name: proxy\n  \
             user:\n    token: {PROXY_SA_TOKEN}\ncontexts:\n- name: fake\n  context:\n    \
             cluster: fake\n    user: proxy\n    namespace: default\ncurrent-context: fake\n",
            STANDARD.encode(ca_cert.pem())
        );
        std::fs::write(dir.path().join("kubeconfig"), kubeconfig).expect("write kubeconfig");
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            changes: watch::Sender::new(0),
            cut: watch::Sender::new(0),
        });
        let api = Self {
            shared,
            runtime,
            addr,
            acceptor,
            server: Mutex::new(None),
            dir,
        };
        api.serve(listener);
        api
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let acceptor = self.acceptor.clone();
        let task = self.runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let mut cut = shared.cut.subscribe();
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |req| handle(req, shared.clone()));
                    let conn =
                        http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        *self.server.lock().unwrap() = Some(task);
    }

    /// The kubeconfig file pointing at this server with the proxy's token.
    pub(crate) fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Stops accepting and cuts every open connection; the port stays reserved for `resume`.
    pub(crate) fn stop(&self) {
        if let Some(task) = self.server.lock().unwrap().take() {
            task.abort();
        }
        self.shared.cut.send_modify(|n| *n += 1);
    }

    /// Listens again on the same port after [`KubeApi::stop`].
    pub(crate) fn resume(&self) {
        let listener = self
            .runtime
            .block_on(TcpListener::bind(self.addr))
            .expect("re-bind the fake API server");
        self.serve(listener);
    }

    /// Forgets the event history and cuts open watches: the client's next watch gets 410.
    pub(crate) fn expire_history(&self) {
        {
            let mut state = self.shared.state.lock().unwrap();
            state.oldest = state.rv + 1;
            state.events.clear();
        }
        self.shared.cut.send_modify(|n| *n += 1);
    }

    /// Creates or replaces a ConnectorClass, Connector or Secret (by its `kind`).
    pub(crate) fn apply(&self, mut object: Value) {
        let kind = object["kind"].as_str().expect("kind").to_owned();
        let ns = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let name = object["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_owned();
        let mut state = self.shared.state.lock().unwrap();
        state.rv += 1;
        let rv = state.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        object["metadata"]["uid"] = json!(format!("uid-{kind}-{ns}-{name}"));
        let key = (kind.clone(), ns, name);
        let event = if state.objects.contains_key(&key) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        state.objects.insert(key, object.clone());
        if let Some(watched) = watched_kind(&kind) {
            state.events.push((rv, watched, event, object));
        }
        drop(state);
        self.shared.changes.send_modify(|n| *n += 1);
    }

    /// Deletes an object applied earlier.
    pub(crate) fn delete(&self, kind: &str, ns: &str, name: &str) {
        let mut state = self.shared.state.lock().unwrap();
        let key = (kind.to_owned(), ns.to_owned(), name.to_owned());
        let Some(mut object) = state.objects.remove(&key) else {
            panic!("delete of unknown {kind} {ns}/{name}");
        };
        state.rv += 1;
        let rv = state.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        if let Some(watched) = watched_kind(kind) {
            state.events.push((rv, watched, "DELETED", object));
        }
        drop(state);
        self.shared.changes.send_modify(|n| *n += 1);
    }

    /// Makes `token` authenticate as `user` (with `groups`), answering with `audiences`.
    pub(crate) fn add_token(&self, token: &str, user: &str, groups: &[&str], audiences: &[&str]) {
        let info = json!({
            "username": user,
            "uid": format!("uid-{user}"),
            "groups": groups,
            "extra": {"authentication.kubernetes.io/pod-name": ["builder-pod"]},
        });
        let audiences = audiences.iter().map(|a| (*a).to_owned()).collect();
        let mut state = self.shared.state.lock().unwrap();
        state.tokens.insert(token.to_owned(), (info, audiences));
    }

    /// Allows `user` to `get` connector `ns/name` (or its `subresource`).
    pub(crate) fn grant(&self, user: &str, ns: &str, name: &str, subresource: Option<&str>) {
        let grant = (
            user.to_owned(),
            ns.to_owned(),
            name.to_owned(),
            subresource.map(str::to_owned),
        );
        self.shared.state.lock().unwrap().grants.insert(grant);
    }

    /// Every TokenReview request body received.
    pub(crate) fn token_reviews(&self) -> Vec<Value> {
        self.shared.state.lock().unwrap().token_reviews.clone()
    }

    /// Every SubjectAccessReview request body received.
    pub(crate) fn access_reviews(&self) -> Vec<Value> {
        self.shared.state.lock().unwrap().access_reviews.clone()
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        self.stop();
    }
}

fn watched_kind(kind: &str) -> Option<Kind> {
    match kind {
        "Connector" => Some(Kind::Connectors),
        "ConnectorClass" => Some(Kind::Classes),
        _ => None,
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn reply(code: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .unwrap()
}

fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    reply(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}),
    )
}

async fn handle(req: Request<Incoming>, shared: Arc<Shared>) -> Result<Response<Body>, Infallible> {
    let expected = format!("Bearer {PROXY_SA_TOKEN}");
    if req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        return Ok(status(401, "Unauthorized", "Unauthorized"));
    }
    let path = req.uri().path().to_owned();
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let method = req.method().clone();
    let body: Value = if method == hyper::Method::POST {
        let bytes = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    Ok(match (method.as_str(), segments.as_slice()) {
        ("POST", ["apis", "authentication.k8s.io", "v1", "tokenreviews"]) => {
            token_review(&shared, body)
        }
        ("POST", ["apis", "authorization.k8s.io", "v1", "subjectaccessreviews"]) => {
            access_review(&shared, body)
        }
        ("GET", ["api", "v1", "namespaces", ns, "secrets", name]) => {
            let key = ("Secret".to_owned(), (*ns).to_owned(), (*name).to_owned());
            match shared.state.lock().unwrap().objects.get(&key) {
                Some(secret) => reply(200, secret),
                None => status(404, "NotFound", &format!("secrets \"{name}\" not found")),
            }
        }
        ("GET", _) => match collection(&path) {
            Some((kind, ns)) if query.get("watch").is_some_and(|w| w == "true" || w == "1") => {
                let rv = query
                    .get("resourceVersion")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                watch_stream(&shared, kind, ns, rv)
            }
            Some((kind, ns)) => list(&shared, kind, ns.as_deref()),
            None => status(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        },
        _ => status(
            405,
            "MethodNotAllowed",
            "not supported by the fake API server",
        ),
    })
}

/// The watched collection and namespace a path names.
fn collection(path: &str) -> Option<(Kind, Option<String>)> {
    let rest = path.strip_prefix(GROUP_PATH)?;
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["connectors"] => Some((Kind::Connectors, None)),
        ["namespaces", ns, "connectors"] => Some((Kind::Connectors, Some((*ns).to_owned()))),
        ["connectorclasses"] => Some((Kind::Classes, None)),
        _ => None,
    }
}

fn in_scope(object: &Value, ns: Option<&str>) -> bool {
    ns.is_none_or(|ns| object["metadata"]["namespace"] == ns)
}

fn list(shared: &Shared, kind: Kind, ns: Option<&str>) -> Response<Body> {
    let state = shared.state.lock().unwrap();
    let items: Vec<&Value> = state
        .objects
        .iter()
        .filter(|((k, _, _), object)| k == kind_key(kind) && in_scope(object, ns))
        .map(|(_, object)| object)
        .collect();
    reply(
        200,
        &json!({"apiVersion": "connectors.alauda.io/v1alpha1", "kind": format!("{}List", kind_key(kind)),
                "metadata": {"resourceVersion": state.rv.to_string()}, "items": items}),
    )
}

/// Newline-delimited watch events after `since`, then new ones as they happen.
fn watch_stream(
    shared: &Arc<Shared>,
    kind: Kind,
    ns: Option<String>,
    since: u64,
) -> Response<Body> {
    if since + 1 < shared.state.lock().unwrap().oldest {
        let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
            "metadata": {}, "status": "Failure", "reason": "Expired", "code": 410,
            "message": format!("too old resource version: {since}")}});
        return Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(format!("{gone}\n"))).boxed())
            .unwrap();
    }
    let changes = shared.changes.subscribe();
    let start = (shared.clone(), changes, since, true);
    let stream = futures_util::stream::unfold(start, move |(shared, mut changes, since, first)| {
        let ns = ns.clone();
        async move {
            loop {
                let (lines, last) = {
                    let state = shared.state.lock().unwrap();
                    let mut lines = String::new();
                    let mut last = since;
                    for (rv, k, event, object) in &state.events {
                        if *rv > since && *k == kind && in_scope(object, ns.as_deref()) {
                            lines.push_str(&json!({"type": event, "object": object}).to_string());
                            lines.push('\n');
                        }
                        last = last.max(*rv);
                    }
                    if first {
                        let bookmark = json!({"type": "BOOKMARK", "object": {
                            "apiVersion": "connectors.alauda.io/v1alpha1", "kind": kind_key(kind),
                            "metadata": {"resourceVersion": state.rv.to_string()}}});
                        lines.push_str(&format!("{bookmark}\n"));
                        last = last.max(state.rv);
                    }
                    (lines, last)
                };
                if !lines.is_empty() {
                    let frame: Result<Frame<Bytes>, Infallible> =
                        Ok(Frame::data(Bytes::from(lines)));
                    return Some((frame, (shared, changes, last, false)));
                }
                changes.changed().await.ok()?;
            }
        }
    });
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap()
}

fn token_review(shared: &Shared, body: Value) -> Response<Body> {
    let mut state = shared.state.lock().unwrap();
    state.token_reviews.push(body.clone());
    let token = body["spec"]["token"].as_str().unwrap_or("");
    let status = match state.tokens.get(token) {
        Some((user, audiences)) => {
            json!({"authenticated": true, "user": user, "audiences": audiences})
        }
        None => json!({"authenticated": false, "error": "invalid bearer token"}),
    };
    let mut answer = body;
    answer["status"] = status;
    answer["metadata"] = json!({"creationTimestamp": null});
    reply(201, &answer)
}

fn access_review(shared: &Shared, body: Value) -> Response<Body> {
    let mut state = shared.state.lock().unwrap();
    state.access_reviews.push(body.clone());
    let spec = &body["spec"];
    let attrs = &spec["resourceAttributes"];
    let grant = (
        spec["user"].as_str().unwrap_or("").to_owned(),
        attrs["namespace"].as_str().unwrap_or("").to_owned(),
        attrs["name"].as_str().unwrap_or("").to_owned(),
        attrs["subresource"].as_str().map(str::to_owned),
    );
    let allowed = attrs["group"] == "connectors.alauda.io"
        && attrs["resource"] == "connectors"
        && attrs["verb"] == "get"
        && state.grants.contains(&grant);
    let mut answer = body;
    answer["status"] = json!({"allowed": allowed});
    answer["metadata"] = json!({"creationTimestamp": null});
    reply(201, &answer)
}
