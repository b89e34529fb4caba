//! A recording HTTPS tool (HTTP/1.1 and h2 by ALPN) with a certificate from a test CA, and a
//! TLS front that puts HTTPS before any plain-HTTP test server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio_rustls::TlsAcceptor;

use super::upstream::{RecordedRequest, Reply, record, respond};

/// A test certificate authority, written as a PEM file.
pub(crate) struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    dir: TempDir,
}

impl TestCa {
    /// A fresh CA; its certificate is at [`TestCa::cert_path`].
    pub(crate) fn new() -> Self {
        let key = rcgen::KeyPair::generate().expect("CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test tool CA");
        let cert = params.self_signed(&key).expect("sign the CA");
        let dir = tempfile::tempdir().expect("CA dir");
        std::fs::write(dir.path().join("ca.pem"), cert.pem()).expect("write the CA");
        Self {
            issuer: rcgen::Issuer::new(params, key),
            dir,
        }
    }

    /// The PEM file of the CA certificate.
    pub(crate) fn cert_path(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A TLS acceptor for `names` (DNS names or IP literals) offering `alpn`.
    pub(crate) fn acceptor(&self, names: &[&str], alpn: &[&str]) -> TlsAcceptor {
        let key = rcgen::KeyPair::generate().expect("server key");
        let names = names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let params = rcgen::CertificateParams::new(names).expect("server params");
        let cert = params.signed_by(&key, &self.issuer).expect("sign the leaf");
        let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
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
        tls.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        TlsAcceptor::from(Arc::new(tls))
    }
}

/// One request the HTTPS tool received, with the ALPN protocol of its connection.
#[derive(Clone, Debug)]
pub(crate) struct TlsRecorded {
    /// The request itself.
    pub(crate) request: RecordedRequest,
    /// The negotiated ALPN protocol (`h2`, `http/1.1`), if any.
    pub(crate) alpn: Option<String>,
    /// The HTTP version the request arrived with (`HTTP/1.1`, `HTTP/2.0`).
    pub(crate) version: String,
}

type Handler = Arc<dyn Fn(&RecordedRequest) -> Reply + Send + Sync>;
type Log = Arc<Mutex<Vec<TlsRecorded>>>;

/// A recording HTTPS tool on `127.0.0.1:0` (or `[::1]:0`), stopped when dropped.
pub(crate) struct HttpsTool {
    addr: SocketAddr,
    log: Log,
    runtime: Option<Runtime>,
}

impl HttpsTool {
    /// A tool on 127.0.0.1 offering h2 and http/1.1, answering `200 tool ok`.
    pub(crate) fn start(ca: &TestCa) -> Self {
        Self::with(ca, "127.0.0.1:0", &["h2", "http/1.1"], |_| {
            Reply::ok("tool ok")
        })
        .expect("bind the HTTPS tool")
    }

    /// A tool bound to `bind` offering `alpn` and answering through `handler`.
    pub(crate) fn with(
        ca: &TestCa,
        bind: &str,
        alpn: &[&str],
        handler: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let runtime = runtime();
        let listener = runtime.block_on(TcpListener::bind(bind))?;
        let addr = listener.local_addr()?;
        let ip = addr.ip().to_string();
        let acceptor = ca.acceptor(&[&ip, "localhost"], alpn);
        let log = Log::default();
        let handler: Handler = Arc::new(handler);
        runtime.spawn(accept_loop(listener, acceptor, handler, log.clone()));
        Ok(Self {
            addr,
            log,
            runtime: Some(runtime),
        })
    }

    /// The listening address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://<addr>` (IPv6 bracketed).
    pub(crate) fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Every request received so far.
    pub(crate) fn requests(&self) -> Vec<TlsRecorded> {
        self.log.lock().unwrap().clone()
    }

    /// The most recent request; panics when there was none.
    pub(crate) fn last(&self) -> TlsRecorded {
        self.requests()
            .pop()
            .expect("the HTTPS tool got no request")
    }
}

impl Drop for HttpsTool {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("build a runtime")
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, handler: Handler, log: Log) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, handler, log) = (acceptor.clone(), handler.clone(), log.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            let alpn = tls
                .get_ref()
                .1
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            let service =
                service_fn(move |req| serve(req, handler.clone(), log.clone(), alpn.clone()));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn serve(
    req: Request<Incoming>,
    handler: Handler,
    log: Log,
    alpn: Option<String>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let version = format!("{:?}", req.version());
    let authority = req.uri().authority().map(ToString::to_string);
    let (mut request, on_upgrade) = record(req).await;
    if let Some(authority) = authority {
        request.headers.push((":authority".into(), authority));
    }
    let reply = handler(&request);
    log.lock().unwrap().push(TlsRecorded {
        request,
        alpn,
        version,
    });
    Ok(respond(reply, on_upgrade))
}

/// Terminates TLS on `127.0.0.1:0` and relays the plain bytes to a backend address.
pub(crate) struct TlsFront {
    addr: SocketAddr,
    runtime: Option<Runtime>,
}

impl TlsFront {
    /// A front for `backend` with a certificate from `ca` (HTTP/1.1 only).
    pub(crate) fn start(ca: &TestCa, backend: SocketAddr) -> Self {
        let runtime = runtime();
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the TLS front");
        let addr = listener.local_addr().expect("front address");
        let acceptor = ca.acceptor(&["127.0.0.1", "localhost"], &["http/1.1"]);
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let (Ok(mut tls), Ok(mut plain)) = (
                        acceptor.accept(stream).await,
                        TcpStream::connect(backend).await,
                    ) else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Self {
            addr,
            runtime: Some(runtime),
        }
    }

    /// `https://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
