//! A recording HTTP/1.1 tool server: it keeps every request it receives and answers through a
//! configurable handler.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// One request as the tool received it.
#[derive(Clone, Debug)]
pub(crate) struct RecordedRequest {
    /// The method, such as `GET`.
    pub(crate) method: String,
    /// The request target exactly as received (path and query).
    pub(crate) target: String,
    /// Header fields in order, repeated fields kept separate; names lowercase.
    pub(crate) headers: Vec<(String, String)>,
    /// The whole request body.
    pub(crate) body: Vec<u8>,
}

impl RecordedRequest {
    /// All values of the header `name` (case-insensitive).
    pub(crate) fn header_values(&self, name: &str) -> Vec<&str> {
        super::header_values(&self.headers, name)
    }

    /// The single value of header `name`, if present.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).first().copied()
    }
}

/// What the tool answers to one request.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    /// The status code.
    pub(crate) status: u16,
    /// Response header fields, sent in this order.
    pub(crate) headers: Vec<(String, String)>,
    /// The response body.
    pub(crate) body: Vec<u8>,
    /// How long to wait before answering.
    pub(crate) delay: Duration,
}

impl Reply {
    /// A `200` with the given body.
    pub(crate) fn ok(body: &str) -> Self {
        Self::status(200).body(body)
    }

    /// An empty reply with the given status.
    pub(crate) fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// Adds one header field (repeat to send a field several times).
    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub(crate) fn body(mut self, body: &str) -> Self {
        self.body = body.as_bytes().to_vec();
        self
    }

    /// Answers only after `delay`.
    pub(crate) fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// A `101 Switching Protocols` to WebSocket; the server then echoes every byte it reads.
    pub(crate) fn websocket_echo() -> Self {
        Self::status(101)
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }
}

/// Builds the reply for a recorded request.
pub(crate) type Handler = Arc<dyn Fn(&RecordedRequest) -> Reply + Send + Sync>;

/// A tool server on `127.0.0.1:0`, stopped when dropped.
pub(crate) struct Upstream {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    runtime: Option<Runtime>,
}

impl Upstream {
    /// Starts a server answering every request with `200 upstream ok`.
    pub(crate) fn start() -> Self {
        Self::with_handler(|_| Reply::ok("upstream ok"))
    }

    /// Starts a server answering through `handler`.
    pub(crate) fn with_handler(
        handler: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let handler: Handler = Arc::new(handler);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("build the upstream runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the upstream");
        let addr = listener.local_addr().expect("upstream address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        runtime.spawn(accept_loop(listener, handler, requests.clone()));
        Self {
            addr,
            requests,
            runtime: Some(runtime),
        }
    }

    /// The listening address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// The most recent request; panics when there was none.
    pub(crate) fn last(&self) -> RecordedRequest {
        self.requests()
            .pop()
            .expect("the upstream received no request")
    }

    /// Waits until at least `count` requests arrived, or panics after `timeout`.
    pub(crate) fn wait_for_requests(&self, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.requests.lock().unwrap().len() < count {
            assert!(
                Instant::now() < deadline,
                "the upstream received fewer than {count} requests within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    handler: Handler,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let handler = handler.clone();
        let requests = requests.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| serve(req, handler.clone(), requests.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

async fn serve(
    req: Request<Incoming>,
    handler: Handler,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (recorded, on_upgrade) = record(req).await;
    requests.lock().unwrap().push(recorded.clone());
    let reply = handler(&recorded);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    Ok(respond(reply, on_upgrade))
}

/// Reads a whole request into a [`RecordedRequest`], keeping the handle of a later upgrade.
pub(crate) async fn record(mut req: Request<Incoming>) -> (RecordedRequest, OnUpgrade) {
    let on_upgrade = hyper::upgrade::on(&mut req);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        target: parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_default(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (n.as_str().to_owned(), value)
            })
            .collect(),
        body,
    };
    (recorded, on_upgrade)
}

/// The response for `reply`; after a `101` the upgraded connection echoes what it reads.
pub(crate) fn respond(reply: Reply, on_upgrade: OnUpgrade) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(reply.status).expect("a valid status");
    if status == StatusCode::SWITCHING_PROTOCOLS {
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                echo(TokioIo::new(upgraded)).await;
            }
        });
    }
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = status;
    for (name, value) in &reply.headers {
        response.headers_mut().append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            http::HeaderValue::from_str(value).expect("a header value"),
        );
    }
    response
}

async fn echo(mut io: TokioIo<hyper::upgrade::Upgraded>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = io.read(&mut buf).await {
        if n == 0 || io.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
