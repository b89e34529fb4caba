//! A smart-HTTP git server: Basic auth in front of `git http-backend` run as CGI.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

/// What the git server saw of one request.
#[derive(Clone, Debug)]
pub(crate) struct GitRequest {
    /// Method and target, such as `GET /r.git/info/refs?service=git-upload-pack`.
    pub(crate) line: String,
    /// The `Authorization` value, if any.
    pub(crate) authorization: Option<String>,
    /// The `Git-Protocol` value, if any.
    pub(crate) git_protocol: Option<String>,
    /// Whether the body came with `Transfer-Encoding: chunked`.
    pub(crate) chunked: bool,
    /// The number of body bytes received.
    pub(crate) body_len: usize,
}

struct State {
    root: PathBuf,
    expected_auth: String,
    backend: PathBuf,
    log: Mutex<Vec<GitRequest>>,
}

/// A git server on `127.0.0.1:0` serving bare repositories from a temporary folder.
pub(crate) struct GitServer {
    addr: SocketAddr,
    state: Arc<State>,
    runtime: Option<Runtime>,
    _root: TempDir,
}

type GitBody = BoxBody<Bytes, std::io::Error>;

impl GitServer {
    /// Starts a server accepting only Basic `user:password`.
    pub(crate) fn start(user: &str, password: &str) -> Self {
        let root = tempfile::tempdir().expect("create the git root");
        let exec_path = git_output(&["--exec-path"], None);
        let state = Arc::new(State {
            root: root.path().to_owned(),
            expected_auth: basic(user, password),
            backend: Path::new(exec_path.trim()).join("git-http-backend"),
            log: Mutex::new(Vec::new()),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("build the git runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind the git server");
        let addr = listener.local_addr().expect("git server address");
        runtime.spawn(accept_loop(listener, state.clone()));
        Self {
            addr,
            state,
            runtime: Some(runtime),
            _root: root,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates an empty bare repository `<name>.git` that accepts pushes.
    pub(crate) fn create_repo(&self, name: &str) -> PathBuf {
        let path = self.state.root.join(format!("{name}.git"));
        git_output(
            &["init", "--bare", "-b", "main", path.to_str().unwrap()],
            None,
        );
        git_output(&["config", "http.receivepack", "true"], Some(&path));
        path
    }

    /// The Authorization header the server demands.
    pub(crate) fn expected_authorization(&self) -> &str {
        &self.state.expected_auth
    }

    /// Every request seen so far.
    pub(crate) fn requests(&self) -> Vec<GitRequest> {
        self.state.log.lock().unwrap().clone()
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `Basic base64(user:password)`.
pub(crate) fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// Runs `git args` (in `dir` when given) and returns stdout; panics on failure.
pub(crate) fn git_output(args: &[&str], dir: Option<&Path>) -> String {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.args(args).output().expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| serve(req, state.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn serve(req: Request<Incoming>, state: Arc<State>) -> Result<Response<GitBody>, Infallible> {
    let (parts, body) = req.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let target = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let authorization = header("authorization");
    state.log.lock().unwrap().push(GitRequest {
        line: format!("{} {target}", parts.method),
        authorization: authorization.clone(),
        git_protocol: header("git-protocol"),
        chunked: header("transfer-encoding").is_some_and(|te| te.contains("chunked")),
        body_len: body.len(),
    });
    if authorization.as_deref() != Some(state.expected_auth.as_str()) {
        return Ok(Response::builder()
            .status(401)
            .header("www-authenticate", "Basic realm=\"git\"")
            .body(full("authentication required\n"))
            .unwrap());
    }

    let mut command = tokio::process::Command::new(&state.backend);
    command
        .env_clear()
        .env("GIT_PROJECT_ROOT", &state.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or(""))
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", "git-user")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    if let Some(value) = header("content-type") {
        command.env("CONTENT_TYPE", value);
    }
    if let Some(value) = header("git-protocol") {
        command.env("GIT_PROTOCOL", value);
    }
    if let Some(value) = header("content-encoding") {
        command.env("HTTP_CONTENT_ENCODING", value);
    }
    let mut child = command.spawn().expect("spawn git http-backend");
    let mut stdin = child.stdin.take().expect("backend stdin");
    tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let mut stdout = child.stdout.take().expect("backend stdout");

    // Read up to the end of the CGI header block, then stream the rest.
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    let (header_end, sep) = loop {
        if let Some(i) = find_sep(&head) {
            break i;
        }
        match stdout.read(&mut buf).await {
            Ok(0) | Err(_) => {
                return Ok(Response::builder()
                    .status(502)
                    .body(full("git http-backend wrote no headers\n"))
                    .unwrap());
            }
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    };
    let mut response = Response::builder().status(200);
    for line in String::from_utf8_lossy(&head[..header_end]).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code: u16 = value[..3].parse().expect("a CGI status code");
            response = response.status(code);
        } else {
            response = response.header(name.trim(), value);
        }
    }
    let first = Bytes::copy_from_slice(&head[header_end + sep..]);
    let rest = futures_util::stream::unfold((stdout, child), |(mut out, child)| async move {
        let mut buf = vec![0u8; 32 * 1024];
        match out.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Frame::data(Bytes::from(buf))), (out, child)))
            }
            Err(e) => Some((Err(e), (out, child))),
        }
    });
    let stream = futures_util::stream::once(async move { Ok(Frame::data(first)) }).chain(rest);
    Ok(response
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap())
}

/// Where the CGI header block ends, and the separator's length.
fn find_sep(head: &[u8]) -> Option<(usize, usize)> {
    let crlf = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    let lf = head.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

fn full(text: &'static str) -> GitBody {
    Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed()
}
