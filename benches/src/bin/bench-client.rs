//! `bench-client`: a keep-alive HTTP/1.1 load client that, unlike wrk, can go through a
//! forward proxy, so the direct, forward and CONNECT paths are measured by the same client.
//!
//! Modes (`--mode`):
//! - `direct`: connects to the target URL's host, over TLS when the URL is `https`, and sends
//!   origin-form requests;
//! - `forward`: connects to `--proxy` over plain TCP and sends absolute-form requests for an
//!   `http` target URL, with `--proxy-authorization`;
//! - `connect`: sends `CONNECT host:port` with `--proxy-authorization` to `--proxy`, completes
//!   TLS inside the tunnel (trusting `--ca-file`) and sends origin-form requests there.
//!
//! Every connection is opened (and its tunnel and TLS set up) before the clock starts; then each
//! sends one request at a time until `--duration` is over. Prints one JSON object: requests,
//! requests/s, p50 and p99 latency (µs), errors and non-2xx answers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http::{HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Direct,
    Forward,
    Connect,
}

#[derive(Parser)]
#[command(about = "Keep-alive load client for direct, forward-proxy and CONNECT paths")]
struct Args {
    /// How requests reach the target.
    #[arg(long, value_enum)]
    mode: Mode,
    /// The URL every request asks for (`http://…` or `https://…`).
    #[arg(long)]
    url: Uri,
    /// The proxy's `host:port` (forward and connect modes).
    #[arg(long)]
    proxy: Option<String>,
    /// `Proxy-Authorization` value (forward and connect modes).
    #[arg(long)]
    proxy_authorization: Option<HeaderValue>,
    /// `Authorization` value sent on every request.
    #[arg(long)]
    authorization: Option<HeaderValue>,
    /// PEM file of the CA to trust for TLS (the upstream's, or the proxy's in connect mode).
    #[arg(long)]
    ca_file: Option<std::path::PathBuf>,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
}

/// What one connection measured.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    non2xx: u64,
}

/// Everything a connection needs to open itself and build its requests.
struct Plan {
    mode: Mode,
    url: Uri,
    authority: String,
    host: String,
    proxy: Option<String>,
    proxy_authorization: Option<HeaderValue>,
    authorization: Option<HeaderValue>,
    tls: Option<TlsConnector>,
}

impl Plan {
    fn new(args: Args) -> Result<Self, BoxError> {
        let authority = args.url.authority().ok_or("the URL needs a host")?;
        let https = args.url.scheme_str() == Some("https");
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host = authority.host().to_owned();
        let needs_proxy = args.mode != Mode::Direct;
        if needs_proxy && args.proxy.is_none() {
            return Err("forward and connect modes need --proxy".into());
        }
        if (args.mode == Mode::Forward && https) || (args.mode == Mode::Connect && !https) {
            return Err("forward mode takes an http URL, connect mode an https URL".into());
        }
        let tls = https
            .then(|| tls_connector(args.ca_file.as_deref()))
            .transpose()?;
        Ok(Self {
            mode: args.mode,
            authority: format!("{host}:{port}"),
            host,
            url: args.url,
            proxy: args.proxy,
            proxy_authorization: args.proxy_authorization,
            authorization: args.authorization,
            tls,
        })
    }

    /// Opens one connection (tunnel and TLS included) ready for keep-alive requests.
    async fn open(&self) -> Result<SendRequest<Empty<Bytes>>, BoxError> {
        let dial = self.proxy.as_deref().unwrap_or(&self.authority);
        let tcp = TcpStream::connect(dial).await?;
        tcp.set_nodelay(true)?;
        match (self.mode, &self.tls) {
            (Mode::Connect, Some(tls)) => {
                let tunnel = self.connect_tunnel(tcp).await?;
                let stream = tls.connect(self.server_name()?, tunnel).await?;
                handshake(stream).await
            }
            (_, Some(tls)) => handshake(tls.connect(self.server_name()?, tcp).await?).await,
            (_, None) => handshake(tcp).await,
        }
    }

    async fn connect_tunnel(
        &self,
        tcp: TcpStream,
    ) -> Result<TokioIo<hyper::upgrade::Upgraded>, BoxError> {
        let (mut sender, conn) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(tcp)).await?;
        tokio::spawn(conn.with_upgrades());
        let mut req = Request::builder()
            .method(Method::CONNECT)
            .uri(self.authority.as_str())
            .header(header::HOST, self.authority.as_str());
        if let Some(value) = &self.proxy_authorization {
            req = req.header(header::PROXY_AUTHORIZATION, value.clone());
        }
        let res = sender.send_request(req.body(Empty::new())?).await?;
        if !res.status().is_success() {
            return Err(format!("CONNECT answered {}", res.status()).into());
        }
        Ok(TokioIo::new(hyper::upgrade::on(res).await?))
    }

    fn server_name(&self) -> Result<ServerName<'static>, BoxError> {
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        Ok(ServerName::try_from(bare.to_owned())?)
    }

    /// One request: absolute-form with `Proxy-Authorization` in forward mode, else origin-form.
    fn request(&self) -> Result<Request<Empty<Bytes>>, http::Error> {
        let mut req = Request::builder().header(header::HOST, self.authority.as_str());
        if self.mode == Mode::Forward {
            req = req.uri(self.url.clone());
            if let Some(value) = &self.proxy_authorization {
                req = req.header(header::PROXY_AUTHORIZATION, value.clone());
            }
        } else {
            let path = self.url.path_and_query().map_or("/", |pq| pq.as_str());
            req = req.uri(path);
        }
        if let Some(value) = &self.authorization {
            req = req.header(header::AUTHORIZATION, value.clone());
        }
        req.body(Empty::new())
    }
}

fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<TlsConnector, BoxError> {
    let ca_file = ca_file.ok_or("an https URL needs --ca-file")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file)? {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn handshake<IO>(io: IO) -> Result<SendRequest<Empty<Bytes>>, BoxError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Sends requests one after another on `sender` until `deadline`.
async fn drive(plan: &Plan, mut sender: SendRequest<Empty<Bytes>>, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let started = Instant::now();
        let outcome = async {
            sender.ready().await?;
            let res = sender.send_request(plan.request()?).await?;
            let status = res.status();
            res.into_body().collect().await?;
            Ok::<_, BoxError>(status)
        }
        .await;
        match outcome {
            Ok(status) => {
                let micros = started.elapsed().as_micros();
                tally
                    .latencies_us
                    .push(u32::try_from(micros).unwrap_or(u32::MAX));
                tally.non2xx += u64::from(!status.is_success());
            }
            Err(_) => {
                tally.errors += 1;
                break;
            }
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let connections = args.connections.max(1);
    let duration = Duration::from_secs_f64(args.duration);
    let mode = args
        .mode
        .to_possible_value()
        .map(|v| v.get_name().to_owned());
    let plan = Arc::new(Plan::new(args)?);
    let ready = Arc::new(Barrier::new(connections + 1));
    let start = Arc::new(tokio::sync::OnceCell::<Instant>::new());
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (plan, ready, start) = (plan.clone(), ready.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            let opened = plan.open().await;
            ready.wait().await;
            let started = *start.get_or_init(|| async { Instant::now() }).await;
            match opened {
                Ok(sender) => Ok(drive(&plan, sender, started + duration).await),
                Err(error) => Err(error.to_string()),
            }
        }));
    }
    ready.wait().await;
    let started = *start.get_or_init(|| async { Instant::now() }).await;
    let mut all = Vec::new();
    let (mut errors, mut non2xx, mut failed_opens) = (0u64, 0u64, Vec::new());
    for task in tasks {
        match task.await? {
            Ok(tally) => {
                all.extend(tally.latencies_us);
                errors += tally.errors;
                non2xx += tally.non2xx;
            }
            Err(error) => failed_opens.push(error),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let report = serde_json::json!({
        "mode": mode,
        "connections": connections,
        "opened": connections - failed_opens.len(),
        "seconds": elapsed,
        "requests": all.len(),
        "rps": all.len() as f64 / elapsed,
        "p50_us": percentile(&all, 0.50),
        "p99_us": percentile(&all, 0.99),
        "errors": errors,
        "non2xx": non2xx,
        "first_open_error": failed_opens.first(),
    });
    println!("{report}");
    if all.is_empty() {
        return Err("no request succeeded".into());
    }
    Ok(())
}
